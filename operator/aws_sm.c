/* AWS Secrets Manager backend of the secret resolver: GetSecretValue (see secrets.h, aws.h). */
#include "aws.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "error.h"
#include "banned.h"

#define SM_CONTENT_TYPE "application/x-amz-json-1.1"
#define SM_TARGET "secretsmanager.GetSecretValue"

struct aws_backend {
    struct mason_secret_backend base;
    char *endpoint;
    char *region;
    struct mason_aws_auth *auth;
};

/*
 * Appends the error type, without any "namespace#" prefix, and the message of
 * an error reply. Secrets Manager replies in JSON, but request authentication
 * errors can come in the XML form of the query protocol.
 */
static void parse_error(const struct mason_buf *reply, struct mason_buf *type,
                        struct mason_buf *message)
{
    json_t *doc = json_loadb(reply->data ? reply->data : "", reply->len, 0, NULL);
    const char *t = json_string_value(json_object_get(doc, "__type"));
    const char *m = json_string_value(json_object_get(doc, "message"));

    if (!doc) {
        mason_aws_sts_parse_error(reply->data ? reply->data : "", reply->len, type, message);
        return;
    }
    if (t && strrchr(t, '#'))
        t = strrchr(t, '#') + 1;
    if (!m)
        m = json_string_value(json_object_get(doc, "Message"));
    mason_buf_adds(type, t ? t : "");
    mason_buf_adds(message, m ? m : "");
    json_decref(doc);
}

static int map_error(const char *type, long status)
{
    if (!strcmp(type, "ResourceNotFoundException"))
        return MASON_ENOTFOUND;
    if (!strcmp(type, "AccessDeniedException") || !strcmp(type, "AccessDenied"))
        return MASON_EFORBIDDEN;
    if (!strcmp(type, "UnrecognizedClientException") ||
        !strcmp(type, "InvalidSignatureException") || !strcmp(type, "IncompleteSignature") ||
        !strcmp(type, "ExpiredTokenException") || !strcmp(type, "InvalidClientTokenId") ||
        !strcmp(type, "SignatureDoesNotMatch") || status == 401)
        return MASON_EUNAUTHORIZED;
    if (!strcmp(type, "ThrottlingException") || status == 429)
        return MASON_ETHROTTLED;
    if (status >= 500)
        return MASON_EUNAVAILABLE;
    return status == 403 ? MASON_EFORBIDDEN : MASON_EHTTP;
}

/* Maps an error reply to a MASON_E* code and a message that states what to fix. */
static int sm_failure(struct aws_backend *b, const char *name, long status,
                      const struct mason_buf *reply, struct mason_buf *err)
{
    struct mason_buf type = MASON_BUF_INIT, message = MASON_BUF_INIT;
    int rc;

    parse_error(reply, &type, &message);
    rc = map_error(mason_buf_str(&type), status);
    if (rc == MASON_ENOTFOUND) {
        mason_buf_addf(err, "secret \"%s\" not found in AWS Secrets Manager in region %s", name,
                       b->region);
    } else if (rc == MASON_EFORBIDDEN) {
        mason_buf_addf(err, "access to secret \"%s\" denied for ", name);
        mason_aws_auth_describe(b->auth, err);
        mason_buf_addf(err, " (%s); grant secretsmanager:GetSecretValue on the secret to it",
                       mason_buf_str(&message));
    } else {
        mason_buf_addf(err, "GetSecretValue of \"%s\" as ", name);
        mason_aws_auth_describe(b->auth, err);
        mason_buf_addf(err, " failed with HTTP %ld %s: %s", status,
                       type.len ? mason_buf_str(&type) : "(no error type)",
                       mason_buf_str(&message));
    }
    mason_buf_release(&type);
    mason_buf_release(&message);
    return rc;
}

/* Appends the base64 text decoded. Returns 0, MASON_EPARSE or a buffer error. */
static int add_base64(struct mason_buf *out, const char *text, size_t len)
{
    unsigned char *raw = malloc(len / 4 * 3 + 3);
    size_t pad = 0;
    int n, rc;

    if (!raw)
        return MASON_ENOMEM;
    if (len % 4 || len > (size_t)1 << 30) {
        free(raw);
        return MASON_EPARSE;
    }
    n = EVP_DecodeBlock(raw, (const unsigned char *)text, (int)len);
    while (pad < 2 && pad < len && text[len - 1 - pad] == '=')
        pad++;
    rc = n < 0 ? MASON_EPARSE : mason_buf_add(out, raw, (size_t)n - pad);
    explicit_bzero(raw, len / 4 * 3 + 3);
    free(raw);
    return rc;
}

int mason_aws_sm_parse_value(const char *name, const char *reply, size_t len,
                             struct mason_buf *value, struct mason_buf *err)
{
    json_t *doc = json_loadb(reply ? reply : "", len, 0, NULL);
    const json_t *str = json_object_get(doc, "SecretString");
    const json_t *bin = json_object_get(doc, "SecretBinary");
    int rc;

    if (json_is_string(str))
        rc = mason_buf_add(value, json_string_value(str), json_string_length(str));
    else if (json_is_string(bin))
        rc = add_base64(value, json_string_value(bin), json_string_length(bin));
    else
        rc = MASON_EPARSE;
    if (rc == MASON_EPARSE)
        mason_buf_addf(
            err, "GetSecretValue of \"%s\" returned neither SecretString nor valid SecretBinary",
            name);
    /* NOTE: jansson frees its copy of the value without wiping it. */
    json_decref(doc);
    return rc;
}

static int sm_call(struct aws_backend *b, const char *name,
                   const struct mason_aws_credentials *creds, long *status, struct mason_buf *reply,
                   struct mason_buf *err)
{
    struct mason_aws_request req = {b->endpoint, b->region, "secretsmanager", SM_CONTENT_TYPE,
                                    SM_TARGET};
    json_t *body = json_pack("{s:s}", "SecretId", name);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc;

    json_decref(body);
    if (!text)
        return MASON_ENOMEM;
    req.body = text;
    req.body_len = strlen(text);
    rc = mason_aws_send(&req, creds, status, reply, err);
    free(text);
    return rc;
}

/* Makes one GetSecretValue call with fresh credentials. */
static int sm_attempt(struct aws_backend *b, const char *name, long *status,
                      struct mason_buf *reply, struct mason_buf *err)
{
    struct mason_aws_credentials creds;
    int rc = mason_aws_auth_get(b->auth, &creds, err);

    if (!rc)
        rc = sm_call(b, name, &creds, status, reply, err);
    mason_aws_credentials_release(&creds);
    return rc;
}

static bool token_expired(const struct mason_buf *reply)
{
    return reply->data && strstr(reply->data, "ExpiredToken");
}

static int aws_fetch(struct mason_secret_backend *backend, const char *name,
                     struct mason_buf *value, struct mason_buf *err)
{
    struct aws_backend *b = (struct aws_backend *)backend;
    struct mason_buf reply = MASON_BUF_INIT;
    long status = 0;
    int rc = sm_attempt(b, name, &status, &reply, err);

    /* Credentials revoked or expired early: fetch new ones and try once more. */
    if (!rc && status != 200 && token_expired(&reply)) {
        mason_aws_auth_invalidate(b->auth);
        mason_secrets_buf_wipe(&reply);
        rc = sm_attempt(b, name, &status, &reply, err);
    }
    if (!rc && status != 200)
        rc = sm_failure(b, name, status, &reply, err);
    else if (!rc)
        rc = mason_aws_sm_parse_value(name, reply.data, reply.len, value, err);
    mason_secrets_buf_wipe(&reply);
    return rc;
}

static void aws_destroy(struct mason_secret_backend *backend)
{
    struct aws_backend *b = (struct aws_backend *)backend;

    mason_aws_auth_free(b->auth);
    free(b->endpoint);
    free(b->region);
    free(b);
}

static const char *default_region(const struct mason_secret_backend_config *cfg)
{
    const char *r = cfg->region;

    if (!r || !*r)
        r = getenv("AWS_REGION");
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    return r && *r ? r : NULL;
}

struct mason_secret_backend *
mason_secrets_aws_backend_create(const struct mason_secret_backend_config *cfg,
                                 struct mason_buf *err)
{
    struct mason_aws_auth_config auth = {default_region(cfg), cfg->sts_endpoint,
                                         cfg->assume_role_arn};
    struct aws_backend *b;

    if (!cfg->endpoint) {
        mason_buf_addf(err, "backend %s: config.endpoint is missing", cfg->scheme);
        return NULL;
    }
    mason_aws_auth_config_from_env(&auth);
    b = calloc(1, sizeof(*b));
    if (!b) {
        mason_buf_adds(err, "out of memory");
        return NULL;
    }
    b->base.fetch = aws_fetch;
    b->base.destroy = aws_destroy;
    b->endpoint = strdup(cfg->endpoint);
    b->region = auth.region ? strdup(auth.region) : NULL;
    b->auth = mason_aws_auth_create(&auth, err);
    if (!b->auth)
        mason_buf_addf(err, " (backend %s)", cfg->scheme);
    else if (!b->endpoint || !b->region)
        mason_buf_adds(err, "out of memory");
    if (!b->auth || !b->endpoint || !b->region) {
        aws_destroy(&b->base);
        return NULL;
    }
    return &b->base;
}

struct mason_aws_auth *mason_aws_backend_auth(struct mason_secret_backend *backend)
{
    return backend->fetch == aws_fetch ? ((struct aws_backend *)backend)->auth : NULL;
}
