/*
 * Unit tests for the Job, ConfigMap and NetworkPolicy builders and for
 * object naming. The builders' output is compared with golden JSON files in
 * tests/fixtures/jobspec/; run with MASON_UPDATE_GOLDEN=1 to rewrite them
 * after an intended change, then review the diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "jobspec.h"
#include "task.h"

static const char *config_text = "engines:\n"
                                 "  claude-code:\n"
                                 "    image: registry.example/claude-code:2.0\n"
                                 "    auth:\n"
                                 "      api_key_secret: anthropic\n"
                                 "guardrails:\n"
                                 "  max_job_duration_minutes: 20\n"
                                 "network_policy:\n"
                                 "  extra_egress:\n"
                                 "  - cidr: 10.20.0.0/16\n"
                                 "    except: [10.20.99.0/24]\n"
                                 "    ports: [5432]\n";

struct fixture {
    struct mason_config *cfg;
    json_t *obj;
    struct mason_task task;
};

static char *fixture_path(const char *name)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;

    mason_buf_addf(&path, "%s/tests/fixtures/jobspec/%s", top ? top : ".", name);
    return mason_buf_detach(&path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct mason_buf err = MASON_BUF_INIT;
    char *path = fixture_path("task.json");

    assert_int_equal(mason_config_parse(config_text, strlen(config_text), &f->cfg, &err), 0);
    f->obj = json_load_file(path, 0, NULL);
    assert_non_null(f->obj);
    assert_int_equal(mason_task_view(&f->task, f->obj, f->cfg, &err), 0);
    free(path);
    mason_buf_release(&err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    json_decref(f->obj);
    mason_config_free(f->cfg);
    free(f);
    return 0;
}

/* Compares got with the golden file name, or rewrites it when MASON_UPDATE_GOLDEN is set. */
static void assert_golden(json_t *got, const char *name)
{
    char *path = fixture_path(name);
    json_t *want;

    if (getenv("MASON_UPDATE_GOLDEN"))
        assert_int_equal(json_dump_file(got, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    want = json_load_file(path, 0, NULL);
    if (!json_equal(got, want)) {
        char *text = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);

        print_error("%s differs from the builder's output:\n%s\n", name, text);
        free(text);
        fail();
    }
    json_decref(want);
    free(path);
}

static void job_matches_golden(void **state)
{
    struct fixture *f = *state;
    struct mason_run_spec run = {
        .index = 0, .job_name = "fix-flaky-test-0a1b2c3d-0", .prompt = "Fix the flaky test."};
    struct mason_buf err = MASON_BUF_INIT;
    json_t *job = mason_jobspec_job(&f->task, f->cfg, &run, &err);

    assert_non_null(job);
    assert_golden(job, "job.json");
    json_decref(job);
    mason_buf_release(&err);
}

static void job_pod_is_hardened(void **state)
{
    struct fixture *f = *state;
    struct mason_run_spec run = {.index = 2, .job_name = "j", .prompt = "p"};
    struct mason_buf err = MASON_BUF_INIT;
    json_t *job = mason_jobspec_job(&f->task, f->cfg, &run, &err);
    json_t *pod =
        json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec");
    json_t *psc = json_object_get(pod, "securityContext");
    json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
    json_t *sc = json_object_get(c, "securityContext");

    assert_true(json_is_true(json_object_get(psc, "runAsNonRoot")));
    assert_int_equal(json_integer_value(json_object_get(psc, "fsGroup")), 10000);
    assert_false(json_is_true(json_object_get(pod, "automountServiceAccountToken")));
    assert_string_equal(json_string_value(json_object_get(pod, "restartPolicy")), "Never");
    assert_true(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    assert_true(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(sc, "capabilities"), "drop"), 0)),
                        "ALL");
    /* The guardrail of 20 minutes caps the task's 1800 s. */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(job, "spec"), "activeDeadlineSeconds")),
        1200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(job, "spec"), "backoffLimit")), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(job, "metadata"), "labels"), "mason.dev/run")),
        "2");
    json_decref(job);
    mason_buf_release(&err);
}

static void job_without_image_is_rejected(void **state)
{
    struct fixture *f = *state;
    struct mason_run_spec run = {.index = 0, .job_name = "j", .prompt = "p"};
    struct mason_buf err = MASON_BUF_INIT;
    json_t *job;

    f->task.engine = MASON_ENGINE_CODEX;
    f->task.engine_name = "codex";
    job = mason_jobspec_job(&f->task, f->cfg, &run, &err);
    assert_null(job);
    assert_non_null(strstr(mason_buf_str(&err), "engines.codex.image"));
    mason_buf_release(&err);
}

static void task_without_image_is_invalid(void **state)
{
    struct fixture *f = *state;
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_task task;
    json_t *spec = json_object_get(f->obj, "spec");

    json_object_set_new(spec, "engine", json_string("codex"));
    assert_int_equal(mason_task_view(&task, f->obj, f->cfg, &err), MASON_EINVAL);
    assert_non_null(strstr(mason_buf_str(&err), "no image for engine \"codex\""));
    assert_non_null(strstr(mason_buf_str(&err), "engines.codex.image"));

    /* spec.image is enough. */
    json_object_set_new(spec, "image", json_string("registry.example/codex:1"));
    assert_int_equal(mason_task_view(&task, f->obj, f->cfg, &err), 0);

    /* A task that already ran is not failed by a configuration change. */
    json_object_del(spec, "image");
    json_object_set_new(f->obj, "status", json_pack("{s:[{s:i}]}", "runs", "index", 0));
    assert_int_equal(mason_task_view(&task, f->obj, f->cfg, &err), 0);
    mason_buf_release(&err);
}

static void prompt_config_map_matches_golden(void **state)
{
    struct fixture *f = *state;
    struct mason_run_spec run = {.index = 0,
                                 .job_name = "fix-flaky-test-0a1b2c3d-0",
                                 .prompt = "It's \"quoted\"\n$(not run) `ever` \u00e9\n"};
    json_t *cm = mason_jobspec_prompt_config_map(&f->task, &run);

    assert_golden(cm, "configmap.json");
    json_decref(cm);
}

static void network_policy_matches_golden(void **state)
{
    struct fixture *f = *state;
    json_t *policy = mason_jobspec_network_policy(&f->task, f->cfg);

    assert_golden(policy, "networkpolicy.json");
    json_decref(policy);
}

static void job_names_fit_and_differ(void **state)
{
    struct fixture *f = *state;
    struct mason_buf a = MASON_BUF_INIT, b = MASON_BUF_INIT;
    char name_a[254], name_b[254];

    memset(name_a, 'a', 253);
    name_a[253] = '\0';
    memcpy(name_b, name_a, sizeof(name_b));
    name_b[252] = 'b';
    f->task.name = name_a;
    mason_task_job_name(&f->task, 7, &a);
    f->task.name = name_b;
    mason_task_job_name(&f->task, 7, &b);
    assert_true(a.len <= 63);
    assert_true(b.len <= 63);
    assert_string_not_equal(mason_buf_str(&a), mason_buf_str(&b));
    assert_string_equal(mason_buf_str(&a) + a.len - 2, "-7");
    mason_buf_release(&a);
    mason_buf_release(&b);
}

static void name_shorten_ends_alphanumeric(void **state)
{
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    mason_name_shorten("abc-.def", 5, &out);
    assert_string_equal(mason_buf_str(&out), "abc");
    mason_buf_reset(&out);
    mason_name_shorten("my.task", 63, &out);
    assert_string_equal(mason_buf_str(&out), "my-task");
    mason_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(job_matches_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(job_pod_is_hardened, setup, teardown),
        cmocka_unit_test_setup_teardown(job_without_image_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(task_without_image_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(prompt_config_map_matches_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(network_policy_matches_golden, setup, teardown),
        cmocka_unit_test_setup_teardown(job_names_fit_and_differ, setup, teardown),
        cmocka_unit_test(name_shorten_ends_alphanumeric),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
