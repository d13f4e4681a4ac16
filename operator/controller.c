/*
 * Informers and workers. AgentTask changes queue the task's key; Job changes
 * queue the key of the AgentTask that controls the Job. Workers take keys
 * from the queue and reconcile them, retrying failures with the queue's
 * per-key backoff.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "follower.h"
#include "operator.h"
#include "session_sweep.h"
#include "watch_runs.h"
#include "banned.h"

#define SYNC_TIMEOUT_MS 120000L

static void queue_object(struct mason_operator *op, json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    struct mason_buf key = MASON_BUF_INIT;

    mason_buf_addf(&key, "%s/%s", json_string_value(json_object_get(meta, "namespace")),
                   json_string_value(json_object_get(meta, "name")));
    mason_queue_add(op->queue, mason_buf_str(&key));
    mason_buf_release(&key);
}

static void task_added(void *arg, json_t *obj)
{
    queue_object(arg, obj);
}

static void task_updated(void *arg, json_t *old_obj, json_t *new_obj)
{
    (void)old_obj;
    queue_object(arg, new_obj);
}

/* Queues the AgentTask that controls a Job. */
static void queue_owner(struct mason_operator *op, json_t *job)
{
    json_t *meta = json_object_get(job, "metadata");
    json_t *refs = json_object_get(meta, "ownerReferences");
    struct mason_buf key = MASON_BUF_INIT;
    size_t i;
    json_t *ref;

    json_array_foreach(refs, i, ref)
    {
        const char *kind = json_string_value(json_object_get(ref, "kind"));

        if (!kind || strcmp(kind, "AgentTask") != 0 ||
            !json_is_true(json_object_get(ref, "controller")))
            continue;
        mason_buf_addf(&key, "%s/%s", json_string_value(json_object_get(meta, "namespace")),
                       json_string_value(json_object_get(ref, "name")));
        mason_queue_add(op->queue, mason_buf_str(&key));
        break;
    }
    mason_buf_release(&key);
}

static void job_changed(void *arg, json_t *obj)
{
    queue_owner(arg, obj);
}

static void job_updated(void *arg, json_t *old_obj, json_t *new_obj)
{
    (void)old_obj;
    queue_owner(arg, new_obj);
}

static void work(void *arg, const char *key)
{
    struct mason_operator *op = arg;
    int rc = mason_reconcile(op, key);

    atomic_fetch_add(&op->metrics.reconciles, 1);
    if (rc != 0) {
        atomic_fetch_add(&op->metrics.reconcile_errors, 1);
        mason_queue_add_rate_limited(op->queue, key);
        return;
    }
    mason_queue_forget(op->queue, key);
}

/* The informer of namespace ns in list (all namespaces when only one was made). */
static struct mason_informer *informer_for(struct mason_operator *op, struct mason_informer **list,
                                           const char *ns)
{
    if (op->cfg->namespaces_count == 0)
        return list[0];
    for (size_t i = 0; i < op->informer_count; i++) {
        if (strcmp(op->cfg->namespaces[i], ns) == 0)
            return list[i];
    }
    return NULL;
}

json_t *mason_controller_task(struct mason_operator *op, const char *ns, const char *name)
{
    struct mason_informer *inf = informer_for(op, op->tasks, ns);

    return inf ? mason_informer_get(inf, ns, name) : NULL;
}

json_t *mason_controller_job(struct mason_operator *op, const char *ns, const char *name)
{
    struct mason_informer *inf = informer_for(op, op->jobs, ns);

    return inf ? mason_informer_get(inf, ns, name) : NULL;
}

static int create_informers(struct mason_operator *op)
{
    static const struct mason_informer_handlers task_handlers = {.on_add = task_added,
                                                                 .on_update = task_updated};
    static const struct mason_informer_handlers job_handlers = {
        .on_add = job_changed, .on_update = job_updated, .on_delete = job_changed};
    static const struct mason_kube_list_opts job_opts = {
        .label_selector = "app.kubernetes.io/managed-by=mason-operator"};

    op->informer_count = op->cfg->namespaces_count ? op->cfg->namespaces_count : 1;
    op->tasks = calloc(op->informer_count, sizeof(*op->tasks));
    op->jobs = calloc(op->informer_count, sizeof(*op->jobs));
    if (!op->tasks || !op->jobs)
        return MASON_ENOMEM;
    for (size_t i = 0; i < op->informer_count; i++) {
        const char *ns = op->cfg->namespaces_count ? op->cfg->namespaces[i] : NULL;

        op->tasks[i] =
            mason_informer_create(op->kube, &MASON_KUBE_AGENTTASKS, ns, NULL, &task_handlers, op);
        op->jobs[i] =
            mason_informer_create(op->kube, &MASON_KUBE_JOBS, ns, &job_opts, &job_handlers, op);
        if (!op->tasks[i] || !op->jobs[i])
            return MASON_ENOMEM;
    }
    return 0;
}

static int start_informers(struct mason_operator *op, struct mason_buf *err)
{
    for (size_t i = 0; i < op->informer_count; i++) {
        if (mason_informer_start(op->jobs[i]) != 0 || mason_informer_start(op->tasks[i]) != 0)
            return MASON_ENOMEM;
    }
    for (size_t i = 0; i < op->informer_count; i++) {
        if (mason_informer_wait_synced(op->jobs[i], SYNC_TIMEOUT_MS) != 0 ||
            mason_informer_wait_synced(op->tasks[i], SYNC_TIMEOUT_MS) != 0) {
            mason_buf_addf(
                err,
                "the first list of AgentTasks and Jobs did not finish within %ld s; check that the CRDs in crds/ are installed and the operator's RBAC allows list and watch",
                SYNC_TIMEOUT_MS / 1000);
            return MASON_ETIMEOUT;
        }
    }
    return 0;
}

int mason_controller_start(struct mason_operator *op, struct mason_buf *err)
{
    int rc;

    if (gethostname(op->instance, sizeof(op->instance)) != 0)
        strncpy(op->instance, "mason-operator", sizeof(op->instance) - 1);
    op->queue = mason_queue_create();
    if (!op->queue)
        return MASON_ENOMEM;
    rc = watch_runs_start(op);
    if (rc == 0)
        rc = create_informers(op);
    if (rc == 0)
        rc = start_informers(op, err);
    if (rc == 0)
        rc = mason_queue_start_workers(op->queue, op->workers > 0 ? op->workers : 4, work, op);
    if (rc != 0) {
        mason_controller_stop(op);
        return rc;
    }
    rc = mason_session_sweep_start(op);
    if (rc != 0) {
        mason_controller_stop(op);
        return rc;
    }
    atomic_store(&op->metrics.ready, 1);
    return 0;
}

/* Workers stop first, because they read the informers' caches. The follower and the
 * informers stop before the queue is freed, because their callbacks add keys to it. */
void mason_controller_stop(struct mason_operator *op)
{
    mason_session_sweep_stop(op);
    if (op->queue) {
        mason_queue_shutdown(op->queue);
        mason_queue_join_workers(op->queue);
    }
    mason_follower_free(op->follower);
    op->follower = NULL;
    for (size_t i = 0; i < op->informer_count; i++) {
        mason_informer_free(op->tasks ? op->tasks[i] : NULL);
        mason_informer_free(op->jobs ? op->jobs[i] : NULL);
    }
    mason_queue_free(op->queue);
    watch_runs_stop(op);
    free(op->tasks);
    free(op->jobs);
    op->tasks = op->jobs = NULL;
    op->queue = NULL;
    op->informer_count = 0;
}
