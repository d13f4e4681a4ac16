/*
 * State of one reconcile pass, shared by reconcile.c (the pass itself and
 * the status write), run.c (starting and following runs) and
 * continuation.c (approval of continuations). Not used outside the
 * reconciler.
 */
#ifndef MASON_RECONCILE_H
#define MASON_RECONCILE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "log.h"
#include "operator.h"
#include "session.h"
#include "task.h"

struct reconcile {
    struct mason_operator *op;
    json_t *obj;    /* the cached AgentTask, owned */
    json_t *status; /* the status being computed, owned */
    struct mason_task t;
    struct mason_session_plan session;
    struct mason_log_ctx ctx;
    char run[16];
    time_t now;
    long requeue_ms;     /* look again after this long (0: only on the next change) */
    bool clear_decision; /* remove mason.dev/approval once the status is written */
    struct mason_buf err;
};

/* Creates obj in the task's namespace, or reads the existing object of that name. *out
 * (may be NULL) gets a new reference. */
int reconcile_ensure(struct reconcile *r, const struct mason_kube_resource *res, json_t *obj,
                     json_t **out);

/* Lists the pods of the Job job_name into *pods (new reference, an empty array on error). */
int reconcile_job_pods(struct reconcile *r, const char *job_name, json_t **pods);

/* Ends the task Failed with reason and message. */
void reconcile_fail(struct reconcile *r, const char *reason, const char *message);

/* Ends the task Succeeded. */
void reconcile_succeed(struct reconcile *r, const char *message);

/* Asks for another pass after delay_ms, keeping the earliest request. */
void reconcile_requeue(struct reconcile *r, long delay_ms);

/* Returns status.<key> as an integer, 0 when unset. */
json_int_t reconcile_status_int(struct reconcile *r, const char *key);

/*
 * Starts run index: the session, prompt ConfigMap, per-run Secret and Job,
 * then the run's status entry and phase Pending. resume_id (may be NULL) is
 * the engine session to resume. Returns 0, or MASON_EPOLICY /
 * MASON_EINVALID_OBJECT after failing the task, or a code to retry.
 */
int run_start(struct reconcile *r, int index, const char *trigger, const char *prompt,
              const char *resume_id);

/* Follows the latest run: its Job, its output stream and the ceilings. */
int run_step(struct reconcile *r);

/*
 * Handles a run that ended with the engine's turn limit: requests approval
 * when the session is persisted and continuations remain, else fails the
 * task.
 */
void continuation_request(struct reconcile *r, json_t *run);

/* Returns limits.maxContinuations, else the engine's configured max_continuations. */
json_int_t continuation_max(struct reconcile *r);

/* Returns how long a continuation request waits for a decision, in seconds. */
long continuation_timeout_seconds(struct reconcile *r);

/* Removes the decision annotations, so the next request starts clean. */
void continuation_clear_decision(struct reconcile *r);

/* Acts on a decision (annotation mason.dev/approval) or the expiry of a pending request. */
int continuation_step(struct reconcile *r);

/*
 * Returns true when the task carries a decision annotation although its phase (NULL for a new
 * task) awaits none, so that the caller removes the annotation. Records a Warning Event about it,
 * unless a decision was acted on in the last two minutes (the cache may still show that one).
 */
bool continuation_ignore_decision(struct reconcile *r, const char *phase);

#endif
