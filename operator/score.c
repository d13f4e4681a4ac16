/*
 * The scorer keeps a ring of items, the facts about recent events that the
 * signals need. Items are tool results (with a key naming the call, whether
 * it failed and whether it was a passing or failing check), file edits,
 * token usage and engine errors. When an event adds or expires items, the
 * signals that read items of those kinds are recomputed from the ring; the
 * others keep their reasons. With the default window that is a few hundred
 * items at most, and a table stamped with a generation number groups them
 * by key without being cleared between passes.
 */
#include "score_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

/* Files of one event that take part in the thrash signal; the rest are ignored. */
#define SCORE_FILES_PER_EVENT 4

void mason_score_config_defaults(struct mason_score_config *cfg)
{
    cfg->window_events = 100;
    cfg->window_minutes = 30;
    cfg->loop_repeats = 4;
    cfg->thrash_flips = 4;
    cfg->burn_tokens = 250000;
    cfg->warn_below = 0.6;
    cfg->hint_below = 0.4;
    cfg->terminate_below = 0.2;
    cfg->intervention = MASON_INTERVENTION_TERMINATE;
}

int mason_score_config_check(const struct mason_score_config *cfg, struct mason_buf *err)
{
    const char *key = NULL, *reason = NULL;

    if (cfg->window_events < 1 || cfg->window_events > 100000)
        key = "window_events", reason = "must be between 1 and 100000";
    else if (cfg->loop_repeats < 2)
        key = "loop_repeats", reason = "must be at least 2";
    else if (cfg->thrash_flips < 2)
        key = "thrash_flips", reason = "must be at least 2";
    else if (cfg->burn_tokens < 1)
        key = "burn_tokens", reason = "must be at least 1";
    else if (!(cfg->warn_below >= 0 && cfg->warn_below <= 1))
        key = "warn_below", reason = "must be between 0 and 1";
    else if (!(cfg->hint_below >= 0 && cfg->hint_below <= cfg->warn_below))
        key = "hint_below", reason = "must be between 0 and warn_below";
    else if (!(cfg->terminate_below >= 0 && cfg->terminate_below <= cfg->hint_below))
        key = "terminate_below", reason = "must be between 0 and hint_below";
    else if ((unsigned)cfg->intervention > MASON_INTERVENTION_TERMINATE)
        key = "intervention", reason = "must be none, warn, hint or terminate";
    if (!key)
        return 0;
    if (err)
        mason_buf_addf(err, "scoring.%s: %s", key, reason);
    return MASON_ECONFIG;
}

struct mason_score *mason_score_create(const struct mason_score_config *cfg)
{
    struct mason_score *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    if (cfg)
        s->cfg = *cfg;
    else
        mason_score_config_defaults(&s->cfg);
    if (mason_score_config_check(&s->cfg, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->max_items = (size_t)s->cfg.window_events * (1 + SCORE_FILES_PER_EVENT);
    s->result.score = 1.0;
    return s;
}

void mason_score_free(struct mason_score *s)
{
    if (!s)
        return;
    free(s->items);
    free(s->table);
    free(s);
}

const struct mason_score_result *mason_score_result(const struct mason_score *s)
{
    return &s->result;
}

/* FNV-1a, 64 bits: keys only group items of one window, so collisions merely merge two. */
static uint64_t hash_bytes(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_bytes(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

#define HASH_SEED 0xcbf29ce484222325ull

/* Grows the ring, keeping its items in order. */
static int ring_grow(struct mason_score *s)
{
    size_t alloc = s->items_alloc ? s->items_alloc * 2 : 32;
    struct score_item *items;

    if (alloc > s->max_items)
        alloc = s->max_items;
    items = malloc(alloc * sizeof(*items));
    if (!items)
        return MASON_ENOMEM;
    for (size_t i = 0; i < s->items_count; i++)
        items[i] = s->items[(s->items_head + i) % s->items_alloc];
    free(s->items);
    s->items = items;
    s->items_alloc = alloc;
    s->items_head = 0;
    return 0;
}

/* Returns a cleared slot at the end of the ring; the oldest item makes room when it is full. */
static struct score_item *ring_push(struct mason_score *s)
{
    struct score_item *it;

    if (s->items_count == s->items_alloc && s->items_alloc < s->max_items && ring_grow(s) != 0)
        return NULL;
    if (s->items_count == s->items_alloc) {
        s->dirty |= score_item_marks(&s->items[s->items_head]);
        s->items_head = (s->items_head + 1) % s->items_alloc;
        s->items_count--;
    }
    it = &s->items[(s->items_head + s->items_count) % s->items_alloc];
    s->items_count++;
    memset(it, 0, offsetof(struct score_item, subject));
    it->subject[0] = '\0';
    it->detail[0] = '\0';
    return it;
}

/* Drops the items that left the window: by event count, and by age when now_ms is known. */
static void ring_expire(struct mason_score *s, int64_t now_ms)
{
    uint64_t oldest_seq = s->seq >= s->cfg.window_events ? s->seq - s->cfg.window_events + 1 : 0;
    int64_t oldest_ms = now_ms - (int64_t)s->cfg.window_minutes * 60000;
    bool by_time = now_ms > 0 && s->cfg.window_minutes > 0;

    while (s->items_count > 0) {
        const struct score_item *it = &s->items[s->items_head];

        if (it->seq >= oldest_seq && !(by_time && it->time_ms > 0 && it->time_ms < oldest_ms))
            break;
        s->dirty |= score_item_marks(it);
        s->items_head = (s->items_head + 1) % s->items_alloc;
        s->items_count--;
    }
}

/* The key of a tool call: its command when it has one, so reworded descriptions do not hide a
 * repeat, otherwise its arguments. */
static uint64_t call_key(const struct mason_event *ev)
{
    uint64_t h = hash_str(HASH_SEED, "call");

    h = hash_str(h, ev->tool_name);
    if (ev->command)
        return score_hash_command(h, ev->command);
    return hash_str(h, ev->args_hash);
}

static int add_edits(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    for (unsigned i = 0; i < ev->files_count && i < SCORE_FILES_PER_EVENT; i++) {
        struct score_item *it = ring_push(s);

        if (!it)
            return MASON_ENOMEM;
        it->type = ITEM_EDIT;
        it->seq = s->seq;
        it->time_ms = now_ms;
        it->key = hash_str(hash_str(HASH_SEED, "file"), ev->files[i]);
        score_copy_text(it->subject, sizeof(it->subject), ev->files[i]);
    }
    s->edit_session = s->session_gen;
    s->edit_turn = ev->turn;
    s->edit_seen = true;
    return 0;
}

/* Classifies a result as a passing or failing check. A zero exit of a command whose status
 * hides the check's (a pipe into `tail`) proves nothing, so it counts as neither. */
static enum item_check result_check(const struct mason_event *ev, enum mason_check_kind *kind)
{
    bool reliable = false;

    *kind = mason_score_check_command(ev->command, &reliable);
    if (*kind == MASON_CHECK_NONE)
        return CHECK_NONE;
    if (ev->is_error)
        return CHECK_FAIL;
    return reliable ? CHECK_PASS : CHECK_UNKNOWN;
}

static int add_result(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    enum mason_check_kind kind;
    struct score_item *it;

    if (ev->files_modified && !ev->is_error && ev->files_count > 0)
        return add_edits(s, ev, now_ms);
    if (!ev->tool_name || !ev->tool_name[0])
        return 0; /* a result whose call was not seen: nothing to key it on */
    it = ring_push(s);
    if (!it)
        return MASON_ENOMEM;
    it->type = ITEM_RESULT;
    it->seq = s->seq;
    it->time_ms = now_ms;
    it->key = call_key(ev);
    it->failed = ev->is_error;
    it->check = result_check(ev, &kind);
    it->check_kind = kind;
    score_call_subject(ev, it->subject, sizeof(it->subject));
    if (ev->is_error)
        score_first_line(ev->text, it->detail, sizeof(it->detail));
    return 0;
}

static int add_usage(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    struct score_item *it;
    uint64_t tokens = ev->tokens.input + ev->tokens.output + ev->tokens.cache_write;

    if (tokens == 0)
        return 0;
    it = ring_push(s);
    if (!it)
        return MASON_ENOMEM;
    it->type = ITEM_USAGE;
    it->seq = s->seq;
    it->time_ms = now_ms;
    it->tokens = tokens;
    /* Codex reports a turn's usage after the turn's file changes: those tokens were not idle. */
    it->productive = s->edit_seen && s->edit_session == s->session_gen && s->edit_turn == ev->turn;
    return 0;
}

static int add_error(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    struct score_item *it;

    if (ev->transient || !ev->text)
        return 0;
    it = ring_push(s);
    if (!it)
        return MASON_ENOMEM;
    it->type = ITEM_ERROR;
    it->seq = s->seq;
    it->time_ms = now_ms;
    it->failed = true;
    it->key = score_hash_error(hash_str(HASH_SEED, "error"), ev->text);
    score_first_line(ev->text, it->subject, sizeof(it->subject));
    return 0;
}

static int add_event(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    switch (ev->kind) {
    case MASON_EVENT_INIT:
        s->session_gen++;
        return 0;
    case MASON_EVENT_TOOL_RESULT:
        return add_result(s, ev, now_ms);
    case MASON_EVENT_USAGE:
        return add_usage(s, ev, now_ms);
    case MASON_EVENT_ERROR:
        return add_error(s, ev, now_ms);
    default:
        return 0;
    }
}

unsigned score_item_marks(const struct score_item *it)
{
    switch (it->type) {
    case ITEM_RESULT:
        return it->check == CHECK_PASS || it->check == CHECK_FAIL ? MARK_RESULT | MARK_CHECK
                                                                  : MARK_RESULT;
    case ITEM_EDIT:
        return MARK_EDIT;
    case ITEM_USAGE:
        return MARK_USAGE;
    case ITEM_ERROR:
        return MARK_ERROR;
    default:
        return 0;
    }
}

/* Marks the items the current event added, the newest ones of the ring. */
static void mark_added(struct mason_score *s)
{
    for (size_t i = s->items_count; i-- > 0;) {
        const struct score_item *it = score_item_at(s, i);

        if (it->seq != s->seq)
            break;
        s->dirty |= score_item_marks(it);
    }
}

int mason_score_feed(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    int rc;

    s->seq++;
    ring_expire(s, now_ms);
    rc = add_event(s, ev, now_ms);
    mark_added(s);
    if (rc) {
        s->seq--;
        return rc;
    }
    s->result.events = s->seq;
    if (!s->dirty)
        return 0;
    return score_compute(s);
}
