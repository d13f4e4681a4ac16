/* Unit tests for the run registry that the stream follower fills and the reconciler reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "event.h"
#include "price_table.h"
#include "runs.h"
#include "scoring_config.h"

static void feed_result(struct mason_runs *runs, const char *uid, int index, double cost,
                        enum mason_outcome outcome)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_INIT;
    ev.session_id = "sess-1";
    ev.model = "claude-sonnet-4-5";
    mason_runs_event(runs, uid, index, &ev);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_RESULT;
    ev.session_id = "sess-1";
    ev.result.outcome = outcome;
    ev.result.subtype = outcome == MASON_OUTCOME_MAX_TURNS ? "error_max_turns" : "success";
    ev.result.has_cost = true;
    ev.result.total_cost_usd = cost;
    ev.result.num_turns = 3;
    ev.text = "done";
    mason_runs_event(runs, uid, index, &ev);
}

static void registry_reports_result(void **state)
{
    struct mason_runs *runs = mason_runs_create(&mason_pricing_defaults, NULL);
    struct mason_run_snapshot snap;

    (void)state;
    assert_int_equal(mason_runs_add(runs, "u1", 0, NULL), 1);
    assert_int_equal(mason_runs_add(runs, "u1", 0, NULL), 0);
    assert_true(mason_runs_has(runs, "u1", 0));
    assert_false(mason_runs_has(runs, "u1", 1));
    feed_result(runs, "u1", 0, 0.25, MASON_OUTCOME_MAX_TURNS);
    mason_runs_snapshot(runs, "u1", 0, &snap);
    assert_true(snap.found);
    assert_string_equal(snap.session_id, "sess-1");
    assert_true(snap.has_result);
    assert_int_equal(snap.outcome, MASON_OUTCOME_MAX_TURNS);
    assert_true(snap.cost_usd > 0.2499 && snap.cost_usd < 0.2501);
    assert_true(snap.cost_last_10_minutes > 0.2499);
    assert_false(snap.stream_ended);
    assert_false(snap.scored);
    mason_run_snapshot_release(&snap);
    mason_runs_stream_ended(runs, "u1", 0);
    mason_runs_snapshot(runs, "u1", 0, &snap);
    assert_true(snap.stream_ended);
    mason_run_snapshot_release(&snap);
    mason_runs_remove(runs, "u1", 0);
    assert_int_equal(mason_runs_count(runs), 0);
    mason_runs_snapshot(runs, "u1", 0, &snap);
    assert_false(snap.found);
    mason_runs_free(runs);
}

static void events_of_unknown_runs_are_ignored(void **state)
{
    struct mason_runs *runs = mason_runs_create(NULL, NULL);

    (void)state;
    feed_result(runs, "nobody", 3, 1.0, MASON_OUTCOME_SUCCESS);
    assert_int_equal(mason_runs_count(runs), 0);
    mason_runs_free(runs);
}

static void scoring_fills_snapshot(void **state)
{
    struct mason_score_config cfg;
    struct mason_runs *runs;
    struct mason_run_snapshot snap;

    (void)state;
    mason_score_config_defaults(&cfg);
    runs = mason_runs_create(NULL, &cfg);
    mason_runs_add(runs, "u2", 0, NULL);
    feed_result(runs, "u2", 0, 0.01, MASON_OUTCOME_SUCCESS);
    mason_runs_snapshot(runs, "u2", 0, &snap);
    assert_true(snap.scored);
    assert_true(snap.score >= 0.0 && snap.score <= 1.0);
    assert_true(json_is_array(snap.score_reasons));
    assert_false(mason_runs_warn_once(runs, "u2", 0));
    assert_true(mason_runs_warn_once(runs, "u2", 0));
    mason_run_snapshot_release(&snap);
    mason_runs_free(runs);
}

static void price_table_reads_entries(void **state)
{
    json_t *section =
        json_pack("[{s:s, s:f, s:f}]", "model", "my-model", "input", 1.5, "output", 6.0);
    json_t *bad = json_pack("[{s:s, s:s}]", "model", "m", "input", "cheap");
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_pricing p;

    (void)state;
    assert_int_equal(mason_price_table_load(section, &p, &err), 0);
    assert_int_equal(p.count, 1);
    assert_string_equal(mason_pricing_lookup(&p, "my-model-2")->model, "my-model");
    mason_price_table_release(&p);
    assert_int_equal(mason_price_table_load(NULL, &p, &err), 0);
    assert_ptr_equal(p.prices, mason_pricing_defaults.prices);
    assert_int_not_equal(mason_price_table_load(bad, &p, &err), 0);
    assert_non_null(strstr(mason_buf_str(&err), "pricing[0].input"));
    json_decref(section);
    json_decref(bad);
    mason_buf_release(&err);
}

static void scoring_section_is_checked(void **state)
{
    json_t *good =
        json_pack("{s:s, s:i, s:f}", "intervention", "hint", "loop_repeats", 3, "warn_below", 0.5);
    json_t *bad = json_pack("{s:s}", "intervention", "explode");
    json_t *range = json_pack("{s:f}", "warn_below", 1.5);
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_scoring s;

    (void)state;
    assert_int_equal(mason_scoring_load(good, &s, &err), 0);
    assert_true(s.enabled);
    assert_int_equal(s.score.intervention, MASON_INTERVENTION_HINT);
    assert_int_equal(s.score.loop_repeats, 3);
    assert_int_not_equal(mason_scoring_load(bad, &s, &err), 0);
    assert_non_null(strstr(mason_buf_str(&err), "scoring.intervention"));
    mason_buf_reset(&err);
    assert_int_not_equal(mason_scoring_load(range, &s, &err), 0);
    assert_non_null(strstr(mason_buf_str(&err), "scoring.warn_below"));
    json_decref(good);
    json_decref(bad);
    json_decref(range);
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_reports_result),
        cmocka_unit_test(events_of_unknown_runs_are_ignored),
        cmocka_unit_test(scoring_fills_snapshot),
        cmocka_unit_test(price_table_reads_entries),
        cmocka_unit_test(scoring_section_is_checked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
