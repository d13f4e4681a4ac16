/* The HTTPS server and its routes (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "banned.h"

struct mason_server {
    struct MHD_Daemon *daemon;
    const struct mason_admission *admission;
    struct mason_metrics *metrics;
    size_t max_body_bytes;
    uint16_t port;
    atomic_int in_flight;
    atomic_bool draining;
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
              "admission %s", out->decision);
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
    atomic_fetch_add(&s->in_flight, 1);
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
    struct mason_server *s = cls;
    struct request *req = *req_cls;

    (void)version;
    if (!req)
        return begin_request(s, conn, req_cls);
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
    struct mason_server *s = cls;
    struct request *req = *req_cls;

    (void)conn;
    (void)code;
    if (!req)
        return;
    mason_buf_release(&req->body);
    free(req);
    *req_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
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

static struct MHD_Daemon *start_daemon(struct mason_server *s,
                                       const struct mason_server_options *opts,
                                       const struct sockaddr_storage *addr)
{
    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;

    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_HTTPS_MEM_CERT, opts->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, opts->key_pem,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opts->threads ? opts->threads : 1),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->timeout_seconds, MHD_OPTION_NOTIFY_COMPLETED,
        request_completed, s, MHD_OPTION_END);
}

struct mason_server *mason_server_start(const struct mason_server_options *opts,
                                        const struct mason_admission *admission,
                                        struct mason_metrics *metrics, struct mason_buf *err)
{
    struct mason_server *s;
    struct sockaddr_storage addr;
    const union MHD_DaemonInfo *info;

    if (mason_server_parse_listen(opts->listen, &addr, err))
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->admission = admission;
    s->metrics = metrics;
    s->max_body_bytes = opts->max_body_bytes;
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->draining, false);
    s->daemon = start_daemon(s, opts, &addr);
    if (!s->daemon) {
        mason_buf_addf(
            err,
            "cannot serve HTTPS on %s: the address is in use or the certificate or key is invalid",
            opts->listen);
        free(s);
        return NULL;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

uint16_t mason_server_port(const struct mason_server *server)
{
    return server->port;
}

void mason_server_stop(struct mason_server *server, unsigned grace_seconds)
{
    MHD_socket listen_fd;

    if (!server)
        return;
    atomic_store(&server->draining, true);
    listen_fd = MHD_quiesce_daemon(server->daemon);
    /* Poll every 10 ms: in-flight requests finish in about a millisecond. */
    for (unsigned i = 0; i < grace_seconds * 100 && atomic_load(&server->in_flight) > 0; i++)
        usleep(10000);
    if (atomic_load(&server->in_flight) > 0)
        mason_warn(NULL, "stopping with %d requests still in flight",
                   atomic_load(&server->in_flight));
    MHD_stop_daemon(server->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    free(server);
}
