/*
 * Interactivity requests: parsing of block_actions payloads, and the
 * endpoint's checks (signature, timestamp, channel, approver, repeats)
 * against a stub Slack Web API on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube_stub.h"

#include "error.h"
#include "slack.h"

#define TOKEN "xoxb-test-0123456789"
#define SIGNING_SECRET "0123456789abcdef0123456789abcdef"
#define NOW ((time_t)1712345700)
#define NOW_TEXT "1712345700"
#define VALUE "agents/fix-login/6f1c2a9e-3b7d-4e51-9a0c-2d8f7e6b5a41/r1"

/* Reads tests/fixtures/slack/NAME as JSON. */
static json_t *fixture_json(const char *name)
{
    struct mason_buf path = MASON_BUF_INIT;
    const char *top = getenv("MASON_TEST_TOP");
    json_t *doc;

    mason_buf_addf(&path, "%s/tests/fixtures/slack/%s", top ? top : ".", name);
    doc = json_load_file(mason_buf_str(&path), 0, NULL);
    if (!doc)
        fail_msg("cannot read %s", mason_buf_str(&path));
    mason_buf_release(&path);
    return doc;
}

/* Appends s form-encoded: letters, digits and "-._~" as they are, ' ' as '+', others as %XX. */
static void form_encode(struct mason_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            mason_buf_add(out, s, 1);
        else if (c == ' ')
            mason_buf_adds(out, "+");
        else
            mason_buf_addf(out, "%%%02X", c);
    }
}

/* Returns the form body Slack would send for payload (a new string). */
static char *form_body(const json_t *payload)
{
    struct mason_buf body = MASON_BUF_INIT;
    char *text = json_dumps(payload, JSON_COMPACT);

    mason_buf_adds(&body, "payload=");
    form_encode(&body, text);
    free(text);
    return mason_buf_detach(&body);
}

/* The fixture click with one change: key path (dot separated) set to value, or removed if NULL. */
static char *click_body(const char *path, json_t *value)
{
    json_t *payload = fixture_json("block-actions-continue.json"), *obj = payload;
    char *copy = strdup(path ? path : ""), *dot, *key = copy;
    char *body;

    while (path && (dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        obj = json_is_array(obj) ? json_array_get(obj, strtoul(key, NULL, 10))
                                 : json_object_get(obj, key);
        key = dot + 1;
    }
    if (path && value)
        json_object_set_new(obj, key, value);
    else if (path)
        json_object_del(obj, key);
    body = form_body(payload);
    free(copy);
    json_decref(payload);
    return body;
}

static int parse(const char *body, struct mason_slack_click *click, const char *want_err)
{
    struct mason_buf err = MASON_BUF_INIT;
    int rc = mason_slack_click_parse(body, strlen(body), click, &err);

    if (rc && want_err && !strstr(mason_buf_str(&err), want_err))
        fail_msg("error \"%s\" does not contain \"%s\"", mason_buf_str(&err), want_err);
    if (rc)
        assert_null(click->user_id);
    mason_buf_release(&err);
    return rc;
}

static void parse_continue_click(void **state)
{
    struct mason_slack_click click;
    char *body = click_body(NULL, NULL);

    (void)state;
    assert_int_equal(parse(body, &click, NULL), 0);
    assert_int_equal(click.outcome, MASON_APPROVAL_CONTINUE);
    assert_string_equal(click.user_id, "U01ABCDEF12");
    assert_string_equal(click.user_name, "alice");
    assert_string_equal(click.channel_id, "C0123456789");
    assert_string_equal(click.message_ts, "1712345678.000100");
    assert_string_equal(click.namespace, "agents");
    assert_string_equal(click.name, "fix-login");
    assert_string_equal(click.uid, "6f1c2a9e-3b7d-4e51-9a0c-2d8f7e6b5a41");
    assert_string_equal(click.request_id, "r1");
    assert_int_equal(json_array_size(click.blocks), 2);
    mason_slack_click_release(&click);
    mason_slack_click_release(&click); /* a second release is harmless */
    free(body);
}

static void parse_stop_click(void **state)
{
    struct mason_slack_click click;
    char *body = click_body("actions.0.action_id", json_string("mason_stop"));

    (void)state;
    assert_int_equal(parse(body, &click, NULL), 0);
    assert_int_equal(click.outcome, MASON_APPROVAL_STOP);
    mason_slack_click_release(&click);
    free(body);
}

static void parse_user_name_fallbacks(void **state)
{
    struct mason_slack_click click;
    char *body = click_body("user.username", NULL);

    (void)state;
    assert_int_equal(parse(body, &click, NULL), 0);
    assert_string_equal(click.user_name, "alice");
    mason_slack_click_release(&click);
    free(body);
    body = click_body("user.name", NULL);
    assert_int_equal(parse(body, &click, NULL), 0);
    assert_string_equal(click.user_name, "alice");
    mason_slack_click_release(&click);
    free(body);
}

static void parse_other_interactions_ignored(void **state)
{
    struct mason_slack_click click;
    char *body = click_body("type", json_string("view_submission"));

    (void)state;
    assert_int_equal(parse(body, &click, "not block_actions"), MASON_EINVAL);
    free(body);
    body = click_body("actions.0.action_id", json_string("someone_elses_button"));
    assert_int_equal(parse(body, &click, "not a mason approval button"), MASON_EINVAL);
    free(body);
}

static void parse_rejects_malformed(void **state)
{
    static const struct {
        const char *path;
        const char *value; /* JSON text, NULL to remove the key */
        const char *want;
    } cases[] = {
        {"type", NULL, "payload has no type"},
        {"user.id", NULL, "payload has no user.id"},
        {"user.id", "\"U1/../x\"", "user.id is not a Slack user id"},
        {"channel", NULL, "payload has no channel.id"},
        {"message.ts", NULL, "payload has no message.ts"},
        {"actions", "[]", "payload has no actions[0].action_id"},
        {"actions.0.value", NULL, "button value is not namespace/name/uid/request_id"},
        {"actions.0.value", "\"agents/fix-login/uid\"", "button value is not"},
        {"actions.0.value", "\"agents/fix-login/uid/r1/extra\"", "button value is not"},
        {"actions.0.value", "\"agents//uid/r1\"", "button value is not"},
        {"actions.0.value", "\"agents/fix login/uid/r1\"", "button value is not"},
        {"actions.0.value", "7", "button value is not"},
    };
    struct mason_slack_click click;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *value = cases[i].value ? json_loads(cases[i].value, JSON_DECODE_ANY, NULL) : NULL;
        char *body = click_body(cases[i].path, value);

        if (parse(body, &click, cases[i].want) != MASON_EPARSE)
            fail_msg("accepted %s = %s", cases[i].path, cases[i].value ? cases[i].value : "(none)");
        free(body);
    }
}

static void parse_decodes_plus_and_escapes(void **state)
{
    struct mason_slack_click click;
    char *body = click_body("user.username", json_string("a+b c%41"));

    (void)state;
    /* The name travels as a%2Bb+c%2541: '+' is a space, %2B a plus sign. */
    assert_non_null(strstr(body, "a%2Bb+c%2541"));
    assert_int_equal(parse(body, &click, NULL), 0);
    assert_string_equal(click.user_name, "a+b c%41");
    mason_slack_click_release(&click);
    free(body);
}

static void parse_rejects_bad_form(void **state)
{
    struct mason_slack_click click;
    char *big;

    (void)state;
    assert_int_equal(parse("", &click, "no payload field"), MASON_EPARSE);
    assert_int_equal(parse("token=x&payloads=%7B%7D", &click, "no payload field"), MASON_EPARSE);
    assert_int_equal(parse("payload=%7", &click, "invalid %-escape"), MASON_EPARSE);
    assert_int_equal(parse("payload=%zz%7D", &click, "invalid %-escape"), MASON_EPARSE);
    assert_int_equal(parse("payload=not+json", &click, "not a JSON object"), MASON_EPARSE);
    assert_int_equal(parse("payload=%5B%5D", &click, "not a JSON object"), MASON_EPARSE);
    /* The payload field need not come first. */
    assert_int_equal(parse("a=b&payload=%7B%22type%22%3A%22shortcut%22%7D", &click, NULL),
                     MASON_EINVAL);
    big = calloc(MASON_SLACK_MAX_BODY + 2, 1);
    memset(big, 'a', MASON_SLACK_MAX_BODY + 1);
    assert_int_equal(parse(big, &click, "larger than"), MASON_ETOOBIG);
    free(big);
}

/* The apply callback of the handler tests: counts calls and returns a set code. */
struct apply_log {
    int calls;
    int rc;
    enum mason_approval_outcome outcome;
    char user[32];
};

static int apply_record(void *arg, const struct mason_slack_click *click, time_t now,
                        struct mason_buf *err)
{
    struct apply_log *log = arg;

    (void)now;
    log->calls++;
    log->outcome = click->outcome;
    snprintf(log->user, sizeof(log->user), "%s", click->user_id);
    if (log->rc)
        mason_buf_adds(err, "scripted failure");
    return log->rc;
}

struct fixture {
    struct stub stub;
    struct mason_slack *slack;
    struct apply_log log;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct mason_approvals_config cfg;
    struct mason_buf url = MASON_BUF_INIT, err = MASON_BUF_INIT;
    json_t *section;

    if (!f || stub_start(&f->stub) != 0)
        return -1;
    mason_buf_addf(&url, "%s/api", f->stub.base_url);
    section =
        json_pack("{s:{s:s, s:s, s:s, s:s, s:[s, s]}}", "slack", "api_base_url", url.data,
                  "channel", "C0123456789", "bot_token_secret", "k8s://s/bot", "signing_secret",
                  "k8s://s/sign", "approvers", "U01ABCDEF12", "S02GHIJKL34");
    if (mason_approvals_config_parse(section, &cfg, &err) == 0)
        f->slack = mason_slack_create(cfg.slack, TOKEN, SIGNING_SECRET, &err);
    mason_approvals_config_release(&cfg);
    json_decref(section);
    mason_buf_release(&url);
    mason_buf_release(&err);
    *state = f;
    return f->slack ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    mason_slack_free(f->slack);
    stub_stop(&f->stub);
    free(f);
    return 0;
}

/* Sends body as Slack would, signed at timestamp ts (NULL for no signature), at NOW. */
static unsigned deliver(struct fixture *f, const char *body, const char *ts,
                        struct mason_buf *reply)
{
    struct mason_buf sig = MASON_BUF_INIT;
    struct mason_slack_http_request req = {
        "POST", "application/x-www-form-urlencoded", ts, NULL, body, strlen(body)};
    unsigned status;

    if (ts) {
        mason_slack_sign(SIGNING_SECRET, ts, body, strlen(body), &sig);
        req.signature = sig.data;
    }
    mason_buf_reset(reply);
    status = mason_slack_handle_interaction(f->slack, &req, NOW, apply_record, &f->log, reply);
    mason_buf_release(&sig);
    return status;
}

static void handle_applies_approver_click(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body(NULL, NULL);
    json_t *update;

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"channel\":\"C0123456789\","
                                                   "\"ts\":\"1712345678.000100\"}"});
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 200);
    assert_string_equal(mason_buf_str(&reply), "recorded: continue\n");
    assert_int_equal(f->log.calls, 1);
    assert_int_equal(f->log.outcome, MASON_APPROVAL_CONTINUE);
    assert_string_equal(f->log.user, "U01ABCDEF12");
    /* The message is updated: buttons gone, the decision shown. */
    assert_int_equal(stub_request_count(&f->stub), 1);
    assert_string_equal(f->stub.requests[0].path, "/api/chat.update");
    update = json_loads(f->stub.requests[0].body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(update, "ts")), "1712345678.000100");
    assert_string_equal(json_string_value(json_object_get(update, "channel")), "C0123456789");
    assert_int_equal(json_array_size(json_object_get(update, "blocks")), 2);
    assert_non_null(strstr(f->stub.requests[0].body, "*Continued* by <@U01ABCDEF12> (alice)"));
    assert_null(strstr(f->stub.requests[0].body, "\"actions\""));
    json_decref(update);
    mason_buf_release(&reply);
    free(body);
}

static void handle_ignores_repeated_click(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body(NULL, NULL);

    f->log.rc = MASON_EEXISTS;
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 200);
    assert_string_equal(mason_buf_str(&reply), "already decided\n");
    assert_int_equal(f->log.calls, 1);
    assert_int_equal(stub_request_count(&f->stub), 0);
    mason_buf_release(&reply);
    free(body);
}

static void handle_rejects_bad_signature(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT, sig = MASON_BUF_INIT;
    char *body = click_body(NULL, NULL);
    struct mason_slack_http_request req = {
        "POST", "application/x-www-form-urlencoded", NOW_TEXT, NULL, body, strlen(body)};

    assert_int_equal(deliver(f, body, NULL, &reply), 401);
    assert_string_equal(mason_buf_str(&reply), "invalid request signature\n");
    /* Signed with another secret. */
    mason_slack_sign("another-secret", NOW_TEXT, body, strlen(body), &sig);
    req.signature = sig.data;
    mason_buf_reset(&reply);
    assert_int_equal(
        mason_slack_handle_interaction(f->slack, &req, NOW, apply_record, &f->log, &reply), 401);
    /* Signed, then altered: the click is now a stop. */
    mason_buf_reset(&sig);
    mason_slack_sign(SIGNING_SECRET, NOW_TEXT, body, strlen(body), &sig);
    free(body);
    body = click_body("actions.0.action_id", json_string("mason_stop"));
    req.signature = sig.data;
    req.body = body;
    req.body_len = strlen(body);
    assert_int_equal(
        mason_slack_handle_interaction(f->slack, &req, NOW, apply_record, &f->log, &reply), 401);
    assert_int_equal(f->log.calls, 0);
    assert_int_equal(stub_request_count(&f->stub), 0);
    mason_buf_release(&sig);
    mason_buf_release(&reply);
    free(body);
}

static void handle_rejects_stale_click(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body(NULL, NULL);

    assert_int_equal(deliver(f, body, "1712345399", &reply), 401); /* 301 s before NOW */
    assert_int_equal(deliver(f, body, "1712346001", &reply), 401); /* 301 s after NOW */
    assert_int_equal(f->log.calls, 0);
    assert_int_equal(deliver(f, body, "1712345400", &reply), 200); /* 300 s before NOW */
    assert_int_equal(f->log.calls, 1);
    mason_buf_release(&reply);
    free(body);
}

static void handle_rejects_other_channel(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body("channel.id", json_string("C9999999999"));

    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 403);
    assert_string_equal(mason_buf_str(&reply), "click came from another channel\n");
    assert_int_equal(f->log.calls, 0);
    mason_buf_release(&reply);
    free(body);
}

static void handle_rejects_non_approver(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body("user.id", json_string("U0MALLORY00"));

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"users\":[\"U0CAROL0000\"]}"});
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 403);
    assert_string_equal(mason_buf_str(&reply), "user is not an approver\n");
    assert_int_equal(f->log.calls, 0);
    assert_int_equal(stub_request_count(&f->stub), 1);
    assert_string_equal(f->stub.requests[0].path, "/api/usergroups.users.list");
    mason_buf_release(&reply);
    free(body);
}

static void handle_accepts_group_member(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body("user.id", json_string("U0CAROL0000"));

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"users\":[\"U0CAROL0000\"]}"});
    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true}"});
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 200);
    assert_int_equal(f->log.calls, 1);
    mason_buf_release(&reply);
    free(body);
}

static void handle_group_lookup_failure(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body("user.id", json_string("U0CAROL0000"));

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":false,\"error\":\"invalid_auth\"}"});
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 503);
    assert_string_equal(mason_buf_str(&reply), "cannot check the approvers\n");
    assert_int_equal(f->log.calls, 0);
    mason_buf_release(&reply);
    free(body);
}

static void handle_maps_apply_errors(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT;
    char *body = click_body(NULL, NULL);

    f->log.rc = MASON_ENOTFOUND;
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 404);
    f->log.rc = MASON_EUNAVAILABLE;
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 503);
    assert_int_equal(f->log.calls, 2);
    assert_int_equal(stub_request_count(&f->stub), 0);
    mason_buf_release(&reply);
    free(body);
}

static void handle_rejects_bad_requests(void **state)
{
    struct fixture *f = *state;
    struct mason_buf reply = MASON_BUF_INIT, sig = MASON_BUF_INIT;
    char *body = click_body(NULL, NULL);
    struct mason_slack_http_request req = {"GET", NULL, NULL, NULL, "", 0};

    assert_int_equal(
        mason_slack_handle_interaction(f->slack, &req, NOW, apply_record, &f->log, &reply), 405);
    mason_slack_sign(SIGNING_SECRET, NOW_TEXT, body, strlen(body), &sig);
    req = (struct mason_slack_http_request){"POST", "application/json", NOW_TEXT, sig.data,
                                            body,   strlen(body)};
    assert_int_equal(
        mason_slack_handle_interaction(f->slack, &req, NOW, apply_record, &f->log, &reply), 400);
    free(body);
    body = click_body("actions.0.value", json_string("x"));
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 400);
    assert_string_equal(mason_buf_str(&reply), "malformed interaction payload\n");
    free(body);
    body = click_body("actions.0.action_id", json_string("other_button"));
    assert_int_equal(deliver(f, body, NOW_TEXT, &reply), 200);
    assert_string_equal(mason_buf_str(&reply), "ignored\n");
    assert_int_equal(f->log.calls, 0);
    mason_buf_release(&sig);
    mason_buf_release(&reply);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_continue_click),
        cmocka_unit_test(parse_stop_click),
        cmocka_unit_test(parse_user_name_fallbacks),
        cmocka_unit_test(parse_other_interactions_ignored),
        cmocka_unit_test(parse_rejects_malformed),
        cmocka_unit_test(parse_rejects_bad_form),
        cmocka_unit_test(parse_decodes_plus_and_escapes),
        cmocka_unit_test_setup_teardown(handle_applies_approver_click, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_ignores_repeated_click, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_rejects_bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_rejects_stale_click, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_rejects_other_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_rejects_non_approver, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_accepts_group_member, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_group_lookup_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_maps_apply_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_rejects_bad_requests, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
