/*
 * The AWS credential chain (see aws.h): static keys from the environment,
 * else web identity (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, as IRSA
 * sets them), then AssumeRole of assume_role_arn when it is configured.
 */
#include "aws.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets_http.h"
#include "banned.h"

struct mason_aws_auth {
    struct mason_aws_auth_config cfg; /* strings owned, copied at creation */
    pthread_mutex_t lock;
    struct mason_aws_credentials base; /* static keys or web identity; empty until loaded */
    struct mason_aws_credentials role; /* assume_role_arn; empty until loaded */
    time_t (*now)(void *arg);
    void *now_arg;
    unsigned long sts_calls;
};

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

void mason_aws_auth_config_from_env(struct mason_aws_auth_config *cfg)
{
    cfg->access_key_id = env("AWS_ACCESS_KEY_ID");
    cfg->secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    cfg->session_token = env("AWS_SESSION_TOKEN");
    cfg->web_identity_role_arn = env("AWS_ROLE_ARN");
    cfg->web_identity_token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    cfg->role_session_name = env("AWS_ROLE_SESSION_NAME");
}

/* The config strings, in one table so copying and freeing cannot miss one. */
static const char **config_field(struct mason_aws_auth_config *cfg, size_t i)
{
    const char **fields[] = {
        &cfg->region,
        &cfg->sts_endpoint,
        &cfg->assume_role_arn,
        &cfg->access_key_id,
        &cfg->secret_access_key,
        &cfg->session_token,
        &cfg->web_identity_role_arn,
        &cfg->web_identity_token_file,
        &cfg->role_session_name,
    };

    return i < sizeof(fields) / sizeof(fields[0]) ? fields[i] : NULL;
}

static void config_free(struct mason_aws_auth_config *cfg)
{
    const char **field;

    for (size_t i = 0; (field = config_field(cfg, i)) != NULL; i++) {
        if (*field)
            explicit_bzero((char *)*field, strlen(*field));
        free((char *)*field);
        *field = NULL;
    }
}

static int config_copy(struct mason_aws_auth_config *dst, const struct mason_aws_auth_config *src)
{
    const char **field;

    *dst = *src;
    for (size_t i = 0; (field = config_field(dst, i)) != NULL; i++) {
        if (*field && !(*field = strdup(*field))) {
            for (size_t j = i + 1; (field = config_field(dst, j)) != NULL; j++)
                *field = NULL;
            config_free(dst);
            return MASON_ENOMEM;
        }
    }
    return 0;
}

static bool uses_web_identity(const struct mason_aws_auth_config *cfg)
{
    return !cfg->access_key_id && cfg->web_identity_role_arn && cfg->web_identity_token_file;
}

static int check_config(const struct mason_aws_auth_config *cfg, struct mason_buf *err)
{
    if (!cfg->region) {
        mason_buf_adds(err, "no AWS region: set config.region or AWS_REGION");
        return MASON_ECONFIG;
    }
    if (cfg->access_key_id && !cfg->secret_access_key) {
        mason_buf_adds(err, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
        return MASON_ECONFIG;
    }
    if (!cfg->access_key_id && !uses_web_identity(cfg)) {
        mason_buf_adds(
            err,
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (IRSA sets both)");
        return MASON_ECONFIG;
    }
    if ((uses_web_identity(cfg) || cfg->assume_role_arn) && !cfg->sts_endpoint) {
        mason_buf_adds(
            err,
            "config.sts_endpoint is missing: it is required for web identity and assume_role_arn");
        return MASON_ECONFIG;
    }
    return 0;
}

struct mason_aws_auth *mason_aws_auth_create(const struct mason_aws_auth_config *cfg,
                                             struct mason_buf *err)
{
    struct mason_aws_auth *auth;

    if (check_config(cfg, err))
        return NULL;
    auth = calloc(1, sizeof(*auth));
    if (!auth || config_copy(&auth->cfg, cfg)) {
        free(auth);
        mason_buf_adds(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&auth->lock, NULL);
    return auth;
}

void mason_aws_auth_free(struct mason_aws_auth *auth)
{
    if (!auth)
        return;
    mason_aws_credentials_release(&auth->base);
    mason_aws_credentials_release(&auth->role);
    config_free(&auth->cfg);
    pthread_mutex_destroy(&auth->lock);
    free(auth);
}

static time_t auth_now(const struct mason_aws_auth *auth)
{
    return auth->now ? auth->now(auth->now_arg) : time(NULL);
}

/* True when c is missing or expires within the refresh margin. */
static bool needs_refresh(const struct mason_aws_auth *auth, const struct mason_aws_credentials *c)
{
    if (!c->access_key_id)
        return true;
    return c->expires && auth_now(auth) >= c->expires - MASON_AWS_REFRESH_MARGIN_SECONDS;
}

static int load_base(struct mason_aws_auth *auth, struct mason_buf *err)
{
    const struct mason_aws_auth_config *cfg = &auth->cfg;
    struct mason_aws_credentials fresh = {0};
    struct mason_buf token = MASON_BUF_INIT;
    int rc;

    if (cfg->access_key_id) {
        struct mason_aws_credentials keys = {(char *)cfg->access_key_id,
                                             (char *)cfg->secret_access_key,
                                             (char *)cfg->session_token, 0};

        rc = mason_aws_credentials_copy(&fresh, &keys);
    } else {
        rc = mason_secrets_read_token(cfg->web_identity_token_file, &token, err);
        if (rc)
            mason_buf_adds(err, " (AWS_WEB_IDENTITY_TOKEN_FILE)");
        if (!rc) {
            auth->sts_calls++;
            rc = mason_aws_sts_assume_role(cfg, cfg->web_identity_role_arn, NULL,
                                           mason_buf_str(&token), &fresh, err);
        }
    }
    mason_secrets_buf_wipe(&token);
    if (rc)
        return rc;
    mason_aws_credentials_release(&auth->base);
    auth->base = fresh;
    return 0;
}

static int load_role(struct mason_aws_auth *auth, struct mason_buf *err)
{
    struct mason_aws_credentials fresh = {0};
    int rc;

    auth->sts_calls++;
    rc = mason_aws_sts_assume_role(&auth->cfg, auth->cfg.assume_role_arn, &auth->base, NULL, &fresh,
                                   err);
    if (rc)
        return rc;
    mason_aws_credentials_release(&auth->role);
    auth->role = fresh;
    return 0;
}

int mason_aws_auth_get(struct mason_aws_auth *auth, struct mason_aws_credentials *out,
                       struct mason_buf *err)
{
    int rc = 0;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&auth->lock);
    if (needs_refresh(auth, &auth->base))
        rc = load_base(auth, err);
    if (!rc && auth->cfg.assume_role_arn && needs_refresh(auth, &auth->role))
        rc = load_role(auth, err);
    if (!rc)
        rc = mason_aws_credentials_copy(out, auth->cfg.assume_role_arn ? &auth->role : &auth->base);
    pthread_mutex_unlock(&auth->lock);
    return rc;
}

void mason_aws_auth_invalidate(struct mason_aws_auth *auth)
{
    pthread_mutex_lock(&auth->lock);
    if (auth->base.expires)
        mason_aws_credentials_release(&auth->base);
    mason_aws_credentials_release(&auth->role);
    pthread_mutex_unlock(&auth->lock);
}

int mason_aws_auth_describe(const struct mason_aws_auth *auth, struct mason_buf *out)
{
    const struct mason_aws_auth_config *cfg = &auth->cfg;

    if (cfg->assume_role_arn)
        return mason_buf_addf(out, "role %s", cfg->assume_role_arn);
    if (cfg->access_key_id)
        return mason_buf_addf(out, "access key %s", cfg->access_key_id);
    return mason_buf_addf(out, "role %s", cfg->web_identity_role_arn);
}

void mason_aws_auth_set_clock(struct mason_aws_auth *auth, time_t (*now)(void *arg), void *arg)
{
    pthread_mutex_lock(&auth->lock);
    auth->now = now;
    auth->now_arg = arg;
    pthread_mutex_unlock(&auth->lock);
}

unsigned long mason_aws_auth_sts_calls(struct mason_aws_auth *auth)
{
    unsigned long n;

    pthread_mutex_lock(&auth->lock);
    n = auth->sts_calls;
    pthread_mutex_unlock(&auth->lock);
    return n;
}
