/* The webhook's configuration file (see webhook_config.h). */
#include "webhook_config.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static const char *const mode_names[] = {"enforce", "warn", "audit"};

int mason_mode_parse(const char *text, enum mason_mode *mode)
{
    for (int i = 0; text && i < 3; i++) {
        if (!strcmp(text, mode_names[i])) {
            *mode = (enum mason_mode)i;
            return 0;
        }
    }
    return MASON_EINVAL;
}

const char *mason_mode_name(enum mason_mode mode)
{
    return (unsigned)mode < 3 ? mode_names[mode] : "unknown";
}

int mason_string_list_contains(const struct mason_string_list *list, const char *s)
{
    for (size_t i = 0; s && i < list->count; i++)
        if (!strcmp(list->items[i], s))
            return 1;
    return 0;
}

static void list_release(struct mason_string_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int list_add(struct mason_string_list *list, const char *s)
{
    char **items = realloc(list->items, (list->count + 1) * sizeof(*items));

    if (!items)
        return MASON_ENOMEM;
    list->items = items;
    list->items[list->count] = strdup(s);
    if (!list->items[list->count])
        return MASON_ENOMEM;
    list->count++;
    return 0;
}

int mason_webhook_config_init(struct mason_webhook_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = strdup(MASON_WEBHOOK_DEFAULT_LISTEN);
    cfg->default_mode = MASON_MODE_ENFORCE;
    cfg->max_body_bytes = MASON_WEBHOOK_DEFAULT_MAX_BODY;
    cfg->request_timeout_seconds = MASON_WEBHOOK_DEFAULT_TIMEOUT_SECONDS;
    cfg->threads = MASON_WEBHOOK_DEFAULT_THREADS;
    if (!cfg->listen || list_add(&cfg->exempt_namespaces, "kube-system") ||
        list_add(&cfg->approval_recorders, MASON_WEBHOOK_OPERATOR_USER)) {
        mason_webhook_config_release(cfg);
        return MASON_ENOMEM;
    }
    return 0;
}

void mason_webhook_config_release(struct mason_webhook_config *cfg)
{
    free(cfg->listen);
    free(cfg->cert_file);
    free(cfg->key_file);
    free(cfg->namespace);
    free(cfg->log_level);
    list_release(&cfg->exempt_namespaces);
    list_release(&cfg->exempt_usernames);
    list_release(&cfg->approval_recorders);
    list_release(&cfg->exempt_runtime_classes);
    memset(cfg, 0, sizeof(*cfg));
}

static int set_string(const json_t *value, const char *key, char **out, struct mason_buf *err)
{
    if (!json_is_string(value) || !json_string_length(value)) {
        mason_buf_addf(err, "%s: must be a non-empty string", key);
        return MASON_ECONFIG;
    }
    free(*out);
    *out = strdup(json_string_value(value));
    return *out ? 0 : MASON_ENOMEM;
}

static int set_list(const json_t *value, const char *key, struct mason_string_list *out,
                    struct mason_buf *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(value)) {
        mason_buf_addf(err, "%s: must be a list of strings", key);
        return MASON_ECONFIG;
    }
    list_release(out);
    json_array_foreach(value, i, item)
    {
        if (!json_is_string(item)) {
            mason_buf_addf(err, "%s[%zu]: must be a string", key, i);
            return MASON_ECONFIG;
        }
        if (list_add(out, json_string_value(item)))
            return MASON_ENOMEM;
    }
    return 0;
}

static int set_number(const json_t *value, const char *key, json_int_t min, json_int_t max,
                      json_int_t *out, struct mason_buf *err)
{
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max) {
        mason_buf_addf(err, "%s: must be an integer from %lld to %lld", key, (long long)min,
                       (long long)max);
        return MASON_ECONFIG;
    }
    *out = json_integer_value(value);
    return 0;
}

static int parse_exemptions(const json_t *value, struct mason_webhook_config *cfg,
                            struct mason_buf *err)
{
    const char *key;
    json_t *item;
    int rc = 0;

    if (!json_is_object(value)) {
        mason_buf_adds(err, "exemptions: must be a mapping");
        return MASON_ECONFIG;
    }
    json_object_foreach((json_t *)value, key, item)
    {
        if (!strcmp(key, "namespaces"))
            rc = set_list(item, "exemptions.namespaces", &cfg->exempt_namespaces, err);
        else if (!strcmp(key, "usernames"))
            rc = set_list(item, "exemptions.usernames", &cfg->exempt_usernames, err);
        else if (!strcmp(key, "runtime_classes"))
            rc = set_list(item, "exemptions.runtime_classes", &cfg->exempt_runtime_classes, err);
        else {
            mason_buf_addf(
                err,
                "exemptions.%s: unknown key (expected namespaces, usernames or runtime_classes)",
                key);
            rc = MASON_ECONFIG;
        }
        if (rc)
            break;
    }
    return rc;
}

static int parse_tls(const json_t *value, struct mason_webhook_config *cfg, struct mason_buf *err)
{
    const char *key;
    json_t *item;
    int rc = 0;

    if (!json_is_object(value)) {
        mason_buf_adds(err, "tls: must be a mapping");
        return MASON_ECONFIG;
    }
    json_object_foreach((json_t *)value, key, item)
    {
        if (!strcmp(key, "cert_file"))
            rc = set_string(item, "tls.cert_file", &cfg->cert_file, err);
        else if (!strcmp(key, "key_file"))
            rc = set_string(item, "tls.key_file", &cfg->key_file, err);
        else {
            mason_buf_addf(err, "tls.%s: unknown key (expected cert_file or key_file)", key);
            rc = MASON_ECONFIG;
        }
        if (rc)
            break;
    }
    return rc;
}

static int parse_key(const char *key, const json_t *value, struct mason_webhook_config *cfg,
                     struct mason_buf *err)
{
    json_int_t n = 0;
    int rc;

    if (!strcmp(key, "listen"))
        return set_string(value, key, &cfg->listen, err);
    if (!strcmp(key, "namespace"))
        return set_string(value, key, &cfg->namespace, err);
    if (!strcmp(key, "log_level"))
        return set_string(value, key, &cfg->log_level, err);
    if (!strcmp(key, "tls"))
        return parse_tls(value, cfg, err);
    if (!strcmp(key, "exemptions"))
        return parse_exemptions(value, cfg, err);
    if (!strcmp(key, "secret_resolver"))
        return 0;
    if (!strcmp(key, "approval_recorders"))
        return set_list(value, key, &cfg->approval_recorders, err);
    if (!strcmp(key, "default_mode")) {
        if (!mason_mode_parse(json_string_value(value), &cfg->default_mode))
            return 0;
        mason_buf_adds(err, "default_mode: must be enforce, warn or audit");
        return MASON_ECONFIG;
    }
    if (!strcmp(key, "max_body_bytes")) {
        rc = set_number(value, key, 4096, 64 * 1024 * 1024, &n, err);
        cfg->max_body_bytes = (size_t)n;
    } else if (!strcmp(key, "request_timeout_seconds")) {
        rc = set_number(value, key, 1, 30, &n, err);
        cfg->request_timeout_seconds = (unsigned)n;
    } else if (!strcmp(key, "threads")) {
        rc = set_number(value, key, 1, 256, &n, err);
        cfg->threads = (unsigned)n;
    } else {
        mason_buf_addf(err, "%s: unknown key", key);
        rc = MASON_ECONFIG;
    }
    return rc;
}

int mason_webhook_config_parse(const json_t *root, struct mason_webhook_config *cfg,
                               struct mason_buf *err)
{
    const char *key;
    json_t *value;
    int rc = mason_webhook_config_init(cfg);

    if (rc || !root || json_is_null(root))
        return rc;
    if (!json_is_object(root)) {
        mason_buf_adds(err, "the configuration must be a mapping");
        rc = MASON_ECONFIG;
    }
    json_object_foreach((json_t *)root, key, value)
    {
        if (rc)
            break;
        rc = parse_key(key, value, cfg, err);
    }
    if (rc)
        mason_webhook_config_release(cfg);
    return rc == MASON_ENOMEM ? rc : (rc ? MASON_ECONFIG : 0);
}
