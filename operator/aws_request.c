/* SigV4-signed requests to AWS endpoints (see aws.h). */
#include "aws.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets_http.h"
#include "sigv4.h"
#include "banned.h"

#define MAX_SIGNED_HEADERS 6

void mason_aws_credentials_release(struct mason_aws_credentials *c)
{
    char *fields[] = {c->access_key_id, c->secret_access_key, c->session_token};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i])
            explicit_bzero(fields[i], strlen(fields[i]));
        free(fields[i]);
    }
    memset(c, 0, sizeof(*c));
}

static int copy_string(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return (src && !*dst) ? MASON_ENOMEM : 0;
}

int mason_aws_credentials_copy(struct mason_aws_credentials *dst,
                               const struct mason_aws_credentials *src)
{
    int rc = copy_string(&dst->access_key_id, src->access_key_id);

    if (!rc)
        rc = copy_string(&dst->secret_access_key, src->secret_access_key);
    if (!rc)
        rc = copy_string(&dst->session_token, src->session_token);
    dst->expires = src->expires;
    if (rc)
        mason_aws_credentials_release(dst);
    return rc;
}

/* Splits endpoint into the Host header value and the path to sign. */
static int endpoint_parts(const char *endpoint, struct mason_buf *host, struct mason_buf *path,
                          struct mason_buf *err)
{
    CURLU *url = curl_url();
    char *h = NULL, *port = NULL, *p = NULL;
    int rc = 0;

    if (!url || curl_url_set(url, CURLUPART_URL, endpoint, 0) ||
        curl_url_get(url, CURLUPART_HOST, &h, 0) ||
        curl_url_get(url, CURLUPART_PATH, &p, CURLU_URLDECODE)) {
        mason_buf_addf(err, "endpoint \"%s\" is not a valid URL", endpoint);
        rc = MASON_ECONFIG;
        goto out;
    }
    curl_url_get(url, CURLUPART_PORT, &port, 0);
    rc = mason_buf_adds(host, h);
    if (!rc && port)
        rc = mason_buf_addf(host, ":%s", port);
    if (!rc)
        rc = mason_buf_adds(path, *p ? p : "/");

out:
    curl_free(h);
    curl_free(port);
    curl_free(p);
    curl_url_cleanup(url);
    return rc;
}

static int format_amz_date(char out[17])
{
    time_t now = time(NULL);
    struct tm tm;

    if (!gmtime_r(&now, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return MASON_EINVAL;
    return 0;
}

/* The headers of a request; values are borrowed from req, creds and the caller's buffers. */
struct header_set {
    struct mason_sigv4_header items[MAX_SIGNED_HEADERS];
    size_t count;
};

static void header_set_add(struct header_set *set, const char *name, const char *value)
{
    if (value && set->count < MAX_SIGNED_HEADERS) {
        set->items[set->count].name = name;
        set->items[set->count].value = value;
        set->count++;
    }
}

/* Adds every header of set to http as a "Name: value" line kept in lines. */
static int add_header_lines(const struct header_set *set, struct mason_buf lines[],
                            struct mason_secrets_http_request *http)
{
    int rc = 0;

    for (size_t i = 0; i < set->count && !rc; i++) {
        rc = mason_buf_addf(&lines[i], "%s: %s", set->items[i].name, set->items[i].value);
        if (!rc)
            rc = mason_secrets_http_add_header(http, mason_buf_str(&lines[i]));
    }
    return rc;
}

static int sign_into(const struct mason_aws_request *req, const struct mason_aws_credentials *creds,
                     const struct header_set *set, const char *path, const char *amz_date,
                     struct mason_buf *authz)
{
    struct mason_sigv4_request sreq = {"POST",     path,      NULL,         set->items,
                                       set->count, req->body, req->body_len};
    struct mason_sigv4_signer signer = {creds->access_key_id, creds->secret_access_key, req->region,
                                        req->service, amz_date};

    mason_buf_adds(authz, "Authorization: ");
    return mason_sigv4_sign(&sreq, &signer, authz, NULL, NULL);
}

int mason_aws_send(const struct mason_aws_request *req, const struct mason_aws_credentials *creds,
                   long *status, struct mason_buf *reply, struct mason_buf *err)
{
    struct mason_secrets_http_request http = {"POST", req->endpoint};
    struct mason_buf host = MASON_BUF_INIT, path = MASON_BUF_INIT, authz = MASON_BUF_INIT;
    struct mason_buf lines[MAX_SIGNED_HEADERS];
    struct header_set set = {0};
    char amz_date[17];
    int rc;

    memset(lines, 0, sizeof(lines));
    rc = endpoint_parts(req->endpoint, &host, &path, err);
    if (!rc)
        rc = format_amz_date(amz_date);
    if (rc)
        goto out;
    header_set_add(&set, "Host", mason_buf_str(&host));
    header_set_add(&set, "Content-Type", req->content_type);
    header_set_add(&set, "X-Amz-Date", amz_date);
    header_set_add(&set, "X-Amz-Target", req->target);
    header_set_add(&set, "X-Amz-Security-Token", creds ? creds->session_token : NULL);
    http.body = req->body;
    http.body_len = req->body_len;
    rc = add_header_lines(&set, lines, &http);
    if (!rc && creds)
        rc = sign_into(req, creds, &set, mason_buf_str(&path), amz_date, &authz);
    if (!rc && creds)
        rc = mason_secrets_http_add_header(&http, mason_buf_str(&authz));
    if (!rc)
        rc = mason_secrets_http_send(&http, status, reply, err);

out:
    for (size_t i = 0; i < MAX_SIGNED_HEADERS; i++)
        mason_secrets_buf_wipe(&lines[i]);
    mason_buf_release(&host);
    mason_buf_release(&path);
    mason_buf_release(&authz);
    return rc;
}
