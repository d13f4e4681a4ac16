/*
 * Shared state of the engine adapters: the session, the turn counter, and
 * the table of tool calls that wait for their result, so a result can carry
 * the name, argument hash, command and files of its call.
 */
#ifndef MASON_ADAPTER_INTERNAL_H
#define MASON_ADAPTER_INTERNAL_H

#include <openssl/evp.h>

#include "adapter.h"
#include "buf.h"
#include "jscan.h"

/* Tool calls that may wait for a result at once; the oldest is dropped past it. */
#define ADAPTER_MAX_PENDING 256

/* Maximum length of the command kept for a pending call, in bytes. */
#define ADAPTER_MAX_COMMAND 4096

/* Recent Claude message ids kept to count each message's usage once. */
#define ADAPTER_RECENT_MESSAGES 16

struct adapter_call {
    char *id;
    char *name;
    char *command;
    char hash[MASON_EVENT_HASH_SIZE];
    char *files[MASON_EVENT_MAX_FILES];
    unsigned files_count;
    unsigned files_total;
    bool files_modified;
    uint64_t seq; /* insertion order, to find the oldest */
};

struct mason_adapter {
    enum mason_engine_id engine;
    mason_event_fn fn;
    void *arg;
    struct mason_adapter_stats stats;
    int (*feed)(struct mason_adapter *a, int line);

    struct mason_jscan doc;     /* the line being fed; its root, token 0, is an object */
    int type;                   /* token of the line's "type", a string */
    struct mason_buf canonical; /* scratch for the canonical form of hashed arguments */
    EVP_MD_CTX *md;             /* reused for every hash; NULL until the first */

    char *session_id;
    char *model;
    unsigned turn;

    struct adapter_call *calls; /* grows by doubling up to ADAPTER_MAX_PENDING */
    unsigned calls_alloc;
    unsigned calls_count;
    uint64_t calls_seq;

    /* Claude */
    char *recent_messages[ADAPTER_RECENT_MESSAGES];
    unsigned recent_next;
    char *main_message; /* id of the last main-thread message, for the turn count */

    /* Codex: totals of the current thread and its last agent message */
    struct mason_tokens thread_tokens;
    char *last_message;
};

/* Handle one line: the root object of a->doc, which has a string "type". */
int adapter_claude_feed(struct mason_adapter *a, int line);
int adapter_codex_feed(struct mason_adapter *a, int line);

/* Replaces *slot with a copy of s (NULL clears it). Returns 0 or MASON_ENOMEM. */
int adapter_set_string(char **slot, const char *s);

/* Delivers ev after filling in the session, and counts it. */
void adapter_emit(struct mason_adapter *a, struct mason_event *ev);

/* Counts the fields of object obj that are not in the NULL-terminated list known. */
void adapter_check_fields(struct mason_adapter *a, int obj, const char *const *known);

/* Returns the value of member key of obj in the line, or -1 (also when obj is -1). */
static inline int adapter_get(struct mason_adapter *a, int obj, const char *key)
{
    return mason_jscan_get(&a->doc, obj, key);
}

/* Returns member key of obj decoded, valid until the next line, or NULL when it is not a
 * string. */
static inline const char *adapter_str(struct mason_adapter *a, int obj, const char *key)
{
    return mason_jscan_string(&a->doc, mason_jscan_get(&a->doc, obj, key));
}

/* Returns whether value i of the line has the given type. */
bool adapter_is(struct mason_adapter *a, int i, enum mason_jscan_type type);

/*
 * Writes into out the hash of value i of the line, equal to what
 * mason_event_hash_args writes for the same value parsed by jansson. Writes ""
 * when i is -1. Returns 0 or MASON_ENOMEM.
 */
int adapter_hash_value(struct mason_adapter *a, int i, char out[MASON_EVENT_HASH_SIZE]);

/*
 * Writes into out the hash of the object {key: value i}, with null for i = -1,
 * as mason_event_hash_args would. key is written as it is, so it must need no
 * escaping. Returns 0 or MASON_ENOMEM.
 */
int adapter_hash_member(struct mason_adapter *a, const char *key, int i,
                        char out[MASON_EVENT_HASH_SIZE]);

/* Remembers the call in ev (tool_id, tool_name, args_hash, command, files). */
int adapter_call_remember(struct mason_adapter *a, const struct mason_event *ev);

/* Fills ev's call fields from the pending call with id and removes it from the table; false if
 * there is none. */
bool adapter_call_take(struct mason_adapter *a, const char *id, struct mason_event *ev,
                       struct adapter_call *hold);

/* Frees a call returned by adapter_call_take. */
void adapter_call_release(struct adapter_call *call);

/* Forgets every pending call. */
void adapter_calls_clear(struct mason_adapter *a);

/* Reads a non-negative integer member of obj; 0 when absent or not a number. */
uint64_t adapter_u64(struct mason_adapter *a, int obj, const char *key);

#endif
