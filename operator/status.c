#include "status.h"

#include <string.h>

#include "banned.h"

void mason_status_timestamp(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mason_status_parse_timestamp(const char *s, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return -1;
    *out = timegm(&tm);
    return 0;
}

bool mason_status_phase_final(const char *phase)
{
    return phase &&
           (strcmp(phase, MASON_PHASE_SUCCEEDED) == 0 || strcmp(phase, MASON_PHASE_FAILED) == 0);
}

json_t *mason_status_condition(json_t *status, const char *type)
{
    json_t *conditions = json_object_get(status, "conditions");
    size_t i;
    json_t *c;

    json_array_foreach(conditions, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));

        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

void mason_status_set_condition(json_t *status, const char *type, const char *cond_status,
                                const char *reason, const char *message, json_int_t generation,
                                time_t now)
{
    json_t *c = mason_status_condition(status, type);
    const char *old = json_string_value(json_object_get(c, "status"));
    char ts[32];

    if (!c) {
        json_t *conditions = json_object_get(status, "conditions");

        if (!json_is_array(conditions)) {
            conditions = json_array();
            json_object_set_new(status, "conditions", conditions);
        }
        c = json_pack("{s:s}", "type", type);
        json_array_append_new(conditions, c);
    }
    if (!old || strcmp(old, cond_status) != 0) {
        mason_status_timestamp(now, ts);
        json_object_set_new(c, "lastTransitionTime", json_string(ts));
    }
    json_object_set_new(c, "status", json_string(cond_status));
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(message ? message : ""));
    json_object_set_new(c, "observedGeneration", json_integer(generation));
}

void mason_status_set_phase(json_t *status, const char *phase, const char *reason,
                            const char *message)
{
    json_object_set_new(status, "phase", json_string(phase));
    json_object_set_new(status, "reason", json_string(reason));
    if (message)
        json_object_set_new(status, "message", json_string(message));
    else
        json_object_del(status, "message");
}

json_t *mason_status_run(json_t *status, int index)
{
    json_t *runs = json_object_get(status, "runs");
    size_t i;
    json_t *run;

    json_array_foreach(runs, i, run)
    {
        if (json_integer_value(json_object_get(run, "index")) == index)
            return run;
    }
    return NULL;
}

json_t *mason_status_last_run(json_t *status)
{
    json_t *runs = json_object_get(status, "runs");
    size_t n = json_array_size(runs);

    return n ? json_array_get(runs, n - 1) : NULL;
}

json_t *mason_status_add_run(json_t *status, int index, const char *job, const char *engine,
                             const char *trigger, time_t now)
{
    json_t *runs = json_object_get(status, "runs");
    json_t *run;
    char ts[32];

    if (!json_is_array(runs)) {
        runs = json_array();
        json_object_set_new(status, "runs", runs);
    }
    mason_status_timestamp(now, ts);
    run = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "index", index, "job", job, "engine", engine,
                    "trigger", trigger, "startTime", ts, "outcome", "Running");
    json_array_append_new(runs, run);
    /* The schema keeps the latest 100 runs. */
    while (json_array_size(runs) > 100)
        json_array_remove(runs, 0);
    return run;
}

/* Returns the Job condition of type whose status is True (borrowed), or NULL. */
static json_t *job_condition(json_t *job, const char *type)
{
    json_t *conditions = json_object_get(json_object_get(job, "status"), "conditions");
    size_t i;
    json_t *c;

    json_array_foreach(conditions, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));

        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
            return c;
    }
    return NULL;
}

void mason_status_job_state(json_t *job, struct mason_job_state *out)
{
    json_t *status = json_object_get(job, "status");
    json_t *done = job_condition(job, "Complete");
    json_t *failed = job_condition(job, "Failed");

    memset(out, 0, sizeof(*out));
    out->outcome = "Running";
    out->ready = json_integer_value(json_object_get(status, "ready")) > 0;
    out->has_pod = out->ready || json_integer_value(json_object_get(status, "active")) > 0 ||
                   json_integer_value(json_object_get(status, "succeeded")) > 0 ||
                   json_integer_value(json_object_get(status, "failed")) > 0;
    if (done) {
        out->outcome = "Succeeded";
        out->completion_time = json_string_value(json_object_get(status, "completionTime"));
        if (!out->completion_time)
            out->completion_time = json_string_value(json_object_get(done, "lastTransitionTime"));
    } else if (failed) {
        out->outcome = "Failed";
        out->reason = json_string_value(json_object_get(failed, "reason"));
        out->message = json_string_value(json_object_get(failed, "message"));
        out->completion_time = json_string_value(json_object_get(failed, "lastTransitionTime"));
        if (!out->reason)
            out->reason = "JobFailed";
    }
}
