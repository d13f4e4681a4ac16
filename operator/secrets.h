/*
 * The secret resolver: turns an AgentTask's env list into container env
 * entries and the data of a per-run Secret. References name a backend by URI
 * scheme (k8s://secret/key, aws-sm://name#field, vault://path#field, or any
 * scheme the configuration gives a backend), pass the secret-reference policy,
 * and are fetched through a per-name cache with a TTL. Secret values are kept
 * only in memory and are wiped when the cache drops them.
 */
#ifndef MASON_SECRETS_H
#define MASON_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

#define MASON_SECRETS_DEFAULT_TTL_SECONDS 300u
#define MASON_SECRETS_MAX_VALUE_BYTES (1024u * 1024u) /* cap on one fetched document */

enum mason_secret_backend_kind {
    MASON_SECRET_BACKEND_K8S,
    MASON_SECRET_BACKEND_AWS_SM,
    MASON_SECRET_BACKEND_VAULT,
};

/* One entry of secret_resolver.backends. Strings are owned; unset ones are NULL. */
struct mason_secret_backend_config {
    char *scheme;
    enum mason_secret_backend_kind kind;
    unsigned cache_ttl_seconds; /* config.cache_ttl; 0 disables caching */
    /* aws-secrets-manager */
    char *region;          /* default: AWS_REGION, then AWS_DEFAULT_REGION */
    char *endpoint;        /* Secrets Manager URL, required */
    char *sts_endpoint;    /* STS URL, required for web identity or assume_role_arn */
    char *assume_role_arn; /* role assumed with STS AssumeRole after the base credentials */
    /* vault */
    char *address;    /* Vault URL, required */
    char *role;       /* Kubernetes auth role, required */
    char *mount_path; /* Kubernetes auth mount; default "kubernetes" */
    char *kv_mount;   /* KV v2 mount; when unset the first path segment of a reference */
    char *token_path; /* service-account token; default the in-cluster projected token */
    char *namespace;  /* sent as X-Vault-Namespace when set */
    char *ca_file;    /* CA bundle for TLS to the Vault address */
};

/* secret_resolver.policy. An empty allowed_schemes list allows every configured scheme. */
struct mason_secrets_policy {
    char **allowed_schemes;
    size_t allowed_scheme_count;
    char **blocked_env_patterns; /* fnmatch(3) globs matched against env var names */
    size_t blocked_env_pattern_count;
};

struct mason_secrets_config {
    struct mason_secret_backend_config *backends;
    size_t backend_count;
    struct mason_secrets_policy policy;
};

/*
 * Fills cfg from the secret_resolver object of the configuration (borrowed;
 * NULL or JSON null gives the defaults: one k8s backend for scheme "k8s").
 * Returns 0 or MASON_ECONFIG with err naming the key path, such as
 * "secret_resolver.backends[1].config.cache_ttl", and the reason; cfg is then
 * empty. Release cfg with mason_secrets_config_release.
 */
int mason_secrets_config_parse(const json_t *resolver, struct mason_secrets_config *cfg,
                               struct mason_buf *err);

/* Frees what cfg owns; cfg is empty afterwards. */
void mason_secrets_config_release(struct mason_secrets_config *cfg);

/* Parses a duration such as "30s", "5m", "1h" or "1h30m" into seconds (at most 24h).
 * Returns 0 or MASON_EINVAL. */
int mason_secrets_parse_duration(const char *text, unsigned *seconds);

/* A parsed reference; strings are owned. */
struct mason_secret_uri {
    char *scheme;
    char *name;  /* "secret/key" for k8s, the secret name or KV path otherwise */
    char *field; /* the part after '#', NULL when there is none */
};

/*
 * Splits ref into scheme, name and field, and checks them against what the
 * backend kind accepts. Returns 0 or MASON_EPARSE with err naming the
 * offending part. Release out with mason_secret_uri_release.
 */
int mason_secret_uri_parse(const char *ref, enum mason_secret_backend_kind kind,
                           struct mason_secret_uri *out, struct mason_buf *err);

/* Returns the scheme of ref (before "://") into out, or MASON_EPARSE. */
int mason_secret_uri_scheme(const char *ref, struct mason_buf *out, struct mason_buf *err);

void mason_secret_uri_release(struct mason_secret_uri *uri);

/* Why resolving failed: a condition reason (static string) and a message saying what to fix. */
struct mason_secret_failure {
    const char *reason;
    struct mason_buf message;
};

void mason_secret_failure_init(struct mason_secret_failure *f);
void mason_secret_failure_release(struct mason_secret_failure *f);

/*
 * Applies the policy to one env entry: the scheme must be allowed and the env
 * name must match no blocked pattern. Returns 0 or MASON_EPOLICY with f set
 * (reason SecretSchemeNotAllowed or SecretEnvNameBlocked). The webhook runs
 * the same check at admission.
 */
int mason_secrets_policy_check(const struct mason_secrets_policy *policy, const char *env_name,
                               const char *scheme, struct mason_secret_failure *f);

/*
 * An external store. fetch reads the whole secret called name into value
 * (capped at MASON_SECRETS_MAX_VALUE_BYTES): the SecretString of an AWS secret, or
 * the data object of a Vault KV v2 secret as JSON text. It returns 0,
 * MASON_ENOTFOUND, MASON_EFORBIDDEN, MASON_EUNAUTHORIZED, MASON_EUNAVAILABLE or
 * another MASON_E* code with err saying what to fix, never containing the
 * value. fetch is called from several threads at once.
 */
struct mason_secret_backend {
    int (*fetch)(struct mason_secret_backend *backend, const char *name, struct mason_buf *value,
                 struct mason_buf *err);
    void (*destroy)(struct mason_secret_backend *backend);
};

/* Backend constructors; NULL with err set on invalid configuration or no memory. */
struct mason_secret_backend *
mason_secrets_aws_backend_create(const struct mason_secret_backend_config *cfg,
                                 struct mason_buf *err);
struct mason_secret_backend *
mason_secrets_vault_backend_create(const struct mason_secret_backend_config *cfg,
                                   struct mason_buf *err);

/* The resolver: configuration, backends and cache. Thread-safe. */
struct mason_secrets;

/*
 * Creates a resolver and a backend for each external entry of cfg, and starts
 * a thread that evicts expired cache entries every second. The
 * resolver takes over what cfg owns, and cfg is empty on return, on failure
 * too. Returns NULL with err set when a backend cannot be created.
 */
struct mason_secrets *mason_secrets_create(struct mason_secrets_config *cfg, struct mason_buf *err);

/* Wipes every cached value and frees the resolver. NULL is a no-op. */
void mason_secrets_free(struct mason_secrets *s);

/* Replaces the backend of scheme (for tests and benchmarks); the resolver owns backend.
 * Returns 0 or MASON_ENOTFOUND when no configured backend has that scheme. */
int mason_secrets_set_backend(struct mason_secrets *s, const char *scheme,
                              struct mason_secret_backend *backend);

/* Replaces the clock used for cache expiry (for tests); NULL restores time(). */
void mason_secrets_set_clock(struct mason_secrets *s, time_t (*now)(void *arg), void *arg);

/*
 * Resolves one external reference (not k8s) into value: the field, or the
 * whole secret when the reference has no field. Concurrent lookups of one
 * name share one backend call, and later ones within the TTL use the cache.
 * Returns 0 or a MASON_E* code with f set. The caller wipes value with
 * mason_secrets_buf_wipe.
 */
int mason_secrets_lookup(struct mason_secrets *s, const char *ref, struct mason_buf *value,
                         struct mason_secret_failure *f);

/* Wipes and frees every cache entry whose TTL has passed. */
void mason_secrets_evict_expired(struct mason_secrets *s);

struct mason_secrets_stats {
    unsigned long lookups;
    unsigned long hits;          /* served from a fresh cache entry */
    unsigned long shared;        /* waited for another lookup's backend call */
    unsigned long backend_calls; /* fetch calls made */
    unsigned long entries;       /* entries in the cache now */
};

void mason_secrets_get_stats(struct mason_secrets *s, struct mason_secrets_stats *out);

/* Zeroes the bytes of b, including unused allocation, then releases it. */
void mason_secrets_buf_wipe(struct mason_buf *b);

/* Key/value pairs for the per-run Secret (keys are env var names). Values are wiped on free. */
struct mason_secret_data;

void mason_secret_data_free(struct mason_secret_data *data);
size_t mason_secret_data_count(const struct mason_secret_data *data);

/* Returns the value stored under key (borrowed) and its length, or NULL. */
const char *mason_secret_data_get(const struct mason_secret_data *data, const char *key,
                                  size_t *len);

/*
 * Resolves an AgentTask's spec.env (borrowed JSON array of {name, value} or
 * {name, secretRef}; entries with valueFrom are copied as they are). Every
 * reference is parsed and checked against the policy before anything is
 * fetched, and blocked_env_patterns apply to every entry, as at admission.
 * k8s references become secretKeyRef entries on their own Secret;
 * external ones become secretKeyRef entries on run_secret_name, keyed by the
 * env name, and their values go into *data.
 * On success *container_env is a new reference and *data is owned by the
 * caller (NULL when no external reference was used). Returns 0 or a MASON_E*
 * code with f naming the env entry and what to fix; outputs are NULL then.
 */
int mason_secrets_resolve_env(struct mason_secrets *s, const json_t *env,
                              const char *run_secret_name, json_t **container_env,
                              struct mason_secret_data **data, struct mason_secret_failure *f);

/* The AgentTask that owns a per-run Secret. Strings are borrowed. */
struct mason_run_secret_owner {
    const char *namespace;
    const char *task_name;
    const char *task_uid;
    const char *run; /* run id, written to the mason.dev/run label */
};

/*
 * Appends the per-run Secret name for owner to out: "<task>-<run>-env",
 * shortened to a valid object name. Returns 0 or a buffer error.
 */
int mason_secrets_run_secret_name(const struct mason_run_secret_owner *owner,
                                  struct mason_buf *out);

/*
 * Builds the per-run Secret object (a new reference): type Opaque, in the
 * owner's namespace, labelled with the task and run, with an owner reference
 * to the AgentTask (controller, blockOwnerDeletion), and data holding each
 * value base64-encoded. Returns NULL when memory runs out.
 * NOTE: jansson does not wipe the strings it frees, so the caller should
 * send this object and drop it at once.
 */
json_t *mason_secrets_build_run_secret(const struct mason_run_secret_owner *owner, const char *name,
                                       const struct mason_secret_data *data);

#endif
