/*
 * Trajectory scoring: a score between 0 and 1 for how well an agent run is
 * going, computed over a sliding window of normalised events (event.h), with
 * the reasons that moved it, the intervention it calls for and a hint that
 * explains to a resumed session what went wrong.
 *
 * Signals, each measured over the window:
 * - loop: the same tool call (same command, or same arguments) failing again
 *   and again with no success of that call in between; the same engine error
 *   repeating counts the same way;
 * - thrash: going back to edit the same file again and again, after editing
 *   others or after a failed build or test, with no passing build or test in
 *   between;
 * - progress and regression: the latest build or test passing after the same
 *   command failed, or failing after it passed;
 * - burn: tokens spent since the last file change.
 *
 * Each signal has a severity that is 1 at its threshold: loop
 * (failures - 1) / (loop_repeats - 1), thrash (returns - 1) /
 * (thrash_flips - 1), burn (tokens - burn_tokens / 2) / (burn_tokens / 2),
 * none below 0. Its penalty is the severity, capped at 1.5, times
 * MASON_SCORE_PENALTY_AT_THRESHOLD, so with the default levels one signal
 * alone warns from a severity of 0.62, hints from 1 and terminates past
 * 1.23. The score is 1 minus the penalties plus the progress bonus,
 * clamped to [0, 1].
 */
#ifndef MASON_SCORE_H
#define MASON_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"

/* Penalty of one signal that reaches its threshold. */
#define MASON_SCORE_PENALTY_AT_THRESHOLD 0.65
/* Penalty when the latest build or test fails after the same command passed. */
#define MASON_SCORE_REGRESSION_PENALTY 0.25
/* Bonus when the latest build or test passes after the same command failed. */
#define MASON_SCORE_PROGRESS_BONUS 0.2

enum mason_intervention {
    MASON_INTERVENTION_NONE = 0,
    MASON_INTERVENTION_WARN,      /* record an Event, let the run go on */
    MASON_INTERVENTION_HINT,      /* stop the run, resume its session with a hint */
    MASON_INTERVENTION_TERMINATE, /* stop the run for good */
};

/* Thresholds. mason_score_config_defaults() fills in the values given here. */
struct mason_score_config {
    unsigned window_events;  /* latest events looked at; default 100 */
    unsigned window_minutes; /* and only those this recent; default 30, 0 for no limit */
    unsigned loop_repeats;   /* identical failures that reach the loop threshold; default 4 */
    unsigned thrash_flips;   /* returns to one file that reach the thrash threshold; default 4;
                                the first return is free */
    uint64_t burn_tokens;    /* tokens without a file change that reach the burn threshold;
                                default 250000 (input, output and cache writes; cache
                                reads are not counted) */
    double warn_below;       /* warn under this score; default 0.6 */
    double hint_below;       /* hint under this score; default 0.4 */
    double terminate_below;  /* terminate under this score; default 0.2 */
    enum mason_intervention intervention; /* the strongest one allowed; default terminate */
};

/* Kind of a build or test command, from mason_score_check_command(). */
enum mason_check_kind {
    MASON_CHECK_NONE = 0,
    MASON_CHECK_BUILD, /* make, go build, cargo build, tsc, mvn, gradle, npm run build ... */
    MASON_CHECK_TEST,  /* go test, pytest, npm test, cargo test, jest ... */
    MASON_CHECK_LINT,  /* eslint, ruff, mypy, go vet, cargo clippy, npm run lint ... */
};

enum mason_score_signal {
    MASON_SCORE_LOOP = 0,
    MASON_SCORE_ERROR_LOOP, /* the same engine error again and again */
    MASON_SCORE_THRASH,
    MASON_SCORE_REGRESSION,
    MASON_SCORE_PROGRESS,
    MASON_SCORE_BURN,
    MASON_SCORE_SIGNAL_COUNT,
};

/* Maximum sizes of a subject and a detail, NUL included. Longer text is cut and ends in "...". */
#define MASON_SCORE_SUBJECT_SIZE 96
#define MASON_SCORE_DETAIL_SIZE 80

/* One signal that moved the score. */
struct mason_score_reason {
    enum mason_score_signal signal;
    const char *code; /* static: "loop", "error_loop", "thrash", "regression", "progress",
                         "burn" */
    double delta;     /* what it did to the score: negative for a penalty */
    unsigned count;   /* loop: failures; error_loop: errors; thrash: returns to the file */
    uint64_t tokens;  /* burn: tokens since the last file change */
    enum mason_check_kind check;            /* regression and progress: the command's kind */
    char subject[MASON_SCORE_SUBJECT_SIZE]; /* command, tool and file, file, or error text */
    char detail[MASON_SCORE_DETAIL_SIZE];   /* loop: first line of the last failure output */
};

struct mason_score_result {
    double score;
    uint64_t events; /* events fed so far */
    unsigned reasons_count;
    struct mason_score_reason reasons[MASON_SCORE_SIGNAL_COUNT]; /* largest |delta| first */
};

struct mason_score;

/* Fills cfg with the defaults documented in struct mason_score_config. */
void mason_score_config_defaults(struct mason_score_config *cfg);

/*
 * Checks that every value is in range (window_events 1 to 100000,
 * loop_repeats and thrash_flips at least 2, burn_tokens at least 1, levels
 * with 0 <= terminate_below <= hint_below <= warn_below <= 1). Returns 0 or
 * MASON_ECONFIG with the key name and the reason in err.
 */
int mason_score_config_check(const struct mason_score_config *cfg, struct mason_buf *err);

/* Creates a scorer with a copy of cfg (NULL: the defaults). Returns NULL when memory runs
 * out or cfg fails mason_score_config_check(). */
struct mason_score *mason_score_create(const struct mason_score_config *cfg);

/* Frees the scorer; NULL is a no-op. */
void mason_score_free(struct mason_score *s);

/*
 * Adds one event and updates the score. now_ms is when the event arrived,
 * in milliseconds on any clock that does not go back; 0 means unknown,
 * which turns the window_minutes limit off for this event. Returns 0 or
 * MASON_ENOMEM, after which the scorer stays usable but may have kept part
 * of the event.
 */
int mason_score_feed(struct mason_score *s, const struct mason_event *ev, int64_t now_ms);

/* Returns the current score and reasons; borrowed, valid until the next feed. */
const struct mason_score_result *mason_score_result(const struct mason_score *s);

/*
 * Returns the intervention for score: terminate under terminate_below, hint
 * under hint_below, warn under warn_below, capped at cfg->intervention. A
 * level set to 0 is never reached. Without a resumable session a hint
 * becomes a warning: the run goes on until the score falls under
 * terminate_below.
 */
enum mason_intervention mason_score_decide(const struct mason_score_config *cfg, double score,
                                           bool resumable);

/* Returns the static name of intervention ("warn"). */
const char *mason_intervention_name(enum mason_intervention intervention);

/* Looks up "none", "warn", "hint" or "terminate". Returns 0 or MASON_ENOTFOUND. */
int mason_intervention_lookup(const char *name, enum mason_intervention *out);

/* Returns the static name of kind ("test"), "" for MASON_CHECK_NONE. */
const char *mason_check_kind_name(enum mason_check_kind kind);

/*
 * Appends one line that describes reason, such as
 * "loop: `go test ./...` failed 4 times with no success in between (last
 * output: FAIL ...) (-0.65)".
 * Returns 0 or an error of mason_buf_add.
 */
int mason_score_reason_format(const struct mason_score_reason *reason, struct mason_buf *out);

/*
 * Appends the prompt for a resumed session: what went wrong, one sentence
 * per penalty, and what to do instead. Appends nothing when no penalty moved
 * the score. Returns 0 or an error of mason_buf_add.
 */
int mason_score_hint(const struct mason_score_result *result, struct mason_buf *out);

/*
 * Classifies a shell command as a build, test or lint run. It looks at every
 * command of a list or pipeline, through `bash -lc '...'`-style wrappers,
 * environment assignments and prefixes such as `timeout`, `npx` or
 * `python -m`, and returns the kind of the last check found. *exit_reliable
 * (may be NULL) is set false when a later `|`, `;`, `||` or `&` hides the
 * check's exit status from the command's.
 */
enum mason_check_kind mason_score_check_command(const char *command, bool *exit_reliable);

#endif
