/*
 * The AgentTask reconciler. Each pass reads the task from the informer cache,
 * makes sure the objects of its current run exist (NetworkPolicy, prompt
 * ConfigMap, per-run Secret, Job), reads the Job's state and writes the
 * status. Object names are derived from the task's uid and the run number,
 * so a pass repeated after a crash finds what the previous one created
 * instead of creating it twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "jobspec.h"
#include "log.h"
#include "operator.h"
#include "status.h"
#include "task.h"
#include "banned.h"

const struct mason_kube_resource MASON_KUBE_CONFIGMAPS = {"", "v1", "configmaps", "ConfigMap", 1};

struct reconcile {
    struct mason_operator *op;
    json_t *obj;    /* the cached AgentTask, owned */
    json_t *status; /* the status being computed, owned */
    struct mason_task t;
    struct mason_log_ctx ctx;
    char run[16];
    time_t now;
    struct mason_buf err;
};

/* Creates obj, or reads the existing object of that name. *out gets a new reference. */
static int ensure_object(struct reconcile *r, const struct mason_kube_resource *res, json_t *obj,
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

/* Ends the task Failed with reason and message, as a final state. */
static void fail_task(struct reconcile *r, const char *reason, const char *message)
{
    mason_status_set_phase(r->status, MASON_PHASE_FAILED, reason, message);
    mason_status_set_condition(r->status, MASON_COND_SUCCEEDED, "False", reason, message,
                               r->t.generation, r->now);
    mason_status_set_condition(r->status, MASON_COND_RUNNING, "False", reason, message,
                               r->t.generation, r->now);
    if (!json_object_get(r->status, "completionTime")) {
        char ts[32];

        mason_status_timestamp(r->now, ts);
        json_object_set_new(r->status, "completionTime", json_string(ts));
    }
    mason_warn(&r->ctx, "task failed: %s: %s", reason, message);
}

static int ensure_network_policy(struct reconcile *r)
{
    json_t *policy = mason_jobspec_network_policy(&r->t, r->op->cfg);
    int rc;

    if (!policy)
        return MASON_ENOMEM;
    rc = ensure_object(r, &MASON_KUBE_NETWORKPOLICIES, policy, NULL);
    json_decref(policy);
    return rc;
}

/*
 * Resolves spec.env into container env entries, creating the per-run Secret
 * for values from external stores. Returns 0, a MASON_E* code to retry, or
 * MASON_EPOLICY after failing the task.
 */
static int resolve_env(struct reconcile *r, const char *job_name, json_t **env)
{
    struct mason_run_secret_owner owner = {r->t.namespace, r->t.name, r->t.uid, r->run};
    struct mason_secret_failure f;
    struct mason_secret_data *data = NULL;
    struct mason_buf secret_name = MASON_BUF_INIT;
    json_t *secret = NULL;
    int rc;

    (void)job_name;
    *env = NULL;
    if (!json_is_array(r->t.env) || json_array_size(r->t.env) == 0)
        return 0;
    mason_secret_failure_init(&f);
    mason_secrets_run_secret_name(&owner, &secret_name);
    rc = mason_secrets_resolve_env(r->op->secrets, r->t.env, mason_buf_str(&secret_name), env,
                                   &data, &f);
    if (rc != 0) {
        fail_task(r, f.reason ? f.reason : "SecretUnresolvable", mason_buf_str(&f.message));
        rc = MASON_EPOLICY;
        goto out;
    }
    if (data) {
        secret = mason_secrets_build_run_secret(&owner, mason_buf_str(&secret_name), data);
        rc = secret ? ensure_object(r, &MASON_KUBE_SECRETS, secret, NULL) : MASON_ENOMEM;
    }
out:
    json_decref(secret);
    mason_secret_data_free(data);
    mason_secret_failure_release(&f);
    mason_buf_release(&secret_name);
    return rc;
}

/* Deletes the per-run Secret of a finished run; a missing one is fine. */
static void delete_run_secret(struct reconcile *r)
{
    struct mason_run_secret_owner owner = {r->t.namespace, r->t.name, r->t.uid, r->run};
    struct mason_buf name = MASON_BUF_INIT;
    int rc;

    mason_secrets_run_secret_name(&owner, &name);
    mason_buf_reset(&r->err);
    rc = mason_kube_delete(r->op->kube, &MASON_KUBE_SECRETS, r->t.namespace, mason_buf_str(&name),
                           NULL, &r->err);
    if (rc != 0 && rc != MASON_ENOTFOUND)
        mason_warn(&r->ctx, "deleting Secret %s failed: %s", mason_buf_str(&name),
                   mason_buf_str(&r->err));
    mason_buf_release(&name);
}

/*
 * Creates the objects of run index (prompt ConfigMap, per-run Secret, Job)
 * where they are missing. *job gets the Job. Returns 0, MASON_EPOLICY or
 * MASON_EINVALID_OBJECT after failing the task, or a code to retry.
 */
static int create_run(struct reconcile *r, int index, const char *job_name, json_t **job)
{
    struct mason_run_spec run = {.index = index, .job_name = job_name, .prompt = r->t.prompt};
    json_t *config_map = NULL, *spec = NULL;
    int rc;

    rc = resolve_env(r, job_name, &run.env);
    if (rc != 0)
        return rc;
    spec = mason_jobspec_job(&r->t, r->op->cfg, &run, &r->err);
    if (!spec) {
        fail_task(r, "InvalidSpec", mason_buf_str(&r->err));
        rc = MASON_EINVALID_OBJECT;
        goto out;
    }
    config_map = mason_jobspec_prompt_config_map(&r->t, &run);
    rc = config_map ? ensure_object(r, &MASON_KUBE_CONFIGMAPS, config_map, NULL) : MASON_ENOMEM;
    if (rc == 0)
        rc = ensure_object(r, &MASON_KUBE_JOBS, spec, job);
    if (rc == MASON_EINVALID_OBJECT || rc == MASON_EFORBIDDEN)
        fail_task(r, "JobRejected", mason_buf_str(&r->err));
out:
    json_decref(run.env);
    json_decref(config_map);
    json_decref(spec);
    return rc;
}

/* Reads the Job from the cache, or from the API server when the cache has not seen it yet. */
static int read_job(struct reconcile *r, const char *name, json_t **job)
{
    *job = mason_controller_job(r->op, r->t.namespace, name);
    if (*job)
        return 0;
    mason_buf_reset(&r->err);
    return mason_kube_get(r->op->kube, &MASON_KUBE_JOBS, r->t.namespace, name, job, &r->err);
}

/* Copies the Job's state into the run entry and the task's phase and conditions. */
static void apply_job_state(struct reconcile *r, json_t *run, json_t *job)
{
    struct mason_job_state js;
    const char *job_name = json_string_value(json_object_get(run, "job"));
    char message[512];

    mason_status_job_state(job, &js);
    json_object_set_new(run, "outcome", json_string(js.outcome));
    if (strcmp(js.outcome, "Running") == 0) {
        const char *phase = js.ready ? MASON_PHASE_RUNNING : MASON_PHASE_PENDING;
        const char *reason = js.ready ? "AgentRunning" : "PodStarting";

        snprintf(message, sizeof(message), "run %s: Job %s %s", r->run, job_name,
                 js.ready ? "is running" : "was created; its pod is starting");
        mason_status_set_phase(r->status, phase, reason, message);
        mason_status_set_condition(r->status, MASON_COND_RUNNING, js.ready ? "True" : "False",
                                   reason, message, r->t.generation, r->now);
        return;
    }
    if (js.completion_time) {
        json_object_set_new(run, "completionTime", json_string(js.completion_time));
        json_object_set_new(r->status, "completionTime", json_string(js.completion_time));
    }
    if (strcmp(js.outcome, "Succeeded") == 0) {
        snprintf(message, sizeof(message), "run %s: Job %s completed", r->run, job_name);
        mason_status_set_phase(r->status, MASON_PHASE_SUCCEEDED, "Completed", message);
        mason_status_set_condition(r->status, MASON_COND_RUNNING, "False", "Completed", message,
                                   r->t.generation, r->now);
        mason_status_set_condition(r->status, MASON_COND_SUCCEEDED, "True", "Completed", message,
                                   r->t.generation, r->now);
        return;
    }
    json_object_set_new(run, "reason", json_string(js.reason));
    snprintf(message, sizeof(message), "run %s: Job %s failed: %s", r->run, job_name,
             js.message ? js.message : js.reason);
    fail_task(r, js.reason, message);
}

/* Starts run 0 when the task has none, then follows the latest run's Job. */
static int step_run(struct reconcile *r)
{
    json_t *last = mason_status_last_run(r->status);
    int index = last ? (int)json_integer_value(json_object_get(last, "index")) : 0;
    struct mason_buf job_name = MASON_BUF_INIT;
    json_t *job = NULL;
    int rc;

    snprintf(r->run, sizeof(r->run), "%d", index);
    r->ctx.run = r->run;
    mason_task_job_name(&r->t, index, &job_name);
    if (!last) {
        rc = create_run(r, index, mason_buf_str(&job_name), &job);
        if (rc != 0)
            goto out;
        last = mason_status_add_run(r->status, index, mason_buf_str(&job_name), r->t.engine_name,
                                    "Initial", r->now);
        if (!json_object_get(r->status, "startTime"))
            json_object_set(r->status, "startTime", json_object_get(last, "startTime"));
    } else {
        rc = read_job(r, mason_buf_str(&job_name), &job);
        if (rc == MASON_ENOTFOUND) {
            json_object_set_new(last, "outcome", json_string("Failed"));
            json_object_set_new(last, "reason", json_string("JobDeleted"));
            fail_task(r, "JobDeleted", "the run's Job was deleted before it finished");
            rc = 0;
            goto out;
        }
        if (rc != 0)
            goto out;
    }
    apply_job_state(r, last, job);
    if (mason_status_phase_final(json_string_value(json_object_get(r->status, "phase"))))
        delete_run_secret(r);
out:
    json_decref(job);
    mason_buf_release(&job_name);
    return rc;
}

/* The status fields of old that new lacks, set to null so a merge patch removes them. */
static json_t *status_patch(json_t *old, json_t *new_status)
{
    json_t *patch = json_deep_copy(new_status);
    const char *key;
    json_t *value;

    json_object_foreach(old, key, value)
    {
        if (!json_object_get(new_status, key))
            json_object_set_new(patch, key, json_null());
    }
    return json_pack("{s:o}", "status", patch);
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
    patch = status_patch(old, r->status);
    mason_buf_reset(&r->err);
    rc = mason_kube_patch(r->op->kube, &MASON_KUBE_AGENTTASKS, r->t.namespace, r->t.name, "status",
                          MASON_KUBE_PATCH_MERGE, patch, MASON_FIELD_MANAGER, NULL, &r->err);
    json_decref(patch);
    if (rc != 0)
        return rc;
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
    if (r->t.deleting || mason_status_phase_final(r->t.phase))
        return 0;
    if (rc != 0) {
        fail_task(r, "InvalidSpec", mason_buf_str(&r->err));
        return write_status(r, old);
    }
    mason_status_set_condition(r->status, MASON_COND_ACCEPTED, "True", "SpecValid",
                               "the spec is valid", r->t.generation, r->now);
    rc = ensure_network_policy(r);
    if (rc == 0)
        rc = step_run(r);
    if (rc == MASON_EPOLICY || rc == MASON_EINVALID_OBJECT || rc == MASON_EFORBIDDEN)
        rc = 0; /* the task is Failed; writing that is all that is left */
    if (rc != 0) {
        mason_warn(&r->ctx, "reconcile failed, will retry: %s: %s", mason_strerror(rc),
                   mason_buf_str(&r->err));
        return rc;
    }
    return write_status(r, old);
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
    json_decref(r.status);
    json_decref(r.obj);
    mason_buf_release(&r.err);
    return rc;
}
