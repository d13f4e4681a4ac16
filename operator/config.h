/*
 * The operator's configuration file (YAML, loaded with libcyaml). Key names
 * that Osmia's osmia-config.yaml also uses keep those names, so existing
 * configurations carry over. Unknown keys and invalid values stop the start
 * with the key path and the reason.
 */
#ifndef MASON_CONFIG_H
#define MASON_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

enum mason_engine_id {
    MASON_ENGINE_CLAUDE_CODE,
    MASON_ENGINE_CODEX,
    MASON_ENGINE_CLINE,
    MASON_ENGINE_OPENCODE,
    MASON_ENGINE_AIDER,
    MASON_ENGINE_COUNT,
};

struct mason_engine_auth {
    char *api_key_secret;     /* Secret name holding the engine's API key */
    char *api_key_secret_key; /* key inside that Secret; default "api_key" */
};

struct mason_engine_config {
    char *image;
    char *model;
    struct mason_engine_auth *auth;
    char *continuation_prompt;
    unsigned max_continuations;
};

struct mason_egress_rule {
    char *cidr;
    char **except;
    unsigned except_count;
    int *ports;
    unsigned ports_count;
    char *protocol; /* TCP (default) or UDP */
};

struct mason_config {
    char *log_level;
    char **namespaces; /* watched namespaces; none means all */
    unsigned namespaces_count;
    char *listen; /* operator HTTP endpoint, host:port */
    struct {
        char *engine;
        char *memory_request;
        char *cpu_request;
        char *memory_limit;
        unsigned max_duration_seconds;
        unsigned ttl_seconds_after_finished;
        unsigned max_turns;
        char *home_size_limit;
        char *workspace_size_limit;
    } defaults;
    struct mason_engine_config *engines[MASON_ENGINE_COUNT];
    struct {
        double max_cost_per_job;           /* USD; 0 means no ceiling */
        unsigned max_job_duration_minutes; /* 0 means defaults.max_duration_seconds */
        unsigned stall_minutes;
        double max_cost_per_10_minutes;
    } guardrails;
    struct mason_egress_rule *extra_egress;
    unsigned extra_egress_count;
    struct {
        char *storage_class; /* StorageClass of session claims; NULL for the cluster default */
        char *size;          /* size of a per-taskrun-pvc claim; default 5Gi */
        char *shared_claim;  /* ReadWriteMany claim of shared-pvc; default mason-sessions */
        unsigned ttl_hours;  /* an AgentSession expires this long after its last use; default 168 */
    } sessions;
    json_t *secret_resolver; /* raw section for the secret resolver, or NULL */
    json_t *approvals;       /* raw section for approvals, or NULL */
    json_t *scoring;         /* raw section for trajectory scoring, or NULL */
    json_t *pricing;         /* raw section for the per-model price table, or NULL */
};

/* Returns the engine's configuration name ("claude-code"), or NULL. */
const char *mason_engine_name(enum mason_engine_id id);

/* Looks an engine up by name. Returns 0 or MASON_ENOTFOUND. */
int mason_engine_lookup(const char *name, enum mason_engine_id *out);

/*
 * Loads the configuration from YAML text. On error returns MASON_ECONFIG and
 * writes the key path and the reason to err. *out is a heap object to pass to
 * mason_config_free(). Defaults fill every key left out.
 */
int mason_config_parse(const char *text, size_t len, struct mason_config **out,
                       struct mason_buf *err);

/* Reads a file and parses it as mason_config_parse(). path NULL gives the defaults. */
int mason_config_load(const char *path, struct mason_config **out, struct mason_buf *err);

void mason_config_free(struct mason_config *cfg);

/* Parses a Kubernetes quantity such as "4Gi" or "500m" enough to validate it. */
int mason_quantity_valid(const char *s);

#endif
