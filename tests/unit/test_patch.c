/*
 * Unit tests for the pod mutation: golden patches from
 * tests/fixtures/webhook/patch-cases.json, idempotence on every case (the
 * mutated pod gives an empty patch), the mutated pod passing validation, and
 * the JSON Patch applier the checks rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "patch.h"
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

static json_t *load_fixture(const char *name)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf path = MASON_BUF_INIT;
    json_error_t error;
    json_t *root;

    mason_buf_addf(&path, "%s/tests/fixtures/webhook/%s", top ? top : ".", name);
    root = json_load_file(mason_buf_str(&path), 0, &error);
    if (!root)
        fprintf(stderr, "%s:%d: %s\n", mason_buf_str(&path), error.line, error.text);
    mason_buf_release(&path);
    assert_non_null(root);
    return root;
}

static void print_json(const char *label, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);

    fprintf(stderr, "  %s: %s\n", label, text ? text : "(null)");
    free(text);
}

/* Checks one case; prints and returns the number of failed checks. */
static int run_case(const json_t *root, const json_t *tc)
{
    const char *name = json_string_value(json_object_get(tc, "name"));
    json_t *pod = json_deep_copy(json_object_get(root, "base"));
    json_t *patch, *again = NULL;
    struct mason_policy_report report;
    struct mason_buf err = MASON_BUF_INIT;
    int failures = 0;

    mason_policy_report_init(&report);
    if (json_object_get(tc, "pod"))
        merge_patch(pod, json_object_get(tc, "pod"));
    patch = mason_patch_pod(pod, MASON_PATCH_POD);
    assert_non_null(patch);
    if (!json_equal(patch, json_object_get(tc, "patch"))) {
        fprintf(stderr, "case \"%s\": patch differs from the golden patch\n", name);
        print_json("expected", json_object_get(tc, "patch"));
        print_json("actual", patch);
        failures++;
    }
    if (mason_patch_apply(pod, patch, &err)) {
        fprintf(stderr, "case \"%s\": patch does not apply: %s\n", name, mason_buf_str(&err));
        failures++;
    } else {
        again = mason_patch_pod(pod, MASON_PATCH_POD);
        assert_non_null(again);
        if (json_array_size(again) != 0) {
            fprintf(stderr, "case \"%s\": second mutation is not empty\n", name);
            print_json("second patch", again);
            failures++;
        }
        assert_int_equal(mason_policy_check_pod(pod, &report), 0);
        if (!json_is_true(json_object_get(tc, "user_value_forbids")) && report.count) {
            fprintf(stderr, "case \"%s\": mutated pod fails validation at %s: %s\n", name,
                    report.items[0].path, report.items[0].reason);
            failures++;
        }
        if (json_is_true(json_object_get(tc, "user_value_forbids")) && !report.count) {
            fprintf(stderr, "case \"%s\": expected a violation a user value causes\n", name);
            failures++;
        }
    }
    mason_policy_report_release(&report);
    mason_buf_release(&err);
    json_decref(again);
    json_decref(patch);
    json_decref(pod);
    return failures;
}

static void patch_golden_cases(void **state)
{
    json_t *root = load_fixture("patch-cases.json");
    const json_t *cases = json_object_get(root, "cases");
    size_t i;
    json_t *tc;
    int failures = 0;

    (void)state;
    assert_true(json_array_size(cases) >= 15);
    json_array_foreach(cases, i, tc) failures += run_case(root, tc);
    json_decref(root);
    assert_int_equal(failures, 0);
}

/* Every pod of the policy table, mutated, must be stable under a second mutation. */
static void patch_idempotent_on_policy_cases(void **state)
{
    json_t *root = load_fixture("policy-cases.json");
    size_t i;
    json_t *tc;
    int failures = 0;

    (void)state;
    json_array_foreach(json_object_get(root, "cases"), i, tc)
    {
        json_t *pod = json_deep_copy(json_object_get(root, "base"));
        json_t *container =
            json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
        struct mason_buf err = MASON_BUF_INIT;
        json_t *patch, *again;

        if (json_object_get(tc, "container"))
            merge_patch(container, json_object_get(tc, "container"));
        if (json_object_get(tc, "pod"))
            merge_patch(pod, json_object_get(tc, "pod"));
        patch = mason_patch_pod(pod, MASON_PATCH_POD);
        assert_non_null(patch);
        assert_int_equal(mason_patch_apply(pod, patch, &err), 0);
        again = mason_patch_pod(pod, MASON_PATCH_POD);
        if (json_array_size(again) != 0) {
            fprintf(stderr, "policy case \"%s\": second mutation is not empty\n",
                    json_string_value(json_object_get(tc, "name")));
            failures++;
        }
        mason_buf_release(&err);
        json_decref(again);
        json_decref(patch);
        json_decref(pod);
    }
    json_decref(root);
    assert_int_equal(failures, 0);
}

static void patch_ephemeral_scope_leaves_pod_alone(void **state)
{
    json_t *pod = json_pack("{s:{s:[{s:s}], s:[{s:s}], s:[{s:s, s:{s:s}}]}}", "spec", "containers",
                            "name", "app", "ephemeralContainers", "name", "debug", "volumes",
                            "name", "a", "persistentVolumeClaim", "claimName", "x");
    json_t *patch = mason_patch_pod(pod, MASON_PATCH_EPHEMERAL_ONLY);

    (void)state;
    assert_non_null(pod);
    assert_non_null(patch);
    assert_int_equal(json_array_size(patch), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "path")),
                        "/spec/ephemeralContainers/0/securityContext");
    json_decref(patch);
    json_decref(pod);
}

static void patch_escape_token_escapes(void **state)
{
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_patch_escape_token("mason.dev/approved-by~x", &out), 0);
    assert_string_equal(mason_buf_str(&out), "mason.dev~1approved-by~0x");
    mason_buf_release(&out);
}

static void patch_apply_handles_pointers(void **state)
{
    json_t *doc = json_loads("{\"a/b\": {\"~k\": [1, 2]}, \"list\": [1, 2, 3]}", 0, NULL);
    json_t *patch = json_loads("[{\"op\": \"add\", \"path\": \"/a~1b/~0k/-\", \"value\": 3},"
                               " {\"op\": \"add\", \"path\": \"/a~1b/~0k/0\", \"value\": 0},"
                               " {\"op\": \"replace\", \"path\": \"/list/1\", \"value\": 9},"
                               " {\"op\": \"remove\", \"path\": \"/list/2\"},"
                               " {\"op\": \"add\", \"path\": \"/new\", \"value\": true}]",
                               0, NULL);
    json_t *expected =
        json_loads("{\"a/b\": {\"~k\": [0, 1, 2, 3]}, \"list\": [1, 9], \"new\": true}", 0, NULL);
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_patch_apply(doc, patch, &err), 0);
    assert_true(json_equal(doc, expected));
    json_decref(doc);
    json_decref(patch);
    json_decref(expected);
    mason_buf_release(&err);
}

static void patch_apply_rejects_bad_operations(void **state)
{
    static const char *const bad[] = {
        "[{\"op\": \"remove\", \"path\": \"/missing\"}]",
        "[{\"op\": \"replace\", \"path\": \"/list/3\", \"value\": 1}]",
        "[{\"op\": \"add\", \"path\": \"/list/01\", \"value\": 1}]",
        "[{\"op\": \"add\", \"path\": \"/nope/x\", \"value\": 1}]",
        "[{\"op\": \"move\", \"from\": \"/list\", \"path\": \"/x\"}]",
        "[{\"op\": \"add\", \"path\": \"list\", \"value\": 1}]",
        "[{\"op\": \"add\", \"path\": \"/a~2\", \"value\": 1}]",
        "{\"op\": \"add\"}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *doc = json_loads("{\"list\": [1, 2, 3]}", 0, NULL);
        json_t *patch = json_loads(bad[i], 0, NULL);
        struct mason_buf err = MASON_BUF_INIT;

        assert_int_equal(mason_patch_apply(doc, patch, &err), MASON_EINVAL);
        assert_true(err.len > 0);
        mason_buf_release(&err);
        json_decref(patch);
        json_decref(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patch_golden_cases),
        cmocka_unit_test(patch_idempotent_on_policy_cases),
        cmocka_unit_test(patch_ephemeral_scope_leaves_pod_alone),
        cmocka_unit_test(patch_escape_token_escapes),
        cmocka_unit_test(patch_apply_handles_pointers),
        cmocka_unit_test(patch_apply_rejects_bad_operations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
