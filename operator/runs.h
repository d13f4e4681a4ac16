/*
 * The registry of the output streams of running agents: for each run,
 * usage and cost, the engine's session id and final result, and when the
 * last event came. The stream follower writes here from its thread; the
 * reconciler reads snapshots and writes them into the AgentTask status.
 * Entries are keyed by task uid and run index, and rebuilt from the start of
 * the pod log after an operator restart, so usage is recomputed, never added
 * twice.
 */
#ifndef MASON_RUNS_H
#define MASON_RUNS_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "pricing.h"
#include "score.h"

/* A copy of one run's state at one moment. Strings are owned; release with
 * mason_run_snapshot_release. */
struct mason_run_snapshot {
    bool found;
    json_t *usage; /* status.usage shape (turns, toolCalls, tokens, costUSD), new reference */
    double cost_usd;
    unsigned turns;
    char *session_id; /* the engine's session id, or NULL before the init event */
    bool has_result;
    enum mason_outcome outcome;
    char *result_text; /* the final result text, or NULL */
    time_t started;    /* when the entry was created */
    time_t last_event; /* when the last event arrived, or 0 */
    double cost_last_10_minutes;
    bool stream_ended;     /* the log stream ended (the container exited) */
    bool scored;           /* scoring is on and saw an event */
    double score;          /* trajectory score from 0 (stuck) to 1 (steady progress) */
    json_t *score_reasons; /* one-line reasons, largest effect first, new reference */
    char *hint;            /* prompt that states what went wrong, for a hint run, or NULL */
};

struct mason_runs;

/*
 * Creates an empty registry. pricing (borrowed, may be NULL) prices tokens
 * when the engine reports no cost; scoring (borrowed, NULL to turn scoring
 * off) sets the trajectory scorer of each run.
 */
struct mason_runs *mason_runs_create(const struct mason_pricing *pricing,
                                     const struct mason_score_config *scoring);

void mason_runs_free(struct mason_runs *runs);

/*
 * Adds the run (task uid, index) unless present. Returns 1 when it was
 * added, so the caller starts following its log, 0 when it was there, or
 * MASON_ENOMEM.
 */
int mason_runs_add(struct mason_runs *runs, const char *uid, int index, const char *model);

/* Returns whether the run (uid, index) is registered. */
bool mason_runs_has(struct mason_runs *runs, const char *uid, int index);

/* Accounts one event of run (uid, index). Unknown runs are ignored. */
void mason_runs_event(struct mason_runs *runs, const char *uid, int index,
                      const struct mason_event *ev);

/* Marks the run's stream as ended. */
void mason_runs_stream_ended(struct mason_runs *runs, const char *uid, int index);

/* Fills out with a copy of the run's state; out->found is false for an unknown run. */
void mason_runs_snapshot(struct mason_runs *runs, const char *uid, int index,
                         struct mason_run_snapshot *out);

void mason_run_snapshot_release(struct mason_run_snapshot *s);

/* Sets the run's warned flag and returns its value before, so a warning is given once. */
bool mason_runs_warn_once(struct mason_runs *runs, const char *uid, int index);

/* Forgets the run (after it ended and its state was written to the status). */
void mason_runs_remove(struct mason_runs *runs, const char *uid, int index);

/* Returns the number of runs tracked. */
size_t mason_runs_count(struct mason_runs *runs);

#endif
