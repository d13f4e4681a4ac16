/*
 * A work queue of string keys ("namespace/name") for controllers, modelled on
 * client-go's workqueue. A key added several times before a worker takes it
 * is processed once, and a key is never processed by two workers at once.
 * Failed keys come back after a per-key exponential backoff.
 */
#ifndef MASON_QUEUE_H
#define MASON_QUEUE_H

/* Backoff of mason_queue_add_rate_limited: the first retry waits this long, each later one
 * twice as long as the one before, up to the maximum. */
#define MASON_QUEUE_BACKOFF_FIRST_MS 5L
#define MASON_QUEUE_BACKOFF_MAX_MS 1000000L

struct mason_queue;

/* Creates an empty queue. Returns NULL when memory runs out. */
struct mason_queue *mason_queue_create(void);

/* Frees the queue. Workers must have been joined and no thread may still use it. */
void mason_queue_free(struct mason_queue *q);

/*
 * Queues key (copied). Does nothing when key is already queued and not yet
 * taken, or after shutdown. A key added while a worker processes it is
 * queued again when that worker calls mason_queue_done.
 */
void mason_queue_add(struct mason_queue *q, const char *key);

/* Queues key after delay_ms milliseconds (at once when delay_ms <= 0). A key already waiting
 * keeps the earlier of the two times. */
void mason_queue_add_after(struct mason_queue *q, const char *key, long delay_ms);

/* Queues key after its backoff: 5 ms after the first failure, doubling with each call up to
 * 1000 s, until mason_queue_forget. */
void mason_queue_add_rate_limited(struct mason_queue *q, const char *key);

/* Returns the delay of the n-th consecutive rate-limited add of a key (n >= 1), in ms. */
long mason_queue_backoff_ms(int n);

/* Resets the backoff of key, after it was processed successfully. */
void mason_queue_forget(struct mason_queue *q, const char *key);

/* Returns how many times key went through mason_queue_add_rate_limited since the last
 * forget. */
int mason_queue_requeues(struct mason_queue *q, const char *key);

/*
 * Takes the next key, waiting until one is ready. Returns a malloc'd copy
 * that the caller frees after calling mason_queue_done with it, or NULL once
 * the queue is shut down (or memory ran out).
 */
char *mason_queue_get(struct mason_queue *q);

/* Marks key, taken with mason_queue_get, as finished. */
void mason_queue_done(struct mason_queue *q, const char *key);

/* Stops the queue: every waiting and later mason_queue_get returns NULL and adds are ignored.
 * Keys still queued are dropped. */
void mason_queue_shutdown(struct mason_queue *q);

/* Returns the number of keys ready to be taken (keys waiting for a delay are not counted). */
int mason_queue_len(struct mason_queue *q);

/*
 * Starts n threads that each take a key, call fn(arg, key) and then
 * mason_queue_done, until shutdown; fn must not call mason_queue_done itself.
 * Returns 0, MASON_EINVAL when workers already run or n < 1, or MASON_ENOMEM.
 */
int mason_queue_start_workers(struct mason_queue *q, int n, void (*fn)(void *arg, const char *key),
                              void *arg);

/* Waits for the worker threads to end; call mason_queue_shutdown first. */
void mason_queue_join_workers(struct mason_queue *q);

#endif
