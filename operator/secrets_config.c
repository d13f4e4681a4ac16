/* Configuration, reference parsing and policy of the secret resolver (see secrets.h). */
#include "secrets.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

#define MAX_DURATION_SECONDS 86400u
#define MAX_SCHEME_LEN 32
#define MAX_REF_LEN 2048

struct kind_name {
    const char *name;
    enum mason_secret_backend_kind kind;
};

static const struct kind_name kind_names[] = {
    {"k8s", MASON_SECRET_BACKEND_K8S},
    {"aws-secrets-manager", MASON_SECRET_BACKEND_AWS_SM},
    {"vault", MASON_SECRET_BACKEND_VAULT},
};

/* A string key of backends[].config, where it lives and which kinds accept it. */
struct config_key {
    const char *key;
    size_t offset;
    unsigned kinds; /* bit per enum mason_secret_backend_kind */
};

#define AWS_BIT (1u << MASON_SECRET_BACKEND_AWS_SM)
#define VAULT_BIT (1u << MASON_SECRET_BACKEND_VAULT)
/* clang-format off */
#define KEY(name, kinds) {#name, offsetof(struct mason_secret_backend_config, name), kinds}

static const struct config_key config_keys[] = {
    KEY(region, AWS_BIT),      KEY(endpoint, AWS_BIT),   KEY(sts_endpoint, AWS_BIT),
    KEY(assume_role_arn, AWS_BIT), KEY(address, VAULT_BIT), KEY(role, VAULT_BIT),
    KEY(mount_path, VAULT_BIT), KEY(kv_mount, VAULT_BIT), KEY(token_path, VAULT_BIT),
    KEY(namespace, VAULT_BIT), KEY(ca_file, VAULT_BIT),
};
/* clang-format on */

int mason_secrets_parse_duration(const char *text, unsigned *seconds)
{
    unsigned long total = 0;
    const char *p = text;

    if (!text || !*text)
        return MASON_EINVAL;
    while (*p) {
        char *end;
        unsigned long n;

        if (!isdigit((unsigned char)*p))
            return MASON_EINVAL;
        n = strtoul(p, &end, 10);
        if (n > MAX_DURATION_SECONDS)
            return MASON_EINVAL;
        if (*end == 's')
            total += n;
        else if (*end == 'm')
            total += n * 60;
        else if (*end == 'h')
            total += n * 3600;
        else
            return MASON_EINVAL;
        if (total > MAX_DURATION_SECONDS)
            return MASON_EINVAL;
        p = end + 1;
    }
    *seconds = (unsigned)total;
    return 0;
}

static void free_strings(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

static void backend_config_release(struct mason_secret_backend_config *b)
{
    free(b->scheme);
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
        free(*(char **)((char *)b + config_keys[i].offset));
    memset(b, 0, sizeof(*b));
}

void mason_secrets_config_release(struct mason_secrets_config *cfg)
{
    for (size_t i = 0; i < cfg->backend_count; i++)
        backend_config_release(&cfg->backends[i]);
    free(cfg->backends);
    free_strings(cfg->policy.allowed_schemes, cfg->policy.allowed_scheme_count);
    free_strings(cfg->policy.blocked_env_patterns, cfg->policy.blocked_env_pattern_count);
    memset(cfg, 0, sizeof(*cfg));
}

static bool valid_scheme(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > MAX_SCHEME_LEN || !islower((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' &&
            s[i] != '+' && s[i] != '.')
            return false;
    return true;
}

static int parse_string_list(const json_t *list, const char *path, char ***out, size_t *count,
                             struct mason_buf *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(list)) {
        mason_buf_addf(err, "%s: must be a list of strings", path);
        return MASON_ECONFIG;
    }
    *out = calloc(json_array_size(list) + 1, sizeof(char *));
    if (!*out)
        return MASON_ENOMEM;
    json_array_foreach(list, i, item)
    {
        if (!json_is_string(item)) {
            mason_buf_addf(err, "%s[%zu]: must be a string", path, i);
            return MASON_ECONFIG;
        }
        (*out)[i] = strdup(json_string_value(item));
        if (!(*out)[i])
            return MASON_ENOMEM;
        *count = i + 1;
    }
    return 0;
}

static int parse_policy(const json_t *policy, struct mason_secrets_policy *out,
                        struct mason_buf *err)
{
    const char *key;
    json_t *value;
    int rc = 0;

    if (!json_is_object(policy)) {
        mason_buf_adds(err, "secret_resolver.policy: must be a mapping");
        return MASON_ECONFIG;
    }
    json_object_foreach((json_t *)policy, key, value)
    {
        if (!strcmp(key, "allowed_schemes"))
            rc = parse_string_list(value, "secret_resolver.policy.allowed_schemes",
                                   &out->allowed_schemes, &out->allowed_scheme_count, err);
        else if (!strcmp(key, "blocked_env_patterns"))
            rc =
                parse_string_list(value, "secret_resolver.policy.blocked_env_patterns",
                                  &out->blocked_env_patterns, &out->blocked_env_pattern_count, err);
        else {
            mason_buf_addf(
                err,
                "secret_resolver.policy: unknown key \"%s\" (expected allowed_schemes or blocked_env_patterns)",
                key);
            rc = MASON_ECONFIG;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static const struct config_key *find_config_key(const char *key)
{
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
        if (!strcmp(config_keys[i].key, key))
            return &config_keys[i];
    return NULL;
}

static const char *kind_name(enum mason_secret_backend_kind kind)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (kind_names[i].kind == kind)
            return kind_names[i].name;
    return "?";
}

static int parse_config_entry(struct mason_secret_backend_config *b, const char *path,
                              const char *key, const json_t *value, struct mason_buf *err)
{
    const struct config_key *ck = find_config_key(key);

    if (!strcmp(key, "auth_method") && b->kind == MASON_SECRET_BACKEND_VAULT) {
        /* Osmia's key; Kubernetes auth is the only method the Vault backend implements. */
        if (!json_is_string(value) || strcmp(json_string_value(value), "kubernetes")) {
            mason_buf_addf(err, "%s.auth_method: unsupported (the only method is \"kubernetes\")",
                           path);
            return MASON_ECONFIG;
        }
        return 0;
    }
    if (!strcmp(key, "cache_ttl")) {
        if (!json_is_string(value) ||
            mason_secrets_parse_duration(json_string_value(value), &b->cache_ttl_seconds)) {
            mason_buf_addf(
                err,
                "%s.cache_ttl: invalid duration (expected a number with s, m or h, such as \"5m\", at most 24h)",
                path);
            return MASON_ECONFIG;
        }
        return 0;
    }
    if (!ck) {
        mason_buf_addf(err, "%s: unknown key \"%s\"", path, key);
        return MASON_ECONFIG;
    }
    if (!(ck->kinds & (1u << b->kind))) {
        mason_buf_addf(err, "%s.%s: not valid for backend %s", path, key, kind_name(b->kind));
        return MASON_ECONFIG;
    }
    if (!json_is_string(value) || !*json_string_value(value)) {
        mason_buf_addf(err, "%s.%s: must be a non-empty string", path, key);
        return MASON_ECONFIG;
    }
    *(char **)((char *)b + ck->offset) = strdup(json_string_value(value));
    return *(char **)((char *)b + ck->offset) ? 0 : MASON_ENOMEM;
}

static int require_key(const char *value, const char *path, const char *key, struct mason_buf *err)
{
    if (value)
        return 0;
    mason_buf_addf(err, "%s.%s: missing (required for this backend)", path, key);
    return MASON_ECONFIG;
}

static int parse_backend_config(const json_t *config, struct mason_secret_backend_config *b,
                                const char *path, struct mason_buf *err)
{
    const char *key;
    json_t *value;
    int rc;

    if (config && !json_is_object(config)) {
        mason_buf_addf(err, "%s: must be a mapping", path);
        return MASON_ECONFIG;
    }
    json_object_foreach((json_t *)config, key, value)
    {
        rc = parse_config_entry(b, path, key, value, err);
        if (rc)
            return rc;
    }
    if (b->kind == MASON_SECRET_BACKEND_AWS_SM)
        return require_key(b->endpoint, path, "endpoint", err);
    if (b->kind == MASON_SECRET_BACKEND_VAULT) {
        rc = require_key(b->address, path, "address", err);
        return rc ? rc : require_key(b->role, path, "role", err);
    }
    return 0;
}

static int parse_kind(const json_t *value, enum mason_secret_backend_kind *kind)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
        if (json_is_string(value) && !strcmp(json_string_value(value), kind_names[i].name)) {
            *kind = kind_names[i].kind;
            return 0;
        }
    }
    return MASON_ECONFIG;
}

static int check_backend_keys(const json_t *entry, const char *path, struct mason_buf *err)
{
    const char *key;
    json_t *value;

    if (!json_is_object(entry)) {
        mason_buf_addf(err, "%s: must be a mapping with scheme, backend and config", path);
        return MASON_ECONFIG;
    }
    json_object_foreach((json_t *)entry, key, value)
    {
        if (strcmp(key, "scheme") && strcmp(key, "backend") && strcmp(key, "config")) {
            mason_buf_addf(err, "%s: unknown key \"%s\" (expected scheme, backend or config)", path,
                           key);
            return MASON_ECONFIG;
        }
    }
    return 0;
}

static int parse_backend(const json_t *entry, size_t index, struct mason_secret_backend_config *b,
                         struct mason_buf *err)
{
    const json_t *scheme = json_object_get(entry, "scheme");
    char path[96], config_path[112];
    int rc;

    snprintf(path, sizeof(path), "secret_resolver.backends[%zu]", index);
    snprintf(config_path, sizeof(config_path), "%s.config", path);
    rc = check_backend_keys(entry, path, err);
    if (rc)
        return rc;
    if (!json_is_string(scheme) || !valid_scheme(json_string_value(scheme))) {
        mason_buf_addf(
            err,
            "%s.scheme: missing or invalid (expected lowercase letters, digits, '-', '+' or '.', starting with a letter, such as \"aws-sm\")",
            path);
        return MASON_ECONFIG;
    }
    if (parse_kind(json_object_get(entry, "backend"), &b->kind)) {
        mason_buf_addf(
            err, "%s.backend: missing or invalid (expected k8s, aws-secrets-manager or vault)",
            path);
        return MASON_ECONFIG;
    }
    b->scheme = strdup(json_string_value(scheme));
    b->cache_ttl_seconds = MASON_SECRETS_DEFAULT_TTL_SECONDS;
    if (!b->scheme)
        return MASON_ENOMEM;
    return parse_backend_config(json_object_get(entry, "config"), b, config_path, err);
}

static int add_default_backend(struct mason_secrets_config *cfg)
{
    cfg->backends = calloc(1, sizeof(*cfg->backends));
    if (!cfg->backends)
        return MASON_ENOMEM;
    cfg->backends[0].scheme = strdup("k8s");
    cfg->backends[0].kind = MASON_SECRET_BACKEND_K8S;
    cfg->backends[0].cache_ttl_seconds = MASON_SECRETS_DEFAULT_TTL_SECONDS;
    cfg->backend_count = 1;
    return cfg->backends[0].scheme ? 0 : MASON_ENOMEM;
}

static int parse_backends(const json_t *list, struct mason_secrets_config *cfg,
                          struct mason_buf *err)
{
    size_t i;
    json_t *entry;
    int rc;

    if (!list)
        return add_default_backend(cfg);
    if (!json_is_array(list)) {
        mason_buf_adds(err, "secret_resolver.backends: must be a list");
        return MASON_ECONFIG;
    }
    cfg->backends = calloc(json_array_size(list) + 1, sizeof(*cfg->backends));
    if (!cfg->backends)
        return MASON_ENOMEM;
    json_array_foreach(list, i, entry)
    {
        cfg->backend_count = i + 1;
        rc = parse_backend(entry, i, &cfg->backends[i], err);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->backends[j].scheme, cfg->backends[i].scheme)) {
                mason_buf_addf(
                    err,
                    "secret_resolver.backends[%zu].scheme: \"%s\" is already used by backends[%zu]",
                    i, cfg->backends[i].scheme, j);
                return MASON_ECONFIG;
            }
        }
    }
    return 0;
}

static bool has_scheme(const struct mason_secrets_config *cfg, const char *scheme)
{
    for (size_t i = 0; i < cfg->backend_count; i++)
        if (!strcmp(cfg->backends[i].scheme, scheme))
            return true;
    return false;
}

static int check_allowed_schemes(const struct mason_secrets_config *cfg, struct mason_buf *err)
{
    for (size_t i = 0; i < cfg->policy.allowed_scheme_count; i++) {
        if (!has_scheme(cfg, cfg->policy.allowed_schemes[i])) {
            mason_buf_addf(
                err, "secret_resolver.policy.allowed_schemes[%zu]: no backend has scheme \"%s\"", i,
                cfg->policy.allowed_schemes[i]);
            return MASON_ECONFIG;
        }
    }
    return 0;
}

static int parse_resolver(const json_t *resolver, struct mason_secrets_config *cfg,
                          struct mason_buf *err)
{
    const char *key;
    json_t *value;
    int rc;

    if (!json_is_object(resolver)) {
        mason_buf_adds(err, "secret_resolver: must be a mapping");
        return MASON_ECONFIG;
    }
    json_object_foreach((json_t *)resolver, key, value)
    {
        if (strcmp(key, "backends") && strcmp(key, "policy")) {
            mason_buf_addf(err, "secret_resolver: unknown key \"%s\" (expected backends or policy)",
                           key);
            return MASON_ECONFIG;
        }
    }
    rc = parse_backends(json_object_get(resolver, "backends"), cfg, err);
    if (!rc && json_object_get(resolver, "policy"))
        rc = parse_policy(json_object_get(resolver, "policy"), &cfg->policy, err);
    if (!rc)
        rc = check_allowed_schemes(cfg, err);
    return rc;
}

int mason_secrets_config_parse(const json_t *resolver, struct mason_secrets_config *cfg,
                               struct mason_buf *err)
{
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    if (!resolver || json_is_null(resolver))
        rc = add_default_backend(cfg);
    else
        rc = parse_resolver(resolver, cfg, err);
    if (rc)
        mason_secrets_config_release(cfg);
    return rc;
}

void mason_secret_uri_release(struct mason_secret_uri *uri)
{
    free(uri->scheme);
    free(uri->name);
    free(uri->field);
    memset(uri, 0, sizeof(*uri));
}

int mason_secret_uri_scheme(const char *ref, struct mason_buf *out, struct mason_buf *err)
{
    const char *sep = ref ? strstr(ref, "://") : NULL;
    char scheme[MAX_SCHEME_LEN + 1];
    size_t len = sep ? (size_t)(sep - ref) : 0;

    if (!sep || len == 0 || len > MAX_SCHEME_LEN) {
        mason_buf_adds(
            err,
            "the scheme is missing or too long (expected <scheme>://..., such as aws-sm://prod/db#password)");
        return MASON_EPARSE;
    }
    memcpy(scheme, ref, len);
    scheme[len] = '\0';
    if (!valid_scheme(scheme)) {
        mason_buf_addf(
            err, "scheme \"%s\" is invalid (expected lowercase letters, digits, '-', '+' or '.')",
            scheme);
        return MASON_EPARSE;
    }
    return mason_buf_adds(out, scheme);
}

static bool chars_in(const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

static int check_k8s(const struct mason_secret_uri *u, struct mason_buf *err)
{
    const char *slash = strchr(u->name, '/');
    size_t name_len = slash ? (size_t)(slash - u->name) : strlen(u->name);

    if (u->field) {
        mason_buf_addf(
            err, "fragment \"#%s\" is not used by k8s references (expected k8s://<secret>/<key>)",
            u->field);
        return MASON_EPARSE;
    }
    if (!slash || name_len == 0) {
        mason_buf_adds(err, "the secret name or key is missing (expected k8s://<secret>/<key>)");
        return MASON_EPARSE;
    }
    for (size_t i = 0; i < name_len; i++) {
        char c = u->name[i];

        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.') ||
            name_len > 253 || u->name[0] == '-' || u->name[0] == '.') {
            mason_buf_addf(
                err, "secret name \"%.*s\" is invalid (expected a lowercase DNS subdomain name)",
                (int)name_len, u->name);
            return MASON_EPARSE;
        }
    }
    if (!slash[1] || strlen(slash + 1) > 253 || !chars_in(slash + 1, strlen(slash + 1), "-._")) {
        mason_buf_addf(err, "key \"%s\" is invalid (expected letters, digits, '-', '_' or '.')",
                       slash + 1);
        return MASON_EPARSE;
    }
    return 0;
}

static int check_field(const struct mason_secret_uri *u, bool required, const char *form,
                       struct mason_buf *err)
{
    if (!u->field) {
        if (!required)
            return 0;
        mason_buf_addf(err, "the field is missing (expected %s)", form);
        return MASON_EPARSE;
    }
    for (const char *p = u->field; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            mason_buf_adds(err, "field contains a control character");
            return MASON_EPARSE;
        }
    }
    if (!*u->field || strlen(u->field) > 256) {
        mason_buf_addf(err, "field after '#' is empty or longer than 256 bytes (expected %s)",
                       form);
        return MASON_EPARSE;
    }
    return 0;
}

static int check_aws(const struct mason_secret_uri *u, struct mason_buf *err)
{
    size_t len = strlen(u->name);

    if (len == 0 || len > 512 || !chars_in(u->name, len, "/_+=.@-")) {
        mason_buf_addf(err,
                       "secret name \"%s\" is invalid (expected 1-512 letters, digits or /_+=.@-)",
                       u->name);
        return MASON_EPARSE;
    }
    return check_field(u, false, "aws-sm://<name>#<field>", err);
}

static int check_vault(const struct mason_secret_uri *u, struct mason_buf *err)
{
    const char *p = u->name;
    size_t len = strlen(p);

    if (len == 0 || len > 512 || !chars_in(p, len, "/_+=.@-")) {
        mason_buf_addf(err, "path \"%s\" is invalid (expected 1-512 letters, digits or /_+=.@-)",
                       p);
        return MASON_EPARSE;
    }
    while (*p) {
        size_t seg = strcspn(p, "/");

        if (seg == 0 || (seg == 1 && p[0] == '.') || (seg == 2 && !strncmp(p, "..", 2))) {
            mason_buf_addf(err, "path \"%s\" has an empty, \".\" or \"..\" segment", u->name);
            return MASON_EPARSE;
        }
        p += seg;
        if (*p == '/' && !*++p) {
            mason_buf_addf(err, "path \"%s\" ends with '/'", u->name);
            return MASON_EPARSE;
        }
    }
    return check_field(u, true, "vault://<path>#<field>", err);
}

static int split_ref(const char *ref, struct mason_secret_uri *out, struct mason_buf *err)
{
    struct mason_buf scheme = MASON_BUF_INIT;
    const char *rest, *hash;
    int rc;

    if (strlen(ref) > MAX_REF_LEN) {
        mason_buf_addf(err, "reference is longer than %d bytes", MAX_REF_LEN);
        return MASON_EPARSE;
    }
    rc = mason_secret_uri_scheme(ref, &scheme, err);
    if (rc) {
        mason_buf_release(&scheme);
        return rc;
    }
    out->scheme = mason_buf_detach(&scheme);
    rest = ref + strlen(out->scheme) + 3;
    hash = strchr(rest, '#');
    out->name = hash ? strndup(rest, (size_t)(hash - rest)) : strdup(rest);
    if (hash)
        out->field = strdup(hash + 1);
    if (!out->scheme || !out->name || (hash && !out->field))
        return MASON_ENOMEM;
    return 0;
}

int mason_secret_uri_parse(const char *ref, enum mason_secret_backend_kind kind,
                           struct mason_secret_uri *out, struct mason_buf *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = split_ref(ref ? ref : "", out, err);
    if (!rc && kind == MASON_SECRET_BACKEND_K8S)
        rc = check_k8s(out, err);
    else if (!rc && kind == MASON_SECRET_BACKEND_AWS_SM)
        rc = check_aws(out, err);
    else if (!rc)
        rc = check_vault(out, err);
    if (rc)
        mason_secret_uri_release(out);
    return rc;
}

void mason_secret_failure_init(struct mason_secret_failure *f)
{
    f->reason = NULL;
    mason_buf_init(&f->message, 4096);
}

void mason_secret_failure_release(struct mason_secret_failure *f)
{
    f->reason = NULL;
    mason_buf_release(&f->message);
}

int mason_secrets_policy_check(const struct mason_secrets_policy *policy, const char *env_name,
                               const char *scheme, struct mason_secret_failure *f)
{
    bool allowed = policy->allowed_scheme_count == 0;

    for (size_t i = 0; i < policy->allowed_scheme_count && !allowed; i++)
        allowed = !strcmp(policy->allowed_schemes[i], scheme);
    if (!allowed) {
        f->reason = "SecretSchemeNotAllowed";
        mason_buf_addf(
            &f->message,
            "env %s: scheme \"%s\" is not in secret_resolver.policy.allowed_schemes; use an allowed scheme or ask an administrator to allow it",
            env_name, scheme);
        return MASON_EPOLICY;
    }
    for (size_t i = 0; i < policy->blocked_env_pattern_count; i++) {
        if (fnmatch(policy->blocked_env_patterns[i], env_name, 0) == 0) {
            f->reason = "SecretEnvNameBlocked";
            mason_buf_addf(
                &f->message,
                "env %s: the name matches blocked pattern \"%s\" in secret_resolver.policy.blocked_env_patterns; rename the variable",
                env_name, policy->blocked_env_patterns[i]);
            return MASON_EPOLICY;
        }
    }
    return 0;
}
