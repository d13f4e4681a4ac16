/*
 * Unit tests for the informer against the stub API server: list then watch,
 * bookmarks, relists on 410, malformed events, selectors and stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "informer.h"
#include "kube.h"
#include "kube_stub.h"

#define MAX_SCRIPTED 8
#define WAIT_MS 5000

/* Replies for list requests and for watch requests, each taken in order. */
struct scenario {
    struct stub_reply lists[MAX_SCRIPTED];
    int n_lists, next_list;
    struct stub_reply watches[MAX_SCRIPTED];
    int n_watches, next_watch;
};

/* Handler calls, as "add:ns/a@rv," entries in order. */
struct recorder {
    pthread_mutex_t lock;
    struct mason_buf log;
};

struct fixture {
    struct stub stub;
    struct scenario scenario;
    struct recorder recorder;
    struct mason_kube *kube;
    struct mason_informer *informer;
};

/* Chooses the next scripted reply. A watch past its script stays open with no events, and a
 * list past its script gets the last list reply again. */
static void route(struct stub *stub, const struct stub_request *req, struct stub_reply *reply)
{
    struct scenario *sc = stub->route_arg;

    if (strstr(req->query, "watch=true")) {
        if (sc->next_watch < sc->n_watches)
            *reply = sc->watches[sc->next_watch++];
        else
            *reply = (struct stub_reply){200, "", NULL, 0, true};
    } else if (sc->n_lists == 0) {
        *reply =
            (struct stub_reply){200, "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}"};
    } else {
        *reply = sc->lists[sc->next_list < sc->n_lists ? sc->next_list++ : sc->n_lists - 1];
    }
}

static void script_list(struct fixture *f, const char *body)
{
    f->scenario.lists[f->scenario.n_lists++] = (struct stub_reply){200, body};
}

static void script_watch(struct fixture *f, struct stub_reply reply)
{
    f->scenario.watches[f->scenario.n_watches++] = reply;
}

static void record(struct recorder *r, const char *what, json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));

    pthread_mutex_lock(&r->lock);
    mason_buf_addf(&r->log, "%s:%s/%s@%s,", what, ns ? ns : "", name ? name : "?", rv ? rv : "");
    pthread_mutex_unlock(&r->lock);
}

static void on_add(void *arg, json_t *obj)
{
    record(arg, "add", obj);
}

static void on_update(void *arg, json_t *old_obj, json_t *new_obj)
{
    const char *old_rv =
        json_string_value(json_object_get(json_object_get(old_obj, "metadata"), "resourceVersion"));
    struct recorder *r = arg;

    pthread_mutex_lock(&r->lock);
    mason_buf_addf(&r->log, "from@%s,", old_rv ? old_rv : "");
    pthread_mutex_unlock(&r->lock);
    record(arg, "update", new_obj);
}

static void on_delete(void *arg, json_t *obj)
{
    record(arg, "delete", obj);
}

static void on_relist(void *arg)
{
    struct recorder *r = arg;

    pthread_mutex_lock(&r->lock);
    mason_buf_adds(&r->log, "relist,");
    pthread_mutex_unlock(&r->lock);
}

static const struct mason_informer_handlers handlers = {on_add, on_update, on_delete, on_relist};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct mason_kube_config cfg;

    if (!f || stub_start(&f->stub) != 0)
        return -1;
    f->stub.route = route;
    f->stub.route_arg = &f->scenario;
    pthread_mutex_init(&f->recorder.lock, NULL);
    mason_kube_config_init(&cfg);
    cfg.server = f->stub.base_url;
    f->kube = mason_kube_create(&cfg);
    if (!f->kube)
        return -1;
    mason_kube_set_backoff(f->kube, 1, 5);
    mason_kube_set_retries(f->kube, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    mason_informer_free(f->informer);
    mason_kube_free(f->kube);
    stub_stop(&f->stub);
    mason_buf_release(&f->recorder.log);
    pthread_mutex_destroy(&f->recorder.lock);
    free(f);
    return 0;
}

static void start_informer(struct fixture *f, const struct mason_kube_list_opts *opts)
{
    f->informer =
        mason_informer_create(f->kube, &MASON_KUBE_AGENTTASKS, "ns", opts, &handlers, &f->recorder);
    assert_non_null(f->informer);
    assert_int_equal(mason_informer_start(f->informer), 0);
    assert_int_equal(mason_informer_start(f->informer), MASON_EINVAL);
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Waits until the handler log equals expected, and fails with the log after WAIT_MS. */
static void wait_for_log(struct fixture *f, const char *expected)
{
    char *log = NULL;

    for (int i = 0; i < WAIT_MS / 10; i++) {
        pthread_mutex_lock(&f->recorder.lock);
        free(log);
        log = strdup(mason_buf_str(&f->recorder.log));
        pthread_mutex_unlock(&f->recorder.lock);
        if (strcmp(log, expected) == 0)
            break;
        pause_ms(10);
    }
    assert_string_equal(log, expected);
    free(log);
}

/* Waits until the stub has seen n requests, and returns the query of the n-th. */
static const char *wait_for_request(struct fixture *f, int n)
{
    for (int i = 0; i < WAIT_MS / 10 && stub_request_count(&f->stub) < n; i++)
        pause_ms(10);
    assert_true(stub_request_count(&f->stub) >= n);
    return f->stub.requests[n - 1].query;
}

static void assert_query_has(const char *query, const char *part)
{
    if (!strstr(query, part))
        fail_msg("query \"%s\" lacks \"%s\"", query, part);
}

static const char list_ab[] =
    "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
    "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"5\"}},"
    "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"b\",\"resourceVersion\":\"6\"}}]}";

static void informer_lists_then_watches(void **state)
{
    struct fixture *f = *state;
    const char *query;
    json_t *obj, *all;

    script_list(f, list_ab);
    script_watch(f, (struct stub_reply){
                        200,
                        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"ns\","
                        "\"name\":\"c\",\"resourceVersion\":\"11\"}}}\n"
                        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"namespace\":\"ns\","
                        "\"name\":\"a\",\"resourceVersion\":\"12\"},\"spec\":{\"prompt\":\"p\"}}}\n"
                        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"namespace\":\"ns\","
                        "\"name\":\"b\",\"resourceVersion\":\"13\"}}}\n",
                        NULL, 0, true});
    start_informer(f, NULL);
    assert_int_equal(mason_informer_wait_synced(f->informer, WAIT_MS), 0);
    wait_for_log(f, "add:ns/a@5,add:ns/b@6,relist,add:ns/c@11,from@5,update:ns/a@12,"
                    "delete:ns/b@13,");

    assert_string_equal(f->stub.requests[0].path,
                        "/apis/mason.dev/v1alpha1/namespaces/ns/agenttasks");
    assert_null(strstr(f->stub.requests[0].query, "watch"));
    query = wait_for_request(f, 2);
    assert_string_equal(f->stub.requests[1].path,
                        "/apis/mason.dev/v1alpha1/namespaces/ns/agenttasks");
    assert_query_has(query, "watch=true");
    assert_query_has(query, "allowWatchBookmarks=true");
    assert_query_has(query, "resourceVersion=10");
    assert_query_has(query, "timeoutSeconds=");

    obj = mason_informer_get(f->informer, "ns", "a");
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "spec"), "prompt")),
                        "p");
    json_decref(obj);
    assert_null(mason_informer_get(f->informer, "ns", "b"));
    assert_null(mason_informer_get(f->informer, NULL, "a"));
    all = mason_informer_list(f->informer);
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
}

static void informer_bookmark_moves_resource_version(void **state)
{
    struct fixture *f = *state;

    script_list(f, list_ab);
    /* The first watch ends after a bookmark, as when the server's timeout ends a watch. */
    script_watch(f, (struct stub_reply){200, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":"
                                             "\"AgentTask\",\"metadata\":{\"resourceVersion\":"
                                             "\"20\"}}}\n"});
    start_informer(f, NULL);
    assert_query_has(wait_for_request(f, 2), "resourceVersion=10");
    assert_query_has(wait_for_request(f, 3), "resourceVersion=20");
    assert_null(strstr(f->stub.requests[2].query, "limit="));
    wait_for_log(f, "add:ns/a@5,add:ns/b@6,relist,");
}

static const char list_relisted[] =
    "{\"metadata\":{\"resourceVersion\":\"30\"},\"items\":["
    "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"25\"}},"
    "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"c\",\"resourceVersion\":\"26\"}}]}";

/* After list_ab then list_relisted: a changed, c is new, b is gone. */
static const char relist_log[] = "add:ns/a@5,add:ns/b@6,relist,"
                                 "from@5,update:ns/a@25,add:ns/c@26,delete:ns/b@6,relist,";

static void informer_relists_on_410_status(void **state)
{
    struct fixture *f = *state;

    script_list(f, list_ab);
    script_list(f, list_relisted);
    script_watch(f, (struct stub_reply){410, "{\"kind\":\"Status\",\"code\":410,\"reason\":"
                                             "\"Expired\",\"message\":\"too old resource "
                                             "version: 10 (20)\"}"});
    start_informer(f, NULL);
    wait_for_log(f, relist_log);
    assert_null(strstr(wait_for_request(f, 3), "watch=true"));
    assert_query_has(wait_for_request(f, 4), "resourceVersion=30");
}

static void informer_relists_on_410_in_stream(void **state)
{
    struct fixture *f = *state;

    script_list(f, list_ab);
    script_list(f, list_relisted);
    /* The stream stays open after the ERROR event: the informer must end it itself. */
    script_watch(f, (struct stub_reply){200,
                                        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                                        "\"code\":410,\"reason\":\"Expired\",\"message\":"
                                        "\"too old resource version\"}}\n",
                                        NULL, 0, true});
    start_informer(f, NULL);
    wait_for_log(f, relist_log);
    assert_null(strstr(wait_for_request(f, 3), "watch=true"));
    assert_query_has(wait_for_request(f, 4), "resourceVersion=30");
}

static void informer_rewatches_after_stream_error(void **state)
{
    struct fixture *f = *state;

    script_list(f, list_ab);
    script_watch(f, (struct stub_reply){200,
                                        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                                        "\"code\":500,\"reason\":\"InternalError\"}}\n",
                                        NULL, 0, true});
    start_informer(f, NULL);
    /* Another error than 410 keeps the cache and watches again from the same version. */
    assert_query_has(wait_for_request(f, 3), "watch=true");
    assert_query_has(f->stub.requests[2].query, "resourceVersion=10");
    wait_for_log(f, "add:ns/a@5,add:ns/b@6,relist,");
}

static void informer_skips_malformed_line(void **state)
{
    struct fixture *f = *state;

    script_list(f, list_ab);
    script_watch(f, (struct stub_reply){
                        200,
                        "not json at all\n"
                        "{\"type\":\"ADDED\"}\n"
                        "{\"type\":\"RENAMED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\n"
                        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"ns\","
                        "\"name\":\"x\",\"resourceVersion\":\"11\"}}}\n"
                        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"namespace\":\"ns\","
                        "\"name\":\"x\",\"resourceVersion\":\"12\"}}}\n",
                        NULL, 0, true});
    start_informer(f, NULL);
    wait_for_log(f, "add:ns/a@5,add:ns/b@6,relist,add:ns/x@11,from@11,update:ns/x@12,");
    pause_ms(100);
    assert_int_equal(stub_request_count(&f->stub), 2); /* the same watch goes on */
}

static void informer_passes_selectors(void **state)
{
    struct fixture *f = *state;
    struct mason_kube_list_opts opts = {"mason.dev/task=t1", "metadata.name=x", 0};
    const char *query;

    script_list(f, list_ab);
    start_informer(f, &opts);
    query = wait_for_request(f, 1);
    assert_query_has(query, "labelSelector=mason.dev/task=t1");
    assert_query_has(query, "fieldSelector=metadata.name=x");
    query = wait_for_request(f, 2);
    assert_query_has(query, "watch=true");
    assert_query_has(query, "labelSelector=mason.dev/task=t1");
    assert_query_has(query, "fieldSelector=metadata.name=x");
}

static void informer_watch_timeout_is_randomised(void **state)
{
    struct fixture *f = *state;
    const char *query, *value;
    long seconds;

    f->informer = mason_informer_create(f->kube, &MASON_KUBE_AGENTTASKS, NULL, NULL, NULL, NULL);
    assert_non_null(f->informer);
    mason_informer_set_watch_timeout(f->informer, 30);
    assert_int_equal(mason_informer_start(f->informer), 0);
    query = wait_for_request(f, 2);
    assert_string_equal(f->stub.requests[1].path, "/apis/mason.dev/v1alpha1/agenttasks");
    value = strstr(query, "timeoutSeconds=");
    assert_non_null(value);
    seconds = strtol(value + strlen("timeoutSeconds="), NULL, 10);
    assert_in_range(seconds, 30, 59);
}

static void informer_stop_interrupts_watch(void **state)
{
    struct fixture *f = *state;
    struct timespec start, end;
    long ms;

    script_list(f, list_ab);
    start_informer(f, NULL);
    wait_for_request(f, 2);
    pause_ms(300); /* lets the informer settle in its poll on the open watch */
    clock_gettime(CLOCK_MONOTONIC, &start);
    mason_informer_stop(f->informer);
    clock_gettime(CLOCK_MONOTONIC, &end);
    ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    assert_true(ms < 500);            /* curl_multi_poll waits up to 1000 ms without the wakeup */
    mason_informer_stop(f->informer); /* stopping twice is harmless */
}

static void informer_retries_failed_list(void **state)
{
    struct fixture *f = *state;

    f->scenario.lists[f->scenario.n_lists++] =
        (struct stub_reply){500, "{\"kind\":\"Status\",\"message\":\"etcd unavailable\"}"};
    script_list(f, list_ab);
    start_informer(f, NULL);
    /* The first list fails, so the cache is not synced before the 0.8 s backoff ends. */
    assert_int_equal(mason_informer_wait_synced(f->informer, 300), MASON_ETIMEOUT);
    assert_int_equal(mason_informer_wait_synced(f->informer, WAIT_MS), 0);
    wait_for_log(f, "add:ns/a@5,add:ns/b@6,relist,");
    assert_null(strstr(wait_for_request(f, 2), "watch=true"));
}

#define INFORMER_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        INFORMER_TEST(informer_lists_then_watches),
        INFORMER_TEST(informer_bookmark_moves_resource_version),
        INFORMER_TEST(informer_relists_on_410_status),
        INFORMER_TEST(informer_relists_on_410_in_stream),
        INFORMER_TEST(informer_rewatches_after_stream_error),
        INFORMER_TEST(informer_skips_malformed_line),
        INFORMER_TEST(informer_passes_selectors),
        INFORMER_TEST(informer_watch_timeout_is_randomised),
        INFORMER_TEST(informer_stop_interrupts_watch),
        INFORMER_TEST(informer_retries_failed_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
