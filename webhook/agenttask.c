/* AgentTask admission rules: secret references, literal credentials, approvals (see agenttask.h).
 */
#include "agenttask.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "approval.h"
#include "error.h"
#include "patch.h"
#include "banned.h"

#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* A credential format: a prefix followed by at least min_tail characters of tail_chars. */
struct credential_format {
    const char *prefix;
    size_t min_tail;
    const char *tail_chars;
    const char *kind;
};

/*
 * Token prefixes as the vendors publish them. The Anthropic entry comes
 * before the OpenAI "sk-" entry, which would match it too.
 */
static const struct credential_format credential_formats[] = {
    {"sk-ant-", 20, TOKEN_CHARS "_-", "an Anthropic API key"},
    {"sk-", 20, TOKEN_CHARS "_-", "an OpenAI API key"},
    {"AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "an AWS access key ID"},
    {"ASIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "an AWS temporary access key ID"},
    {"ghp_", 30, TOKEN_CHARS, "a GitHub token"},
    {"gho_", 30, TOKEN_CHARS, "a GitHub token"},
    {"ghu_", 30, TOKEN_CHARS, "a GitHub token"},
    {"ghs_", 30, TOKEN_CHARS, "a GitHub token"},
    {"ghr_", 30, TOKEN_CHARS, "a GitHub token"},
    {"github_pat_", 20, TOKEN_CHARS "_", "a GitHub token"},
    {"glpat-", 20, TOKEN_CHARS "_-", "a GitLab token"},
    {"glptt-", 20, TOKEN_CHARS "_-", "a GitLab token"},
    {"gldt-", 20, TOKEN_CHARS "_-", "a GitLab token"},
    {"glrt-", 20, TOKEN_CHARS "_-", "a GitLab token"},
};

/* Returns whether value contains prefix, at the start of a word, followed by a long enough tail. */
static bool contains_token(const char *value, const struct credential_format *f)
{
    size_t prefix_len = strlen(f->prefix);

    for (const char *p = strstr(value, f->prefix); p; p = strstr(p + 1, f->prefix)) {
        if (p > value && isalnum((unsigned char)p[-1]))
            continue;
        if (strspn(p + prefix_len, f->tail_chars) >= f->min_tail)
            return true;
    }
    return false;
}

const char *mason_agenttask_credential_kind(const char *value)
{
    const char *begin = strstr(value, "-----BEGIN ");

    if (begin && strstr(begin, "PRIVATE KEY-----"))
        return "a PEM private key";
    for (size_t i = 0; i < sizeof(credential_formats) / sizeof(credential_formats[0]); i++)
        if (contains_token(value, &credential_formats[i]))
            return credential_formats[i].kind;
    return NULL;
}

static bool scheme_configured(const struct mason_secrets_config *cfg, const char *scheme)
{
    for (size_t i = 0; i < cfg->backend_count; i++)
        if (!strcmp(cfg->backends[i].scheme, scheme))
            return true;
    return false;
}

/* Checks one secretRef: its scheme must parse, be configured and pass the shared policy. */
static int check_secret_ref(const struct mason_secrets_config *cfg, const char *name,
                            const char *ref, size_t index, struct mason_policy_report *report)
{
    struct mason_buf scheme = MASON_BUF_INIT, err = MASON_BUF_INIT;
    struct mason_secret_failure failure;
    int rc = 0;

    mason_secret_failure_init(&failure);
    if (!ref || mason_secret_uri_scheme(ref, &scheme, &err))
        rc = mason_policy_report_add(report, "secretRef has no valid scheme",
                                     "write a URI such as k8s://SECRET/KEY",
                                     "spec.env[%zu].secretRef", index);
    else if (!scheme_configured(cfg, mason_buf_str(&scheme)))
        rc = mason_policy_report_add(report, "secretRef scheme has no backend",
                                     "use a scheme from secret_resolver.backends",
                                     "spec.env[%zu].secretRef", index);
    else if (mason_secrets_policy_check(&cfg->policy, name, mason_buf_str(&scheme), &failure))
        rc = mason_policy_report_add(report, failure.reason, mason_buf_str(&failure.message),
                                     "spec.env[%zu]", index);
    mason_secret_failure_release(&failure);
    mason_buf_release(&scheme);
    mason_buf_release(&err);
    return rc;
}

/*
 * Checks a literal value entry. The name check reuses the operator's policy
 * function with the scheme rule switched off, because the operator checks
 * names only on secret references while an admitted literal under a blocked
 * name would still reach the agent.
 */
static int check_literal(const struct mason_secrets_config *cfg, const char *name,
                         const char *value, size_t index, struct mason_policy_report *report)
{
    struct mason_secrets_policy names_only = cfg->policy;
    struct mason_secret_failure failure;
    struct mason_buf fix = MASON_BUF_INIT;
    const char *kind;
    int rc = 0;

    names_only.allowed_scheme_count = 0;
    mason_secret_failure_init(&failure);
    if (mason_secrets_policy_check(&names_only, name, "", &failure))
        rc = mason_policy_report_add(report, failure.reason, mason_buf_str(&failure.message),
                                     "spec.env[%zu]", index);
    kind = value ? mason_agenttask_credential_kind(value) : NULL;
    if (!rc && kind) {
        rc = mason_buf_addf(
            &fix,
            "env %s: the value looks like %s; store it in a secret store and use secretRef instead of value",
            name, kind);
        if (!rc)
            rc = mason_policy_report_add(report, "value looks like a credential",
                                         mason_buf_str(&fix), "spec.env[%zu].value", index);
    }
    mason_secret_failure_release(&failure);
    mason_buf_release(&fix);
    return rc;
}

int mason_agenttask_check(const json_t *task, const struct mason_secrets_config *cfg,
                          struct mason_policy_report *report)
{
    const json_t *env = json_object_get(json_object_get(task, "spec"), "env");
    size_t i;
    json_t *entry;
    int rc = 0;

    if (env && !json_is_array(env))
        return mason_policy_report_add(report, "must be a list",
                                       "write env as a list of {name, value} or {name, secretRef}",
                                       "spec.env");
    json_array_foreach(env, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));

        if (!name) {
            rc = mason_policy_report_add(report, "name is missing", "give every env entry a name",
                                         "spec.env[%zu].name", i);
        } else if (json_object_get(entry, "secretRef")) {
            rc = check_secret_ref(cfg, name, json_string_value(json_object_get(entry, "secretRef")),
                                  i, report);
        } else {
            rc = check_literal(cfg, name, json_string_value(json_object_get(entry, "value")), i,
                               report);
        }
        if (rc)
            break;
    }
    return rc;
}

static const char *annotation(const json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/*
 * Appends the operation that makes approved-by equal to value (NULL removes
 * it). Removal happens only when the task has the annotation, so the
 * annotations map exists then.
 */
static int set_approved_by(json_t *patch, const json_t *task, const char *value)
{
    const json_t *metadata = json_object_get(task, "metadata");
    struct mason_buf path = MASON_BUF_INIT;
    int rc;

    if (!json_is_object(json_object_get(metadata, "annotations")))
        return mason_patch_append(patch, "add", "/metadata/annotations",
                                  json_pack("{s:s}", MASON_APPROVED_BY_ANNOTATION, value));
    rc = mason_buf_adds(&path, "/metadata/annotations/");
    if (!rc)
        rc = mason_patch_escape_token(MASON_APPROVED_BY_ANNOTATION, &path);
    if (!rc && value)
        rc = mason_patch_append(patch, "add", mason_buf_str(&path), json_string(value));
    else if (!rc)
        rc = mason_patch_append(patch, "remove", mason_buf_str(&path), NULL);
    mason_buf_release(&path);
    return rc;
}

json_t *mason_agenttask_approval_patch(const json_t *task, const json_t *old_task,
                                       const char *username, bool recorder)
{
    const char *approval = annotation(task, MASON_APPROVAL_ANNOTATION);
    const char *old_approval = annotation(old_task, MASON_APPROVAL_ANNOTATION);
    const char *approved_by = annotation(task, MASON_APPROVED_BY_ANNOTATION);
    const char *old_approved_by = annotation(old_task, MASON_APPROVED_BY_ANNOTATION);
    json_t *patch = json_array();
    int rc = 0;

    if (!patch)
        return NULL;
    /* A recorder (the operator writing a Slack decision) names the decider itself. */
    if (approval && !same(approval, old_approval) && !(recorder && approved_by)) {
        if (!same(approved_by, username ? username : ""))
            rc = set_approved_by(patch, task, username ? username : "");
    } else if (!same(approved_by, old_approved_by) && !recorder &&
               !(old_approval && !approval && !approved_by)) {
        /* Removing a decision together with its decider is allowed; other changes revert. */
        rc = set_approved_by(patch, task, old_approved_by);
    }
    if (rc) {
        json_decref(patch);
        return NULL;
    }
    return patch;
}

int mason_agenttask_check_approval(const json_t *task, const json_t *old_task,
                                   struct mason_buf *message)
{
    const char *approval = annotation(task, MASON_APPROVAL_ANNOTATION);
    enum mason_approval_outcome outcome;

    if (!approval || same(approval, annotation(old_task, MASON_APPROVAL_ANNOTATION)) ||
        mason_approval_parse_decision(approval, &outcome) == 0)
        return 0;
    mason_buf_addf(message, "annotation %s: invalid value \"%.64s\": use continue or stop",
                   MASON_APPROVAL_ANNOTATION, approval);
    return MASON_EINVAL;
}
