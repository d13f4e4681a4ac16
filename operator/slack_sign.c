/*
 * Slack request signatures, version v0: the hex HMAC-SHA256 of
 * "v0:" + X-Slack-Request-Timestamp + ":" + the raw body, keyed with the
 * app's signing secret, sent as "v0=<hex>" in X-Slack-Signature.
 */
#include "slack.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets.h"
#include "banned.h"

#define SIGNATURE_PREFIX "v0="
#define SIGNATURE_LEN (3 + 2 * 32) /* "v0=" and 64 hex digits */
#define MAX_TIMESTAMP_DIGITS 12

int mason_slack_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                     struct mason_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    struct mason_buf base = MASON_BUF_INIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int rc;

    mason_buf_init(&base, MASON_SLACK_MAX_BODY + 64);
    rc = mason_buf_addf(&base, "v0:%s:", timestamp);
    if (!rc)
        rc = mason_buf_add(&base, body, len);
    if (!rc && !HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)base.data,
                     base.len, md, &md_len))
        rc = MASON_ENOMEM;
    mason_buf_release(&base);
    if (!rc)
        rc = mason_buf_adds(out, SIGNATURE_PREFIX);
    for (unsigned int i = 0; !rc && i < md_len; i++) {
        char pair[2] = {hex[md[i] >> 4], hex[md[i] & 0xf]};

        rc = mason_buf_add(out, pair, 2);
    }
    OPENSSL_cleanse(md, sizeof(md));
    return rc;
}

/* Parses a timestamp of decimal digits only; Slack sends whole seconds. */
static int parse_timestamp(const char *text, long long *out)
{
    size_t len = text ? strlen(text) : 0;
    long long value = 0;

    if (len == 0 || len > MAX_TIMESTAMP_DIGITS)
        return MASON_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)text[i]))
            return MASON_EINVAL;
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return 0;
}

static int check_timestamp(const char *timestamp, time_t now, struct mason_buf *err)
{
    long long ts, skew;

    if (!timestamp) {
        mason_buf_adds(err, "X-Slack-Request-Timestamp header is missing");
        return MASON_EUNAUTHORIZED;
    }
    if (parse_timestamp(timestamp, &ts)) {
        mason_buf_adds(err, "X-Slack-Request-Timestamp is not a Unix time in seconds");
        return MASON_EUNAUTHORIZED;
    }
    skew = (long long)now - ts;
    if (skew > MASON_SLACK_MAX_SKEW_SECONDS) {
        mason_buf_addf(
            err,
            "request timestamp is %lld s old, more than the %d s allowed; a replayed request or a wrong clock",
            skew, MASON_SLACK_MAX_SKEW_SECONDS);
        return MASON_EUNAUTHORIZED;
    }
    if (-skew > MASON_SLACK_MAX_SKEW_SECONDS) {
        mason_buf_addf(
            err,
            "request timestamp is %lld s in the future, more than the %d s allowed; check the clock",
            -skew, MASON_SLACK_MAX_SKEW_SECONDS);
        return MASON_EUNAUTHORIZED;
    }
    return 0;
}

int mason_slack_verify(const char *secret, const char *timestamp, const char *signature,
                       const char *body, size_t len, time_t now, struct mason_buf *err)
{
    struct mason_buf expected = MASON_BUF_INIT;
    int rc = check_timestamp(timestamp, now, err);

    if (rc)
        return rc;
    if (!signature) {
        mason_buf_adds(err, "X-Slack-Signature header is missing");
        return MASON_EUNAUTHORIZED;
    }
    if (strlen(signature) != SIGNATURE_LEN || strncmp(signature, SIGNATURE_PREFIX, 3) != 0) {
        mason_buf_adds(err, "X-Slack-Signature is not of the form v0=<64 hex digits>");
        return MASON_EUNAUTHORIZED;
    }
    rc = mason_slack_sign(secret, timestamp, body, len, &expected);
    if (rc) {
        mason_buf_addf(err, "cannot compute the request signature: %s", mason_strerror(rc));
    } else if (expected.len != SIGNATURE_LEN ||
               CRYPTO_memcmp(expected.data, signature, SIGNATURE_LEN) != 0) {
        mason_buf_adds(
            err,
            "X-Slack-Signature does not match the body; the request was altered or signed with another signing secret");
        rc = MASON_EUNAUTHORIZED;
    }
    mason_secrets_buf_wipe(&expected);
    return rc;
}
