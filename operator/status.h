/*
 * The AgentTask status as the reconciler computes it: phase, reason,
 * conditions in the metav1.Condition shape, and the runs list. Functions
 * here change a json_t status object in memory; the reconciler sends it.
 */
#ifndef MASON_STATUS_H
#define MASON_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

/* Phases of an AgentTask (status.phase). */
#define MASON_PHASE_PENDING "Pending"
#define MASON_PHASE_RUNNING "Running"
#define MASON_PHASE_AWAITING_APPROVAL "AwaitingApproval"
#define MASON_PHASE_SUCCEEDED "Succeeded"
#define MASON_PHASE_FAILED "Failed"

/* Condition types. */
#define MASON_COND_ACCEPTED "Accepted"
#define MASON_COND_RUNNING "Running"
#define MASON_COND_SUCCEEDED "Succeeded"

/* Writes t as an RFC 3339 UTC timestamp ("2026-12-04T15:30:00Z") into out. */
void mason_status_timestamp(time_t t, char out[32]);

/* Parses an RFC 3339 UTC timestamp as mason_status_timestamp writes it. Returns 0 or -1. */
int mason_status_parse_timestamp(const char *s, time_t *out);

/* Returns whether phase is Succeeded or Failed. */
bool mason_status_phase_final(const char *phase);

/*
 * Sets the condition of type in status.conditions (created when missing).
 * lastTransitionTime changes only when the condition's status changes, as
 * metav1.Condition requires. cond_status is "True", "False" or "Unknown".
 */
void mason_status_set_condition(json_t *status, const char *type, const char *cond_status,
                                const char *reason, const char *message, json_int_t generation,
                                time_t now);

/* Returns the condition of type in status (borrowed), or NULL. */
json_t *mason_status_condition(json_t *status, const char *type);

/* Sets phase, reason and message of status. message may be NULL (removed). */
void mason_status_set_phase(json_t *status, const char *phase, const char *reason,
                            const char *message);

/* Returns the entry of status.runs with index (borrowed), or NULL. */
json_t *mason_status_run(json_t *status, int index);

/* Returns the last entry of status.runs (borrowed), or NULL when there is none. */
json_t *mason_status_last_run(json_t *status);

/* Appends a new run entry with outcome Running and returns it (borrowed). */
json_t *mason_status_add_run(json_t *status, int index, const char *job, const char *engine,
                             const char *trigger, time_t now);

/* The state of a run as its Job shows it. */
struct mason_job_state {
    const char *outcome;         /* "Running", "Succeeded" or "Failed" */
    const char *reason;          /* Job condition reason when Failed, such as DeadlineExceeded */
    const char *message;         /* Job condition message, or NULL */
    bool ready;                  /* the agent pod is running and ready */
    bool has_pod;                /* the Job controller reports a pod (active, ready or ended) */
    const char *completion_time; /* Job's completionTime or condition time, or NULL */
};

/* Reads the outcome of a Job object (borrowed). */
void mason_status_job_state(json_t *job, struct mason_job_state *out);

#endif
