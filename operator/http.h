/*
 * The operator's HTTP endpoint on the configured listen address:
 * /healthz (the process is serving), /readyz (the informers have synced) and
 * /metrics (Prometheus text format). Counters are updated by the workers.
 */
#ifndef MASON_OPERATOR_HTTP_H
#define MASON_OPERATOR_HTTP_H

#include <stdatomic.h>

#include "buf.h"

struct mason_operator_metrics {
    atomic_ulong reconciles;
    atomic_ulong reconcile_errors;
    atomic_ulong jobs_created;
    atomic_int ready;
};

struct mason_http;

/*
 * Starts serving on listen ("host:port"; port 0 picks a free one). Returns
 * NULL with err naming the address and the reason when it cannot bind.
 * metrics must outlive the server.
 */
struct mason_http *mason_http_start(const char *listen, struct mason_operator_metrics *metrics,
                                    struct mason_buf *err);

/* Returns the port the server listens on. */
unsigned mason_http_port(const struct mason_http *http);

/* Stops the server, waiting for requests in progress. NULL is a no-op. */
void mason_http_stop(struct mason_http *http);

#endif
