/*
 * Continuation after the engine's turn limit. A run that ran out of turns
 * with its session persisted and continuations left puts the task in phase
 * AwaitingApproval, with the request in status.approval, so an operator
 * restart loses nothing. A human decides with the annotation
 * mason.dev/approval=continue|stop (the admission webhook records who in
 * mason.dev/approved-by; the Slack handler writes both); the first decision
 * wins, and an unanswered request expires to Failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "approval.h"
#include "error.h"
#include "reconcile.h"
#include "status.h"
#include "banned.h"

#define APPROVAL_ANNOTATION "mason.dev/approval"
#define APPROVED_BY_ANNOTATION "mason.dev/approved-by"
#define DEFAULT_TIMEOUT_MINUTES 240
/* How long after a decision its annotation may still show in the cache, before its removal. */
#define DECISION_LINGER_SECONDS 120

json_int_t continuation_max(struct reconcile *r)
{
    const struct mason_engine_config *engine = r->op->cfg->engines[r->t.engine];
    json_t *limits = json_object_get(json_object_get(r->t.obj, "spec"), "limits");

    if (json_object_get(limits, "maxContinuations"))
        return r->t.max_continuations;
    return engine ? engine->max_continuations : 0;
}

long continuation_timeout_seconds(struct reconcile *r)
{
    unsigned minutes = r->op->approvals.timeout_minutes;

    return (minutes ? (long)minutes : DEFAULT_TIMEOUT_MINUTES) * 60;
}

void continuation_request(struct reconcile *r, json_t *run)
{
    json_int_t done = reconcile_status_int(r, "continuations");
    json_int_t allowed = continuation_max(r);
    const char *session_id = json_string_value(json_object_get(r->status, "sessionID"));
    char message[512], requested[32], expires[32];

    (void)run;
    if (!r->session.enabled || !session_id || done >= allowed) {
        snprintf(
            message, sizeof(message), "run %s ran out of turns; %s", r->run,
            !r->session.enabled
                ? "set session.persistence and limits.maxContinuations to let a human approve continuing"
            : !session_id ? "the agent reported no session id, so it cannot be resumed"
                          : "no continuations are left (limits.maxContinuations)");
        reconcile_fail(r, "TurnLimitReached", message);
        return;
    }
    mason_status_timestamp(r->now, requested);
    mason_status_timestamp(r->now + continuation_timeout_seconds(r), expires);
    json_object_set_new(r->status, "approval",
                        json_pack("{s:I, s:s, s:s}", "continuation", done + 1, "requestedAt",
                                  requested, "expiresAt", expires));
    snprintf(
        message, sizeof(message),
        "run %s ran out of turns; continuation %lld of %lld awaits approval: kubectl annotate agenttask %s %s=continue (or stop)",
        r->run, (long long)done + 1, (long long)allowed, r->t.name, APPROVAL_ANNOTATION);
    mason_status_set_phase(r->status, MASON_PHASE_AWAITING_APPROVAL, "TurnLimitReached", message);
    mason_status_set_condition(r->status, MASON_COND_RUNNING, "False", "AwaitingApproval", message,
                               r->t.generation, r->now);
    mason_notify_request(r);
    reconcile_requeue(r, continuation_timeout_seconds(r) * 1000L);
}

void continuation_clear_decision(struct reconcile *r)
{
    json_t *patch = json_pack("{s:{s:{s:n, s:n}}}", "metadata", "annotations", APPROVAL_ANNOTATION,
                              APPROVED_BY_ANNOTATION);
    int rc;

    mason_buf_reset(&r->err);
    rc = mason_kube_patch(r->op->kube, &MASON_KUBE_AGENTTASKS, r->t.namespace, r->t.name, NULL,
                          MASON_KUBE_PATCH_MERGE, patch, MASON_FIELD_MANAGER, NULL, &r->err);
    if (rc != 0)
        mason_warn(&r->ctx, "removing annotation %s failed: %s", APPROVAL_ANNOTATION,
                   mason_buf_str(&r->err));
    json_decref(patch);
}

static void record_decision(struct reconcile *r, json_t *approval, const char *decision,
                            const char *by)
{
    char now[32];

    mason_status_timestamp(r->now, now);
    json_object_set_new(approval, "decision", json_string(decision));
    json_object_set_new(approval, "decidedBy", json_string(by));
    json_object_set_new(approval, "decidedAt", json_string(now));
    mason_notify_decided(r);
}

static int continue_task(struct reconcile *r, json_t *approval, const char *by)
{
    const struct mason_engine_config *engine = r->op->cfg->engines[r->t.engine];
    json_t *last = mason_status_last_run(r->status);
    int index = (int)json_integer_value(json_object_get(last, "index")) + 1;
    const char *session_id = json_string_value(json_object_get(r->status, "sessionID"));
    const char *prompt = engine && engine->continuation_prompt
                             ? engine->continuation_prompt
                             : "You ran out of turns. Continue the task from where you stopped.";
    char message[512];

    record_decision(r, approval, "Continue", by);
    json_object_set_new(r->status, "continuations",
                        json_integer(reconcile_status_int(r, "continuations") + 1));
    snprintf(message, sizeof(message), "continuation %lld approved by %s",
             (long long)json_integer_value(json_object_get(approval, "continuation")), by);
    mason_info(&r->ctx, "%s", message);
    mason_event_record(r->op, r->obj, "Normal", "ContinuationApproved", message);
    return run_start(r, index, "Continuation", prompt, session_id);
}

bool continuation_ignore_decision(struct reconcile *r, const char *phase)
{
    json_t *annotations = json_object_get(json_object_get(r->obj, "metadata"), "annotations");
    const char *decision = json_string_value(json_object_get(annotations, APPROVAL_ANNOTATION));
    const char *decided_at =
        json_string_value(json_object_get(json_object_get(r->status, "approval"), "decidedAt"));
    enum mason_approval_outcome outcome;
    time_t decided;
    char message[512];

    if (!decision)
        return false;
    if (decided_at && mason_status_parse_timestamp(decided_at, &decided) == 0 &&
        r->now - decided < DECISION_LINGER_SECONDS)
        return true; /* a decision acted on a moment ago: its removal was already sent */
    snprintf(message, sizeof(message),
             "annotation %s=%.64s removed without effect: the task is %s, and a decision counts "
             "only while the task is AwaitingApproval%s",
             APPROVAL_ANNOTATION, decision, phase && *phase ? phase : "new",
             mason_approval_parse_decision(decision, &outcome) == 0
                 ? ""
                 : " (and only continue or stop are decisions)");
    mason_warn(&r->ctx, "%s", message);
    mason_event_record(r->op, r->obj, "Warning", "ApprovalIgnored", message);
    return true;
}

int continuation_step(struct reconcile *r)
{
    json_t *annotations = json_object_get(json_object_get(r->obj, "metadata"), "annotations");
    const char *decision = json_string_value(json_object_get(annotations, APPROVAL_ANNOTATION));
    const char *by = json_string_value(json_object_get(annotations, APPROVED_BY_ANNOTATION));
    json_t *approval = json_object_get(r->status, "approval");
    const char *expires = json_string_value(json_object_get(approval, "expiresAt"));
    char now[32], message[512];
    int rc = 0;

    if (!by || !*by)
        by = "unknown (annotation set without the mason webhook)";
    mason_status_timestamp(r->now, now);
    if (decision && strcmp(decision, "continue") == 0) {
        rc = continue_task(r, approval, by);
    } else if (decision && strcmp(decision, "stop") == 0) {
        record_decision(r, approval, "Stop", by);
        snprintf(message, sizeof(message), "continuation declined by %s", by);
        reconcile_fail(r, "ContinuationDeclined", message);
    } else if (expires && strcmp(now, expires) >= 0) {
        record_decision(r, approval, "Expired", "nobody");
        snprintf(message, sizeof(message),
                 "the continuation request expired at %s without a decision", expires);
        reconcile_fail(r, "ApprovalExpired", message);
    } else {
        if (decision) {
            snprintf(message, sizeof(message),
                     "annotation %s=%.64s removed without effect: invalid value, use continue or "
                     "stop",
                     APPROVAL_ANNOTATION, decision);
            mason_warn(&r->ctx, "%s", message);
            mason_event_record(r->op, r->obj, "Warning", "ApprovalInvalid", message);
            r->clear_decision = true;
        }
        reconcile_requeue(r, 30000);
        return 0;
    }
    if (rc == 0 && decision)
        r->clear_decision = true;
    return rc;
}
