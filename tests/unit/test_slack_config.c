/* The approvals configuration section and the approval decision vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <jansson.h>

#include "approval.h"
#include "error.h"
#include "slack.h"

#define SLACK_OK                                                                                   \
    "\"api_base_url\": \"http://127.0.0.1:9/api/\", \"channel\": \"C0123456789\", "                \
    "\"bot_token_secret\": \"k8s://mason-slack/bot_token\", "                                      \
    "\"signing_secret\": \"k8s://mason-slack/signing_secret\", "                                   \
    "\"approvers\": [\"U01ABCDEF12\", \"S02GHIJKL34\"]"

/* Parses JSON text as the approvals section; on failure checks that err contains want. */
static int parse(const char *text, struct mason_approvals_config *cfg, const char *want)
{
    json_t *section = text ? json_loads(text, 0, NULL) : NULL;
    struct mason_buf err = MASON_BUF_INIT;
    int rc;

    if (text && !section)
        fail_msg("test input is not JSON: %s", text);
    rc = mason_approvals_config_parse(section, cfg, &err);
    if (rc && want && !strstr(mason_buf_str(&err), want))
        fail_msg("error \"%s\" does not contain \"%s\"", mason_buf_str(&err), want);
    if (rc)
        assert_null(cfg->slack);
    json_decref(section);
    mason_buf_release(&err);
    return rc;
}

static void config_defaults(void **state)
{
    struct mason_approvals_config cfg;

    (void)state;
    assert_int_equal(parse(NULL, &cfg, NULL), 0);
    assert_int_equal(cfg.timeout_minutes, 240);
    assert_null(cfg.slack);
    assert_int_equal(parse("{}", &cfg, NULL), 0);
    assert_int_equal(cfg.timeout_minutes, 240);
    assert_int_equal(parse("{\"timeout_minutes\": 30}", &cfg, NULL), 0);
    assert_int_equal(cfg.timeout_minutes, 30);
    mason_approvals_config_release(&cfg);
}

static void config_slack_section(void **state)
{
    struct mason_approvals_config cfg;

    (void)state;
    assert_int_equal(parse("{\"timeout_minutes\": 60, \"slack\": {" SLACK_OK "}}", &cfg, NULL), 0);
    assert_non_null(cfg.slack);
    assert_string_equal(cfg.slack->api_base_url, "http://127.0.0.1:9/api");
    assert_string_equal(cfg.slack->channel, "C0123456789");
    assert_string_equal(cfg.slack->bot_token_secret, "k8s://mason-slack/bot_token");
    assert_string_equal(cfg.slack->signing_secret, "k8s://mason-slack/signing_secret");
    assert_int_equal(cfg.slack->approver_count, 2);
    assert_string_equal(cfg.slack->approvers[0], "U01ABCDEF12");
    assert_string_equal(cfg.slack->approvers[1], "S02GHIJKL34");
    mason_approvals_config_release(&cfg);
    assert_null(cfg.slack);
}

static void config_errors_name_key(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"[]", "approvals: must be a mapping"},
        {"{\"timeout\": 5}", "approvals.timeout: unknown key"},
        {"{\"timeout_minutes\": 0}", "approvals.timeout_minutes: must be a whole number"},
        {"{\"timeout_minutes\": \"4h\"}", "approvals.timeout_minutes: must be a whole number"},
        {"{\"timeout_minutes\": 43201}", "approvals.timeout_minutes: must be a whole number"},
        {"{\"slack\": 3}", "approvals.slack: must be a mapping"},
        {"{\"slack\": {" SLACK_OK ", \"chanel\": \"C1\"}}", "approvals.slack.chanel: unknown key"},
        {"{\"slack\": {\"channel\": \"C0123456789\"}}", "approvals.slack.api_base_url: missing"},
        {"{\"slack\": {\"api_base_url\": \"ftp://x\"}}",
         "approvals.slack.api_base_url: \"ftp://x\" is not an http or https URL"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api?x=1\"}}",
         "approvals.slack.api_base_url: \"http://x/api?x=1\" has a space"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\"}}", "approvals.slack.channel: missing"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"#approvals\"}}",
         "approvals.slack.channel: \"#approvals\" is not a channel id"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\"}}",
         "approvals.slack.bot_token_secret: missing"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\", "
         "\"bot_token_secret\": \"xoxb-123\"}}",
         "approvals.slack.bot_token_secret: not a secret reference"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\", "
         "\"bot_token_secret\": \"k8s://s/k\", \"signing_secret\": 5}}",
         "approvals.slack.signing_secret: must be a non-empty string"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\", "
         "\"bot_token_secret\": \"k8s://s/k\", \"signing_secret\": \"k8s://s/j\"}}",
         "approvals.slack.approvers: missing or empty"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\", "
         "\"bot_token_secret\": \"k8s://s/k\", \"signing_secret\": \"k8s://s/j\", "
         "\"approvers\": []}}",
         "approvals.slack.approvers: missing or empty"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\", "
         "\"bot_token_secret\": \"k8s://s/k\", \"signing_secret\": \"k8s://s/j\", "
         "\"approvers\": [\"U01ABCDEF12\", \"alice\"]}}",
         "approvals.slack.approvers[1]: not a Slack user id"},
        {"{\"slack\": {\"api_base_url\": \"http://x/api\", \"channel\": \"C0123456789\", "
         "\"bot_token_secret\": \"k8s://s/k\", \"signing_secret\": \"k8s://s/j\", "
         "\"approvers\": [\"C0123456789\"]}}",
         "approvals.slack.approvers[0]: not a Slack user id"},
    };
    struct mason_approvals_config cfg;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (parse(cases[i].text, &cfg, cases[i].want) != MASON_ECONFIG)
            fail_msg("accepted: %s", cases[i].text);
    }
}

static void decision_names(void **state)
{
    enum mason_approval_outcome outcome;

    (void)state;
    assert_int_equal(mason_approval_parse_decision("continue", &outcome), 0);
    assert_int_equal(outcome, MASON_APPROVAL_CONTINUE);
    assert_int_equal(mason_approval_parse_decision("stop", &outcome), 0);
    assert_int_equal(outcome, MASON_APPROVAL_STOP);
    assert_int_equal(mason_approval_parse_decision("expired", &outcome), MASON_EINVAL);
    assert_int_equal(mason_approval_parse_decision("Continue", &outcome), MASON_EINVAL);
    assert_int_equal(mason_approval_parse_decision("", &outcome), MASON_EINVAL);
    assert_int_equal(mason_approval_parse_decision(NULL, &outcome), MASON_EINVAL);
    assert_string_equal(mason_approval_outcome_name(MASON_APPROVAL_CONTINUE), "continue");
    assert_string_equal(mason_approval_outcome_name(MASON_APPROVAL_STOP), "stop");
    assert_string_equal(mason_approval_outcome_name(MASON_APPROVAL_EXPIRED), "expired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults),
        cmocka_unit_test(config_slack_section),
        cmocka_unit_test(config_errors_name_key),
        cmocka_unit_test(decision_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
