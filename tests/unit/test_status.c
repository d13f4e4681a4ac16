/* Unit tests for the AgentTask status helpers: conditions, runs and Job states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "status.h"

static void condition_keeps_transition_time(void **state)
{
    json_t *status = json_object();
    json_t *c;

    (void)state;
    mason_status_set_condition(status, "Running", "False", "JobCreated", "m", 1, 1000);
    c = mason_status_condition(status, "Running");
    assert_string_equal(json_string_value(json_object_get(c, "lastTransitionTime")),
                        "1970-01-01T00:16:40Z");
    mason_status_set_condition(status, "Running", "False", "PodStarting", "m2", 2, 2000);
    c = mason_status_condition(status, "Running");
    assert_string_equal(json_string_value(json_object_get(c, "lastTransitionTime")),
                        "1970-01-01T00:16:40Z");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "PodStarting");
    assert_int_equal(json_integer_value(json_object_get(c, "observedGeneration")), 2);
    mason_status_set_condition(status, "Running", "True", "AgentRunning", "m3", 2, 3000);
    c = mason_status_condition(status, "Running");
    assert_string_equal(json_string_value(json_object_get(c, "lastTransitionTime")),
                        "1970-01-01T00:50:00Z");
    assert_int_equal(json_array_size(json_object_get(status, "conditions")), 1);
    json_decref(status);
}

static void runs_keep_latest_hundred(void **state)
{
    json_t *status = json_object();

    (void)state;
    for (int i = 0; i < 105; i++)
        mason_status_add_run(status, i, "job", "claude-code", "Retry", 0);
    assert_int_equal(json_array_size(json_object_get(status, "runs")), 100);
    assert_int_equal(json_integer_value(json_object_get(mason_status_last_run(status), "index")),
                     104);
    assert_null(mason_status_run(status, 4));
    assert_non_null(mason_status_run(status, 5));
    json_decref(status);
}

static void job_state_reads_conditions(void **state)
{
    json_t *running = json_pack("{s:{s:i, s:i}}", "status", "active", 1, "ready", 1);
    json_t *done =
        json_pack("{s:{s:[{s:s, s:s}], s:s}}", "status", "conditions", "type", "Complete", "status",
                  "True", "completionTime", "2026-12-04T10:00:00Z");
    json_t *failed =
        json_pack("{s:{s:[{s:s, s:s}, {s:s, s:s, s:s, s:s}]}}", "status", "conditions", "type",
                  "FailureTarget", "status", "True", "type", "Failed", "status", "True", "reason",
                  "DeadlineExceeded", "message", "Job was active longer than specified deadline");
    struct mason_job_state js;

    (void)state;
    mason_status_job_state(running, &js);
    assert_string_equal(js.outcome, "Running");
    assert_true(js.ready);
    mason_status_job_state(done, &js);
    assert_string_equal(js.outcome, "Succeeded");
    assert_string_equal(js.completion_time, "2026-12-04T10:00:00Z");
    mason_status_job_state(failed, &js);
    assert_string_equal(js.outcome, "Failed");
    assert_string_equal(js.reason, "DeadlineExceeded");
    json_decref(running);
    json_decref(done);
    json_decref(failed);
}

static void timestamp_round_trips(void **state)
{
    char text[32];
    time_t back = 0;

    (void)state;
    mason_status_timestamp(1796378400, text);
    assert_string_equal(text, "2026-12-04T10:00:00Z");
    assert_int_equal(mason_status_parse_timestamp(text, &back), 0);
    assert_int_equal(back, 1796378400);
    assert_int_equal(mason_status_parse_timestamp("yesterday", &back), -1);
    assert_int_equal(mason_status_parse_timestamp(NULL, &back), -1);
}

static void phase_final_only_for_ends(void **state)
{
    (void)state;
    assert_true(mason_status_phase_final("Succeeded"));
    assert_true(mason_status_phase_final("Failed"));
    assert_false(mason_status_phase_final("AwaitingApproval"));
    assert_false(mason_status_phase_final(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(condition_keeps_transition_time),
        cmocka_unit_test(runs_keep_latest_hundred),
        cmocka_unit_test(job_state_reads_conditions),
        cmocka_unit_test(timestamp_round_trips),
        cmocka_unit_test(phase_final_only_for_ends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
