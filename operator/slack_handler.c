/*
 * The interactivity endpoint: what the operator's HTTP server calls for
 * POST /slack/interactions. Every check happens before the task is touched,
 * and a click that fails any check changes nothing.
 */
#include "slack.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "slack_internal.h"
#include "banned.h"

#define FORM_TYPE "application/x-www-form-urlencoded"

static unsigned reject(const struct mason_slack_click *click, unsigned status, const char *why,
                       const struct mason_buf *detail, struct mason_buf *reply)
{
    struct mason_log_ctx ctx = {click ? click->namespace : NULL, click ? click->name : NULL,
                                click ? click->uid : NULL, NULL};
    json_t *extra =
        json_pack("{s:s, s:i}", "path", MASON_SLACK_INTERACTIONS_PATH, "status", (int)status);

    if (click && click->user_id)
        json_object_set_new(extra, "slack_user", json_string(click->user_id));
    MASON_LOG(status >= 500 ? MASON_LOG_ERROR : MASON_LOG_WARN, &ctx, extra,
              "Slack interaction rejected: %s%s%s", why, detail && detail->len ? ": " : "",
              detail ? mason_buf_str(detail) : "");
    mason_buf_addf(reply, "%s\n", why);
    return status;
}

/* Replaces the buttons of the clicked message with who decided. Failure is logged only. */
static void show_decision(struct mason_slack *slack, const struct mason_slack_click *click,
                          time_t now)
{
    struct mason_approval_verdict verdict = {click->outcome, click->user_id, click->user_name, now};
    struct mason_log_ctx ctx = {click->namespace, click->name, click->uid, NULL};
    struct mason_buf text = MASON_BUF_INIT, err = MASON_BUF_INIT;
    json_t *blocks = mason_slack_decided_blocks(click->blocks, &verdict), *msg = NULL;
    int rc = MASON_ENOMEM;

    if (blocks &&
        !mason_buf_addf(&text, "Agent task %s/%s was %s.", click->namespace, click->name,
                        click->outcome == MASON_APPROVAL_CONTINUE ? "continued" : "stopped"))
        msg = json_pack("{s:s, s:s, s:s, s:O}", "channel", click->channel_id, "ts",
                        click->message_ts, "text", mason_buf_str(&text), "blocks", blocks);
    if (msg)
        rc = mason_slack_call(slack, "chat.update", msg, NULL, NULL, &err);
    if (rc)
        mason_warn(&ctx, "cannot update the Slack approval message %s: %s", click->message_ts,
                   err.len ? mason_buf_str(&err) : mason_strerror(rc));
    json_decref(msg);
    json_decref(blocks);
    mason_buf_release(&text);
    mason_buf_release(&err);
}

static unsigned authorize(struct mason_slack *slack, const struct mason_slack_click *click,
                          time_t now, struct mason_buf *reply)
{
    struct mason_buf err = MASON_BUF_INIT;
    bool allowed = false;
    unsigned status = 0;
    int rc;

    if (strcmp(click->channel_id, slack->cfg.channel) != 0) {
        mason_buf_addf(&err, "channel %s is not the configured channel %s", click->channel_id,
                       slack->cfg.channel);
        status = reject(click, 403, "click came from another channel", &err, reply);
        goto out;
    }
    rc = mason_slack_is_approver(slack, click->user_id, now, &allowed, &err);
    if (rc)
        status = reject(click, 503, "cannot check the approvers", &err, reply);
    else if (!allowed)
        status = reject(click, 403, "user is not an approver", NULL, reply);

out:
    mason_buf_release(&err);
    return status;
}

static unsigned apply_click(struct mason_slack *slack, const struct mason_slack_click *click,
                            time_t now, mason_slack_apply_fn apply, void *arg,
                            struct mason_buf *reply)
{
    struct mason_log_ctx ctx = {click->namespace, click->name, click->uid, NULL};
    struct mason_buf err = MASON_BUF_INIT;
    unsigned status = 200;
    int rc = apply(arg, click, now, &err);

    if (rc == 0) {
        mason_info(&ctx, "approval request %s: %s by Slack user %s (%s)", click->request_id,
                   mason_approval_outcome_name(click->outcome), click->user_id, click->user_name);
        mason_buf_addf(reply, "recorded: %s\n", mason_approval_outcome_name(click->outcome));
        /* NOTE: Slack expects the reply within 3 seconds (Bolt's acknowledgement guide), and
         * this update runs first with a 10 s timeout, so a slow Slack API can make the user see
         * an error although the decision was recorded. */
        show_decision(slack, click, now);
    } else if (rc == MASON_EEXISTS) {
        mason_info(&ctx, "approval request %s was already decided; ignored a click by %s",
                   click->request_id, click->user_id);
        mason_buf_adds(reply, "already decided\n");
    } else if (rc == MASON_ENOTFOUND) {
        status = reject(click, 404, "no pending approval request matches the click", &err, reply);
    } else {
        status = reject(click, 503, "cannot record the decision", &err, reply);
    }
    mason_buf_release(&err);
    return status;
}

unsigned mason_slack_handle_interaction(struct mason_slack *slack,
                                        const struct mason_slack_http_request *req, time_t now,
                                        mason_slack_apply_fn apply, void *apply_arg,
                                        struct mason_buf *reply)
{
    struct mason_slack_click click = {0};
    struct mason_buf err = MASON_BUF_INIT;
    unsigned status;
    int rc;

    if (!req->method || strcmp(req->method, "POST") != 0) {
        status = reject(NULL, 405, "only POST is served here", NULL, reply);
        goto out;
    }
    if (req->body_len > MASON_SLACK_MAX_BODY) {
        status = reject(NULL, 413, "body is too large", NULL, reply);
        goto out;
    }
    rc = mason_slack_verify(slack->signing_secret, req->timestamp, req->signature, req->body,
                            req->body_len, now, &err);
    if (rc) {
        status = reject(NULL, 401, "invalid request signature", &err, reply);
        goto out;
    }
    if (!req->content_type || strncmp(req->content_type, FORM_TYPE, strlen(FORM_TYPE)) != 0) {
        status = reject(NULL, 400, "content type is not " FORM_TYPE, NULL, reply);
        goto out;
    }
    rc = mason_slack_click_parse(req->body, req->body_len, &click, &err);
    if (rc == MASON_EINVAL) {
        /* A signed interaction that is not ours to act on, such as another app's button. */
        mason_buf_adds(reply, "ignored\n");
        status = 200;
        goto out;
    }
    if (rc) {
        status = reject(NULL, 400, "malformed interaction payload", &err, reply);
        goto out;
    }
    status = authorize(slack, &click, now, reply);
    if (!status)
        status = apply_click(slack, &click, now, apply, apply_arg, reply);

out:
    mason_slack_click_release(&click);
    mason_buf_release(&err);
    return status;
}
