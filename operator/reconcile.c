/*
 * The AgentTask reconciler. Each pass reads the task from the informer cache,
 * lets run.c start or follow the current run, and writes the status when it
 * changed. Object names are derived from
 * the task's uid and the run number, so a pass repeated after a crash finds
 * what the previous one created instead of creating it twice.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "jobspec.h"
#include "log.h"
#include "operator.h"
#include "reconcile.h"
#include "status.h"
#include "task.h"
#include "banned.h"

const struct mason_kube_resource MASON_KUBE_CONFIGMAPS = {"", "v1", "configmaps", "ConfigMap", 1};

int reconcile_ensure(struct reconcile *r, const struct mason_kube_resource *res, json_t *obj,
                     json_t **out)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    int rc;

    mason_buf_reset(&r->err);
    rc = mason_kube_create_object(r->op->kube, res, r->t.namespace, obj, out, &r->err);
    if (rc == 0) {
        mason_info(&r->ctx, "created %s %s", res->kind, name);
        return 0;
    }
    if (rc != MASON_EEXISTS)
        return rc;
    mason_buf_reset(&r->err);
    return out ? mason_kube_get(r->op->kube, res, r->t.namespace, name, out, &r->err) : 0;
}

int reconcile_job_pods(struct reconcile *r, const char *job_name, json_t **pods)
{
    struct mason_buf selector = MASON_BUF_INIT;
    struct mason_kube_list_opts opts = {0};
    int rc;

    mason_buf_addf(&selector, "batch.kubernetes.io/job-name=%s", job_name);
    opts.label_selector = mason_buf_str(&selector);
    mason_buf_reset(&r->err);
    rc = mason_kube_list(r->op->kube, &MASON_KUBE_PODS, r->t.namespace, &opts, pods, NULL, &r->err);
    if (rc != 0)
        *pods = json_array();
    mason_buf_release(&selector);
    return rc;
}

static void set_completion_time(struct reconcile *r)
{
    char ts[32];

    if (json_object_get(r->status, "completionTime"))
        return;
    mason_status_timestamp(r->now, ts);
    json_object_set_new(r->status, "completionTime", json_string(ts));
}

void reconcile_fail(struct reconcile *r, const char *reason, const char *message)
{
    mason_status_set_phase(r->status, MASON_PHASE_FAILED, reason, message);
    mason_status_set_condition(r->status, MASON_COND_SUCCEEDED, "False", reason, message,
                               r->t.generation, r->now);
    mason_status_set_condition(r->status, MASON_COND_RUNNING, "False", reason, message,
                               r->t.generation, r->now);
    set_completion_time(r);
    mason_warn(&r->ctx, "task failed: %s: %s", reason, message);
}

void reconcile_succeed(struct reconcile *r, const char *message)
{
    mason_status_set_phase(r->status, MASON_PHASE_SUCCEEDED, "Completed", message);
    mason_status_set_condition(r->status, MASON_COND_RUNNING, "False", "Completed", message,
                               r->t.generation, r->now);
    mason_status_set_condition(r->status, MASON_COND_SUCCEEDED, "True", "Completed", message,
                               r->t.generation, r->now);
    set_completion_time(r);
}

void reconcile_requeue(struct reconcile *r, long delay_ms)
{
    if (delay_ms < 1)
        delay_ms = 1;
    if (r->requeue_ms == 0 || delay_ms < r->requeue_ms)
        r->requeue_ms = delay_ms;
}

json_int_t reconcile_status_int(struct reconcile *r, const char *key)
{
    return json_integer_value(json_object_get(r->status, key));
}

/*
 * Returns a JSON merge patch (RFC 7386) that turns old into new: keys that
 * new lacks become null at every depth, because a merge patch merges nested
 * objects instead of replacing them.
 */
static json_t *merge_diff(json_t *old, json_t *new_value)
{
    json_t *patch = json_object();
    const char *key;
    json_t *value;

    json_object_foreach(old, key, value)
    {
        if (!json_object_get(new_value, key))
            json_object_set_new(patch, key, json_null());
    }
    json_object_foreach(new_value, key, value)
    {
        json_t *before = json_object_get(old, key);

        if (json_is_object(before) && json_is_object(value))
            json_object_set_new(patch, key, merge_diff(before, value));
        else if (!json_equal(before, value))
            json_object_set(patch, key, value);
    }
    return patch;
}

/*
 * The status patch carries the resourceVersion the pass read, so the API
 * server rejects it with a conflict when the task changed since: a status
 * computed from a stale cache never overwrites a newer one.
 */
static json_t *status_patch(struct reconcile *r, json_t *old)
{
    json_t *rv = json_object_get(json_object_get(r->obj, "metadata"), "resourceVersion");

    return json_pack("{s:{s:O}, s:o}", "metadata", "resourceVersion", rv ? rv : json_null(),
                     "status", merge_diff(old, r->status));
}

/* Whether the session's record changed: a new run, a captured session id or a finished run. */
static bool session_changed(struct reconcile *r, json_t *old)
{
    const char *old_id = json_string_value(json_object_get(old, "sessionID"));
    const char *new_id = json_string_value(json_object_get(r->status, "sessionID"));

    if (!r->session.enabled)
        return false;
    if (json_array_size(json_object_get(old, "runs")) !=
        json_array_size(json_object_get(r->status, "runs")))
        return true;
    if (new_id && (!old_id || strcmp(old_id, new_id) != 0))
        return true;
    return !json_equal(json_object_get(old, "phase"), json_object_get(r->status, "phase"));
}

/* Records the use of the session in its AgentSession; a failure is logged and retried later. */
static void touch_session(struct reconcile *r)
{
    json_t *patch = mason_session_status_patch(&r->t, r->op->cfg, &r->session, r->status, r->now);
    int rc;

    mason_buf_reset(&r->err);
    rc = mason_kube_patch(r->op->kube, &MASON_KUBE_AGENTSESSIONS, r->t.namespace,
                          mason_buf_str(&r->session.name), "status", MASON_KUBE_PATCH_MERGE, patch,
                          MASON_FIELD_MANAGER, NULL, &r->err);
    if (rc != 0)
        mason_warn(&r->ctx, "updating AgentSession %s failed: %s", mason_buf_str(&r->session.name),
                   mason_buf_str(&r->err));
    json_decref(patch);
}

static int write_status(struct reconcile *r, json_t *old)
{
    const char *old_phase = json_string_value(json_object_get(old, "phase"));
    const char *phase = json_string_value(json_object_get(r->status, "phase"));
    const char *reason = json_string_value(json_object_get(r->status, "reason"));
    const char *message = json_string_value(json_object_get(r->status, "message"));
    json_t *patch;
    int rc;

    json_object_set_new(r->status, "observedGeneration", json_integer(r->t.generation));
    if (json_equal(old, r->status))
        return 0;
    patch = status_patch(r, old);
    mason_buf_reset(&r->err);
    rc = mason_kube_patch(r->op->kube, &MASON_KUBE_AGENTTASKS, r->t.namespace, r->t.name, "status",
                          MASON_KUBE_PATCH_MERGE, patch, MASON_FIELD_MANAGER, NULL, &r->err);
    json_decref(patch);
    if (rc == MASON_ECONFLICT) {
        mason_debug(&r->ctx, "status changed since it was read; computing it again");
        return rc;
    }
    if (rc != 0)
        return rc;
    if (session_changed(r, old))
        touch_session(r);
    if (phase && (!old_phase || strcmp(old_phase, phase) != 0)) {
        mason_info(&r->ctx, "phase %s -> %s (%s)", old_phase ? old_phase : "none", phase,
                   reason ? reason : "");
        mason_event_record(r->op, r->obj,
                           strcmp(phase, MASON_PHASE_FAILED) == 0 ? "Warning" : "Normal",
                           reason ? reason : phase, message ? message : phase);
    }
    return 0;
}

static int reconcile_task(struct reconcile *r)
{
    json_t *old = json_object_get(r->obj, "status");
    int rc;

    rc = mason_task_view(&r->t, r->obj, r->op->cfg, &r->err);
    r->ctx.uid = json_string_value(json_object_get(json_object_get(r->obj, "metadata"), "uid"));
    if (r->t.deleting)
        return 0;
    if (mason_status_phase_final(r->t.phase)) {
        if (continuation_ignore_decision(r, r->t.phase))
            continuation_clear_decision(r);
        return 0;
    }
    if (rc != 0) {
        mason_status_set_condition(r->status, MASON_COND_ACCEPTED, "False", "InvalidSpec",
                                   mason_buf_str(&r->err), r->t.generation, r->now);
        reconcile_fail(r, "InvalidSpec", mason_buf_str(&r->err));
        return write_status(r, old);
    }
    mason_status_set_condition(r->status, MASON_COND_ACCEPTED, "True", "SpecValid",
                               "the spec is valid", r->t.generation, r->now);
    mason_session_plan_init(&r->session, &r->t, r->op->cfg);
    rc = run_step(r);
    if (rc == MASON_EPOLICY || rc == MASON_EINVALID_OBJECT || rc == MASON_EFORBIDDEN)
        rc = 0; /* the task is Failed; writing that is all that is left */
    if (rc == 0)
        rc = write_status(r, old);
    /* The decision annotation is removed only after the status records the decision. */
    if (rc == 0 && r->clear_decision)
        continuation_clear_decision(r);
    if (rc != 0 && rc != MASON_ECONFLICT)
        mason_warn(&r->ctx, "reconcile failed, will retry: %s: %s", mason_strerror(rc),
                   mason_buf_str(&r->err));
    mason_session_plan_release(&r->session);
    return rc;
}

int mason_reconcile(struct mason_operator *op, const char *key)
{
    struct reconcile r = {.op = op, .err = MASON_BUF_INIT, .now = time(NULL)};
    const char *slash = strchr(key, '/');
    char ns[254];
    int rc;

    if (!slash || (size_t)(slash - key) >= sizeof(ns))
        return 0;
    memcpy(ns, key, (size_t)(slash - key));
    ns[slash - key] = '\0';
    r.ctx.namespace = ns;
    r.ctx.name = slash + 1;
    r.obj = mason_controller_task(op, ns, slash + 1);
    if (!r.obj)
        return 0; /* deleted: the garbage collector removes what it owned */
    r.status = json_deep_copy(json_object_get(r.obj, "status"));
    if (!json_is_object(r.status)) {
        json_decref(r.status);
        r.status = json_object();
    }
    rc = reconcile_task(&r);
    if (rc == 0 && r.requeue_ms > 0)
        mason_queue_add_after(op->queue, key, r.requeue_ms);
    json_decref(r.status);
    json_decref(r.obj);
    mason_buf_release(&r.err);
    return rc;
}
