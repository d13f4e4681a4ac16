/*
 * Vault KV v2 backend of the secret resolver (see vault.h). All lookups share
 * one token, which is renewed once two thirds of its lease have passed. A new
 * Kubernetes auth login replaces it when renewal fails, when it is not
 * renewable, when it has expired, or when a read is denied.
 */
#include "vault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets_http.h"
#include "banned.h"

struct vault_backend {
    struct mason_secret_backend base;
    char *address;
    char *role;
    char *mount_path;
    char *kv_mount;
    char *token_path;
    char *namespace_header; /* "X-Vault-Namespace: <ns>", or NULL */
    char *ca_file;
    pthread_mutex_t lock;
    struct mason_vault_lease lease; /* token empty until the first login */
    time_t obtained;                /* when lease was issued or last renewed */
    time_t (*now)(void *arg);
    void *now_arg;
    struct mason_vault_stats stats;
};

static time_t vault_now(const struct vault_backend *v)
{
    return v->now ? v->now(v->now_arg) : time(NULL);
}

/* Sends a request with the namespace, CA bundle and, when token is set, the token header. */
static int vault_send(struct vault_backend *v, const char *method, const char *url,
                      const char *token, const struct mason_buf *body, long *status,
                      struct mason_buf *reply, struct mason_buf *err)
{
    struct mason_secrets_http_request req = {method, url};
    struct mason_buf token_header = MASON_BUF_INIT;
    int rc = 0;

    req.ca_file = v->ca_file;
    if (v->namespace_header)
        rc = mason_secrets_http_add_header(&req, v->namespace_header);
    if (!rc && token)
        rc = mason_buf_addf(&token_header, "X-Vault-Token: %s", token);
    if (!rc && token)
        rc = mason_secrets_http_add_header(&req, mason_buf_str(&token_header));
    if (!rc && body) {
        req.body = mason_buf_str(body);
        req.body_len = body->len;
        rc = mason_secrets_http_add_header(&req, "Content-Type: application/json");
    }
    if (!rc)
        rc = mason_secrets_http_send(&req, status, reply, err);
    mason_secrets_buf_wipe(&token_header);
    return rc;
}

static int login_failure(struct vault_backend *v, long status, const struct mason_buf *reply,
                         struct mason_buf *err)
{
    mason_buf_addf(
        err,
        "Vault Kubernetes login with role \"%s\" at auth/%s/login failed with HTTP %ld: ", v->role,
        v->mount_path, status);
    mason_vault_parse_errors(reply->data ? reply->data : "", reply->len, err);
    if (status == 400 || status == 401 || status == 403) {
        mason_buf_adds(err,
                       "; check that the role exists and binds this service account and namespace");
        return status == 400 ? MASON_EUNAUTHORIZED : MASON_EFORBIDDEN;
    }
    return status >= 500 ? MASON_EUNAVAILABLE : MASON_EHTTP;
}

/* Logs in with the service-account token and stores the new lease. Called with the lock held. */
static int vault_login(struct vault_backend *v, struct mason_buf *err)
{
    struct mason_buf jwt = MASON_BUF_INIT, url = MASON_BUF_INIT, body = MASON_BUF_INIT;
    struct mason_buf reply = MASON_BUF_INIT;
    struct mason_vault_lease lease = {0};
    long status = 0;
    int rc = mason_secrets_read_token(v->token_path, &jwt, err);

    if (!rc)
        rc = mason_vault_login_url(v->address, v->mount_path, &url);
    if (!rc)
        rc = mason_vault_login_body(v->role, mason_buf_str(&jwt), &body);
    if (!rc) {
        v->stats.logins++;
        rc = vault_send(v, "POST", mason_buf_str(&url), NULL, &body, &status, &reply, err);
    }
    if (!rc && status != 200)
        rc = login_failure(v, status, &reply, err);
    if (!rc && mason_vault_parse_auth(reply.data ? reply.data : "", reply.len, &lease)) {
        mason_buf_addf(err, "Vault login at auth/%s/login returned no client token", v->mount_path);
        rc = MASON_EPARSE;
    }
    if (!rc) {
        mason_vault_lease_release(&v->lease);
        v->lease = lease;
        v->obtained = vault_now(v);
    }
    mason_secrets_buf_wipe(&jwt);
    mason_secrets_buf_wipe(&body);
    mason_secrets_buf_wipe(&reply);
    mason_buf_release(&url);
    return rc;
}

/* Extends the current token's lease. Returns 0, or an error after which the caller logs in. */
static int vault_renew(struct vault_backend *v)
{
    struct mason_buf url = MASON_BUF_INIT, body = MASON_BUF_INIT, reply = MASON_BUF_INIT;
    struct mason_buf ignored = MASON_BUF_INIT;
    struct mason_vault_lease lease = {0};
    long status = 0;
    int rc = mason_buf_addf(&url, "%s/v1/auth/token/renew-self", v->address);

    if (!rc)
        rc = mason_buf_adds(&body, "{}");
    if (!rc) {
        v->stats.renewals++;
        rc = vault_send(v, "POST", mason_buf_str(&url), v->lease.token, &body, &status, &reply,
                        &ignored);
    }
    if (!rc && status != 200)
        rc = MASON_EUNAUTHORIZED;
    if (!rc)
        rc = mason_vault_parse_auth(reply.data ? reply.data : "", reply.len, &lease);
    if (!rc) {
        mason_vault_lease_release(&v->lease);
        v->lease = lease;
        v->obtained = vault_now(v);
    }
    mason_secrets_buf_wipe(&reply);
    mason_buf_release(&url);
    mason_buf_release(&body);
    mason_buf_release(&ignored);
    return rc;
}

/* Makes sure v->lease holds a usable token. Called with the lock held. */
static int vault_ensure_token(struct vault_backend *v, struct mason_buf *err)
{
    switch (mason_vault_token_action(&v->lease, (long)(vault_now(v) - v->obtained))) {
    case MASON_VAULT_USE:
        return 0;
    case MASON_VAULT_RENEW:
        if (vault_renew(v) == 0)
            return 0;
        return vault_login(v, err);
    default:
        return vault_login(v, err);
    }
}

/* Copies the current token, logging in or renewing first when needed. */
static int vault_token(struct vault_backend *v, bool fresh_login, char **token,
                       struct mason_buf *err)
{
    int rc;

    pthread_mutex_lock(&v->lock);
    rc = fresh_login ? vault_login(v, err) : vault_ensure_token(v, err);
    *token = rc ? NULL : strdup(v->lease.token);
    if (!rc && !*token)
        rc = MASON_ENOMEM;
    pthread_mutex_unlock(&v->lock);
    return rc;
}

/* Reads name with a token. A 403 may mean the token was revoked, so it is retried once. */
static int vault_read(struct vault_backend *v, const char *url, bool fresh_login, long *status,
                      struct mason_buf *reply, struct mason_buf *err)
{
    char *token = NULL;
    int rc = vault_token(v, fresh_login, &token, err);

    if (!rc) {
        pthread_mutex_lock(&v->lock);
        v->stats.reads++;
        pthread_mutex_unlock(&v->lock);
        rc = vault_send(v, "GET", url, token, NULL, status, reply, err);
    }
    if (token)
        explicit_bzero(token, strlen(token));
    free(token);
    return rc;
}

/* Reads name from KV v2. e2e/test_secrets_vault.py runs this against a Vault dev server. */
static int vault_fetch(struct mason_secret_backend *backend, const char *name,
                       struct mason_buf *value, struct mason_buf *err)
{
    struct vault_backend *v = (struct vault_backend *)backend;
    struct mason_buf url = MASON_BUF_INIT, reply = MASON_BUF_INIT;
    long status = 0;
    int rc = mason_vault_kv_url(v->address, v->kv_mount, name, &url, err);

    if (!rc)
        rc = vault_read(v, mason_buf_str(&url), false, &status, &reply, err);
    if (!rc && status == 403) {
        mason_secrets_buf_wipe(&reply);
        rc = vault_read(v, mason_buf_str(&url), true, &status, &reply, err);
    }
    if (!rc && status != 200)
        rc = mason_vault_read_failure(name, v->kv_mount != NULL, v->role, status,
                                      reply.data ? reply.data : "", reply.len, err);
    if (!rc) {
        rc = mason_vault_parse_kv(reply.data ? reply.data : "", reply.len, value);
        if (rc == MASON_ENOTFOUND)
            mason_buf_addf(err, "the current version of Vault secret \"%s\" is deleted", name);
        else if (rc)
            mason_buf_addf(err, "Vault read of \"%s\" returned no KV v2 data object", name);
    }
    mason_secrets_buf_wipe(&reply);
    mason_buf_release(&url);
    return rc;
}

static void vault_destroy(struct mason_secret_backend *backend)
{
    struct vault_backend *v = (struct vault_backend *)backend;

    mason_vault_lease_release(&v->lease);
    free(v->address);
    free(v->role);
    free(v->mount_path);
    free(v->kv_mount);
    free(v->token_path);
    free(v->namespace_header);
    free(v->ca_file);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

static char *copy_or(const char *value, const char *fallback, bool *failed)
{
    const char *s = value ? value : fallback;
    char *copy = s ? strdup(s) : NULL;

    if (s && !copy)
        *failed = true;
    return copy;
}

/* Copies the configuration; address gets no trailing '/', and defaults fill unset keys. */
static bool copy_config(struct vault_backend *v, const struct mason_secret_backend_config *cfg)
{
    bool failed = false;
    size_t len;

    v->address = copy_or(cfg->address, NULL, &failed);
    v->role = copy_or(cfg->role, NULL, &failed);
    v->mount_path = copy_or(cfg->mount_path, MASON_VAULT_DEFAULT_AUTH_MOUNT, &failed);
    v->kv_mount = copy_or(cfg->kv_mount, NULL, &failed);
    v->token_path = copy_or(cfg->token_path, MASON_VAULT_DEFAULT_TOKEN_PATH, &failed);
    v->ca_file = copy_or(cfg->ca_file, NULL, &failed);
    if (cfg->namespace) {
        struct mason_buf header = MASON_BUF_INIT;

        failed |= mason_buf_addf(&header, "X-Vault-Namespace: %s", cfg->namespace) != 0;
        v->namespace_header = mason_buf_detach(&header);
        failed |= !v->namespace_header;
    }
    for (len = v->address ? strlen(v->address) : 0; len > 0 && v->address[len - 1] == '/'; len--)
        v->address[len - 1] = '\0';
    return !failed;
}

struct mason_secret_backend *
mason_secrets_vault_backend_create(const struct mason_secret_backend_config *cfg,
                                   struct mason_buf *err)
{
    struct vault_backend *v;

    if (!cfg->address || !cfg->role) {
        mason_buf_addf(err, "backend %s: config.address and config.role are required", cfg->scheme);
        return NULL;
    }
    v = calloc(1, sizeof(*v));
    if (!v) {
        mason_buf_adds(err, "out of memory");
        return NULL;
    }
    v->base.fetch = vault_fetch;
    v->base.destroy = vault_destroy;
    pthread_mutex_init(&v->lock, NULL);
    if (!copy_config(v, cfg)) {
        mason_buf_adds(err, "out of memory");
        vault_destroy(&v->base);
        return NULL;
    }
    return &v->base;
}

void mason_vault_backend_set_clock(struct mason_secret_backend *backend, time_t (*now)(void *arg),
                                   void *arg)
{
    struct vault_backend *v = (struct vault_backend *)backend;

    pthread_mutex_lock(&v->lock);
    v->now = now;
    v->now_arg = arg;
    pthread_mutex_unlock(&v->lock);
}

void mason_vault_backend_get_stats(struct mason_secret_backend *backend,
                                   struct mason_vault_stats *out)
{
    struct vault_backend *v = (struct vault_backend *)backend;

    pthread_mutex_lock(&v->lock);
    *out = v->stats;
    pthread_mutex_unlock(&v->lock);
}
