#include "config.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "yaml.h"
#include "banned.h"

static const char *const engine_names[MASON_ENGINE_COUNT] = {
    "claude-code", "codex", "cline", "opencode", "aider",
};

const char *mason_engine_name(enum mason_engine_id id)
{
    return (unsigned)id < MASON_ENGINE_COUNT ? engine_names[id] : NULL;
}

int mason_engine_lookup(const char *name, enum mason_engine_id *out)
{
    for (int i = 0; i < MASON_ENGINE_COUNT; i++) {
        if (strcmp(name, engine_names[i]) == 0) {
            *out = (enum mason_engine_id)i;
            return 0;
        }
    }
    return MASON_ENOTFOUND;
}

#define OPT CYAML_FLAG_OPTIONAL
#define OPT_PTR (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
static const cyaml_schema_value_t port_entry = {
    CYAML_VALUE_INT(CYAML_FLAG_DEFAULT, int),
};

static const cyaml_schema_field_t auth_fields[] = {
    CYAML_FIELD_STRING_PTR("api_key_secret", OPT_PTR, struct mason_engine_auth, api_key_secret, 1,
                           253),
    CYAML_FIELD_STRING_PTR("api_key_secret_key", OPT_PTR, struct mason_engine_auth,
                           api_key_secret_key, 1, 253),
    CYAML_FIELD_IGNORE("method", OPT),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t engine_fields[] = {
    CYAML_FIELD_STRING_PTR("image", OPT_PTR, struct mason_engine_config, image, 1, 1024),
    CYAML_FIELD_STRING_PTR("model", OPT_PTR, struct mason_engine_config, model, 1, 256),
    CYAML_FIELD_MAPPING_PTR("auth", OPT_PTR, struct mason_engine_config, auth, auth_fields),
    CYAML_FIELD_STRING_PTR("continuation_prompt", OPT_PTR, struct mason_engine_config,
                           continuation_prompt, 1, 65536),
    CYAML_FIELD_UINT("max_continuations", OPT, struct mason_engine_config, max_continuations),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t engines_fields[] = {
    CYAML_FIELD_MAPPING_PTR("claude-code", OPT_PTR, struct mason_config,
                            engines[MASON_ENGINE_CLAUDE_CODE], engine_fields),
    CYAML_FIELD_MAPPING_PTR("codex", OPT_PTR, struct mason_config, engines[MASON_ENGINE_CODEX],
                            engine_fields),
    CYAML_FIELD_MAPPING_PTR("cline", OPT_PTR, struct mason_config, engines[MASON_ENGINE_CLINE],
                            engine_fields),
    CYAML_FIELD_MAPPING_PTR("opencode", OPT_PTR, struct mason_config,
                            engines[MASON_ENGINE_OPENCODE], engine_fields),
    CYAML_FIELD_MAPPING_PTR("aider", OPT_PTR, struct mason_config, engines[MASON_ENGINE_AIDER],
                            engine_fields),
    CYAML_FIELD_END,
};

#define DEFAULTS(member) defaults.member
static const cyaml_schema_field_t defaults_fields[] = {
    CYAML_FIELD_STRING_PTR("engine", OPT_PTR, struct mason_config, DEFAULTS(engine), 1, 64),
    CYAML_FIELD_STRING_PTR("memory_request", OPT_PTR, struct mason_config, DEFAULTS(memory_request),
                           1, 64),
    CYAML_FIELD_STRING_PTR("cpu_request", OPT_PTR, struct mason_config, DEFAULTS(cpu_request), 1,
                           64),
    CYAML_FIELD_STRING_PTR("memory_limit", OPT_PTR, struct mason_config, DEFAULTS(memory_limit), 1,
                           64),
    CYAML_FIELD_UINT("max_duration_seconds", OPT, struct mason_config,
                     DEFAULTS(max_duration_seconds)),
    CYAML_FIELD_UINT("ttl_seconds_after_finished", OPT, struct mason_config,
                     DEFAULTS(ttl_seconds_after_finished)),
    CYAML_FIELD_UINT("max_turns", OPT, struct mason_config, DEFAULTS(max_turns)),
    CYAML_FIELD_STRING_PTR("home_size_limit", OPT_PTR, struct mason_config,
                           DEFAULTS(home_size_limit), 1, 64),
    CYAML_FIELD_STRING_PTR("workspace_size_limit", OPT_PTR, struct mason_config,
                           DEFAULTS(workspace_size_limit), 1, 64),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t guardrails_fields[] = {
    CYAML_FIELD_FLOAT("max_cost_per_job", OPT, struct mason_config, guardrails.max_cost_per_job),
    CYAML_FIELD_UINT("max_job_duration_minutes", OPT, struct mason_config,
                     guardrails.max_job_duration_minutes),
    CYAML_FIELD_UINT("stall_minutes", OPT, struct mason_config, guardrails.stall_minutes),
    CYAML_FIELD_FLOAT("max_cost_per_10_minutes", OPT, struct mason_config,
                      guardrails.max_cost_per_10_minutes),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t egress_fields[] = {
    CYAML_FIELD_STRING_PTR("cidr", CYAML_FLAG_POINTER, struct mason_egress_rule, cidr, 1, 64),
    CYAML_FIELD_SEQUENCE("except", OPT_PTR, struct mason_egress_rule, except, &string_entry, 0, 64),
    CYAML_FIELD_SEQUENCE("ports", OPT_PTR, struct mason_egress_rule, ports, &port_entry, 0, 64),
    CYAML_FIELD_STRING_PTR("protocol", OPT_PTR, struct mason_egress_rule, protocol, 1, 8),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t egress_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct mason_egress_rule, egress_fields),
};

/*
 * Sections of the file are mappings of their own, but their field offsets are
 * relative to struct mason_config, so each section is loaded at offset 0.
 */
#define NESTED(name, fields)                                                                       \
    {                                                                                              \
        .key = name, .value = {CYAML_VALUE_MAPPING(OPT, struct mason_config, fields)},             \
        .data_offset = 0                                                                           \
    }

static const cyaml_schema_field_t network_policy_fields[] = {
    CYAML_FIELD_SEQUENCE("extra_egress", OPT_PTR, struct mason_config, extra_egress, &egress_entry,
                         0, 256),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sessions_fields[] = {
    CYAML_FIELD_STRING_PTR("storage_class", OPT_PTR, struct mason_config, sessions.storage_class, 1,
                           253),
    CYAML_FIELD_STRING_PTR("size", OPT_PTR, struct mason_config, sessions.size, 1, 64),
    CYAML_FIELD_STRING_PTR("shared_claim", OPT_PTR, struct mason_config, sessions.shared_claim, 1,
                           253),
    CYAML_FIELD_UINT("ttl_hours", OPT, struct mason_config, sessions.ttl_hours),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t top_fields[] = {
    CYAML_FIELD_STRING_PTR("log_level", OPT_PTR, struct mason_config, log_level, 1, 16),
    CYAML_FIELD_SEQUENCE("namespaces", OPT_PTR, struct mason_config, namespaces, &string_entry, 0,
                         1024),
    CYAML_FIELD_STRING_PTR("listen", OPT_PTR, struct mason_config, listen, 1, 128),
    NESTED("defaults", defaults_fields),
    NESTED("engines", engines_fields),
    NESTED("guardrails", guardrails_fields),
    NESTED("network_policy", network_policy_fields),
    NESTED("sessions", sessions_fields),
    CYAML_FIELD_IGNORE("secret_resolver", OPT),
    CYAML_FIELD_IGNORE("approvals", OPT),
    CYAML_FIELD_IGNORE("scoring", OPT),
    CYAML_FIELD_IGNORE("pricing", OPT),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct mason_config, top_fields),
};

#define CONFIG_PATH_DEPTH 16

/* What libcyaml reported: the error, then a backtrace of the keys it was in. */
struct config_log {
    struct mason_buf reason;
    struct mason_buf location;
    char *keys[CONFIG_PATH_DEPTH]; /* innermost first */
    int depth;
};

static void config_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct config_log *log = ctx;
    struct mason_buf line = MASON_BUF_INIT;
    const char *text, *quote, *end;

    if (level < CYAML_LOG_ERROR)
        return;
    mason_buf_vaddf(&line, fmt, args);
    text = mason_buf_str(&line);
    if (strncmp(text, "Load: ", 6) == 0)
        text += 6;
    quote = strstr(text, "field '");
    if (quote && log->depth < CONFIG_PATH_DEPTH) {
        end = strchr(quote + 7, '\'');
        if (end)
            log->keys[log->depth++] = strndup(quote + 7, (size_t)(end - quote - 7));
    } else if (!quote && !strstr(text, "Backtrace") && !strstr(text, "in mapping") &&
               !log->reason.len) {
        mason_buf_adds(&log->reason, text);
        while (log->reason.len && strchr("\n .", log->reason.data[log->reason.len - 1]))
            log->reason.data[--log->reason.len] = '\0';
    }
    if (!log->location.len && (quote = strstr(text, "(line: ")) != NULL &&
        (end = strchr(quote, ')')) != NULL)
        mason_buf_add(&log->location, quote, (size_t)(end - quote + 1));
    mason_buf_release(&line);
}

/* Writes "engines.claude-code: Unexpected key: imag (line: 3, column: 5)". */
static void config_log_finish(struct config_log *log, struct mason_buf *err, cyaml_err_t cerr)
{
    mason_buf_reset(err);
    for (int i = log->depth - 1; i >= 0; i--)
        mason_buf_addf(err, "%s%s", log->keys[i], i ? "." : ": ");
    mason_buf_adds(err, log->reason.len ? mason_buf_str(&log->reason) : cyaml_strerror(cerr));
    if (log->location.len)
        mason_buf_addf(err, " %s", mason_buf_str(&log->location));
    for (int i = 0; i < log->depth; i++)
        free(log->keys[i]);
    mason_buf_release(&log->reason);
    mason_buf_release(&log->location);
}

static char *dup_default(char *value, const char *fallback)
{
    return value ? value : strdup(fallback);
}

static void config_apply_defaults(struct mason_config *cfg)
{
    cfg->log_level = dup_default(cfg->log_level, "info");
    cfg->listen = dup_default(cfg->listen, "127.0.0.1:8081");
    cfg->defaults.engine = dup_default(cfg->defaults.engine, "claude-code");
    cfg->defaults.memory_request = dup_default(cfg->defaults.memory_request, "4Gi");
    cfg->defaults.cpu_request = dup_default(cfg->defaults.cpu_request, "500m");
    cfg->defaults.home_size_limit = dup_default(cfg->defaults.home_size_limit, "1Gi");
    cfg->defaults.workspace_size_limit = dup_default(cfg->defaults.workspace_size_limit, "10Gi");
    cfg->sessions.size = dup_default(cfg->sessions.size, "5Gi");
    cfg->sessions.shared_claim = dup_default(cfg->sessions.shared_claim, "mason-sessions");
    if (!cfg->sessions.ttl_hours)
        cfg->sessions.ttl_hours = 168;
    if (!cfg->defaults.max_duration_seconds)
        cfg->defaults.max_duration_seconds = cfg->guardrails.max_job_duration_minutes
                                                 ? cfg->guardrails.max_job_duration_minutes * 60
                                                 : 3600;
    if (!cfg->defaults.ttl_seconds_after_finished)
        cfg->defaults.ttl_seconds_after_finished = 3600;
    if (!cfg->defaults.max_turns)
        cfg->defaults.max_turns = 100;
    if (!cfg->guardrails.stall_minutes)
        cfg->guardrails.stall_minutes = 15;
}

__attribute__((format(printf, 2, 3))) static int config_fail(struct mason_buf *err, const char *fmt,
                                                             ...)
{
    va_list ap;

    mason_buf_reset(err);
    va_start(ap, fmt);
    mason_buf_vaddf(err, fmt, ap);
    va_end(ap);
    return MASON_ECONFIG;
}

static int config_validate_egress(const struct mason_config *cfg, struct mason_buf *err)
{
    for (unsigned i = 0; i < cfg->extra_egress_count; i++) {
        const struct mason_egress_rule *r = &cfg->extra_egress[i];

        if (!strchr(r->cidr, '/'))
            return config_fail(
                err, "%s: invalid CIDR \"%s\"; write it as address/prefix, such as 10.0.0.0/8",
                "network_policy.extra_egress[].cidr", r->cidr);
        if (r->protocol && strcmp(r->protocol, "TCP") && strcmp(r->protocol, "UDP") &&
            strcmp(r->protocol, "SCTP"))
            return config_fail(err, "%s: invalid protocol \"%s\"; use TCP, UDP or SCTP",
                               "network_policy.extra_egress[].protocol", r->protocol);
        for (unsigned p = 0; p < r->ports_count; p++)
            if (r->ports[p] < 1 || r->ports[p] > 65535)
                return config_fail(err, "%s: port out of range in rule for %s; use 1-65535",
                                   "network_policy.extra_egress[].ports", r->cidr);
    }
    return 0;
}

static int config_validate(const struct mason_config *cfg, struct mason_buf *err)
{
    enum mason_engine_id engine;
    const char *quantities[][2] = {
        {"defaults.memory_request", cfg->defaults.memory_request},
        {"defaults.cpu_request", cfg->defaults.cpu_request},
        {"defaults.memory_limit", cfg->defaults.memory_limit},
        {"defaults.home_size_limit", cfg->defaults.home_size_limit},
        {"defaults.workspace_size_limit", cfg->defaults.workspace_size_limit},
        {"sessions.size", cfg->sessions.size},
    };

    if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
        strcmp(cfg->log_level, "warn") && strcmp(cfg->log_level, "error"))
        return config_fail(err, "%s: invalid value \"%s\"; use debug, info, warn or error",
                           "log_level", cfg->log_level);
    if (mason_engine_lookup(cfg->defaults.engine, &engine) != 0)
        return config_fail(
            err, "%s: unknown engine \"%s\"; use claude-code, codex, cline, opencode or aider",
            "defaults.engine", cfg->defaults.engine);
    for (size_t i = 0; i < sizeof(quantities) / sizeof(quantities[0]); i++)
        if (quantities[i][1] && !mason_quantity_valid(quantities[i][1]))
            return config_fail(
                err, "%s: invalid quantity \"%s\"; use a Kubernetes quantity such as 4Gi or 500m",
                quantities[i][0], quantities[i][1]);
    if (cfg->guardrails.max_cost_per_job < 0)
        return config_fail(err, "%s: must not be negative (got %g)", "guardrails.max_cost_per_job",
                           cfg->guardrails.max_cost_per_job);
    return config_validate_egress(cfg, err);
}

/* The sections other modules parse are taken from the same text as JSON. */
static int config_raw_sections(struct mason_config *cfg, const char *text, size_t len,
                               struct mason_buf *err)
{
    json_t *doc = NULL;
    int rc = mason_yaml_to_json(text, len, &doc, err);

    if (rc)
        return MASON_ECONFIG;
    if (json_is_object(doc)) {
        cfg->secret_resolver = json_incref(json_object_get(doc, "secret_resolver"));
        cfg->approvals = json_incref(json_object_get(doc, "approvals"));
        cfg->scoring = json_incref(json_object_get(doc, "scoring"));
        cfg->pricing = json_incref(json_object_get(doc, "pricing"));
    }
    json_decref(doc);
    return 0;
}

/* Returns whether text has only spaces, tabs and line breaks. */
static bool blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!memchr(" \t\r\n", text[i], 4))
            return false;
    }
    return true;
}

int mason_config_parse(const char *text, size_t len, struct mason_config **out,
                       struct mason_buf *err)
{
    struct config_log log = {MASON_BUF_INIT, MASON_BUF_INIT, {NULL}, 0};
    cyaml_config_t cy = {
        .log_fn = config_log_fn,
        .log_ctx = &log,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_NO_ALIAS,
    };
    struct mason_config *cfg = NULL;
    cyaml_err_t cerr;
    int rc;

    *out = NULL;
    mason_buf_reset(err);
    if (!blank(text, len)) {
        cerr = cyaml_load_data((const uint8_t *)text, len, &cy, &top_schema, (void **)&cfg, NULL);
        config_log_finish(&log, err, cerr);
        if (cerr != CYAML_OK)
            return MASON_ECONFIG;
        mason_buf_reset(err);
    }
    /* A file of only comments is a document without a value: all defaults. */
    if (!cfg)
        cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return MASON_ENOMEM;
    config_apply_defaults(cfg);
    rc = config_validate(cfg, err);
    if (rc == 0 && len)
        rc = config_raw_sections(cfg, text, len, err);
    if (rc) {
        mason_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int mason_config_load(const char *path, struct mason_config **out, struct mason_buf *err)
{
    struct mason_buf text = MASON_BUF_INIT;
    char chunk[8192];
    size_t n;
    FILE *f;
    int rc = 0;

    if (!path)
        return mason_config_parse("", 0, out, err);
    f = fopen(path, "r");
    if (!f) {
        mason_buf_reset(err);
        mason_buf_addf(err, "cannot open configuration file %s: %s", path, strerror(errno));
        return MASON_ECONFIG;
    }
    mason_buf_init(&text, 16u * 1024 * 1024);
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mason_buf_add(&text, chunk, n);
    fclose(f);
    if (rc == 0)
        rc = mason_config_parse(mason_buf_str(&text), text.len, out, err);
    else
        config_fail(err, "configuration file %s: %s", path, mason_strerror(rc));
    mason_buf_release(&text);
    return rc ? MASON_ECONFIG : 0;
}

void mason_config_free(struct mason_config *cfg)
{
    cyaml_config_t cy = {.mem_fn = cyaml_mem, .log_level = CYAML_LOG_ERROR};

    if (!cfg)
        return;
    json_decref(cfg->secret_resolver);
    json_decref(cfg->approvals);
    json_decref(cfg->scoring);
    json_decref(cfg->pricing);
    cyaml_free(&cy, &top_schema, cfg, 0);
}

int mason_quantity_valid(const char *s)
{
    static const char *const suffixes[] = {"",   "m",  "k",  "M",  "G",  "T",  "P", "E",
                                           "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", NULL};
    char *end;
    double value;

    errno = 0;
    value = strtod(s, &end);
    if (end == s || errno || value < 0)
        return 0;
    for (int i = 0; suffixes[i]; i++)
        if (strcmp(end, suffixes[i]) == 0)
            return 1;
    return 0;
}
