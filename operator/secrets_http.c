/* HTTP requests of the secret backends over libcurl (see secrets_http.h). */
#include "secrets_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "secrets.h"
#include "banned.h"

#define DEFAULT_TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 5000L

static size_t write_reply(char *data, size_t size, size_t count, void *arg)
{
    struct mason_buf *reply = arg;

    if (mason_buf_add(reply, data, size * count))
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    return size * count;
}

int mason_secrets_http_add_header(struct mason_secrets_http_request *req, const char *line)
{
    if (req->header_count >= MASON_SECRETS_HTTP_MAX_HEADERS)
        return MASON_EINVAL;
    req->headers[req->header_count++] = line;
    return 0;
}

static struct curl_slist *header_list(const struct mason_secrets_http_request *req)
{
    struct curl_slist *list = NULL, *next;

    for (size_t i = 0; i < req->header_count; i++) {
        next = curl_slist_append(list, req->headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    /* An empty Expect header stops curl from waiting for "100 Continue" before large bodies. */
    next = curl_slist_append(list, "Expect:");
    if (!next)
        curl_slist_free_all(list);
    return next;
}

static void set_options(CURL *curl, const struct mason_secrets_http_request *req,
                        struct curl_slist *headers, struct mason_buf *reply, char *errbuf)
{
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MASON_SECRETS_HTTP_MAX_REPLY);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_reply);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    if (req->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, req->ca_file);
    if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
}

static int map_curl_error(CURLcode code, const struct mason_secrets_http_request *req,
                          const char *errbuf, struct mason_buf *err)
{
    int rc = MASON_EHTTP;

    if (code == CURLE_OPERATION_TIMEDOUT)
        rc = MASON_ETIMEOUT;
    else if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST)
        rc = MASON_ECONNECT;
    else if (code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED)
        rc = MASON_ETOOBIG;
    mason_buf_addf(err, "%s %s failed: %s", req->method, req->url,
                   *errbuf ? errbuf : curl_easy_strerror(code));
    return rc;
}

int mason_secrets_http_send(const struct mason_secrets_http_request *req, long *status,
                            struct mason_buf *reply, struct mason_buf *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = header_list(req);
    CURL *curl = curl_easy_init();
    CURLcode code;
    int rc = 0;

    *status = 0;
    if (!curl || !headers) {
        mason_buf_adds(err, "out of memory");
        rc = MASON_ENOMEM;
        goto out;
    }
    mason_buf_init(reply, MASON_SECRETS_HTTP_MAX_REPLY);
    set_options(curl, req, headers, reply, errbuf);
    code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        mason_secrets_buf_wipe(reply);
        rc = map_curl_error(code, req, errbuf, err);
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);

out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

int mason_secrets_read_token(const char *path, struct mason_buf *token, struct mason_buf *err)
{
    FILE *f = fopen(path, "r");
    char chunk[4096];
    size_t n;
    int rc = 0;

    mason_buf_init(token, MASON_SECRETS_MAX_TOKEN_BYTES);
    if (!f) {
        mason_buf_addf(err, "cannot read token file %s: %s", path, strerror(errno));
        return MASON_EIO;
    }
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mason_buf_add(token, chunk, n);
    explicit_bzero(chunk, sizeof(chunk));
    fclose(f);
    while (token->len && strchr(" \t\r\n", token->data[token->len - 1]))
        token->data[--token->len] = '\0';
    if (rc || token->len == 0) {
        mason_secrets_buf_wipe(token);
        mason_buf_addf(err, "token file %s is empty or larger than %u bytes", path,
                       MASON_SECRETS_MAX_TOKEN_BYTES);
        return MASON_EIO;
    }
    return 0;
}
