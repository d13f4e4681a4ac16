/*
 * AWS Signature Version 4 for HTTP requests, with OpenSSL for SHA-256 and
 * HMAC. The AWS client signs STS and Secrets Manager calls with it. The steps
 * (canonical request, string to sign, signature) are exposed separately, so
 * tests check each one against AWS's published signature test suite.
 */
#ifndef MASON_SIGV4_H
#define MASON_SIGV4_H

#include <stddef.h>

#include "buf.h"

struct mason_sigv4_header {
    const char *name;
    const char *value;
};

/* A request to sign. All strings are borrowed. */
struct mason_sigv4_request {
    const char *method;
    const char *path;  /* not yet percent-encoded; "." and ".." segments are removed */
    const char *query; /* "a=1&b=2" without "?", raw or percent-encoded; NULL for none */
    const struct mason_sigv4_header *headers; /* every header here is signed */
    size_t header_count;
    const void *body;
    size_t body_len;
};

/* Signing credentials, region, service and request time. */
struct mason_sigv4_signer {
    const char *access_key_id;
    const char *secret_access_key;
    const char *region;
    const char *service;
    const char *amz_date; /* "YYYYMMDDTHHMMSSZ", equal to the X-Amz-Date header */
};

/*
 * Builds the canonical request of req into out (appended). signed_headers
 * (may be NULL) gets the "host;x-amz-date" list. Returns 0, MASON_EINVAL for a
 * request without method or path, or a buffer error.
 */
int mason_sigv4_canonical_request(const struct mason_sigv4_request *req, struct mason_buf *out,
                                  struct mason_buf *signed_headers);

/*
 * Builds the string to sign for a canonical request into out (appended).
 * Returns 0, MASON_EINVAL for a malformed amz_date, or a buffer error.
 */
int mason_sigv4_string_to_sign(const struct mason_sigv4_signer *signer, const char *canonical,
                               struct mason_buf *out);

/*
 * Signs req and appends the value of its Authorization header to
 * authorization. canonical and string_to_sign (each may be NULL) get the
 * intermediate steps. Returns 0, MASON_EINVAL, MASON_ENOMEM or a buffer error.
 */
int mason_sigv4_sign(const struct mason_sigv4_request *req, const struct mason_sigv4_signer *signer,
                     struct mason_buf *authorization, struct mason_buf *canonical,
                     struct mason_buf *string_to_sign);

/* Appends the lowercase hex SHA-256 of data to out. Returns 0 or a buffer error. */
int mason_sigv4_sha256_hex(const void *data, size_t len, struct mason_buf *out);

/* Appends s percent-encoded (RFC 3986 unreserved characters kept) to out;
 * '/' is kept when keep_slash is set. Returns 0 or a buffer error. */
int mason_sigv4_uri_encode(const char *s, size_t len, int keep_slash, struct mason_buf *out);

#endif
