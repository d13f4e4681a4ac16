/*
 * Measures the secret resolver's cache: THREADS threads look up COUNT
 * references that name DISTINCT secrets, through a backend that replies from
 * memory and counts its calls. Prints the backend calls (the cache should
 * make one per secret within the TTL) and the lookups per second.
 *
 * usage: secrets-cache-bench [COUNT [DISTINCT [THREADS]]]
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "secrets.h"

static atomic_ulong fetches;

struct worker {
    struct mason_secrets *secrets;
    unsigned long count, distinct, first, errors;
};

static int fake_fetch(struct mason_secret_backend *backend, const char *name,
                      struct mason_buf *value, struct mason_buf *err)
{
    (void)backend;
    (void)err;
    atomic_fetch_add(&fetches, 1);
    return mason_buf_addf(value, "{\"password\":\"value-of-%s\"}", name);
}

static void fake_destroy(struct mason_secret_backend *backend)
{
    free(backend);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_lookups(void *arg)
{
    struct worker *w = arg;
    struct mason_buf value = MASON_BUF_INIT;
    struct mason_secret_failure f;
    char ref[64];

    mason_secret_failure_init(&f);
    for (unsigned long i = 0; i < w->count; i++) {
        snprintf(ref, sizeof(ref), "aws-sm://bench/secret-%lu#password",
                 (w->first + i) % w->distinct);
        if (mason_secrets_lookup(w->secrets, ref, &value, &f) != 0)
            w->errors++;
        mason_secrets_buf_wipe(&value);
    }
    mason_secret_failure_release(&f);
    mason_buf_release(&value);
    return NULL;
}

static struct mason_secrets *create_resolver(void)
{
    const char *text = "{\"backends\": [{\"scheme\": \"aws-sm\", \"backend\": "
                       "\"aws-secrets-manager\", \"config\": {\"endpoint\": "
                       "\"http://127.0.0.1:9\", \"region\": \"us-east-1\"}}]}";
    struct mason_secrets_config cfg = {0};
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_secret_backend *fake = calloc(1, sizeof(*fake));
    json_t *resolver = json_loads(text, 0, NULL);
    struct mason_secrets *s = NULL;

    /* The AWS backend is replaced before any call; it only needs keys to be created. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDBENCHONLY", 0);
    setenv("AWS_SECRET_ACCESS_KEY", "bench-only", 0);
    if (fake && resolver && mason_secrets_config_parse(resolver, &cfg, &err) == 0)
        s = mason_secrets_create(&cfg, &err);
    if (s && fake) {
        fake->fetch = fake_fetch;
        fake->destroy = fake_destroy;
        if (mason_secrets_set_backend(s, "aws-sm", fake) == 0)
            fake = NULL;
    }
    if (!s)
        fprintf(stderr, "secrets-cache-bench: %s\n", mason_buf_str(&err));
    free(fake);
    json_decref(resolver);
    mason_buf_release(&err);
    return s;
}

int main(int argc, char **argv)
{
    unsigned long count = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    unsigned long distinct = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
    unsigned long threads = argc > 3 ? strtoul(argv[3], NULL, 10) : 2;
    struct mason_secrets *s = create_resolver();
    struct mason_secrets_stats st;
    struct worker w[64];
    pthread_t tid[64];
    unsigned long errors = 0;
    double t0, seconds;

    if (!s || distinct == 0 || threads == 0 || threads > 64)
        return 1;
    t0 = now_s();
    for (unsigned long i = 0; i < threads; i++) {
        w[i] = (struct worker){s, count / threads, distinct, i * 7, 0};
        pthread_create(&tid[i], NULL, run_lookups, &w[i]);
    }
    for (unsigned long i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        errors += w[i].errors;
    }
    seconds = now_s() - t0;
    mason_secrets_get_stats(s, &st);
    printf("{\"lookups\": %lu, \"distinct\": %lu, \"threads\": %lu, \"backend_calls\": %lu, "
           "\"cache_hits\": %lu, \"errors\": %lu, \"seconds\": %.3f, \"lookups_per_s\": %.0f}\n",
           st.lookups, distinct, threads, atomic_load(&fetches), st.hits, errors, seconds,
           (double)st.lookups / seconds);
    mason_secrets_free(s);
    return errors ? 1 : 0;
}
