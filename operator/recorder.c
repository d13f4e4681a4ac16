/* Kubernetes Events about AgentTasks, as `kubectl describe agenttask` shows them. */
#include <stdio.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "operator.h"
#include "status.h"
#include "banned.h"

static json_t *involved_object(json_t *task)
{
    json_t *meta = json_object_get(task, "metadata");

    return json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "apiVersion", "mason.dev/v1alpha1", "kind",
                     "AgentTask", "name", json_object_get(meta, "name"), "namespace",
                     json_object_get(meta, "namespace"), "uid", json_object_get(meta, "uid"),
                     "resourceVersion", json_object_get(meta, "resourceVersion"));
}

void mason_event_record(struct mason_operator *op, json_t *task, const char *type,
                        const char *reason, const char *message)
{
    json_t *meta = json_object_get(task, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    struct mason_log_ctx ctx = {.namespace = ns, .name = name};
    struct mason_buf err = MASON_BUF_INIT;
    char prefix[64], ts[32];
    json_t *event;
    int rc;

    /* generateName must leave room for the random suffix within 253 characters. */
    snprintf(prefix, sizeof(prefix), "%.52s.", name);
    mason_status_timestamp(time(NULL), ts);
    event =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, "
                  "s:i, s:s, s:s}",
                  "apiVersion", "v1", "kind", "Event", "metadata", "generateName", prefix,
                  "namespace", ns, "involvedObject", involved_object(task), "reason", reason,
                  "message", message, "type", type, "source", "component", MASON_FIELD_MANAGER,
                  "firstTimestamp", ts, "lastTimestamp", ts, "action", reason, "count", 1,
                  "reportingComponent", "mason.dev/operator", "reportingInstance", op->instance);
    rc = event ? mason_kube_create_object(op->kube, &MASON_KUBE_EVENTS, ns, event, NULL, &err)
               : MASON_ENOMEM;
    if (rc != 0)
        mason_warn(&ctx, "recording event %s failed: %s: %s", reason, mason_strerror(rc),
                   mason_buf_str(&err));
    json_decref(event);
    mason_buf_release(&err);
}
