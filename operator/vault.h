/*
 * The Vault backend of the secret resolver: Kubernetes auth login with the
 * pod's service-account token, token renewal and re-login, and KV v2 reads.
 * OpenBao serves the same HTTP API, but only Vault has run against it. The
 * request and reply helpers are exported for the unit tests.
 */
#ifndef MASON_VAULT_H
#define MASON_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "secrets.h"

/* The projected service-account token of an in-cluster pod. */
#define MASON_VAULT_DEFAULT_TOKEN_PATH "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define MASON_VAULT_DEFAULT_AUTH_MOUNT "kubernetes"

/* The auth block of a login or renew-self reply. */
struct mason_vault_lease {
    char *token;             /* client_token, owned and wiped on release */
    unsigned lease_duration; /* seconds; 0 means the token does not expire */
    bool renewable;
};

void mason_vault_lease_release(struct mason_vault_lease *lease);

/*
 * Appends the KV v2 read URL of name to out: <address>/v1/<mount>/data/<path>.
 * The mount is kv_mount when set, else the first segment of name. Returns 0,
 * or MASON_EINVAL with err set when name leaves no path after the mount.
 */
int mason_vault_kv_url(const char *address, const char *kv_mount, const char *name,
                       struct mason_buf *out, struct mason_buf *err);

/* Appends the Kubernetes auth login URL: <address>/v1/auth/<mount_path>/login. */
int mason_vault_login_url(const char *address, const char *mount_path, struct mason_buf *out);

/* Appends the JSON body of a Kubernetes auth login. Returns 0 or a buffer error. */
int mason_vault_login_body(const char *role, const char *jwt, struct mason_buf *out);

/* Reads the auth block of a login or renew-self reply. Returns 0 or MASON_EPARSE. */
int mason_vault_parse_auth(const char *reply, size_t len, struct mason_vault_lease *out);

/*
 * Appends data.data of a KV v2 read reply as compact JSON to value. Returns 0,
 * MASON_ENOTFOUND when the version was deleted or destroyed, or MASON_EPARSE.
 */
int mason_vault_parse_kv(const char *reply, size_t len, struct mason_buf *value);

/* Appends the errors list of a Vault error reply, joined with "; ", or nothing. */
void mason_vault_parse_errors(const char *reply, size_t len, struct mason_buf *out);

/*
 * Appends why a KV v2 read of name failed with HTTP status, and returns the
 * code. 404 gives MASON_ENOTFOUND: Vault returns 404 both for a missing
 * secret and for a deleted or destroyed current version. 403 gives
 * MASON_EFORBIDDEN with a message naming role, 429 MASON_ETHROTTLED, 5xx
 * MASON_EUNAVAILABLE, and any other status MASON_EHTTP. kv_mount_set tells
 * whether config.kv_mount is set, for the hint of a 404.
 */
int mason_vault_read_failure(const char *name, bool kv_mount_set, const char *role, long status,
                             const char *reply, size_t len, struct mason_buf *err);

/* The step to take with the current token before a read. */
enum mason_vault_token_action {
    MASON_VAULT_USE,   /* the token is fresh enough */
    MASON_VAULT_RENEW, /* two thirds of the lease have passed and the token is renewable */
    MASON_VAULT_LOGIN, /* no token, lease over, or not renewable and two thirds passed */
};

/*
 * Decides what to do with lease, issued or last renewed age seconds ago
 * (lease NULL or without token means there is none). When renewal fails, the
 * caller logs in.
 */
enum mason_vault_token_action mason_vault_token_action(const struct mason_vault_lease *lease,
                                                       long age);

/* Replaces the clock used for token expiry of a Vault backend (for tests); NULL restores time(). */
void mason_vault_backend_set_clock(struct mason_secret_backend *backend, time_t (*now)(void *arg),
                                   void *arg);

/* Login and renewal counts of a Vault backend. */
struct mason_vault_stats {
    unsigned long logins;
    unsigned long renewals;
    unsigned long reads;
};

void mason_vault_backend_get_stats(struct mason_secret_backend *backend,
                                   struct mason_vault_stats *out);

#endif
