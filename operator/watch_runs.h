/*
 * The reconciler's use of a running agent's output stream: start
 * following the pod's log, copy usage and the session id into the status,
 * and stop the run when it passes a ceiling (cost, turns, stall, cost per
 * ten minutes).
 */
#ifndef MASON_WATCH_RUNS_H
#define MASON_WATCH_RUNS_H

#include <jansson.h>
#include <stdbool.h>

#include "reconcile.h"
#include "runs.h"
#include "status.h"

/* How often a running task is looked at again for the stall and cost-velocity ceilings. */
#define MASON_WATCHDOG_PERIOD_MS 15000L

/*
 * Follows run (the status entry) whose Job is job: starts its stream when
 * the pod exists, fills snap with what the stream reported, writes the
 * run's usage and the task's usage, and enforces the ceilings. A breach
 * deletes the Job and its pod and fails the task with the reason.
 */
void watch_runs_step(struct reconcile *r, json_t *run, json_t *job,
                     const struct mason_job_state *js, struct mason_run_snapshot *snap);

/*
 * Makes sure the follower reads the log of run index whose Job is job_name:
 * registers the run and starts its stream once the pod has started, and
 * when the Job finished, lets the stream end at the end of the log.
 */
void watch_runs_follow(struct reconcile *r, int index, const char *job_name, bool finished);

/* Creates op->runs and op->follower, whose callbacks account events and queue the task. */
int watch_runs_start(struct mason_operator *op);

/* Stops the follower and frees the registry. */
void watch_runs_stop(struct mason_operator *op);

/* Sums the usage of every run into status.usage. */
void watch_runs_total_usage(json_t *status);

#endif
