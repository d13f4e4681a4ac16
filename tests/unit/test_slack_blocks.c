/*
 * Block Kit messages for approval requests, compared with the golden files in
 * tests/fixtures/slack/. Run with MASON_UPDATE_GOLDEN=1 to rewrite the files
 * from the current output, then review the difference.
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
#include "slack.h"

#define REQUESTED_AT ((time_t)1712318400) /* 2024-04-05 12:00:00 UTC */
#define DECIDED_AT (REQUESTED_AT + 3723)  /* 2024-04-05 13:02:03 UTC */

static const struct mason_approval_request request = {
    .namespace = "agents",
    .name = "fix-login-redirect",
    .uid = "6f1c2a9e-3b7d-4e51-9a0c-2d8f7e6b5a41",
    .request_id = "r2-20240405T120000Z",
    .repository = "https://github.com/example/webapp",
    .summary = "Reproduced the redirect loop in tests/login_test.py, fixed the cookie path in "
               "auth/session.py and updated 3 of 5 failing tests. Remaining: the two "
               "OAuth callback tests.",
    .turns_used = 100,
    .cost_usd = 3.4219,
    .continuation = 1,
    .max_continuations = 2,
    .expires_at = REQUESTED_AT + 4 * 3600, /* 2024-04-05 16:00 UTC */
};

static void check_golden(const char *name, json_t *got)
{
    struct mason_buf path = MASON_BUF_INIT;
    const char *top = getenv("MASON_TEST_TOP");
    json_error_t error;
    json_t *want;

    assert_non_null(got);
    mason_buf_addf(&path, "%s/tests/fixtures/slack/%s", top ? top : ".", name);
    if (getenv("MASON_UPDATE_GOLDEN"))
        json_dump_file(got, mason_buf_str(&path), JSON_INDENT(2) | JSON_SORT_KEYS);
    want = json_load_file(mason_buf_str(&path), 0, &error);
    if (!want)
        fail_msg("cannot read %s: %s", mason_buf_str(&path), error.text);
    if (!json_equal(want, got)) {
        char *text = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);

        fail_msg("%s differs from the output:\n%s", name, text ? text : "(none)");
    }
    json_decref(want);
    json_decref(got);
    mason_buf_release(&path);
}

static void request_message_golden(void **state)
{
    (void)state;
    check_golden("request-message.json", mason_slack_request_message("C0123456789", &request));
}

static void request_message_escapes_text(void **state)
{
    struct mason_approval_request req = request;

    (void)state;
    req.repository = NULL;
    req.expires_at = 0;
    req.summary = "Ran <!channel> & fixed <https://evil.example|a link> > done";
    check_golden("request-message-escaped.json", mason_slack_request_message("C0123456789", &req));
}

static void request_message_cuts_long_summary(void **state)
{
    struct mason_approval_request req = request;
    char *summary = malloc(10001);
    json_t *msg;
    const char *text;

    (void)state;
    /* "é" is two bytes, so a cut in the wrong place would split a character. */
    for (size_t i = 0; i < 10000; i += 2)
        memcpy(summary + i, "\xc3\xa9", 2);
    summary[10000] = '\0';
    req.summary = summary;
    msg = mason_slack_request_message("C0123456789", &req);
    assert_non_null(msg);
    text = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(msg, "blocks"), 2), "text"), "text"));
    assert_non_null(text);
    assert_true(strlen(text) <= 3000);
    assert_true(strlen(text) > 2900);
    assert_string_equal(text + strlen(text) - 3, "\xe2\x80\xa6");
    assert_int_equal(strncmp(text, "*Progress*\n\xc3\xa9", 13), 0);
    json_decref(msg);
    free(summary);
}

static void request_message_needs_task_ref(void **state)
{
    struct mason_approval_request req = request;

    (void)state;
    req.uid = NULL;
    assert_null(mason_slack_request_message("C0123456789", &req));
    req = request;
    req.request_id = "r2/other";
    assert_null(mason_slack_request_message("C0123456789", &req));
    req = request;
    req.name = "";
    assert_null(mason_slack_request_message("C0123456789", &req));
    assert_null(mason_slack_request_message(NULL, &request));
}

static void decided_continue_golden(void **state)
{
    struct mason_approval_verdict v = {MASON_APPROVAL_CONTINUE, "U01ABCDEF12", "alice", DECIDED_AT};

    (void)state;
    check_golden("decided-continue.json",
                 mason_slack_decided_message("C0123456789", "1712345678.000100", &request, &v));
}

static void decided_stop_by_kubectl_golden(void **state)
{
    struct mason_approval_verdict v = {MASON_APPROVAL_STOP, NULL, "system:serviceaccount:ops:bob",
                                       DECIDED_AT};

    (void)state;
    check_golden("decided-stop-kubectl.json",
                 mason_slack_decided_message("C0123456789", "1712345678.000100", &request, &v));
}

static void decided_expired_golden(void **state)
{
    struct mason_approval_verdict v = {MASON_APPROVAL_EXPIRED, NULL, NULL, request.expires_at};

    (void)state;
    check_golden("decided-expired.json",
                 mason_slack_decided_message("C0123456789", "1712345678.000100", &request, &v));
}

/* Rewriting the blocks Slack sends back gives the same message as building it from the request. */
static void decided_blocks_match_message(void **state)
{
    struct mason_approval_verdict v = {MASON_APPROVAL_STOP, "U01ABCDEF12", "alice", DECIDED_AT};
    json_t *asked = mason_slack_request_message("C0123456789", &request);
    json_t *decided = mason_slack_decided_message("C0123456789", "1.2", &request, &v);
    json_t *blocks = mason_slack_decided_blocks(json_object_get(asked, "blocks"), &v);
    json_t *again = mason_slack_decided_blocks(blocks, &v);

    (void)state;
    assert_non_null(blocks);
    assert_true(json_equal(blocks, json_object_get(decided, "blocks")));
    /* Deciding twice leaves one verdict. */
    assert_true(json_equal(again, blocks));
    json_decref(again);
    json_decref(blocks);
    blocks = mason_slack_decided_blocks(NULL, &v);
    assert_int_equal(json_array_size(blocks), 1);
    json_decref(blocks);
    json_decref(decided);
    json_decref(asked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_message_golden),
        cmocka_unit_test(request_message_escapes_text),
        cmocka_unit_test(request_message_cuts_long_summary),
        cmocka_unit_test(request_message_needs_task_ref),
        cmocka_unit_test(decided_continue_golden),
        cmocka_unit_test(decided_stop_by_kubectl_golden),
        cmocka_unit_test(decided_expired_golden),
        cmocka_unit_test(decided_blocks_match_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
