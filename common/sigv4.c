#include "sigv4.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "error.h"
#include "banned.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_PARAMS 256

static int is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int mason_sigv4_uri_encode(const char *s, size_t len, int keep_slash, struct mason_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int err = 0;

    for (size_t i = 0; i < len && !err; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if (is_unreserved(c) || (keep_slash && c == '/'))
            err = mason_buf_add(out, &s[i], 1);
        else
            err = mason_buf_add(out, esc, 3);
    }
    return err;
}

/* Appends the canonical URI: dot segments and empty segments removed, each segment encoded. */
static int canonical_path(const char *path, struct mason_buf *out)
{
    const char *segs[128];
    size_t lens[128], n = 0, plen = strlen(path);
    const char *p = path, *end = path + plen;
    int err = 0;

    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);

        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (n > 0)
                n--;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (n == 128)
                return MASON_ETOOBIG;
            segs[n] = p;
            lens[n++] = len;
        }
        p += len + 1;
    }
    for (size_t i = 0; i < n && !err; i++) {
        err = mason_buf_adds(out, "/");
        if (!err)
            err = mason_sigv4_uri_encode(segs[i], lens[i], 0, out);
    }
    if (!err && (n == 0 || (plen > 0 && path[plen - 1] == '/')))
        err = mason_buf_adds(out, "/");
    return err;
}

struct query_param {
    char *key; /* canonical form: decoded, then encoded */
    char *value;
};

static int compare_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : strcmp(x->value, y->value);
}

/* Returns s[0..len) with its %XX escapes decoded and then encoded again, or NULL when memory
 * runs out. A '%' without two hex digits is kept as it is. */
static char *canonical_component(const char *s, size_t len)
{
    struct mason_buf enc = MASON_BUF_INIT;
    int raw_len = 0;
    char *raw = NULL, *result = NULL;

    if (len > INT_MAX)
        return NULL;
    /* A length of 0 would make curl_easy_unescape measure s with strlen. */
    if (len > 0 && !(raw = curl_easy_unescape(NULL, s, (int)len, &raw_len)))
        return NULL;
    if (mason_buf_add(&enc, "", 0) == 0 &&
        mason_sigv4_uri_encode(raw ? raw : "", (size_t)raw_len, 0, &enc) == 0)
        result = mason_buf_detach(&enc);
    curl_free(raw);
    mason_buf_release(&enc);
    return result;
}

static int split_query(const char *query, struct query_param *params, size_t *count)
{
    const char *p = query, *end = query + strlen(query);

    *count = 0;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t len = amp ? (size_t)(amp - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;

        if (len > 0) {
            if (*count == SIGV4_MAX_PARAMS)
                return MASON_ETOOBIG;
            params[*count].key = canonical_component(p, klen);
            params[*count].value =
                canonical_component(eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0);
            (*count)++;
            if (!params[*count - 1].key || !params[*count - 1].value)
                return MASON_ENOMEM;
        }
        p += len + 1;
    }
    return 0;
}

static int canonical_query(const char *query, struct mason_buf *out)
{
    struct query_param *params = NULL;
    size_t count = 0;
    int err = 0;

    if (!query || !*query)
        return 0;
    params = calloc(SIGV4_MAX_PARAMS, sizeof(*params));
    if (!params)
        return MASON_ENOMEM;
    err = split_query(query, params, &count);
    if (!err)
        qsort(params, count, sizeof(*params), compare_params);
    for (size_t i = 0; i < count && !err; i++)
        err = mason_buf_addf(out, "%s%s=%s", i ? "&" : "", params[i].key, params[i].value);
    for (size_t i = 0; i < count; i++) {
        free(params[i].key);
        free(params[i].value);
    }
    free(params);
    return err;
}

struct canon_header {
    char *name;  /* lowercase */
    char *value; /* trimmed, runs of spaces collapsed */
    size_t order;
};

static int compare_headers(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *lowercase_copy(const char *s)
{
    char *copy = strdup(s);

    for (char *p = copy; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return copy;
}

static char *trimmed_copy(const char *s)
{
    size_t len = strlen(s), o = 0;
    char *copy = malloc(len + 1);

    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int space = s[i] == ' ' || s[i] == '\t';

        if (space && (o == 0 || copy[o - 1] == ' '))
            continue;
        copy[o++] = space ? ' ' : s[i];
    }
    while (o > 0 && copy[o - 1] == ' ')
        o--;
    copy[o] = '\0';
    return copy;
}

static int write_headers(struct canon_header *h, size_t n, struct mason_buf *out,
                         struct mason_buf *signed_headers)
{
    int err = 0;

    for (size_t i = 0; i < n && !err; i++) {
        int same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        int last = i + 1 == n || strcmp(h[i].name, h[i + 1].name) != 0;

        if (same)
            err = mason_buf_addf(out, ",%s", h[i].value);
        else
            err = mason_buf_addf(out, "%s:%s", h[i].name, h[i].value);
        if (!err && last)
            err = mason_buf_adds(out, "\n");
        if (!err && !same && signed_headers)
            err = mason_buf_addf(signed_headers, "%s%s", signed_headers->len ? ";" : "", h[i].name);
    }
    return err;
}

/* Appends the canonical headers block and the signed header list. */
static int canonical_headers(const struct mason_sigv4_request *req, struct mason_buf *out,
                             struct mason_buf *signed_headers)
{
    struct canon_header *h = NULL;
    size_t n = req->header_count;
    int err = 0;

    if (n > SIGV4_MAX_HEADERS)
        return MASON_ETOOBIG;
    h = calloc(n ? n : 1, sizeof(*h));
    if (!h)
        return MASON_ENOMEM;
    for (size_t i = 0; i < n && !err; i++) {
        h[i].name = lowercase_copy(req->headers[i].name);
        h[i].value = trimmed_copy(req->headers[i].value);
        h[i].order = i;
        if (!h[i].name || !h[i].value)
            err = MASON_ENOMEM;
    }
    if (!err) {
        qsort(h, n, sizeof(*h), compare_headers);
        err = write_headers(h, n, out, signed_headers);
    }
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    return err;
}

int mason_sigv4_sha256_hex(const void *data, size_t len, struct mason_buf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int err = 0;

    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL))
        return MASON_ENOMEM;
    for (unsigned i = 0; i < md_len && !err; i++)
        err = mason_buf_addf(out, "%02x", md[i]);
    return err;
}

int mason_sigv4_canonical_request(const struct mason_sigv4_request *req, struct mason_buf *out,
                                  struct mason_buf *signed_headers)
{
    struct mason_buf names = MASON_BUF_INIT;
    int err;

    if (!req->method || !req->path)
        return MASON_EINVAL;
    err = mason_buf_addf(out, "%s\n", req->method);
    if (!err)
        err = canonical_path(req->path, out);
    if (!err)
        err = mason_buf_adds(out, "\n");
    if (!err)
        err = canonical_query(req->query, out);
    if (!err)
        err = mason_buf_adds(out, "\n");
    if (!err)
        err = canonical_headers(req, out, &names);
    if (!err)
        err = mason_buf_addf(out, "\n%s\n", mason_buf_str(&names));
    if (!err)
        err = mason_sigv4_sha256_hex(req->body ? req->body : "", req->body_len, out);
    if (!err && signed_headers)
        err = mason_buf_adds(signed_headers, mason_buf_str(&names));
    mason_buf_release(&names);
    return err;
}

static int valid_amz_date(const char *d)
{
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i]))
            return 0;
    return 1;
}

static int append_scope(const struct mason_sigv4_signer *s, struct mason_buf *out)
{
    return mason_buf_addf(out, "%.8s/%s/%s/aws4_request", s->amz_date, s->region, s->service);
}

int mason_sigv4_string_to_sign(const struct mason_sigv4_signer *signer, const char *canonical,
                               struct mason_buf *out)
{
    int err;

    if (!valid_amz_date(signer->amz_date) || !signer->region || !signer->service)
        return MASON_EINVAL;
    err = mason_buf_addf(out, SIGV4_ALGORITHM "\n%s\n", signer->amz_date);
    if (!err)
        err = append_scope(signer, out);
    if (!err)
        err = mason_buf_adds(out, "\n");
    if (!err)
        err = mason_sigv4_sha256_hex(canonical, strlen(canonical), out);
    return err;
}

static int hmac_step(unsigned char *key, unsigned *key_len, const char *data)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int out_len = 0;

    if (!HMAC(EVP_sha256(), key, (int)*key_len, (const unsigned char *)data, strlen(data), out,
              &out_len))
        return MASON_ENOMEM;
    memcpy(key, out, out_len);
    *key_len = out_len;
    OPENSSL_cleanse(out, sizeof(out));
    return 0;
}

/* Computes the hex signature: HMAC chain over date, region, service, "aws4_request", then sts. */
static int compute_signature(const struct mason_sigv4_signer *s, const char *sts,
                             struct mason_buf *out)
{
    unsigned char key[256];
    unsigned key_len;
    char date[9];
    int err = 0;

    key_len = (unsigned)strlen(s->secret_access_key) + 4;
    if (key_len > sizeof(key))
        return MASON_EINVAL;
    memcpy(key, "AWS4", 4);
    memcpy(key + 4, s->secret_access_key, key_len - 4);
    memcpy(date, s->amz_date, 8);
    date[8] = '\0';
    err = hmac_step(key, &key_len, date);
    if (!err)
        err = hmac_step(key, &key_len, s->region);
    if (!err)
        err = hmac_step(key, &key_len, s->service);
    if (!err)
        err = hmac_step(key, &key_len, "aws4_request");
    if (!err)
        err = hmac_step(key, &key_len, sts);
    for (unsigned i = 0; i < key_len && !err; i++)
        err = mason_buf_addf(out, "%02x", key[i]);
    OPENSSL_cleanse(key, sizeof(key));
    return err;
}

int mason_sigv4_sign(const struct mason_sigv4_request *req, const struct mason_sigv4_signer *signer,
                     struct mason_buf *authorization, struct mason_buf *canonical,
                     struct mason_buf *string_to_sign)
{
    struct mason_buf creq = MASON_BUF_INIT, sts = MASON_BUF_INIT, names = MASON_BUF_INIT;
    int err;

    if (!signer->access_key_id || !signer->secret_access_key)
        return MASON_EINVAL;
    err = mason_sigv4_canonical_request(req, &creq, &names);
    if (!err)
        err = mason_sigv4_string_to_sign(signer, mason_buf_str(&creq), &sts);
    if (!err)
        err =
            mason_buf_addf(authorization, SIGV4_ALGORITHM " Credential=%s/", signer->access_key_id);
    if (!err)
        err = append_scope(signer, authorization);
    if (!err)
        err =
            mason_buf_addf(authorization, ", SignedHeaders=%s, Signature=", mason_buf_str(&names));
    if (!err)
        err = compute_signature(signer, mason_buf_str(&sts), authorization);
    if (!err && canonical)
        err = mason_buf_adds(canonical, mason_buf_str(&creq));
    if (!err && string_to_sign)
        err = mason_buf_adds(string_to_sign, mason_buf_str(&sts));
    mason_buf_release(&creq);
    mason_buf_release(&sts);
    mason_buf_release(&names);
    return err;
}
