/*
 * The normalised agent event. Each engine adapter turns the engine's own
 * JSON lines (Claude Code stream-json, Codex exec --json) into these events,
 * so the watchdog, scoring and cost accounting see one shape whatever the
 * engine. An event only borrows its strings: they stay valid until the
 * callback that received the event returns, so copy what you keep.
 */
#ifndef MASON_EVENT_H
#define MASON_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum mason_event_kind {
    MASON_EVENT_UNKNOWN = 0,
    MASON_EVENT_INIT,        /* session start: session_id, model */
    MASON_EVENT_TEXT,        /* assistant text or Codex agent_message */
    MASON_EVENT_TOOL_CALL,   /* tool_use block or Codex tool item started */
    MASON_EVENT_TOOL_RESULT, /* tool_result block or Codex tool item completed */
    MASON_EVENT_TURN_END,    /* Codex turn.completed / turn.failed */
    MASON_EVENT_USAGE,       /* a token increment (one per API message or Codex turn) */
    MASON_EVENT_RESULT,      /* the final outcome of one engine session */
    MASON_EVENT_ERROR,       /* an error the engine reported outside a tool result */
    MASON_EVENT_KIND_COUNT,
};

/* The final outcome, normalised over engines. */
enum mason_outcome {
    MASON_OUTCOME_NONE = 0,
    MASON_OUTCOME_SUCCESS,    /* Claude subtype "success" without is_error; Codex turn.completed */
    MASON_OUTCOME_ERROR,      /* is_error, an error subtype, or Codex turn.failed */
    MASON_OUTCOME_MAX_TURNS,  /* Claude subtype "error_max_turns" */
    MASON_OUTCOME_MAX_BUDGET, /* Claude subtype "error_max_budget_usd" */
};

/*
 * Token counts. input is the input not served from the cache: Claude's
 * input_tokens, and Codex's input_tokens minus cached_input_tokens (Codex
 * counts cached tokens inside input_tokens). cache_write is Claude's
 * cache_creation_input_tokens; Codex reports none.
 */
struct mason_tokens {
    uint64_t input;
    uint64_t output;
    uint64_t cache_read;
    uint64_t cache_write;
};

/* Most files one event lists; files_total counts them all. */
#define MASON_EVENT_MAX_FILES 16

/*
 * Longest TOOL_RESULT text, in bytes: the adapters cut a longer tool output at
 * a UTF-8 character boundary at or below it. The scorer reads only its first
 * line.
 */
#define MASON_EVENT_MAX_RESULT_TEXT (64u * 1024u)

/* Length of a hex SHA-256 and its NUL. */
#define MASON_EVENT_HASH_SIZE 65

struct mason_event {
    enum mason_event_kind kind;
    unsigned turn;          /* turns seen so far in this session, 0 before the first */
    const char *session_id; /* Claude session_id or Codex thread_id; NULL before it is known */
    const char *model;      /* model of the message or session, or NULL */
    bool sidechain;         /* Claude sub-agent traffic (parent_tool_use_id set) */

    /* TOOL_CALL and TOOL_RESULT (a result repeats its call's name, hash, command and files) */
    const char *tool_name; /* "Bash", "Edit", "mcp__server__tool"; Codex: the item type */
    const char *tool_id;   /* tool_use id or Codex item id */
    char args_hash[MASON_EVENT_HASH_SIZE]; /* SHA-256 hex of the arguments with sorted keys
                                              and no whitespace; "" when there are none */
    const char *command;                   /* shell command of Bash or command_execution */
    const char *files[MASON_EVENT_MAX_FILES];
    unsigned files_count;
    unsigned files_total;
    bool files_modified; /* the files were written (Edit, Write, file_change), not read */

    /* TOOL_RESULT, TURN_END, ERROR, RESULT */
    bool is_error;
    bool has_exit_code;
    int exit_code;
    bool transient; /* Codex "Reconnecting... n/m": the engine retries by itself */

    /* TEXT: the text; TOOL_RESULT: the output, at most MASON_EVENT_MAX_RESULT_TEXT bytes;
       ERROR: the message; RESULT: the result text */
    const char *text;
    const char *error; /* Claude assistant "error" code, such as "unknown" */

    /* USAGE: an increment; RESULT: the session's totals (when has_tokens is set) */
    bool has_tokens;
    struct mason_tokens tokens;

    /* RESULT */
    struct {
        enum mason_outcome outcome;
        const char *subtype; /* as the engine printed it; Codex: "turn.completed", "turn.failed" */
        long num_turns;      /* the engine's count; -1 when not reported */
        bool has_cost;
        double total_cost_usd;
        json_t *structured_output; /* borrowed, or NULL */
        const char *terminal_reason;
    } result;
};

/* Returns the static name of kind ("tool_call"). */
const char *mason_event_kind_name(enum mason_event_kind kind);

/* Returns the static name of outcome ("success", "max_turns"). */
const char *mason_outcome_name(enum mason_outcome outcome);

/* Clears ev to an UNKNOWN event. */
void mason_event_clear(struct mason_event *ev);

/*
 * Writes the SHA-256 hex of args serialised with sorted keys and no
 * whitespace into out, or "" when args is NULL. Returns 0 or MASON_ENOMEM.
 */
int mason_event_hash_args(const json_t *args, char out[MASON_EVENT_HASH_SIZE]);

/* Writes the lowercase hex of a SHA-256 digest into out. */
void mason_event_hex_digest(const unsigned char digest[32], char out[MASON_EVENT_HASH_SIZE]);

/* Writes the SHA-256 hex of text[0..len) into out. Returns 0 or MASON_ENOMEM. */
int mason_event_hash_text(const char *text, size_t len, char out[MASON_EVENT_HASH_SIZE]);

/* Adds path to ev's files unless it is empty or already listed. */
void mason_event_add_file(struct mason_event *ev, const char *path);

/* Adds b to a. */
void mason_tokens_add(struct mason_tokens *a, const struct mason_tokens *b);

#endif
