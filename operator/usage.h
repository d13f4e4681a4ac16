/*
 * Usage and cost of one run, accumulated from its normalised events. While
 * a session runs, its USAGE increments are priced from the price table.
 * Its RESULT carries the session's totals and replaces them, with the
 * engine's own total_cost_usd when it reported one. A stream may contain
 * several sessions (an engine restarted in the same container), and their
 * totals add up.
 */
#ifndef MASON_USAGE_H
#define MASON_USAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "pricing.h"

/* Maximum length of the result text kept, in bytes. */
#define MASON_USAGE_MAX_TEXT (32u * 1024u)

struct mason_usage_part {
    struct mason_tokens tokens;
    double cost_usd;
    bool estimated;           /* some of cost_usd came from the price table */
    uint64_t unpriced_tokens; /* tokens of models missing from the price table */
};

struct mason_usage {
    const struct mason_pricing *pricing; /* borrowed */
    char *default_model;                 /* prices events that name no model (Codex names none) */
    char *session_id;
    char *session_model;

    /* Totals: closed sessions + the current session's last RESULT + increments since it. */
    struct mason_usage_part closed, session, open;
    unsigned closed_turns, session_turns;

    uint64_t events;
    uint64_t tool_calls;
    uint64_t tool_errors;
    unsigned sessions;

    /* The latest RESULT. */
    bool has_result;
    enum mason_outcome outcome;
    char *subtype;
    bool is_error;
    long num_turns;
    char *result_text;         /* at most MASON_USAGE_MAX_TEXT bytes */
    json_t *structured_output; /* own reference, or NULL */
};

/*
 * Initialises u with a price table (borrowed, may be NULL for no prices)
 * and the model of the engine's configuration (may be NULL). Returns 0 or
 * MASON_ENOMEM.
 */
int mason_usage_init(struct mason_usage *u, const struct mason_pricing *pricing,
                     const char *default_model);

/* Frees what u holds. */
void mason_usage_release(struct mason_usage *u);

/* Accounts one event. Returns 0 or MASON_ENOMEM. */
int mason_usage_add(struct mason_usage *u, const struct mason_event *ev);

/* Returns the run's tokens and cost so far. */
struct mason_usage_part mason_usage_total(const struct mason_usage *u);

/* Returns the turns counted so far: assistant messages (Claude) or turns (Codex). */
unsigned mason_usage_turns(const struct mason_usage *u);

/* Returns whether the latest session ended with a successful RESULT. */
bool mason_usage_succeeded(const struct mason_usage *u);

/*
 * Returns a new JSON object in the shape of AgentTask status.usage: turns,
 * toolCalls, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens,
 * costUSD, costEstimated. NULL when memory runs out.
 */
json_t *mason_usage_to_json(const struct mason_usage *u);

#endif
