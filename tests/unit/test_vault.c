/* The Vault backend: request URLs and bodies, reply parsing, and failures before any request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "vault.h"

static void check_kv_url(const char *kv_mount, const char *name, const char *want)
{
    struct mason_buf url = MASON_BUF_INIT, err = MASON_BUF_INIT;

    if (mason_vault_kv_url("https://vault.test:8200/", kv_mount, name, &url, &err))
        fail_msg("%s: %s", name, mason_buf_str(&err));
    assert_string_equal(mason_buf_str(&url), want);
    mason_buf_release(&url);
    mason_buf_release(&err);
}

static void kv_url_forms(void **state)
{
    struct mason_buf url = MASON_BUF_INIT, err = MASON_BUF_INIT;

    (void)state;
    check_kv_url(NULL, "secret/ci", "https://vault.test:8200/v1/secret/data/ci");
    check_kv_url(NULL, "secret/team/app", "https://vault.test:8200/v1/secret/data/team/app");
    check_kv_url("kv", "secret/ci", "https://vault.test:8200/v1/kv/data/secret/ci");
    check_kv_url("team/kv", "ci", "https://vault.test:8200/v1/team/kv/data/ci");
    check_kv_url(NULL, "secret/a+b=c@d", "https://vault.test:8200/v1/secret/data/a%2Bb%3Dc%40d");
    assert_int_equal(mason_vault_kv_url("https://v", NULL, "secret", &url, &err), MASON_EINVAL);
    assert_non_null(
        strstr(mason_buf_str(&err), "path \"secret\" has no secret after the KV mount"));
    mason_buf_reset(&err);
    assert_int_equal(mason_vault_kv_url("https://v", NULL, "secret/", &url, &err), MASON_EINVAL);
    mason_buf_release(&url);
    mason_buf_release(&err);
}

static void login_request(void **state)
{
    struct mason_buf url = MASON_BUF_INIT, body = MASON_BUF_INIT;
    json_t *doc;

    (void)state;
    assert_int_equal(mason_vault_login_url("http://127.0.0.1:8200//", "k8s-prod", &url), 0);
    assert_string_equal(mason_buf_str(&url), "http://127.0.0.1:8200/v1/auth/k8s-prod/login");
    assert_int_equal(mason_vault_login_body("mason", "eyJ\"quoted\"", &body), 0);
    doc = json_loads(mason_buf_str(&body), 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "role")), "mason");
    assert_string_equal(json_string_value(json_object_get(doc, "jwt")), "eyJ\"quoted\"");
    assert_int_equal(json_object_size(doc), 2);
    json_decref(doc);
    mason_buf_release(&url);
    mason_buf_release(&body);
}

static void auth_reply_parsing(void **state)
{
    const char *ok = "{\"request_id\": \"r\", \"auth\": {\"client_token\": \"hvs.CAES\","
                     " \"accessor\": \"a\", \"policies\": [\"default\"],"
                     " \"lease_duration\": 3600, \"renewable\": true}}";
    const char *fixed = "{\"auth\": {\"client_token\": \"s.x\", \"lease_duration\": 0}}";
    static const char *const bad[] = {
        "",
        "{}",
        "{\"auth\": null}",
        "{\"auth\": {\"client_token\": \"\", \"lease_duration\": 10}}",
        "{\"auth\": {\"client_token\": \"t\"}}",
        "{\"auth\": {\"client_token\": \"t\", \"lease_duration\": -1}}",
        "{\"auth\": {\"client_token\": \"t\", \"lease_duration\": \"10\"}}",
    };
    struct mason_vault_lease lease;

    (void)state;
    assert_int_equal(mason_vault_parse_auth(ok, strlen(ok), &lease), 0);
    assert_string_equal(lease.token, "hvs.CAES");
    assert_int_equal(lease.lease_duration, 3600);
    assert_true(lease.renewable);
    mason_vault_lease_release(&lease);
    assert_null(lease.token);
    assert_int_equal(mason_vault_parse_auth(fixed, strlen(fixed), &lease), 0);
    assert_int_equal(lease.lease_duration, 0);
    assert_false(lease.renewable);
    mason_vault_lease_release(&lease);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mason_vault_parse_auth(bad[i], strlen(bad[i]), &lease) != MASON_EPARSE)
            fail_msg("reply %zu was accepted", i);
        assert_null(lease.token);
    }
}

static void kv_reply_parsing(void **state)
{
    const char *ok =
        "{\"data\": {\"data\": {\"token\": \"vt-1\", \"n\": 2},"
        " \"metadata\": {\"version\": 3, \"deletion_time\": \"\", \"destroyed\": false}}}";
    const char *deleted = "{\"data\": {\"data\": null, \"metadata\": {\"version\": 4,"
                          " \"deletion_time\": \"2024-05-01T12:00:00Z\", \"destroyed\": false}}}";
    const char *destroyed = "{\"data\": {\"data\": null, \"metadata\": {\"destroyed\": true}}}";
    const char *kv1 = "{\"data\": {\"token\": \"vt-1\"}}";
    struct mason_buf value = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_vault_parse_kv(ok, strlen(ok), &value), 0);
    assert_string_equal(mason_buf_str(&value), "{\"token\":\"vt-1\",\"n\":2}");
    mason_buf_reset(&value);
    assert_int_equal(mason_vault_parse_kv(deleted, strlen(deleted), &value), MASON_ENOTFOUND);
    assert_int_equal(mason_vault_parse_kv(destroyed, strlen(destroyed), &value), MASON_ENOTFOUND);
    /* A KV version 1 reply has no nested data object. */
    assert_int_equal(mason_vault_parse_kv(kv1, strlen(kv1), &value), MASON_EPARSE);
    assert_int_equal(mason_vault_parse_kv("[]", 2, &value), MASON_EPARSE);
    assert_int_equal(value.len, 0);
    mason_buf_release(&value);
}

static void error_reply_parsing(void **state)
{
    const char *two = "{\"errors\": [\"permission denied\", 5, \"invalid role name \\\"x\\\"\"]}";
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    mason_buf_adds(&out, "prefix: ");
    mason_vault_parse_errors(two, strlen(two), &out);
    assert_string_equal(mason_buf_str(&out), "prefix: permission denied; invalid role name \"x\"");
    mason_buf_reset(&out);
    mason_vault_parse_errors("not json", 8, &out);
    assert_int_equal(out.len, 0);
    mason_buf_release(&out);
}

/* Vault returns 404 and the version metadata for a deleted or destroyed current version. */
static void read_failure_by_status(void **state)
{
    const char *deleted =
        "{\"request_id\":\"r1\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
        "\"data\":{\"data\":null,\"metadata\":{\"created_time\":\"2026-01-02T10:00:00Z\","
        "\"custom_metadata\":null,\"deletion_time\":\"2026-01-02T10:05:00Z\","
        "\"destroyed\":false,\"version\":1}},\"wrap_info\":null,\"warnings\":null,\"auth\":null}";
    const char *destroyed = "{\"data\":{\"data\":null,\"metadata\":{\"deletion_time\":\"\","
                            "\"destroyed\":true,\"version\":2}}}";
    const char *missing = "{\"errors\":[]}\n";
    const char *denied = "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}";
    const char *sealed = "{\"errors\":[\"Vault is sealed\"]}";
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(
        mason_vault_read_failure("kv/ci", false, "mason", 404, deleted, strlen(deleted), &err),
        MASON_ENOTFOUND);
    assert_string_equal(mason_buf_str(&err),
                        "the current version of Vault secret \"kv/ci\" is deleted");
    mason_buf_reset(&err);
    assert_int_equal(
        mason_vault_read_failure("kv/ci", false, "mason", 404, destroyed, strlen(destroyed), &err),
        MASON_ENOTFOUND);
    assert_string_equal(mason_buf_str(&err),
                        "the current version of Vault secret \"kv/ci\" is deleted");
    mason_buf_reset(&err);
    assert_int_equal(
        mason_vault_read_failure("kv/ci", false, "mason", 404, missing, strlen(missing), &err),
        MASON_ENOTFOUND);
    assert_string_equal(
        mason_buf_str(&err),
        "no secret at Vault KV v2 path \"kv/ci\" (the first segment is the KV mount)");
    mason_buf_reset(&err);
    assert_int_equal(mason_vault_read_failure("ci", true, "mason", 404, "", 0, &err),
                     MASON_ENOTFOUND);
    assert_string_equal(mason_buf_str(&err), "no secret at Vault KV v2 path \"ci\"");
    mason_buf_reset(&err);
    assert_int_equal(
        mason_vault_read_failure("kv/ci", false, "mason", 403, denied, strlen(denied), &err),
        MASON_EFORBIDDEN);
    assert_non_null(
        strstr(mason_buf_str(&err), "Vault denied reading \"kv/ci\" to role \"mason\""));
    mason_buf_reset(&err);
    assert_int_equal(
        mason_vault_read_failure("kv/ci", false, "mason", 503, sealed, strlen(sealed), &err),
        MASON_EUNAVAILABLE);
    assert_string_equal(mason_buf_str(&err),
                        "Vault read of \"kv/ci\" failed with HTTP 503: Vault is sealed");
    mason_buf_reset(&err);
    assert_int_equal(mason_vault_read_failure("kv/ci", false, "mason", 429, "", 0, &err),
                     MASON_ETHROTTLED);
    mason_buf_reset(&err);
    assert_int_equal(mason_vault_read_failure("kv/ci", false, "mason", 400, "", 0, &err),
                     MASON_EHTTP);
    mason_buf_release(&err);
}

static void token_action_by_age(void **state)
{
    char token[] = "hvs.x";
    struct mason_vault_lease renewable = {token, 3600, true};
    struct mason_vault_lease fixed = {token, 3600, false};
    struct mason_vault_lease forever = {token, 0, false};
    struct mason_vault_lease none = {NULL, 3600, true};

    (void)state;
    assert_int_equal(mason_vault_token_action(NULL, 0), MASON_VAULT_LOGIN);
    assert_int_equal(mason_vault_token_action(&none, 0), MASON_VAULT_LOGIN);
    assert_int_equal(mason_vault_token_action(&renewable, 0), MASON_VAULT_USE);
    assert_int_equal(mason_vault_token_action(&renewable, 2399), MASON_VAULT_USE);
    assert_int_equal(mason_vault_token_action(&renewable, 2400), MASON_VAULT_RENEW);
    assert_int_equal(mason_vault_token_action(&renewable, 3599), MASON_VAULT_RENEW);
    assert_int_equal(mason_vault_token_action(&renewable, 3600), MASON_VAULT_LOGIN);
    assert_int_equal(mason_vault_token_action(&fixed, 2399), MASON_VAULT_USE);
    assert_int_equal(mason_vault_token_action(&fixed, 2400), MASON_VAULT_LOGIN);
    assert_int_equal(mason_vault_token_action(&forever, 100000000), MASON_VAULT_USE);
}

static void create_requires_address_and_role(void **state)
{
    struct mason_secret_backend_config cfg = {.scheme = (char *)"vault",
                                              .kind = MASON_SECRET_BACKEND_VAULT};
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_null(mason_secrets_vault_backend_create(&cfg, &err));
    assert_non_null(strstr(mason_buf_str(&err), "backend vault: config.address and config.role"));
    mason_buf_release(&err);
}

static void fetch_fails_without_token_file(void **state)
{
    struct mason_secret_backend_config cfg = {.scheme = (char *)"vault",
                                              .kind = MASON_SECRET_BACKEND_VAULT};
    struct mason_buf err = MASON_BUF_INIT, value = MASON_BUF_INIT;
    struct mason_vault_stats st;
    struct mason_secret_backend *b;

    (void)state;
    cfg.address = (char *)"http://127.0.0.1:9/";
    cfg.role = (char *)"mason";
    cfg.token_path = (char *)"/nonexistent/mason/sa-token";
    cfg.namespace = (char *)"team-a";
    b = mason_secrets_vault_backend_create(&cfg, &err);
    assert_non_null(b);
    assert_int_equal(b->fetch(b, "secret/ci", &value, &err), MASON_EIO);
    assert_non_null(strstr(mason_buf_str(&err), "/nonexistent/mason/sa-token"));
    mason_buf_reset(&err);
    /* A reference without a path after the mount fails before any login. */
    assert_int_equal(b->fetch(b, "secret", &value, &err), MASON_EINVAL);
    mason_vault_backend_get_stats(b, &st);
    assert_int_equal(st.logins, 0);
    assert_int_equal(st.reads, 0);
    assert_int_equal(value.len, 0);
    b->destroy(b);
    mason_buf_release(&err);
    mason_buf_release(&value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_url_forms),
        cmocka_unit_test(login_request),
        cmocka_unit_test(auth_reply_parsing),
        cmocka_unit_test(kv_reply_parsing),
        cmocka_unit_test(error_reply_parsing),
        cmocka_unit_test(read_failure_by_status),
        cmocka_unit_test(token_action_by_age),
        cmocka_unit_test(create_requires_address_and_role),
        cmocka_unit_test(fetch_fails_without_token_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
