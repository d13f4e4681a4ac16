/*
 * Slack announcements of continuation requests, and the decisions that come
 * back from Slack's buttons. A click is turned into the same annotations a
 * kubectl user sets (mason.dev/approval and mason.dev/approved-by), so both
 * paths end in one place: the reconciler's continuation step.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "approval.h"
#include "error.h"
#include "slack.h"
#include "status.h"
#include "watch_runs.h"
#include "banned.h"

#define REQUEST_PREFIX "continuation-"

/* Fills req from the task and its pending status.approval; strings borrow from r. */
static void request_of(struct reconcile *r, struct mason_approval_request *req, char *id,
                       size_t id_size)
{
    json_t *approval = json_object_get(r->status, "approval");
    json_t *usage = json_object_get(r->status, "usage");
    json_int_t k = json_integer_value(json_object_get(approval, "continuation"));
    const char *expires = json_string_value(json_object_get(approval, "expiresAt"));

    snprintf(id, id_size, REQUEST_PREFIX "%lld", (long long)k);
    memset(req, 0, sizeof(*req));
    req->namespace = r->t.namespace;
    req->name = r->t.name;
    req->uid = r->t.uid;
    req->request_id = id;
    req->repository = r->t.repo_url ? r->t.repo_url : "(no repository)";
    req->summary = json_string_value(json_object_get(r->status, "message"));
    req->turns_used = (unsigned)json_integer_value(json_object_get(usage, "turns"));
    req->cost_usd = json_number_value(json_object_get(usage, "costUSD"));
    req->continuation = (unsigned)k;
    req->max_continuations = (unsigned)continuation_max(r);
    if (mason_status_parse_timestamp(expires, &req->expires_at) != 0)
        req->expires_at = 0;
}

void mason_notify_request(struct reconcile *r)
{
    json_t *approval = json_object_get(r->status, "approval");
    struct mason_approval_request req;
    struct mason_slack_message_ref ref;
    char id[48];
    int rc;

    if (!r->op->slack)
        return;
    request_of(r, &req, id, sizeof(id));
    mason_buf_reset(&r->err);
    rc = mason_slack_post_request(r->op->slack, &req, &ref, &r->err);
    if (rc != 0) {
        mason_warn(
            &r->ctx,
            "posting the approval request to Slack failed: %s; approve with kubectl annotate instead",
            mason_buf_str(&r->err));
        return;
    }
    json_object_set_new(approval, "slackChannel", json_string(ref.channel));
    json_object_set_new(approval, "slackMessageTS", json_string(ref.ts));
    mason_info(&r->ctx, "approval request %s posted to Slack channel %s", id, ref.channel);
}

void mason_notify_decided(struct reconcile *r)
{
    json_t *approval = json_object_get(r->status, "approval");
    const char *channel = json_string_value(json_object_get(approval, "slackChannel"));
    const char *ts = json_string_value(json_object_get(approval, "slackMessageTS"));
    const char *decision = json_string_value(json_object_get(approval, "decision"));
    const char *by = json_string_value(json_object_get(approval, "decidedBy"));
    struct mason_approval_verdict verdict = {.decider = by, .decided_at = r->now};
    struct mason_approval_request req;
    struct mason_slack_message_ref ref = {{0}};
    char id[48];

    /* A decision made in Slack was shown there by the interactivity handler already. */
    if (!r->op->slack || !channel || !ts || !decision || (by && strncmp(by, "slack:", 6) == 0))
        return;
    verdict.outcome = strcmp(decision, "Continue") == 0 ? MASON_APPROVAL_CONTINUE
                      : strcmp(decision, "Stop") == 0   ? MASON_APPROVAL_STOP
                                                        : MASON_APPROVAL_EXPIRED;
    snprintf(ref.channel, sizeof(ref.channel), "%s", channel);
    snprintf(ref.ts, sizeof(ref.ts), "%s", ts);
    request_of(r, &req, id, sizeof(id));
    mason_buf_reset(&r->err);
    if (mason_slack_update_decided(r->op->slack, &ref, &req, &verdict, &r->err) != 0)
        mason_warn(&r->ctx, "updating the Slack approval message failed: %s",
                   mason_buf_str(&r->err));
}

/* Whether task's pending request is the one the click names. */
static int click_matches(json_t *task, const struct mason_slack_click *click)
{
    json_t *meta = json_object_get(task, "metadata");
    json_t *status = json_object_get(task, "status");
    json_t *approval = json_object_get(status, "approval");
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    const char *phase = json_string_value(json_object_get(status, "phase"));
    char id[48];

    snprintf(id, sizeof(id), REQUEST_PREFIX "%lld",
             (long long)json_integer_value(json_object_get(approval, "continuation")));
    if (!uid || strcmp(uid, click->uid) != 0 || strcmp(id, click->request_id) != 0)
        return MASON_ENOTFOUND;
    if (!phase || strcmp(phase, MASON_PHASE_AWAITING_APPROVAL) != 0 ||
        json_object_get(approval, "decision") ||
        json_object_get(json_object_get(meta, "annotations"), "mason.dev/approval"))
        return MASON_EEXISTS;
    return 0;
}

/*
 * Writes the click as the decision annotations. The patch carries the
 * resourceVersion that was read, so only the first of two clicks at once is
 * applied. The second click then finds the decision and changes nothing.
 */
static int apply_click(void *arg, const struct mason_slack_click *click, time_t now,
                       struct mason_buf *err)
{
    struct mason_operator *op = arg;
    struct mason_buf by = MASON_BUF_INIT;
    json_t *task = NULL, *patch = NULL;
    int rc;

    (void)now;
    rc =
        mason_kube_get(op->kube, &MASON_KUBE_AGENTTASKS, click->namespace, click->name, &task, err);
    if (rc == 0)
        rc = click_matches(task, click);
    if (rc != 0)
        goto out;
    mason_buf_addf(&by, "slack:%s (%s)", click->user_name, click->user_id);
    patch = json_pack("{s:{s:O, s:{s:s, s:s}}}", "metadata", "resourceVersion",
                      json_object_get(json_object_get(task, "metadata"), "resourceVersion"),
                      "annotations", "mason.dev/approval",
                      click->outcome == MASON_APPROVAL_CONTINUE ? "continue" : "stop",
                      "mason.dev/approved-by", mason_buf_str(&by));
    rc = mason_kube_patch(op->kube, &MASON_KUBE_AGENTTASKS, click->namespace, click->name, NULL,
                          MASON_KUBE_PATCH_MERGE, patch, MASON_FIELD_MANAGER, NULL, err);
    if (rc == MASON_ECONFLICT)
        rc = MASON_EEXISTS;
out:
    json_decref(task);
    json_decref(patch);
    mason_buf_release(&by);
    return rc;
}

unsigned mason_notify_http_post(void *arg, const struct mason_http_post *post,
                                struct mason_buf *reply)
{
    struct mason_operator *op = arg;
    struct mason_slack_http_request req = {
        .method = "POST",
        .content_type = post->content_type,
        .timestamp = MHD_lookup_connection_value(post->connection, MHD_HEADER_KIND,
                                                 "X-Slack-Request-Timestamp"),
        .signature =
            MHD_lookup_connection_value(post->connection, MHD_HEADER_KIND, "X-Slack-Signature"),
        .body = post->body,
        .body_len = post->body_len,
    };

    if (!op->slack) {
        mason_buf_adds(reply, "Slack approvals are not configured (approvals.slack)\n");
        return 404;
    }
    return mason_slack_handle_interaction(op->slack, &req, time(NULL), apply_click, op, reply);
}

/* Decodes the base64 data of a Secret key into value. */
static int base64_decode(const char *b64, struct mason_buf *value, struct mason_buf *err)
{
    size_t len = strlen(b64);
    unsigned char *raw = malloc(len / 4 * 3 + 3);
    int n;

    if (!raw)
        return MASON_ENOMEM;
    n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
    if (n < 0) {
        free(raw);
        mason_buf_adds(err, "the Secret value is not valid base64");
        return MASON_EPARSE;
    }
    /* EVP_DecodeBlock counts the padding bytes as data. */
    while (len > 0 && b64[len - 1] == '=' && n > 0) {
        len--;
        n--;
    }
    mason_buf_add(value, raw, (size_t)n);
    OPENSSL_cleanse(raw, (size_t)n);
    free(raw);
    return 0;
}

/* Reads a credential: k8s://SECRET/KEY from the operator's namespace, other schemes through
 * the secret resolver. */
static int read_credential(struct mason_operator *op, const char *ref, const char *ns,
                           struct mason_buf *value, struct mason_buf *err)
{
    struct mason_secret_failure f;
    const char *path = strncmp(ref, "k8s://", 6) == 0 ? ref + 6 : NULL;
    int rc;

    if (path) {
        const char *slash = strchr(path, '/');
        char name[254];
        json_t *secret = NULL;
        const char *b64;

        if (!slash || (size_t)(slash - path) >= sizeof(name)) {
            mason_buf_addf(err, "invalid reference \"%s\": use k8s://SECRET/KEY", ref);
            return MASON_ECONFIG;
        }
        memcpy(name, path, (size_t)(slash - path));
        name[slash - path] = '\0';
        rc = mason_kube_get(op->kube, &MASON_KUBE_SECRETS, ns, name, &secret, err);
        b64 = json_string_value(json_object_get(json_object_get(secret, "data"), slash + 1));
        if (rc == 0 && !b64) {
            mason_buf_addf(err, "Secret %s/%s has no key %s", ns, name, slash + 1);
            rc = MASON_ENOTFOUND;
        }
        if (rc == 0)
            rc = base64_decode(b64, value, err);
        json_decref(secret);
        return rc;
    }
    mason_secret_failure_init(&f);
    rc = mason_secrets_lookup(op->secrets, ref, value, &f);
    if (rc != 0)
        mason_buf_adds(err, mason_buf_str(&f.message));
    mason_secret_failure_release(&f);
    return rc;
}

int mason_notify_start(struct mason_operator *op, const char *ns, struct mason_buf *err)
{
    struct mason_slack_config *cfg;
    struct mason_buf token = MASON_BUF_INIT, signing = MASON_BUF_INIT;
    int rc;

    rc = mason_approvals_config_parse(op->cfg->approvals, &op->approvals, err);
    cfg = op->approvals.slack;
    if (rc != 0 || !cfg)
        return rc;
    rc = read_credential(op, cfg->bot_token_secret, ns, &token, err);
    if (rc == 0)
        rc = read_credential(op, cfg->signing_secret, ns, &signing, err);
    if (rc == 0) {
        op->slack = mason_slack_create(cfg, mason_buf_str(&token), mason_buf_str(&signing), err);
        rc = op->slack ? 0 : MASON_ECONFIG;
    }
    if (rc != 0)
        mason_buf_adds(err, " (approvals.slack credentials)");
    mason_secrets_buf_wipe(&token);
    mason_secrets_buf_wipe(&signing);
    return rc;
}

void mason_notify_stop(struct mason_operator *op)
{
    mason_slack_free(op->slack);
    op->slack = NULL;
    mason_approvals_config_release(&op->approvals);
}
