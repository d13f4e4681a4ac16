/*
 * Request metrics in the Prometheus text format: a counter of admission
 * requests by endpoint, operation and decision, and a latency histogram
 * by endpoint. Thread-safe.
 */
#ifndef MASON_METRICS_H
#define MASON_METRICS_H

#include "buf.h"

struct mason_metrics;

/* Returns a new metrics set, or NULL when memory runs out. */
struct mason_metrics *mason_metrics_create(void);

/* Frees m; NULL is a no-op. */
void mason_metrics_free(struct mason_metrics *m);

/*
 * Counts one request that took seconds to handle. endpoint and decision
 * must be static strings. operation is copied when it is a word of up to
 * 15 capital letters, and any other value counts as "unknown".
 */
void mason_metrics_observe(struct mason_metrics *m, const char *endpoint, const char *operation,
                           const char *decision, double seconds);

/* Appends every metric in the text exposition format to out. Returns 0 or a buffer error. */
int mason_metrics_render(struct mason_metrics *m, struct mason_buf *out);

#endif
