#include "kube.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "kube_internal.h"
#include "banned.h"

#define KUBE_IDLE_HANDLES 16
#define KUBE_TOKEN_MAX_AGE_S 60 /* how long a token read from a file is used before re-reading */
#define KUBE_RETRY_AFTER_MAX_MS 60000L
#define KUBE_USER_AGENT "mason/0.1"

struct mason_kube {
    struct mason_kube_config cfg;
    long timeout_ms;
    int max_retries;
    long backoff_first_ms;
    long backoff_max_ms;

    pthread_mutex_t lock; /* protects everything below */
    char *token;
    time_t token_read;
    CURL *idle[KUBE_IDLE_HANDLES]; /* easy handles kept for their open connections */
    int n_idle;
    uint64_t rng;
};

/* One attempt's outcome. */
struct kube_attempt {
    CURLcode code;
    long status;
    long retry_after_ms; /* -1 when the reply had no usable Retry-After */
    bool too_big;
    struct mason_buf *body;
    char curl_error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int copy_config(struct mason_kube_config *dst, const struct mason_kube_config *src)
{
    mason_kube_config_init(dst);
    dst->server = dup_or_null(src->server);
    dst->token = dup_or_null(src->token);
    dst->token_file = dup_or_null(src->token_file);
    dst->ca_pem = dup_or_null(src->ca_pem);
    dst->ca_file = dup_or_null(src->ca_file);
    dst->cert_pem = dup_or_null(src->cert_pem);
    dst->key_pem = dup_or_null(src->key_pem);
    dst->namespace = dup_or_null(src->namespace ? src->namespace : "default");
    dst->insecure = src->insecure;
    if (!dst->server || !dst->namespace || (src->token && !dst->token) ||
        (src->token_file && !dst->token_file) || (src->ca_pem && !dst->ca_pem) ||
        (src->ca_file && !dst->ca_file) || (src->cert_pem && !dst->cert_pem) ||
        (src->key_pem && !dst->key_pem))
        return MASON_ENOMEM;
    return 0;
}

struct mason_kube *mason_kube_create(const struct mason_kube_config *cfg)
{
    struct mason_kube *kube;

    if (!cfg || !cfg->server)
        return NULL;
    pthread_once(&curl_once, curl_init_once);
    kube = calloc(1, sizeof(*kube));
    if (!kube)
        return NULL;
    pthread_mutex_init(&kube->lock, NULL);
    kube->timeout_ms = 30000;
    kube->max_retries = 5;
    kube->backoff_first_ms = 200;
    kube->backoff_max_ms = 10000;
    kube->token_read = time(NULL);
    kube->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)kube;
    if (copy_config(&kube->cfg, cfg) || (cfg->token && !(kube->token = strdup(cfg->token)))) {
        mason_kube_free(kube);
        return NULL;
    }
    return kube;
}

void mason_kube_free(struct mason_kube *kube)
{
    if (!kube)
        return;
    for (int i = 0; i < kube->n_idle; i++)
        curl_easy_cleanup(kube->idle[i]);
    free(kube->token);
    mason_kube_config_release(&kube->cfg);
    pthread_mutex_destroy(&kube->lock);
    free(kube);
}

void mason_kube_set_timeout(struct mason_kube *kube, long timeout_ms)
{
    kube->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
}

void mason_kube_set_retries(struct mason_kube *kube, int max_retries)
{
    kube->max_retries = max_retries >= 0 ? max_retries : 0;
}

void mason_kube_set_backoff(struct mason_kube *kube, long first_ms, long max_ms)
{
    kube->backoff_first_ms = first_ms > 0 ? first_ms : 1;
    kube->backoff_max_ms = max_ms >= kube->backoff_first_ms ? max_ms : kube->backoff_first_ms;
}

/* Returns a copy of the bearer token, re-reading token_file when the copy in memory is
 * older than KUBE_TOKEN_MAX_AGE_S or force is set: projected service-account tokens rotate. */
static char *kube_token(struct mason_kube *kube, bool force)
{
    time_t now = time(NULL);
    char *fresh = NULL, *copy;

    pthread_mutex_lock(&kube->lock);
    if (kube->cfg.token_file && (force || now - kube->token_read >= KUBE_TOKEN_MAX_AGE_S)) {
        if (mason_kube_config_read_file(kube->cfg.token_file, MASON_KUBE_CONFIG_MAX_FILE, &fresh,
                                        NULL) == 0) {
            fresh[strcspn(fresh, "\r\n")] = '\0';
            free(kube->token);
            kube->token = fresh;
        }
        kube->token_read = now; /* on a read error, keep the old token and retry later */
    }
    copy = kube->token ? strdup(kube->token) : NULL;
    pthread_mutex_unlock(&kube->lock);
    return copy;
}

void kube_token_mark_stale(struct mason_kube *kube)
{
    pthread_mutex_lock(&kube->lock);
    kube->token_read = 0;
    pthread_mutex_unlock(&kube->lock);
}

static CURL *kube_take_handle(struct mason_kube *kube)
{
    CURL *c = NULL;

    pthread_mutex_lock(&kube->lock);
    if (kube->n_idle > 0)
        c = kube->idle[--kube->n_idle];
    pthread_mutex_unlock(&kube->lock);
    if (c) {
        curl_easy_reset(c); /* keeps the connection cache */
        return c;
    }
    return curl_easy_init();
}

static void kube_return_handle(struct mason_kube *kube, CURL *c)
{
    pthread_mutex_lock(&kube->lock);
    if (kube->n_idle < KUBE_IDLE_HANDLES) {
        kube->idle[kube->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&kube->lock);
    curl_easy_cleanup(c);
}

static void setup_tls(struct mason_kube *kube, CURL *c)
{
    const struct mason_kube_config *cfg = &kube->cfg;
    struct curl_blob blob;

    if (cfg->ca_pem) {
        blob = (struct curl_blob){cfg->ca_pem, strlen(cfg->ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    } else if (cfg->ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->cert_pem && cfg->key_pem) {
        blob = (struct curl_blob){cfg->cert_pem, strlen(cfg->cert_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        blob = (struct curl_blob){cfg->key_pem, strlen(cfg->key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (cfg->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static struct curl_slist *build_headers(struct mason_kube *kube, const char *content_type,
                                        bool force_token)
{
    struct mason_buf line = MASON_BUF_INIT;
    struct curl_slist *headers = NULL, *next;
    char *token = kube_token(kube, force_token);
    bool ok = true;

    headers = curl_slist_append(NULL, "Accept: application/json, */*");
    ok = headers != NULL;
    if (ok && (next = curl_slist_append(headers, "Expect:")))
        headers = next;
    if (ok && content_type && !mason_buf_addf(&line, "Content-Type: %s", content_type))
        ok = (next = curl_slist_append(headers, mason_buf_str(&line))) && (headers = next);
    mason_buf_reset(&line);
    if (ok && token && !mason_buf_addf(&line, "Authorization: Bearer %s", token))
        ok = (next = curl_slist_append(headers, mason_buf_str(&line))) && (headers = next);
    if (token)
        explicit_bzero(token, strlen(token));
    free(token);
    if (line.data)
        explicit_bzero(line.data, line.len);
    mason_buf_release(&line);
    if (!ok) {
        curl_slist_free_all(headers);
        return NULL;
    }
    return headers;
}

/* Configures c for method on path and returns the header list it uses (caller frees). */
static struct curl_slist *kube_setup(struct mason_kube *kube, CURL *c, const char *method,
                                     const char *path, const char *content_type, bool force_token)
{
    struct mason_buf url = MASON_BUF_INIT;
    struct curl_slist *headers;

    if (mason_buf_addf(&url, "%s%s", kube->cfg.server, path))
        return NULL;
    headers = build_headers(kube, content_type, force_token);
    if (!headers) {
        mason_buf_release(&url);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_URL, mason_buf_str(&url));
    mason_buf_release(&url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, KUBE_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, kube->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, kube->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    setup_tls(kube, c);
    return headers;
}

void *mason_kube_curl_handle(struct mason_kube *kube, const char *path_and_query,
                             struct curl_slist **headers)
{
    CURL *c = curl_easy_init();

    *headers = NULL;
    if (!c)
        return NULL;
    *headers = kube_setup(kube, c, "GET", path_and_query, NULL, false);
    if (!*headers) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct kube_attempt *a = arg;

    if (mason_buf_add(a->body, data, size * n)) {
        a->too_big = true;
        return 0;
    }
    return size * n;
}

/* Converts a Retry-After value, in seconds or an HTTP date, to a delay in ms capped at
 * KUBE_RETRY_AFTER_MAX_MS. Returns -1 when value is neither. */
static long parse_retry_after(const char *value)
{
    char *end;
    long seconds;
    time_t when;

    errno = 0;
    seconds = strtol(value, &end, 10);
    if (end == value || errno != 0 || seconds < 0 || strspn(end, " \t\r\n") != strlen(end)) {
        when = curl_getdate(value, NULL);
        if (when == -1)
            return -1;
        seconds = when > time(NULL) ? (long)(when - time(NULL)) : 0;
    }
    return seconds > KUBE_RETRY_AFTER_MAX_MS / 1000 ? KUBE_RETRY_AFTER_MAX_MS : seconds * 1000;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct kube_attempt *a = arg;
    size_t len = size * n, name_len = strlen("Retry-After:");
    char value[64];

    if (len > name_len && len - name_len < sizeof(value) &&
        strncasecmp(data, "Retry-After:", name_len) == 0) {
        memcpy(value, data + name_len, len - name_len);
        value[len - name_len] = '\0';
        a->retry_after_ms = parse_retry_after(value);
    }
    return len;
}

static int kube_attempt(struct mason_kube *kube, const struct kube_request *req, bool force_token,
                        struct kube_attempt *a)
{
    CURL *c = kube_take_handle(kube);
    struct curl_slist *headers = NULL;

    a->code = CURLE_OK;
    a->status = 0;
    a->retry_after_ms = -1;
    a->too_big = false;
    a->curl_error[0] = '\0';
    mason_buf_reset(a->body);
    if (!c ||
        !(headers = kube_setup(kube, c, req->method, req->path, req->content_type, force_token))) {
        if (c)
            curl_easy_cleanup(c);
        return MASON_ENOMEM;
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->curl_error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    }
    a->code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    kube_return_handle(kube, c);
    return 0;
}

static int status_code(long status, const char *reason)
{
    if (status == 404)
        return MASON_ENOTFOUND;
    if (status == 409)
        return reason && strcmp(reason, "AlreadyExists") == 0 ? MASON_EEXISTS : MASON_ECONFLICT;
    if (status == 410)
        return MASON_EGONE;
    if (status == 400 || status == 422)
        return MASON_EINVALID_OBJECT;
    if (status == 401)
        return MASON_EUNAUTHORIZED;
    if (status == 403)
        return MASON_EFORBIDDEN;
    if (status == 429)
        return MASON_ETHROTTLED;
    if (status >= 500 && status <= 599)
        return MASON_EUNAVAILABLE;
    return MASON_EHTTP;
}

int mason_kube_status_error(long http_status, const char *body, size_t len, struct mason_buf *err)
{
    json_t *status = (body && len) ? json_loadb(body, len, 0, NULL) : NULL;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    const char *message = json_string_value(json_object_get(status, "message"));
    int rc;

    if (http_status >= 200 && http_status <= 299) {
        json_decref(status);
        return 0;
    }
    rc = status_code(http_status, reason);
    if (err && message && *message)
        mason_buf_adds(err, message);
    else if (err)
        mason_buf_addf(err, "HTTP status %ld", http_status);
    json_decref(status);
    return rc;
}

/* Transport failures where the request never reached the server, so any request may be
 * sent again. */
static bool never_sent(CURLcode code)
{
    return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST;
}

static bool transient_transport(CURLcode code)
{
    return never_sent(code) || code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR ||
           code == CURLE_GOT_NOTHING || code == CURLE_PARTIAL_FILE ||
           code == CURLE_SSL_CONNECT_ERROR || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM;
}

/* Decides whether attempt a of req is worth repeating. Timeouts are not retried because
 * one attempt already used the whole time limit. */
static bool should_retry(const struct kube_request *req, const struct kube_attempt *a)
{
    if (a->too_big)
        return false;
    if (a->code != CURLE_OK)
        return never_sent(a->code) || (req->replayable && transient_transport(a->code));
    if (a->status == 429)
        return true;
    return req->replayable && a->status >= 500 && a->status <= 599;
}

static uint64_t kube_random(struct mason_kube *kube)
{
    uint64_t x;

    pthread_mutex_lock(&kube->lock);
    kube->rng += 0x9e3779b97f4a7c15ull; /* splitmix64 */
    x = kube->rng;
    pthread_mutex_unlock(&kube->lock);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static long retry_delay_ms(struct mason_kube *kube, const struct kube_attempt *a, int attempt)
{
    long delay = kube->backoff_first_ms;

    if (a->retry_after_ms >= 0 && (a->status == 429 || a->status == 503))
        return a->retry_after_ms;
    for (int i = 0; i < attempt && delay < kube->backoff_max_ms; i++)
        delay *= 2;
    if (delay > kube->backoff_max_ms)
        delay = kube->backoff_max_ms;
    /* Jitter: a random point in [delay/2, delay], so clients that failed together spread out. */
    return delay / 2 + (long)(kube_random(kube) % (uint64_t)(delay / 2 + 1));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int transport_error(const struct kube_request *req, const struct kube_attempt *a,
                           struct mason_buf *err)
{
    int rc = MASON_ECONNECT;

    if (a->too_big)
        rc = MASON_ETOOBIG;
    else if (a->code == CURLE_OPERATION_TIMEDOUT)
        rc = MASON_ETIMEOUT;
    if (err && a->too_big)
        mason_buf_addf(err, "%s %s: reply is larger than %zu bytes", req->method, req->path,
                       a->body->cap ? a->body->cap : (size_t)MASON_BUF_DEFAULT_CAP);
    else if (err)
        mason_buf_addf(err, "%s %s: %s", req->method, req->path,
                       a->curl_error[0] ? a->curl_error : curl_easy_strerror(a->code));
    return rc;
}

int kube_request_send(struct mason_kube *kube, const struct kube_request *req,
                      struct mason_buf *out, struct mason_buf *err)
{
    struct kube_attempt a = {.body = out};
    bool refreshed = false;
    int rc;

    for (int attempt = 0;; attempt++) {
        rc = kube_attempt(kube, req, refreshed, &a);
        if (rc)
            return rc;
        if (a.code == CURLE_OK && a.status == 401 && kube->cfg.token_file && !refreshed) {
            refreshed = true; /* the token may have rotated since it was read: re-read once */
            attempt--;
            continue;
        }
        if (attempt >= kube->max_retries || !should_retry(req, &a))
            break;
        sleep_ms(retry_delay_ms(kube, &a, attempt));
    }
    if (a.code != CURLE_OK || a.too_big)
        return transport_error(req, &a, err);
    return mason_kube_status_error(a.status, out->data, out->len, err);
}
