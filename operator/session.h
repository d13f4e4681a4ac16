/*
 * Storage of a task's agent session between runs. With persistence
 * shared-pvc the session is a subdirectory of one ReadWriteMany claim per
 * namespace; with per-taskrun-pvc it is a ReadWriteOnce claim of the task's
 * own, created before the first Job and reused by every retry and
 * continuation. Either way an AgentSession object records it, and the
 * engine's conversation directory (and, when asked, /workspace) is mounted
 * from the claim.
 */
#ifndef MASON_SESSION_H
#define MASON_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "task.h"

struct mason_session_plan {
    bool enabled;
    bool per_task_claim;       /* per-taskrun-pvc: the claim is the task's own */
    bool persist_workspace;    /* /workspace lives on the claim too */
    struct mason_buf name;     /* AgentSession name, and the claim name for per-taskrun-pvc */
    struct mason_buf claim;    /* the claim to mount */
    struct mason_buf sub_path; /* the task's directory in the claim; empty for the root */
};

/* Fills plan from the task's spec.session and the configuration. Release with
 * mason_session_plan_release. */
void mason_session_plan_init(struct mason_session_plan *plan, const struct mason_task *t,
                             const struct mason_config *cfg);

void mason_session_plan_release(struct mason_session_plan *plan);

/* Returns the AgentSession object for the plan as a new reference, owned by the task. */
json_t *mason_session_object(const struct mason_task *t, const struct mason_config *cfg,
                             const struct mason_session_plan *plan);

/*
 * Returns the PersistentVolumeClaim to create as a new reference: for
 * per-taskrun-pvc the task's ReadWriteOnce claim, owned by its AgentSession
 * (session_uid) so that deleting the session deletes the claim; for
 * shared-pvc the namespace's ReadWriteMany claim, owned by nobody.
 */
json_t *mason_session_claim(const struct mason_task *t, const struct mason_config *cfg,
                            const struct mason_session_plan *plan, const char *session_uid);

/*
 * Adds the session volume and its mounts to a pod spec built by
 * mason_jobspec_job: one volume for the claim, however many directories
 * are mounted from it, so no pod lists one claim twice.
 */
void mason_session_mount(json_t *pod_spec, const struct mason_task *t,
                         const struct mason_session_plan *plan);

/*
 * Returns a merge patch for the AgentSession's status as a new reference:
 * phase Ready, the backend, claim and directory, the engine session id (when
 * known), the Jobs of the task's runs, lastUsed now and expiresAt now plus
 * the TTL.
 */
json_t *mason_session_status_patch(const struct mason_task *t, const struct mason_config *cfg,
                                   const struct mason_session_plan *plan, json_t *task_status,
                                   time_t now);

#endif
