/*
 * Drives the secret resolver against a real AWS-API server for
 * e2e/test_secrets_aws.py. usage: probe CONFIG_JSON COMMAND...
 * CONFIG_JSON is the secret_resolver object; credentials come from the
 * environment as in the operator. Commands run in order, and each prints
 * one JSON line:
 *   lookup:REF    resolve REF through the resolver
 *   advance:N     move the clock of the cache and the credentials N seconds on
 *   sts-calls     print how many STS calls the credential chain made
 *   stats         print the resolver's lookup and backend call counts
 * Exits 0 when every command ran, whatever the lookups returned.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws.h"
#include "error.h"
#include "secrets.h"

/* Read by the resolver's sweeper thread too, hence atomic. */
static _Atomic(time_t) now_value;

static time_t probe_clock(void *arg)
{
    (void)arg;
    return atomic_load(&now_value);
}

static void print_json(json_t *line)
{
    char *text = json_dumps(line, JSON_COMPACT);

    printf("%s\n", text ? text : "{}");
    fflush(stdout);
    free(text);
    json_decref(line);
}

static void run_lookup(struct mason_secrets *s, const char *ref)
{
    struct mason_buf value = MASON_BUF_INIT;
    struct mason_secret_failure f;
    int rc;

    mason_secret_failure_init(&f);
    rc = mason_secrets_lookup(s, ref, &value, &f);
    if (rc)
        print_json(json_pack("{s:s, s:s, s:s, s:s}", "ref", ref, "error", mason_errname(rc),
                             "reason", f.reason ? f.reason : "", "message",
                             mason_buf_str(&f.message)));
    else
        print_json(json_pack("{s:s, s:s%}", "ref", ref, "value", mason_buf_str(&value), value.len));
    mason_secrets_buf_wipe(&value);
    mason_secret_failure_release(&f);
}

static void print_stats(struct mason_secrets *s)
{
    struct mason_secrets_stats st;

    mason_secrets_get_stats(s, &st);
    print_json(json_pack("{s:I, s:I, s:I}", "lookups", (json_int_t)st.lookups, "hits",
                         (json_int_t)st.hits, "backend_calls", (json_int_t)st.backend_calls));
}

/* Builds the resolver with its own AWS backend, so the probe can reach the credential chain. */
static struct mason_secrets *create_resolver(const char *path, struct mason_aws_auth **auth)
{
    struct mason_secrets_config cfg;
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_secret_backend *backend = NULL;
    struct mason_secrets *s = NULL;
    json_t *doc = json_load_file(path, 0, NULL);
    char *scheme = NULL;

    if (mason_secrets_config_parse(doc, &cfg, &err))
        goto out;
    for (size_t i = 0; i < cfg.backend_count && !backend; i++) {
        if (cfg.backends[i].kind != MASON_SECRET_BACKEND_AWS_SM)
            continue;
        backend = mason_secrets_aws_backend_create(&cfg.backends[i], &err);
        scheme = strdup(cfg.backends[i].scheme);
        if (!backend)
            goto out;
    }
    s = mason_secrets_create(&cfg, &err);
    if (s && backend) {
        *auth = mason_aws_backend_auth(backend);
        mason_aws_auth_set_clock(*auth, probe_clock, NULL);
        mason_secrets_set_backend(s, scheme, backend);
        backend = NULL;
    }
    if (s)
        mason_secrets_set_clock(s, probe_clock, NULL);

out:
    if (!s)
        print_json(json_pack("{s:s}", "create_error", mason_buf_str(&err)));
    if (backend)
        backend->destroy(backend);
    mason_secrets_config_release(&cfg);
    free(scheme);
    json_decref(doc);
    mason_buf_release(&err);
    return s;
}

int main(int argc, char **argv)
{
    struct mason_aws_auth *auth = NULL;
    struct mason_secrets *s;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG_JSON COMMAND...\n", argv[0]);
        return 2;
    }
    now_value = time(NULL);
    s = create_resolver(argv[1], &auth);
    if (!s)
        return 1;
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "lookup:", 7))
            run_lookup(s, argv[i] + 7);
        else if (!strncmp(argv[i], "advance:", 8))
            now_value += strtol(argv[i] + 8, NULL, 10);
        else if (!strcmp(argv[i], "sts-calls"))
            print_json(json_pack("{s:I}", "sts_calls",
                                 (json_int_t)(auth ? mason_aws_auth_sts_calls(auth) : 0)));
        else if (!strcmp(argv[i], "stats"))
            print_stats(s);
        else
            fprintf(stderr, "unknown command %s\n", argv[i]);
    }
    mason_secrets_free(s);
    return 0;
}
