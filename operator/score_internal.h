/*
 * Shared state of the scorer (score.c keeps the window, score_signals.c
 * computes the signals, score_text.c writes reasons and hints).
 */
#ifndef MASON_SCORE_INTERNAL_H
#define MASON_SCORE_INTERNAL_H

#include <stddef.h>

#include "score.h"

enum item_type { ITEM_RESULT = 1, ITEM_EDIT, ITEM_USAGE, ITEM_ERROR };

enum item_check { CHECK_NONE = 0, CHECK_PASS, CHECK_FAIL, CHECK_UNKNOWN };

/* Kinds of item as bits, so that a change recomputes only the signals that read those kinds. */
enum item_mark {
    MARK_RESULT = 1 << 0, /* any tool result: loop */
    MARK_CHECK = 1 << 1,  /* a passing or failing build or test: thrash, trend */
    MARK_EDIT = 1 << 2,   /* thrash, burn */
    MARK_USAGE = 1 << 3,  /* burn */
    MARK_ERROR = 1 << 4,  /* error loop */
    MARK_ALL = (1 << 5) - 1,
};

/* The signals in the order their reasons are gathered. Trend gives progress and regression. */
enum score_group {
    GROUP_LOOP,
    GROUP_ERROR_LOOP,
    GROUP_THRASH,
    GROUP_TREND,
    GROUP_BURN,
    GROUP_COUNT
};

/* The reasons one signal gave when it was last computed. */
struct score_group_out {
    unsigned count;
    struct mason_score_reason reasons[2];
};

/* One fact about a recent event. The fields before subject are cleared on reuse. */
struct score_item {
    uint64_t seq;       /* index of the event that produced it, from 1 */
    int64_t time_ms;    /* when that event arrived; 0 when unknown */
    uint64_t key;       /* RESULT: the call; EDIT: the file; ERROR: the error text */
    uint64_t tokens;    /* USAGE */
    uint8_t type;       /* enum item_type */
    uint8_t check;      /* RESULT: enum item_check */
    uint8_t check_kind; /* RESULT: enum mason_check_kind */
    bool failed;        /* RESULT, ERROR */
    bool productive;    /* USAGE: spent in a turn that changed files */
    char subject[MASON_SCORE_SUBJECT_SIZE];
    char detail[MASON_SCORE_DETAIL_SIZE];
};

/* A slot of the grouping table; valid only while gen equals the scorer's table_gen. */
struct score_slot {
    uint64_t key;
    uint32_t gen;
    uint32_t count; /* loop: failures since the key's last success; thrash: returns;
                       trend: window index of the command's latest run */
    uint32_t mark;  /* thrash: the activity count after the file's last edit;
                       trend: outcome of the command's latest run */
    bool closed;    /* loop: a newer success of the key was seen; trend: compared */
};

struct mason_score {
    struct mason_score_config cfg;
    uint64_t seq; /* events fed */

    struct score_item *items; /* ring, oldest at items_head */
    size_t items_alloc;
    size_t items_count;
    size_t items_head;
    size_t max_items;
    unsigned dirty; /* enum item_mark bits of the items added or dropped since the last compute */
    struct score_group_out groups[GROUP_COUNT];

    struct score_slot *table; /* open addressing, size a power of two */
    size_t table_size;
    uint32_t table_gen;

    /* The last file change, to tell a Codex turn's usage from idle tokens. */
    unsigned session_gen;
    unsigned edit_session;
    unsigned edit_turn;
    bool edit_seen;

    struct mason_score_result result;
};

/* Returns the i-th item of the window, 0 being the oldest. */
static inline const struct score_item *score_item_at(const struct mason_score *s, size_t i)
{
    return &s->items[(s->items_head + i) % s->items_alloc];
}

/* Returns the enum item_mark bits of it. */
unsigned score_item_marks(const struct score_item *it);

/* Recomputes the signals that read the items marked in s->dirty, then s->result from every
 * signal's reasons, and clears s->dirty. Returns 0 or MASON_ENOMEM (s->dirty then stays set). */
int score_compute(struct mason_score *s);

/* Mixes a shell command into h with runs of whitespace made one space. */
uint64_t score_hash_command(uint64_t h, const char *command);

/* Mixes an error message into h with every word that contains a digit (ids, counters, times)
 * left out, so repeats of one error with fresh request ids match. */
uint64_t score_hash_error(uint64_t h, const char *text);

/* Copies text into dst on one line: control characters become spaces, and text that does not
 * fit is cut on a character boundary and ends in "...". */
void score_copy_text(char *dst, size_t size, const char *text);

/* Copies the line of a failure output that names the failure ("--- FAIL: TestX",
 * "E   assert 500 == 201"), or else its first non-empty line. "Exit code N" lines and ruler
 * characters around a line are skipped. */
void score_first_line(const char *text, char *dst, size_t size);

/* Writes what a tool call did, for reasons: its command (without a `bash -lc '...'` wrapper),
 * or "Tool file", or the tool name. */
void score_call_subject(const struct mason_event *ev, char *dst, size_t size);

#endif
