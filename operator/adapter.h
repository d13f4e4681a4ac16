/*
 * Engine adapters: each one reads an engine's output one JSON line at a
 * time and calls back with normalised events (event.h). Claude Code
 * (--output-format stream-json --verbose) and Codex (exec --json) are
 * supported. An adapter never fails on its input: a line that is not JSON,
 * an unknown event type or an unknown field is counted and skipped.
 */
#ifndef MASON_ADAPTER_H
#define MASON_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

/* Called once per normalised event; ev and its strings are valid only during the call. */
typedef void (*mason_event_fn)(void *arg, const struct mason_event *ev);

struct mason_adapter_stats {
    uint64_t lines;          /* lines fed, blank lines excluded */
    uint64_t events;         /* events delivered */
    uint64_t not_json;       /* lines that do not start with '{', such as stderr text */
    uint64_t malformed;      /* lines starting with '{' that are not a JSON object with a type */
    uint64_t unknown_types;  /* events or items of a type the adapter does not know */
    uint64_t unknown_fields; /* top-level fields not known for their event type */
    uint64_t ignored;        /* known events that carry nothing to normalise */
    uint64_t evicted;        /* tool calls dropped from the table of calls awaiting a result */
};

struct mason_adapter;

/* Returns whether engine has an adapter. */
bool mason_adapter_supported(enum mason_engine_id engine);

/*
 * Creates an adapter for engine that calls fn(arg, event) for each event.
 * Returns NULL when engine has no adapter or memory runs out.
 */
struct mason_adapter *mason_adapter_create(enum mason_engine_id engine, mason_event_fn fn,
                                           void *arg);

/* Frees the adapter; NULL is a no-op. */
void mason_adapter_free(struct mason_adapter *a);

/*
 * Parses one line (without its newline; a trailing '\r' is ignored) and
 * calls back with its events, zero or more. Returns 0, or MASON_ENOMEM when
 * memory ran out; malformed input is counted, never an error.
 */
int mason_adapter_feed(struct mason_adapter *a, const char *line, size_t len);

/* Copies the counters into out. */
void mason_adapter_stats(const struct mason_adapter *a, struct mason_adapter_stats *out);

#endif
