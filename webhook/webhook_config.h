/*
 * The webhook's configuration file (YAML): where it listens, its TLS files,
 * its own namespace, the default mode, exemptions and request limits.
 * The secret_resolver section has the operator's format and is parsed by
 * mason_secrets_config_parse, so webhook and operator read one policy.
 */
#ifndef MASON_WEBHOOK_CONFIG_H
#define MASON_WEBHOOK_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/* The action on a pod that breaks the policy. */
enum mason_mode {
    MASON_MODE_ENFORCE, /* deny it */
    MASON_MODE_WARN,    /* admit it with a warning per violation */
    MASON_MODE_AUDIT,   /* admit it with an audit annotation listing the violations */
};

#define MASON_WEBHOOK_DEFAULT_LISTEN "127.0.0.1:8443"
#define MASON_WEBHOOK_DEFAULT_MAX_BODY (3u * 1024u * 1024u)
#define MASON_WEBHOOK_DEFAULT_TIMEOUT_SECONDS 5u
#define MASON_WEBHOOK_DEFAULT_THREADS 4u

struct mason_string_list {
    char **items;
    size_t count;
};

/* Strings and lists are owned. */
/* The operator's identity as the Helm chart and config/rbac install it. */
#define MASON_WEBHOOK_OPERATOR_USER "system:serviceaccount:mason-system:mason-operator"

struct mason_webhook_config {
    char *listen;    /* host:port or [v6]:port; port 0 picks a free port */
    char *cert_file; /* PEM serving certificate (chain) */
    char *key_file;  /* PEM private key */
    char *namespace; /* the webhook's own namespace, never governed; NULL when unknown */
    char *log_level;
    enum mason_mode default_mode; /* for /validate/pods without a mode suffix */
    struct mason_string_list exempt_namespaces;
    struct mason_string_list exempt_usernames;
    struct mason_string_list exempt_runtime_classes;
    /* Users whose mason.dev/approved-by value is kept, because they record someone else's
     * decision: the operator's ServiceAccount, which writes Slack decisions. */
    struct mason_string_list approval_recorders;
    size_t max_body_bytes;
    unsigned request_timeout_seconds;
    unsigned threads;
};

/* Fills cfg with the defaults: kube-system exempt, enforce mode, the limits above. */
int mason_webhook_config_init(struct mason_webhook_config *cfg);

/*
 * Fills cfg from the parsed configuration root (borrowed; NULL or JSON null
 * gives the defaults). The key secret_resolver is accepted and left to
 * mason_secrets_config_parse. Returns 0, or MASON_ECONFIG with err naming the
 * key and the reason; cfg is released then. Release cfg with
 * mason_webhook_config_release.
 */
int mason_webhook_config_parse(const json_t *root, struct mason_webhook_config *cfg,
                               struct mason_buf *err);

void mason_webhook_config_release(struct mason_webhook_config *cfg);

/* Parses "enforce", "warn" or "audit". Returns 0 or MASON_EINVAL. */
int mason_mode_parse(const char *text, enum mason_mode *mode);

/* Returns the mode's name. */
const char *mason_mode_name(enum mason_mode mode);

/* Returns whether list contains s. */
int mason_string_list_contains(const struct mason_string_list *list, const char *s);

#endif
