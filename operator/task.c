#include "task.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static const char *get_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_int_t get_int(json_t *obj, const char *key, json_int_t fallback)
{
    json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

static int task_fail(struct mason_buf *err, const char *msg)
{
    mason_buf_reset(err);
    mason_buf_adds(err, msg);
    return MASON_EINVAL;
}

static void task_view_limits(struct mason_task *t, json_t *spec, const struct mason_config *cfg)
{
    json_t *limits = json_object_get(spec, "limits");
    json_t *cost = json_object_get(limits, "maxCostUSD");

    t->max_duration_seconds =
        get_int(limits, "maxDurationSeconds", cfg->defaults.max_duration_seconds);
    t->max_turns = get_int(limits, "maxTurns", cfg->defaults.max_turns);
    t->retries = get_int(limits, "retries", 0);
    t->max_continuations = get_int(limits, "maxContinuations", 0);
    if (json_is_number(cost))
        t->max_cost_usd = json_number_value(cost);
    else if (json_is_string(cost))
        t->max_cost_usd = strtod(json_string_value(cost), NULL);
    else
        t->max_cost_usd = cfg->guardrails.max_cost_per_job;
}

static void task_view_spec(struct mason_task *t, json_t *spec, const struct mason_config *cfg)
{
    json_t *repo = json_object_get(spec, "repository");

    t->prompt = get_str(spec, "prompt");
    t->engine_name = get_str(spec, "engine");
    if (!t->engine_name)
        t->engine_name = cfg->defaults.engine;
    t->task_type = get_str(spec, "taskType");
    t->repo_url = get_str(repo, "url");
    t->branch = get_str(repo, "branch");
    t->base_branch = get_str(repo, "baseBranch");
    t->image = get_str(spec, "image");
    t->env = json_object_get(spec, "env");
    t->resources = json_object_get(spec, "resources");
    t->persistence = get_str(json_object_get(spec, "session"), "persistence");
    if (!t->persistence)
        t->persistence = "none";
    t->runtime_class = get_str(spec, "runtimeClassName");
    t->node_selector = json_object_get(spec, "nodeSelector");
    t->tolerations = json_object_get(spec, "tolerations");
    t->ttl_seconds_after_finished =
        get_int(spec, "ttlSecondsAfterFinished", cfg->defaults.ttl_seconds_after_finished);
    task_view_limits(t, spec, cfg);
}

int mason_task_view(struct mason_task *t, json_t *obj, const struct mason_config *cfg,
                    struct mason_buf *err)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *spec = json_object_get(obj, "spec");

    memset(t, 0, sizeof(*t));
    t->obj = obj;
    t->namespace = get_str(meta, "namespace");
    t->name = get_str(meta, "name");
    t->uid = get_str(meta, "uid");
    t->generation = get_int(meta, "generation", 0);
    t->deleting = json_object_get(meta, "deletionTimestamp") != NULL;
    t->status = json_object_get(obj, "status");
    t->phase = get_str(t->status, "phase");
    if (!t->namespace || !t->name || !t->uid)
        return task_fail(err, "metadata.namespace, metadata.name and metadata.uid are required");
    if (!json_is_object(spec))
        return task_fail(err, "spec is missing; an AgentTask needs at least spec.prompt");
    task_view_spec(t, spec, cfg);
    if (!t->prompt || !*t->prompt)
        return task_fail(err, "spec.prompt is missing or empty; say what the agent should do");
    if (mason_engine_lookup(t->engine_name, &t->engine) != 0) {
        mason_buf_reset(err);
        mason_buf_addf(
            err,
            "spec.engine \"%s\" is not a known engine; use claude-code, codex, cline, opencode or aider",
            t->engine_name);
        return MASON_EINVAL;
    }
    if (!t->branch) {
        snprintf(t->branch_default, sizeof(t->branch_default), "mason/%s", t->name);
        t->branch = t->branch_default;
    }
    /* A task's own cost limit can only lower guardrails.max_cost_per_job. */
    if (cfg->guardrails.max_cost_per_job > 0 &&
        (t->max_cost_usd <= 0 || t->max_cost_usd > cfg->guardrails.max_cost_per_job))
        t->max_cost_usd = cfg->guardrails.max_cost_per_job;
    t->model = get_str(spec, "model");
    if (!t->model && cfg->engines[t->engine])
        t->model = cfg->engines[t->engine]->model;
    /* Checked before the first run only, so a configuration change does not fail a running
     * task. A later run without an image fails when its Job is built. */
    if (json_array_size(json_object_get(t->status, "runs")) == 0)
        return mason_task_check_image(t, cfg, err);
    return 0;
}

const char *mason_task_image(const struct mason_task *t, const struct mason_config *cfg)
{
    const struct mason_engine_config *engine = cfg->engines[t->engine];

    if (t->image)
        return t->image;
    return engine ? engine->image : NULL;
}

int mason_task_check_image(const struct mason_task *t, const struct mason_config *cfg,
                           struct mason_buf *err)
{
    if (mason_task_image(t, cfg))
        return 0;
    mason_buf_reset(err);
    mason_buf_addf(
        err,
        "no image for engine \"%s\": set spec.image, or engines.%s.image in the operator configuration",
        t->engine_name, t->engine_name);
    return MASON_EINVAL;
}

void mason_name_shorten(const char *name, size_t max, struct mason_buf *out)
{
    size_t len = strlen(name);

    if (len > max)
        len = max;
    /* A DNS label must end with an alphanumeric character. */
    while (len > 0 && (name[len - 1] == '-' || name[len - 1] == '.'))
        len--;
    for (size_t i = 0; i < len; i++)
        mason_buf_addf(out, "%c", name[i] == '.' ? '-' : name[i]);
}

/* Eight hex characters of SHA-256 over namespace, name and uid. */
static void task_hash(const struct mason_task *t, char out[9])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    struct mason_buf input = MASON_BUF_INIT;

    mason_buf_addf(&input, "%s/%s/%s", t->namespace, t->name, t->uid);
    EVP_Digest(input.data, input.len, digest, &digest_len, EVP_sha256(), NULL);
    for (int i = 0; i < 4; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    mason_buf_release(&input);
}

void mason_task_job_name(const struct mason_task *t, int run, struct mason_buf *out)
{
    char hash[9];
    struct mason_buf suffix = MASON_BUF_INIT;

    task_hash(t, hash);
    mason_buf_addf(&suffix, "-%s-%d", hash, run);
    mason_buf_reset(out);
    mason_name_shorten(t->name, 63 - suffix.len, out);
    mason_buf_adds(out, mason_buf_str(&suffix));
    mason_buf_release(&suffix);
}

void mason_task_policy_name(const struct mason_task *t, struct mason_buf *out)
{
    char hash[9];

    task_hash(t, hash);
    mason_buf_reset(out);
    mason_name_shorten(t->name, 63 - 17, out);
    mason_buf_addf(out, "-%s-egress", hash);
}

void mason_task_session_name(const struct mason_task *t, struct mason_buf *out)
{
    char hash[9];

    task_hash(t, hash);
    mason_buf_reset(out);
    mason_name_shorten(t->name, 63 - 17, out);
    mason_buf_addf(out, "-%s-session", hash);
}
