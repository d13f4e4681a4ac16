#include "informer.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "watch.h"
#include "banned.h"

#define INFORMER_ERROR_BODY_CAP (64u * 1024u)

struct mason_informer {
    struct mason_kube *kube;
    const struct mason_kube_resource *res;
    char *ns;
    char *label_selector;
    char *field_selector;
    struct mason_kube_list_opts opts; /* points at the copies above */
    struct mason_informer_handlers h;
    void *arg;
    long watch_timeout_s;

    pthread_t thread;
    bool started;
    atomic_bool stopping;
    CURLM *multi; /* runs the watch, so stop can interrupt it with curl_multi_wakeup */

    pthread_mutex_t lock; /* protects cache and synced */
    pthread_cond_t cond;  /* signalled on sync and on stop */
    json_t *cache;        /* "namespace/name" -> object */
    bool synced;

    /* Used only by the informer thread. */
    char *resource_version;
    struct mason_watch_parser *parser;
    CURL *watch_handle;
    struct mason_buf error_body; /* reply of a watch request that failed */
    size_t events;               /* events other than ERROR delivered by the current watch */
    int stream_error;            /* MASON_E* of an ERROR event other than 410, or 0 */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_watch_event(void *arg, enum mason_watch_type type, json_t *object);

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct mason_informer *mason_informer_create(struct mason_kube *kube,
                                             const struct mason_kube_resource *res, const char *ns,
                                             const struct mason_kube_list_opts *opts,
                                             const struct mason_informer_handlers *h, void *arg)
{
    struct mason_informer *inf = calloc(1, sizeof(*inf));
    pthread_condattr_t attr;

    if (!inf)
        return NULL;
    inf->kube = kube;
    inf->res = res;
    inf->arg = arg;
    if (h)
        inf->h = *h;
    inf->watch_timeout_s = 300;
    atomic_init(&inf->stopping, false);
    pthread_mutex_init(&inf->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &attr);
    pthread_condattr_destroy(&attr);
    mason_buf_init(&inf->error_body, INFORMER_ERROR_BODY_CAP);
    inf->ns = dup_or_null(ns);
    inf->label_selector = dup_or_null(opts ? opts->label_selector : NULL);
    inf->field_selector = dup_or_null(opts ? opts->field_selector : NULL);
    inf->opts = (struct mason_kube_list_opts){inf->label_selector, inf->field_selector,
                                              opts ? opts->limit : 0};
    inf->cache = json_object();
    inf->multi = curl_multi_init();
    inf->parser = mason_watch_parser_create(MASON_WATCH_LINE_CAP, on_watch_event, inf);
    if (!inf->cache || !inf->multi || !inf->parser || (ns && !inf->ns) ||
        (opts && opts->label_selector && !inf->label_selector) ||
        (opts && opts->field_selector && !inf->field_selector)) {
        mason_informer_free(inf);
        return NULL;
    }
    return inf;
}

void mason_informer_set_watch_timeout(struct mason_informer *inf, long seconds)
{
    inf->watch_timeout_s = seconds > 0 ? seconds : 300;
}

/* Stores the cache key of obj ("namespace/name", or "name" when cluster-scoped) in key. */
static int object_key(json_t *obj, struct mason_buf *key)
{
    json_t *meta = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));

    mason_buf_reset(key);
    if (!name || !*name)
        return MASON_EPARSE;
    if (ns && *ns)
        return mason_buf_addf(key, "%s/%s", ns, name);
    return mason_buf_adds(key, name);
}

static const char *resource_version_of(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void remember_resource_version(struct mason_informer *inf, json_t *obj)
{
    const char *rv = resource_version_of(obj);
    char *copy;

    if (!rv || !*rv || !(copy = strdup(rv)))
        return;
    free(inf->resource_version);
    inf->resource_version = copy;
}

/*
 * Drops the fields that only the API server and kubectl read: managedFields
 * and kubectl's last-applied-configuration, a second copy of the whole
 * object. Together they are more than half of a typical cached AgentTask.
 */
static void trim_object(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");

    json_object_del(meta, "managedFields");
    json_object_del(json_object_get(meta, "annotations"),
                    "kubectl.kubernetes.io/last-applied-configuration");
}

/*
 * The cache keeps each object as its compact JSON text, a tenth of the
 * memory of a parsed tree; readers parse their own copy, which they would
 * otherwise deep-copy anyway.
 */
static json_t *pack_object(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_t *packed = text ? json_string_nocheck(text) : NULL;

    free(text);
    return packed;
}

/* Returns the object cached as packed (new reference), or NULL. */
static json_t *unpack_object(json_t *packed)
{
    const char *text = json_string_value(packed);

    return text ? json_loadb(text, json_string_length(packed), 0, NULL) : NULL;
}

/* Stores obj under its key and calls on_add or on_update. */
static void apply_upsert(struct mason_informer *inf, json_t *obj)
{
    struct mason_buf key = MASON_BUF_INIT;
    json_t *packed, *old_packed, *old;

    trim_object(obj);
    if (object_key(obj, &key) || !(packed = pack_object(obj)))
        goto out;
    pthread_mutex_lock(&inf->lock);
    old_packed = json_incref(json_object_get(inf->cache, mason_buf_str(&key)));
    json_object_set_new_nocheck(inf->cache, mason_buf_str(&key), packed);
    pthread_mutex_unlock(&inf->lock);
    old = unpack_object(old_packed);
    if (old && inf->h.on_update)
        inf->h.on_update(inf->arg, old, obj);
    else if (!old_packed && inf->h.on_add)
        inf->h.on_add(inf->arg, obj);
    json_decref(old);
    json_decref(old_packed);
out:
    mason_buf_release(&key);
}

static void apply_delete(struct mason_informer *inf, json_t *obj)
{
    struct mason_buf key = MASON_BUF_INIT;

    if (object_key(obj, &key))
        goto out;
    pthread_mutex_lock(&inf->lock);
    json_object_del(inf->cache, mason_buf_str(&key));
    pthread_mutex_unlock(&inf->lock);
    if (inf->h.on_delete)
        inf->h.on_delete(inf->arg, obj);
out:
    mason_buf_release(&key);
}

static void on_watch_event(void *arg, enum mason_watch_type type, json_t *object)
{
    struct mason_informer *inf = arg;

    /* ERROR events do not count, so a server that replies to every watch with one cannot make
     * the informer reconnect without a backoff. */
    if (type != MASON_WATCH_ERROR)
        inf->events++;
    switch (type) {
    case MASON_WATCH_ADDED:
    case MASON_WATCH_MODIFIED:
        apply_upsert(inf, object);
        break;
    case MASON_WATCH_DELETED:
        apply_delete(inf, object);
        break;
    case MASON_WATCH_BOOKMARK:
        break;
    case MASON_WATCH_ERROR:
        /* 410 is seen through mason_watch_parser_gone; any other error ends this watch. */
        if (json_integer_value(json_object_get(object, "code")) != 410)
            inf->stream_error = mason_kube_status_error(
                json_integer_value(json_object_get(object, "code")), NULL, 0, NULL);
        return;
    }
    remember_resource_version(inf, object);
}

/* Calls the handlers for the difference between the old and the new cache, both packed. */
static void deliver_relist(struct mason_informer *inf, json_t *old_cache, json_t *new_cache)
{
    const char *key;
    json_t *packed, *old_packed;

    json_object_foreach(new_cache, key, packed)
    {
        json_t *obj, *old;

        old_packed = json_object_get(old_cache, key);
        if (old_packed && json_equal(old_packed, packed))
            continue;
        obj = unpack_object(packed);
        old = unpack_object(old_packed);
        if (obj && !old && inf->h.on_add)
            inf->h.on_add(inf->arg, obj);
        else if (obj && old && inf->h.on_update)
            inf->h.on_update(inf->arg, old, obj);
        json_decref(obj);
        json_decref(old);
    }
    json_object_foreach(old_cache, key, old_packed)
    {
        json_t *old;

        if (json_object_get(new_cache, key) || !inf->h.on_delete)
            continue;
        old = unpack_object(old_packed);
        if (old)
            inf->h.on_delete(inf->arg, old);
        json_decref(old);
    }
}

/* Packs one listed object into the new cache (arg). */
static int cache_listed(void *arg, json_t *obj)
{
    struct mason_buf key = MASON_BUF_INIT;
    int rc;

    trim_object(obj);
    rc = object_key(obj, &key);
    if (rc == 0 && json_object_set_new_nocheck(arg, mason_buf_str(&key), pack_object(obj)))
        rc = MASON_ENOMEM;
    mason_buf_release(&key);
    return rc == MASON_EPARSE ? 0 : rc; /* an object without a name is skipped */
}

/*
 * Lists every object, one page at a time, into a new cache, swaps it in and
 * then delivers the difference, so a handler that reads the cache finds
 * the object it was called for.
 */
static int informer_relist(struct mason_informer *inf)
{
    json_t *fresh = json_object(), *old;
    char *rv = NULL;
    int rc = fresh ? 0 : MASON_ENOMEM;

    if (!rc)
        rc = mason_kube_list_each(inf->kube, inf->res, inf->ns, &inf->opts, cache_listed, fresh,
                                  &rv, NULL);
    if (rc) {
        json_decref(fresh);
        return rc;
    }
    pthread_mutex_lock(&inf->lock);
    old = inf->cache;
    inf->cache = fresh;
    pthread_mutex_unlock(&inf->lock);
    deliver_relist(inf, old, fresh);
    json_decref(old);
#ifdef __GLIBC__
    /* Parsing the pages leaves free heap behind; hand it back to the system. */
    malloc_trim(0);
#endif
    free(inf->resource_version);
    inf->resource_version = rv;
    if (inf->h.on_relist)
        inf->h.on_relist(inf->arg);
    pthread_mutex_lock(&inf->lock);
    inf->synced = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
    return 0;
}

static size_t on_watch_data(char *data, size_t size, size_t n, void *arg)
{
    struct mason_informer *inf = arg;
    long status = 0;

    curl_easy_getinfo(inf->watch_handle, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        mason_buf_add(&inf->error_body, data, size * n); /* past the cap, the rest is dropped */
        return size * n;
    }
    if (mason_watch_parser_feed(inf->parser, data, size * n))
        return 0;
    if (mason_watch_parser_gone(inf->parser) || inf->stream_error)
        return 0; /* ends the transfer: the caller lists again or backs off */
    return size * n;
}

static int watch_path(struct mason_informer *inf, long timeout, struct mason_buf *path)
{
    int rc = mason_kube_path(path, inf->res, inf->ns, NULL, NULL);

    if (!rc)
        rc = mason_buf_addf(path, "?watch=true&allowWatchBookmarks=true&timeoutSeconds=%ld",
                            timeout);
    if (!rc && inf->resource_version) {
        rc = mason_buf_adds(path, "&resourceVersion=");
        rc = rc ? rc : mason_kube_escape(path, inf->resource_version);
    }
    if (!rc && inf->label_selector) {
        rc = mason_buf_adds(path, "&labelSelector=");
        rc = rc ? rc : mason_kube_escape(path, inf->label_selector);
    }
    if (!rc && inf->field_selector) {
        rc = mason_buf_adds(path, "&fieldSelector=");
        rc = rc ? rc : mason_kube_escape(path, inf->field_selector);
    }
    return rc;
}

/* Runs one transfer on the multi handle until it ends or stop is requested. */
static CURLcode run_transfer(struct mason_informer *inf, CURL *c)
{
    CURLcode code = CURLE_OK;
    CURLMsg *msg;
    int running = 1, left;

    if (curl_multi_add_handle(inf->multi, c) != CURLM_OK)
        return CURLE_FAILED_INIT;
    while (running && !atomic_load(&inf->stopping)) {
        if (curl_multi_perform(inf->multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(inf->multi, NULL, 0, 1000, NULL);
    }
    while ((msg = curl_multi_info_read(inf->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            code = msg->data.result;
    curl_multi_remove_handle(inf->multi, c);
    return code;
}

static int watch_result(struct mason_informer *inf, CURLcode code, long status)
{
    if (atomic_load(&inf->stopping))
        return 0;
    if (status != 0 && status != 200)
        return mason_kube_status_error(status, inf->error_body.data, inf->error_body.len, NULL);
    if (mason_watch_parser_gone(inf->parser))
        return MASON_EGONE;
    if (inf->stream_error)
        return inf->stream_error;
    if (code == CURLE_OPERATION_TIMEDOUT)
        return MASON_ETIMEOUT;
    if (code == CURLE_WRITE_ERROR)
        return MASON_ENOMEM;
    return code == CURLE_OK ? 0 : MASON_ECONNECT;
}

/* Watches from the current resourceVersion until the server ends the stream, an error, or
 * stop. Returns 0 for a clean end, MASON_EGONE when a relist is needed, or another error. */
static int informer_watch(struct mason_informer *inf, long *status)
{
    long timeout = inf->watch_timeout_s + (long)(now_ms() % inf->watch_timeout_s);
    struct mason_buf path = MASON_BUF_INIT;
    struct curl_slist *headers = NULL;
    CURLcode code;
    CURL *c = NULL;
    int rc = watch_path(inf, timeout, &path);

    *status = 0;
    if (!rc && !(c = mason_kube_curl_handle(inf->kube, mason_buf_str(&path), &headers)))
        rc = MASON_ENOMEM;
    mason_buf_release(&path);
    if (rc)
        return rc;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, inf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (timeout + 30) * 1000L);
    mason_watch_parser_reset(inf->parser);
    mason_buf_reset(&inf->error_body);
    inf->events = 0;
    inf->stream_error = 0;
    inf->watch_handle = c;
    code = run_transfer(inf, c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    inf->watch_handle = NULL;
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    return watch_result(inf, code, *status);
}

/* Sleeps ms milliseconds or until stop; returns false when stopping. */
static bool informer_sleep(struct mason_informer *inf, long ms)
{
    int64_t due = now_ms() + ms;
    struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000L};

    pthread_mutex_lock(&inf->lock);
    while (!atomic_load(&inf->stopping) && now_ms() < due)
        pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
    pthread_mutex_unlock(&inf->lock);
    return !atomic_load(&inf->stopping);
}

static long next_backoff(long backoff)
{
    return backoff * 2 < MASON_INFORMER_BACKOFF_MAX_MS ? backoff * 2
                                                       : MASON_INFORMER_BACKOFF_MAX_MS;
}

/* Watches until a relist is needed (410) or stop. */
static void watch_loop(struct mason_informer *inf, long *backoff)
{
    while (!atomic_load(&inf->stopping)) {
        int64_t start = now_ms();
        long status;
        int rc = informer_watch(inf, &status);
        bool healthy = status == 200 && (inf->events > 0 || now_ms() - start >= 1000);

        if (atomic_load(&inf->stopping))
            return;
        if (healthy) {
            *backoff = MASON_INFORMER_BACKOFF_FIRST_MS;
        } else {
            if (!informer_sleep(inf, *backoff))
                return;
            *backoff = next_backoff(*backoff);
        }
        if (rc == MASON_EGONE)
            return;
    }
}

static void *informer_main(void *arg)
{
    struct mason_informer *inf = arg;
    long backoff = MASON_INFORMER_BACKOFF_FIRST_MS;

    while (!atomic_load(&inf->stopping)) {
        if (informer_relist(inf) != 0) {
            if (!informer_sleep(inf, backoff))
                break;
            backoff = next_backoff(backoff);
            continue;
        }
        watch_loop(inf, &backoff);
    }
    return NULL;
}

int mason_informer_start(struct mason_informer *inf)
{
    if (inf->started)
        return MASON_EINVAL;
    if (pthread_create(&inf->thread, NULL, informer_main, inf) != 0)
        return MASON_ENOMEM;
    inf->started = true;
    return 0;
}

int mason_informer_wait_synced(struct mason_informer *inf, long timeout_ms)
{
    int64_t due = now_ms() + timeout_ms;
    struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000L};
    bool synced;

    pthread_mutex_lock(&inf->lock);
    while (!inf->synced && now_ms() < due)
        pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
    synced = inf->synced;
    pthread_mutex_unlock(&inf->lock);
    return synced ? 0 : MASON_ETIMEOUT;
}

json_t *mason_informer_get(struct mason_informer *inf, const char *ns, const char *name)
{
    struct mason_buf key = MASON_BUF_INIT;
    json_t *copy = NULL;

    if (!name || (ns && *ns ? mason_buf_addf(&key, "%s/%s", ns, name) : mason_buf_adds(&key, name)))
        goto out;
    pthread_mutex_lock(&inf->lock);
    copy = unpack_object(json_object_get(inf->cache, mason_buf_str(&key)));
    pthread_mutex_unlock(&inf->lock);
out:
    mason_buf_release(&key);
    return copy;
}

json_t *mason_informer_list(struct mason_informer *inf)
{
    json_t *list = json_array(), *obj;
    const char *key;

    if (!list)
        return NULL;
    pthread_mutex_lock(&inf->lock);
    json_object_foreach(inf->cache, key, obj)
    {
        if (json_array_append_new(list, unpack_object(obj))) {
            json_decref(list);
            list = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&inf->lock);
    return list;
}

void mason_informer_stop(struct mason_informer *inf)
{
    if (!inf->started)
        return;
    pthread_mutex_lock(&inf->lock);
    atomic_store(&inf->stopping, true);
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
    curl_multi_wakeup(inf->multi);
    pthread_join(inf->thread, NULL);
    inf->started = false;
}

void mason_informer_free(struct mason_informer *inf)
{
    if (!inf)
        return;
    mason_informer_stop(inf);
    curl_multi_cleanup(inf->multi);
    mason_watch_parser_free(inf->parser);
    mason_buf_release(&inf->error_body);
    json_decref(inf->cache);
    free(inf->resource_version);
    free(inf->ns);
    free(inf->label_selector);
    free(inf->field_selector);
    pthread_cond_destroy(&inf->cond);
    pthread_mutex_destroy(&inf->lock);
    free(inf);
}
