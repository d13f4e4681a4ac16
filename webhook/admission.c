/* AdmissionReview v1 parsing, decisions and responses (see admission.h). */
#include "admission.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agenttask.h"
#include "error.h"
#include "patch.h"
#include "policy.h"
#include "banned.h"

#define REVIEW_API_VERSION "admission.k8s.io/v1"

static const char *const endpoint_names[MASON_ENDPOINT_COUNT] = {
    "mutate_pods", "validate_pods", "mutate_agenttasks", "validate_agenttasks"};

/* The fields of request that the decisions use; all borrowed from the parsed review. */
struct review {
    const char *uid;
    const char *operation;
    const char *namespace;
    const char *username;
    const char *group;
    const char *kind;
    const char *sub_resource;
    const json_t *object;
    const json_t *old_object;
};

/* The response under construction. */
struct response {
    bool allowed;
    const char *message; /* denial message */
    json_t *patch;       /* owned; NULL or empty for none */
    json_t *warnings;    /* owned array, or NULL */
    char *audit;         /* owned text of the policy-violations audit annotation, or NULL */
};

const char *mason_endpoint_name(enum mason_endpoint endpoint)
{
    return (unsigned)endpoint < MASON_ENDPOINT_COUNT ? endpoint_names[endpoint] : "unknown";
}

void mason_admission_outcome_init(struct mason_admission_outcome *out)
{
    memset(out, 0, sizeof(*out));
    mason_buf_init(&out->body, 0);
    out->decision = "invalid";
}

void mason_admission_outcome_release(struct mason_admission_outcome *out)
{
    mason_buf_release(&out->body);
}

/* Copies src into dst, cut to fit on a UTF-8 character boundary. */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t len = src ? strnlen(src, size - 1) : 0;

    if (src && src[len] != '\0')
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    memcpy(dst, src ? src : "", len);
    dst[len] = '\0';
}

static int invalid(struct mason_admission_outcome *out, const char *reason)
{
    out->http_status = 400;
    out->decision = "invalid";
    mason_buf_reset(&out->body);
    return mason_buf_addf(&out->body, "invalid AdmissionReview: %s\n", reason);
}

static bool string_is(const json_t *value, const char *expected)
{
    const char *s = json_string_value(value);

    return s && !strcmp(s, expected);
}

/* Reads the request fields into r. Returns NULL, or the reason the review is invalid. */
static const char *parse_request(const json_t *root, struct review *r)
{
    const json_t *req = json_object_get(root, "request");
    const json_t *kind = json_object_get(req, "kind");

    if (!json_is_object(root))
        return "the body is not a JSON object";
    if (!string_is(json_object_get(root, "apiVersion"), REVIEW_API_VERSION))
        return "apiVersion must be admission.k8s.io/v1";
    if (!string_is(json_object_get(root, "kind"), "AdmissionReview"))
        return "kind must be AdmissionReview";
    if (!json_is_object(req))
        return "request is missing";
    r->uid = json_string_value(json_object_get(req, "uid"));
    if (!r->uid || !*r->uid || strlen(r->uid) > MASON_ADMISSION_UID_MAX)
        return "request.uid is missing or longer than 128 characters";
    r->operation = json_string_value(json_object_get(req, "operation"));
    if (!r->operation)
        return "request.operation is missing";
    r->group = json_string_value(json_object_get(kind, "group"));
    r->kind = json_string_value(json_object_get(kind, "kind"));
    if (!r->kind)
        return "request.kind.kind is missing";
    r->namespace = json_string_value(json_object_get(req, "namespace"));
    r->username = json_string_value(json_object_get(json_object_get(req, "userInfo"), "username"));
    r->sub_resource = json_string_value(json_object_get(req, "subResource"));
    r->object = json_object_get(req, "object");
    r->old_object = json_object_get(req, "oldObject");
    if (r->object && !json_is_object(r->object) && !json_is_null(r->object))
        return "request.object must be an object";
    return NULL;
}

static json_t *base64_string(const char *data, size_t len)
{
    size_t size = 4 * ((len + 2) / 3) + 1;
    unsigned char *encoded = malloc(size);
    json_t *s;

    if (!encoded)
        return NULL;
    EVP_EncodeBlock(encoded, (const unsigned char *)data, (int)len);
    s = json_string((const char *)encoded);
    free(encoded);
    return s;
}

static int add_patch(json_t *response, const json_t *patch)
{
    char *text = json_dumps(patch, JSON_COMPACT);
    json_t *encoded = text ? base64_string(text, strlen(text)) : NULL;
    int rc = MASON_ENOMEM;

    if (encoded && !json_object_set_new(response, "patch", encoded)) {
        encoded = NULL;
        rc =
            json_object_set_new(response, "patchType", json_string("JSONPatch")) ? MASON_ENOMEM : 0;
    }
    json_decref(encoded);
    free(text);
    return rc;
}

/* Builds the response review of r from resp into out->body. */
static int write_response(const json_t *root, const struct review *r, const struct response *resp,
                          struct mason_admission_outcome *out)
{
    json_t *response = json_pack("{s:s, s:b}", "uid", r->uid, "allowed", resp->allowed);
    json_t *review = NULL;
    char *text = NULL;
    int rc = response ? 0 : MASON_ENOMEM;

    if (!rc && !resp->allowed)
        rc = json_object_set_new(response, "status",
                                 json_pack("{s:i, s:s, s:s}", "code", 403, "reason", "Forbidden",
                                           "message", resp->message))
                 ? MASON_ENOMEM
                 : 0;
    if (!rc && json_array_size(resp->patch))
        rc = add_patch(response, resp->patch);
    if (!rc && json_array_size(resp->warnings))
        rc = json_object_set(response, "warnings", resp->warnings) ? MASON_ENOMEM : 0;
    if (!rc && resp->audit)
        rc = json_object_set_new(response, "auditAnnotations",
                                 json_pack("{s:s}", "policy-violations", resp->audit))
                 ? MASON_ENOMEM
                 : 0;
    if (!rc)
        review = json_pack("{s:O, s:s, s:O}", "apiVersion", json_object_get(root, "apiVersion"),
                           "kind", "AdmissionReview", "response", response);
    text = review ? json_dumps(review, JSON_COMPACT) : NULL;
    if (!rc)
        rc = text ? mason_buf_adds(&out->body, text) : MASON_ENOMEM;
    free(text);
    json_decref(review);
    json_decref(response);
    out->http_status = 200;
    return rc;
}

static bool is_pod(const struct review *r)
{
    return (!r->group || !*r->group) && !strcmp(r->kind, "Pod");
}

static bool is_agenttask(const struct review *r)
{
    return r->group && !strcmp(r->group, "mason.dev") && !strcmp(r->kind, "AgentTask");
}

/*
 * Returns the decision for a pod request outside the webhook's scope: "allowed"
 * for anything but a pod create or an ephemeral container update, "exempt" by
 * namespace, user or runtime class. Returns NULL for a request in scope.
 */
static const char *pod_skip_reason(const struct mason_webhook_config *cfg, const struct review *r)
{
    const char *runtime_class =
        json_string_value(json_object_get(json_object_get(r->object, "spec"), "runtimeClassName"));
    bool ephemeral = r->sub_resource && !strcmp(r->sub_resource, "ephemeralcontainers");

    if (!is_pod(r) || !json_is_object(r->object))
        return "allowed";
    if (strcmp(r->operation, "CREATE") && !(ephemeral && !strcmp(r->operation, "UPDATE")))
        return "allowed";
    if (r->sub_resource && *r->sub_resource && !ephemeral)
        return "allowed";
    if (r->namespace && cfg->namespace && !strcmp(r->namespace, cfg->namespace))
        return "exempt";
    if (mason_string_list_contains(&cfg->exempt_namespaces, r->namespace) ||
        mason_string_list_contains(&cfg->exempt_usernames, r->username) ||
        mason_string_list_contains(&cfg->exempt_runtime_classes, runtime_class))
        return "exempt";
    return NULL;
}

static int add_warnings(const struct mason_policy_report *report, struct response *resp)
{
    struct mason_buf text = MASON_BUF_INIT;
    size_t shown = report->count;
    int rc = 0;

    resp->warnings = json_array();
    if (!resp->warnings)
        return MASON_ENOMEM;
    if (shown > MASON_ADMISSION_MAX_WARNINGS)
        shown = MASON_ADMISSION_MAX_WARNINGS - 1;
    for (size_t i = 0; i < shown && !rc; i++) {
        mason_buf_reset(&text);
        rc = mason_policy_format_warning(&report->items[i], MASON_ADMISSION_WARNING_MAX, &text);
        if (!rc && json_array_append_new(resp->warnings, json_string(mason_buf_str(&text))))
            rc = MASON_ENOMEM;
    }
    if (!rc && shown < report->count) {
        mason_buf_reset(&text);
        rc = mason_buf_addf(&text, "and %zu more policy violations", report->count - shown);
        if (!rc && json_array_append_new(resp->warnings, json_string(mason_buf_str(&text))))
            rc = MASON_ENOMEM;
    }
    mason_buf_release(&text);
    return rc;
}

/* Applies mode to a pod's violations: deny, warn or annotate. */
static int decide_violations(const struct mason_policy_report *report, enum mason_mode mode,
                             const char *what, struct response *resp, struct mason_buf *message,
                             const char **decision)
{
    int rc = 0;

    if (mode == MASON_MODE_ENFORCE) {
        rc = mason_buf_addf(message, "%s violates the mason pod policy: ", what);
        if (!rc)
            rc = mason_policy_format_denial(report, MASON_ADMISSION_MESSAGE_MAX, message);
        resp->allowed = false;
        resp->message = mason_buf_str(message);
        *decision = "denied";
    } else if (mode == MASON_MODE_WARN) {
        rc = add_warnings(report, resp);
        *decision = "warned";
    } else {
        rc = mason_policy_format_denial(report, MASON_ADMISSION_MESSAGE_MAX, message);
        resp->audit = rc ? NULL : strdup(mason_buf_str(message));
        rc = rc ? rc : (resp->audit ? 0 : MASON_ENOMEM);
        *decision = "audited";
    }
    return rc;
}

static void describe(const struct review *r, struct mason_buf *what)
{
    const json_t *metadata = json_object_get(r->object, "metadata");
    const char *name = json_string_value(json_object_get(metadata, "name"));
    const char *generate = json_string_value(json_object_get(metadata, "generateName"));

    if (name)
        mason_buf_addf(what, "%s %s", r->kind, name);
    else if (generate)
        mason_buf_addf(what, "%s %s*", r->kind, generate);
    else
        mason_buf_addf(what, "%s", r->kind);
}

static int decide(const struct mason_admission *a, enum mason_endpoint endpoint,
                  enum mason_mode mode, const struct review *r, struct response *resp,
                  struct mason_buf *message, const char **decision)
{
    struct mason_policy_report report;
    struct mason_buf what = MASON_BUF_INIT;
    const char *skip;
    int rc = 0;

    mason_policy_report_init(&report);
    resp->allowed = true;
    *decision = "allowed";
    describe(r, &what);
    switch (endpoint) {
    case MASON_ENDPOINT_MUTATE_PODS:
        if ((skip = pod_skip_reason(a->cfg, r)) != NULL) {
            *decision = skip;
            break;
        }
        resp->patch =
            mason_patch_pod(r->object, strcmp(r->operation, "UPDATE") ? MASON_PATCH_POD
                                                                      : MASON_PATCH_EPHEMERAL_ONLY);
        rc = resp->patch ? 0 : MASON_ENOMEM;
        if (json_array_size(resp->patch))
            *decision = "patched";
        break;
    case MASON_ENDPOINT_VALIDATE_PODS:
        if ((skip = pod_skip_reason(a->cfg, r)) != NULL) {
            *decision = skip;
            break;
        }
        rc = mason_policy_check_pod(r->object, &report);
        if (!rc && report.count)
            rc = decide_violations(&report, mode, mason_buf_str(&what), resp, message, decision);
        break;
    case MASON_ENDPOINT_MUTATE_AGENTTASKS:
        if (!is_agenttask(r) || !json_is_object(r->object) ||
            (strcmp(r->operation, "CREATE") && strcmp(r->operation, "UPDATE")))
            break;
        resp->patch = mason_agenttask_approval_patch(
            r->object, json_is_object(r->old_object) ? r->old_object : NULL, r->username,
            r->username && mason_string_list_contains(&a->cfg->approval_recorders, r->username));
        rc = resp->patch ? 0 : MASON_ENOMEM;
        if (json_array_size(resp->patch))
            *decision = "patched";
        break;
    case MASON_ENDPOINT_VALIDATE_AGENTTASKS:
        if (!is_agenttask(r) || !json_is_object(r->object) ||
            (strcmp(r->operation, "CREATE") && strcmp(r->operation, "UPDATE")))
            break;
        if (mason_agenttask_check_approval(
                r->object, json_is_object(r->old_object) ? r->old_object : NULL, message) != 0) {
            resp->allowed = false;
            resp->message = mason_buf_str(message);
            *decision = "denied";
            break;
        }
        rc = mason_agenttask_check(r->object, a->secrets, &report);
        if (!rc && report.count) {
            rc = mason_buf_addf(message, "%s breaks the secret policy: ", mason_buf_str(&what));
            if (!rc)
                rc = mason_policy_format_denial(&report, MASON_ADMISSION_MESSAGE_MAX, message);
            resp->allowed = false;
            resp->message = mason_buf_str(message);
            *decision = "denied";
        }
        break;
    default:
        rc = MASON_EINVAL;
    }
    mason_policy_report_release(&report);
    mason_buf_release(&what);
    return rc;
}

static void record_ids(const struct review *r, const json_t *root,
                       struct mason_admission_outcome *out)
{
    const json_t *req = json_object_get(root, "request");
    const char *name = json_string_value(json_object_get(req, "name"));
    const json_t *metadata = json_object_get(r->object, "metadata");

    if (!name)
        name = json_string_value(json_object_get(metadata, "name"));
    if (!name)
        name = json_string_value(json_object_get(metadata, "generateName"));
    copy_field(out->uid, sizeof(out->uid), r->uid);
    copy_field(out->operation, sizeof(out->operation), r->operation);
    copy_field(out->namespace, sizeof(out->namespace), r->namespace);
    copy_field(out->name, sizeof(out->name), name);
    out->dry_run = json_is_true(json_object_get(req, "dryRun"));
}

int mason_admission_review(const struct mason_admission *a, enum mason_endpoint endpoint,
                           enum mason_mode mode, const char *body, size_t len,
                           struct mason_admission_outcome *out)
{
    struct review r = {0};
    struct response resp = {0};
    struct mason_buf message = MASON_BUF_INIT;
    const char *reason, *decision = "invalid";
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    int rc;

    reason = root ? parse_request(root, &r) : "the body is not valid JSON";
    if (reason) {
        json_decref(root);
        return invalid(out, reason);
    }
    record_ids(&r, root, out);
    rc = decide(a, endpoint, mode, &r, &resp, &message, &decision);
    if (!rc)
        rc = write_response(root, &r, &resp, out);
    out->decision = decision;
    if (!rc && !resp.allowed && resp.message)
        copy_field(out->message, sizeof(out->message), resp.message);
    json_decref(resp.patch);
    json_decref(resp.warnings);
    free(resp.audit);
    mason_buf_release(&message);
    json_decref(root);
    return rc;
}
