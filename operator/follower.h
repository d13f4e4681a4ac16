/*
 * Follows the agent container logs of many pods at once through the API
 * server (GET .../pods/POD/log?container=C&follow=true&timestamps=true), all
 * on one libcurl multi handle on the follower's own thread, and calls back
 * with each normalised event. A dropped connection is resumed with
 * sinceTime and the stream position, so no event is lost or delivered
 * twice, even when the server ignores sinceTime and replays the whole log.
 */
#ifndef MASON_FOLLOWER_H
#define MASON_FOLLOWER_H

#include <stddef.h>

#include "config.h"
#include "event.h"
#include "kube.h"
#include "stream.h"

struct mason_follower_options {
    size_t max_line;         /* cap of one log line; 0 means MASON_STREAM_MAX_LINE */
    long reconnect_first_ms; /* delay before the first reconnection; 0 means 500 */
    long reconnect_max_ms;   /* largest delay; 0 means 30000 */
    unsigned max_failures;   /* connections in a row that fail or bring nothing new before
                                the follower gives up; 0 means 10 */
};

enum mason_follow_end {
    MASON_FOLLOW_FINISHED, /* the pod finished and its log was read to the end */
    MASON_FOLLOW_GAVE_UP,  /* max_failures connections in a row failed */
    MASON_FOLLOW_REMOVED,  /* mason_follower_remove() */
};

struct mason_follower_callbacks {
    /* Each event, with the position to save for a resume after a restart. Strings in ev are
     * valid only during the call. */
    void (*on_event)(void *arg, const char *key, const struct mason_event *ev,
                     const struct mason_stream_position *pos);
    /* The end of a stream. last_error is 0 or the MASON_E* code of the last failed
     * connection. The stream is gone after the call. */
    void (*on_end)(void *arg, const char *key, enum mason_follow_end why,
                   const struct mason_stream_stats *stats, int last_error);
    void *arg;
};

/* One log to follow; every string is copied. */
struct mason_follow_target {
    const char *key; /* the caller's name for the stream, such as the run "ns/task/run" */
    const char *namespace;
    const char *pod;
    const char *container;
    enum mason_engine_id engine;
    const struct mason_stream_position *resume; /* saved position, or NULL to start at the
                                                   beginning */
};

struct mason_follower;

/*
 * Creates a follower that uses kube (borrowed, must outlive it) and starts
 * its thread. Callbacks run on that thread, one at a time. opts may be NULL.
 * Returns NULL when memory runs out or the thread cannot start.
 */
struct mason_follower *mason_follower_create(struct mason_kube *kube,
                                             const struct mason_follower_options *opts,
                                             const struct mason_follower_callbacks *cb);

/* Stops the thread and frees the follower with its streams, without calling on_end. NULL is a
 * no-op. Must not be called from a callback. */
void mason_follower_free(struct mason_follower *f);

/*
 * Starts following target; any thread may call it. Returns 0, MASON_EEXISTS
 * when the key is followed already, MASON_EINVAL for a missing field or an
 * engine without adapter, or MASON_ENOMEM.
 */
int mason_follower_add(struct mason_follower *f, const struct mason_follow_target *target);

/* Stops following key; on_end gets MASON_FOLLOW_REMOVED. Returns 0 or MASON_ENOTFOUND. */
int mason_follower_remove(struct mason_follower *f, const char *key);

/*
 * Tells the follower that key's pod finished: the stream ends at the next
 * end of the log body, reconnecting once more if it is not connected, so
 * the last lines are read. Returns 0 or MASON_ENOTFOUND.
 */
int mason_follower_finish(struct mason_follower *f, const char *key);

/* Returns how many streams are followed. */
size_t mason_follower_count(struct mason_follower *f);

#endif
