#include "watch_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "error.h"
#include "follower.h"
#include "jobspec.h"
#include "banned.h"

/* Usage updates of a chatty agent reach the API server at most this often per task. */
#define STATUS_UPDATE_MS 2000L

/* Splits a stream key "namespace/name/uid/index" into the task key and the run. */
static int parse_key(const char *key, struct mason_buf *task_key, char *uid, size_t uid_size,
                     int *index)
{
    const char *slash1 = strchr(key, '/');
    const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    const char *slash3 = slash2 ? strchr(slash2 + 1, '/') : NULL;

    if (!slash3 || (size_t)(slash3 - slash2 - 1) >= uid_size)
        return MASON_EINVAL;
    mason_buf_add(task_key, key, (size_t)(slash2 - key));
    memcpy(uid, slash2 + 1, (size_t)(slash3 - slash2 - 1));
    uid[slash3 - slash2 - 1] = '\0';
    *index = (int)strtol(slash3 + 1, NULL, 10);
    return 0;
}

static void on_event(void *arg, const char *key, const struct mason_event *ev,
                     const struct mason_stream_position *pos)
{
    struct mason_operator *op = arg;
    struct mason_buf task_key = MASON_BUF_INIT;
    char uid[64];
    int index;

    (void)pos;
    if (parse_key(key, &task_key, uid, sizeof(uid), &index) == 0) {
        mason_runs_event(op->runs, uid, index, ev);
        mason_queue_add_after(op->queue, mason_buf_str(&task_key), STATUS_UPDATE_MS);
    }
    mason_buf_release(&task_key);
}

static void on_end(void *arg, const char *key, enum mason_follow_end why,
                   const struct mason_stream_stats *stats, int last_error)
{
    struct mason_operator *op = arg;
    struct mason_buf task_key = MASON_BUF_INIT;
    char uid[64];
    int index;

    if (why == MASON_FOLLOW_GAVE_UP)
        mason_warn(NULL, "stopped following the log of run %s after repeated failures: %s", key,
                   mason_strerror(last_error));
    if (stats->too_long || stats->adapter.malformed)
        mason_warn(
            NULL,
            "log of run %s: %llu lines over the length cap and %llu malformed lines were skipped",
            key, (unsigned long long)stats->too_long, (unsigned long long)stats->adapter.malformed);
    if (parse_key(key, &task_key, uid, sizeof(uid), &index) == 0) {
        mason_runs_stream_ended(op->runs, uid, index);
        mason_queue_add(op->queue, mason_buf_str(&task_key));
    }
    mason_buf_release(&task_key);
}

int watch_runs_start(struct mason_operator *op)
{
    struct mason_follower_callbacks cb = {.on_event = on_event, .on_end = on_end, .arg = op};

    op->runs = mason_runs_create(&op->pricing, op->scoring.enabled ? &op->scoring.score : NULL);
    op->follower = op->runs ? mason_follower_create(op->kube, NULL, &cb) : NULL;
    return op->follower ? 0 : MASON_ENOMEM;
}

void watch_runs_stop(struct mason_operator *op)
{
    mason_follower_free(op->follower);
    mason_runs_free(op->runs);
    op->follower = NULL;
    op->runs = NULL;
}

/* Returns the name of the Job's pod once its container started (malloc'd), or NULL. */
static char *started_pod(struct reconcile *r, const char *job_name)
{
    json_t *pods, *pod;
    char *found = NULL;
    size_t i;

    reconcile_job_pods(r, job_name, &pods);
    json_array_foreach(pods, i, pod)
    {
        const char *phase =
            json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));

        if (phase && strcmp(phase, "Pending") != 0 && !found)
            found = strdup(
                json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")));
    }
    json_decref(pods);
    return found;
}

void watch_runs_follow(struct reconcile *r, int index, const char *job_name, bool finished)
{
    struct mason_buf key = MASON_BUF_INIT;
    struct mason_follow_target target;
    char *pod = NULL;
    int rc;

    mason_buf_addf(&key, "%s/%s/%s/%d", r->t.namespace, r->t.name, r->t.uid, index);
    if (mason_runs_has(r->op->runs, r->t.uid, index)) {
        if (finished)
            mason_follower_finish(r->op->follower, mason_buf_str(&key));
        goto out;
    }
    pod = started_pod(r, job_name);
    if (!pod || mason_runs_add(r->op->runs, r->t.uid, index, r->t.model) < 0)
        goto out;
    target = (struct mason_follow_target){.key = mason_buf_str(&key),
                                          .namespace = r->t.namespace,
                                          .pod = pod,
                                          .container = MASON_AGENT_CONTAINER,
                                          .engine = r->t.engine};
    rc = mason_follower_add(r->op->follower, &target);
    if (rc != 0 && rc != MASON_EEXISTS) {
        mason_warn(&r->ctx, "following the log of pod %s failed: %s", pod, mason_strerror(rc));
        mason_runs_remove(r->op->runs, r->t.uid, index);
        goto out;
    }
    mason_info(&r->ctx, "following the log of pod %s", pod);
    if (finished)
        mason_follower_finish(r->op->follower, mason_buf_str(&key));
out:
    free(pod);
    mason_buf_release(&key);
}

static const char *const usage_keys[] = {
    "turns",           "toolCalls",        "inputTokens", "outputTokens",
    "cacheReadTokens", "cacheWriteTokens", NULL};

void watch_runs_total_usage(json_t *status)
{
    json_t *runs = json_object_get(status, "runs");
    json_t *total = json_object();
    double cost = 0;
    size_t i;
    json_t *run;

    for (int k = 0; usage_keys[k]; k++) {
        json_int_t sum = 0;

        json_array_foreach(runs, i, run) sum +=
            json_integer_value(json_object_get(run, usage_keys[k]));
        json_object_set_new(total, usage_keys[k], json_integer(sum));
    }
    json_array_foreach(runs, i, run) cost += json_number_value(json_object_get(run, "costUSD"));
    json_object_set_new(total, "costUSD", json_real(cost));
    json_array_foreach(runs, i, run)
    {
        if (json_is_true(json_object_get(run, "costEstimated")))
            json_object_set_new(total, "costEstimated", json_true());
    }
    json_object_set_new(status, "usage", total);
}

/* Copies the stream's usage into the run entry, and the session id into the status. */
static void record_usage(struct reconcile *r, json_t *run, const struct mason_run_snapshot *snap)
{

    for (int k = 0; usage_keys[k]; k++) {
        json_t *v = json_object_get(snap->usage, usage_keys[k]);

        if (json_is_integer(v))
            json_object_set(run, usage_keys[k], v);
    }
    json_object_set_new(run, "costUSD", json_real(snap->cost_usd));
    json_object_set_new(run, "costEstimated",
                        json_boolean(json_is_true(json_object_get(snap->usage, "costEstimated"))));
    if (snap->session_id) {
        json_object_set_new(run, "sessionID", json_string(snap->session_id));
        if (r->session.enabled)
            json_object_set_new(r->status, "sessionID", json_string(snap->session_id));
    }
    watch_runs_total_usage(r->status);
}

/* Deletes the run's Job (background propagation) and its pods, so the agent stops at once. */
static void stop_job(struct reconcile *r, const char *job_name)
{
    json_t *pods, *pod;
    size_t i;
    int rc;

    mason_buf_reset(&r->err);
    rc = mason_kube_delete(r->op->kube, &MASON_KUBE_JOBS, r->t.namespace, job_name, "Background",
                           &r->err);
    if (rc != 0 && rc != MASON_ENOTFOUND)
        mason_warn(&r->ctx, "deleting Job %s failed: %s", job_name, mason_buf_str(&r->err));
    reconcile_job_pods(r, job_name, &pods);
    json_array_foreach(pods, i, pod)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));

        mason_kube_delete(r->op->kube, &MASON_KUBE_PODS, r->t.namespace, name, "Background", NULL);
    }
    json_decref(pods);
}

/* Returns the ceiling a run passed (a condition reason) with a message, or NULL. */
static const char *ceiling_passed(struct reconcile *r, const struct mason_run_snapshot *snap,
                                  char *message, size_t size)
{
    const struct mason_config *cfg = r->op->cfg;
    double spent =
        json_number_value(json_object_get(json_object_get(r->status, "usage"), "costUSD"));
    time_t quiet_since = snap->last_event ? snap->last_event : snap->started;

    if (r->t.max_cost_usd > 0 && spent > r->t.max_cost_usd) {
        snprintf(
            message, size,
            "the task spent $%.4f, over its limit of $%.2f (limits.maxCostUSD or guardrails.max_cost_per_job)",
            spent, r->t.max_cost_usd);
        return "CostLimitExceeded";
    }
    if (r->t.max_turns > 0 && snap->turns > r->t.max_turns) {
        snprintf(message, size, "the run used %u turns, over its limit of %lld (limits.maxTurns)",
                 snap->turns, (long long)r->t.max_turns);
        return "TurnLimitExceeded";
    }
    if (cfg->guardrails.stall_minutes > 0 && quiet_since > 0 &&
        r->now - quiet_since > (time_t)cfg->guardrails.stall_minutes * 60) {
        snprintf(message, size,
                 "the agent printed no event for %lld minutes (guardrails.stall_minutes is %u)",
                 (long long)(r->now - quiet_since) / 60, cfg->guardrails.stall_minutes);
        return "Stalled";
    }
    if (cfg->guardrails.max_cost_per_10_minutes > 0 &&
        snap->cost_last_10_minutes > cfg->guardrails.max_cost_per_10_minutes) {
        snprintf(
            message, size,
            "the run spent $%.4f in the last 10 minutes, over guardrails.max_cost_per_10_minutes of $%.2f",
            snap->cost_last_10_minutes, cfg->guardrails.max_cost_per_10_minutes);
        return "CostVelocityExceeded";
    }
    return NULL;
}

/* Hint runs the task has had so far. */
static unsigned hints_used(struct reconcile *r)
{
    unsigned n = 0;
    size_t i;
    json_t *run;

    json_array_foreach(json_object_get(r->status, "runs"), i, run)
    {
        const char *trigger = json_string_value(json_object_get(run, "trigger"));

        if (trigger && strcmp(trigger, "Hint") == 0)
            n++;
    }
    return n;
}

/* Writes the score into the status and applies the intervention it calls for. */
static void apply_score(struct reconcile *r, json_t *run, const char *job_name,
                        const struct mason_run_snapshot *snap)
{
    const char *session_id = json_string_value(json_object_get(r->status, "sessionID"));
    int index = (int)json_integer_value(json_object_get(run, "index"));
    bool resumable =
        r->session.enabled && session_id && snap->hint && hints_used(r) < r->op->scoring.max_hints;
    const char *top = json_string_value(json_array_get(snap->score_reasons, 0));
    enum mason_intervention act;
    char message[768];
    json_t *next;

    json_object_set_new(r->status, "score", json_real((double)(long)(snap->score * 100) / 100));
    json_object_set(r->status, "scoreReasons", snap->score_reasons);
    act = mason_score_decide(&r->op->scoring.score, snap->score, resumable);
    if (act == MASON_INTERVENTION_NONE)
        return;
    snprintf(message, sizeof(message), "progress score %.2f: %s", snap->score,
             top ? top : "no reason recorded");
    if (act == MASON_INTERVENTION_WARN) {
        if (!mason_runs_warn_once(r->op->runs, r->t.uid, index))
            mason_event_record(r->op, r->obj, "Warning", "LowProgressScore", message);
        return;
    }
    mason_warn(&r->ctx, "stopping run %d (%s): %s", index, mason_intervention_name(act), message);
    stop_job(r, job_name);
    json_object_set_new(run, "outcome", json_string("Failed"));
    json_object_set_new(run, "reason", json_string("LowProgressScore"));
    if (act == MASON_INTERVENTION_TERMINATE) {
        reconcile_fail(r, "LowProgressScore", message);
        return;
    }
    if (run_start(r, index + 1, "Hint", snap->hint, session_id) == 0) {
        next = mason_status_last_run(r->status);
        json_object_set_new(next, "hint", json_stringn(snap->hint, strnlen(snap->hint, 4096)));
    }
}

void watch_runs_step(struct reconcile *r, json_t *run, json_t *job,
                     const struct mason_job_state *js, struct mason_run_snapshot *snap)
{
    const char *job_name =
        json_string_value(json_object_get(json_object_get(job, "metadata"), "name"));
    int index = (int)json_integer_value(json_object_get(run, "index"));
    const char *reason;
    char message[512];

    /* Engines without an output adapter print nothing the operator can read. */
    if (!r->op->runs || !mason_adapter_supported(r->t.engine))
        return;
    /* Until the Job controller reports a pod there is no log to follow, so no pod list. */
    if (js->has_pod || strcmp(js->outcome, "Running") != 0)
        watch_runs_follow(r, index, job_name, strcmp(js->outcome, "Running") != 0);
    mason_runs_snapshot(r->op->runs, r->t.uid, index, snap);
    if (!snap->found)
        return;
    record_usage(r, run, snap);
    if (strcmp(js->outcome, "Running") != 0)
        return;
    reconcile_requeue(r, MASON_WATCHDOG_PERIOD_MS);
    reason = ceiling_passed(r, snap, message, sizeof(message));
    if (!reason) {
        if (snap->scored)
            apply_score(r, run, job_name, snap);
        return;
    }
    mason_warn(&r->ctx, "stopping run %d: %s", index, message);
    stop_job(r, job_name);
    json_object_set_new(run, "outcome", json_string("Failed"));
    /* An engine without a turn-limit flag (Codex) reaches maxTurns here: that is the turn
     * limit, which a persisted session may continue after approval. */
    if (strcmp(reason, "TurnLimitExceeded") == 0 && r->session.enabled) {
        json_object_set_new(run, "reason", json_string("TurnLimitReached"));
        continuation_request(r, run);
        return;
    }
    json_object_set_new(run, "reason", json_string(reason));
    reconcile_fail(r, reason, message);
}
