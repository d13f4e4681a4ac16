/*
 * A read-only view of an AgentTask object, and the names the operator derives
 * from it. The view borrows every string from the json_t it was made from, so
 * it lives only as long as that object.
 */
#ifndef MASON_TASK_H
#define MASON_TASK_H

#include <jansson.h>

#include "buf.h"
#include "config.h"

struct mason_task {
    json_t *obj; /* borrowed AgentTask */
    const char *namespace;
    const char *name;
    const char *uid;
    json_int_t generation;
    const char *prompt;
    const char *engine_name;
    enum mason_engine_id engine;
    const char *model; /* spec.model, or the engine's configured model, or NULL */
    const char *task_type;
    const char *repo_url;
    const char *branch; /* spec.repository.branch, else "mason/<task name>" */
    const char *base_branch;
    const char *image; /* spec.image, or NULL for the engine's configured image */
    json_t *env;       /* borrowed array or NULL */
    json_t *resources; /* borrowed object or NULL */
    json_int_t max_duration_seconds;
    json_int_t max_turns;
    double max_cost_usd;
    json_int_t retries;
    json_int_t max_continuations;
    const char *persistence;
    const char *runtime_class;
    json_t *node_selector; /* borrowed object or NULL */
    json_t *tolerations;   /* borrowed array or NULL */
    json_int_t ttl_seconds_after_finished;
    const char *phase; /* status.phase, or NULL before the first reconcile */
    json_t *status;    /* borrowed object or NULL */
    int deleting;
    char branch_default[256];
};

/*
 * Fills t from an AgentTask object, applying configuration defaults to what
 * the schema left unset. Returns 0, or MASON_EINVAL with the field and the fix
 * in err when the task cannot be acted on.
 */
int mason_task_view(struct mason_task *t, json_t *obj, const struct mason_config *cfg,
                    struct mason_buf *err);

/*
 * Writes the Job name of run number run (from 0): the task name cut to fit,
 * then a hash of namespace, name and uid, then the run, within 63 characters,
 * so two long names with one prefix never share a Job name.
 */
/* Returns the agent image of t: spec.image, else engines.<engine>.image, else NULL. */
const char *mason_task_image(const struct mason_task *t, const struct mason_config *cfg);

/* Returns 0 when t has an image, else MASON_EINVAL with err naming both places to set one. */
int mason_task_check_image(const struct mason_task *t, const struct mason_config *cfg,
                           struct mason_buf *err);

void mason_task_job_name(const struct mason_task *t, int run, struct mason_buf *out);

/* Writes the name of the task's NetworkPolicy (within 63 characters). */
void mason_task_policy_name(const struct mason_task *t, struct mason_buf *out);

/* Writes the name of the task's AgentSession and per-task claim (within 63 characters). */
void mason_task_session_name(const struct mason_task *t, struct mason_buf *out);

/* Writes a DNS-label-safe prefix of name of at most max characters. */
void mason_name_shorten(const char *name, size_t max, struct mason_buf *out);

#endif
