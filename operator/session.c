#include "session.h"

#include <string.h>

#include "engine.h"
#include "jobspec.h"
#include "status.h"
#include "banned.h"

#define SESSION_VOLUME "session"

void mason_session_plan_init(struct mason_session_plan *plan, const struct mason_task *t,
                             const struct mason_config *cfg)
{
    json_t *session = json_object_get(json_object_get(t->obj, "spec"), "session");

    memset(plan, 0, sizeof(*plan));
    mason_buf_init(&plan->name, 0);
    mason_buf_init(&plan->claim, 0);
    mason_buf_init(&plan->sub_path, 0);
    if (!t->persistence || strcmp(t->persistence, "none") == 0)
        return;
    plan->enabled = true;
    plan->per_task_claim = strcmp(t->persistence, "per-taskrun-pvc") == 0;
    plan->persist_workspace = json_is_true(json_object_get(session, "persistWorkspace"));
    mason_task_session_name(t, &plan->name);
    if (plan->per_task_claim) {
        mason_buf_adds(&plan->claim, mason_buf_str(&plan->name));
        return;
    }
    mason_buf_adds(&plan->claim, cfg->sessions.shared_claim);
    mason_buf_adds(&plan->sub_path, mason_buf_str(&plan->name));
}

void mason_session_plan_release(struct mason_session_plan *plan)
{
    mason_buf_release(&plan->name);
    mason_buf_release(&plan->claim);
    mason_buf_release(&plan->sub_path);
}

json_t *mason_session_object(const struct mason_task *t, const struct mason_config *cfg,
                             const struct mason_session_plan *plan)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:o}, s:{s:{s:s}, s:s, s:s, s:s, s:I}}",
                  "apiVersion", "mason.dev/v1alpha1", "kind", "AgentSession", "metadata", "name",
                  mason_buf_str(&plan->name), "namespace", t->namespace, "labels",
                  mason_jobspec_labels(t, -1), "ownerReferences", mason_jobspec_owner_refs(t),
                  "spec", "taskRef", "name", t->name, "engine", t->engine_name, "backend",
                  t->persistence, "claimName", mason_buf_str(&plan->claim), "ttlSeconds",
                  (json_int_t)cfg->sessions.ttl_hours * 3600);

    if (obj && plan->sub_path.len)
        json_object_set_new(json_object_get(obj, "spec"), "subPath",
                            json_string(mason_buf_str(&plan->sub_path)));
    return obj;
}

/* spec.session.size and storageClassName, else the configured ones. */
static json_t *claim_spec(const struct mason_task *t, const struct mason_config *cfg,
                          const char *access_mode)
{
    json_t *session = json_object_get(json_object_get(t->obj, "spec"), "session");
    json_t *size = json_object_get(session, "size");
    const char *storage_class = json_string_value(json_object_get(session, "storageClassName"));
    json_t *storage = size ? json_incref(size) : json_string(cfg->sessions.size);
    json_t *spec = json_pack("{s:[s], s:{s:{s:o}}}", "accessModes", access_mode, "resources",
                             "requests", "storage", storage);

    if (!storage_class)
        storage_class = cfg->sessions.storage_class;
    if (spec && storage_class)
        json_object_set_new(spec, "storageClassName", json_string(storage_class));
    return spec;
}

json_t *mason_session_claim(const struct mason_task *t, const struct mason_config *cfg,
                            const struct mason_session_plan *plan, const char *session_uid)
{
    json_t *meta;

    if (!plan->per_task_claim) {
        meta = json_pack("{s:s, s:s, s:{s:s, s:s}}", "name", mason_buf_str(&plan->claim),
                         "namespace", t->namespace, "labels", "app.kubernetes.io/part-of", "mason",
                         "app.kubernetes.io/managed-by", "mason-operator");
        return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind",
                         "PersistentVolumeClaim", "metadata", meta, "spec",
                         claim_spec(t, cfg, "ReadWriteMany"));
    }
    meta = json_pack(
        "{s:s, s:s, s:o, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}", "name", mason_buf_str(&plan->claim),
        "namespace", t->namespace, "labels", mason_jobspec_labels(t, -1), "ownerReferences",
        "apiVersion", "mason.dev/v1alpha1", "kind", "AgentSession", "name",
        mason_buf_str(&plan->name), "uid", session_uid, "controller", 1, "blockOwnerDeletion", 1);
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                     "metadata", meta, "spec", claim_spec(t, cfg, "ReadWriteOnce"));
}

static void add_mount(json_t *mounts, const struct mason_session_plan *plan, const char *path,
                      const char *dir)
{
    struct mason_buf sub = MASON_BUF_INIT;

    if (plan->sub_path.len)
        mason_buf_addf(&sub, "%s/", mason_buf_str(&plan->sub_path));
    mason_buf_adds(&sub, dir);
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:s}", "name", SESSION_VOLUME, "mountPath",
                                            path, "subPath", mason_buf_str(&sub)));
    mason_buf_release(&sub);
}

/* Removes the emptyDir volume name and its mount, which the claim replaces. */
static void drop_volume(json_t *pod_spec, json_t *mounts, const char *name)
{
    json_t *volumes = json_object_get(pod_spec, "volumes");

    for (size_t i = json_array_size(volumes); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_array_get(volumes, i), "name"));

        if (n && strcmp(n, name) == 0)
            json_array_remove(volumes, i);
    }
    for (size_t i = json_array_size(mounts); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_array_get(mounts, i), "name"));

        if (n && strcmp(n, name) == 0)
            json_array_remove(mounts, i);
    }
}

void mason_session_mount(json_t *pod_spec, const struct mason_task *t,
                         const struct mason_session_plan *plan)
{
    json_t *container = json_array_get(json_object_get(pod_spec, "containers"), 0);
    json_t *mounts = json_object_get(container, "volumeMounts");
    struct mason_buf home = MASON_BUF_INIT;

    if (!plan->enabled)
        return;
    json_array_append_new(json_object_get(pod_spec, "volumes"),
                          json_pack("{s:s, s:{s:s}}", "name", SESSION_VOLUME,
                                    "persistentVolumeClaim", "claimName",
                                    mason_buf_str(&plan->claim)));
    mason_buf_addf(&home, "%s/%s", MASON_AGENT_HOME, mason_engine_session_dir(t->engine));
    add_mount(mounts, plan, mason_buf_str(&home), "conversations");
    if (plan->persist_workspace) {
        drop_volume(pod_spec, mounts, "workspace");
        add_mount(mounts, plan, MASON_AGENT_WORKSPACE, "workspace");
    }
    mason_buf_release(&home);
}

json_t *mason_session_status_patch(const struct mason_task *t, const struct mason_config *cfg,
                                   const struct mason_session_plan *plan, json_t *task_status,
                                   time_t now)
{
    json_t *jobs = json_array(), *status, *run;
    const char *session_id = json_string_value(json_object_get(task_status, "sessionID"));
    char used[32], expires[32];
    size_t i;

    json_array_foreach(json_object_get(task_status, "runs"), i, run)
        json_array_append(jobs, json_object_get(run, "job"));
    mason_status_timestamp(now, used);
    mason_status_timestamp(now + (time_t)cfg->sessions.ttl_hours * 3600, expires);
    status = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:I}", "phase", "Ready", "backend",
                       t->persistence, "claimName", mason_buf_str(&plan->claim), "runs", jobs,
                       "lastUsed", used, "expiresAt", expires, "observedGeneration", (json_int_t)1);
    if (status && plan->sub_path.len)
        json_object_set_new(status, "subPath", json_string(mason_buf_str(&plan->sub_path)));
    if (status && session_id)
        json_object_set_new(status, "sessionID", json_string(session_id));
    return json_pack("{s:o}", "status", status);
}
