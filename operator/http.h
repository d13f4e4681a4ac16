/*
 * The operator's HTTP endpoint on the configured listen address:
 * /healthz (the process is serving), /readyz (the informers have synced),
 * /metrics (Prometheus text format), and one POST path served by a callback
 * (Slack's interactivity requests). Counters are updated by the workers.
 */
#ifndef MASON_OPERATOR_HTTP_H
#define MASON_OPERATOR_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"

struct mason_secrets;

struct mason_operator_metrics {
    atomic_ulong reconciles;
    atomic_ulong reconcile_errors;
    atomic_ulong jobs_created;
    atomic_int ready;
    struct mason_secrets *secrets; /* the resolver whose counters /metrics shows, or NULL */
};

struct mason_http;

/* A POST to the handled path; header values are NULL when absent. Everything is borrowed. */
struct mason_http_post {
    const char *content_type;
    struct MHD_Connection *connection; /* for other headers (MHD_lookup_connection_value) */
    const char *body;
    size_t body_len;
};

/* Serves a POST: returns the HTTP status and appends a plain-text reply. */
typedef unsigned (*mason_http_post_fn)(void *arg, const struct mason_http_post *req,
                                       struct mason_buf *reply);

/* Largest POST body read; a longer one gets 413. */
#define MASON_HTTP_MAX_POST (1024u * 1024u)

/*
 * Starts serving on listen ("host:port"; port 0 picks a free one). Returns
 * NULL with err naming the address and the reason when it cannot bind.
 * metrics must outlive the server.
 */
struct mason_http *mason_http_start(const char *listen, struct mason_operator_metrics *metrics,
                                    struct mason_buf *err);

/* Routes POSTs to path to fn; call before requests arrive. */
void mason_http_set_post(struct mason_http *http, const char *path, mason_http_post_fn fn,
                         void *arg);

/* Returns the port the server listens on. */
unsigned mason_http_port(const struct mason_http *http);

/* Stops the server, waiting for requests in progress. NULL is a no-op. */
void mason_http_stop(struct mason_http *http);

#endif
