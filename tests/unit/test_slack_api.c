/*
 * The Slack Web API client against a stub server on 127.0.0.1: request
 * format, reply parsing, error mapping and the approver group cache.
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
#define NOW ((time_t)1712318400)

static const struct mason_approval_request request = {
    .namespace = "agents",
    .name = "fix-login",
    .uid = "6f1c2a9e-3b7d-4e51-9a0c-2d8f7e6b5a41",
    .request_id = "r1",
    .repository = "https://github.com/example/webapp",
    .summary = "Fixed the cookie path.",
    .turns_used = 50,
    .cost_usd = 1.5,
    .continuation = 1,
    .max_continuations = 2,
};

/* Creates a client for base_url through the configuration parser, as the operator does. */
static struct mason_slack *client_for(const char *base_url, const char *token, const char *secret,
                                      struct mason_buf *err)
{
    json_t *section = json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:[s, s]}}", "slack", "api_base_url", base_url, "channel",
        "C0123456789", "bot_token_secret", "k8s://mason-slack/bot_token", "signing_secret",
        "k8s://mason-slack/signing_secret", "approvers", "U01ABCDEF12", "S02GHIJKL34");
    struct mason_approvals_config cfg;
    struct mason_slack *slack = NULL;

    if (mason_approvals_config_parse(section, &cfg, err) == 0)
        slack = mason_slack_create(cfg.slack, token, secret, err);
    mason_approvals_config_release(&cfg);
    json_decref(section);
    return slack;
}

struct fixture {
    struct stub stub;
    struct mason_slack *slack;
    char base_url[96];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct mason_buf err = MASON_BUF_INIT;

    if (!f || stub_start(&f->stub) != 0)
        return -1;
    snprintf(f->base_url, sizeof(f->base_url), "%s/api", f->stub.base_url);
    f->slack = client_for(f->base_url, TOKEN, "signing-secret", &err);
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

static struct stub_request *request_at(struct fixture *f, int i)
{
    assert_true(stub_request_count(&f->stub) > i);
    return &f->stub.requests[i];
}

static void post_request_sends_message(void **state)
{
    struct fixture *f = *state;
    struct mason_slack_message_ref ref;
    struct mason_buf err = MASON_BUF_INIT;
    struct stub_request *req;
    json_t *body;

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"channel\":\"C0123456789\","
                                                   "\"ts\":\"1712345678.000100\",\"message\":{}}"});
    assert_int_equal(mason_slack_post_request(f->slack, &request, &ref, &err), 0);
    assert_string_equal(ref.channel, "C0123456789");
    assert_string_equal(ref.ts, "1712345678.000100");
    req = request_at(f, 0);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/api/chat.postMessage");
    assert_string_equal(req->authorization, "Bearer " TOKEN);
    assert_string_equal(req->content_type, "application/json; charset=utf-8");
    body = json_loads(req->body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "channel")), "C0123456789");
    assert_int_equal(json_array_size(json_object_get(body, "blocks")), 4);
    json_decref(body);
    mason_buf_release(&err);
}

static void update_decided_removes_buttons(void **state)
{
    struct fixture *f = *state;
    struct mason_slack_message_ref ref = {"C0123456789", "1712345678.000100"};
    struct mason_approval_verdict v = {MASON_APPROVAL_CONTINUE, "U01ABCDEF12", "alice", NOW};
    struct mason_buf err = MASON_BUF_INIT;
    struct stub_request *req;
    json_t *body, *block;
    size_t i;

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"channel\":\"C0123456789\","
                                                   "\"ts\":\"1712345678.000100\",\"text\":\"x\"}"});
    assert_int_equal(mason_slack_update_decided(f->slack, &ref, &request, &v, &err), 0);
    req = request_at(f, 0);
    assert_string_equal(req->path, "/api/chat.update");
    body = json_loads(req->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "ts")), "1712345678.000100");
    json_array_foreach(json_object_get(body, "blocks"), i, block)
        assert_string_not_equal(json_string_value(json_object_get(block, "type")), "actions");
    assert_non_null(strstr(req->body, "Continued"));
    json_decref(body);
    mason_buf_release(&err);
}

/* Sends one call against a scripted reply and checks the code and the message. */
static void check_failure(struct fixture *f, struct stub_reply reply, int want_rc,
                          const char *want_text)
{
    struct mason_slack_message_ref ref;
    struct mason_buf err = MASON_BUF_INIT;
    int rc;

    stub_script(&f->stub, reply);
    rc = mason_slack_post_request(f->slack, &request, &ref, &err);
    if (rc != want_rc)
        fail_msg("reply %s: got %s (%s), expected %s", reply.body ? reply.body : "(none)",
                 mason_errname(rc), mason_buf_str(&err), mason_errname(want_rc));
    if (!strstr(mason_buf_str(&err), want_text))
        fail_msg("error \"%s\" does not contain \"%s\"", mason_buf_str(&err), want_text);
    if (strstr(mason_buf_str(&err), TOKEN))
        fail_msg("error \"%s\" contains the bot token", mason_buf_str(&err));
    mason_buf_release(&err);
}

static void slack_errors_mapped(void **state)
{
    struct fixture *f = *state;

    check_failure(f, (struct stub_reply){200, "{\"ok\":false,\"error\":\"invalid_auth\"}"},
                  MASON_EUNAUTHORIZED,
                  "chat.postMessage failed: invalid_auth: Slack rejected the bot token");
    check_failure(f, (struct stub_reply){200, "{\"ok\":false,\"error\":\"not_in_channel\"}"},
                  MASON_EFORBIDDEN, "invite the app to the channel");
    check_failure(f,
                  (struct stub_reply){200,
                                      "{\"ok\":false,\"error\":\"missing_scope\","
                                      "\"needed\":\"chat:write\",\"provided\":\"users:read\"}"},
                  MASON_EFORBIDDEN, "(scope needed: chat:write)");
    check_failure(f, (struct stub_reply){200, "{\"ok\":false,\"error\":\"channel_not_found\"}"},
                  MASON_ENOTFOUND, "check approvals.slack.channel");
    check_failure(f, (struct stub_reply){200, "{\"ok\":false,\"error\":\"fatal_error\"}"},
                  MASON_EHTTP, "chat.postMessage failed: fatal_error");
    check_failure(f, (struct stub_reply){200, "{\"ok\":false}"}, MASON_EHTTP, "unknown_error");
}

static void http_errors_mapped(void **state)
{
    struct fixture *f = *state;

    check_failure(f, (struct stub_reply){429, "{\"ok\":false,\"error\":\"ratelimited\"}", "30"},
                  MASON_ETHROTTLED, "HTTP 429: Slack is rate limiting the app");
    check_failure(f, (struct stub_reply){503, "upstream down"}, MASON_EUNAVAILABLE, "HTTP 503");
    check_failure(f, (struct stub_reply){404, "not found"}, MASON_EHTTP,
                  "check approvals.slack.api_base_url");
    check_failure(f, (struct stub_reply){200, "<html>ok</html>"}, MASON_EPARSE,
                  "not a JSON object");
    check_failure(f, (struct stub_reply){200, "{\"ok\":true,\"channel\":\"C0123456789\"}"},
                  MASON_EPARSE, "without a valid \"ts\"");
}

static void connection_refused_mapped(void **state)
{
    struct fixture *f = *state;
    char url[96];
    struct mason_slack_message_ref ref;
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_slack *slack;
    struct stub closed;

    (void)f;
    /* A port that was just free is very likely still free. */
    assert_int_equal(stub_start(&closed), 0);
    snprintf(url, sizeof(url), "%s/api", closed.base_url);
    stub_stop(&closed);
    slack = client_for(url, TOKEN, "signing-secret", &err);
    assert_non_null(slack);
    assert_int_equal(mason_slack_post_request(slack, &request, &ref, &err), MASON_ECONNECT);
    assert_non_null(strstr(mason_buf_str(&err), "/api/chat.postMessage failed"));
    mason_slack_free(slack);
    mason_buf_release(&err);
}

static void create_needs_credentials(void **state)
{
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_null(client_for("http://127.0.0.1:9/api", "", "secret", &err));
    assert_null(client_for("http://127.0.0.1:9/api", TOKEN, NULL, &err));
    assert_null(mason_slack_create(NULL, TOKEN, "secret", &err));
    assert_non_null(strstr(mason_buf_str(&err), "needs api_base_url, channel, a bot token"));
    mason_buf_release(&err);
}

static bool approver(struct fixture *f, const char *user, time_t now, int want_rc)
{
    struct mason_buf err = MASON_BUF_INIT;
    bool allowed = true;
    int rc = mason_slack_is_approver(f->slack, user, now, &allowed, &err);

    if (rc != want_rc)
        fail_msg("%s: got %s (%s)", user, mason_errname(rc), mason_buf_str(&err));
    mason_buf_release(&err);
    return allowed;
}

static void approver_listed_user(void **state)
{
    struct fixture *f = *state;

    assert_true(approver(f, "U01ABCDEF12", NOW, 0));
    /* A listed user needs no group lookup. */
    assert_int_equal(stub_request_count(&f->stub), 0);
    assert_false(approver(f, "", NOW, 0));
}

static void approver_group_member_cached(void **state)
{
    struct fixture *f = *state;
    const char *members = "{\"ok\":true,\"users\":[\"U0AAAAAAAAA\",\"W0BBBBBBBBB\"]}";

    stub_script(&f->stub, (struct stub_reply){200, members});
    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"users\":[\"U0AAAAAAAAA\"]}"});
    assert_true(approver(f, "W0BBBBBBBBB", NOW, 0));
    assert_string_equal(request_at(f, 0)->path, "/api/usergroups.users.list");
    assert_string_equal(request_at(f, 0)->body, "usergroup=S02GHIJKL34");
    assert_string_equal(request_at(f, 0)->content_type, "application/x-www-form-urlencoded");
    assert_string_equal(request_at(f, 0)->authorization, "Bearer " TOKEN);
    /* Within the cache time no second call is made. */
    assert_true(approver(f, "U0AAAAAAAAA", NOW + MASON_SLACK_GROUP_CACHE_SECONDS - 1, 0));
    assert_false(approver(f, "U0CCCCCCCCC", NOW + 1, 0));
    assert_int_equal(stub_request_count(&f->stub), 1);
    /* After it, the list is read again, and a removed member is no longer an approver. */
    assert_false(approver(f, "W0BBBBBBBBB", NOW + MASON_SLACK_GROUP_CACHE_SECONDS, 0));
    assert_int_equal(stub_request_count(&f->stub), 2);
}

static void approver_group_error_rejects(void **state)
{
    struct fixture *f = *state;
    struct mason_buf err = MASON_BUF_INIT;
    bool allowed = true;

    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":false,\"error\":\"missing_scope\","
                                                   "\"needed\":\"usergroups:read\"}"});
    stub_script(&f->stub, (struct stub_reply){200, "{\"ok\":true,\"users\":\"U0AAAAAAAAA\"}"});
    assert_int_equal(mason_slack_is_approver(f->slack, "U0AAAAAAAAA", NOW, &allowed, &err),
                     MASON_EFORBIDDEN);
    assert_false(allowed);
    assert_non_null(strstr(mason_buf_str(&err), "usergroups:read"));
    mason_buf_reset(&err);
    assert_int_equal(mason_slack_is_approver(f->slack, "U0AAAAAAAAA", NOW, &allowed, &err),
                     MASON_EPARSE);
    assert_false(allowed);
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(post_request_sends_message, setup, teardown),
        cmocka_unit_test_setup_teardown(update_decided_removes_buttons, setup, teardown),
        cmocka_unit_test_setup_teardown(slack_errors_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(http_errors_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_refused_mapped, setup, teardown),
        cmocka_unit_test(create_needs_credentials),
        cmocka_unit_test_setup_teardown(approver_listed_user, setup, teardown),
        cmocka_unit_test_setup_teardown(approver_group_member_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(approver_group_error_rejects, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
