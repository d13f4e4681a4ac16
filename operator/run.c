/*
 * The lifecycle of one run: its objects are created (egress NetworkPolicy,
 * session, prompt ConfigMap, per-run Secret, Job), its Job and output stream
 * are followed, and when it ends the task succeeds, fails, retries after an
 * infrastructure failure, or requests approval to continue.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jobspec.h"
#include "reconcile.h"
#include "secrets.h"
#include "status.h"
#include "watch_runs.h"
#include "banned.h"

/* Container and pod reasons that mean the infrastructure, not the agent, ended a run. */
static const char *const infra_reasons[] = {"OOMKilled", "Evicted",   "DeadlineExceededByNode",
                                            "NodeLost",  "Preempted", "DisruptionTarget",
                                            NULL};

/*
 * Resolves spec.env into container env entries, creating the per-run Secret
 * for values from external stores. Returns 0, a code to retry, or
 * MASON_EPOLICY after failing the task.
 */
static int resolve_env(struct reconcile *r, json_t **env)
{
    struct mason_run_secret_owner owner = {r->t.namespace, r->t.name, r->t.uid, r->run};
    struct mason_secret_failure f;
    struct mason_secret_data *data = NULL;
    struct mason_buf secret_name = MASON_BUF_INIT;
    json_t *secret = NULL;
    int rc;

    *env = NULL;
    if (!json_is_array(r->t.env) || json_array_size(r->t.env) == 0)
        return 0;
    mason_secret_failure_init(&f);
    mason_secrets_run_secret_name(&owner, &secret_name);
    rc = mason_secrets_resolve_env(r->op->secrets, r->t.env, mason_buf_str(&secret_name), env,
                                   &data, &f);
    if (rc != 0) {
        reconcile_fail(r, f.reason ? f.reason : "SecretUnresolvable", mason_buf_str(&f.message));
        rc = MASON_EPOLICY;
        goto out;
    }
    if (data) {
        secret = mason_secrets_build_run_secret(&owner, mason_buf_str(&secret_name), data);
        rc = secret ? reconcile_ensure(r, &MASON_KUBE_SECRETS, secret, NULL) : MASON_ENOMEM;
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

    if (!json_is_array(r->t.env) || json_array_size(r->t.env) == 0)
        return;
    mason_secrets_run_secret_name(&owner, &name);
    mason_buf_reset(&r->err);
    rc = mason_kube_delete(r->op->kube, &MASON_KUBE_SECRETS, r->t.namespace, mason_buf_str(&name),
                           NULL, &r->err);
    if (rc != 0 && rc != MASON_ENOTFOUND)
        mason_warn(&r->ctx, "deleting Secret %s failed: %s", mason_buf_str(&name),
                   mason_buf_str(&r->err));
    mason_buf_release(&name);
}

/* Creates the AgentSession and its claim when the task persists its session. */
static int ensure_session(struct reconcile *r)
{
    json_t *session = NULL, *claim = NULL, *ref;
    int rc;

    if (!r->session.enabled)
        return 0;
    session = mason_session_object(&r->t, r->op->cfg, &r->session);
    rc = session ? reconcile_ensure(r, &MASON_KUBE_AGENTSESSIONS, session, &session) : MASON_ENOMEM;
    if (rc == 0) {
        const char *uid =
            json_string_value(json_object_get(json_object_get(session, "metadata"), "uid"));

        claim = mason_session_claim(&r->t, r->op->cfg, &r->session, uid ? uid : "");
        rc = claim ? reconcile_ensure(r, &MASON_KUBE_PVCS, claim, NULL) : MASON_ENOMEM;
    }
    if (rc == 0) {
        ref = json_object_get(r->status, "sessionRef");
        if (!json_is_object(ref)) {
            ref = json_object();
            json_object_set_new(r->status, "sessionRef", ref);
        }
        json_object_set_new(ref, "name", json_string(mason_buf_str(&r->session.name)));
    }
    json_decref(session);
    json_decref(claim);
    return rc;
}

/* The egress policy comes first, so no agent pod runs without it. */
static int ensure_network_policy(struct reconcile *r)
{
    json_t *policy = mason_jobspec_network_policy(&r->t, r->op->cfg);
    int rc;

    if (!policy)
        return MASON_ENOMEM;
    rc = reconcile_ensure(r, &MASON_KUBE_NETWORKPOLICIES, policy, NULL);
    if (rc == MASON_EINVALID_OBJECT || rc == MASON_EFORBIDDEN)
        reconcile_fail(r, "NetworkPolicyRejected", mason_buf_str(&r->err));
    json_decref(policy);
    return rc;
}

static int create_objects(struct reconcile *r, struct mason_run_spec *run)
{
    json_t *config_map = NULL, *job = NULL;
    int rc;

    job = mason_jobspec_job(&r->t, r->op->cfg, run, &r->err);
    if (!job) {
        reconcile_fail(r, "InvalidSpec", mason_buf_str(&r->err));
        return MASON_EINVALID_OBJECT;
    }
    mason_session_mount(
        json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"), &r->t,
        &r->session);
    config_map = mason_jobspec_prompt_config_map(&r->t, run);
    rc = config_map ? reconcile_ensure(r, &MASON_KUBE_CONFIGMAPS, config_map, NULL) : MASON_ENOMEM;
    if (rc == 0)
        rc = reconcile_ensure(r, &MASON_KUBE_JOBS, job, NULL);
    if (rc == MASON_EINVALID_OBJECT || rc == MASON_EFORBIDDEN)
        reconcile_fail(r, "JobRejected", mason_buf_str(&r->err));
    json_decref(config_map);
    json_decref(job);
    return rc;
}

/* Warns that a run of an engine without a configuration section gets no API key. */
static void warn_unconfigured_engine(struct reconcile *r)
{
    char message[384];

    if (r->op->cfg->engines[r->t.engine])
        return;
    snprintf(message, sizeof(message),
             "engine %s has no engines.%s section in the operator configuration, so run %s gets "
             "spec.image with no API key Secret and the engine's default flags",
             r->t.engine_name, r->t.engine_name, r->run);
    mason_warn(&r->ctx, "%s", message);
    mason_event_record(r->op, r->obj, "Warning", "EngineNotConfigured", message);
}

int run_start(struct reconcile *r, int index, const char *trigger, const char *prompt,
              const char *resume_id)
{
    struct mason_buf job_name = MASON_BUF_INIT;
    struct mason_run_spec run = {.index = index, .prompt = prompt, .resume_id = resume_id};
    json_t *entry;
    char message[256];
    int rc;

    snprintf(r->run, sizeof(r->run), "%d", index);
    r->ctx.run = r->run;
    mason_task_job_name(&r->t, index, &job_name);
    run.job_name = mason_buf_str(&job_name);
    rc = ensure_network_policy(r);
    if (rc == 0)
        rc = ensure_session(r);
    if (rc == 0)
        rc = resolve_env(r, &run.env);
    if (rc == 0) {
        warn_unconfigured_engine(r);
        rc = create_objects(r, &run);
    }
    if (rc == 0) {
        entry =
            mason_status_add_run(r->status, index, run.job_name, r->t.engine_name, trigger, r->now);
        json_object_set_new(entry, "resumed", json_boolean(resume_id != NULL));
        if (!json_object_get(r->status, "startTime"))
            json_object_set(r->status, "startTime", json_object_get(entry, "startTime"));
        snprintf(message, sizeof(message), "run %d: Job %s was created", index, run.job_name);
        mason_status_set_phase(r->status, MASON_PHASE_PENDING, "JobCreated", message);
        mason_status_set_condition(r->status, MASON_COND_RUNNING, "False", "JobCreated", message,
                                   r->t.generation, r->now);
    }
    json_decref(run.env);
    mason_buf_release(&job_name);
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

/* Returns the infrastructure reason that ended the Job's pod (static), or NULL. */
static const char *pod_failure_reason(struct reconcile *r, const char *job_name)
{
    json_t *pods, *pod;
    const char *found = NULL;
    size_t i;

    reconcile_job_pods(r, job_name, &pods);
    json_array_foreach(pods, i, pod)
    {
        json_t *status = json_object_get(pod, "status");
        json_t *cs = json_array_get(json_object_get(status, "containerStatuses"), 0);
        const char *reasons[3] = {
            json_string_value(json_object_get(status, "reason")),
            json_string_value(json_object_get(
                json_object_get(json_object_get(cs, "state"), "terminated"), "reason")),
            mason_status_condition(status, "DisruptionTarget") ? "DisruptionTarget" : NULL,
        };

        for (int k = 0; k < 3 && !found; k++)
            for (int j = 0; reasons[k] && infra_reasons[j] && !found; j++)
                if (strcmp(reasons[k], infra_reasons[j]) == 0)
                    found = infra_reasons[j];
    }
    json_decref(pods);
    return found;
}

/* The session id to resume: the one captured from the stream, when the session persists. */
static const char *resume_id(struct reconcile *r)
{
    if (!r->session.enabled)
        return NULL;
    return json_string_value(json_object_get(r->status, "sessionID"));
}

/* Starts a retry after an infrastructure failure, or fails the task. */
static int retry_or_fail(struct reconcile *r, json_t *run, const char *reason, const char *message)
{
    json_int_t retries = reconcile_status_int(r, "retries");
    int index = (int)json_integer_value(json_object_get(run, "index"));

    if (retries >= r->t.retries) {
        reconcile_fail(r, reason, message);
        return 0;
    }
    json_object_set_new(r->status, "retries", json_integer(retries + 1));
    mason_info(&r->ctx, "run %d ended by %s; retry %lld of %lld", index, reason,
               (long long)retries + 1, (long long)r->t.retries);
    return run_start(r, index + 1, "Retry", r->t.prompt, resume_id(r));
}

/* Returns the first pull or merge request URL in text (length in *len), or NULL. */
static const char *find_pull_request(const char *text, size_t *len)
{
    static const char *const hosts[] = {"https://github.com/", "https://gitlab.com/", NULL};

    for (int h = 0; text && hosts[h]; h++) {
        for (const char *p = strstr(text, hosts[h]); p; p = strstr(p + 1, hosts[h])) {
            size_t n = strcspn(p, " \t\n\r\"'<>()[]`");

            if (n < 2048 && (memmem(p, n, "/pull/", 6) || memmem(p, n, "/merge_requests/", 16))) {
                *len = n;
                return p;
            }
        }
    }
    return NULL;
}

/* Fills status.result from the engine's final result. */
static void record_result(struct reconcile *r, bool success, const struct mason_run_snapshot *snap)
{
    json_t *result = json_pack("{s:b, s:s}", "success", success, "branch", r->t.branch);
    const char *text = snap->result_text;
    size_t len = 0;
    const char *url = find_pull_request(text, &len);

    if (text)
        json_object_set_new(result, "summary", json_stringn(text, strnlen(text, 32768)));
    if (url)
        json_object_set_new(result, "pullRequestURL", json_stringn(url, len));
    json_object_set_new(r->status, "result", result);
}

/* Decides the outcome of a run whose Job finished, from the engine's own result first. */
static int finish_run(struct reconcile *r, json_t *run, const struct mason_job_state *js,
                      const struct mason_run_snapshot *snap)
{
    const char *job_name = json_string_value(json_object_get(run, "job"));
    char message[512];

    if (js->completion_time)
        json_object_set_new(run, "completionTime", json_string(js->completion_time));
    if (snap->has_result && snap->outcome == MASON_OUTCOME_MAX_TURNS) {
        json_object_set_new(run, "outcome", json_string("Failed"));
        json_object_set_new(run, "reason", json_string("TurnLimitReached"));
        continuation_request(r, run);
        return 0;
    }
    if (strcmp(js->outcome, "Succeeded") == 0 && snap->has_result &&
        snap->outcome != MASON_OUTCOME_SUCCESS) {
        json_object_set_new(run, "outcome", json_string("Failed"));
        json_object_set_new(run, "reason", json_string("AgentReportedFailure"));
        snprintf(message, sizeof(message), "run %s: the agent reported failure: %.300s", r->run,
                 snap->result_text ? snap->result_text : "no result text");
        record_result(r, false, snap);
        reconcile_fail(r, "AgentReportedFailure", message);
        return 0;
    }
    json_object_set_new(run, "outcome", json_string(js->outcome));
    if (strcmp(js->outcome, "Succeeded") == 0) {
        snprintf(message, sizeof(message), "run %s: Job %s completed", r->run, job_name);
        if (snap->has_result)
            record_result(r, true, snap);
        reconcile_succeed(r, message);
        return 0;
    }
    const char *infra = pod_failure_reason(r, job_name);
    const char *reason = infra ? infra : js->reason;

    json_object_set_new(run, "reason", json_string(reason));
    snprintf(message, sizeof(message), "run %s: Job %s failed: %s", r->run, job_name,
             infra ? infra : (js->message ? js->message : js->reason));
    if (infra)
        return retry_or_fail(r, run, reason, message);
    reconcile_fail(r, reason, message);
    return 0;
}

/*
 * Whether the Job ended before its log was read to the end: the final
 * result may still be on its way, so the decision waits, for at most
 * STREAM_GRACE_SECONDS after the stream was last seen.
 */
#define STREAM_GRACE_SECONDS 15
static bool stream_pending(struct reconcile *r, const struct mason_run_snapshot *snap)
{
    time_t seen = snap->last_event ? snap->last_event : snap->started;

    return snap->found && !snap->stream_ended && r->now - seen < STREAM_GRACE_SECONDS;
}

/* Seconds a run's pod may take to start before the status message gives the cause of the wait. */
#define POD_WAIT_EXPLAINED_AFTER 30

/* Writes the cause of a pod wait: its PodScheduled condition, or its container's waiting state. */
static bool pod_wait_cause(json_t *pod, char *out, size_t size)
{
    json_t *status = json_object_get(pod, "status");
    json_t *scheduled = mason_status_condition(status, "PodScheduled");
    const char *scheduled_status = json_string_value(json_object_get(scheduled, "status"));
    json_t *cs = json_array_get(json_object_get(status, "containerStatuses"), 0);
    json_t *waiting = json_object_get(json_object_get(cs, "state"), "waiting");
    const char *reason = json_string_value(json_object_get(waiting, "reason"));
    const char *message;

    if (scheduled_status && strcmp(scheduled_status, "False") == 0) {
        message = json_string_value(json_object_get(scheduled, "message"));
        snprintf(out, size, "its pod is not scheduled: %s", message ? message : "no reason given");
        return true;
    }
    if (reason && strcmp(reason, "ContainerCreating") != 0) {
        message = json_string_value(json_object_get(waiting, "message"));
        snprintf(out, size, "its container is waiting: %s%s%s", reason, message ? ": " : "",
                 message ? message : "");
        return true;
    }
    return false;
}

/* Writes why a pod has not started within POD_WAIT_EXPLAINED_AFTER seconds of its run. */
static bool pod_wait_reason(struct reconcile *r, json_t *run, const char *job, char *out,
                            size_t size)
{
    time_t started;
    json_t *pods, *pod;
    size_t i;
    bool found = false;

    if (mason_status_parse_timestamp(json_string_value(json_object_get(run, "startTime")),
                                     &started) != 0)
        return false;
    /* A pod that never starts changes nothing the informers see, so look again. */
    if (r->now - started < POD_WAIT_EXPLAINED_AFTER) {
        reconcile_requeue(r, (long)(POD_WAIT_EXPLAINED_AFTER - (r->now - started)) * 1000);
        return false;
    }
    reconcile_requeue(r, MASON_WATCHDOG_PERIOD_MS);
    reconcile_job_pods(r, job, &pods);
    json_array_foreach(pods, i, pod)
    {
        if ((found = pod_wait_cause(pod, out, size)))
            break;
    }
    json_decref(pods);
    return found;
}

static void set_running(struct reconcile *r, json_t *run, const struct mason_job_state *js,
                        const char *job)
{
    const char *now = json_string_value(json_object_get(r->status, "phase"));
    bool running = js->ready || (now && strcmp(now, MASON_PHASE_RUNNING) == 0);
    const char *phase = running ? MASON_PHASE_RUNNING : MASON_PHASE_PENDING;
    const char *reason = running ? "AgentRunning" : "PodStarting";
    char cause[384] = "its pod is starting";
    char message[512];

    /* A pod that stops being ready has exited; the run stays Running until its Job ends. */
    if (running && !js->ready)
        return;
    if (!running)
        pod_wait_reason(r, run, job, cause, sizeof(cause));
    if (js->ready)
        snprintf(message, sizeof(message), "run %s: Job %s is running", r->run, job);
    else
        snprintf(message, sizeof(message), "run %s: Job %s was created; %s", r->run, job, cause);
    mason_status_set_phase(r->status, phase, reason, message);
    mason_status_set_condition(r->status, MASON_COND_RUNNING, js->ready ? "True" : "False", reason,
                               message, r->t.generation, r->now);
}

int run_step(struct reconcile *r)
{
    json_t *last = mason_status_last_run(r->status);
    const char *phase = json_string_value(json_object_get(r->status, "phase"));
    struct mason_run_snapshot snap = {0};
    struct mason_job_state js;
    json_t *job = NULL;
    const char *job_name;
    int rc;

    if (phase && strcmp(phase, MASON_PHASE_AWAITING_APPROVAL) == 0)
        return continuation_step(r);
    if (continuation_ignore_decision(r, phase))
        r->clear_decision = true;
    if (!last)
        return run_start(r, 0, "Initial", r->t.prompt, NULL);
    snprintf(r->run, sizeof(r->run), "%lld",
             (long long)json_integer_value(json_object_get(last, "index")));
    r->ctx.run = r->run;
    job_name = json_string_value(json_object_get(last, "job"));
    rc = read_job(r, job_name, &job);
    if (rc == MASON_ENOTFOUND) {
        json_object_set_new(last, "outcome", json_string("Failed"));
        json_object_set_new(last, "reason", json_string("JobDeleted"));
        reconcile_fail(r, "JobDeleted", "the run's Job was deleted before it finished");
        return 0;
    }
    if (rc != 0)
        return rc;
    mason_status_job_state(job, &js);
    watch_runs_step(r, last, job, &js, &snap);
    if (mason_status_phase_final(json_string_value(json_object_get(r->status, "phase")))) {
        /* The watchdog stopped the run. */
    } else if (strcmp(js.outcome, "Running") == 0) {
        set_running(r, last, &js, job_name);
    } else if (stream_pending(r, &snap)) {
        reconcile_requeue(r, 500);
    } else {
        if (snap.found && !snap.last_event)
            mason_warn(&r->ctx,
                       "run %s ended without one agent event read from its log%s, so its usage "
                       "stays empty and its outcome comes from the Job alone; check that the "
                       "container runs the engine with its JSON output",
                       r->run, snap.stream_ended ? "" : " (the log was still open)");
        rc = finish_run(r, last, &js, &snap);
        if (rc == 0 && r->op->runs)
            mason_runs_remove(r->op->runs, r->t.uid,
                              (int)json_integer_value(json_object_get(last, "index")));
    }
    if (strcmp(js.outcome, "Running") != 0)
        delete_run_secret(r);
    mason_run_snapshot_release(&snap);
    json_decref(job);
    return rc;
}
