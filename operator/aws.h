/*
 * The AWS client of the secret resolver: the credential chain (static keys,
 * web identity as IRSA provides it, then an optional AssumeRole), STS calls,
 * SigV4-signed requests, and Secrets Manager GetSecretValue. Every endpoint
 * comes from the configuration: nothing here has a default AWS address.
 */
#ifndef MASON_AWS_H
#define MASON_AWS_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "secrets.h"

/* Seconds before expiry at which temporary credentials are replaced. */
#define MASON_AWS_REFRESH_MARGIN_SECONDS 300

/* One set of credentials. Strings are owned and wiped on release. */
struct mason_aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term keys */
    time_t expires;      /* 0 for keys that do not expire */
};

void mason_aws_credentials_release(struct mason_aws_credentials *c);

/* Copies src into dst (empty beforehand). Returns 0 or MASON_ENOMEM. */
int mason_aws_credentials_copy(struct mason_aws_credentials *dst,
                               const struct mason_aws_credentials *src);

/* Credential sources and STS settings. Strings are borrowed, and NULL means unset. */
struct mason_aws_auth_config {
    const char *region;
    const char *sts_endpoint;    /* required for web identity and assume_role_arn */
    const char *assume_role_arn; /* role assumed with the base credentials */
    const char *access_key_id;   /* static keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                                    AWS_SESSION_TOKEN */
    const char *secret_access_key;
    const char *session_token;
    const char *web_identity_role_arn;   /* AWS_ROLE_ARN */
    const char *web_identity_token_file; /* AWS_WEB_IDENTITY_TOKEN_FILE */
    const char *role_session_name;       /* AWS_ROLE_SESSION_NAME; default "mason-operator" */
};

/* Fills the credential fields of cfg from the process environment (borrowed from environ). */
void mason_aws_auth_config_from_env(struct mason_aws_auth_config *cfg);

/* The credential chain with its cached temporary credentials. Thread-safe. */
struct mason_aws_auth;

/*
 * Creates the chain. Returns NULL with err set when no credential source is
 * configured, or when web identity or assume_role_arn is used without
 * sts_endpoint. No request is made until mason_aws_auth_get.
 */
struct mason_aws_auth *mason_aws_auth_create(const struct mason_aws_auth_config *cfg,
                                             struct mason_buf *err);
void mason_aws_auth_free(struct mason_aws_auth *auth);

/*
 * Copies current credentials into out (release it), calling STS first when
 * there are none yet or they expire within MASON_AWS_REFRESH_MARGIN_SECONDS.
 * Returns 0, or MASON_EFORBIDDEN (err names the role), MASON_EUNAUTHORIZED,
 * MASON_EIO (token file) or an HTTP error.
 */
int mason_aws_auth_get(struct mason_aws_auth *auth, struct mason_aws_credentials *out,
                       struct mason_buf *err);

/* Drops cached temporary credentials, so the next get fetches new ones. */
void mason_aws_auth_invalidate(struct mason_aws_auth *auth);

/* Appends who the requests run as, for error messages: "role <arn>" or "access key <id>". */
int mason_aws_auth_describe(const struct mason_aws_auth *auth, struct mason_buf *out);

/* Replaces the clock used for expiry decisions (for tests); NULL restores time(). */
void mason_aws_auth_set_clock(struct mason_aws_auth *auth, time_t (*now)(void *arg), void *arg);

/* Returns the number of STS calls made so far. */
unsigned long mason_aws_auth_sts_calls(struct mason_aws_auth *auth);

/* A SigV4-signed POST. Strings are borrowed. */
struct mason_aws_request {
    const char *endpoint; /* "https://host[:port][/path]" */
    const char *region;
    const char *service; /* "sts" or "secretsmanager" */
    const char *content_type;
    const char *target; /* X-Amz-Target, or NULL */
    const char *body;
    size_t body_len;
};

/*
 * Signs req with creds (NULL sends it unsigned) and sends it. Returns 0 when
 * a reply arrived (status and reply set; wipe reply with
 * mason_secrets_buf_wipe) or an error from mason_secrets_http_send.
 */
int mason_aws_send(const struct mason_aws_request *req, const struct mason_aws_credentials *creds,
                   long *status, struct mason_buf *reply, struct mason_buf *err);

/*
 * Reads the Credentials element of an STS AssumeRole or
 * AssumeRoleWithWebIdentity reply into out. Returns 0 or MASON_EPARSE.
 */
int mason_aws_sts_parse_credentials(const char *xml, size_t len, struct mason_aws_credentials *out);

/* Appends the Code and Message of an STS error reply. Returns 0 or MASON_EPARSE. */
int mason_aws_sts_parse_error(const char *xml, size_t len, struct mason_buf *code,
                              struct mason_buf *message);

/*
 * Appends SecretString, or SecretBinary decoded from base64, of a Secrets
 * Manager GetSecretValue reply to value. Returns 0, MASON_EPARSE with err
 * naming the secret name, or a buffer error.
 */
int mason_aws_sm_parse_value(const char *name, const char *reply, size_t len,
                             struct mason_buf *value, struct mason_buf *err);

/* Parses "2024-05-01T12:00:00Z" (fractional seconds allowed) as UTC. Returns 0 or MASON_EPARSE. */
int mason_aws_parse_time(const char *text, time_t *out);

/*
 * Calls STS AssumeRoleWithWebIdentity (unsigned) or, when creds is set,
 * AssumeRole signed with creds. Fills out on success. Errors as
 * mason_aws_auth_get, with err naming role_arn.
 */
int mason_aws_sts_assume_role(const struct mason_aws_auth_config *cfg, const char *role_arn,
                              const struct mason_aws_credentials *creds, const char *web_token,
                              struct mason_aws_credentials *out, struct mason_buf *err);

/* Returns the credential chain of a backend made by mason_secrets_aws_backend_create. */
struct mason_aws_auth *mason_aws_backend_auth(struct mason_secret_backend *backend);

#endif
