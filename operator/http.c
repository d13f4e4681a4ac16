#include "http.h"
#include "secrets.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct mason_http {
    struct MHD_Daemon *daemon;
    struct mason_operator_metrics *metrics;
    unsigned port;
    const char *post_path;
    mason_http_post_fn post_fn;
    void *post_arg;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct mason_buf *body);

void mason_http_set_post(struct mason_http *http, const char *path, mason_http_post_fn fn,
                         void *arg)
{
    http->post_path = path;
    http->post_fn = fn;
    http->post_arg = arg;
}

/* The body of a POST in progress; it is read in pieces before the handler runs. */
struct post_body {
    struct mason_buf data;
    int too_big;
};

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct post_body *body = *con_cls;

    (void)cls, (void)conn, (void)why;
    if (body) {
        mason_buf_release(&body->data);
        free(body);
        *con_cls = NULL;
    }
}

/* Collects the body; returns 1 once it is complete and the handler may run. */
static int read_post(void **con_cls, const char *upload_data, size_t *upload_data_size)
{
    struct post_body *body = *con_cls;

    if (!body) {
        body = calloc(1, sizeof(*body));
        if (!body)
            return -1;
        mason_buf_init(&body->data, MASON_HTTP_MAX_POST);
        *con_cls = body;
        return 0;
    }
    if (*upload_data_size > 0) {
        if (mason_buf_add(&body->data, upload_data, *upload_data_size) != 0)
            body->too_big = 1;
        *upload_data_size = 0;
        return 0;
    }
    return 1;
}

static enum MHD_Result serve_post(struct mason_http *http, struct MHD_Connection *conn,
                                  struct post_body *body)
{
    struct mason_buf out = MASON_BUF_INIT;
    struct mason_http_post req = {
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"),
        .connection = conn,
        .body = mason_buf_str(&body->data),
        .body_len = body->data.len,
    };
    unsigned status;
    enum MHD_Result rc;

    if (body->too_big) {
        status = 413;
        mason_buf_addf(&out, "request body over %u bytes\n", MASON_HTTP_MAX_POST);
    } else {
        status = http->post_fn(http->post_arg, &req, &out);
    }
    rc = reply(conn, status, "text/plain; charset=utf-8", &out);
    mason_buf_release(&out);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct mason_buf *body)
{
    struct MHD_Response *res = MHD_create_response_from_buffer(
        body->len, (void *)mason_buf_str(body), MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    MHD_add_response_header(res, "Content-Type", type);
    rc = MHD_queue_response(conn, status, res);
    MHD_destroy_response(res);
    return rc;
}

static void write_secret_metrics(struct mason_secrets *secrets, struct mason_buf *out)
{
    struct mason_secrets_stats st;

    mason_secrets_get_stats(secrets, &st);
    mason_buf_addf(out,
                   "# HELP mason_secret_lookups_total Secret references resolved from external "
                   "stores.\n"
                   "# TYPE mason_secret_lookups_total counter\n"
                   "mason_secret_lookups_total %lu\n"
                   "# HELP mason_secret_cache_hits_total Lookups served from the cache.\n"
                   "# TYPE mason_secret_cache_hits_total counter\n"
                   "mason_secret_cache_hits_total %lu\n"
                   "# HELP mason_secret_backend_calls_total Reads sent to AWS Secrets Manager or "
                   "Vault.\n"
                   "# TYPE mason_secret_backend_calls_total counter\n"
                   "mason_secret_backend_calls_total %lu\n"
                   "# HELP mason_secret_cache_entries Secrets held in the cache.\n"
                   "# TYPE mason_secret_cache_entries gauge\n"
                   "mason_secret_cache_entries %lu\n",
                   st.lookups, st.hits, st.backend_calls, st.entries);
}

static void write_metrics(struct mason_operator_metrics *m, struct mason_buf *out)
{
    mason_buf_addf(out,
                   "# HELP mason_reconciles_total AgentTask reconciles run.\n"
                   "# TYPE mason_reconciles_total counter\n"
                   "mason_reconciles_total %lu\n"
                   "# HELP mason_reconcile_errors_total Reconciles that failed and were retried.\n"
                   "# TYPE mason_reconcile_errors_total counter\n"
                   "mason_reconcile_errors_total %lu\n"
                   "# HELP mason_ready Whether the informers have synced (1) or not (0).\n"
                   "# TYPE mason_ready gauge\n"
                   "mason_ready %d\n",
                   atomic_load(&m->reconciles), atomic_load(&m->reconcile_errors),
                   atomic_load(&m->ready));
    if (m->secrets)
        write_secret_metrics(m->secrets, out);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct mason_http *http = cls;
    struct mason_buf body = MASON_BUF_INIT;
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; charset=utf-8";
    enum MHD_Result rc;

    (void)version;
    if (strcmp(method, "POST") == 0 && http->post_fn && strcmp(url, http->post_path) == 0) {
        int done = read_post(con_cls, upload_data, upload_data_size);

        if (done < 0)
            return MHD_NO;
        return done ? serve_post(http, conn, *con_cls) : MHD_YES;
    }
    if (strcmp(method, "GET") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        mason_buf_adds(&body, "only GET is served here\n");
    } else if (strcmp(url, "/healthz") == 0) {
        mason_buf_adds(&body, "ok\n");
    } else if (strcmp(url, "/readyz") == 0) {
        int ready = atomic_load(&http->metrics->ready);

        status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        mason_buf_adds(&body, ready ? "ok\n" : "informers have not synced yet\n");
    } else if (strcmp(url, "/metrics") == 0) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        write_metrics(http->metrics, &body);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        mason_buf_addf(&body, "no such path; use /healthz, /readyz or /metrics\n");
    }
    rc = reply(conn, status, type, &body);
    mason_buf_release(&body);
    return rc;
}

/* Splits "host:port" into a socket address. Returns 0 or -1. */
static int parse_listen(const char *listen, struct sockaddr_in *addr)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    char *end;
    long port;

    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &addr->sin_addr) == 1 ? 0 : -1;
}

struct mason_http *mason_http_start(const char *listen, struct mason_operator_metrics *metrics,
                                    struct mason_buf *err)
{
    struct mason_http *http = calloc(1, sizeof(*http));
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;

    if (!http)
        return NULL;
    if (parse_listen(listen, &addr) != 0) {
        mason_buf_addf(err, "invalid listen address \"%s\": use IPV4:PORT, such as 127.0.0.1:8081",
                       listen);
        free(http);
        return NULL;
    }
    http->metrics = metrics;
    http->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle,
                         http, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                         MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
    if (!http->daemon) {
        mason_buf_addf(
            err,
            "cannot listen on %s: the address is in use or not local; set listen in the configuration",
            listen);
        free(http);
        return NULL;
    }
    info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : 0;
    return http;
}

unsigned mason_http_port(const struct mason_http *http)
{
    return http->port;
}

void mason_http_stop(struct mason_http *http)
{
    if (!http)
        return;
    MHD_stop_daemon(http->daemon);
    free(http);
}
