/*
 * Unit tests for trajectory scoring: build and test command recognition,
 * each signal on events built here, the decision and the hint, and the
 * project's loop, thrash and progress streams in tests/fixtures/score.
 * Every successful captured run in ../shared/transcripts, when that folder
 * exists, is scored too, and none may ever be flagged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapter.h"
#include "buf.h"
#include "error.h"
#include "event.h"
#include "score.h"
#include "score_internal.h"
#include "stream.h"

/* ---- command recognition ---- */

struct check_case {
    const char *command;
    enum mason_check_kind kind;
    bool reliable;
};

static void check_command_table(void **state)
{
    static const struct check_case cases[] = {
        {"go test ./...", MASON_CHECK_TEST, true},
        {"go build ./cmd/server", MASON_CHECK_BUILD, true},
        {"go vet ./...", MASON_CHECK_LINT, true},
        {"pytest -x tests/test_api.py", MASON_CHECK_TEST, true},
        {"python3 -m pytest -q", MASON_CHECK_TEST, true},
        {"uv run pytest", MASON_CHECK_TEST, true},
        {"npm test", MASON_CHECK_TEST, true},
        {"npm run test:unit -- --watch=false", MASON_CHECK_TEST, true},
        {"npm run lint 2>&1", MASON_CHECK_LINT, true},
        {"npm run build", MASON_CHECK_BUILD, true},
        {"npm install", MASON_CHECK_NONE, false},
        {"npm run dev", MASON_CHECK_NONE, false},
        {"yarn build", MASON_CHECK_BUILD, true},
        {"pnpm run typecheck", MASON_CHECK_LINT, true},
        {"cargo test --lib", MASON_CHECK_TEST, true},
        {"cargo clippy -- -D warnings", MASON_CHECK_LINT, true},
        {"make -j4", MASON_CHECK_BUILD, true},
        {"./gradlew test", MASON_CHECK_BUILD, true},
        {"mvn -q verify", MASON_CHECK_BUILD, true},
        {"npx tsc --noEmit", MASON_CHECK_BUILD, true},
        {"./node_modules/.bin/jest src", MASON_CHECK_TEST, true},
        {"CI=1 timeout 300 npm test", MASON_CHECK_TEST, true},
        {"cd web && npm test", MASON_CHECK_TEST, true},
        {"npm test 2>&1 | tail -20", MASON_CHECK_TEST, false},
        {"go test ./... || true", MASON_CHECK_TEST, false},
        {"go test ./... ; echo done", MASON_CHECK_TEST, false},
        {"go test ./... && echo ok", MASON_CHECK_TEST, true},
        {"go test ./... && echo ok | tee log", MASON_CHECK_TEST, false},
        {"npm install 2>&1 | tail -20 &", MASON_CHECK_NONE, false},
        {"bash -lc 'go test ./...'", MASON_CHECK_TEST, true},
        {"bash -lc \"cd app && cargo build 2>&1 | tail\"", MASON_CHECK_BUILD, false},
        {"zsh -lc ls", MASON_CHECK_NONE, false},
        {"git status && git log --oneline -5", MASON_CHECK_NONE, false},
        {"echo 'make test'", MASON_CHECK_NONE, false},
        {"cat <<'EOF' > notes.md\nmake sure it works\ngo test later\nEOF", MASON_CHECK_NONE, false},
        {"cat <<EOF > notes.md\nbody\nEOF\ngo test ./...", MASON_CHECK_TEST, true},
        {"", MASON_CHECK_NONE, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool reliable = !cases[i].reliable;
        enum mason_check_kind kind = mason_score_check_command(cases[i].command, &reliable);

        if (kind != cases[i].kind || reliable != cases[i].reliable)
            fail_msg("command \"%s\": kind %s reliable %d, expected %s %d", cases[i].command,
                     mason_check_kind_name(kind), reliable, mason_check_kind_name(cases[i].kind),
                     cases[i].reliable);
    }
    assert_int_equal(mason_score_check_command(NULL, NULL), MASON_CHECK_NONE);
}

/* ---- events built here ---- */

static void feed(struct mason_score *s, const struct mason_event *ev, int64_t now_ms)
{
    assert_int_equal(mason_score_feed(s, ev, now_ms), 0);
}

static void bash_result(struct mason_score *s, const char *command, bool failed, int64_t now_ms)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_RESULT;
    ev.tool_name = "Bash";
    ev.command = command;
    ev.is_error = failed;
    ev.text = failed ? "Exit code 1\n--- FAIL: TestPut (0.00s)\nFAIL" : "ok";
    feed(s, &ev, now_ms);
}

static void edit_result(struct mason_score *s, const char *path, unsigned turn)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_RESULT;
    ev.tool_name = "Edit";
    ev.turn = turn;
    ev.files_modified = true;
    mason_event_add_file(&ev, path);
    feed(s, &ev, 0);
}

static void usage(struct mason_score *s, uint64_t output, unsigned turn)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_USAGE;
    ev.turn = turn;
    ev.has_tokens = true;
    ev.tokens.output = output;
    ev.tokens.cache_read = 1000000; /* never counted */
    feed(s, &ev, 0);
}

static void text_event(struct mason_score *s)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TEXT;
    ev.text = "Trying again.";
    feed(s, &ev, 0);
}

static const struct mason_score_reason *find_reason(const struct mason_score *s,
                                                    enum mason_score_signal signal)
{
    const struct mason_score_result *r = mason_score_result(s);

    for (unsigned i = 0; i < r->reasons_count; i++)
        if (r->reasons[i].signal == signal)
            return &r->reasons[i];
    return NULL;
}

static void score_near(const struct mason_score *s, double expected)
{
    double got = mason_score_result(s)->score;

    if (got < expected - 0.005 || got > expected + 0.005)
        fail_msg("score %.4f, expected %.4f", got, expected);
}

static void loop_severity_steps(void **state)
{
    struct mason_score *s = mason_score_create(NULL);
    const struct mason_score_reason *r;

    (void)state;
    assert_non_null(s);
    score_near(s, 1.0);
    bash_result(s, "go test ./...", true, 0);
    score_near(s, 1.0); /* one failure is not a loop */
    bash_result(s, "go  test   ./...", true, 0);
    score_near(s, 1.0 - 0.65 / 3);
    bash_result(s, "go test ./...", true, 0);
    score_near(s, 1.0 - 0.65 * 2 / 3);
    bash_result(s, "go test ./...", true, 0);
    score_near(s, 1.0 - 0.65);
    r = find_reason(s, MASON_SCORE_LOOP);
    assert_non_null(r);
    assert_string_equal(r->code, "loop");
    assert_int_equal(r->count, 4);
    assert_string_equal(r->subject, "go test ./...");
    assert_string_equal(r->detail, "FAIL: TestPut (0.00s)");
    for (int i = 0; i < 10; i++)
        bash_result(s, "go test ./...", true, 0);
    score_near(s, 1.0 - 0.65 * 1.5); /* capped */
    assert_int_equal(mason_score_result(s)->events, 14);
    mason_score_free(s);
}

static void loop_reset_by_success(void **state)
{
    struct mason_score *s = mason_score_create(NULL);

    (void)state;
    bash_result(s, "go test ./...", true, 0);
    bash_result(s, "go test ./...", true, 0);
    bash_result(s, "go test ./...", true, 0);
    bash_result(s, "go test ./...", false, 0);
    assert_null(find_reason(s, MASON_SCORE_LOOP));
    assert_non_null(find_reason(s, MASON_SCORE_PROGRESS));
    score_near(s, 1.0);
    bash_result(s, "go test ./...", true, 0);
    assert_null(find_reason(s, MASON_SCORE_LOOP));
    assert_non_null(find_reason(s, MASON_SCORE_REGRESSION));
    score_near(s, 0.75);
    /* Different commands are different calls. */
    bash_result(s, "go test ./a", true, 0);
    bash_result(s, "go test ./b", true, 0);
    assert_null(find_reason(s, MASON_SCORE_LOOP));
    mason_score_free(s);
}

static void loop_leaves_event_window(void **state)
{
    struct mason_score_config cfg;
    struct mason_score *s;

    (void)state;
    mason_score_config_defaults(&cfg);
    cfg.window_events = 6;
    s = mason_score_create(&cfg);
    assert_non_null(s);
    for (int i = 0; i < 8; i++) {
        bash_result(s, "pytest", true, 0);
        text_event(s);
        text_event(s);
    }
    /* Six events hold two failures at most. */
    assert_int_equal(find_reason(s, MASON_SCORE_LOOP)->count, 2);
    for (int i = 0; i < 6; i++)
        text_event(s);
    assert_null(find_reason(s, MASON_SCORE_LOOP));
    score_near(s, 1.0);
    mason_score_free(s);
}

static void loop_leaves_time_window(void **state)
{
    struct mason_score_config cfg;
    struct mason_score *s;
    const int64_t minute = 60000;

    (void)state;
    mason_score_config_defaults(&cfg);
    cfg.window_minutes = 30;
    s = mason_score_create(&cfg);
    for (int i = 0; i < 4; i++)
        bash_result(s, "pytest", true, (1 + 20 * i) * minute);
    /* Failures at 41 and 61 minutes are in the 30 minutes before 61. */
    assert_int_equal(find_reason(s, MASON_SCORE_LOOP)->count, 2);
    bash_result(s, "pytest", true, 62 * minute);
    assert_int_equal(find_reason(s, MASON_SCORE_LOOP)->count, 3);
    /* An unknown time keeps every item of the event window. */
    bash_result(s, "pytest", true, 0);
    assert_int_equal(find_reason(s, MASON_SCORE_LOOP)->count, 4);
    mason_score_free(s);
}

static void thrash_counts_returns(void **state)
{
    struct mason_score *s = mason_score_create(NULL);
    const struct mason_score_reason *r;

    (void)state;
    /* Writing one file in several edits is not thrash. */
    for (int i = 0; i < 6; i++)
        edit_result(s, "src/a.c", 1);
    assert_null(find_reason(s, MASON_SCORE_THRASH));
    for (int i = 0; i < 4; i++) {
        edit_result(s, "src/b.c", 1);
        edit_result(s, "src/a.c", 1);
    }
    r = find_reason(s, MASON_SCORE_THRASH);
    assert_non_null(r);
    assert_int_equal(r->count, 4);
    assert_string_equal(r->subject, "src/a.c");
    score_near(s, 1.0 - 0.65);
    /* A passing test ends the thrash. */
    bash_result(s, "make test", false, 0);
    assert_null(find_reason(s, MASON_SCORE_THRASH));
    /* A failed test between edits of one file counts as going back. */
    edit_result(s, "src/a.c", 1);
    bash_result(s, "make test", true, 0);
    edit_result(s, "src/a.c", 1);
    bash_result(s, "make test", true, 0);
    edit_result(s, "src/a.c", 1);
    assert_int_equal(find_reason(s, MASON_SCORE_THRASH)->count, 2);
    mason_score_free(s);
}

static void piped_check_is_no_pass(void **state)
{
    struct mason_score *s = mason_score_create(NULL);

    (void)state;
    edit_result(s, "a.js", 1);
    edit_result(s, "b.js", 1);
    edit_result(s, "a.js", 1);
    edit_result(s, "b.js", 1);
    edit_result(s, "a.js", 1);
    assert_int_equal(find_reason(s, MASON_SCORE_THRASH)->count, 2);
    /* Exit 0 of `| tail` proves nothing about the tests. */
    bash_result(s, "npm test 2>&1 | tail -20", false, 0);
    assert_int_equal(find_reason(s, MASON_SCORE_THRASH)->count, 2);
    bash_result(s, "npm test 2>&1", false, 0);
    assert_null(find_reason(s, MASON_SCORE_THRASH));
    mason_score_free(s);
}

static void burn_counts_idle_tokens(void **state)
{
    struct mason_score_config cfg;
    struct mason_score *s;
    const struct mason_score_reason *r;

    (void)state;
    mason_score_config_defaults(&cfg);
    cfg.burn_tokens = 10000;
    s = mason_score_create(&cfg);
    for (unsigned turn = 1; turn <= 5; turn++)
        usage(s, 1000, turn);
    assert_null(find_reason(s, MASON_SCORE_BURN)); /* half the threshold is free */
    for (unsigned turn = 6; turn <= 10; turn++)
        usage(s, 1000, turn);
    r = find_reason(s, MASON_SCORE_BURN);
    assert_non_null(r);
    assert_int_equal(r->tokens, 10000);
    score_near(s, 1.0 - 0.65);
    edit_result(s, "main.go", 10);
    assert_null(find_reason(s, MASON_SCORE_BURN));
    /* Codex reports a turn's usage after its file changes: that turn was not idle. */
    usage(s, 9000, 10);
    assert_null(find_reason(s, MASON_SCORE_BURN));
    usage(s, 9000, 11);
    assert_int_equal(find_reason(s, MASON_SCORE_BURN)->tokens, 9000);
    mason_score_free(s);
}

static void error_loop_ignores_ids(void **state)
{
    static const char *const messages[] = {
        "exceeded retry limit, last status: 401 Unauthorized, request id: 7f3a-01",
        "exceeded retry limit, last status: 401 Unauthorized, request id: 9b22-17",
        "exceeded retry limit, last status: 401 Unauthorized, request id: c0d4-88",
    };
    struct mason_score *s = mason_score_create(NULL);
    struct mason_event ev;
    const struct mason_score_reason *r;

    (void)state;
    for (int i = 0; i < 3; i++) {
        mason_event_clear(&ev);
        ev.kind = MASON_EVENT_ERROR;
        ev.is_error = true;
        ev.transient = true;
        ev.text = "Reconnecting... 1/5";
        feed(s, &ev, 0);
        ev.transient = false;
        ev.text = messages[i];
        feed(s, &ev, 0);
    }
    r = find_reason(s, MASON_SCORE_ERROR_LOOP);
    assert_non_null(r);
    assert_int_equal(r->count, 3);
    assert_string_equal(r->subject, messages[2]);
    mason_score_free(s);
}

static void decide_levels(void **state)
{
    struct mason_score_config cfg;

    (void)state;
    mason_score_config_defaults(&cfg);
    assert_int_equal(mason_score_decide(&cfg, 1.0, true), MASON_INTERVENTION_NONE);
    assert_int_equal(mason_score_decide(&cfg, 0.6, true), MASON_INTERVENTION_NONE);
    assert_int_equal(mason_score_decide(&cfg, 0.59, true), MASON_INTERVENTION_WARN);
    assert_int_equal(mason_score_decide(&cfg, 0.39, true), MASON_INTERVENTION_HINT);
    assert_int_equal(mason_score_decide(&cfg, 0.39, false), MASON_INTERVENTION_WARN);
    assert_int_equal(mason_score_decide(&cfg, 0.19, false), MASON_INTERVENTION_TERMINATE);
    cfg.intervention = MASON_INTERVENTION_HINT;
    assert_int_equal(mason_score_decide(&cfg, 0.0, true), MASON_INTERVENTION_HINT);
    cfg.intervention = MASON_INTERVENTION_WARN;
    assert_int_equal(mason_score_decide(&cfg, 0.0, true), MASON_INTERVENTION_WARN);
    cfg.intervention = MASON_INTERVENTION_NONE;
    assert_int_equal(mason_score_decide(&cfg, 0.0, true), MASON_INTERVENTION_NONE);
    /* A level at 0 is never reached. */
    mason_score_config_defaults(&cfg);
    cfg.terminate_below = 0;
    assert_int_equal(mason_score_decide(&cfg, 0.0, true), MASON_INTERVENTION_HINT);
}

static void intervention_names(void **state)
{
    enum mason_intervention i = MASON_INTERVENTION_NONE;

    (void)state;
    assert_int_equal(mason_intervention_lookup("hint", &i), 0);
    assert_int_equal(i, MASON_INTERVENTION_HINT);
    assert_int_equal(mason_intervention_lookup("terminate", &i), 0);
    assert_int_equal(i, MASON_INTERVENTION_TERMINATE);
    assert_int_equal(mason_intervention_lookup("stop", &i), MASON_ENOTFOUND);
    assert_int_equal(mason_intervention_lookup(NULL, &i), MASON_ENOTFOUND);
    assert_string_equal(mason_intervention_name(MASON_INTERVENTION_WARN), "warn");
    assert_string_equal(mason_intervention_name(MASON_INTERVENTION_NONE), "none");
}

static void config_check_ranges(void **state)
{
    struct mason_score_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    mason_score_config_defaults(&cfg);
    assert_int_equal(mason_score_config_check(&cfg, &err), 0);
    cfg.loop_repeats = 1;
    assert_int_equal(mason_score_config_check(&cfg, &err), MASON_ECONFIG);
    assert_string_equal(mason_buf_str(&err), "scoring.loop_repeats: must be at least 2");
    assert_null(mason_score_create(&cfg));
    mason_buf_reset(&err);
    mason_score_config_defaults(&cfg);
    cfg.hint_below = 0.7;
    assert_int_equal(mason_score_config_check(&cfg, &err), MASON_ECONFIG);
    assert_string_equal(mason_buf_str(&err),
                        "scoring.hint_below: must be between 0 and warn_below");
    mason_buf_reset(&err);
    mason_score_config_defaults(&cfg);
    cfg.window_events = 0;
    assert_int_equal(mason_score_config_check(&cfg, &err), MASON_ECONFIG);
    assert_string_equal(mason_buf_str(&err), "scoring.window_events: must be between 1 and 100000");
    mason_buf_release(&err);
}

static void hint_and_reason_text(void **state)
{
    struct mason_score *s = mason_score_create(NULL);
    struct mason_buf b = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_score_hint(mason_score_result(s), &b), 0);
    assert_int_equal(b.len, 0); /* nothing went wrong */
    for (int i = 0; i < 6; i++)
        bash_result(s, "go test ./...", true, 0);
    assert_int_equal(mason_score_hint(mason_score_result(s), &b), 0);
    assert_non_null(strstr(mason_buf_str(&b), "You ran `go test ./...` 6 times and it failed"));
    assert_non_null(strstr(mason_buf_str(&b), "\"FAIL: TestPut (0.00s)\""));
    mason_buf_reset(&b);
    assert_int_equal(mason_score_reason_format(&mason_score_result(s)->reasons[0], &b), 0);
    assert_string_equal(mason_buf_str(&b), "loop: `go test ./...` failed 6 times with no success "
                                           "in between (last output: FAIL: TestPut (0.00s)) "
                                           "(-0.98)");
    mason_buf_release(&b);
    mason_score_free(s);
}

static void subject_text_cut(void **state)
{
    char dst[12];
    struct mason_event ev;

    (void)state;
    score_copy_text(dst, sizeof(dst), "short");
    assert_string_equal(dst, "short");
    score_copy_text(dst, sizeof(dst), "exactly 11c");
    assert_string_equal(dst, "exactly 11c");
    score_copy_text(dst, sizeof(dst), "a\nlonger line");
    assert_string_equal(dst, "a longer...");
    /* "é" is two bytes: the cut does not split it. */
    score_copy_text(dst, sizeof(dst), "abcdefg\xc3\xa9xyz");
    assert_string_equal(dst, "abcdefg...");
    score_first_line("Exit code 2\n\n  npm ERR! missing script: lint\n", dst, sizeof(dst));
    assert_string_equal(dst, "npm ERR!...");
    mason_event_clear(&ev);
    ev.tool_name = "Bash";
    ev.command = "bash -lc 'npm test'";
    score_call_subject(&ev, dst, sizeof(dst));
    assert_string_equal(dst, "npm test");
    ev.command = "bash -lc 'a' 'b'";
    score_call_subject(&ev, dst, sizeof(dst));
    assert_string_equal(dst, "bash -lc...");
    ev.command = NULL;
    ev.tool_name = "Read";
    mason_event_add_file(&ev, "/x");
    score_call_subject(&ev, dst, sizeof(dst));
    assert_string_equal(dst, "Read /x");
}

/* ---- recomputing only what changed ---- */

/* Fails unless the scorer that recomputes only what changed agrees with the one that recomputes
 * every signal at each event. */
static void assert_same_result(const struct mason_score_result *a,
                               const struct mason_score_result *b)
{
    if (a->score != b->score || a->reasons_count != b->reasons_count)
        fail_msg("event %llu: score %.4f with %u reasons, recomputed in full %.4f with %u",
                 (unsigned long long)a->events, a->score, a->reasons_count, b->score,
                 b->reasons_count);
    for (unsigned i = 0; i < a->reasons_count; i++) {
        const struct mason_score_reason *x = &a->reasons[i], *y = &b->reasons[i];

        assert_string_equal(x->code, y->code);
        assert_true(x->delta == y->delta);
        assert_int_equal(x->count, y->count);
        assert_int_equal(x->tokens, y->tokens);
        assert_int_equal(x->check, y->check);
        assert_string_equal(x->subject, y->subject);
        assert_string_equal(x->detail, y->detail);
    }
}

/* Fills ev with the next event of a fixed pseudo-random mix of check runs that pass and fail,
 * other commands, edits of three files, usage and engine errors. */
static void mixed_event(uint32_t *rng, struct mason_event *ev)
{
    static const char *const commands[] = {"go test ./...", "make", "ls", "pytest -q | tail"};
    static const char *const files[] = {"a.go", "b.go", "c.go"};
    uint32_t x;

    *rng = *rng * 1664525u + 1013904223u;
    x = *rng >> 8;
    mason_event_clear(ev);
    ev->turn = x % 7;
    switch (x % 6) {
    case 0:
    case 1:
        ev->kind = MASON_EVENT_TOOL_RESULT;
        ev->tool_name = "Bash";
        ev->command = commands[(x >> 4) % 4];
        ev->is_error = (x >> 8) % 3 != 0;
        ev->text = ev->is_error ? "FAIL: TestPut" : "ok";
        break;
    case 2:
        ev->kind = MASON_EVENT_TOOL_RESULT;
        ev->tool_name = "Edit";
        ev->files_modified = true;
        mason_event_add_file(ev, files[(x >> 4) % 3]);
        break;
    case 3:
        ev->kind = MASON_EVENT_USAGE;
        ev->has_tokens = true;
        ev->tokens.output = 20000 + (x >> 4) % 40000;
        break;
    case 4:
        ev->kind = MASON_EVENT_ERROR;
        ev->text = (x >> 4) % 2 ? "stream disconnected" : "rate limited";
        break;
    default:
        ev->kind = (x >> 4) % 2 ? MASON_EVENT_TEXT : MASON_EVENT_INIT;
        break;
    }
}

/* A small window that items leave all the time, against a scorer that recomputes every signal
 * at every event. */
static void incremental_matches_full(void **state)
{
    struct mason_score_config cfg;
    struct mason_score *inc, *full;
    uint32_t rng = 12345;

    (void)state;
    mason_score_config_defaults(&cfg);
    cfg.window_events = 12;
    cfg.window_minutes = 1;
    cfg.burn_tokens = 100000;
    inc = mason_score_create(&cfg);
    full = mason_score_create(&cfg);
    assert_non_null(inc);
    assert_non_null(full);
    for (int64_t i = 1, clock_ms = 0; i <= 20000; i++) {
        struct mason_event ev;
        int64_t now_ms;

        /* Events come 0.5 s apart with a 15 s gap every third one, so items leave the window
         * sometimes by count (12 events) and sometimes by age (1 minute). Every 50th event has
         * no time. */
        clock_ms += i % 3 == 0 ? 15000 : 500;
        now_ms = i % 50 == 0 ? 0 : clock_ms;
        mixed_event(&rng, &ev);
        full->dirty = MARK_ALL;
        feed(inc, &ev, now_ms);
        feed(full, &ev, now_ms);
        assert_same_result(mason_score_result(inc), mason_score_result(full));
    }
    mason_score_free(inc);
    mason_score_free(full);
}

/* ---- streams through the adapters ---- */

struct run {
    struct mason_score *score;
    struct mason_score *full; /* fed the same events, every signal recomputed at each */
    struct mason_score_config cfg;
    enum mason_intervention worst; /* the strongest decision at any event */
    uint64_t first_flag;           /* event index of the first decision other than none */
    double min_score;
    unsigned results;
    enum mason_outcome outcome; /* of the last RESULT */
    int error;
};

static void on_event(void *arg, const struct mason_event *ev)
{
    struct run *r = arg;
    const struct mason_score_result *res;
    enum mason_intervention d;

    r->full->dirty = MARK_ALL;
    if (mason_score_feed(r->score, ev, 0) != 0 || mason_score_feed(r->full, ev, 0) != 0) {
        r->error = 1;
        return;
    }
    res = mason_score_result(r->score);
    assert_same_result(res, mason_score_result(r->full));
    d = mason_score_decide(&r->cfg, res->score, true);
    if (d != MASON_INTERVENTION_NONE && r->first_flag == 0)
        r->first_flag = res->events;
    if (d > r->worst)
        r->worst = d;
    if (res->score < r->min_score)
        r->min_score = res->score;
    if (ev->kind == MASON_EVENT_RESULT) {
        r->results++;
        r->outcome = ev->result.outcome;
    }
}

static int on_line(void *arg, const char *line, size_t len)
{
    return mason_adapter_feed(arg, line, len);
}

static char *path_under_top(const char *rel)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf b = MASON_BUF_INIT;

    mason_buf_addf(&b, "%s/%s", top ? top : ".", rel);
    return mason_buf_detach(&b);
}

/* Feeds a file through the line splitter, an adapter and a scorer with cfg (NULL: defaults). */
static void run_stream(enum mason_engine_id engine, const char *path,
                       const struct mason_score_config *cfg, struct run *r)
{
    struct mason_adapter *a;
    struct mason_lines lines;
    char chunk[4096];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        fail_msg("cannot open %s", path);
    memset(r, 0, sizeof(*r));
    r->min_score = 1.0;
    if (cfg)
        r->cfg = *cfg;
    else
        mason_score_config_defaults(&r->cfg);
    r->score = mason_score_create(&r->cfg);
    r->full = mason_score_create(&r->cfg);
    assert_non_null(r->score);
    assert_non_null(r->full);
    a = mason_adapter_create(engine, on_event, r);
    assert_non_null(a);
    mason_lines_init(&lines, 0, on_line, a);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(mason_lines_feed(&lines, chunk, n), 0);
    assert_int_equal(mason_lines_flush(&lines), 0);
    assert_int_equal(r->error, 0);
    mason_lines_release(&lines);
    mason_adapter_free(a);
    mason_score_free(r->full);
    r->full = NULL;
    fclose(f);
}

static void run_fixture(enum mason_engine_id engine, const char *name,
                        const struct mason_score_config *cfg, struct run *r)
{
    char *path = path_under_top(name);

    run_stream(engine, path, cfg, r);
    free(path);
}

static const struct mason_score_reason *top_reason(const struct run *r)
{
    const struct mason_score_result *res = mason_score_result(r->score);

    assert_true(res->reasons_count > 0);
    return &res->reasons[0];
}

static void claude_loop_flagged(void **state)
{
    struct mason_score_config cfg;
    struct run r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/score/claude-test-loop.jsonl", NULL, &r);
    assert_int_equal(r.worst, MASON_INTERVENTION_TERMINATE);
    /* Each attempt is 4 events (usage, text, call, result) after 7 of setup: the third failure
     * (event 16) warns, well inside the 100-event window. */
    assert_int_equal(r.first_flag, 16);
    assert_string_equal(top_reason(&r)->code, "loop");
    assert_int_equal(top_reason(&r)->count, 6);
    assert_string_equal(top_reason(&r)->subject, "go test ./pkg/store/...");
    mason_score_free(r.score);

    /* A window of 8 events holds two failures at most: never flagged. */
    mason_score_config_defaults(&cfg);
    cfg.window_events = 8;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/score/claude-test-loop.jsonl", &cfg, &r);
    assert_int_equal(r.worst, MASON_INTERVENTION_NONE);
    mason_score_free(r.score);
}

static void codex_loop_flagged(void **state)
{
    struct run r;

    (void)state;
    run_fixture(MASON_ENGINE_CODEX, "tests/fixtures/score/codex-test-loop.jsonl", NULL, &r);
    assert_int_equal(r.worst, MASON_INTERVENTION_TERMINATE);
    assert_int_equal(r.first_flag, 7); /* the third failed pytest */
    assert_string_equal(top_reason(&r)->code, "loop");
    assert_string_equal(top_reason(&r)->subject, "pytest -x tests/test_api.py");
    assert_string_equal(top_reason(&r)->detail, "E       assert 500 == 201");
    mason_score_free(r.score);
}

static void claude_thrash_flagged(void **state)
{
    struct run r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/score/claude-thrash.jsonl", NULL, &r);
    assert_true(r.worst >= MASON_INTERVENTION_HINT);
    assert_string_equal(top_reason(&r)->code, "thrash");
    assert_true(top_reason(&r)->count >= 4);
    assert_non_null(strstr(top_reason(&r)->subject, "/workspace/web/src/"));
    assert_int_equal(r.outcome, MASON_OUTCOME_SUCCESS); /* the engine thought all was well */
    mason_score_free(r.score);
}

static void codex_thrash_flagged(void **state)
{
    struct run r;

    (void)state;
    run_fixture(MASON_ENGINE_CODEX, "tests/fixtures/score/codex-thrash.jsonl", NULL, &r);
    assert_true(r.worst >= MASON_INTERVENTION_HINT);
    assert_string_equal(top_reason(&r)->code, "thrash");
    assert_non_null(strstr(top_reason(&r)->subject, "/workspace/svc/app/"));
    mason_score_free(r.score);
}

static void claude_progress_high(void **state)
{
    struct run r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/score/claude-progress.jsonl", NULL, &r);
    assert_int_equal(r.worst, MASON_INTERVENTION_NONE);
    assert_true(r.min_score >= 0.75);
    assert_true(mason_score_result(r.score)->score >= 0.99);
    assert_string_equal(top_reason(&r)->code, "progress");
    assert_string_equal(top_reason(&r)->subject, "cargo test");
    assert_int_equal(top_reason(&r)->check, MASON_CHECK_TEST);
    mason_score_free(r.score);
}

static void codex_progress_high(void **state)
{
    struct run r;

    (void)state;
    run_fixture(MASON_ENGINE_CODEX, "tests/fixtures/score/codex-progress.jsonl", NULL, &r);
    assert_int_equal(r.worst, MASON_INTERVENTION_NONE);
    assert_true(r.min_score >= 0.99);
    assert_string_equal(top_reason(&r)->code, "progress");
    assert_string_equal(top_reason(&r)->subject, "npm test");
    mason_score_free(r.score);
}

/* ---- captured streams ---- */

struct captured {
    const char *name;
    enum mason_engine_id engine;
};

/* The runs that succeeded, by their final result line or turn.completed. */
static const struct captured successful[] = {
    {"claude-basic-query-success.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"claude-single-bash-tool-success.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"claude-long-multitool-success-68turns.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"claude-repeated-git-merge-failures.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"claude-ci-polling-with-tool-errors.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"claude-lint-failure-then-fix.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"claude-task-subagent-v2.0.27.jsonl", MASON_ENGINE_CLAUDE_CODE},
    {"codex-simple-answer.jsonl", MASON_ENGINE_CODEX},
    {"codex-ls-command.jsonl", MASON_ENGINE_CODEX},
    {"codex-file-change-add.jsonl", MASON_ENGINE_CODEX},
    {"codex-ls-with-stderr-noise.jsonl", MASON_ENGINE_CODEX},
    {"codex-multistep-todo-filechange.jsonl", MASON_ENGINE_CODEX},
    {"codex-followup-commit-push-offline.jsonl", MASON_ENGINE_CODEX},
};

/* Supervisor restart loops: every run fails the same way. */
static const struct captured restart_loops[] = {
    {"codex-auth-401-restart-loop.jsonl", MASON_ENGINE_CODEX},
    {"codex-usage-limit-restart-loop-excerpt.jsonl", MASON_ENGINE_CODEX},
};

static char *transcripts_dir(void)
{
    char *dir = path_under_top("../shared/transcripts");
    struct stat st;

    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return dir;
    printf("SKIPPED: %s is absent, so the captured streams are not scored\n", dir);
    free(dir);
    return NULL;
}

static void captured_successes_never_flagged(void **state)
{
    char *dir = transcripts_dir();

    (void)state;
    if (!dir)
        return;
    for (size_t i = 0; i < sizeof(successful) / sizeof(successful[0]); i++) {
        struct mason_buf path = MASON_BUF_INIT;
        struct run r;

        mason_buf_addf(&path, "%s/%s", dir, successful[i].name);
        run_stream(successful[i].engine, mason_buf_str(&path), NULL, &r);
        if (r.results == 0 || r.outcome != MASON_OUTCOME_SUCCESS)
            fail_msg("%s: expected a successful run, got outcome %s", successful[i].name,
                     mason_outcome_name(r.outcome));
        if (r.worst != MASON_INTERVENTION_NONE)
            fail_msg("%s: flagged for %s at event %llu (lowest score %.2f)", successful[i].name,
                     mason_intervention_name(r.worst), (unsigned long long)r.first_flag,
                     r.min_score);
        mason_score_free(r.score);
        mason_buf_release(&path);
    }
    free(dir);
}

static void captured_restart_loops_flagged(void **state)
{
    char *dir = transcripts_dir();

    (void)state;
    if (!dir)
        return;
    for (size_t i = 0; i < sizeof(restart_loops) / sizeof(restart_loops[0]); i++) {
        struct mason_buf path = MASON_BUF_INIT;
        struct run r;

        mason_buf_addf(&path, "%s/%s", dir, restart_loops[i].name);
        run_stream(restart_loops[i].engine, mason_buf_str(&path), NULL, &r);
        if (r.worst != MASON_INTERVENTION_TERMINATE)
            fail_msg("%s: decision %s, expected terminate", restart_loops[i].name,
                     mason_intervention_name(r.worst));
        assert_string_equal(top_reason(&r)->code, "error_loop");
        mason_score_free(r.score);
        mason_buf_release(&path);
    }
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_command_table),
        cmocka_unit_test(loop_severity_steps),
        cmocka_unit_test(loop_reset_by_success),
        cmocka_unit_test(loop_leaves_event_window),
        cmocka_unit_test(loop_leaves_time_window),
        cmocka_unit_test(thrash_counts_returns),
        cmocka_unit_test(piped_check_is_no_pass),
        cmocka_unit_test(burn_counts_idle_tokens),
        cmocka_unit_test(error_loop_ignores_ids),
        cmocka_unit_test(decide_levels),
        cmocka_unit_test(intervention_names),
        cmocka_unit_test(config_check_ranges),
        cmocka_unit_test(hint_and_reason_text),
        cmocka_unit_test(subject_text_cut),
        cmocka_unit_test(incremental_matches_full),
        cmocka_unit_test(claude_loop_flagged),
        cmocka_unit_test(codex_loop_flagged),
        cmocka_unit_test(claude_thrash_flagged),
        cmocka_unit_test(codex_thrash_flagged),
        cmocka_unit_test(claude_progress_high),
        cmocka_unit_test(codex_progress_high),
        cmocka_unit_test(captured_successes_never_flagged),
        cmocka_unit_test(captured_restart_loops_flagged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
