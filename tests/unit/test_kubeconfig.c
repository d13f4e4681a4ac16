/* Unit tests for kubeconfig parsing and the in-cluster configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "kubeconfig.h"

static const char *fixture_dir(struct mason_buf *dir)
{
    const char *top = getenv("MASON_TEST_TOP");

    mason_buf_reset(dir);
    mason_buf_addf(dir, "%s/tests/fixtures/kube", top ? top : ".");
    return mason_buf_str(dir);
}

static int load_fixture(struct mason_kube_config *cfg, const char *name, struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    int rc;

    fixture_dir(&path);
    mason_buf_addf(&path, "/%s", name);
    rc = mason_kube_config_load(cfg, mason_buf_str(&path), err);
    mason_buf_release(&path);
    return rc;
}

static int parse_text(struct mason_kube_config *cfg, const char *yaml, struct mason_buf *err)
{
    return mason_kube_config_parse(cfg, yaml, strlen(yaml), NULL, err);
}

static void kubeconfig_reads_data_fields(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    mason_kube_config_init(&cfg);
    assert_int_equal(load_fixture(&cfg, "kubeconfig-data.yaml", &err), 0);
    assert_string_equal(cfg.server, "https://127.0.0.1:6443");
    assert_string_equal(cfg.namespace, "agents");
    assert_non_null(strstr(cfg.ca_pem, "test CA"));
    assert_null(cfg.ca_file);
    assert_non_null(strstr(cfg.cert_pem, "test client certificate"));
    assert_non_null(strstr(cfg.key_pem, "test client key"));
    assert_null(cfg.token);
    assert_int_equal(cfg.insecure, 0);
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void kubeconfig_reads_relative_files(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT, dir = MASON_BUF_INIT;

    (void)state;
    mason_kube_config_init(&cfg);
    assert_int_equal(load_fixture(&cfg, "kubeconfig-files.yaml", &err), 0);
    assert_string_equal(cfg.token, "token-from-file");
    fixture_dir(&dir);
    mason_buf_adds(&dir, "/token");
    assert_string_equal(cfg.token_file, mason_buf_str(&dir));
    fixture_dir(&dir);
    mason_buf_adds(&dir, "/ca.pem");
    assert_string_equal(cfg.ca_file, mason_buf_str(&dir));
    assert_non_null(strstr(cfg.ca_pem, "test CA"));
    assert_non_null(strstr(cfg.cert_pem, "test client certificate"));
    assert_non_null(strstr(cfg.key_pem, "test client key"));
    assert_string_equal(cfg.namespace, "default");
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
    mason_buf_release(&dir);
}

static void kubeconfig_reads_token_and_insecure(void **state)
{
    struct mason_kube_config cfg;

    (void)state;
    mason_kube_config_init(&cfg);
    assert_int_equal(load_fixture(&cfg, "kubeconfig-token.yaml", NULL), 0);
    assert_string_equal(cfg.server, "http://127.0.0.1:8080");
    assert_string_equal(cfg.token, "abc.def.ghi");
    assert_null(cfg.token_file);
    assert_string_equal(cfg.namespace, "team-a");
    assert_int_equal(cfg.insecure, 1);
    mason_kube_config_release(&cfg);
}

static void kubeconfig_missing_context_names_it(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    mason_kube_config_init(&cfg);
    assert_int_equal(parse_text(&cfg, "current-context: staging\ncontexts: []\n", &err),
                     MASON_ECONFIG);
    assert_string_equal(mason_buf_str(&err), "kubeconfig context \"staging\" not found");
    assert_null(cfg.server);
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void kubeconfig_reports_missing_pieces(void **state)
{
    static const struct {
        const char *yaml;
        int rc;
        const char *message;
    } cases[] = {
        {"apiVersion: v1\n", MASON_ECONFIG, "kubeconfig has no current-context"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n", MASON_ECONFIG,
         "kubeconfig cluster \"c\" not found"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n",
         MASON_ECONFIG, "kubeconfig user \"u\" not found"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
         "clusters: [{name: c, cluster: {}}]\n",
         MASON_ECONFIG, "kubeconfig cluster has no server"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '@@'}}]\n",
         MASON_EPARSE, "kubeconfig field certificate-authority-data is not valid base64"},
        {"- just\n- a list\n", MASON_EPARSE, "kubeconfig is not a YAML mapping"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
         "users: [{name: u, user: {client-certificate-data: dGVzdA==}}]\n",
         MASON_ECONFIG, "kubeconfig user has client-certificate but no client-key"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
         "users: [{name: u, user: {client-key-data: dGVzdA==}}]\n",
         MASON_ECONFIG, "kubeconfig user has client-key but no client-certificate"},
    };
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    mason_kube_config_init(&cfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mason_buf_reset(&err);
        assert_int_equal(parse_text(&cfg, cases[i].yaml, &err), cases[i].rc);
        assert_string_equal(mason_buf_str(&err), cases[i].message);
    }
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void kubeconfig_rejects_exec_plugin(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    mason_kube_config_init(&cfg);
    assert_int_equal(parse_text(&cfg,
                                "current-context: a\n"
                                "contexts: [{name: a, context: {cluster: c, user: u}}]\n"
                                "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                                "users: [{name: u, user: {exec: {command: aws}}}]\n",
                                &err),
                     MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "exec"));
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void kubeconfig_missing_file_is_io_error(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    mason_kube_config_init(&cfg);
    assert_int_equal(mason_kube_config_load(&cfg, "/nonexistent/kubeconfig", &err), MASON_EIO);
    assert_non_null(strstr(mason_buf_str(&err), "/nonexistent/kubeconfig"));
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void kubeconfig_env_skips_missing_files(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf path = MASON_BUF_INIT;

    (void)state;
    fixture_dir(&path);
    mason_buf_adds(&path, "/kubeconfig-token.yaml:/nonexistent/second");
    setenv("KUBECONFIG", mason_buf_str(&path), 1);
    mason_kube_config_init(&cfg);
    assert_int_equal(mason_kube_config_load(&cfg, NULL, NULL), 0);
    assert_string_equal(cfg.token, "abc.def.ghi");
    unsetenv("KUBECONFIG");
    mason_kube_config_release(&cfg);
    mason_buf_release(&path);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    struct mason_buf path = MASON_BUF_INIT;
    FILE *f;

    mason_buf_addf(&path, "%s/%s", dir, name);
    f = fopen(mason_buf_str(&path), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    mason_buf_release(&path);
}

static void remove_file(const char *dir, const char *name)
{
    struct mason_buf path = MASON_BUF_INIT;

    mason_buf_addf(&path, "%s/%s", dir, name);
    unlink(mason_buf_str(&path));
    mason_buf_release(&path);
}

static void kubeconfig_env_merges_files(void **state)
{
    char first[] = "/tmp/mason-kc1-XXXXXX", second[] = "/tmp/mason-kc2-XXXXXX";
    struct mason_kube_config cfg;
    struct mason_buf env = MASON_BUF_INIT, err = MASON_BUF_INIT;

    (void)state;
    assert_non_null(mkdtemp(first));
    assert_non_null(mkdtemp(second));
    write_file(first, "config",
               "current-context: work\n"
               "contexts: [{name: work, context: {cluster: c, user: u, namespace: n1}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://first:6443'}}]\n");
    /* Its current-context and cluster c lose to the first file; user u is new. */
    write_file(second, "config",
               "current-context: other\n"
               "clusters: [{name: c, cluster: {server: 'https://second:6443'}}]\n"
               "users: [{name: u, user: {tokenFile: token}}]\n");
    write_file(second, "token", "merged-token\n");
    mason_buf_addf(&env, "%s/config::/nonexistent/config:%s/config", first, second);
    setenv("KUBECONFIG", mason_buf_str(&env), 1);
    mason_kube_config_init(&cfg);
    assert_int_equal(mason_kube_config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.server, "https://first:6443");
    assert_string_equal(cfg.namespace, "n1");
    assert_string_equal(cfg.token, "merged-token");
    mason_buf_reset(&env);
    mason_buf_addf(&env, "%s/token", second);
    assert_string_equal(cfg.token_file, mason_buf_str(&env));

    unsetenv("KUBECONFIG");
    remove_file(first, "config");
    remove_file(second, "config");
    remove_file(second, "token");
    rmdir(first);
    rmdir(second);
    mason_kube_config_release(&cfg);
    mason_buf_release(&env);
    mason_buf_release(&err);
}

static void kubeconfig_env_without_files(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    setenv("KUBECONFIG", "/nonexistent/a:/nonexistent/b", 1);
    mason_kube_config_init(&cfg);
    assert_int_equal(mason_kube_config_load(&cfg, NULL, &err), MASON_EIO);
    assert_string_equal(mason_buf_str(&err),
                        "no file in KUBECONFIG=/nonexistent/a:/nonexistent/b exists");
    assert_null(cfg.server);
    unsetenv("KUBECONFIG");
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void in_cluster_reads_service_account(void **state)
{
    char dir[] = "/tmp/mason-sa-XXXXXX";
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_non_null(mkdtemp(dir));
    write_file(dir, "token", "sa-token\n");
    write_file(dir, "ca.crt", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    write_file(dir, "namespace", "mason-system\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    mason_kube_config_init(&cfg);
    assert_int_equal(mason_kube_config_in_cluster(&cfg, dir, &err), 0);
    assert_string_equal(cfg.server, "https://10.96.0.1:443");
    assert_string_equal(cfg.token, "sa-token");
    assert_non_null(strstr(cfg.token_file, "/token"));
    assert_non_null(strstr(cfg.ca_pem, "BEGIN CERTIFICATE"));
    assert_string_equal(cfg.namespace, "mason-system");

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    remove_file(dir, "namespace");
    assert_int_equal(mason_kube_config_in_cluster(&cfg, dir, &err), 0);
    assert_string_equal(cfg.server, "https://[fd00::1]:443");
    assert_string_equal(cfg.namespace, "default");

    remove_file(dir, "token");
    assert_int_equal(mason_kube_config_in_cluster(&cfg, dir, &err), MASON_EIO);
    remove_file(dir, "ca.crt");
    rmdir(dir);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

static void in_cluster_needs_environment(void **state)
{
    struct mason_kube_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    unsetenv("KUBERNETES_SERVICE_HOST");
    mason_kube_config_init(&cfg);
    assert_int_equal(mason_kube_config_in_cluster(&cfg, "/nonexistent", &err), MASON_ECONFIG);
    assert_non_null(strstr(mason_buf_str(&err), "KUBERNETES_SERVICE_HOST"));
    mason_kube_config_release(&cfg);
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kubeconfig_reads_data_fields),
        cmocka_unit_test(kubeconfig_reads_relative_files),
        cmocka_unit_test(kubeconfig_reads_token_and_insecure),
        cmocka_unit_test(kubeconfig_missing_context_names_it),
        cmocka_unit_test(kubeconfig_reports_missing_pieces),
        cmocka_unit_test(kubeconfig_rejects_exec_plugin),
        cmocka_unit_test(kubeconfig_missing_file_is_io_error),
        cmocka_unit_test(kubeconfig_env_skips_missing_files),
        cmocka_unit_test(kubeconfig_env_merges_files),
        cmocka_unit_test(kubeconfig_env_without_files),
        cmocka_unit_test(in_cluster_reads_service_account),
        cmocka_unit_test(in_cluster_needs_environment),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
