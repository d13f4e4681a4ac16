/* Secret references, the secret-reference policy and the secret_resolver configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "secrets.h"
#include "yaml.h"

/* Parses ref for kind; on success checks the parts, on failure that err contains want. */
static void check_uri(const char *ref, enum mason_secret_backend_kind kind, int want_rc,
                      const char *want_name, const char *want_field, const char *want_err)
{
    struct mason_secret_uri uri;
    struct mason_buf err = MASON_BUF_INIT;
    int rc = mason_secret_uri_parse(ref, kind, &uri, &err);

    if (rc != want_rc)
        fail_msg("%s: got %d (%s), expected %d", ref, rc, mason_buf_str(&err), want_rc);
    if (!rc) {
        assert_string_equal(uri.name, want_name);
        if (want_field)
            assert_string_equal(uri.field, want_field);
        else
            assert_null(uri.field);
    } else {
        assert_null(uri.scheme);
        assert_null(uri.name);
        if (!strstr(mason_buf_str(&err), want_err))
            fail_msg("%s: error \"%s\" does not contain \"%s\"", ref, mason_buf_str(&err),
                     want_err);
    }
    mason_secret_uri_release(&uri);
    mason_buf_release(&err);
}

static void uri_k8s_forms(void **state)
{
    (void)state;
    check_uri("k8s://anthropic/api_key", MASON_SECRET_BACKEND_K8S, 0, "anthropic/api_key", NULL,
              NULL);
    check_uri("k8s://db.creds/pass-word.txt", MASON_SECRET_BACKEND_K8S, 0, "db.creds/pass-word.txt",
              NULL, NULL);
    check_uri("k8s://anthropic", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "secret name or key is missing");
    check_uri("k8s:///key", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "secret name or key is missing");
    check_uri("k8s://Anthropic/key", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "secret name \"Anthropic\" is invalid");
    check_uri("k8s://-db/key", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "secret name \"-db\" is invalid");
    check_uri("k8s://db/", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "key \"\" is invalid");
    check_uri("k8s://db/a/b", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "key \"a/b\" is invalid");
    check_uri("k8s://db/key#x", MASON_SECRET_BACKEND_K8S, MASON_EPARSE, NULL, NULL,
              "fragment \"#x\"");
}

static void uri_aws_forms(void **state)
{
    (void)state;
    check_uri("aws-sm://prod/db#password", MASON_SECRET_BACKEND_AWS_SM, 0, "prod/db", "password",
              NULL);
    check_uri("aws-sm://prod/db", MASON_SECRET_BACKEND_AWS_SM, 0, "prod/db", NULL, NULL);
    check_uri("aws-sm://a_b+c=d.e@f-g", MASON_SECRET_BACKEND_AWS_SM, 0, "a_b+c=d.e@f-g", NULL,
              NULL);
    check_uri("aws-sm://#password", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "secret name \"\" is invalid");
    check_uri("aws-sm://prod db", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "secret name \"prod db\" is invalid");
    check_uri("aws-sm://prod/db#", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "field after '#' is empty");
    check_uri("aws-sm://prod/db#a\tb", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "control character");
}

static void uri_vault_forms(void **state)
{
    (void)state;
    check_uri("vault://secret/ci#token", MASON_SECRET_BACKEND_VAULT, 0, "secret/ci", "token", NULL);
    check_uri("vault://secret/team/app#db.password", MASON_SECRET_BACKEND_VAULT, 0,
              "secret/team/app", "db.password", NULL);
    check_uri("vault://secret/ci", MASON_SECRET_BACKEND_VAULT, MASON_EPARSE, NULL, NULL,
              "the field is missing");
    check_uri("vault://secret//ci#t", MASON_SECRET_BACKEND_VAULT, MASON_EPARSE, NULL, NULL,
              "empty, \".\" or \"..\" segment");
    check_uri("vault://secret/../sys#t", MASON_SECRET_BACKEND_VAULT, MASON_EPARSE, NULL, NULL,
              "\"..\" segment");
    check_uri("vault:///secret#t", MASON_SECRET_BACKEND_VAULT, MASON_EPARSE, NULL, NULL, "segment");
    check_uri("vault://secret/ci/#t", MASON_SECRET_BACKEND_VAULT, MASON_EPARSE, NULL, NULL,
              "ends with '/'");
    check_uri("vault://secret/c?i#t", MASON_SECRET_BACKEND_VAULT, MASON_EPARSE, NULL, NULL,
              "path \"secret/c?i\" is invalid");
}

static void uri_custom_schemes(void **state)
{
    struct mason_buf scheme = MASON_BUF_INIT, err = MASON_BUF_INIT;

    (void)state;
    check_uri("team-a.sm+v2://prod/db#password", MASON_SECRET_BACKEND_AWS_SM, 0, "prod/db",
              "password", NULL);
    check_uri("kv2://secret/ci#token", MASON_SECRET_BACKEND_VAULT, 0, "secret/ci", "token", NULL);
    assert_int_equal(mason_secret_uri_scheme("vault-eu://x#y", &scheme, &err), 0);
    assert_string_equal(mason_buf_str(&scheme), "vault-eu");
    mason_buf_release(&scheme);
    mason_buf_release(&err);
}

static void uri_rejects_malformed_scheme(void **state)
{
    struct mason_buf scheme = MASON_BUF_INIT, err = MASON_BUF_INIT;
    char long_ref[80];

    (void)state;
    check_uri("prod/db#password", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "scheme is missing");
    check_uri("://prod/db", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "scheme is missing");
    check_uri("AWS-SM://prod/db", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "scheme \"AWS-SM\" is invalid");
    check_uri("1sm://prod/db", MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "scheme \"1sm\" is invalid");
    memset(long_ref, 'a', 40);
    memcpy(long_ref + 40, "://x", 5);
    check_uri(long_ref, MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL, "too long");
    check_uri(NULL, MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL, "scheme is missing");
    assert_int_equal(mason_secret_uri_scheme(NULL, &scheme, &err), MASON_EPARSE);
    assert_int_equal(scheme.len, 0);
    mason_buf_release(&scheme);
    mason_buf_release(&err);
}

static void uri_rejects_overlong_reference(void **state)
{
    char ref[2100];

    (void)state;
    memcpy(ref, "aws-sm://", 9);
    memset(ref + 9, 'a', sizeof(ref) - 10);
    ref[sizeof(ref) - 1] = '\0';
    check_uri(ref, MASON_SECRET_BACKEND_AWS_SM, MASON_EPARSE, NULL, NULL,
              "reference is longer than 2048 bytes");
}

static void policy_check_case(const struct mason_secrets_policy *p, const char *env,
                              const char *scheme, int want_rc, const char *want_reason,
                              const char *want_text)
{
    struct mason_secret_failure f;
    int rc;

    mason_secret_failure_init(&f);
    rc = mason_secrets_policy_check(p, env, scheme, &f);
    if (rc != want_rc)
        fail_msg("env %s scheme %s: got %d, expected %d", env, scheme, rc, want_rc);
    if (want_reason) {
        assert_string_equal(f.reason, want_reason);
        if (!strstr(mason_buf_str(&f.message), want_text))
            fail_msg("message \"%s\" does not contain \"%s\"", mason_buf_str(&f.message),
                     want_text);
    } else {
        assert_null(f.reason);
    }
    mason_secret_failure_release(&f);
}

static void policy_allowed_schemes(void **state)
{
    char k8s[] = "k8s", aws[] = "aws-sm";
    char *allowed[] = {k8s, aws};
    struct mason_secrets_policy p = {allowed, 2, NULL, 0};
    struct mason_secrets_policy open = {NULL, 0, NULL, 0};

    (void)state;
    policy_check_case(&p, "DB_PASSWORD", "aws-sm", 0, NULL, NULL);
    policy_check_case(&p, "API_KEY", "k8s", 0, NULL, NULL);
    policy_check_case(&p, "TOKEN", "vault", MASON_EPOLICY, "SecretSchemeNotAllowed",
                      "scheme \"vault\" is not in secret_resolver.policy.allowed_schemes");
    policy_check_case(&open, "TOKEN", "vault", 0, NULL, NULL);
}

static void policy_blocked_env_globs(void **state)
{
    char aws[] = "AWS_*", preload[] = "LD_PRELOAD", proxy[] = "*_PROXY", git[] = "GIT_[A-Z]*";
    char *blocked[] = {aws, preload, proxy, git};
    struct mason_secrets_policy p = {NULL, 0, blocked, 4};

    (void)state;
    policy_check_case(&p, "AWS_SECRET_ACCESS_KEY", "aws-sm", MASON_EPOLICY, "SecretEnvNameBlocked",
                      "env AWS_SECRET_ACCESS_KEY: the name matches blocked pattern \"AWS_*\"");
    policy_check_case(&p, "LD_PRELOAD", "k8s", MASON_EPOLICY, "SecretEnvNameBlocked",
                      "\"LD_PRELOAD\"");
    policy_check_case(&p, "HTTPS_PROXY", "k8s", MASON_EPOLICY, "SecretEnvNameBlocked",
                      "\"*_PROXY\"");
    policy_check_case(&p, "GIT_TOKEN", "k8s", MASON_EPOLICY, "SecretEnvNameBlocked",
                      "\"GIT_[A-Z]*\"");
    policy_check_case(&p, "GIT_1", "k8s", 0, NULL, NULL);
    policy_check_case(&p, "MY_AWS_KEY", "k8s", 0, NULL, NULL);
    policy_check_case(&p, "LD_PRELOAD_X", "k8s", 0, NULL, NULL);
}

/* Parses text as the secret_resolver object. */
static int parse_text(const char *text, struct mason_secrets_config *cfg, struct mason_buf *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    int rc;

    if (!doc)
        fail_msg("test JSON: %s", jerr.text);
    rc = mason_secrets_config_parse(doc, cfg, err);
    json_decref(doc);
    return rc;
}

static void config_defaults_to_k8s(void **state)
{
    struct mason_secrets_config cfg;
    struct mason_buf err = MASON_BUF_INIT;
    json_t *null = json_null();

    (void)state;
    assert_int_equal(mason_secrets_config_parse(NULL, &cfg, &err), 0);
    assert_int_equal(cfg.backend_count, 1);
    assert_string_equal(cfg.backends[0].scheme, "k8s");
    assert_int_equal(cfg.backends[0].kind, MASON_SECRET_BACKEND_K8S);
    mason_secrets_config_release(&cfg);
    assert_int_equal(mason_secrets_config_parse(null, &cfg, &err), 0);
    assert_int_equal(cfg.backend_count, 1);
    assert_int_equal(cfg.policy.allowed_scheme_count, 0);
    mason_secrets_config_release(&cfg);
    assert_int_equal(cfg.backend_count, 0);
    json_decref(null);
    mason_buf_release(&err);
}

static void config_reads_backends_and_policy(void **state)
{
    const char *text =
        "{\"backends\": ["
        " {\"scheme\": \"k8s\", \"backend\": \"k8s\"},"
        " {\"scheme\": \"aws-sm\", \"backend\": \"aws-secrets-manager\", \"config\": {"
        "   \"region\": \"eu-west-1\", \"endpoint\": \"http://127.0.0.1:4566\","
        "   \"sts_endpoint\": \"http://127.0.0.1:4566\","
        "   \"assume_role_arn\": \"arn:aws:iam::123456789012:role/reader\","
        "   \"cache_ttl\": \"1h30m\"}},"
        " {\"scheme\": \"vault\", \"backend\": \"vault\", \"config\": {"
        "   \"address\": \"https://127.0.0.1:8200\", \"role\": \"mason\", \"auth_method\": \"kubernetes\","
        "   \"mount_path\": \"k8s-prod\", \"kv_mount\": \"kv\", \"namespace\": \"team-a\","
        "   \"ca_file\": \"/etc/vault/ca.pem\", \"token_path\": \"/var/run/token\","
        "   \"cache_ttl\": \"0s\"}}],"
        " \"policy\": {\"allowed_schemes\": [\"k8s\", \"aws-sm\"],"
        "   \"blocked_env_patterns\": [\"AWS_*\", \"LD_*\"]}}";
    struct mason_secrets_config cfg;
    struct mason_buf err = MASON_BUF_INIT;
    const struct mason_secret_backend_config *aws, *vault;

    (void)state;
    assert_int_equal(parse_text(text, &cfg, &err), 0);
    assert_int_equal(cfg.backend_count, 3);
    assert_int_equal(cfg.backends[0].cache_ttl_seconds, MASON_SECRETS_DEFAULT_TTL_SECONDS);
    aws = &cfg.backends[1];
    assert_int_equal(aws->kind, MASON_SECRET_BACKEND_AWS_SM);
    assert_string_equal(aws->region, "eu-west-1");
    assert_string_equal(aws->endpoint, "http://127.0.0.1:4566");
    assert_string_equal(aws->sts_endpoint, "http://127.0.0.1:4566");
    assert_string_equal(aws->assume_role_arn, "arn:aws:iam::123456789012:role/reader");
    assert_int_equal(aws->cache_ttl_seconds, 5400);
    vault = &cfg.backends[2];
    assert_int_equal(vault->kind, MASON_SECRET_BACKEND_VAULT);
    assert_string_equal(vault->address, "https://127.0.0.1:8200");
    assert_string_equal(vault->role, "mason");
    assert_string_equal(vault->mount_path, "k8s-prod");
    assert_string_equal(vault->kv_mount, "kv");
    assert_string_equal(vault->namespace, "team-a");
    assert_string_equal(vault->ca_file, "/etc/vault/ca.pem");
    assert_string_equal(vault->token_path, "/var/run/token");
    assert_int_equal(vault->cache_ttl_seconds, 0);
    assert_int_equal(cfg.policy.allowed_scheme_count, 2);
    assert_string_equal(cfg.policy.allowed_schemes[1], "aws-sm");
    assert_int_equal(cfg.policy.blocked_env_pattern_count, 2);
    assert_string_equal(cfg.policy.blocked_env_patterns[0], "AWS_*");
    mason_secrets_config_release(&cfg);
    mason_buf_release(&err);
}

struct config_error_case {
    const char *text;
    const char *message;
};

static const struct config_error_case config_errors[] = {
    {"[]", "secret_resolver: must be a mapping"},
    {"{\"backend\": []}", "secret_resolver: unknown key \"backend\""},
    {"{\"backends\": {}}", "secret_resolver.backends: must be a list"},
    {"{\"backends\": [3]}", "secret_resolver.backends[0]: must be a mapping"},
    {"{\"backends\": [{\"scheme\": \"k8s\", \"backend\": \"k8s\", \"kind\": 1}]}",
     "secret_resolver.backends[0]: unknown key \"kind\""},
    {"{\"backends\": [{\"scheme\": \"K8S\", \"backend\": \"k8s\"}]}",
     "secret_resolver.backends[0].scheme: missing or invalid"},
    {"{\"backends\": [{\"backend\": \"k8s\"}]}",
     "secret_resolver.backends[0].scheme: missing or invalid"},
    {"{\"backends\": [{\"scheme\": \"k8s\", \"backend\": \"gcp\"}]}",
     "secret_resolver.backends[0].backend: missing or invalid"},
    {"{\"backends\": [{\"scheme\": \"k8s\", \"backend\": \"k8s\"},"
     " {\"scheme\": \"k8s\", \"backend\": \"k8s\"}]}",
     "secret_resolver.backends[1].scheme: \"k8s\" is already used by backends[0]"},
    {"{\"backends\": [{\"scheme\": \"k8s\", \"backend\": \"k8s\", \"config\": []}]}",
     "secret_resolver.backends[0].config: must be a mapping"},
    {"{\"backends\": [{\"scheme\": \"k8s\", \"backend\": \"k8s\"},"
     " {\"scheme\": \"sm\", \"backend\": \"aws-secrets-manager\","
     "  \"config\": {\"endpoint\": \"http://127.0.0.1:1\", \"cache_ttl\": \"5 minutes\"}}]}",
     "secret_resolver.backends[1].config.cache_ttl: invalid duration"},
    {"{\"backends\": [{\"scheme\": \"sm\", \"backend\": \"aws-secrets-manager\","
     "  \"config\": {\"endpoint\": \"http://127.0.0.1:1\", \"cache_ttl\": \"25h\"}}]}",
     "secret_resolver.backends[0].config.cache_ttl: invalid duration"},
    {"{\"backends\": [{\"scheme\": \"sm\", \"backend\": \"aws-secrets-manager\","
     "  \"config\": {\"region\": \"eu-west-1\"}}]}",
     "secret_resolver.backends[0].config.endpoint: missing"},
    {"{\"backends\": [{\"scheme\": \"sm\", \"backend\": \"aws-secrets-manager\","
     "  \"config\": {\"endpoint\": \"http://127.0.0.1:1\", \"role\": \"x\"}}]}",
     "secret_resolver.backends[0].config.role: not valid for backend aws-secrets-manager"},
    {"{\"backends\": [{\"scheme\": \"sm\", \"backend\": \"aws-secrets-manager\","
     "  \"config\": {\"endpoint\": \"\"}}]}",
     "secret_resolver.backends[0].config.endpoint: must be a non-empty string"},
    {"{\"backends\": [{\"scheme\": \"v\", \"backend\": \"vault\","
     "  \"config\": {\"address\": \"http://127.0.0.1:1\"}}]}",
     "secret_resolver.backends[0].config.role: missing"},
    {"{\"backends\": [{\"scheme\": \"v\", \"backend\": \"vault\","
     "  \"config\": {\"role\": \"r\"}}]}",
     "secret_resolver.backends[0].config.address: missing"},
    {"{\"backends\": [{\"scheme\": \"v\", \"backend\": \"vault\","
     "  \"config\": {\"address\": \"http://127.0.0.1:1\", \"role\": \"r\", \"secret\": 1}}]}",
     "secret_resolver.backends[0].config: unknown key \"secret\""},
    {"{\"backends\": [{\"scheme\": \"v\", \"backend\": \"vault\", \"config\": {"
     "  \"address\": \"http://127.0.0.1:1\", \"role\": \"r\", \"auth_method\": \"approle\"}}]}",
     "secret_resolver.backends[0].config.auth_method: unsupported"},
    {"{\"backends\": [{\"scheme\": \"sm\", \"backend\": \"aws-secrets-manager\","
     "  \"config\": {\"endpoint\": \"http://127.0.0.1:1\", \"auth_method\": \"kubernetes\"}}]}",
     "secret_resolver.backends[0].config: unknown key \"auth_method\""},
    {"{\"policy\": []}", "secret_resolver.policy: must be a mapping"},
    {"{\"policy\": {\"allowed\": []}}", "secret_resolver.policy: unknown key \"allowed\""},
    {"{\"policy\": {\"allowed_schemes\": \"k8s\"}}",
     "secret_resolver.policy.allowed_schemes: must be a list of strings"},
    {"{\"policy\": {\"blocked_env_patterns\": [\"A*\", 2]}}",
     "secret_resolver.policy.blocked_env_patterns[1]: must be a string"},
    {"{\"policy\": {\"allowed_schemes\": [\"k8s\", \"aws-sm\"]}}",
     "secret_resolver.policy.allowed_schemes[1]: no backend has scheme \"aws-sm\""},
};

static void config_errors_name_key_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(config_errors) / sizeof(config_errors[0]); i++) {
        struct mason_secrets_config cfg;
        struct mason_buf err = MASON_BUF_INIT;
        int rc = parse_text(config_errors[i].text, &cfg, &err);

        if (rc != MASON_ECONFIG)
            fail_msg("case %zu: got %d, expected MASON_ECONFIG", i, rc);
        if (!strstr(mason_buf_str(&err), config_errors[i].message))
            fail_msg("case %zu: error \"%s\" does not contain \"%s\"", i, mason_buf_str(&err),
                     config_errors[i].message);
        assert_int_equal(cfg.backend_count, 0);
        assert_null(cfg.backends);
        mason_buf_release(&err);
    }
}

static void duration_forms(void **state)
{
    unsigned s = 7;

    (void)state;
    assert_int_equal(mason_secrets_parse_duration("30s", &s), 0);
    assert_int_equal(s, 30);
    assert_int_equal(mason_secrets_parse_duration("5m", &s), 0);
    assert_int_equal(s, 300);
    assert_int_equal(mason_secrets_parse_duration("1h30m15s", &s), 0);
    assert_int_equal(s, 5415);
    assert_int_equal(mason_secrets_parse_duration("24h", &s), 0);
    assert_int_equal(s, 86400);
    assert_int_equal(mason_secrets_parse_duration("24h1s", &s), MASON_EINVAL);
    assert_int_equal(mason_secrets_parse_duration("5", &s), MASON_EINVAL);
    assert_int_equal(mason_secrets_parse_duration("", &s), MASON_EINVAL);
    assert_int_equal(mason_secrets_parse_duration(NULL, &s), MASON_EINVAL);
    assert_int_equal(mason_secrets_parse_duration("-5m", &s), MASON_EINVAL);
    assert_int_equal(mason_secrets_parse_duration("5mm", &s), MASON_EINVAL);
    assert_int_equal(mason_secrets_parse_duration("99999999999999999999s", &s), MASON_EINVAL);
    assert_int_equal(s, 86400);
}

/* Parses the secret_resolver section of a YAML file under the repository root. */
static int parse_example(const char *relative, struct mason_secrets_config *cfg,
                         struct mason_buf *err)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT, text = MASON_BUF_INIT;
    char chunk[4096];
    json_t *doc = NULL;
    size_t n;
    FILE *f;
    int rc;

    mason_buf_addf(&path, "%s/%s", top ? top : ".", relative);
    f = fopen(mason_buf_str(&path), "r");
    if (!f)
        fail_msg("cannot open %s", mason_buf_str(&path));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(mason_buf_add(&text, chunk, n), 0);
    fclose(f);
    assert_int_equal(mason_yaml_to_json(mason_buf_str(&text), text.len, &doc, err), 0);
    rc = mason_secrets_config_parse(json_object_get(doc, "secret_resolver"), cfg, err);
    json_decref(doc);
    mason_buf_release(&path);
    mason_buf_release(&text);
    return rc;
}

static void config_example_file_parses(void **state)
{
    struct mason_secrets_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    if (parse_example("examples/mason-config-secrets.yaml", &cfg, &err))
        fail_msg("examples/mason-config-secrets.yaml: %s", mason_buf_str(&err));
    assert_int_equal(cfg.backend_count, 4);
    assert_string_equal(cfg.backends[2].scheme, "aws-shared");
    assert_int_equal(cfg.backends[2].cache_ttl_seconds, 600);
    assert_string_equal(cfg.backends[2].assume_role_arn,
                        "arn:aws:iam::210987654321:role/mason-secrets-reader");
    assert_int_equal(cfg.backends[3].kind, MASON_SECRET_BACKEND_VAULT);
    assert_int_equal(cfg.policy.allowed_scheme_count, 4);
    assert_int_equal(cfg.policy.blocked_env_pattern_count, 4);
    mason_secrets_config_release(&cfg);
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_k8s_forms),
        cmocka_unit_test(uri_aws_forms),
        cmocka_unit_test(uri_vault_forms),
        cmocka_unit_test(uri_custom_schemes),
        cmocka_unit_test(uri_rejects_malformed_scheme),
        cmocka_unit_test(uri_rejects_overlong_reference),
        cmocka_unit_test(policy_allowed_schemes),
        cmocka_unit_test(policy_blocked_env_globs),
        cmocka_unit_test(config_defaults_to_k8s),
        cmocka_unit_test(config_reads_backends_and_policy),
        cmocka_unit_test(config_errors_name_key_path),
        cmocka_unit_test(duration_forms),
        cmocka_unit_test(config_example_file_parses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
