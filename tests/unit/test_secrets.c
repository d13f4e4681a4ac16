/* The secret resolver: per-name cache, shared lookups, env resolution and the per-run Secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "error.h"
#include "secrets.h"

#define THREADS 8

struct fake_secret {
    const char *name;
    const char *value;
};

/* A backend serving a fixed table, counting calls, and able to hold calls until released. */
struct fake_backend {
    struct mason_secret_backend base;
    const struct fake_secret *secrets;
    int fail_rc; /* returned for every name when set */
    pthread_mutex_t lock;
    pthread_cond_t released;
    bool hold;
    int calls;
};

static const struct fake_secret aws_secrets[] = {
    {"prod/db", "{\"password\": \"pw-7f3a\", \"user\": \"app\", \"port\": 5432}"},
    {"plain", "just-a-string-91c2"},
    {NULL, NULL},
};

static const struct fake_secret vault_secrets[] = {
    {"secret/ci", "{\"token\": \"vt-55e0\"}"},
    {NULL, NULL},
};

static int fake_fetch(struct mason_secret_backend *backend, const char *name,
                      struct mason_buf *value, struct mason_buf *err)
{
    struct fake_backend *fb = (struct fake_backend *)backend;

    pthread_mutex_lock(&fb->lock);
    fb->calls++;
    while (fb->hold)
        pthread_cond_wait(&fb->released, &fb->lock);
    pthread_mutex_unlock(&fb->lock);
    if (fb->fail_rc) {
        mason_buf_addf(err, "fake failure for \"%s\"", name);
        return fb->fail_rc;
    }
    for (const struct fake_secret *s = fb->secrets; s->name; s++)
        if (!strcmp(s->name, name))
            return mason_buf_adds(value, s->value);
    mason_buf_addf(err, "secret \"%s\" does not exist", name);
    return MASON_ENOTFOUND;
}

static void fake_destroy(struct mason_secret_backend *backend)
{
    struct fake_backend *fb = (struct fake_backend *)backend;

    pthread_mutex_destroy(&fb->lock);
    pthread_cond_destroy(&fb->released);
    free(fb);
}

static struct fake_backend *fake_create(const struct fake_secret *secrets)
{
    struct fake_backend *fb = calloc(1, sizeof(*fb));

    assert_non_null(fb);
    fb->base.fetch = fake_fetch;
    fb->base.destroy = fake_destroy;
    fb->secrets = secrets;
    pthread_mutex_init(&fb->lock, NULL);
    pthread_cond_init(&fb->released, NULL);
    return fb;
}

static int fake_calls(struct fake_backend *fb)
{
    int n;

    pthread_mutex_lock(&fb->lock);
    n = fb->calls;
    pthread_mutex_unlock(&fb->lock);
    return n;
}

static void fake_release(struct fake_backend *fb)
{
    pthread_mutex_lock(&fb->lock);
    fb->hold = false;
    pthread_cond_broadcast(&fb->released);
    pthread_mutex_unlock(&fb->lock);
}

/* Read by the resolver's sweeper thread too, hence atomic. */
static _Atomic(time_t) test_now = 1000;

static time_t fake_clock(void *arg)
{
    return atomic_load((_Atomic(time_t) *)arg);
}

/* A resolver for k8s, aws-sm (TTL aws_ttl) and vault, with fake backends for the last two. */
struct fixture {
    struct mason_secrets *s;
    struct fake_backend *aws;
    struct fake_backend *vault;
};

static void fixture_init(struct fixture *fx, const char *aws_ttl, const char *policy)
{
    struct mason_buf text = MASON_BUF_INIT, err = MASON_BUF_INIT;
    struct mason_secrets_config cfg;
    json_error_t jerr;
    json_t *doc;

    mason_buf_addf(&text,
                   "{\"backends\": [{\"scheme\": \"k8s\", \"backend\": \"k8s\"},"
                   " {\"scheme\": \"aws-sm\", \"backend\": \"aws-secrets-manager\","
                   "  \"config\": {\"endpoint\": \"http://127.0.0.1:9\", \"region\": \"us-east-1\","
                   "  \"cache_ttl\": \"%s\"}},"
                   " {\"scheme\": \"vault\", \"backend\": \"vault\","
                   "  \"config\": {\"address\": \"http://127.0.0.1:9\", \"role\": \"mason\"}}],"
                   " \"policy\": %s}",
                   aws_ttl, policy ? policy : "{}");
    /* The AWS client needs a credential source to be created; the fake replaces it. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    doc = json_loads(mason_buf_str(&text), 0, &jerr);
    if (!doc)
        fail_msg("fixture JSON: %s", jerr.text);
    assert_int_equal(mason_secrets_config_parse(doc, &cfg, &err), 0);
    fx->s = mason_secrets_create(&cfg, &err);
    if (!fx->s)
        fail_msg("mason_secrets_create: %s", mason_buf_str(&err));
    assert_int_equal(cfg.backend_count, 0);
    fx->aws = fake_create(aws_secrets);
    fx->vault = fake_create(vault_secrets);
    assert_int_equal(mason_secrets_set_backend(fx->s, "aws-sm", &fx->aws->base), 0);
    assert_int_equal(mason_secrets_set_backend(fx->s, "vault", &fx->vault->base), 0);
    test_now = 1000;
    mason_secrets_set_clock(fx->s, fake_clock, &test_now);
    json_decref(doc);
    mason_buf_release(&text);
    mason_buf_release(&err);
}

/* Looks ref up and checks that it resolves to want. */
static void check_lookup(struct mason_secrets *s, const char *ref, const char *want)
{
    struct mason_buf value = MASON_BUF_INIT;
    struct mason_secret_failure f;
    int rc;

    mason_secret_failure_init(&f);
    rc = mason_secrets_lookup(s, ref, &value, &f);
    if (rc)
        fail_msg("%s: %s (%s)", ref, mason_buf_str(&f.message), f.reason);
    assert_string_equal(mason_buf_str(&value), want);
    mason_secrets_buf_wipe(&value);
    mason_secret_failure_release(&f);
}

/* Looks ref up, expecting failure rc with reason and a message containing text. */
static void check_lookup_fails(struct mason_secrets *s, const char *ref, int want_rc,
                               const char *reason, const char *text)
{
    struct mason_buf value = MASON_BUF_INIT;
    struct mason_secret_failure f;
    int rc;

    mason_secret_failure_init(&f);
    rc = mason_secrets_lookup(s, ref, &value, &f);
    if (rc != want_rc)
        fail_msg("%s: got %d, expected %d (%s)", ref, rc, want_rc, mason_buf_str(&f.message));
    assert_string_equal(f.reason, reason);
    if (!strstr(mason_buf_str(&f.message), text))
        fail_msg("%s: message \"%s\" does not contain \"%s\"", ref, mason_buf_str(&f.message),
                 text);
    assert_null(strstr(mason_buf_str(&f.message), "pw-7f3a"));
    assert_null(strstr(mason_buf_str(&f.message), "just-a-string-91c2"));
    assert_int_equal(value.len, 0);
    mason_secrets_buf_wipe(&value);
    mason_secret_failure_release(&f);
}

static void lookup_fields_share_one_call(void **state)
{
    struct fixture fx;
    struct mason_secrets_stats st;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    check_lookup(fx.s, "aws-sm://prod/db#password", "pw-7f3a");
    check_lookup(fx.s, "aws-sm://prod/db#user", "app");
    check_lookup(fx.s, "aws-sm://prod/db#port", "5432");
    check_lookup(fx.s, "aws-sm://prod/db",
                 "{\"password\": \"pw-7f3a\", \"user\": \"app\", \"port\": 5432}");
    check_lookup(fx.s, "aws-sm://plain", "just-a-string-91c2");
    check_lookup(fx.s, "vault://secret/ci#token", "vt-55e0");
    assert_int_equal(fake_calls(fx.aws), 2);
    assert_int_equal(fake_calls(fx.vault), 1);
    mason_secrets_get_stats(fx.s, &st);
    assert_int_equal(st.lookups, 6);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.backend_calls, 3);
    assert_int_equal(st.entries, 3);
    mason_secrets_free(fx.s);
}

static void lookup_failures_say_what_to_fix(void **state)
{
    struct fixture fx;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    check_lookup_fails(fx.s, "aws-sm://prod/db#pass", MASON_ENOTFOUND, "SecretFieldNotFound",
                       "secret \"prod/db\" has no field \"pass\"");
    check_lookup_fails(fx.s, "aws-sm://plain#password", MASON_ENOTFOUND, "SecretFieldNotFound",
                       "secret \"plain\" is not a JSON object");
    check_lookup_fails(fx.s, "aws-sm://prod/missing#password", MASON_ENOTFOUND, "SecretNotFound",
                       "reading secret \"prod/missing\" through backend \"aws-sm\" failed: secret "
                       "\"prod/missing\" does not exist; create the secret");
    check_lookup_fails(fx.s, "gcp://prod/db#password", MASON_ENOTFOUND, "UnknownSecretScheme",
                       "no backend in secret_resolver.backends has scheme \"gcp\"");
    check_lookup_fails(fx.s, "k8s://anthropic/api_key", MASON_EINVAL, "InvalidSecretRef",
                       "k8s references become secretKeyRef entries");
    check_lookup_fails(fx.s, "vault://secret/ci", MASON_EPARSE, "InvalidSecretRef",
                       "invalid secret reference \"vault://secret/ci\": the field is missing");
    check_lookup_fails(fx.s, "no-scheme", MASON_EPARSE, "InvalidSecretRef", "scheme is missing");
    mason_secrets_free(fx.s);
}

static void lookup_maps_backend_errors(void **state)
{
    struct fixture fx;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    fx.aws->fail_rc = MASON_EFORBIDDEN;
    check_lookup_fails(fx.s, "aws-sm://prod/db#password", MASON_EFORBIDDEN, "SecretAccessDenied",
                       "fake failure for \"prod/db\"");
    fx.aws->fail_rc = MASON_EUNAUTHORIZED;
    check_lookup_fails(fx.s, "aws-sm://prod/db#password", MASON_EUNAUTHORIZED, "SecretAccessDenied",
                       "prod/db");
    fx.aws->fail_rc = MASON_ECONNECT;
    check_lookup_fails(fx.s, "aws-sm://prod/db#password", MASON_ECONNECT,
                       "SecretBackendUnavailable", "prod/db");
    fx.aws->fail_rc = MASON_EHTTP;
    check_lookup_fails(fx.s, "aws-sm://prod/db#password", MASON_EHTTP, "SecretBackendFailed",
                       "prod/db");
    /* Failures are not cached: each lookup above called the backend again. */
    assert_int_equal(fake_calls(fx.aws), 4);
    fx.aws->fail_rc = 0;
    check_lookup(fx.s, "aws-sm://prod/db#password", "pw-7f3a");
    assert_int_equal(fake_calls(fx.aws), 5);
    mason_secrets_free(fx.s);
}

static void cache_expires_after_ttl(void **state)
{
    struct fixture fx;
    struct mason_secrets_stats st;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    check_lookup(fx.s, "aws-sm://prod/db#password", "pw-7f3a");
    test_now = 1299;
    check_lookup(fx.s, "aws-sm://prod/db#user", "app");
    assert_int_equal(fake_calls(fx.aws), 1);
    test_now = 1300;
    check_lookup(fx.s, "aws-sm://prod/db#password", "pw-7f3a");
    assert_int_equal(fake_calls(fx.aws), 2);
    mason_secrets_get_stats(fx.s, &st);
    assert_int_equal(st.entries, 1);
    test_now = 1599;
    mason_secrets_evict_expired(fx.s);
    mason_secrets_get_stats(fx.s, &st);
    assert_int_equal(st.entries, 1);
    test_now = 1600;
    mason_secrets_evict_expired(fx.s);
    mason_secrets_get_stats(fx.s, &st);
    assert_int_equal(st.entries, 0);
    mason_secrets_free(fx.s);
}

/* Expired values leave memory within about a second even when no lookup or evict call comes. */
static void sweeper_evicts_expired_entries(void **state)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    struct mason_secrets_stats st;
    struct fixture fx;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    check_lookup(fx.s, "aws-sm://prod/db#password", "pw-7f3a");
    test_now = 1300;
    for (int i = 0; i < 250; i++) { /* 5 s at most */
        mason_secrets_get_stats(fx.s, &st);
        if (st.entries == 0)
            break;
        nanosleep(&pause, NULL);
    }
    assert_int_equal(st.entries, 0);
    assert_int_equal(fake_calls(fx.aws), 1);
    mason_secrets_free(fx.s);
}

static void cache_ttl_zero_fetches_every_time(void **state)
{
    struct fixture fx;

    (void)state;
    fixture_init(&fx, "0s", NULL);
    check_lookup(fx.s, "aws-sm://prod/db#password", "pw-7f3a");
    check_lookup(fx.s, "aws-sm://prod/db#user", "app");
    assert_int_equal(fake_calls(fx.aws), 2);
    mason_secrets_free(fx.s);
}

struct lookup_thread {
    struct mason_secrets *s;
    const char *ref;
    const char *want;
    int rc;
    bool matched;
};

static void *lookup_main(void *arg)
{
    struct lookup_thread *t = arg;
    struct mason_buf value = MASON_BUF_INIT;
    struct mason_secret_failure f;

    mason_secret_failure_init(&f);
    t->rc = mason_secrets_lookup(t->s, t->ref, &value, &f);
    t->matched = !t->rc && !strcmp(mason_buf_str(&value), t->want);
    mason_secrets_buf_wipe(&value);
    mason_secret_failure_release(&f);
    return NULL;
}

/* Waits (at most 10 s) until want lookups wait for another lookup's backend call. */
static void wait_for_shared(struct mason_secrets *s, unsigned long want)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    struct mason_secrets_stats st;

    for (int i = 0; i < 1000; i++) {
        mason_secrets_get_stats(s, &st);
        if (st.shared >= want)
            return;
        nanosleep(&pause, NULL);
    }
    fail_msg("only %lu of %lu lookups waited for the shared backend call", st.shared, want);
}

static void concurrent_lookups_make_one_call(void **state)
{
    struct fixture fx;
    struct lookup_thread t[THREADS];
    pthread_t tid[THREADS];
    struct mason_secrets_stats st;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    fx.aws->hold = true;
    for (int i = 0; i < THREADS; i++) {
        t[i].s = fx.s;
        t[i].ref = i % 2 ? "aws-sm://prod/db#password" : "aws-sm://prod/db#user";
        t[i].want = i % 2 ? "pw-7f3a" : "app";
        assert_int_equal(pthread_create(&tid[i], NULL, lookup_main, &t[i]), 0);
    }
    wait_for_shared(fx.s, THREADS - 1);
    fake_release(fx.aws);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(t[i].rc, 0);
        assert_true(t[i].matched);
    }
    assert_int_equal(fake_calls(fx.aws), 1);
    mason_secrets_get_stats(fx.s, &st);
    assert_int_equal(st.backend_calls, 1);
    assert_int_equal(st.shared, THREADS - 1);
    mason_secrets_free(fx.s);
}

static void concurrent_failure_reaches_every_waiter(void **state)
{
    struct fixture fx;
    struct lookup_thread t[THREADS];
    pthread_t tid[THREADS];

    (void)state;
    fixture_init(&fx, "5m", NULL);
    fx.aws->hold = true;
    fx.aws->fail_rc = MASON_EFORBIDDEN;
    for (int i = 0; i < THREADS; i++) {
        t[i].s = fx.s;
        t[i].ref = "aws-sm://prod/db#password";
        t[i].want = "pw-7f3a";
        assert_int_equal(pthread_create(&tid[i], NULL, lookup_main, &t[i]), 0);
    }
    wait_for_shared(fx.s, THREADS - 1);
    fake_release(fx.aws);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(t[i].rc, MASON_EFORBIDDEN);
    }
    assert_int_equal(fake_calls(fx.aws), 1);
    mason_secrets_free(fx.s);
}

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);

    if (!doc)
        fail_msg("test JSON: %s", jerr.text);
    return doc;
}

static void expect_key_ref(const json_t *entry, const char *name, const char *secret,
                           const char *key)
{
    const json_t *ref = json_object_get(json_object_get(entry, "valueFrom"), "secretKeyRef");

    assert_string_equal(json_string_value(json_object_get(entry, "name")), name);
    assert_string_equal(json_string_value(json_object_get(ref, "name")), secret);
    assert_string_equal(json_string_value(json_object_get(ref, "key")), key);
    assert_null(json_object_get(entry, "value"));
    assert_null(json_object_get(entry, "secretRef"));
}

static void resolve_env_uses_secret_key_refs(void **state)
{
    json_t *env = load(
        "[{\"name\": \"MODE\", \"value\": \"ci\"},"
        " {\"name\": \"ANTHROPIC_API_KEY\", \"secretRef\": \"k8s://anthropic/api_key\"},"
        " {\"name\": \"DB_PASSWORD\", \"secretRef\": \"aws-sm://prod/db#password\"},"
        " {\"name\": \"DB_DSN\", \"secretRef\": \"aws-sm://plain\"},"
        " {\"name\": \"DEPLOY_TOKEN\", \"secretRef\": \"vault://secret/ci#token\"},"
        " {\"name\": \"POD\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"metadata.name\"}}}]");
    struct mason_secret_data *data = NULL;
    struct mason_secret_failure f;
    struct fixture fx;
    json_t *out = NULL;
    char *dumped;
    size_t len;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    mason_secret_failure_init(&f);
    assert_int_equal(mason_secrets_resolve_env(fx.s, env, "fix-1-r1-env", &out, &data, &f), 0);
    assert_int_equal(json_array_size(out), 6);
    assert_true(json_equal(json_array_get(out, 0), json_array_get(env, 0)));
    expect_key_ref(json_array_get(out, 1), "ANTHROPIC_API_KEY", "anthropic", "api_key");
    expect_key_ref(json_array_get(out, 2), "DB_PASSWORD", "fix-1-r1-env", "DB_PASSWORD");
    expect_key_ref(json_array_get(out, 3), "DB_DSN", "fix-1-r1-env", "DB_DSN");
    expect_key_ref(json_array_get(out, 4), "DEPLOY_TOKEN", "fix-1-r1-env", "DEPLOY_TOKEN");
    assert_true(json_equal(json_array_get(out, 5), json_array_get(env, 5)));

    dumped = json_dumps(out, 0);
    assert_null(strstr(dumped, "pw-7f3a"));
    assert_null(strstr(dumped, "just-a-string-91c2"));
    assert_null(strstr(dumped, "vt-55e0"));
    free(dumped);

    assert_int_equal(mason_secret_data_count(data), 3);
    assert_string_equal(mason_secret_data_get(data, "DB_PASSWORD", &len), "pw-7f3a");
    assert_int_equal(len, 7);
    assert_string_equal(mason_secret_data_get(data, "DB_DSN", NULL), "just-a-string-91c2");
    assert_string_equal(mason_secret_data_get(data, "DEPLOY_TOKEN", NULL), "vt-55e0");
    assert_null(mason_secret_data_get(data, "ANTHROPIC_API_KEY", NULL));
    assert_int_equal(fake_calls(fx.aws), 2);
    assert_int_equal(fake_calls(fx.vault), 1);

    json_decref(out);
    mason_secret_data_free(data);
    mason_secret_failure_release(&f);
    json_decref(env);
    mason_secrets_free(fx.s);
}

static void resolve_env_without_external_refs(void **state)
{
    json_t *env = load("[{\"name\": \"K\", \"secretRef\": \"k8s://creds/k\"}]");
    struct mason_secret_data *data = (struct mason_secret_data *)&data;
    struct mason_secret_failure f;
    struct fixture fx;
    json_t *out = NULL;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    mason_secret_failure_init(&f);
    assert_int_equal(mason_secrets_resolve_env(fx.s, env, "t-r-env", &out, &data, &f), 0);
    assert_null(data);
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
    assert_int_equal(mason_secrets_resolve_env(fx.s, NULL, "t-r-env", &out, &data, &f), 0);
    assert_int_equal(json_array_size(out), 0);
    assert_null(data);
    json_decref(out);
    mason_secret_failure_release(&f);
    json_decref(env);
    mason_secrets_free(fx.s);
}

struct env_error_case {
    const char *env;
    int rc;
    const char *reason;
    const char *message;
};

static const struct env_error_case env_errors[] = {
    {"{\"name\": \"A\"}", MASON_EINVAL, "InvalidEnv", "env: must be a list"},
    {"[{\"value\": \"x\"}]", MASON_EINVAL, "InvalidEnv", "env[0]: name is missing or invalid"},
    {"[{\"name\": \"1A\", \"value\": \"x\"}]", MASON_EINVAL, "InvalidEnv",
     "env[0]: name is missing or invalid"},
    {"[{\"name\": \"A-B\", \"value\": \"x\"}]", MASON_EINVAL, "InvalidEnv",
     "env[0]: name is missing or invalid"},
    {"[{\"name\": \"A\", \"value\": \"x\"}, {\"name\": \"A\", \"value\": \"y\"}]", MASON_EINVAL,
     "InvalidEnv", "env A: the name appears more than once"},
    {"[{\"name\": \"A\", \"secretRef\": 5}]", MASON_EINVAL, "InvalidSecretRef",
     "env A: secretRef must be a string"},
    {"[{\"name\": \"A\", \"secretRef\": \"aws-sm://\"}]", MASON_EPARSE, "InvalidSecretRef",
     "env A: invalid secret reference \"aws-sm://\": secret name \"\" is invalid"},
    {"[{\"name\": \"A\", \"secretRef\": \"gcp://x\"}]", MASON_ENOTFOUND, "UnknownSecretScheme",
     "env A: no backend in secret_resolver.backends has scheme \"gcp\""},
    {"[{\"name\": \"OK\", \"secretRef\": \"aws-sm://prod/db#user\"},"
     " {\"name\": \"TOKEN\", \"secretRef\": \"vault://secret/ci#token\"}]",
     MASON_EPOLICY, "SecretSchemeNotAllowed", "env TOKEN: scheme \"vault\" is not in"},
    {"[{\"name\": \"OK\", \"secretRef\": \"aws-sm://prod/db#user\"},"
     " {\"name\": \"AWS_SECRET_ACCESS_KEY\", \"secretRef\": \"aws-sm://prod/db#password\"}]",
     MASON_EPOLICY, "SecretEnvNameBlocked",
     "env AWS_SECRET_ACCESS_KEY: the name matches blocked pattern \"AWS_*\""},
    {"[{\"name\": \"AWS_PROFILE\", \"value\": \"prod\"}]", MASON_EPOLICY, "SecretEnvNameBlocked",
     "env AWS_PROFILE: the name matches blocked pattern \"AWS_*\""},
};

/* Every case fails before any backend call, and leaves the outputs NULL. */
static void resolve_env_checks_before_fetching(void **state)
{
    const char *policy = "{\"allowed_schemes\": [\"k8s\", \"aws-sm\"],"
                         " \"blocked_env_patterns\": [\"AWS_*\"]}";

    (void)state;
    for (size_t i = 0; i < sizeof(env_errors) / sizeof(env_errors[0]); i++) {
        json_t *env = load(env_errors[i].env);
        struct mason_secret_data *data = NULL;
        struct mason_secret_failure f;
        struct fixture fx;
        json_t *out = NULL;
        int rc;

        fixture_init(&fx, "5m", policy);
        mason_secret_failure_init(&f);
        rc = mason_secrets_resolve_env(fx.s, env, "t-r-env", &out, &data, &f);
        if (rc != env_errors[i].rc)
            fail_msg("case %zu: got %d, expected %d (%s)", i, rc, env_errors[i].rc,
                     mason_buf_str(&f.message));
        assert_string_equal(f.reason, env_errors[i].reason);
        if (!strstr(mason_buf_str(&f.message), env_errors[i].message))
            fail_msg("case %zu: message \"%s\" does not contain \"%s\"", i,
                     mason_buf_str(&f.message), env_errors[i].message);
        assert_null(out);
        assert_null(data);
        assert_int_equal(fake_calls(fx.aws), 0);
        assert_int_equal(fake_calls(fx.vault), 0);
        mason_secret_failure_release(&f);
        json_decref(env);
        mason_secrets_free(fx.s);
    }
}

static void resolve_env_backend_failure_drops_values(void **state)
{
    json_t *env = load("[{\"name\": \"DB_PASSWORD\", \"secretRef\": \"aws-sm://prod/db#password\"},"
                       " {\"name\": \"TOKEN\", \"secretRef\": \"vault://secret/gone#token\"}]");
    struct mason_secret_data *data = NULL;
    struct mason_secret_failure f;
    struct fixture fx;
    json_t *out = NULL;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    mason_secret_failure_init(&f);
    assert_int_equal(mason_secrets_resolve_env(fx.s, env, "t-r-env", &out, &data, &f),
                     MASON_ENOTFOUND);
    assert_string_equal(f.reason, "SecretNotFound");
    assert_non_null(strstr(mason_buf_str(&f.message), "env TOKEN: reading secret \"secret/gone\""));
    assert_null(out);
    assert_null(data);
    mason_secret_failure_release(&f);
    json_decref(env);
    mason_secrets_free(fx.s);
}

static void set_backend_unknown_scheme(void **state)
{
    struct fixture fx;
    struct fake_backend *extra;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    extra = fake_create(aws_secrets);
    /* The resolver destroys a backend it cannot use, so nothing leaks. */
    assert_int_equal(mason_secrets_set_backend(fx.s, "gcp", &extra->base), MASON_ENOTFOUND);
    mason_secrets_free(fx.s);
    mason_secrets_free(NULL);
}

static void run_secret_name_is_valid(void **state)
{
    struct mason_run_secret_owner owner = {"agents", "fix-login", "uid-1", "r7"};
    struct mason_buf name = MASON_BUF_INIT;
    char long_name[260];

    (void)state;
    assert_int_equal(mason_secrets_run_secret_name(&owner, &name), 0);
    assert_string_equal(mason_buf_str(&name), "fix-login-r7-env");
    mason_buf_reset(&name);
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[199] = '-';
    long_name[sizeof(long_name) - 1] = '\0';
    owner.task_name = long_name;
    assert_int_equal(mason_secrets_run_secret_name(&owner, &name), 0);
    assert_true(name.len <= 253);
    assert_int_equal(strncmp(mason_buf_str(&name) + 199, "-r7-env", 8), 0);
    mason_buf_release(&name);
}

static void run_secret_object(void **state)
{
    json_t *env =
        load("[{\"name\": \"DB_PASSWORD\", \"secretRef\": \"aws-sm://prod/db#password\"},"
             " {\"name\": \"DEPLOY_TOKEN\", \"secretRef\": \"vault://secret/ci#token\"}]");
    struct mason_run_secret_owner owner = {"agents", "fix-login", "0b4e-uid", "r7"};
    struct mason_secret_data *data = NULL;
    struct mason_secret_failure f;
    struct fixture fx;
    json_t *out = NULL, *secret, *meta, *owner_ref;

    (void)state;
    fixture_init(&fx, "5m", NULL);
    mason_secret_failure_init(&f);
    assert_int_equal(mason_secrets_resolve_env(fx.s, env, "fix-login-r7-env", &out, &data, &f), 0);
    secret = mason_secrets_build_run_secret(&owner, "fix-login-r7-env", data);
    assert_non_null(secret);
    assert_string_equal(json_string_value(json_object_get(secret, "kind")), "Secret");
    assert_string_equal(json_string_value(json_object_get(secret, "type")), "Opaque");
    meta = json_object_get(secret, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "name")), "fix-login-r7-env");
    assert_string_equal(json_string_value(json_object_get(meta, "namespace")), "agents");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "labels"), "mason.dev/run")), "r7");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "labels"), "mason.dev/task")),
        "fix-login");
    owner_ref = json_array_get(json_object_get(meta, "ownerReferences"), 0);
    assert_string_equal(json_string_value(json_object_get(owner_ref, "kind")), "AgentTask");
    assert_string_equal(json_string_value(json_object_get(owner_ref, "uid")), "0b4e-uid");
    assert_true(json_is_true(json_object_get(owner_ref, "controller")));
    assert_true(json_is_true(json_object_get(owner_ref, "blockOwnerDeletion")));
    /* base64("pw-7f3a") and base64("vt-55e0") */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(secret, "data"), "DB_PASSWORD")),
        "cHctN2YzYQ==");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(secret, "data"), "DEPLOY_TOKEN")),
        "dnQtNTVlMA==");
    json_decref(secret);
    secret = mason_secrets_build_run_secret(&owner, "empty", NULL);
    assert_int_equal(json_object_size(json_object_get(secret, "data")), 0);
    json_decref(secret);
    json_decref(out);
    mason_secret_data_free(data);
    mason_secret_data_free(NULL);
    mason_secret_failure_release(&f);
    json_decref(env);
    mason_secrets_free(fx.s);
}

static void buf_wipe_clears_bytes(void **state)
{
    struct mason_buf b = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_buf_adds(&b, "hunter2"), 0);
    mason_secrets_buf_wipe(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    mason_secrets_buf_wipe(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_fields_share_one_call),
        cmocka_unit_test(lookup_failures_say_what_to_fix),
        cmocka_unit_test(lookup_maps_backend_errors),
        cmocka_unit_test(cache_expires_after_ttl),
        cmocka_unit_test(sweeper_evicts_expired_entries),
        cmocka_unit_test(cache_ttl_zero_fetches_every_time),
        cmocka_unit_test(concurrent_lookups_make_one_call),
        cmocka_unit_test(concurrent_failure_reaches_every_waiter),
        cmocka_unit_test(resolve_env_uses_secret_key_refs),
        cmocka_unit_test(resolve_env_without_external_refs),
        cmocka_unit_test(resolve_env_checks_before_fetching),
        cmocka_unit_test(resolve_env_backend_failure_drops_values),
        cmocka_unit_test(set_backend_unknown_scheme),
        cmocka_unit_test(run_secret_name_is_valid),
        cmocka_unit_test(run_secret_object),
        cmocka_unit_test(buf_wipe_clears_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
