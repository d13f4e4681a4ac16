/*
 * The signals, each computed by one pass over the window, and the score
 * they add up to. A signal is computed again only when items of a kind it
 * reads were added or dropped.
 */
#include "score_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

/* Severity at which a signal's penalty stops growing. */
#define SEVERITY_CAP 1.5

/* Makes the table at least twice the largest window, so probes stay short. */
static int table_prepare(struct mason_score *s)
{
    size_t want = 64;

    while (want < s->items_count * 2)
        want *= 2;
    if (want > s->table_size) {
        struct score_slot *table = calloc(want, sizeof(*table));

        if (!table)
            return MASON_ENOMEM;
        free(s->table);
        s->table = table;
        s->table_size = want;
        s->table_gen = 0;
    }
    s->table_gen++;
    if (s->table_gen == 0) { /* wrapped: stale slots could look valid */
        memset(s->table, 0, s->table_size * sizeof(*s->table));
        s->table_gen = 1;
    }
    return 0;
}

/* Returns the slot of key for this pass, cleared the first time it is seen. */
static struct score_slot *table_slot(struct mason_score *s, uint64_t key)
{
    size_t mask = s->table_size - 1;
    size_t i = (size_t)(key ^ (key >> 32)) & mask;

    while (s->table[i].gen == s->table_gen && s->table[i].key != key)
        i = (i + 1) & mask;
    if (s->table[i].gen != s->table_gen) {
        memset(&s->table[i], 0, sizeof(s->table[i]));
        s->table[i].gen = s->table_gen;
        s->table[i].key = key;
    }
    return &s->table[i];
}

static double penalty(double severity)
{
    if (severity > SEVERITY_CAP)
        severity = SEVERITY_CAP;
    return severity * MASON_SCORE_PENALTY_AT_THRESHOLD;
}

static struct mason_score_reason *reason_add(struct score_group_out *out,
                                             enum mason_score_signal sig, double delta)
{
    static const char *const codes[MASON_SCORE_SIGNAL_COUNT] = {
        "loop", "error_loop", "thrash", "regression", "progress", "burn",
    };
    struct mason_score_reason *r = &out->reasons[out->count++];

    memset(r, 0, sizeof(*r));
    r->signal = sig;
    r->code = codes[sig];
    r->delta = delta;
    return r;
}

/*
 * Loop and error loop: newest to oldest, a success of a call closes its key,
 * so only failures after the last success count. The newest failure of the
 * worst key gives the reason's subject and detail.
 */
static int signal_loop(struct mason_score *s, enum item_type type, enum mason_score_signal sig,
                       enum score_group out)
{
    const struct score_item *worst = NULL;
    unsigned worst_count = 0;
    int rc = table_prepare(s);

    if (rc)
        return rc;
    for (size_t i = s->items_count; i-- > 0;) {
        const struct score_item *it = score_item_at(s, i);
        struct score_slot *slot;

        if (it->type != type)
            continue;
        slot = table_slot(s, it->key);
        if (slot->closed)
            continue;
        if (!it->failed) {
            slot->closed = true;
            continue;
        }
        if (++slot->count > worst_count || (slot->count == worst_count && !worst)) {
            worst_count = slot->count;
            worst = it; /* replaced below by the key's newest failure */
        }
    }
    if (worst_count < 2)
        return 0;
    for (size_t i = s->items_count; i-- > 0;) {
        const struct score_item *it = score_item_at(s, i);

        if (it->type == type && it->key == worst->key && it->failed) {
            worst = it;
            break;
        }
    }
    {
        double severity = (double)(worst_count - 1) / (double)(s->cfg.loop_repeats - 1);
        struct mason_score_reason *r = reason_add(&s->groups[out], sig, -penalty(severity));

        r->count = worst_count;
        memcpy(r->subject, worst->subject, sizeof(r->subject));
        memcpy(r->detail, worst->detail, sizeof(r->detail));
    }
    return 0;
}

/* Returns the index just after the newest passing check, 0 when there is none. */
static size_t after_last_pass(const struct mason_score *s)
{
    for (size_t i = s->items_count; i-- > 0;) {
        const struct score_item *it = score_item_at(s, i);

        if (it->type == ITEM_RESULT && it->check == CHECK_PASS)
            return i + 1;
    }
    return 0;
}

/*
 * Thrash: since the newest passing check, oldest to newest. Every edit and
 * every failed check is activity. An edit of a file counts as a return when
 * there was other activity since that file's previous edit, because editing
 * one file several times in a row is writing it, not going back and forth.
 */
static int signal_thrash(struct mason_score *s)
{
    const struct score_item *worst = NULL;
    unsigned worst_count = 0;
    uint32_t activity = 0;
    int rc = table_prepare(s);

    if (rc)
        return rc;
    for (size_t i = after_last_pass(s); i < s->items_count; i++) {
        const struct score_item *it = score_item_at(s, i);
        struct score_slot *slot;

        if (it->type == ITEM_RESULT && it->check == CHECK_FAIL)
            activity++;
        if (it->type != ITEM_EDIT)
            continue;
        slot = table_slot(s, it->key);
        if (slot->mark != 0 && slot->mark != activity && ++slot->count >= worst_count) {
            worst_count = slot->count;
            worst = it;
        }
        slot->mark = ++activity;
    }
    if (worst_count < 2)
        return 0; /* one return, such as a fix after a failed test, is normal */
    {
        double severity = (double)(worst_count - 1) / (double)(s->cfg.thrash_flips - 1);
        struct mason_score_reason *r =
            reason_add(&s->groups[GROUP_THRASH], MASON_SCORE_THRASH, -penalty(severity));

        r->count = worst_count;
        memcpy(r->subject, worst->subject, sizeof(r->subject));
    }
    return 0;
}

static void trend_reason(struct mason_score *s, enum mason_score_signal sig,
                         const struct score_item *it)
{
    double delta =
        sig == MASON_SCORE_PROGRESS ? MASON_SCORE_PROGRESS_BONUS : -MASON_SCORE_REGRESSION_PENALTY;
    struct mason_score_reason *r = reason_add(&s->groups[GROUP_TREND], sig, delta);

    r->check = (enum mason_check_kind)it->check_kind;
    memcpy(r->subject, it->subject, sizeof(r->subject));
    memcpy(r->detail, it->detail, sizeof(r->detail));
}

/*
 * Progress and regression: for each build or test command in the window, its
 * latest run with a known outcome against the run before it. The newest
 * command that went from failing to passing gives progress, the newest that
 * went from passing to failing a regression.
 */
static int signal_trend(struct mason_score *s)
{
    const struct score_item *progress = NULL, *regression = NULL;
    int rc = table_prepare(s);

    if (rc)
        return rc;
    for (size_t i = s->items_count; i-- > 0;) {
        const struct score_item *it = score_item_at(s, i);
        struct score_slot *slot;

        if (it->type != ITEM_RESULT || (it->check != CHECK_PASS && it->check != CHECK_FAIL))
            continue;
        slot = table_slot(s, it->key);
        if (slot->closed)
            continue;
        if (slot->mark == 0) {
            slot->mark = it->check; /* the latest run of this command */
            slot->count = (uint32_t)i;
            continue;
        }
        slot->closed = true;
        if (slot->mark == it->check)
            continue;
        if (slot->mark == CHECK_PASS && !progress)
            progress = score_item_at(s, slot->count);
        if (slot->mark == CHECK_FAIL && !regression)
            regression = score_item_at(s, slot->count);
    }
    if (progress)
        trend_reason(s, MASON_SCORE_PROGRESS, progress);
    if (regression)
        trend_reason(s, MASON_SCORE_REGRESSION, regression);
    return 0;
}

/* Burn: tokens of the usage since the newest file change, newest to oldest. */
static void signal_burn(struct mason_score *s)
{
    uint64_t tokens = 0;
    struct mason_score_reason *r;
    double half;

    for (size_t i = s->items_count; i-- > 0;) {
        const struct score_item *it = score_item_at(s, i);

        if (it->type == ITEM_EDIT || (it->type == ITEM_USAGE && it->productive))
            break;
        if (it->type == ITEM_USAGE)
            tokens += it->tokens;
    }
    /* The first half of burn_tokens is free: reading a codebase before changing it is normal. */
    half = (double)s->cfg.burn_tokens / 2;
    if ((double)tokens <= half)
        return;
    r = reason_add(&s->groups[GROUP_BURN], MASON_SCORE_BURN,
                   -penalty(((double)tokens - half) / half));
    r->tokens = tokens;
}

static int reason_cmp(const void *a, const void *b)
{
    double da = ((const struct mason_score_reason *)a)->delta;
    double db = ((const struct mason_score_reason *)b)->delta;

    da = fabs(da);
    db = fabs(db);
    if (da < db)
        return 1;
    if (da > db)
        return -1;
    return 0;
}

/* Computes one signal into its group, when items it reads changed. */
static int group_compute(struct mason_score *s, enum score_group g)
{
    static const unsigned reads[GROUP_COUNT] = {
        [GROUP_LOOP] = MARK_RESULT,
        [GROUP_ERROR_LOOP] = MARK_ERROR,
        [GROUP_THRASH] = MARK_CHECK | MARK_EDIT,
        [GROUP_TREND] = MARK_CHECK,
        [GROUP_BURN] = MARK_EDIT | MARK_USAGE,
    };

    if (!(s->dirty & reads[g]))
        return 0;
    s->groups[g].count = 0;
    switch (g) {
    case GROUP_LOOP:
        return signal_loop(s, ITEM_RESULT, MASON_SCORE_LOOP, g);
    case GROUP_ERROR_LOOP:
        return signal_loop(s, ITEM_ERROR, MASON_SCORE_ERROR_LOOP, g);
    case GROUP_THRASH:
        return signal_thrash(s);
    case GROUP_TREND:
        return signal_trend(s);
    default:
        signal_burn(s);
        return 0;
    }
}

int score_compute(struct mason_score *s)
{
    double score = 1.0;

    for (unsigned g = 0; g < GROUP_COUNT; g++) {
        int rc = group_compute(s, (enum score_group)g);

        if (rc)
            return rc;
    }
    s->dirty = 0;
    s->result.reasons_count = 0;
    for (unsigned g = 0; g < GROUP_COUNT; g++)
        for (unsigned i = 0; i < s->groups[g].count; i++)
            s->result.reasons[s->result.reasons_count++] = s->groups[g].reasons[i];
    for (unsigned i = 0; i < s->result.reasons_count; i++)
        score += s->result.reasons[i].delta;
    if (score < 0)
        score = 0;
    if (score > 1)
        score = 1;
    s->result.score = score;
    qsort(s->result.reasons, s->result.reasons_count, sizeof(s->result.reasons[0]), reason_cmp);
    return 0;
}
