/*
 * Builders of the objects a run needs: the Job with its hardened pod, the
 * ConfigMap that carries the prompt, and the task's egress NetworkPolicy.
 * They are pure functions from an AgentTask view and the configuration to
 * JSON, so golden-file tests pin every field.
 */
#ifndef MASON_JOBSPEC_H
#define MASON_JOBSPEC_H

#include <jansson.h>

#include "config.h"
#include "task.h"

/* The uid and gid the agent runs as, and the group that owns its volumes. */
#define MASON_AGENT_UID 10000
#define MASON_AGENT_HOME "/home/agent"
#define MASON_AGENT_WORKSPACE "/workspace"
#define MASON_AGENT_CONTAINER "agent"

/* The settings that differ between the runs of one task. */
struct mason_run_spec {
    int index;             /* run number from 0, part of the Job name */
    const char *job_name;  /* from mason_task_job_name */
    const char *prompt;    /* the task's prompt, or a continuation prompt */
    const char *resume_id; /* engine session id to resume, or NULL */
    json_t *env;           /* container env entries to add (borrowed), or NULL */
};

/*
 * Returns the labels every object of the run carries, as a new object:
 * mason.dev/task, mason.dev/task-uid, mason.dev/run, mason.dev/engine and the
 * app.kubernetes.io set. index < 0 leaves out mason.dev/run.
 */
json_t *mason_jobspec_labels(const struct mason_task *t, int index);

/* Returns a new ownerReferences array naming the AgentTask as controller. */
json_t *mason_jobspec_owner_refs(const struct mason_task *t);

/*
 * Returns the run's Job as a new object, or NULL with the field and the fix
 * in err when the task has no image (neither spec.image nor the engine's
 * configured image) or its session id cannot be passed to the engine.
 */
json_t *mason_jobspec_job(const struct mason_task *t, const struct mason_config *cfg,
                          const struct mason_run_spec *run, struct mason_buf *err);

/* Returns the ConfigMap holding run->prompt, named like the Job, as a new object. */
json_t *mason_jobspec_prompt_config_map(const struct mason_task *t,
                                        const struct mason_run_spec *run);

/*
 * Returns the task's NetworkPolicy as a new object: no ingress; egress to
 * DNS (UDP and TCP 53), TCP 443 and TCP 22 anywhere but 169.254.0.0/16 (link
 * local, where clouds serve instance metadata), plus network_policy.extra_egress.
 */
json_t *mason_jobspec_network_policy(const struct mason_task *t, const struct mason_config *cfg);

#endif
