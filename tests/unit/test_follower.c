/*
 * Unit tests for the log follower against a libmicrohttpd server on
 * 127.0.0.1 that plays the API server's pod-log endpoint. It sends chunked
 * bodies of timestamped lines, drops a connection in the middle of a line,
 * replays whole logs whatever the sinceTime, replies with errors and holds
 * a stream open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "buf.h"
#include "error.h"
#include "follower.h"
#include "kube.h"

#define MAX_CONNECTIONS 64
#define HOLD_LIMIT_MS 10000 /* a held stream ends by itself after this long */
#define WAIT_LIMIT_MS 10000

/* ---- the log server ---- */

struct server {
    struct MHD_Daemon *daemon;
    char base_url[64];
    pthread_mutex_t lock;
    struct mason_buf claude_log, codex_log;
    char *queries[MAX_CONNECTIONS]; /* "pod?query" per connection */
    int connections;
    int claude_connections;
    volatile bool stopping;
};

struct reply {
    struct server *server;
    const struct mason_buf *log;
    size_t limit;     /* bytes to send */
    bool error_after; /* break the connection after limit bytes */
    bool hold_after;  /* keep the connection open after limit bytes */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Sends at most 97 bytes per call, so lines arrive cut at odd places. */
static ssize_t reply_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reply *r = cls;
    size_t n;

    if (pos < r->limit) {
        n = r->limit - (size_t)pos;
        n = n < max ? n : max;
        n = n < 97 ? n : 97;
        memcpy(buf, r->log->data + pos, n);
        return (ssize_t)n;
    }
    if (r->error_after)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (r->hold_after) {
        int64_t until = now_ms() + HOLD_LIMIT_MS;

        while (!r->server->stopping && now_ms() < until)
            sleep_ms(10);
    }
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    mason_buf_addf(cls, "&%s=%s", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn)
{
    static const char body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"message\":\"log backend failed\",\"code\":500}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 500, resp);

    MHD_destroy_response(resp);
    return ret;
}

/* Chooses the reply by pod: claude-pod breaks its first connection inside a line. */
static void choose_reply(struct server *s, const char *pod, struct reply *r)
{
    r->server = s;
    r->log = &s->codex_log;
    r->limit = s->codex_log.len;
    if (strcmp(pod, "claude-pod") == 0) {
        r->log = &s->claude_log;
        r->limit = s->claude_log.len;
        if (s->claude_connections++ == 0) {
            r->limit = s->claude_log.len * 2 / 5;
            r->error_after = true;
        }
    } else if (strcmp(pod, "held-pod") == 0) {
        r->limit = (size_t)(strchr(s->codex_log.data, '\n') - s->codex_log.data) + 1;
        r->hold_after = true;
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    static const char prefix[] = "/api/v1/namespaces/agents/pods/";
    struct server *s = cls;
    struct mason_buf query = MASON_BUF_INIT;
    struct MHD_Response *resp;
    struct reply *r;
    char pod[64];
    enum MHD_Result ret;

    (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    if (strncmp(url, prefix, sizeof(prefix) - 1) != 0 || !strstr(url, "/log"))
        return MHD_NO;
    snprintf(pod, sizeof(pod), "%.*s", (int)(strstr(url, "/log") - url - (sizeof(prefix) - 1)),
             url + sizeof(prefix) - 1);
    mason_buf_adds(&query, pod);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &query);
    pthread_mutex_lock(&s->lock);
    if (s->connections < MAX_CONNECTIONS)
        s->queries[s->connections++] = mason_buf_detach(&query);
    pthread_mutex_unlock(&s->lock);
    mason_buf_release(&query);
    if (strcmp(pod, "broken-pod") == 0)
        return queue_error(conn);
    r = calloc(1, sizeof(*r));
    pthread_mutex_lock(&s->lock);
    choose_reply(s, pod, r);
    pthread_mutex_unlock(&s->lock);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reply_read, r, free);
    MHD_add_response_header(resp, "Content-Type", "text/plain");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Prefixes each line of a fixture with a timestamp; lines 2k and 2k+1 share one. */
static void build_log(const char *fixture, struct mason_buf *out)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int i = 0;
    FILE *f;

    mason_buf_addf(&path, "%s/tests/fixtures/streams/%s", top ? top : ".", fixture);
    f = fopen(mason_buf_str(&path), "rb");
    assert_non_null(f);
    mason_buf_init(out, 0);
    while ((n = getline(&line, &cap, f)) > 0) {
        mason_buf_addf(out, "2025-11-04T10:00:%02d.%09dZ %s", i / 2 / 10, (i / 2 % 10) * 100000000,
                       line);
        i++;
    }
    free(line);
    fclose(f);
    mason_buf_release(&path);
}

static void server_start(struct server *s)
{
    struct sockaddr_in addr = {0};
    const union MHD_DaemonInfo *info;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    build_log("claude-success.jsonl", &s->claude_log);
    build_log("codex-success.jsonl", &s->codex_log);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, handle, s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
    assert_non_null(s->daemon);
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d", info->port);
}

static void server_stop(struct server *s)
{
    s->stopping = true;
    MHD_stop_daemon(s->daemon);
    for (int i = 0; i < s->connections; i++)
        free(s->queries[i]);
    mason_buf_release(&s->claude_log);
    mason_buf_release(&s->codex_log);
    pthread_mutex_destroy(&s->lock);
}

/* ---- the follower's callbacks ---- */

struct outcome {
    struct mason_buf kinds; /* two letters per event */
    bool ended;
    enum mason_follow_end why;
    int last_error;
    struct mason_stream_stats stats;
};

struct recorder {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct outcome claude, codex, other;
};

static struct outcome *outcome_of(struct recorder *r, const char *key)
{
    if (strcmp(key, "agents/claude") == 0)
        return &r->claude;
    if (strcmp(key, "agents/codex") == 0)
        return &r->codex;
    return &r->other;
}

static void on_event(void *arg, const char *key, const struct mason_event *ev,
                     const struct mason_stream_position *pos)
{
    struct recorder *r = arg;

    assert_true(pos->valid);
    pthread_mutex_lock(&r->lock);
    mason_buf_add(&outcome_of(r, key)->kinds, mason_event_kind_name(ev->kind), 2);
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static void on_end(void *arg, const char *key, enum mason_follow_end why,
                   const struct mason_stream_stats *stats, int last_error)
{
    struct recorder *r = arg;
    struct outcome *o;

    pthread_mutex_lock(&r->lock);
    o = outcome_of(r, key);
    o->ended = true;
    o->why = why;
    o->last_error = last_error;
    o->stats = *stats;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
}

static void recorder_release(struct recorder *r)
{
    mason_buf_release(&r->claude.kinds);
    mason_buf_release(&r->codex.kinds);
    mason_buf_release(&r->other.kinds);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->lock);
}

/* Waits until o has at least len letters of events (or ended, when len is 0). */
static bool wait_for(struct recorder *r, struct outcome *o, size_t len)
{
    int64_t until = now_ms() + WAIT_LIMIT_MS;
    bool done;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        done = len ? o->kinds.len >= len : o->ended;
        if (done || now_ms() >= until)
            break;
        pthread_mutex_unlock(&r->lock);
        sleep_ms(5);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return done;
}

/* The events of a fixture parsed directly, as two letters each. */
static void direct_kinds(const char *fixture, enum mason_engine_id engine, struct mason_buf *out);

static void record_direct(void *arg, const struct mason_event *ev)
{
    mason_buf_add(arg, mason_event_kind_name(ev->kind), 2);
}

static void direct_kinds(const char *fixture, enum mason_engine_id engine, struct mason_buf *out)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;
    struct mason_adapter *a = mason_adapter_create(engine, record_direct, out);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *f;

    mason_buf_addf(&path, "%s/tests/fixtures/streams/%s", top ? top : ".", fixture);
    f = fopen(mason_buf_str(&path), "rb");
    assert_non_null(f);
    while ((n = getline(&line, &cap, f)) > 0)
        assert_int_equal(mason_adapter_feed(a, line, (size_t)n - 1), 0);
    free(line);
    fclose(f);
    mason_adapter_free(a);
    mason_buf_release(&path);
}

static struct mason_kube *kube_for(struct server *s)
{
    struct mason_kube_config cfg;
    struct mason_kube *kube;

    mason_kube_config_init(&cfg);
    cfg.server = s->base_url;
    cfg.token = (char *)"test-token";
    kube = mason_kube_create(&cfg);
    assert_non_null(kube);
    return kube;
}

static struct mason_follow_target target(const char *key, const char *pod,
                                         enum mason_engine_id engine)
{
    struct mason_follow_target t = {key, "agents", pod, "agent", engine, NULL};

    return t;
}

static const struct mason_follower_options fast = {0, 20, 200, 50};

static void follower_resumes_after_drop(void **state)
{
    struct server s;
    struct recorder r;
    struct mason_buf want_claude = MASON_BUF_INIT, want_codex = MASON_BUF_INIT;
    struct mason_follower_callbacks cb = {on_event, on_end, &r};
    struct mason_follow_target claude =
        target("agents/claude", "claude-pod", MASON_ENGINE_CLAUDE_CODE);
    struct mason_follow_target codex = target("agents/codex", "codex-pod", MASON_ENGINE_CODEX);
    struct mason_kube *kube;
    struct mason_follower *f;
    bool since_seen = false;

    (void)state;
    server_start(&s);
    recorder_init(&r);
    direct_kinds("claude-success.jsonl", MASON_ENGINE_CLAUDE_CODE, &want_claude);
    direct_kinds("codex-success.jsonl", MASON_ENGINE_CODEX, &want_codex);
    kube = kube_for(&s);
    f = mason_follower_create(kube, &fast, &cb);
    assert_non_null(f);
    assert_int_equal(mason_follower_add(f, &claude), 0);
    assert_int_equal(mason_follower_add(f, &codex), 0);
    assert_int_equal(mason_follower_count(f), 2);
    assert_true(wait_for(&r, &r.claude, want_claude.len));
    assert_true(wait_for(&r, &r.codex, want_codex.len));
    assert_int_equal(mason_follower_finish(f, "agents/claude"), 0);
    assert_int_equal(mason_follower_finish(f, "agents/codex"), 0);
    assert_true(wait_for(&r, &r.claude, 0));
    assert_true(wait_for(&r, &r.codex, 0));

    /* Every event once, in order, although claude-pod's log was sent again whole. */
    assert_string_equal(mason_buf_str(&r.claude.kinds), mason_buf_str(&want_claude));
    assert_string_equal(mason_buf_str(&r.codex.kinds), mason_buf_str(&want_codex));
    assert_int_equal(r.claude.why, MASON_FOLLOW_FINISHED);
    assert_int_equal(r.codex.why, MASON_FOLLOW_FINISHED);
    assert_true(r.claude.stats.connections >= 2);
    assert_true(r.claude.stats.duplicates > 0);
    assert_int_equal(r.claude.stats.adapter.malformed, 0);
    assert_int_equal(mason_follower_count(f), 0);
    mason_follower_free(f);

    for (int i = 0; i < s.connections; i++) {
        assert_non_null(strstr(s.queries[i], "&container=agent"));
        assert_non_null(strstr(s.queries[i], "&follow=true"));
        assert_non_null(strstr(s.queries[i], "&timestamps=true"));
        if (strncmp(s.queries[i], "claude-pod", 10) == 0 && strstr(s.queries[i], "&sinceTime="))
            since_seen = true;
    }
    assert_true(since_seen);
    mason_kube_free(kube);
    server_stop(&s);
    recorder_release(&r);
    mason_buf_release(&want_claude);
    mason_buf_release(&want_codex);
}

static void follower_gives_up_on_errors(void **state)
{
    struct server s;
    struct recorder r;
    struct mason_follower_callbacks cb = {on_event, on_end, &r};
    struct mason_follow_target broken = target("agents/broken", "broken-pod", MASON_ENGINE_CODEX);
    struct mason_follower_options opts = {0, 10, 40, 3};
    struct mason_kube *kube;
    struct mason_follower *f;

    (void)state;
    server_start(&s);
    recorder_init(&r);
    kube = kube_for(&s);
    f = mason_follower_create(kube, &opts, &cb);
    assert_int_equal(mason_follower_add(f, &broken), 0);
    assert_true(wait_for(&r, &r.other, 0));
    assert_int_equal(r.other.why, MASON_FOLLOW_GAVE_UP);
    assert_int_equal(r.other.last_error, MASON_EUNAVAILABLE);
    assert_int_equal(r.other.stats.connections, 3);
    assert_int_equal(r.other.kinds.len, 0);
    assert_int_equal(s.connections, 3);
    mason_follower_free(f);
    mason_kube_free(kube);
    server_stop(&s);
    recorder_release(&r);
}

static void follower_removes_held_stream(void **state)
{
    struct server s;
    struct recorder r;
    struct mason_follower_callbacks cb = {on_event, on_end, &r};
    struct mason_follow_target held = target("agents/held", "held-pod", MASON_ENGINE_CODEX);
    struct mason_follow_target bad = held;
    struct mason_kube *kube;
    struct mason_follower *f;

    (void)state;
    server_start(&s);
    recorder_init(&r);
    kube = kube_for(&s);
    f = mason_follower_create(kube, &fast, &cb);
    assert_int_equal(mason_follower_add(f, &held), 0);
    assert_int_equal(mason_follower_add(f, &held), MASON_EEXISTS);
    bad.key = "agents/bad";
    bad.engine = MASON_ENGINE_AIDER;
    assert_int_equal(mason_follower_add(f, &bad), MASON_EINVAL);
    assert_true(wait_for(&r, &r.other, 2)); /* thread.started */
    assert_int_equal(mason_follower_remove(f, "agents/held"), 0);
    assert_true(wait_for(&r, &r.other, 0));
    assert_int_equal(r.other.why, MASON_FOLLOW_REMOVED);
    assert_string_equal(mason_buf_str(&r.other.kinds), "in");
    assert_int_equal(mason_follower_remove(f, "agents/held"), MASON_ENOTFOUND);
    assert_int_equal(mason_follower_finish(f, "agents/none"), MASON_ENOTFOUND);
    assert_int_equal(mason_follower_count(f), 0);
    mason_follower_free(f);
    mason_kube_free(kube);
    server_stop(&s);
    recorder_release(&r);
}

/* Freeing the follower with a connected stream stops it without on_end. */
static void follower_free_while_connected(void **state)
{
    struct server s;
    struct recorder r;
    struct mason_follower_callbacks cb = {on_event, on_end, &r};
    struct mason_follow_target held = target("agents/held", "held-pod", MASON_ENGINE_CODEX);
    struct mason_kube *kube;
    struct mason_follower *f;

    (void)state;
    server_start(&s);
    recorder_init(&r);
    kube = kube_for(&s);
    f = mason_follower_create(kube, NULL, &cb);
    assert_int_equal(mason_follower_add(f, &held), 0);
    assert_true(wait_for(&r, &r.other, 2));
    mason_follower_free(f);
    assert_false(r.other.ended);
    mason_kube_free(kube);
    server_stop(&s);
    recorder_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(follower_resumes_after_drop),
        cmocka_unit_test(follower_gives_up_on_errors),
        cmocka_unit_test(follower_removes_held_stream),
        cmocka_unit_test(follower_free_while_connected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
