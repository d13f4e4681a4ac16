/*
 * One HTTP request for the secret backends (AWS and Vault), over libcurl.
 * Replies are capped, redirects are not followed, and only http and https
 * are allowed, so a misconfigured endpoint cannot send credentials elsewhere.
 */
#ifndef MASON_SECRETS_HTTP_H
#define MASON_SECRETS_HTTP_H

#include <stddef.h>

#include "buf.h"

#define MASON_SECRETS_HTTP_MAX_REPLY (2u * 1024u * 1024u)
#define MASON_SECRETS_HTTP_MAX_HEADERS 12

/* A request; all strings are borrowed. Headers are "Name: value" lines. */
struct mason_secrets_http_request {
    const char *method; /* "GET", "POST" or "PUT" */
    const char *url;
    const char *headers[MASON_SECRETS_HTTP_MAX_HEADERS];
    size_t header_count;
    const char *body; /* NULL for none */
    size_t body_len;
    const char *ca_file; /* CA bundle for https, NULL for the system store */
    long timeout_ms;     /* whole request; 0 means 10 s */
};

/*
 * Sends req and stores the HTTP status and the reply body (wiped and then
 * released by the caller with mason_secrets_buf_wipe, because it may hold a
 * secret). Returns 0 whenever a reply arrived, whatever its status, or
 * MASON_ECONNECT, MASON_ETIMEOUT, MASON_ETOOBIG or MASON_EHTTP with err saying
 * what failed.
 */
int mason_secrets_http_send(const struct mason_secrets_http_request *req, long *status,
                            struct mason_buf *reply, struct mason_buf *err);

/* Appends "Name: value" to req (value borrowed through line, which the caller keeps). */
int mason_secrets_http_add_header(struct mason_secrets_http_request *req, const char *line);

/*
 * Reads a service-account token file into token (wipe it with
 * mason_secrets_buf_wipe), without trailing whitespace. The kubelet rotates
 * projected tokens, so callers read the file afresh for each login. Returns
 * 0, or MASON_EIO with err naming the file when it is unreadable, empty or
 * larger than MASON_SECRETS_MAX_TOKEN_BYTES.
 */
#define MASON_SECRETS_MAX_TOKEN_BYTES (16u * 1024u)
int mason_secrets_read_token(const char *path, struct mason_buf *token, struct mason_buf *err);

#endif
