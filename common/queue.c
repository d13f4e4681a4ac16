#include "queue.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "banned.h"

/* A key waiting for its time; stale when the waiting map contains another due time for it. */
struct delayed_key {
    char *key;
    int64_t due_ms;
};

struct mason_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a key becomes ready, a delay changes or on shutdown */
    bool shutting_down;

    char **ready; /* ring buffer of keys ready to be taken */
    size_t ready_head, ready_len, ready_alloc;
    json_t *dirty;            /* keys queued and not yet taken: key -> true */
    json_t *processing;       /* keys taken and not yet done */
    json_t *failures;         /* key -> count of rate-limited adds */
    json_t *waiting;          /* key -> due time of its delayed add */
    struct delayed_key *heap; /* min-heap on due_ms */
    size_t heap_len, heap_alloc;

    pthread_t *workers;
    int n_workers;
    void (*worker_fn)(void *arg, const char *key);
    void *worker_arg;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct mason_queue *mason_queue_create(void)
{
    struct mason_queue *q = calloc(1, sizeof(*q));
    pthread_condattr_t attr;

    if (!q)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    q->dirty = json_object();
    q->processing = json_object();
    q->failures = json_object();
    q->waiting = json_object();
    if (!q->dirty || !q->processing || !q->failures || !q->waiting) {
        mason_queue_free(q);
        return NULL;
    }
    return q;
}

void mason_queue_free(struct mason_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->ready_len; i++)
        free(q->ready[(q->ready_head + i) % q->ready_alloc]);
    free(q->ready);
    for (size_t i = 0; i < q->heap_len; i++)
        free(q->heap[i].key);
    free(q->heap);
    json_decref(q->dirty);
    json_decref(q->processing);
    json_decref(q->failures);
    json_decref(q->waiting);
    free(q->workers);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static int ready_push(struct mason_queue *q, char *key)
{
    if (q->ready_len == q->ready_alloc) {
        size_t alloc = q->ready_alloc ? q->ready_alloc * 2 : 64;
        char **ring = malloc(alloc * sizeof(*ring));

        if (!ring)
            return MASON_ENOMEM;
        for (size_t i = 0; i < q->ready_len; i++)
            ring[i] = q->ready[(q->ready_head + i) % q->ready_alloc];
        free(q->ready);
        q->ready = ring;
        q->ready_alloc = alloc;
        q->ready_head = 0;
    }
    q->ready[(q->ready_head + q->ready_len) % q->ready_alloc] = key;
    q->ready_len++;
    return 0;
}

static char *ready_pop(struct mason_queue *q)
{
    char *key = q->ready[q->ready_head];

    q->ready_head = (q->ready_head + 1) % q->ready_alloc;
    q->ready_len--;
    return key;
}

/* Adds key to the ready list unless it is already there; a key under processing is only
 * marked dirty, and mason_queue_done moves it to the ready list. */
static void add_locked(struct mason_queue *q, const char *key)
{
    char *copy;

    if (q->shutting_down || json_object_get(q->dirty, key))
        return;
    if (json_object_set_new_nocheck(q->dirty, key, json_true()))
        return; /* out of memory: the key is dropped, as the caller cannot act on it */
    if (json_object_get(q->processing, key))
        return;
    copy = strdup(key);
    if (!copy || ready_push(q, copy)) {
        free(copy);
        json_object_del(q->dirty, key);
        return;
    }
    pthread_cond_signal(&q->cond);
}

void mason_queue_add(struct mason_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    add_locked(q, key);
    pthread_mutex_unlock(&q->lock);
}

static void heap_swap(struct mason_queue *q, size_t a, size_t b)
{
    struct delayed_key t = q->heap[a];

    q->heap[a] = q->heap[b];
    q->heap[b] = t;
}

static int heap_push(struct mason_queue *q, char *key, int64_t due_ms)
{
    size_t i;

    if (q->heap_len == q->heap_alloc) {
        size_t alloc = q->heap_alloc ? q->heap_alloc * 2 : 64;
        struct delayed_key *heap = realloc(q->heap, alloc * sizeof(*heap));

        if (!heap)
            return MASON_ENOMEM;
        q->heap = heap;
        q->heap_alloc = alloc;
    }
    i = q->heap_len++;
    q->heap[i] = (struct delayed_key){key, due_ms};
    while (i > 0 && q->heap[(i - 1) / 2].due_ms > q->heap[i].due_ms) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

static struct delayed_key heap_pop(struct mason_queue *q)
{
    struct delayed_key top = q->heap[0];
    size_t i = 0;

    q->heap[0] = q->heap[--q->heap_len];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;

        if (l < q->heap_len && q->heap[l].due_ms < q->heap[min].due_ms)
            min = l;
        if (r < q->heap_len && q->heap[r].due_ms < q->heap[min].due_ms)
            min = r;
        if (min == i)
            return top;
        heap_swap(q, i, min);
        i = min;
    }
}

/* Moves every delayed key whose time has come to the ready list. */
static void promote_due(struct mason_queue *q, int64_t now)
{
    while (q->heap_len > 0 && q->heap[0].due_ms <= now) {
        struct delayed_key d = heap_pop(q);
        json_t *due = json_object_get(q->waiting, d.key);

        if (due && json_integer_value(due) == d.due_ms) {
            json_object_del(q->waiting, d.key);
            add_locked(q, d.key);
        }
        free(d.key);
    }
}

void mason_queue_add_after(struct mason_queue *q, const char *key, long delay_ms)
{
    int64_t due_ms = now_ms() + delay_ms;
    json_t *due;
    char *copy;

    if (delay_ms <= 0) {
        mason_queue_add(q, key);
        return;
    }
    pthread_mutex_lock(&q->lock);
    due = json_object_get(q->waiting, key);
    if (q->shutting_down || (due && json_integer_value(due) <= due_ms))
        goto out;
    copy = strdup(key);
    if (!copy || heap_push(q, copy, due_ms)) {
        free(copy);
        goto out;
    }
    json_object_set_new_nocheck(q->waiting, key, json_integer(due_ms));
    pthread_cond_broadcast(&q->cond); /* waiters recompute how long to sleep */
out:
    pthread_mutex_unlock(&q->lock);
}

long mason_queue_backoff_ms(int n)
{
    long delay = MASON_QUEUE_BACKOFF_FIRST_MS;

    for (int i = 1; i < n && delay < MASON_QUEUE_BACKOFF_MAX_MS; i++)
        delay *= 2;
    return delay < MASON_QUEUE_BACKOFF_MAX_MS ? delay : MASON_QUEUE_BACKOFF_MAX_MS;
}

void mason_queue_add_rate_limited(struct mason_queue *q, const char *key)
{
    json_int_t failures;

    pthread_mutex_lock(&q->lock);
    failures = json_integer_value(json_object_get(q->failures, key)) + 1;
    if (failures < 1000000) /* past this the delay is long at its maximum */
        json_object_set_new_nocheck(q->failures, key, json_integer(failures));
    pthread_mutex_unlock(&q->lock);
    mason_queue_add_after(q, key, mason_queue_backoff_ms((int)failures));
}

void mason_queue_forget(struct mason_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    json_object_del(q->failures, key);
    pthread_mutex_unlock(&q->lock);
}

int mason_queue_requeues(struct mason_queue *q, const char *key)
{
    json_int_t failures;

    pthread_mutex_lock(&q->lock);
    failures = json_integer_value(json_object_get(q->failures, key));
    pthread_mutex_unlock(&q->lock);
    return (int)failures;
}

/* Waits for a signal, or until the earliest delayed key is due. */
static void wait_locked(struct mason_queue *q)
{
    struct timespec ts;
    int64_t due;

    if (q->heap_len == 0) {
        pthread_cond_wait(&q->cond, &q->lock);
        return;
    }
    due = q->heap[0].due_ms;
    ts.tv_sec = (time_t)(due / 1000);
    ts.tv_nsec = (long)(due % 1000) * 1000000L;
    pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

char *mason_queue_get(struct mason_queue *q)
{
    char *key = NULL;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        promote_due(q, now_ms());
        if (q->shutting_down || q->ready_len > 0)
            break;
        wait_locked(q);
    }
    if (!q->shutting_down) {
        key = ready_pop(q);
        json_object_del(q->dirty, key);
        json_object_set_new_nocheck(q->processing, key, json_true());
    }
    pthread_mutex_unlock(&q->lock);
    return key;
}

void mason_queue_done(struct mason_queue *q, const char *key)
{
    char *copy;

    pthread_mutex_lock(&q->lock);
    json_object_del(q->processing, key);
    if (!q->shutting_down && json_object_get(q->dirty, key)) {
        copy = strdup(key);
        if (copy && ready_push(q, copy) == 0)
            pthread_cond_signal(&q->cond);
        else
            free(copy);
    }
    pthread_mutex_unlock(&q->lock);
}

void mason_queue_shutdown(struct mason_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutting_down = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int mason_queue_len(struct mason_queue *q)
{
    int n;

    pthread_mutex_lock(&q->lock);
    n = (int)q->ready_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

static void *worker_main(void *arg)
{
    struct mason_queue *q = arg;
    char *key;

    while ((key = mason_queue_get(q))) {
        q->worker_fn(q->worker_arg, key);
        mason_queue_done(q, key);
        free(key);
    }
    return NULL;
}

int mason_queue_start_workers(struct mason_queue *q, int n, void (*fn)(void *arg, const char *key),
                              void *arg)
{
    if (n < 1 || q->workers)
        return MASON_EINVAL;
    q->workers = calloc((size_t)n, sizeof(*q->workers));
    if (!q->workers)
        return MASON_ENOMEM;
    q->worker_fn = fn;
    q->worker_arg = arg;
    for (q->n_workers = 0; q->n_workers < n; q->n_workers++)
        if (pthread_create(&q->workers[q->n_workers], NULL, worker_main, q) != 0)
            return MASON_ENOMEM; /* the threads already started run until shutdown */
    return 0;
}

void mason_queue_join_workers(struct mason_queue *q)
{
    for (int i = 0; i < q->n_workers; i++)
        pthread_join(q->workers[i], NULL);
    free(q->workers);
    q->workers = NULL;
    q->n_workers = 0;
}
