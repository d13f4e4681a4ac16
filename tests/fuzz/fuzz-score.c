/*
 * Fuzzes the scorer through the engine adapters: the input is split into
 * lines and fed to the Claude Code adapter and, separately, to the Codex
 * adapter, each driving a scorer with a small window so that items expire.
 * Every line is also classified as a shell command. The score must stay in
 * [0, 1], the reasons and hint must format, and a second scorer that
 * recomputes every signal at every event must give the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "buf.h"
#include "score.h"
#include "score_internal.h"
#include "stream.h"

struct target {
    struct mason_score *score;
    struct mason_score *full;
    int64_t now_ms;
};

/* Aborts unless two results have the same score and reasons. */
static void check_same(const struct mason_score_result *a, const struct mason_score_result *b)
{
    if (a->score != b->score || a->reasons_count != b->reasons_count)
        abort();
    for (unsigned i = 0; i < a->reasons_count; i++) {
        const struct mason_score_reason *x = &a->reasons[i], *y = &b->reasons[i];

        if (x->signal != y->signal || x->delta != y->delta || x->count != y->count ||
            x->tokens != y->tokens || x->check != y->check || strcmp(x->subject, y->subject) ||
            strcmp(x->detail, y->detail))
            abort();
    }
}

static void check_result(const struct mason_score_result *r)
{
    struct mason_buf b = MASON_BUF_INIT;

    if (!(r->score >= 0.0 && r->score <= 1.0) || r->reasons_count > MASON_SCORE_SIGNAL_COUNT)
        abort();
    for (unsigned i = 0; i < r->reasons_count; i++)
        if (mason_score_reason_format(&r->reasons[i], &b) != 0 || !r->reasons[i].code)
            abort();
    if (mason_score_hint(r, &b) != 0)
        abort();
    mason_buf_release(&b);
}

static void on_event(void *arg, const struct mason_event *ev)
{
    struct target *t = arg;

    /* Time goes forward 7 minutes per event, so the 30-minute window drops items too. */
    t->now_ms += 7 * 60000;
    t->full->dirty = MARK_ALL;
    if (mason_score_feed(t->score, ev, t->now_ms) == 0 &&
        mason_score_feed(t->full, ev, t->now_ms) == 0) {
        check_result(mason_score_result(t->score));
        check_same(mason_score_result(t->score), mason_score_result(t->full));
    }
}

static int on_line(void *arg, const char *line, size_t len)
{
    char command[512];

    if (len < sizeof(command)) {
        memcpy(command, line, len);
        command[len] = '\0';
        mason_score_check_command(command, NULL);
    }
    return mason_adapter_feed(arg, line, len);
}

static void run(enum mason_engine_id engine, const uint8_t *data, size_t size)
{
    struct mason_score_config cfg;
    struct target t = {NULL, NULL, 0};
    struct mason_adapter *a;
    struct mason_lines lines;

    mason_score_config_defaults(&cfg);
    cfg.window_events = 12;
    cfg.loop_repeats = 3;
    cfg.thrash_flips = 2;
    cfg.burn_tokens = 5000;
    t.score = mason_score_create(&cfg);
    t.full = mason_score_create(&cfg);
    a = mason_adapter_create(engine, on_event, &t);
    if (!t.score || !t.full || !a)
        abort();
    mason_lines_init(&lines, 1 << 20, on_line, a);
    mason_lines_feed(&lines, (const char *)data, size);
    mason_lines_flush(&lines);
    mason_lines_release(&lines);
    mason_adapter_free(a);
    mason_score_free(t.score);
    mason_score_free(t.full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(MASON_ENGINE_CLAUDE_CODE, data, size);
    run(MASON_ENGINE_CODEX, data, size);
    return 0;
}
