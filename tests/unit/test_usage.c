/* Unit tests for usage accounting and the price table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "buf.h"
#include "pricing.h"
#include "stream.h"
#include "usage.h"

static void account(void *arg, const struct mason_event *ev)
{
    assert_int_equal(mason_usage_add(arg, ev), 0);
}

static int feed_line(void *arg, const char *line, size_t len)
{
    return mason_adapter_feed(arg, line, len);
}

/* Feeds a file, or only the lines before the first that contains stop_at (may be NULL). */
static int run_path(const char *path, enum mason_engine_id engine, struct mason_usage *u,
                    const char *stop_at)
{
    struct mason_adapter *a = mason_adapter_create(engine, account, u);
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    assert_non_null(a);
    if (!f) {
        mason_adapter_free(a);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        if (stop_at && strstr(line, stop_at))
            break;
        assert_int_equal(feed_line(a, line, (size_t)n - (line[n - 1] == '\n')), 0);
    }
    free(line);
    fclose(f);
    mason_adapter_free(a);
    return 0;
}

static void run_fixture(const char *name, enum mason_engine_id engine, struct mason_usage *u,
                        const char *stop_at)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;

    mason_buf_addf(&path, "%s/tests/fixtures/streams/%s", top ? top : ".", name);
    assert_int_equal(run_path(mason_buf_str(&path), engine, u, stop_at), 0);
    mason_buf_release(&path);
}

static void assert_cost(double got, double want)
{
    if (fabs(got - want) > 1e-9)
        fail_msg("cost %.10f, expected %.10f", got, want);
}

static void claude_live_estimate_then_engine_cost(void **state)
{
    struct mason_usage u;
    struct mason_usage_part total;

    (void)state;
    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, NULL), 0);
    run_fixture("claude-success.jsonl", MASON_ENGINE_CLAUDE_CODE, &u, "\"type\":\"result\"");
    total = mason_usage_total(&u);
    /* Before the result: message usage priced as claude-sonnet-4-5 (3, 15, 0.30, 3.75 $/M). */
    assert_true(total.estimated);
    assert_int_equal(total.tokens.output, 620);
    assert_cost(total.cost_usd, (25 * 3.0 + 620 * 15.0 + 60300 * 0.30 + 16200 * 3.75) / 1e6);
    assert_false(u.has_result);
    mason_usage_release(&u);

    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, NULL), 0);
    run_fixture("claude-success.jsonl", MASON_ENGINE_CLAUDE_CODE, &u, NULL);
    total = mason_usage_total(&u);
    assert_false(total.estimated);
    assert_cost(total.cost_usd, 0.0934);
    assert_int_equal(total.tokens.input, 25);
    assert_int_equal(total.tokens.cache_write, 16200);
    assert_int_equal(mason_usage_turns(&u), 5);
    assert_int_equal(u.tool_calls, 4);
    assert_true(mason_usage_succeeded(&u));
    assert_string_equal(u.subtype, "success");
    mason_usage_release(&u);
}

static void claude_max_turns_not_success(void **state)
{
    struct mason_usage u;

    (void)state;
    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, NULL), 0);
    run_fixture("claude-max-turns.jsonl", MASON_ENGINE_CLAUDE_CODE, &u, NULL);
    assert_true(u.has_result);
    assert_false(mason_usage_succeeded(&u));
    assert_int_equal(u.outcome, MASON_OUTCOME_MAX_TURNS);
    assert_cost(mason_usage_total(&u).cost_usd, 0.0468);
    mason_usage_release(&u);
}

static void codex_priced_from_table(void **state)
{
    struct mason_usage u;
    struct mason_usage_part total;
    json_t *status;

    (void)state;
    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, "gpt-5-codex"), 0);
    run_fixture("codex-success.jsonl", MASON_ENGINE_CODEX, &u, NULL);
    total = mason_usage_total(&u);
    assert_true(total.estimated);
    assert_int_equal(total.tokens.input, 7250);
    assert_int_equal(total.tokens.cache_read, 40960);
    assert_int_equal(total.tokens.output, 1830);
    assert_cost(total.cost_usd, (7250 * 1.25 + 40960 * 0.125 + 1830 * 10.0) / 1e6);
    assert_true(mason_usage_succeeded(&u));
    assert_int_equal(total.unpriced_tokens, 0);

    status = mason_usage_to_json(&u);
    assert_non_null(status);
    assert_int_equal(json_integer_value(json_object_get(status, "inputTokens")), 7250);
    assert_int_equal(json_integer_value(json_object_get(status, "toolCalls")), 3);
    assert_int_equal(json_integer_value(json_object_get(status, "turns")), 1);
    assert_true(json_is_true(json_object_get(status, "costEstimated")));
    json_decref(status);
    mason_usage_release(&u);
}

static void sessions_add_up(void **state)
{
    struct mason_usage u;
    struct mason_usage_part total;

    (void)state;
    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, "gpt-5"), 0);
    run_fixture("codex-success.jsonl", MASON_ENGINE_CODEX, &u, NULL);
    run_fixture("codex-turn-failed.jsonl", MASON_ENGINE_CODEX, &u, NULL);
    run_fixture("codex-success.jsonl", MASON_ENGINE_CODEX, &u, NULL);
    total = mason_usage_total(&u);
    assert_int_equal(u.sessions, 3);
    assert_int_equal(total.tokens.output, 2 * 1830);
    assert_int_equal(total.tokens.cache_read, 2 * 40960);
    assert_true(mason_usage_succeeded(&u));
    mason_usage_release(&u);
}

static void unknown_model_counted(void **state)
{
    struct mason_usage u;

    (void)state;
    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, "local-llama"), 0);
    run_fixture("codex-success.jsonl", MASON_ENGINE_CODEX, &u, NULL);
    assert_cost(mason_usage_total(&u).cost_usd, 0.0);
    assert_int_equal(mason_usage_total(&u).unpriced_tokens, 7250 + 40960 + 1830);
    mason_usage_release(&u);
}

static void pricing_longest_prefix(void **state)
{
    const struct mason_price *p;
    struct mason_tokens t = {1000000, 1000000, 1000000, 1000000};

    (void)state;
    p = mason_pricing_lookup(&mason_pricing_defaults, "claude-opus-4-5-20251101");
    assert_non_null(p);
    assert_string_equal(p->model, "claude-opus-4-5");
    p = mason_pricing_lookup(&mason_pricing_defaults, "claude-opus-4-20250514");
    assert_string_equal(p->model, "claude-opus-4");
    p = mason_pricing_lookup(&mason_pricing_defaults, "gpt-5-mini-2025-08-07");
    assert_string_equal(p->model, "gpt-5-mini");
    assert_cost(mason_pricing_cost(p, &t), 0.25 + 2.0 + 0.025);
    assert_null(mason_pricing_lookup(&mason_pricing_defaults, "<synthetic>"));
    assert_null(mason_pricing_lookup(&mason_pricing_defaults, NULL));
    assert_cost(mason_pricing_cost(NULL, &t), 0.0);
}

/* The opus-4-5 default prices reproduce a captured run's total_cost_usd exactly. */
static void pricing_matches_captured_cost(void **state)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;
    struct mason_usage u;
    const struct mason_price *p;
    struct mason_tokens tokens;

    (void)state;
    mason_buf_addf(&path, "%s/../shared/transcripts/claude-basic-query-success.jsonl",
                   top ? top : ".");
    assert_int_equal(mason_usage_init(&u, &mason_pricing_defaults, NULL), 0);
    if (run_path(mason_buf_str(&path), MASON_ENGINE_CLAUDE_CODE, &u, NULL) != 0) {
        printf("SKIP: %s is absent\n", mason_buf_str(&path));
        mason_usage_release(&u);
        mason_buf_release(&path);
        skip();
    }
    tokens = mason_usage_total(&u).tokens;
    p = mason_pricing_lookup(&mason_pricing_defaults, u.session_model);
    assert_non_null(p);
    assert_cost(mason_pricing_cost(p, &tokens), mason_usage_total(&u).cost_usd);
    mason_usage_release(&u);
    mason_buf_release(&path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude_live_estimate_then_engine_cost),
        cmocka_unit_test(claude_max_turns_not_success),
        cmocka_unit_test(codex_priced_from_table),
        cmocka_unit_test(sessions_add_up),
        cmocka_unit_test(unknown_model_counted),
        cmocka_unit_test(pricing_longest_prefix),
        cmocka_unit_test(pricing_matches_captured_cost),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
