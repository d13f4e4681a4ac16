/* STS AssumeRole and AssumeRoleWithWebIdentity, and reading their XML replies (see aws.h). */
#include "aws.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sigv4.h"
#include "banned.h"

#define STS_VERSION "2011-06-15"
#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define DEFAULT_SESSION_NAME "mason-operator"
#define MAX_TAG_LEN 64

/*
 * Finds the text between <tag> and </tag> inside [start, end). The STS query
 * protocol replies are flat, namespace-free elements, so a bounded search for
 * the element names is enough.
 * NOTE: not a general XML parser: attributes on the element, CDATA and
 * comments are not handled. STS does not use them in these replies.
 */
static int find_element(const char *start, const char *end, const char *tag, const char **text,
                        size_t *len)
{
    char open[MAX_TAG_LEN + 3], close[MAX_TAG_LEN + 4];
    const char *p, *q;

    if (strlen(tag) > MAX_TAG_LEN)
        return MASON_EINVAL;
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    p = memmem(start, (size_t)(end - start), open, strlen(open));
    if (!p)
        return MASON_EPARSE;
    p += strlen(open);
    q = memmem(p, (size_t)(end - p), close, strlen(close));
    if (!q)
        return MASON_EPARSE;
    *text = p;
    *len = (size_t)(q - p);
    return 0;
}

static const struct {
    const char *entity;
    char c;
} xml_entities[] = {
    {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
};

/* Appends text with the five predefined XML entities decoded. */
static int add_unescaped(struct mason_buf *out, const char *text, size_t len)
{
    int rc = 0;

    for (size_t i = 0; i < len && !rc; i++) {
        size_t n = 0;
        char c = text[i];

        for (size_t e = 0; c == '&' && e < sizeof(xml_entities) / sizeof(xml_entities[0]); e++) {
            n = strlen(xml_entities[e].entity);
            if (len - i >= n && !memcmp(text + i, xml_entities[e].entity, n)) {
                c = xml_entities[e].c;
                i += n - 1;
                break;
            }
        }
        rc = mason_buf_add(out, &c, 1);
    }
    return rc;
}

static int element_string(const char *start, const char *end, const char *tag, char **out)
{
    struct mason_buf b = MASON_BUF_INIT;
    const char *text;
    size_t len;
    int rc = find_element(start, end, tag, &text, &len);

    if (!rc)
        rc = add_unescaped(&b, text, len);
    if (!rc && b.len == 0)
        rc = MASON_EPARSE;
    if (!rc)
        *out = mason_buf_detach(&b);
    if (!rc && !*out)
        rc = MASON_ENOMEM;
    mason_secrets_buf_wipe(&b);
    return rc;
}

int mason_aws_parse_time(const char *text, time_t *out)
{
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    time_t t;

    if (!rest)
        return MASON_EPARSE;
    if (*rest == '.')
        while (isdigit((unsigned char)*++rest))
            ;
    if (strcmp(rest, "Z") && strcmp(rest, "+00:00"))
        return MASON_EPARSE;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return MASON_EPARSE;
    *out = t;
    return 0;
}

int mason_aws_sts_parse_credentials(const char *xml, size_t len, struct mason_aws_credentials *out)
{
    const char *creds, *end = xml + len;
    char *expiration = NULL;
    size_t creds_len;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = find_element(xml, end, "Credentials", &creds, &creds_len);
    if (rc)
        return MASON_EPARSE;
    end = creds + creds_len;
    rc = element_string(creds, end, "AccessKeyId", &out->access_key_id);
    if (!rc)
        rc = element_string(creds, end, "SecretAccessKey", &out->secret_access_key);
    if (!rc)
        rc = element_string(creds, end, "SessionToken", &out->session_token);
    if (!rc)
        rc = element_string(creds, end, "Expiration", &expiration);
    if (!rc)
        rc = mason_aws_parse_time(expiration, &out->expires);
    free(expiration);
    if (rc)
        mason_aws_credentials_release(out);
    return rc == MASON_ENOMEM ? rc : (rc ? MASON_EPARSE : 0);
}

int mason_aws_sts_parse_error(const char *xml, size_t len, struct mason_buf *code,
                              struct mason_buf *message)
{
    const char *text;
    size_t text_len;

    if (find_element(xml, xml + len, "Code", &text, &text_len))
        return MASON_EPARSE;
    add_unescaped(code, text, text_len);
    if (!find_element(xml, xml + len, "Message", &text, &text_len))
        add_unescaped(message, text, text_len);
    return 0;
}

static int add_param(struct mason_buf *body, const char *name, const char *value)
{
    int rc = mason_buf_addf(body, "%s%s=", body->len ? "&" : "", name);

    return rc ? rc : mason_sigv4_uri_encode(value, strlen(value), 0, body);
}

static int build_body(const struct mason_aws_auth_config *cfg, const char *role_arn,
                      const char *web_token, struct mason_buf *body)
{
    const char *session = cfg->role_session_name ? cfg->role_session_name : DEFAULT_SESSION_NAME;
    int rc = add_param(body, "Action", web_token ? "AssumeRoleWithWebIdentity" : "AssumeRole");

    if (!rc)
        rc = add_param(body, "Version", STS_VERSION);
    if (!rc)
        rc = add_param(body, "RoleArn", role_arn);
    if (!rc)
        rc = add_param(body, "RoleSessionName", session);
    if (!rc && web_token)
        rc = add_param(body, "WebIdentityToken", web_token);
    return rc;
}

/* Maps an STS error code to a MASON_E* code. */
static int sts_error_code(long status, const char *code)
{
    if (!strcmp(code, "AccessDenied"))
        return MASON_EFORBIDDEN;
    if (!strcmp(code, "InvalidIdentityToken") || !strcmp(code, "ExpiredTokenException") ||
        !strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidClientTokenId") ||
        !strcmp(code, "SignatureDoesNotMatch") || status == 401)
        return MASON_EUNAUTHORIZED;
    if (!strcmp(code, "Throttling") || status == 429)
        return MASON_ETHROTTLED;
    if (status >= 500)
        return MASON_EUNAVAILABLE;
    return status == 403 ? MASON_EFORBIDDEN : MASON_EHTTP;
}

static int sts_failure(long status, const struct mason_buf *reply, const char *action,
                       const char *role_arn, struct mason_buf *err)
{
    struct mason_buf code = MASON_BUF_INIT, message = MASON_BUF_INIT;
    int rc;

    mason_aws_sts_parse_error(reply->data ? reply->data : "", reply->len, &code, &message);
    rc = sts_error_code(status, mason_buf_str(&code));
    mason_buf_addf(err, "STS %s of role %s failed with HTTP %ld %s: %s", action, role_arn, status,
                   code.len ? mason_buf_str(&code) : "(no error code)", mason_buf_str(&message));
    if (rc == MASON_EFORBIDDEN && !strcmp(action, "AssumeRole"))
        mason_buf_adds(err,
                       "; the role's trust policy must allow sts:AssumeRole by the base identity");
    else if (rc == MASON_EFORBIDDEN)
        mason_buf_adds(err,
                       "; the role's trust policy must allow this service account's web identity");
    mason_buf_release(&code);
    mason_buf_release(&message);
    return rc;
}

int mason_aws_sts_assume_role(const struct mason_aws_auth_config *cfg, const char *role_arn,
                              const struct mason_aws_credentials *creds, const char *web_token,
                              struct mason_aws_credentials *out, struct mason_buf *err)
{
    const char *action = web_token ? "AssumeRoleWithWebIdentity" : "AssumeRole";
    struct mason_buf body = MASON_BUF_INIT, reply = MASON_BUF_INIT;
    struct mason_aws_request req = {cfg->sts_endpoint, cfg->region, "sts", STS_CONTENT_TYPE};
    long status = 0;
    int rc = build_body(cfg, role_arn, web_token, &body);

    req.body = mason_buf_str(&body);
    req.body_len = body.len;
    if (!rc)
        rc = mason_aws_send(&req, web_token ? NULL : creds, &status, &reply, err);
    if (!rc && status != 200)
        rc = sts_failure(status, &reply, action, role_arn, err);
    if (!rc) {
        rc = mason_aws_sts_parse_credentials(reply.data ? reply.data : "", reply.len, out);
        if (rc)
            mason_buf_addf(err, "STS %s of role %s returned no usable Credentials element", action,
                           role_arn);
    }
    mason_secrets_buf_wipe(&body);
    mason_secrets_buf_wipe(&reply);
    return rc;
}
