/*
 * The follower thread. The mutex guards the list of streams and the request
 * flags that other threads set. Every other field of an entry belongs to the
 * thread. New entries go to the head, so the thread can walk the list from a
 * head read under the mutex while other threads add streams.
 */
#include "follower.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "banned.h"

/* Size limit of an error reply body kept for the message. */
#define FOLLOW_MAX_ERROR_BODY (64u * 1024u)

/* Maximum wait in curl_multi_poll, so request flags take effect even without a wakeup. */
#define FOLLOW_POLL_MS 1000

struct follow_entry {
    struct follow_entry *next;
    struct mason_follower *f;
    char *key, *namespace, *pod, *container;
    struct mason_stream *stream;

    /* set by other threads under the mutex */
    bool remove_requested;
    bool finish_requested;

    /* the thread's own */
    CURL *easy;
    struct curl_slist *headers;
    long http_status; /* 0 until the first body bytes */
    struct mason_buf error_body;
    bool feed_failed;
    bool finishing;
    bool last_end_clean;
    unsigned failures;
    int last_error;
    int64_t connect_at_ms; /* when to connect while not connected */
    uint64_t delivered_at_connect;
};

struct mason_follower {
    struct mason_kube *kube;
    struct mason_follower_options opts;
    struct mason_follower_callbacks cb;
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    struct follow_entry *entries;
    size_t count;
    bool stopping;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t entry_delivered(const struct follow_entry *e)
{
    struct mason_stream_stats st;

    mason_stream_stats(e->stream, &st);
    return st.lines - st.duplicates;
}

static void entry_on_event(void *arg, const struct mason_event *ev,
                           const struct mason_stream_position *pos)
{
    struct follow_entry *e = arg;

    if (e->f->cb.on_event)
        e->f->cb.on_event(e->f->cb.arg, e->key, ev, pos);
}

static void entry_free(struct follow_entry *e)
{
    if (!e)
        return;
    mason_stream_free(e->stream);
    mason_buf_release(&e->error_body);
    free(e->key);
    free(e->namespace);
    free(e->pod);
    free(e->container);
    free(e);
}

static struct follow_entry *entry_create(struct mason_follower *f,
                                         const struct mason_follow_target *t)
{
    struct follow_entry *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->f = f;
    mason_buf_init(&e->error_body, FOLLOW_MAX_ERROR_BODY);
    e->key = strdup(t->key);
    e->namespace = strdup(t->namespace);
    e->pod = strdup(t->pod);
    e->container = strdup(t->container);
    e->stream = mason_stream_create(t->engine, true, f->opts.max_line, entry_on_event, e);
    if (!e->key || !e->namespace || !e->pod || !e->container || !e->stream) {
        entry_free(e);
        return NULL;
    }
    if (t->resume)
        mason_stream_set_position(e->stream, t->resume);
    e->connect_at_ms = now_ms();
    return e;
}

/* Finds key in the list; the caller holds the mutex. */
static struct follow_entry *entry_find(struct mason_follower *f, const char *key)
{
    for (struct follow_entry *e = f->entries; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void entry_unlink(struct mason_follower *f, struct follow_entry *e)
{
    pthread_mutex_lock(&f->lock);
    for (struct follow_entry **p = &f->entries; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            f->count--;
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

static void entry_disconnect(struct follow_entry *e)
{
    if (!e->easy)
        return;
    curl_multi_remove_handle(e->f->multi, e->easy);
    curl_easy_cleanup(e->easy);
    curl_slist_free_all(e->headers);
    e->easy = NULL;
    e->headers = NULL;
}

static void entry_end(struct follow_entry *e, enum mason_follow_end why)
{
    struct mason_follower *f = e->f;
    struct mason_stream_stats st;

    entry_disconnect(e);
    entry_unlink(f, e);
    mason_stream_stats(e->stream, &st);
    if (f->cb.on_end)
        f->cb.on_end(f->cb.arg, e->key, why, &st, e->last_error);
    entry_free(e);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct follow_entry *e = arg;
    size_t len = size * n;

    if (e->http_status == 0)
        curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &e->http_status);
    if (e->http_status < 200 || e->http_status > 299) {
        mason_buf_add(&e->error_body, data, len); /* past the cap the rest is dropped */
        return len;
    }
    if (mason_stream_feed(e->stream, data, len) != 0) {
        e->feed_failed = true;
        return 0; /* out of memory: abort this connection and retry later */
    }
    return len;
}

/* Builds the log URL path, with sinceTime from the stream position when there is one. */
static int entry_path(struct follow_entry *e, struct mason_buf *path)
{
    const struct mason_stream_position *pos = mason_stream_position(e->stream);
    struct mason_buf since = MASON_BUF_INIT;
    int rc;

    rc = mason_kube_path(path, &MASON_KUBE_PODS, e->namespace, e->pod, "log");
    if (rc == 0)
        rc = mason_buf_adds(path, "?container=");
    if (rc == 0)
        rc = mason_kube_escape(path, e->container);
    if (rc == 0)
        rc = mason_buf_adds(path, "&follow=true&timestamps=true");
    /* sinceTime has a resolution of one second: start at the second of the last line and
     * let the position skip what was delivered already. */
    if (rc == 0 && pos->valid) {
        rc = mason_timestamp_format(&pos->ts, false, &since);
        if (rc == 0)
            rc = mason_buf_adds(path, "&sinceTime=");
        if (rc == 0)
            rc = mason_kube_escape(path, mason_buf_str(&since));
    }
    mason_buf_release(&since);
    return rc;
}

static int entry_connect(struct follow_entry *e)
{
    struct mason_buf path = MASON_BUF_INIT;
    int rc = entry_path(e, &path);

    if (rc == 0) {
        e->easy = mason_kube_curl_handle(e->f->kube, mason_buf_str(&path), &e->headers);
        rc = e->easy ? 0 : MASON_ENOMEM;
    }
    mason_buf_release(&path);
    if (rc)
        return rc;
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(e->easy, CURLOPT_PRIVATE, e);
    curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, 0L); /* a followed log has no end time */
    curl_easy_setopt(e->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    e->http_status = 0;
    e->feed_failed = false;
    mason_buf_reset(&e->error_body);
    e->delivered_at_connect = entry_delivered(e);
    mason_stream_connected(e->stream);
    if (curl_multi_add_handle(e->f->multi, e->easy) != CURLM_OK) {
        entry_disconnect(e);
        return MASON_ENOMEM;
    }
    return 0;
}

static long backoff_ms(const struct mason_follower *f, unsigned failures)
{
    long delay = f->opts.reconnect_first_ms;

    for (unsigned i = 1; i < failures && delay < f->opts.reconnect_max_ms; i++)
        delay *= 2;
    return delay < f->opts.reconnect_max_ms ? delay : f->opts.reconnect_max_ms;
}

static int transfer_error(struct follow_entry *e, CURLcode code)
{
    if (e->feed_failed)
        return MASON_ENOMEM;
    if (code == CURLE_OPERATION_TIMEDOUT)
        return MASON_ETIMEOUT;
    if (code != CURLE_OK && e->http_status == 0)
        return MASON_ECONNECT;
    if (e->http_status < 200 || e->http_status > 299)
        return mason_kube_status_error(e->http_status, e->error_body.data, e->error_body.len, NULL);
    return MASON_EIO; /* the body broke off in the middle */
}

/* Handles the end of a connection: ends the stream or schedules the next connection. */
static void entry_done(struct follow_entry *e, CURLcode code)
{
    bool clean;
    bool progress;

    if (e->http_status == 0)
        curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &e->http_status);
    clean = code == CURLE_OK && e->http_status >= 200 && e->http_status <= 299;
    entry_disconnect(e);
    mason_stream_disconnected(e->stream, clean);
    progress = entry_delivered(e) > e->delivered_at_connect;
    e->last_end_clean = clean;
    if (!clean)
        e->last_error = transfer_error(e, code);
    if (e->finishing && (clean || e->http_status == 404)) {
        entry_end(e, MASON_FOLLOW_FINISHED);
        return;
    }
    e->failures = progress && clean ? 0 : e->failures + 1;
    if (e->failures >= e->f->opts.max_failures) {
        entry_end(e, MASON_FOLLOW_GAVE_UP);
        return;
    }
    e->connect_at_ms = now_ms() + backoff_ms(e->f, e->failures ? e->failures : 1);
}

/* Applies the requests of other threads. Returns whether e is still followed. */
static bool entry_requests(struct follow_entry *e)
{
    bool remove, finish;

    pthread_mutex_lock(&e->f->lock);
    remove = e->remove_requested;
    finish = e->finish_requested && !e->finishing;
    pthread_mutex_unlock(&e->f->lock);
    if (remove) {
        entry_end(e, MASON_FOLLOW_REMOVED);
        return false;
    }
    if (!finish)
        return true;
    e->finishing = true;
    if (!e->easy && e->last_end_clean) {
        entry_end(e, MASON_FOLLOW_FINISHED);
        return false;
    }
    if (!e->easy)
        e->connect_at_ms = now_ms(); /* read what the broken connection missed */
    return true;
}

/* One pass over the streams: requests, due connections, and the earliest next connection. */
static long follower_visit(struct mason_follower *f)
{
    struct follow_entry *e, *next;
    int64_t now = now_ms();
    long wait = FOLLOW_POLL_MS;

    pthread_mutex_lock(&f->lock);
    e = f->entries;
    pthread_mutex_unlock(&f->lock);
    for (; e; e = next) {
        next = e->next; /* read before e may be freed; only this thread unlinks */
        if (!entry_requests(e) || e->easy)
            continue;
        if (e->connect_at_ms <= now && entry_connect(e) != 0) {
            e->last_error = MASON_ENOMEM;
            e->connect_at_ms = now + f->opts.reconnect_max_ms;
        }
        if (!e->easy && e->connect_at_ms - now < wait)
            wait = (long)(e->connect_at_ms - now);
    }
    return wait < 0 ? 0 : wait;
}

static void follower_read_done(struct mason_follower *f)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
        struct follow_entry *e = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&e);
        if (e)
            entry_done(e, msg->data.result);
    }
}

static void *follower_main(void *arg)
{
    struct mason_follower *f = arg;

    for (;;) {
        int running = 0;
        long wait;
        bool stopping;

        pthread_mutex_lock(&f->lock);
        stopping = f->stopping;
        pthread_mutex_unlock(&f->lock);
        if (stopping)
            break;
        wait = follower_visit(f);
        curl_multi_perform(f->multi, &running);
        follower_read_done(f);
        curl_multi_poll(f->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

static void options_defaults(struct mason_follower_options *o)
{
    if (o->reconnect_first_ms <= 0)
        o->reconnect_first_ms = 500;
    if (o->reconnect_max_ms <= 0)
        o->reconnect_max_ms = 30000;
    if (o->reconnect_max_ms < o->reconnect_first_ms)
        o->reconnect_max_ms = o->reconnect_first_ms;
    if (o->max_failures == 0)
        o->max_failures = 10;
}

struct mason_follower *mason_follower_create(struct mason_kube *kube,
                                             const struct mason_follower_options *opts,
                                             const struct mason_follower_callbacks *cb)
{
    struct mason_follower *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->kube = kube;
    if (opts)
        f->opts = *opts;
    options_defaults(&f->opts);
    if (cb)
        f->cb = *cb;
    f->multi = curl_multi_init();
    if (!f->multi || pthread_mutex_init(&f->lock, NULL) != 0) {
        if (f->multi)
            curl_multi_cleanup(f->multi);
        free(f);
        return NULL;
    }
    if (pthread_create(&f->thread, NULL, follower_main, f) != 0) {
        pthread_mutex_destroy(&f->lock);
        curl_multi_cleanup(f->multi);
        free(f);
        return NULL;
    }
    return f;
}

void mason_follower_free(struct mason_follower *f)
{
    struct follow_entry *e, *next;

    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    pthread_join(f->thread, NULL);
    for (e = f->entries; e; e = next) {
        next = e->next;
        entry_disconnect(e);
        entry_free(e);
    }
    curl_multi_cleanup(f->multi);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int mason_follower_add(struct mason_follower *f, const struct mason_follow_target *target)
{
    struct follow_entry *e;

    if (!target->key || !target->namespace || !target->pod || !target->container ||
        !mason_adapter_supported(target->engine))
        return MASON_EINVAL;
    e = entry_create(f, target);
    if (!e)
        return MASON_ENOMEM;
    pthread_mutex_lock(&f->lock);
    if (entry_find(f, target->key)) {
        pthread_mutex_unlock(&f->lock);
        entry_free(e);
        return MASON_EEXISTS;
    }
    e->next = f->entries;
    f->entries = e;
    f->count++;
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    return 0;
}

/* Sets a request flag on key's stream and wakes the thread. */
static int follower_request(struct mason_follower *f, const char *key, bool remove)
{
    struct follow_entry *e;

    pthread_mutex_lock(&f->lock);
    e = entry_find(f, key);
    if (e && remove)
        e->remove_requested = true;
    else if (e)
        e->finish_requested = true;
    pthread_mutex_unlock(&f->lock);
    if (!e)
        return MASON_ENOTFOUND;
    curl_multi_wakeup(f->multi);
    return 0;
}

int mason_follower_remove(struct mason_follower *f, const char *key)
{
    return follower_request(f, key, true);
}

int mason_follower_finish(struct mason_follower *f, const char *key)
{
    return follower_request(f, key, false);
}

size_t mason_follower_count(struct mason_follower *f)
{
    size_t n;

    pthread_mutex_lock(&f->lock);
    n = f->count;
    pthread_mutex_unlock(&f->lock);
    return n;
}
