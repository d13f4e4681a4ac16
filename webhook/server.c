/* The HTTPS server and its routes (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "tls_files.h"
#include "banned.h"

/* One libmicrohttpd daemon; a certificate change replaces it with a new one on the same socket. */
struct slot {
    struct MHD_Daemon *daemon;
    struct mason_server *server;
    atomic_int in_flight; /* requests between their first handler call and completion */
};

struct mason_server {
    struct slot *current; /* guarded by lock */
    const struct mason_admission *admission;
    struct mason_metrics *metrics;
    char *listen;
    char *cert_file;
    char *key_file;
    size_t max_body_bytes;
    unsigned timeout_seconds;
    unsigned threads;
    unsigned reload_seconds;
    MHD_socket listen_fd;
    uint16_t port;
    atomic_bool draining;
    struct mason_tls_stamp stamp; /* of the files last loaded or tried */
    pthread_t watcher;
    bool watching;
    bool stopping; /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* Per-request state, from the first call of the handler to the completion callback. */
struct request {
    struct mason_buf body;
    struct timespec start;
    bool too_big;
};

static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return respond(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Maps a path to an admission endpoint and, for /validate/pods/<mode>, the mode. */
static bool route(const struct mason_server *s, const char *url, enum mason_endpoint *endpoint,
                  enum mason_mode *mode)
{
    *mode = s->admission->cfg->default_mode;
    if (!strcmp(url, "/mutate/pods"))
        *endpoint = MASON_ENDPOINT_MUTATE_PODS;
    else if (!strcmp(url, "/validate/pods"))
        *endpoint = MASON_ENDPOINT_VALIDATE_PODS;
    else if (!strncmp(url, "/validate/pods/", 15) && !mason_mode_parse(url + 15, mode))
        *endpoint = MASON_ENDPOINT_VALIDATE_PODS;
    else if (!strcmp(url, "/mutate/agenttasks"))
        *endpoint = MASON_ENDPOINT_MUTATE_AGENTTASKS;
    else if (!strcmp(url, "/validate/agenttasks"))
        *endpoint = MASON_ENDPOINT_VALIDATE_AGENTTASKS;
    else
        return false;
    return true;
}

static void log_outcome(enum mason_endpoint endpoint, enum mason_mode mode,
                        const struct mason_admission_outcome *out)
{
    struct mason_log_ctx ctx = {.namespace = out->namespace, .name = out->name, .uid = out->uid};
    enum mason_log_level level = MASON_LOG_DEBUG;

    if (!strcmp(out->decision, "denied") || !strcmp(out->decision, "warned") ||
        !strcmp(out->decision, "audited"))
        level = MASON_LOG_INFO;
    else if (!strcmp(out->decision, "invalid"))
        level = MASON_LOG_WARN;
    MASON_LOG(level, &ctx,
              json_pack("{s:s, s:s, s:s, s:s, s:b}", "endpoint", mason_endpoint_name(endpoint),
                        "mode", mason_mode_name(mode), "operation", out->operation, "decision",
                        out->decision, "dry_run", out->dry_run),
              "admission %s%s%s", out->decision, out->message[0] ? ": " : "", out->message);
}

static enum MHD_Result serve_review(struct mason_server *s, struct MHD_Connection *conn,
                                    struct request *req, const char *url)
{
    struct mason_admission_outcome out;
    enum mason_endpoint endpoint;
    enum mason_mode mode;
    enum MHD_Result ret;
    int rc;

    if (!route(s, url, &endpoint, &mode))
        return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    mason_admission_outcome_init(&out);
    rc = mason_admission_review(s->admission, endpoint, mode, req->body.data ? req->body.data : "",
                                req->body.len, &out);
    if (rc) {
        mason_error(NULL, "admission review failed: %s", mason_strerror(rc));
        ret = respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
        out.decision = "error";
    } else if (out.http_status != 200) {
        ret = respond(conn, (unsigned)out.http_status, "text/plain; charset=utf-8",
                      mason_buf_str(&out.body), out.body.len);
    } else {
        ret =
            respond(conn, MHD_HTTP_OK, "application/json", mason_buf_str(&out.body), out.body.len);
    }
    log_outcome(endpoint, mode, &out);
    mason_metrics_observe(s->metrics, mason_endpoint_name(endpoint), out.operation, out.decision,
                          seconds_since(&req->start));
    mason_admission_outcome_release(&out);
    return ret;
}

static enum MHD_Result serve_get(struct mason_server *s, struct MHD_Connection *conn,
                                 const char *url)
{
    struct mason_buf text = MASON_BUF_INIT;
    enum MHD_Result ret;

    if (!strcmp(url, "/healthz"))
        return respond_text(conn, MHD_HTTP_OK, "ok\n");
    if (!strcmp(url, "/readyz"))
        return atomic_load(&s->draining)
                   ? respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n")
                   : respond_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/metrics") != 0)
        return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (mason_metrics_render(s->metrics, &text)) {
        mason_buf_release(&text);
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
    }
    ret = respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                  mason_buf_str(&text), text.len);
    mason_buf_release(&text);
    return ret;
}

/* Starts a request: rejects a declared body over the cap before reading it. */
static enum MHD_Result begin_request(struct mason_server *s, struct MHD_Connection *conn,
                                     void **req_cls)
{
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    struct request *req = calloc(1, sizeof(*req));

    if (!req)
        return MHD_NO;
    mason_buf_init(&req->body, s->max_body_bytes);
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    *req_cls = req;
    if (length && strtoull(length, NULL, 10) > s->max_body_bytes) {
        req->too_big = true;
        return respond_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
    }
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    struct slot *slot = cls;
    struct mason_server *s = slot->server;
    struct request *req = *req_cls;

    (void)version;
    if (!req) {
        enum MHD_Result ret = begin_request(s, conn, req_cls);

        if (*req_cls)
            atomic_fetch_add(&slot->in_flight, 1);
        return ret;
    }
    if (*upload_data_size) {
        if (!req->too_big && mason_buf_add(&req->body, upload_data, *upload_data_size))
            req->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->too_big)
        return respond_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
    if (!strcmp(method, "GET"))
        return serve_get(s, conn, url);
    if (!strcmp(method, "POST"))
        return serve_review(s, conn, req, url);
    return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode code)
{
    struct slot *slot = cls;
    struct request *req = *req_cls;

    (void)conn;
    (void)code;
    if (!req)
        return;
    mason_buf_release(&req->body);
    free(req);
    *req_cls = NULL;
    atomic_fetch_sub(&slot->in_flight, 1);
}

int mason_server_parse_listen(const char *listen, struct sockaddr_storage *addr,
                              struct mason_buf *err)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    struct mason_buf host = MASON_BUF_INIT;
    char *end;
    unsigned long port;
    int ok;

    memset(addr, 0, sizeof(*addr));
    if (!colon || colon == listen) {
        mason_buf_addf(err, "listen address \"%s\" is invalid; expected HOST:PORT",
                       listen ? listen : "");
        return MASON_EINVAL;
    }
    port = strtoul(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port > 65535) {
        mason_buf_addf(err, "listen address \"%s\" has an invalid port", listen);
        return MASON_EINVAL;
    }
    if (listen[0] == '[' && colon[-1] == ']') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;

        mason_buf_add(&host, listen + 1, (size_t)(colon - listen - 2));
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ok = inet_pton(AF_INET6, mason_buf_str(&host), &in6->sin6_addr) == 1;
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)addr;

        mason_buf_add(&host, listen, (size_t)(colon - listen));
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        ok = inet_pton(AF_INET, mason_buf_str(&host), &in4->sin_addr) == 1;
    }
    mason_buf_release(&host);
    if (!ok) {
        mason_buf_addf(err, "listen address \"%s\" needs a numeric IP address such as 127.0.0.1",
                       listen);
        return MASON_EINVAL;
    }
    return 0;
}

/* Starts a daemon for slot: on fd when it is valid, else on a new socket bound to addr. */
static int start_daemon(struct mason_server *s, struct slot *slot, const char *cert_pem,
                        const char *key_pem, const struct sockaddr_storage *addr, MHD_socket fd)
{
    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    struct MHD_OptionItem listen[] = {
        fd != MHD_INVALID_SOCKET ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL}
                                 : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)addr},
        {MHD_OPTION_END, 0, NULL},
    };

    if (addr && addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    slot->server = s;
    atomic_init(&slot->in_flight, 0);
    slot->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, slot, MHD_OPTION_ARRAY, listen, MHD_OPTION_HTTPS_MEM_CERT,
        cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_THREAD_POOL_SIZE, s->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_seconds, MHD_OPTION_NOTIFY_COMPLETED,
        request_completed, slot, MHD_OPTION_END);
    return slot->daemon ? 0 : MASON_EIO;
}

/* Reads the certificate files and starts a new slot; NULL with err set on failure. */
static struct slot *load_slot(struct mason_server *s, const struct sockaddr_storage *addr,
                              MHD_socket fd, struct mason_buf *err)
{
    struct mason_buf cert = MASON_BUF_INIT, key = MASON_BUF_INIT;
    struct slot *slot = calloc(1, sizeof(*slot));
    int rc = slot ? 0 : MASON_ENOMEM;

    if (!rc)
        rc = mason_tls_read_file(s->cert_file, &cert, err);
    if (!rc)
        rc = mason_tls_read_file(s->key_file, &key, err);
    if (!rc && start_daemon(s, slot, mason_buf_str(&cert), mason_buf_str(&key), addr, fd)) {
        mason_buf_addf(
            err,
            "cannot serve HTTPS on %s: the address is in use or the certificate %s or key %s is invalid",
            s->listen, s->cert_file, s->key_file);
        rc = MASON_EIO;
    }
    /* Wipe the private key before its buffer is freed. */
    if (key.data)
        explicit_bzero(key.data, key.alloc);
    mason_buf_release(&key);
    mason_buf_release(&cert);
    if (rc) {
        free(slot);
        return NULL;
    }
    return slot;
}

/*
 * Stops accepting on slot, waits up to wait_seconds for its requests in
 * flight (and, with idle_too, for its keep-alive connections, which the idle
 * timeout closes), then stops it and frees it. The listening socket stays open.
 */
static void retire_slot(struct slot *slot, unsigned wait_seconds, bool idle_too)
{
    const union MHD_DaemonInfo *info;

    MHD_quiesce_daemon(slot->daemon);
    /* Poll every 10 ms: a request takes about a millisecond. */
    for (unsigned i = 0; i < wait_seconds * 100; i++) {
        info = MHD_get_daemon_info(slot->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (atomic_load(&slot->in_flight) == 0 &&
            (!idle_too || !info || info->num_connections == 0))
            break;
        usleep(10000);
    }
    if (atomic_load(&slot->in_flight) > 0)
        mason_warn(NULL, "stopping a server with %d requests still in flight",
                   atomic_load(&slot->in_flight));
    MHD_stop_daemon(slot->daemon);
    free(slot);
}

/* Replaces the daemon when the certificate or key file changed since the last check. */
static void check_certificate(struct mason_server *s)
{
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_tls_stamp stamp;
    struct slot *fresh, *old;

    if (mason_tls_stamp_take(s->cert_file, s->key_file, &stamp, &err) ||
        mason_tls_stamp_equal(&stamp, &s->stamp)) {
        mason_buf_release(&err);
        return;
    }
    /* Record the stamp even on failure, so a bad pair is reported once, not every check. */
    s->stamp = stamp;
    fresh = load_slot(s, NULL, s->listen_fd, &err);
    if (!fresh) {
        mason_error(NULL, "keeping the current certificate: %s", mason_buf_str(&err));
        mason_buf_release(&err);
        return;
    }
    pthread_mutex_lock(&s->lock);
    old = s->current;
    s->current = fresh;
    pthread_mutex_unlock(&s->lock);
    mason_info(NULL, "serving new connections with the certificate from %s", s->cert_file);
    retire_slot(old, s->timeout_seconds + 2, true);
    mason_buf_release(&err);
}

static void *watch_certificate(void *arg)
{
    struct mason_server *s = arg;
    struct timespec deadline;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += s->reload_seconds;
        pthread_cond_timedwait(&s->wake, &s->lock, &deadline);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        check_certificate(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void server_free(struct mason_server *s)
{
    free(s->listen);
    free(s->cert_file);
    free(s->key_file);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}

static struct mason_server *server_create(const struct mason_server_options *opts,
                                          const struct mason_admission *admission,
                                          struct mason_metrics *metrics)
{
    struct mason_server *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->admission = admission;
    s->metrics = metrics;
    s->listen = strdup(opts->listen);
    s->cert_file = strdup(opts->cert_file);
    s->key_file = strdup(opts->key_file);
    s->max_body_bytes = opts->max_body_bytes;
    s->timeout_seconds = opts->timeout_seconds;
    s->threads = opts->threads ? opts->threads : 1;
    s->reload_seconds = opts->reload_seconds;
    s->listen_fd = MHD_INVALID_SOCKET;
    atomic_init(&s->draining, false);
    if (!s->listen || !s->cert_file || !s->key_file) {
        server_free(s);
        return NULL;
    }
    return s;
}

struct mason_server *mason_server_start(const struct mason_server_options *opts,
                                        const struct mason_admission *admission,
                                        struct mason_metrics *metrics, struct mason_buf *err)
{
    struct sockaddr_storage addr;
    struct mason_server *s;
    const union MHD_DaemonInfo *info;

    if (mason_server_parse_listen(opts->listen, &addr, err))
        return NULL;
    s = server_create(opts, admission, metrics);
    if (!s)
        return NULL;
    if (mason_tls_stamp_take(s->cert_file, s->key_file, &s->stamp, err) ||
        !(s->current = load_slot(s, &addr, MHD_INVALID_SOCKET, err))) {
        server_free(s);
        return NULL;
    }
    info = MHD_get_daemon_info(s->current->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    info = MHD_get_daemon_info(s->current->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    s->listen_fd = info ? info->listen_fd : MHD_INVALID_SOCKET;
    if (s->reload_seconds && s->listen_fd != MHD_INVALID_SOCKET)
        s->watching = pthread_create(&s->watcher, NULL, watch_certificate, s) == 0;
    return s;
}

uint16_t mason_server_port(const struct mason_server *server)
{
    return server->port;
}

void mason_server_stop(struct mason_server *server, unsigned grace_seconds)
{
    if (!server)
        return;
    atomic_store(&server->draining, true);
    pthread_mutex_lock(&server->lock);
    server->stopping = true;
    pthread_cond_signal(&server->wake);
    pthread_mutex_unlock(&server->lock);
    if (server->watching)
        pthread_join(server->watcher, NULL);
    retire_slot(server->current, grace_seconds, false);
    /* Quiesced daemons leave the listening socket to the caller. */
    if (server->listen_fd != MHD_INVALID_SOCKET)
        close(server->listen_fd);
    server_free(server);
}
