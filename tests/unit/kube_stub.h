/*
 * A stub Kubernetes API server for unit tests, on libmicrohttpd bound to
 * 127.0.0.1 with an ephemeral port. It records every request and sends
 * scripted replies in order, or calls a route function for each reply.
 * Included by test_kube.c and test_informer.c.
 */
#ifndef MASON_TEST_KUBE_STUB_H
#define MASON_TEST_KUBE_STUB_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

#define STUB_MAX_REPLIES 32
#define STUB_MAX_REQUESTS 64

struct stub_reply {
    int status;
    const char *body;        /* sent as is; NULL for an empty body */
    const char *retry_after; /* Retry-After header, or NULL */
    long delay_ms;           /* wait before replying */
    bool hold_open;          /* after body, keep the stream open until the stub stops */
};

struct stub_request {
    char *method;
    char *path;  /* without the query */
    char *query; /* decoded "k=v&k=v" in arrival order */
    char *content_type;
    char *authorization;
    char *body;
};

struct stub {
    struct MHD_Daemon *daemon;
    int port;
    char base_url[64];
    pthread_mutex_t lock;
    struct stub_reply replies[STUB_MAX_REPLIES];
    int n_replies, next_reply;
    struct stub_request requests[STUB_MAX_REQUESTS];
    int n_requests;
    /* When set, chooses the reply for each request instead of the script. */
    void (*route)(struct stub *stub, const struct stub_request *req, struct stub_reply *reply);
    void *route_arg;
    volatile bool stopping;
};

struct stub_connection {
    struct mason_buf body;
};

struct stub_stream {
    struct stub *stub;
    char *body;
    size_t len, sent;
};

__attribute__((unused)) static void stub_script(struct stub *s, struct stub_reply reply)
{
    pthread_mutex_lock(&s->lock);
    if (s->n_replies < STUB_MAX_REPLIES)
        s->replies[s->n_replies++] = reply;
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result stub_collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    struct mason_buf *query = cls;

    (void)kind;
    mason_buf_addf(query, "%s%s=%s", query->len ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static char *stub_header(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

    return strdup(v ? v : "");
}

static void stub_record(struct stub *s, struct MHD_Connection *c, const char *method,
                        const char *url, struct stub_connection *conn, struct stub_reply *reply)
{
    struct mason_buf query = MASON_BUF_INIT;
    struct stub_request req;

    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, stub_collect_arg, &query);
    req.method = strdup(method);
    req.path = strdup(url);
    req.query = mason_buf_detach(&query);
    req.content_type = stub_header(c, "Content-Type");
    req.authorization = stub_header(c, "Authorization");
    req.body = mason_buf_detach(&conn->body);
    pthread_mutex_lock(&s->lock);
    if (s->route)
        s->route(s, &req, reply);
    else if (s->next_reply < s->n_replies)
        *reply = s->replies[s->next_reply++];
    else
        *reply = (struct stub_reply){200, "{}", NULL, 0, false};
    if (s->n_requests < STUB_MAX_REQUESTS) {
        s->requests[s->n_requests++] = req;
        req.method = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (req.method) {
        free(req.method);
        free(req.path);
        free(req.query);
        free(req.content_type);
        free(req.authorization);
        free(req.body);
    }
}

static ssize_t stub_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stub_stream *st = cls;
    struct timespec pause = {0, 10 * 1000000L};
    size_t n;

    (void)pos;
    if (st->sent < st->len) {
        n = st->len - st->sent < max ? st->len - st->sent : max;
        memcpy(buf, st->body + st->sent, n);
        st->sent += n;
        return (ssize_t)n;
    }
    while (!st->stub->stopping)
        nanosleep(&pause, NULL); /* an open watch with no events */
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static void stub_stream_free(void *cls)
{
    struct stub_stream *st = cls;

    free(st->body);
    free(st);
}

static struct MHD_Response *stub_response(struct stub *s, const struct stub_reply *reply)
{
    const char *body = reply->body ? reply->body : "";
    struct stub_stream *st;

    if (!reply->hold_open)
        return MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    st = calloc(1, sizeof(*st));
    st->stub = s;
    st->body = strdup(body);
    st->len = strlen(body);
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stub_stream_read, st,
                                             stub_stream_free);
}

static enum MHD_Result stub_handle(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_size, void **ctx)
{
    struct stub *s = cls;
    struct stub_connection *conn = *ctx;
    struct stub_reply reply;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)version;
    if (!conn) {
        conn = calloc(1, sizeof(*conn));
        *ctx = conn;
        return MHD_YES;
    }
    if (*upload_size) {
        mason_buf_add(&conn->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    stub_record(s, c, method, url, conn, &reply);
    if (reply.delay_ms) {
        struct timespec pause = {reply.delay_ms / 1000, (reply.delay_ms % 1000) * 1000000L};

        nanosleep(&pause, NULL);
    }
    resp = stub_response(s, &reply);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (reply.retry_after)
        MHD_add_response_header(resp, "Retry-After", reply.retry_after);
    ret = MHD_queue_response(c, (unsigned)reply.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void stub_completed(void *cls, struct MHD_Connection *c, void **ctx,
                           enum MHD_RequestTerminationCode code)
{
    struct stub_connection *conn = *ctx;

    (void)cls;
    (void)c;
    (void)code;
    if (conn) {
        mason_buf_release(&conn->body);
        free(conn);
        *ctx = NULL;
    }
}

/* Starts the stub on 127.0.0.1 and an ephemeral port. Returns 0 or -1. */
__attribute__((unused)) static int stub_start(struct stub *s)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                     MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, stub_handle, s, MHD_OPTION_SOCK_ADDR, &addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, stub_completed, s, MHD_OPTION_END);
    if (!s->daemon)
        return -1;
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d", s->port);
    return s->port ? 0 : -1;
}

/* Stops the daemon and frees the recorded requests. */
__attribute__((unused)) static void stub_stop(struct stub *s)
{
    s->stopping = true;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    for (int i = 0; i < s->n_requests; i++) {
        free(s->requests[i].method);
        free(s->requests[i].path);
        free(s->requests[i].query);
        free(s->requests[i].content_type);
        free(s->requests[i].authorization);
        free(s->requests[i].body);
    }
    pthread_mutex_destroy(&s->lock);
}

/* Returns the number of requests seen so far. */
__attribute__((unused)) static int stub_request_count(struct stub *s)
{
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->n_requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

#endif
