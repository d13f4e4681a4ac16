/* Slack request signatures (v0), checked against the example in Slack's
 * "Verifying requests from Slack" documentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "error.h"
#include "slack.h"

/* Signing secret, timestamp, body and signature of Slack's documented example. */
#define DOC_SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define DOC_TIMESTAMP "1531420618"
#define DOC_TIME ((time_t)1531420618)
#define DOC_BODY                                                                                   \
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="         \
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"     \
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"             \
    "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."               \
    "803a0bc887a14d10d2c447fce8b6703c"
#define DOC_SIGNATURE "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static int verify(const char *secret, const char *ts, const char *sig, const char *body, time_t now,
                  struct mason_buf *err)
{
    mason_buf_reset(err);
    return mason_slack_verify(secret, ts, sig, body, strlen(body), now, err);
}

static void sign_documented_example(void **state)
{
    struct mason_buf sig = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_slack_sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY, strlen(DOC_BODY), &sig),
                     0);
    assert_string_equal(mason_buf_str(&sig), DOC_SIGNATURE);
    mason_buf_release(&sig);
}

static void verify_documented_example(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME, &err), 0);
    /* Within the 5-minute window on either side. */
    assert_int_equal(
        verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME + 300, &err), 0);
    assert_int_equal(
        verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME - 300, &err), 0);
    mason_buf_release(&err);
}

static void verify_rejects_wrong_signature(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;
    char sig[] = DOC_SIGNATURE;

    (void)state;
    sig[sizeof(sig) - 2] = sig[sizeof(sig) - 2] == '3' ? '4' : '3';
    assert_int_equal(verify(DOC_SECRET, DOC_TIMESTAMP, sig, DOC_BODY, DOC_TIME, &err),
                     MASON_EUNAUTHORIZED);
    assert_non_null(strstr(mason_buf_str(&err), "does not match"));
    /* The error never reveals the signature the secret gives. */
    assert_null(strstr(mason_buf_str(&err), "a2114d57"));

    assert_int_equal(
        verify("another-secret", DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME, &err),
        MASON_EUNAUTHORIZED);
    assert_int_equal(
        verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY "&x=1", DOC_TIME, &err),
        MASON_EUNAUTHORIZED);
    /* The signature covers the timestamp too. */
    assert_int_equal(verify(DOC_SECRET, "1531420619", DOC_SIGNATURE, DOC_BODY, DOC_TIME, &err),
                     MASON_EUNAUTHORIZED);
    mason_buf_release(&err);
}

static void verify_rejects_malformed_signature(void **state)
{
    static const char *const bad[] = {
        "",
        "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b50",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b5033",
        "v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503",
    };
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify(DOC_SECRET, DOC_TIMESTAMP, bad[i], DOC_BODY, DOC_TIME, &err) !=
            MASON_EUNAUTHORIZED)
            fail_msg("signature \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(verify(DOC_SECRET, DOC_TIMESTAMP, NULL, DOC_BODY, DOC_TIME, &err),
                     MASON_EUNAUTHORIZED);
    assert_string_equal(mason_buf_str(&err), "X-Slack-Signature header is missing");
    mason_buf_release(&err);
}

static void verify_rejects_old_timestamp(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(
        verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME + 301, &err),
        MASON_EUNAUTHORIZED);
    assert_non_null(strstr(mason_buf_str(&err), "301 s old"));
    assert_int_equal(
        verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME + 86400, &err),
        MASON_EUNAUTHORIZED);
    mason_buf_release(&err);
}

static void verify_rejects_future_timestamp(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(
        verify(DOC_SECRET, DOC_TIMESTAMP, DOC_SIGNATURE, DOC_BODY, DOC_TIME - 301, &err),
        MASON_EUNAUTHORIZED);
    assert_non_null(strstr(mason_buf_str(&err), "in the future"));
    mason_buf_release(&err);
}

static void verify_rejects_bad_timestamp(void **state)
{
    static const char *const bad[] = {
        "", "-1531420618", "1531420618.5", " 1531420618", "0x5b47d0ca", "9999999999999999999"};
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify(DOC_SECRET, bad[i], DOC_SIGNATURE, DOC_BODY, DOC_TIME, &err) !=
            MASON_EUNAUTHORIZED)
            fail_msg("timestamp \"%s\" was accepted", bad[i]);
    }
    assert_int_equal(verify(DOC_SECRET, NULL, DOC_SIGNATURE, DOC_BODY, DOC_TIME, &err),
                     MASON_EUNAUTHORIZED);
    assert_string_equal(mason_buf_str(&err), "X-Slack-Request-Timestamp header is missing");
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_documented_example),
        cmocka_unit_test(verify_documented_example),
        cmocka_unit_test(verify_rejects_wrong_signature),
        cmocka_unit_test(verify_rejects_malformed_signature),
        cmocka_unit_test(verify_rejects_old_timestamp),
        cmocka_unit_test(verify_rejects_future_timestamp),
        cmocka_unit_test(verify_rejects_bad_timestamp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
