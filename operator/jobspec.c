#include "jobspec.h"

#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "error.h"
#include "banned.h"

#define TASK_API_VERSION "mason.dev/v1alpha1"

/* Link-local addresses, where cloud providers serve instance metadata and credentials. */
#define METADATA_CIDR_V4 "169.254.0.0/16"
#define METADATA_CIDR_V6 "fe80::/10"

json_t *mason_jobspec_labels(const struct mason_task *t, int index)
{
    struct mason_buf short_name = MASON_BUF_INIT;
    json_t *labels;

    mason_name_shorten(t->name, 63, &short_name);
    labels = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "app.kubernetes.io/name",
                       "mason-agent", "app.kubernetes.io/instance", mason_buf_str(&short_name),
                       "app.kubernetes.io/component", "agent", "app.kubernetes.io/part-of", "mason",
                       "app.kubernetes.io/managed-by", "mason-operator", "mason.dev/task",
                       mason_buf_str(&short_name), "mason.dev/task-uid", t->uid);
    if (labels)
        json_object_set_new(labels, "mason.dev/engine", json_string(t->engine_name));
    if (labels && index >= 0) {
        char run[16];

        snprintf(run, sizeof(run), "%d", index);
        json_object_set_new(labels, "mason.dev/run", json_string(run));
    }
    mason_buf_release(&short_name);
    return labels;
}

json_t *mason_jobspec_owner_refs(const struct mason_task *t)
{
    return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", TASK_API_VERSION, "kind",
                     "AgentTask", "name", t->name, "uid", t->uid, "controller", 1,
                     "blockOwnerDeletion", 1);
}

/* metadata of an object of the run: name, namespace, labels, owner. */
static json_t *run_metadata(const struct mason_task *t, const char *name, int index)
{
    return json_pack("{s:s, s:s, s:o, s:{s:s}, s:o}", "name", name, "namespace", t->namespace,
                     "labels", mason_jobspec_labels(t, index), "annotations", "mason.dev/task-name",
                     t->name, "ownerReferences", mason_jobspec_owner_refs(t));
}

static json_t *pod_security_context(void)
{
    return json_pack("{s:b, s:i, s:i, s:i, s:s, s:{s:s}}", "runAsNonRoot", 1, "runAsUser",
                     MASON_AGENT_UID, "runAsGroup", MASON_AGENT_UID, "fsGroup", MASON_AGENT_UID,
                     "fsGroupChangePolicy", "OnRootMismatch", "seccompProfile", "type",
                     "RuntimeDefault");
}

static json_t *container_security_context(void)
{
    return json_pack("{s:b, s:b, s:b, s:i, s:i, s:{s:[s]}, s:{s:s}}", "allowPrivilegeEscalation", 0,
                     "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "runAsUser", MASON_AGENT_UID,
                     "runAsGroup", MASON_AGENT_UID, "capabilities", "drop", "ALL", "seccompProfile",
                     "type", "RuntimeDefault");
}

static json_t *volumes(const struct mason_config *cfg, const char *config_map)
{
    return json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s, s:i}}]",
                     "name", "tmp", "emptyDir", "sizeLimit", "1Gi", "name", "home", "emptyDir",
                     "sizeLimit", cfg->defaults.home_size_limit, "name", "workspace", "emptyDir",
                     "sizeLimit", cfg->defaults.workspace_size_limit, "name", "prompt", "configMap",
                     "name", config_map, "defaultMode", 0444);
}

static json_t *volume_mounts(void)
{
    return json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:b}]", "name", "tmp",
                     "mountPath", "/tmp", "name", "home", "mountPath", MASON_AGENT_HOME, "name",
                     "workspace", "mountPath", MASON_AGENT_WORKSPACE, "name", "prompt", "mountPath",
                     MASON_PROMPT_DIR, "readOnly", 1);
}

static void env_add(json_t *env, const char *name, const char *value)
{
    if (value)
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

/* The engine's API key from the Secret named in its configuration. */
static void env_add_api_key(json_t *env, const struct mason_task *t,
                            const struct mason_engine_config *engine)
{
    const struct mason_engine_auth *auth = engine ? engine->auth : NULL;

    if (!auth || !auth->api_key_secret)
        return;
    json_array_append_new(
        env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", mason_engine_api_key_env(t->engine),
                       "valueFrom", "secretKeyRef", "name", auth->api_key_secret, "key",
                       auth->api_key_secret_key ? auth->api_key_secret_key : "api_key"));
}

static json_t *container_env(const struct mason_task *t, const struct mason_config *cfg,
                             const struct mason_run_spec *run)
{
    json_t *env = json_array();
    char index[16];

    snprintf(index, sizeof(index), "%d", run->index);
    env_add(env, "HOME", MASON_AGENT_HOME);
    env_add(env, "TMPDIR", "/tmp");
    env_add(env, "MASON_TASK", t->name);
    env_add(env, "MASON_TASK_NAMESPACE", t->namespace);
    env_add(env, "MASON_RUN", index);
    env_add(env, "MASON_TASK_TYPE", t->task_type);
    env_add(env, "MASON_REPOSITORY_URL", t->repo_url);
    env_add(env, "MASON_BRANCH", t->branch);
    env_add(env, "MASON_BASE_BRANCH", t->base_branch);
    env_add_api_key(env, t, cfg->engines[t->engine]);
    if (json_is_array(run->env))
        json_array_extend(env, run->env);
    return env;
}

/* spec.resources as given, with the configured memory and CPU requests where it has none. */
static json_t *container_resources(const struct mason_task *t, const struct mason_config *cfg)
{
    json_t *res = json_is_object(t->resources) ? json_deep_copy(t->resources) : json_object();
    json_t *requests = json_object_get(res, "requests");
    json_t *limits = json_object_get(res, "limits");

    if (!json_is_object(requests)) {
        requests = json_object();
        json_object_set_new(res, "requests", requests);
    }
    if (!json_object_get(requests, "memory"))
        json_object_set_new(requests, "memory", json_string(cfg->defaults.memory_request));
    if (!json_object_get(requests, "cpu"))
        json_object_set_new(requests, "cpu", json_string(cfg->defaults.cpu_request));
    if (cfg->defaults.memory_limit && !json_object_get(limits, "memory")) {
        if (!json_is_object(limits)) {
            limits = json_object();
            json_object_set_new(res, "limits", limits);
        }
        json_object_set_new(limits, "memory", json_string(cfg->defaults.memory_limit));
    }
    return res;
}

static json_t *agent_container(const struct mason_task *t, const struct mason_config *cfg,
                               const struct mason_run_spec *run, json_t *command)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:s}", "name",
                     MASON_AGENT_CONTAINER, "image", mason_task_image(t, cfg), "imagePullPolicy",
                     "IfNotPresent", "command", command, "workingDir", MASON_AGENT_WORKSPACE, "env",
                     container_env(t, cfg, run), "resources", container_resources(t, cfg),
                     "securityContext", container_security_context(), "volumeMounts",
                     volume_mounts(), "terminationMessagePolicy", "FallbackToLogsOnError");
}

static json_t *pod_spec(const struct mason_task *t, const struct mason_config *cfg,
                        const struct mason_run_spec *run, json_t *command)
{
    json_t *spec =
        json_pack("{s:s, s:b, s:b, s:o, s:[o], s:o}", "restartPolicy", "Never",
                  "automountServiceAccountToken", 0, "enableServiceLinks", 0, "securityContext",
                  pod_security_context(), "containers", agent_container(t, cfg, run, command),
                  "volumes", volumes(cfg, run->job_name));

    if (spec && t->runtime_class)
        json_object_set_new(spec, "runtimeClassName", json_string(t->runtime_class));
    if (spec && json_is_object(t->node_selector))
        json_object_set(spec, "nodeSelector", t->node_selector);
    if (spec && json_is_array(t->tolerations))
        json_object_set(spec, "tolerations", t->tolerations);
    return spec;
}

/* limits.maxDurationSeconds, capped by guardrails.max_job_duration_minutes. */
static json_int_t active_deadline(const struct mason_task *t, const struct mason_config *cfg)
{
    json_int_t seconds = t->max_duration_seconds;
    json_int_t cap = (json_int_t)cfg->guardrails.max_job_duration_minutes * 60;

    if (seconds <= 0)
        seconds = cfg->defaults.max_duration_seconds;
    if (cap > 0 && seconds > cap)
        seconds = cap;
    return seconds;
}

json_t *mason_jobspec_job(const struct mason_task *t, const struct mason_config *cfg,
                          const struct mason_run_spec *run, struct mason_buf *err)
{
    struct mason_engine_run engine_run = {
        .engine = t->engine,
        .model = t->model,
        .max_turns = (long)t->max_turns,
        .resume_id = run->resume_id,
    };
    json_t *command;

    if (mason_task_check_image(t, cfg, err) != 0)
        return NULL;
    command = mason_engine_command(&engine_run);
    if (!command) {
        mason_buf_reset(err);
        mason_buf_addf(
            err,
            "session id \"%s\" cannot be resumed: it must be 1 to 128 letters, digits, '-' or '_'",
            run->resume_id ? run->resume_id : "");
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:{s:i, s:I, s:I, s:{s:{s:o}, s:o}}}", "apiVersion",
                     "batch/v1", "kind", "Job", "metadata",
                     run_metadata(t, run->job_name, run->index), "spec", "backoffLimit", 0,
                     "activeDeadlineSeconds", active_deadline(t, cfg), "ttlSecondsAfterFinished",
                     t->ttl_seconds_after_finished, "template", "metadata", "labels",
                     mason_jobspec_labels(t, run->index), "spec", pod_spec(t, cfg, run, command));
}

json_t *mason_jobspec_prompt_config_map(const struct mason_task *t,
                                        const struct mason_run_spec *run)
{
    return json_pack("{s:s, s:s, s:o, s:b, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", run_metadata(t, run->job_name, run->index), "immutable", 1, "data",
                     MASON_PROMPT_KEY, run->prompt);
}

static json_t *port_list(const char *protocol, const int *ports, unsigned count)
{
    json_t *list = json_array();

    for (unsigned i = 0; i < count; i++)
        json_array_append_new(list,
                              json_pack("{s:s, s:i}", "protocol", protocol, "port", ports[i]));
    return list;
}

/* TCP 443 and 22 to every address but the link-local ranges. */
static json_t *https_ssh_rule(void)
{
    static const int ports[] = {443, 22};

    return json_pack("{s:[{s:{s:s, s:[s]}}, {s:{s:s, s:[s]}}], s:o}", "to", "ipBlock", "cidr",
                     "0.0.0.0/0", "except", METADATA_CIDR_V4, "ipBlock", "cidr", "::/0", "except",
                     METADATA_CIDR_V6, "ports", port_list("TCP", ports, 2));
}

static json_t *extra_rule(const struct mason_egress_rule *rule)
{
    json_t *block = json_pack("{s:s}", "cidr", rule->cidr);
    json_t *out;

    if (rule->except_count > 0) {
        json_t *except = json_array();

        for (unsigned i = 0; i < rule->except_count; i++)
            json_array_append_new(except, json_string(rule->except[i]));
        json_object_set_new(block, "except", except);
    }
    out = json_pack("{s:[{s:o}]}", "to", "ipBlock", block);
    if (out && rule->ports_count > 0)
        json_object_set_new(
            out, "ports",
            port_list(rule->protocol ? rule->protocol : "TCP", rule->ports, rule->ports_count));
    return out;
}

json_t *mason_jobspec_network_policy(const struct mason_task *t, const struct mason_config *cfg)
{
    static const int dns[] = {53};
    struct mason_buf name = MASON_BUF_INIT;
    json_t *egress, *dns_ports, *policy;

    dns_ports = port_list("UDP", dns, 1);
    json_array_append_new(dns_ports, json_pack("{s:s, s:i}", "protocol", "TCP", "port", dns[0]));
    egress = json_pack("[{s:o}, o]", "ports", dns_ports, https_ssh_rule());
    for (unsigned i = 0; egress && i < cfg->extra_egress_count; i++)
        json_array_append_new(egress, extra_rule(&cfg->extra_egress[i]));
    mason_task_policy_name(t, &name);
    policy = json_pack("{s:s, s:s, s:o, s:{s:{s:{s:s}}, s:[s,s], s:[], s:o}}", "apiVersion",
                       "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata",
                       run_metadata(t, mason_buf_str(&name), -1), "spec", "podSelector",
                       "matchLabels", "mason.dev/task-uid", t->uid, "policyTypes", "Ingress",
                       "Egress", "ingress", "egress", egress);
    mason_buf_release(&name);
    return policy;
}
