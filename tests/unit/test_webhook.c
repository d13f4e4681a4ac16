/*
 * Unit tests for AdmissionReview handling: uid echo, patches, denials,
 * modes, exemptions and malformed reviews; the AgentTask rules; the
 * configuration; metrics; listen addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "admission.h"
#include "agenttask.h"
#include "error.h"
#include "metrics.h"
#include "secrets.h"
#include "server.h"
#include "tls_files.h"
#include "webhook_config.h"
#include "yaml.h"

static const char config_yaml[] =
    "namespace: mason-system\n"
    "exemptions:\n"
    "  namespaces: [kube-system, infra]\n"
    "  usernames: [system:serviceaccount:infra:deployer]\n"
    "  runtime_classes: [kata-privileged]\n"
    "secret_resolver:\n"
    "  backends:\n"
    "    - {scheme: k8s, backend: k8s}\n"
    "    - scheme: aws-sm\n"
    "      backend: aws-secrets-manager\n"
    "      config: {region: us-east-1, endpoint: 'http://127.0.0.1:1'}\n"
    "    - scheme: legacy\n"
    "      backend: aws-secrets-manager\n"
    "      config: {region: us-east-1, endpoint: 'http://127.0.0.1:1'}\n"
    "  policy:\n"
    "    allowed_schemes: [k8s, aws-sm]\n"
    "    blocked_env_patterns: ['AWS_*', 'KUBECONFIG']\n";

struct fixture {
    struct mason_webhook_config cfg;
    struct mason_secrets_config secrets;
    struct mason_admission admission;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct mason_buf err = MASON_BUF_INIT;
    json_t *root = NULL;

    assert_non_null(f);
    assert_int_equal(mason_yaml_to_json(config_yaml, strlen(config_yaml), &root, &err), 0);
    assert_int_equal(mason_webhook_config_parse(root, &f->cfg, &err), 0);
    assert_int_equal(
        mason_secrets_config_parse(json_object_get(root, "secret_resolver"), &f->secrets, &err), 0);
    f->admission.cfg = &f->cfg;
    f->admission.secrets = &f->secrets;
    json_decref(root);
    mason_buf_release(&err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    mason_webhook_config_release(&f->cfg);
    mason_secrets_config_release(&f->secrets);
    free(f);
    return 0;
}

/* Wraps object in an AdmissionReview request; returns the body text (free it). */
static char *review_text(const char *group, const char *kind, const char *operation,
                         const char *namespace, const char *username, json_t *object,
                         json_t *old_object)
{
    json_t *review =
        json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:{s:s}, s:o, s:b}}",
                  "apiVersion", "admission.k8s.io/v1", "kind", "AdmissionReview", "request", "uid",
                  "705ab4f5-6393-11e8-b7cc-42010a800002", "kind", "group", group, "version", "v1",
                  "kind", kind, "operation", operation, "namespace", namespace, "userInfo",
                  "username", username, "object", object, "dryRun", 0);
    char *text;

    assert_non_null(review);
    if (old_object)
        json_object_set_new(json_object_get(review, "request"), "oldObject", old_object);
    text = json_dumps(review, JSON_COMPACT);
    json_decref(review);
    return text;
}

static json_t *bare_pod(void)
{
    return json_pack("{s:{s:s}, s:{s:[{s:s, s:s}]}}", "metadata", "name", "app", "spec",
                     "containers", "name", "app", "image", "registry.example/app:1");
}

/* Runs one review and returns the parsed response object (a new reference). */
static json_t *run_review(struct fixture *f, enum mason_endpoint endpoint, enum mason_mode mode,
                          const char *body, struct mason_admission_outcome *out)
{
    json_t *root, *response;

    mason_admission_outcome_init(out);
    assert_int_equal(mason_admission_review(&f->admission, endpoint, mode, body, strlen(body), out),
                     0);
    assert_int_equal(out->http_status, 200);
    root = json_loads(mason_buf_str(&out->body), 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "apiVersion")),
                        "admission.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(root, "kind")), "AdmissionReview");
    response = json_incref(json_object_get(root, "response"));
    json_decref(root);
    assert_string_equal(json_string_value(json_object_get(response, "uid")),
                        "705ab4f5-6393-11e8-b7cc-42010a800002");
    return response;
}

static json_t *decode_patch(const json_t *response)
{
    const char *b64 = json_string_value(json_object_get(response, "patch"));
    size_t len = strlen(b64);
    unsigned char *raw = malloc(len + 1);
    int n;
    json_t *patch;

    assert_non_null(raw);
    n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
    assert_true(n > 0);
    while (n > 0 && raw[n - 1] == '\0') /* EVP_DecodeBlock pads with zero bytes */
        n--;
    patch = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    free(raw);
    assert_non_null(patch);
    return patch;
}

static void mutate_pods_returns_base64_patch(void **state)
{
    char *body = review_text("", "Pod", "CREATE", "team", "alice", bare_pod(), NULL);
    struct mason_admission_outcome out;
    json_t *response =
        run_review(*state, MASON_ENDPOINT_MUTATE_PODS, MASON_MODE_ENFORCE, body, &out);
    json_t *patch;

    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_string_equal(json_string_value(json_object_get(response, "patchType")), "JSONPatch");
    patch = decode_patch(response);
    assert_int_equal(json_array_size(patch), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "path")),
                        "/spec/securityContext");
    assert_string_equal(out.decision, "patched");
    assert_string_equal(out.operation, "CREATE");
    assert_string_equal(out.name, "app");
    json_decref(patch);
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void validate_enforce_denies_with_fields(void **state)
{
    json_t *pod = bare_pod();
    char *body;
    struct mason_admission_outcome out;
    json_t *response, *status;
    const char *message;

    json_object_set_new(json_object_get(pod, "spec"), "securityContext",
                        json_pack("{s:i}", "runAsUser", 0));
    body = review_text("", "Pod", "CREATE", "team", "alice", pod, NULL);
    response = run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_ENFORCE, body, &out);
    status = json_object_get(response, "status");
    message = json_string_value(json_object_get(status, "message"));
    assert_true(json_is_false(json_object_get(response, "allowed")));
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 403);
    assert_non_null(message);
    assert_non_null(strstr(message, "spec.securityContext.runAsUser: must not be 0"));
    assert_non_null(strstr(message, "readOnlyRootFilesystem"));
    assert_null(json_object_get(response, "patch"));
    assert_string_equal(out.decision, "denied");
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void validate_warn_allows_short_warnings(void **state)
{
    json_t *pod = bare_pod();
    char *body;
    struct mason_admission_outcome out;
    json_t *response, *warnings, *w;
    size_t i;

    json_object_set_new(json_object_get(pod, "spec"), "hostNetwork", json_true());
    body = review_text("", "Pod", "CREATE", "team", "alice", pod, NULL);
    response = run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_WARN, body, &out);
    warnings = json_object_get(response, "warnings");
    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_true(json_array_size(warnings) > 1);
    assert_string_equal(json_string_value(json_array_get(warnings, 0)),
                        "spec.hostNetwork: must be unset or false");
    json_array_foreach(warnings, i, w)
        assert_true(strlen(json_string_value(w)) < MASON_ADMISSION_WARNING_MAX);
    assert_string_equal(out.decision, "warned");
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void validate_warn_caps_warning_count(void **state)
{
    json_t *pod = bare_pod();
    json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
    char *body;
    struct mason_admission_outcome out;
    json_t *response, *warnings;

    for (int i = 0; i < 5; i++)
        json_array_append_new(containers, json_pack("{s:s}", "name", "extra"));
    body = review_text("", "Pod", "CREATE", "team", "alice", pod, NULL);
    response = run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_WARN, body, &out);
    warnings = json_object_get(response, "warnings");
    assert_int_equal(json_array_size(warnings), MASON_ADMISSION_MAX_WARNINGS);
    assert_non_null(strstr(json_string_value(json_array_get(warnings, 15)), "more policy"));
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void validate_audit_adds_annotation(void **state)
{
    char *body = review_text("", "Pod", "CREATE", "team", "alice", bare_pod(), NULL);
    struct mason_admission_outcome out;
    json_t *response =
        run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_AUDIT, body, &out);
    const char *audit = json_string_value(
        json_object_get(json_object_get(response, "auditAnnotations"), "policy-violations"));

    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_non_null(audit);
    assert_non_null(strstr(audit, "spec.securityContext.fsGroup"));
    assert_null(json_object_get(response, "warnings"));
    assert_string_equal(out.decision, "audited");
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

/* Checks that both pod endpoints exempt pod, which is stolen. */
static void assert_exempt(struct fixture *f, const char *namespace, const char *username,
                          json_t *pod)
{
    char *body = review_text("", "Pod", "CREATE", namespace, username, json_deep_copy(pod), NULL);
    struct mason_admission_outcome out;
    json_t *response = run_review(f, MASON_ENDPOINT_MUTATE_PODS, MASON_MODE_ENFORCE, body, &out);

    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_null(json_object_get(response, "patch"));
    assert_string_equal(out.decision, "exempt");
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);

    body = review_text("", "Pod", "CREATE", namespace, username, pod, NULL);
    response = run_review(f, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_ENFORCE, body, &out);
    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_string_equal(out.decision, "exempt");
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void exemptions_skip_pods(void **state)
{
    json_t *kata = bare_pod();

    json_object_set_new(json_object_get(kata, "spec"), "runtimeClassName",
                        json_string("kata-privileged"));
    assert_exempt(*state, "kube-system", "alice", bare_pod());
    assert_exempt(*state, "infra", "alice", bare_pod());
    assert_exempt(*state, "mason-system", "alice", bare_pod());
    assert_exempt(*state, "team", "system:serviceaccount:infra:deployer", bare_pod());
    assert_exempt(*state, "team", "alice", kata);
}

static void default_config_exempts_kube_system(void **state)
{
    struct mason_webhook_config cfg;
    struct mason_buf err = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_webhook_config_parse(NULL, &cfg, &err), 0);
    assert_true(mason_string_list_contains(&cfg.exempt_namespaces, "kube-system"));
    assert_int_equal(cfg.default_mode, MASON_MODE_ENFORCE);
    assert_string_equal(cfg.listen, "127.0.0.1:8443");
    mason_webhook_config_release(&cfg);
    mason_buf_release(&err);
}

static void pod_update_is_not_checked(void **state)
{
    char *body = review_text("", "Pod", "UPDATE", "team", "alice", bare_pod(), bare_pod());
    struct mason_admission_outcome out;
    json_t *response =
        run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_ENFORCE, body, &out);

    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_string_equal(out.decision, "allowed");
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void ephemeral_update_patches_only_ephemeral(void **state)
{
    json_t *pod = bare_pod();
    json_t *review, *response, *patch;
    struct mason_admission_outcome out;
    char *body;

    json_object_set_new(json_object_get(pod, "spec"), "ephemeralContainers",
                        json_pack("[{s:s, s:s}]", "name", "debug", "image", "busybox"));
    body = review_text("", "Pod", "UPDATE", "team", "alice", pod, bare_pod());
    review = json_loads(body, 0, NULL);
    json_object_set_new(json_object_get(review, "request"), "subResource",
                        json_string("ephemeralcontainers"));
    free(body);
    body = json_dumps(review, JSON_COMPACT);
    response = run_review(*state, MASON_ENDPOINT_MUTATE_PODS, MASON_MODE_ENFORCE, body, &out);
    patch = decode_patch(response);
    assert_int_equal(json_array_size(patch), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "path")),
                        "/spec/ephemeralContainers/0/securityContext");
    json_decref(patch);
    json_decref(response);
    json_decref(review);
    mason_admission_outcome_release(&out);
    free(body);
}

static void other_kinds_are_allowed(void **state)
{
    json_t *cm = json_pack("{s:{s:s}}", "metadata", "name", "cm");
    char *body = review_text("", "ConfigMap", "CREATE", "team", "alice", cm, NULL);
    struct mason_admission_outcome out;
    json_t *response =
        run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_ENFORCE, body, &out);

    assert_true(json_is_true(json_object_get(response, "allowed")));
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void dry_run_gives_same_decision(void **state)
{
    json_t *review;
    char *body = review_text("", "Pod", "CREATE", "team", "alice", bare_pod(), NULL);
    struct mason_admission_outcome out;
    json_t *response;

    review = json_loads(body, 0, NULL);
    json_object_set_new(json_object_get(review, "request"), "dryRun", json_true());
    free(body);
    body = json_dumps(review, JSON_COMPACT);
    response = run_review(*state, MASON_ENDPOINT_VALIDATE_PODS, MASON_MODE_ENFORCE, body, &out);
    assert_true(out.dry_run);
    assert_true(json_is_false(json_object_get(response, "allowed")));
    json_decref(response);
    json_decref(review);
    mason_admission_outcome_release(&out);
    free(body);
}

static void malformed_reviews_get_400(void **state)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[]",
        "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\",\"request\":{}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"operation\":\"CREATE\",\"kind\":{\"kind\":\"Pod\"}}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"kind\":{\"kind\":\"Pod\"}}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\",\"kind\":{\"kind\":\"Pod\"},\"object\":[]}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"apiVersion\":\"x\",\"kind\":\"AdmissionReview\"}",
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct mason_admission_outcome out;

        mason_admission_outcome_init(&out);
        assert_int_equal(mason_admission_review(&f->admission, MASON_ENDPOINT_VALIDATE_PODS,
                                                MASON_MODE_ENFORCE, bodies[i], strlen(bodies[i]),
                                                &out),
                         0);
        assert_int_equal(out.http_status, 400);
        assert_string_equal(out.decision, "invalid");
        assert_non_null(strstr(mason_buf_str(&out.body), "invalid AdmissionReview"));
        mason_admission_outcome_release(&out);
    }
}

static void uid_longer_than_cap_rejected(void **state)
{
    struct fixture *f = *state;
    struct mason_buf body = MASON_BUF_INIT;
    struct mason_admission_outcome out;

    mason_buf_adds(
        &body,
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"");
    for (int i = 0; i < MASON_ADMISSION_UID_MAX + 1; i++)
        mason_buf_adds(&body, "a");
    mason_buf_adds(&body, "\",\"operation\":\"CREATE\",\"kind\":{\"kind\":\"Pod\"}}}");
    mason_admission_outcome_init(&out);
    assert_int_equal(mason_admission_review(&f->admission, MASON_ENDPOINT_VALIDATE_PODS,
                                            MASON_MODE_ENFORCE, body.data, body.len, &out),
                     0);
    assert_int_equal(out.http_status, 400);
    mason_admission_outcome_release(&out);
    mason_buf_release(&body);
}

static json_t *task_with_env(json_t *env)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:o}}", "apiVersion", "mason.dev/v1alpha1",
                     "kind", "AgentTask", "metadata", "name", "fix-bug", "spec", "prompt", "fix it",
                     "env", env);
}

/* Validates a task with one env entry; returns the denial message or NULL (free it). */
static char *agenttask_denial(struct fixture *f, json_t *entry)
{
    char *body = review_text("mason.dev", "AgentTask", "CREATE", "team", "alice",
                             task_with_env(json_pack("[o]", entry)), NULL);
    struct mason_admission_outcome out;
    json_t *response =
        run_review(f, MASON_ENDPOINT_VALIDATE_AGENTTASKS, MASON_MODE_ENFORCE, body, &out);
    const char *message =
        json_string_value(json_object_get(json_object_get(response, "status"), "message"));
    char *copy = NULL;

    if (json_is_false(json_object_get(response, "allowed"))) {
        assert_non_null(message);
        copy = strdup(message);
    }
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
    return copy;
}

static void agenttask_blocked_env_denied(void **state)
{
    char *message =
        agenttask_denial(*state, json_pack("{s:s, s:s}", "name", "AWS_SECRET_ACCESS_KEY",
                                           "secretRef", "aws-sm://prod/aws#secret"));

    assert_non_null(message);
    assert_non_null(strstr(message, "AWS_SECRET_ACCESS_KEY"));
    assert_non_null(strstr(message, "blocked"));
    free(message);
    message = agenttask_denial(*state,
                               json_pack("{s:s, s:s}", "name", "AWS_REGION", "value", "us-east-1"));
    assert_non_null(message);
    assert_non_null(strstr(message, "AWS_REGION"));
    free(message);
}

static void agenttask_credential_literal_denied(void **state)
{
    const char *secret = "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char *message = agenttask_denial(
        *state, json_pack("{s:s, s:s}", "name", "ANTHROPIC_API_KEY", "value", secret));

    assert_non_null(message);
    assert_non_null(strstr(message, "an Anthropic API key"));
    assert_non_null(strstr(message, "secretRef"));
    assert_null(strstr(message, secret));
    assert_null(strstr(message, "AAAAAAAAAA"));
    free(message);
}

static void agenttask_scheme_rules(void **state)
{
    char *message;

    message = agenttask_denial(
        *state, json_pack("{s:s, s:s}", "name", "TOKEN", "secretRef", "legacy://ci/token"));
    assert_non_null(message);
    assert_non_null(strstr(message, "SecretSchemeNotAllowed"));
    free(message);
    message = agenttask_denial(
        *state, json_pack("{s:s, s:s}", "name", "TOKEN", "secretRef", "gcp://ci/token"));
    assert_non_null(message);
    assert_non_null(strstr(message, "no backend"));
    free(message);
    message = agenttask_denial(*state,
                               json_pack("{s:s, s:s}", "name", "TOKEN", "secretRef", "no-scheme"));
    assert_non_null(message);
    free(message);
    message = agenttask_denial(*state, json_pack("{s:s, s:s}", "name", "DB_PASSWORD", "secretRef",
                                                 "aws-sm://prod/db#password"));
    assert_null(message);
    message =
        agenttask_denial(*state, json_pack("{s:s, s:s}", "name", "LOG_LEVEL", "value", "debug"));
    assert_null(message);
}

static void credential_kinds_detected(void **state)
{
    static const struct {
        const char *value;
        const char *kind;
    } cases[] = {
        {"sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", "an Anthropic API key"},
        {"Bearer sk-proj-abcdefghijklmnopqrstuvwxyz", "an OpenAI API key"},
        {"AKIAIOSFODNN7EXAMPLE", "an AWS access key ID"},
        {"ASIAY34FZKBOKMUTVV7A", "an AWS temporary access key ID"},
        {"ghp_0123456789abcdefghijklmnopqrstuvwxyz", "a GitHub token"},
        {"github_pat_11ABCDEFG0123456789_abcdefghij", "a GitHub token"},
        {"glpat-abcdefghij0123456789", "a GitLab token"},
        {"-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "a PEM private key"},
        {"-----BEGIN OPENSSH PRIVATE KEY-----", "a PEM private key"},
        {"us-east-1", NULL},
        {"sk-short", NULL},
        {"desk-0123456789abcdefghijklmnopqrstuvwxyz", NULL},
        {"AKIA-not-a-key", NULL},
        {"-----BEGIN CERTIFICATE-----", NULL},
        {"", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *kind = mason_agenttask_credential_kind(cases[i].value);

        if (cases[i].kind)
            assert_string_equal(kind, cases[i].kind);
        else
            assert_null(kind);
    }
}

static json_t *annotated_task(const char *approval, const char *approved_by)
{
    json_t *task = task_with_env(json_array());
    json_t *annotations = json_object();

    if (approval)
        json_object_set_new(annotations, MASON_APPROVAL_ANNOTATION, json_string(approval));
    if (approved_by)
        json_object_set_new(annotations, MASON_APPROVED_BY_ANNOTATION, json_string(approved_by));
    if (json_object_size(annotations))
        json_object_set(json_object_get(task, "metadata"), "annotations", annotations);
    json_decref(annotations);
    return task;
}

static void approval_records_user(void **state)
{
    json_t *task = annotated_task("continue", NULL);
    json_t *old = annotated_task(NULL, NULL);
    json_t *patch = mason_agenttask_approval_patch(task, old, "alice@example.com", false);
    json_t *op = json_array_get(patch, 0);

    (void)state;
    assert_int_equal(json_array_size(patch), 1);
    assert_string_equal(json_string_value(json_object_get(op, "op")), "add");
    assert_string_equal(json_string_value(json_object_get(op, "path")),
                        "/metadata/annotations/mason.dev~1approved-by");
    assert_string_equal(json_string_value(json_object_get(op, "value")), "alice@example.com");
    json_decref(patch);
    json_decref(task);
    json_decref(old);
}

static void approval_unchanged_gives_empty_patch(void **state)
{
    json_t *task = annotated_task("continue", "alice");
    json_t *old = annotated_task("continue", "alice");
    json_t *patch = mason_agenttask_approval_patch(task, old, "bob", false);

    (void)state;
    assert_int_equal(json_array_size(patch), 0);
    json_decref(patch);
    json_decref(task);
    json_decref(old);
}

static void approval_spoofed_user_restored(void **state)
{
    json_t *task = annotated_task("continue", "mallory-claims-alice");
    json_t *old = annotated_task("continue", "alice");
    json_t *patch = mason_agenttask_approval_patch(task, old, "mallory", false);
    json_t *op = json_array_get(patch, 0);

    (void)state;
    assert_int_equal(json_array_size(patch), 1);
    assert_string_equal(json_string_value(json_object_get(op, "op")), "add");
    assert_string_equal(json_string_value(json_object_get(op, "value")), "alice");
    json_decref(patch);
    json_decref(task);
    json_decref(old);
}

static void approval_recorder_keeps_decider(void **state)
{
    json_t *task = annotated_task("continue", "slack:alice (U1)");
    json_t *old = annotated_task(NULL, NULL);
    json_t *patch = mason_agenttask_approval_patch(task, old, "system:serviceaccount:x:y", true);

    (void)state;
    assert_int_equal(json_array_size(patch), 0);
    json_decref(patch);
    json_decref(task);
    json_decref(old);
}

static void approval_cleared_with_decider(void **state)
{
    json_t *task = annotated_task(NULL, NULL);
    json_t *old = annotated_task("continue", "alice");
    json_t *patch = mason_agenttask_approval_patch(task, old, "bob", false);

    (void)state;
    assert_int_equal(json_array_size(patch), 0);
    json_decref(patch);
    json_decref(task);
    json_decref(old);
}

static void approval_value_checked(void **state)
{
    static const struct {
        const char *value, *old_value;
        int rc;
    } cases[] = {
        {"continue", NULL, 0},
        {"stop", "continue", 0},
        {NULL, "maybe", 0},
        {"maybe", "maybe", 0}, /* unchanged: other edits of the task go through */
        {"maybe", NULL, MASON_EINVAL},
        {"Continue", "stop", MASON_EINVAL},
        {"", NULL, MASON_EINVAL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *task = annotated_task(cases[i].value, NULL);
        json_t *old = annotated_task(cases[i].old_value, NULL);
        struct mason_buf message = MASON_BUF_INIT;

        assert_int_equal(mason_agenttask_check_approval(task, old, &message), cases[i].rc);
        if (cases[i].rc) {
            assert_non_null(strstr(mason_buf_str(&message), cases[i].value));
            assert_non_null(strstr(mason_buf_str(&message), "use continue or stop"));
        } else {
            assert_string_equal(mason_buf_str(&message), "");
        }
        mason_buf_release(&message);
        json_decref(task);
        json_decref(old);
    }
}

static void approval_forged_user_removed(void **state)
{
    json_t *task = annotated_task(NULL, "forged");
    json_t *old = annotated_task(NULL, NULL);
    json_t *patch = mason_agenttask_approval_patch(task, old, "mallory", false);
    json_t *op = json_array_get(patch, 0);

    (void)state;
    assert_int_equal(json_array_size(patch), 1);
    assert_string_equal(json_string_value(json_object_get(op, "op")), "remove");
    assert_string_equal(json_string_value(json_object_get(op, "path")),
                        "/metadata/annotations/mason.dev~1approved-by");
    json_decref(patch);
    json_decref(task);
    json_decref(old);
}

static void approval_recorded_through_review(void **state)
{
    json_t *task = annotated_task(NULL, NULL);
    json_t *old = annotated_task(NULL, NULL);
    char *body;
    struct mason_admission_outcome out;
    json_t *response, *patch;

    json_object_del(json_object_get(task, "metadata"), "annotations");
    json_object_set_new(json_object_get(task, "metadata"), "annotations",
                        json_pack("{s:s}", MASON_APPROVAL_ANNOTATION, "stop"));
    body = review_text("mason.dev", "AgentTask", "UPDATE", "team", "kubectl-user", task, old);
    response = run_review(*state, MASON_ENDPOINT_MUTATE_AGENTTASKS, MASON_MODE_ENFORCE, body, &out);
    patch = decode_patch(response);
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "value")),
                        "kubectl-user");
    assert_string_equal(out.decision, "patched");
    json_decref(patch);
    json_decref(response);
    mason_admission_outcome_release(&out);
    free(body);
}

static void config_rejects_unknown_keys(void **state)
{
    static const struct {
        const char *yaml;
        const char *expected;
    } cases[] = {
        {"listen: 127.0.0.1:9443\nport: 1\n", "port: unknown key"},
        {"default_mode: block\n", "default_mode"},
        {"exemptions: {users: [a]}\n", "exemptions.users"},
        {"threads: 0\n", "threads: must be an integer from 1"},
        {"tls: {cert: a}\n", "tls.cert"},
        {"exemptions: {namespaces: [1]}\n", "exemptions.namespaces[0]"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mason_webhook_config cfg;
        struct mason_buf err = MASON_BUF_INIT;
        json_t *root = NULL;

        assert_int_equal(mason_yaml_to_json(cases[i].yaml, strlen(cases[i].yaml), &root, &err), 0);
        assert_int_equal(mason_webhook_config_parse(root, &cfg, &err), MASON_ECONFIG);
        assert_non_null(strstr(mason_buf_str(&err), cases[i].expected));
        json_decref(root);
        mason_buf_release(&err);
    }
}

static void config_reads_every_key(void **state)
{
    static const char yaml[] = "listen: '[::1]:9443'\n"
                               "tls: {cert_file: /tls/tls.crt, key_file: /tls/tls.key}\n"
                               "namespace: mason-system\n"
                               "default_mode: warn\n"
                               "max_body_bytes: 65536\n"
                               "request_timeout_seconds: 3\n"
                               "threads: 8\n"
                               "log_level: debug\n";
    struct mason_webhook_config cfg;
    struct mason_buf err = MASON_BUF_INIT;
    json_t *root = NULL;

    (void)state;
    assert_int_equal(mason_yaml_to_json(yaml, strlen(yaml), &root, &err), 0);
    assert_int_equal(mason_webhook_config_parse(root, &cfg, &err), 0);
    assert_string_equal(cfg.listen, "[::1]:9443");
    assert_string_equal(cfg.cert_file, "/tls/tls.crt");
    assert_string_equal(cfg.key_file, "/tls/tls.key");
    assert_string_equal(cfg.namespace, "mason-system");
    assert_int_equal(cfg.default_mode, MASON_MODE_WARN);
    assert_int_equal(cfg.max_body_bytes, 65536);
    assert_int_equal(cfg.request_timeout_seconds, 3);
    assert_int_equal(cfg.threads, 8);
    assert_string_equal(cfg.log_level, "debug");
    mason_webhook_config_release(&cfg);
    json_decref(root);
    mason_buf_release(&err);
}

static void metrics_render_counters_and_histogram(void **state)
{
    struct mason_metrics *m = mason_metrics_create();
    struct mason_buf out = MASON_BUF_INIT;
    const char *text;

    (void)state;
    assert_non_null(m);
    mason_metrics_observe(m, "validate_pods", "CREATE", "denied", 0.0004);
    mason_metrics_observe(m, "validate_pods", "CREATE", "denied", 0.002);
    mason_metrics_observe(m, "validate_pods", "bad\"label", "allowed", 0.0001);
    assert_int_equal(mason_metrics_render(m, &out), 0);
    text = mason_buf_str(&out);
    assert_non_null(strstr(text, "# TYPE mason_webhook_requests_total counter"));
    assert_non_null(strstr(
        text,
        "mason_webhook_requests_total{endpoint=\"validate_pods\",operation=\"CREATE\",decision=\"denied\"} 2"));
    assert_non_null(strstr(text, "operation=\"unknown\",decision=\"allowed\"} 1"));
    assert_null(strstr(text, "bad\""));
    assert_non_null(strstr(
        text,
        "mason_webhook_request_duration_seconds_bucket{endpoint=\"validate_pods\",le=\"0.0005\"} 2"));
    assert_non_null(strstr(
        text,
        "mason_webhook_request_duration_seconds_bucket{endpoint=\"validate_pods\",le=\"+Inf\"} 3"));
    assert_non_null(
        strstr(text, "mason_webhook_request_duration_seconds_count{endpoint=\"validate_pods\"} 3"));
    mason_buf_release(&out);
    mason_metrics_free(m);
}

static void listen_addresses_parsed(void **state)
{
    struct sockaddr_storage addr;
    struct mason_buf err = MASON_BUF_INIT;
    static const char *const bad[] = {"127.0.0.1", "localhost:8443", "127.0.0.1:70000",
                                      ":8443",     "127.0.0.1:",     "[::1:8443"};

    (void)state;
    assert_int_equal(mason_server_parse_listen("127.0.0.1:8443", &addr, &err), 0);
    assert_int_equal(addr.ss_family, AF_INET);
    assert_int_equal(mason_server_parse_listen("[::1]:0", &addr, &err), 0);
    assert_int_equal(addr.ss_family, AF_INET6);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mason_buf_reset(&err);
        assert_int_equal(mason_server_parse_listen(bad[i], &addr, &err), MASON_EINVAL);
        assert_true(err.len > 0);
    }
    mason_buf_release(&err);
}

static void tls_stamp_changes_with_files(void **state)
{
    char dir[] = "/tmp/mason-tls-XXXXXX";
    struct mason_buf cert = MASON_BUF_INIT, key = MASON_BUF_INIT, err = MASON_BUF_INIT;
    struct mason_buf data = MASON_BUF_INIT;
    struct mason_tls_stamp before, after;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    mason_buf_addf(&cert, "%s/tls.crt", dir);
    mason_buf_addf(&key, "%s/tls.key", dir);
    assert_int_equal(mason_tls_stamp_take(cert.data, key.data, &before, &err), MASON_EIO);
    assert_non_null(strstr(mason_buf_str(&err), "tls.crt"));
    f = fopen(cert.data, "w");
    fputs("cert one\n", f);
    fclose(f);
    f = fopen(key.data, "w");
    fputs("key one\n", f);
    fclose(f);
    assert_int_equal(mason_tls_stamp_take(cert.data, key.data, &before, &err), 0);
    assert_int_equal(mason_tls_stamp_take(cert.data, key.data, &after, &err), 0);
    assert_true(mason_tls_stamp_equal(&before, &after));
    f = fopen(cert.data, "w");
    fputs("certificate two, longer\n", f);
    fclose(f);
    assert_int_equal(mason_tls_stamp_take(cert.data, key.data, &after, &err), 0);
    assert_false(mason_tls_stamp_equal(&before, &after));
    assert_int_equal(mason_tls_read_file(cert.data, &data, &err), 0);
    assert_string_equal(mason_buf_str(&data), "certificate two, longer\n");
    unlink(cert.data);
    unlink(key.data);
    rmdir(dir);
    mason_buf_release(&data);
    mason_buf_release(&cert);
    mason_buf_release(&key);
    mason_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(mutate_pods_returns_base64_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(validate_enforce_denies_with_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(validate_warn_allows_short_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(validate_warn_caps_warning_count, setup, teardown),
        cmocka_unit_test_setup_teardown(validate_audit_adds_annotation, setup, teardown),
        cmocka_unit_test_setup_teardown(exemptions_skip_pods, setup, teardown),
        cmocka_unit_test(default_config_exempts_kube_system),
        cmocka_unit_test_setup_teardown(pod_update_is_not_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(ephemeral_update_patches_only_ephemeral, setup, teardown),
        cmocka_unit_test_setup_teardown(other_kinds_are_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(dry_run_gives_same_decision, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_reviews_get_400, setup, teardown),
        cmocka_unit_test_setup_teardown(uid_longer_than_cap_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(agenttask_blocked_env_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(agenttask_credential_literal_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(agenttask_scheme_rules, setup, teardown),
        cmocka_unit_test(credential_kinds_detected),
        cmocka_unit_test(approval_records_user),
        cmocka_unit_test(approval_unchanged_gives_empty_patch),
        cmocka_unit_test(approval_spoofed_user_restored),
        cmocka_unit_test(approval_forged_user_removed),
        cmocka_unit_test(approval_value_checked),
        cmocka_unit_test(approval_recorder_keeps_decider),
        cmocka_unit_test(approval_cleared_with_decider),
        cmocka_unit_test_setup_teardown(approval_recorded_through_review, setup, teardown),
        cmocka_unit_test(config_rejects_unknown_keys),
        cmocka_unit_test(config_reads_every_key),
        cmocka_unit_test(metrics_render_counters_and_histogram),
        cmocka_unit_test(listen_addresses_parsed),
        cmocka_unit_test(tls_stamp_changes_with_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
