#include "session_sweep.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "status.h"
#include "banned.h"

struct mason_session_sweep {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

bool mason_session_expired(json_t *session, json_t *task, time_t now, long fallback_ttl)
{
    json_t *status = json_object_get(session, "status");
    json_t *ttl = json_object_get(json_object_get(session, "spec"), "ttlSeconds");
    const char *phase =
        json_string_value(json_object_get(json_object_get(task, "status"), "phase"));
    const char *last = json_string_value(json_object_get(status, "lastUsed"));
    time_t used;

    if (task && !mason_status_phase_final(phase))
        return false;
    if (mason_status_parse_timestamp(last, &used) != 0)
        return false; /* never used: the task that made it has not started a run */
    return now - used > (json_is_integer(ttl) ? (long)json_integer_value(ttl) : fallback_ttl);
}

/* The AgentTask named in the session's spec.taskRef, or NULL when it is gone. */
static json_t *owning_task(struct mason_operator *op, json_t *session)
{
    json_t *meta = json_object_get(session, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(
        json_object_get(json_object_get(json_object_get(session, "spec"), "taskRef"), "name"));

    return ns && name ? mason_controller_task(op, ns, name) : NULL;
}

static void sweep_namespace(struct mason_operator *op, const char *ns)
{
    struct mason_buf err = MASON_BUF_INIT;
    long ttl = (long)op->cfg->sessions.ttl_hours * 3600;
    json_t *items = NULL, *session;
    size_t i;

    if (mason_kube_list(op->kube, &MASON_KUBE_AGENTSESSIONS, ns, NULL, &items, NULL, &err) != 0) {
        mason_warn(NULL, "listing AgentSessions failed: %s", mason_buf_str(&err));
        goto out;
    }
    json_array_foreach(items, i, session)
    {
        json_t *meta = json_object_get(session, "metadata");
        const char *sns = json_string_value(json_object_get(meta, "namespace"));
        const char *name = json_string_value(json_object_get(meta, "name"));
        struct mason_log_ctx ctx = {.namespace = sns, .name = name};
        json_t *task = owning_task(op, session);

        if (mason_session_expired(session, task, time(NULL), ttl)) {
            mason_buf_reset(&err);
            if (mason_kube_delete(op->kube, &MASON_KUBE_AGENTSESSIONS, sns, name, "Background",
                                  &err) == 0)
                mason_info(&ctx, "deleted expired AgentSession and its claim");
            else
                mason_warn(&ctx, "deleting expired AgentSession failed: %s", mason_buf_str(&err));
        }
        json_decref(task);
    }
out:
    json_decref(items);
    mason_buf_release(&err);
}

static void *sweep_main(void *arg)
{
    struct mason_operator *op = arg;
    struct mason_session_sweep *s = op->sweep;
    struct timespec until;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        if (op->cfg->namespaces_count == 0)
            sweep_namespace(op, NULL);
        for (unsigned i = 0; i < op->cfg->namespaces_count; i++)
            sweep_namespace(op, op->cfg->namespaces[i]);
        pthread_mutex_lock(&s->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += MASON_SESSION_SWEEP_SECONDS;
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int mason_session_sweep_start(struct mason_operator *op)
{
    struct mason_session_sweep *s = calloc(1, sizeof(*s));

    if (!s)
        return MASON_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    op->sweep = s;
    if (pthread_create(&s->thread, NULL, sweep_main, op) != 0) {
        op->sweep = NULL;
        free(s);
        return MASON_ENOMEM;
    }
    return 0;
}

void mason_session_sweep_stop(struct mason_operator *op)
{
    struct mason_session_sweep *s = op->sweep;

    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
    op->sweep = NULL;
}
