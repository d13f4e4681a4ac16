/*
 * Unit tests for the pod policy checks, driven by the table in
 * tests/fixtures/webhook/policy-cases.json: each case edits a hardened pod
 * and lists every field path the checks must report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "policy.h"

/* Applies an RFC 7386 merge patch to target in place: null deletes a key. */
static void merge_patch(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)patch, key, value)
    {
        json_t *current = json_object_get(target, key);

        if (json_is_null(value))
            json_object_del(target, key);
        else if (json_is_object(value) && json_is_object(current))
            merge_patch(current, value);
        else
            json_object_set_new(target, key, json_deep_copy(value));
    }
}

static json_t *load_cases(void)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;
    json_error_t error;
    json_t *root;

    mason_buf_addf(&path, "%s/tests/fixtures/webhook/policy-cases.json", top ? top : ".");
    root = json_load_file(mason_buf_str(&path), 0, &error);
    if (!root)
        fprintf(stderr, "%s:%d: %s\n", mason_buf_str(&path), error.line, error.text);
    mason_buf_release(&path);
    assert_non_null(root);
    return root;
}

/* Builds the pod of one case: the base with the case's merge patches applied. */
static json_t *case_pod(const json_t *root, const json_t *tc)
{
    json_t *pod = json_deep_copy(json_object_get(root, "base"));
    const json_t *container_patch = json_object_get(tc, "container");

    if (container_patch) {
        json_t *container =
            json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
        merge_patch(container, container_patch);
    }
    if (json_object_get(tc, "pod"))
        merge_patch(pod, json_object_get(tc, "pod"));
    return pod;
}

static bool report_has(const struct mason_policy_report *report, const char *path)
{
    for (size_t i = 0; i < report->count; i++)
        if (!strcmp(report->items[i].path, path))
            return true;
    return false;
}

static bool expected_has(const json_t *expected, const char *path)
{
    size_t i;
    json_t *item;

    json_array_foreach(expected, i, item) if (!strcmp(json_string_value(item), path)) return true;
    return false;
}

/* Runs one case and prints what differs; returns the number of differences. */
static int run_case(const json_t *root, const json_t *tc)
{
    const char *name = json_string_value(json_object_get(tc, "name"));
    const json_t *expected = json_object_get(tc, "violations");
    struct mason_policy_report report;
    json_t *pod = case_pod(root, tc);
    size_t i;
    json_t *item;
    int differences = 0;

    mason_policy_report_init(&report);
    assert_int_equal(mason_policy_check_pod(pod, &report), 0);
    json_array_foreach(expected, i, item)
    {
        if (!report_has(&report, json_string_value(item))) {
            fprintf(stderr, "case \"%s\": expected violation %s is missing\n", name,
                    json_string_value(item));
            differences++;
        }
    }
    for (i = 0; i < report.count; i++) {
        if (!expected_has(expected, report.items[i].path)) {
            fprintf(stderr, "case \"%s\": unexpected violation %s: %s\n", name,
                    report.items[i].path, report.items[i].reason);
            differences++;
        }
    }
    mason_policy_report_release(&report);
    json_decref(pod);
    return differences;
}

static void policy_table_cases(void **state)
{
    json_t *root = load_cases();
    const json_t *cases = json_object_get(root, "cases");
    size_t i;
    json_t *tc;
    int differences = 0;

    (void)state;
    assert_true(json_array_size(cases) >= 60);
    json_array_foreach(cases, i, tc) differences += run_case(root, tc);
    json_decref(root);
    assert_int_equal(differences, 0);
}

static void policy_violation_has_reason_and_fix(void **state)
{
    json_t *pod = json_pack("{s:{s:{s:i}, s:[{s:s}]}}", "spec", "securityContext", "runAsUser", 0,
                            "containers", "name", "app");
    struct mason_policy_report report;

    (void)state;
    mason_policy_report_init(&report);
    assert_int_equal(mason_policy_check_pod(pod, &report), 0);
    assert_true(report.count > 0);
    assert_string_equal(report.items[0].path, "spec.securityContext.runAsUser");
    assert_string_equal(report.items[0].reason, "must not be 0");
    assert_non_null(strstr(report.items[0].fix, "non-zero"));
    mason_policy_report_release(&report);
    json_decref(pod);
}

static void policy_warning_stays_short(void **state)
{
    char path[] = "spec.ephemeralContainers[12].lifecycle.postStart.httpGet.host.with.a.very."
                  "long.path.that.goes.on.and.on.beyond.any.reasonable.length";
    char reason[] = "must be unset";
    char fix[] = "remove it";
    struct mason_violation v = {.path = path, .reason = reason, .fix = fix};
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_policy_format_warning(&v, 120, &out), 0);
    assert_true(out.len < 120);
    assert_non_null(strstr(mason_buf_str(&out), "..."));
    mason_buf_release(&out);
}

static void policy_denial_names_every_field(void **state)
{
    json_t *pod = json_pack("{s:{s:b, s:{s:i}, s:[{s:s, s:{s:b}}]}}", "spec", "hostNetwork", 1,
                            "securityContext", "runAsUser", 0, "containers", "name", "app",
                            "securityContext", "privileged", 1);
    struct mason_policy_report report;
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    mason_policy_report_init(&report);
    assert_int_equal(mason_policy_check_pod(pod, &report), 0);
    assert_int_equal(mason_policy_format_denial(&report, 8192, &out), 0);
    assert_non_null(strstr(mason_buf_str(&out), "spec.hostNetwork: must be unset or false"));
    assert_non_null(strstr(mason_buf_str(&out), "spec.securityContext.runAsUser: must not be 0"));
    assert_non_null(strstr(mason_buf_str(&out), "spec.containers[0].securityContext.privileged"));
    mason_policy_report_release(&report);
    mason_buf_release(&out);
    json_decref(pod);
}

static void policy_denial_counts_the_rest(void **state)
{
    json_t *pod = json_pack("{s:{s:b, s:b, s:b, s:[{s:s}]}}", "spec", "hostNetwork", 1, "hostPID",
                            1, "hostIPC", 1, "containers", "name", "app");
    struct mason_policy_report report;
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    mason_policy_report_init(&report);
    assert_int_equal(mason_policy_check_pod(pod, &report), 0);
    assert_int_equal(mason_policy_format_denial(&report, 100, &out), 0);
    assert_true(out.len <= 100);
    assert_non_null(strstr(mason_buf_str(&out), "more"));
    mason_policy_report_release(&report);
    mason_buf_release(&out);
    json_decref(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_table_cases),
        cmocka_unit_test(policy_violation_has_reason_and_fix),
        cmocka_unit_test(policy_warning_stays_short),
        cmocka_unit_test(policy_denial_names_every_field),
        cmocka_unit_test(policy_denial_counts_the_rest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
