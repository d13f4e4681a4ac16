/* Unit tests for the operator's configuration loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"
#include "error.h"

static int parse(const char *text, struct mason_config **cfg, struct mason_buf *err)
{
    return mason_config_parse(text, strlen(text), cfg, err);
}

static void config_defaults_when_empty(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_config *cfg = NULL;

    (void)state;
    assert_int_equal(parse("", &cfg, &err), 0);
    assert_string_equal(cfg->defaults.engine, "claude-code");
    assert_string_equal(cfg->defaults.memory_request, "4Gi");
    assert_int_equal(cfg->defaults.max_duration_seconds, 3600);
    assert_int_equal(cfg->namespaces_count, 0);
    mason_config_free(cfg);
    mason_buf_release(&err);
}

static void config_defaults_when_only_comments(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_config *cfg = NULL;

    (void)state;
    assert_int_equal(parse("# every key at its default\n\n# nothing else\n", &cfg, &err), 0);
    assert_string_equal(cfg->defaults.engine, "claude-code");
    assert_int_equal(cfg->defaults.max_duration_seconds, 3600);
    mason_config_free(cfg);
    mason_buf_release(&err);
}

static void config_reads_osmia_keys(void **state)
{
    const char *text = "engines:\n"
                       "  claude-code:\n"
                       "    image: registry.example/claude:1.0\n"
                       "    auth:\n"
                       "      method: api_key\n"
                       "      api_key_secret: anthropic\n"
                       "    continuation_prompt: Keep going.\n"
                       "    max_continuations: 3\n"
                       "guardrails:\n"
                       "  max_cost_per_job: 12.5\n"
                       "  max_job_duration_minutes: 90\n"
                       "namespaces: [agents, ci]\n"
                       "network_policy:\n"
                       "  extra_egress:\n"
                       "  - cidr: 10.20.0.0/16\n"
                       "    ports: [5432]\n"
                       "secret_resolver:\n"
                       "  policy:\n"
                       "    allowed_schemes: [k8s]\n";
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_config *cfg = NULL;
    struct mason_engine_config *claude;

    (void)state;
    assert_int_equal(parse(text, &cfg, &err), 0);
    claude = cfg->engines[MASON_ENGINE_CLAUDE_CODE];
    assert_non_null(claude);
    assert_string_equal(claude->image, "registry.example/claude:1.0");
    assert_string_equal(claude->auth->api_key_secret, "anthropic");
    assert_int_equal(claude->max_continuations, 3);
    assert_null(cfg->engines[MASON_ENGINE_CODEX]);
    assert_true(cfg->guardrails.max_cost_per_job > 12.4 && cfg->guardrails.max_cost_per_job < 12.6);
    assert_int_equal(cfg->defaults.max_duration_seconds, 5400);
    assert_int_equal(cfg->namespaces_count, 2);
    assert_string_equal(cfg->namespaces[1], "ci");
    assert_int_equal(cfg->extra_egress_count, 1);
    assert_int_equal(cfg->extra_egress[0].ports[0], 5432);
    assert_non_null(cfg->secret_resolver);
    mason_config_free(cfg);
    mason_buf_release(&err);
}

static void config_rejects_unknown_key(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_config *cfg = NULL;

    (void)state;
    assert_int_equal(parse("engines:\n  claude-code:\n    imag: x\n", &cfg, &err), MASON_ECONFIG);
    assert_null(cfg);
    assert_non_null(strstr(mason_buf_str(&err), "imag"));
    assert_non_null(strstr(mason_buf_str(&err), "claude-code"));
    mason_buf_release(&err);
}

static void config_rejects_invalid_values(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_config *cfg = NULL;

    (void)state;
    assert_int_equal(parse("defaults:\n  engine: gpt\n", &cfg, &err), MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "defaults.engine"));
    assert_non_null(strstr(mason_buf_str(&err), "gpt"));
    assert_int_equal(parse("defaults:\n  memory_request: lots\n", &cfg, &err), MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "defaults.memory_request"));
    assert_int_equal(parse("guardrails:\n  max_cost_per_job: cheap\n", &cfg, &err), MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "max_cost_per_job"));
    assert_int_equal(parse("network_policy:\n  extra_egress:\n  - cidr: 10.0.0.1\n", &cfg, &err),
                     MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "10.0.0.1"));
    assert_int_equal(parse("log_level: loud\n", &cfg, &err), MASON_ECONFIG);
    assert_null(cfg);
    mason_buf_release(&err);
}

static void config_checks_quantities(void **state)
{
    (void)state;
    assert_true(mason_quantity_valid("4Gi"));
    assert_true(mason_quantity_valid("500m"));
    assert_true(mason_quantity_valid("2"));
    assert_false(mason_quantity_valid("4GB"));
    assert_false(mason_quantity_valid("Gi"));
    assert_false(mason_quantity_valid("-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults_when_empty),
        cmocka_unit_test(config_defaults_when_only_comments),
        cmocka_unit_test(config_reads_osmia_keys),
        cmocka_unit_test(config_rejects_unknown_key),
        cmocka_unit_test(config_rejects_invalid_values),
        cmocka_unit_test(config_checks_quantities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
