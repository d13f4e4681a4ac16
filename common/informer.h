/*
 * An informer keeps a local cache of one resource type in step with the API
 * server and calls handlers on each change: it lists, then watches from the
 * list's resourceVersion, and lists again when the watch reports 410 Gone.
 * It runs on its own thread; a controller reads the cache and queues keys.
 * Cached objects lack metadata.managedFields and kubectl's
 * last-applied-configuration annotation, which only the API server and
 * kubectl read, so the cache takes half the memory.
 */
#ifndef MASON_INFORMER_H
#define MASON_INFORMER_H

#include <jansson.h>

#include "kube.h"

/* Reconnect backoff after a failed list or watch: 0.8 s doubling to 30 s. It goes back to
 * 0.8 s after a watch that delivered an event other than ERROR or stayed open for a second. */
#define MASON_INFORMER_BACKOFF_FIRST_MS 800L
#define MASON_INFORMER_BACKOFF_MAX_MS 30000L

/*
 * Handlers, each optional (NULL). They run on the informer thread, one at a
 * time. Objects are borrowed, shared with the cache, and must not be changed
 * (json_deep_copy one first).
 */
struct mason_informer_handlers {
    void (*on_add)(void *arg, json_t *obj);
    /* After a relist, only objects whose resourceVersion changed get on_update. */
    void (*on_update)(void *arg, json_t *old_obj, json_t *new_obj);
    /* obj is the last state the server sent, or the cached one when a relist found it gone. */
    void (*on_delete)(void *arg, json_t *obj);
    /* Called after each complete list, once its adds, updates and deletes are delivered. */
    void (*on_relist)(void *arg);
};

struct mason_informer;

/*
 * Creates an informer for res in ns (NULL: all namespaces) with the label and
 * field selectors of opts (may be NULL; copied). kube and res must outlive the
 * informer; h is copied. Returns NULL when memory runs out.
 */
struct mason_informer *mason_informer_create(struct mason_kube *kube,
                                             const struct mason_kube_resource *res, const char *ns,
                                             const struct mason_kube_list_opts *opts,
                                             const struct mason_informer_handlers *h, void *arg);

/* Sets the server-side watch timeout before start: each watch requests a random time
 * between seconds and twice that (default 300). */
void mason_informer_set_watch_timeout(struct mason_informer *inf, long seconds);

/* Starts the informer thread. Returns 0, MASON_EINVAL if already started, or MASON_ENOMEM. */
int mason_informer_start(struct mason_informer *inf);

/* Waits until the first list has been delivered to the handlers. Returns 0 or
 * MASON_ETIMEOUT after timeout_ms. */
int mason_informer_wait_synced(struct mason_informer *inf, long timeout_ms);

/* Returns a deep copy of the cached object ns/name (ns NULL for cluster-scoped), a new
 * reference the caller may change, or NULL when it is not cached. */
json_t *mason_informer_get(struct mason_informer *inf, const char *ns, const char *name);

/* Returns a new array holding deep copies of every cached object, or NULL when memory runs
 * out. */
json_t *mason_informer_list(struct mason_informer *inf);

/*
 * Stops the thread and waits for it. An open watch is interrupted at once,
 * but a list in progress finishes first, which takes up to the client's
 * request timeout for each attempt and its retries.
 */
void mason_informer_stop(struct mason_informer *inf);

/* Stops the informer if it runs, and frees it. */
void mason_informer_free(struct mason_informer *inf);

#endif
