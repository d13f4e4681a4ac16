/* Paths, resource types and the typed verbs of the Kubernetes client. */
#include "kube.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kube_internal.h"
#include "banned.h"

#define KUBE_LIST_PAGE 500
#define KUBE_LIST_MAX_PAGES 100000 /* bounds a server that keeps returning continue tokens */

const struct mason_kube_resource MASON_KUBE_PODS = {"", "v1", "pods", "Pod", 1};
const struct mason_kube_resource MASON_KUBE_SECRETS = {"", "v1", "secrets", "Secret", 1};
const struct mason_kube_resource MASON_KUBE_EVENTS = {"", "v1", "events", "Event", 1};
const struct mason_kube_resource MASON_KUBE_NAMESPACES = {"", "v1", "namespaces", "Namespace", 0};
const struct mason_kube_resource MASON_KUBE_PVCS = {"", "v1", "persistentvolumeclaims",
                                                    "PersistentVolumeClaim", 1};
const struct mason_kube_resource MASON_KUBE_JOBS = {"batch", "v1", "jobs", "Job", 1};
const struct mason_kube_resource MASON_KUBE_NETWORKPOLICIES = {
    "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", 1};
const struct mason_kube_resource MASON_KUBE_LEASES = {"coordination.k8s.io", "v1", "leases",
                                                      "Lease", 1};
const struct mason_kube_resource MASON_KUBE_AGENTTASKS = {"mason.dev", "v1alpha1", "agenttasks",
                                                          "AgentTask", 1};
const struct mason_kube_resource MASON_KUBE_AGENTSESSIONS = {"mason.dev", "v1alpha1",
                                                             "agentsessions", "AgentSession", 1};

int mason_kube_escape(struct mason_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int err = 0;

    for (; *s && !err; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            err = mason_buf_add(out, s, 1);
        else
            err = mason_buf_addf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
    return err;
}

/* Appends "/" and an escaped segment. "." and ".." would be resolved as dot segments. */
static int add_segment(struct mason_buf *out, const char *segment)
{
    int err;

    if (!*segment || strcmp(segment, ".") == 0 || strcmp(segment, "..") == 0)
        return MASON_EINVAL;
    err = mason_buf_adds(out, "/");
    return err ? err : mason_kube_escape(out, segment);
}

int mason_kube_path(struct mason_buf *out, const struct mason_kube_resource *res, const char *ns,
                    const char *name, const char *subresource)
{
    int err;

    if (!res->group || !*res->group)
        err = mason_buf_addf(out, "/api/%s", res->version);
    else
        err = mason_buf_addf(out, "/apis/%s/%s", res->group, res->version);
    if (!err && ns && res->namespaced) {
        err = mason_buf_adds(out, "/namespaces");
        if (!err)
            err = add_segment(out, ns);
    }
    if (!err)
        err = add_segment(out, res->plural);
    if (!err && name)
        err = add_segment(out, name);
    if (!err && subresource && name)
        err = add_segment(out, subresource);
    return err;
}

static int path_error(int rc, struct mason_buf *err)
{
    if (err)
        mason_buf_adds(err, rc == MASON_EINVAL ? "invalid namespace, name or subresource"
                                               : "request path too long");
    return rc;
}

static int parse_reply(const struct mason_buf *body, json_t **out, struct mason_buf *err)
{
    json_error_t jerr;

    if (!out)
        return 0;
    *out = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
    if (*out)
        return 0;
    if (err)
        mason_buf_addf(err, "reply is not valid JSON: %s", jerr.text);
    return MASON_EPARSE;
}

/* Sends a request whose reply is one JSON object and stores it in *out (may be NULL). */
static int send_json(struct mason_kube *kube, const struct kube_request *req, json_t **out,
                     struct mason_buf *err)
{
    struct mason_buf body;
    int rc;

    mason_buf_init(&body, MASON_KUBE_MAX_BODY);
    rc = kube_request_send(kube, req, &body, err);
    if (!rc)
        rc = parse_reply(&body, out, err);
    mason_buf_release(&body);
    return rc;
}

/* Like send_json with obj serialised as the body. */
static int send_object(struct mason_kube *kube, struct kube_request *req, json_t *obj, json_t **out,
                       struct mason_buf *err)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    int rc;

    if (!text)
        return MASON_ENOMEM;
    req->body = text;
    req->body_len = strlen(text);
    rc = send_json(kube, req, out, err);
    free(text);
    return rc;
}

int mason_kube_get(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                   const char *name, json_t **out, struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    struct kube_request req = {.method = "GET", .replayable = true};
    int rc;

    if (out)
        *out = NULL;
    rc = name ? mason_kube_path(&path, res, ns, name, NULL) : MASON_EINVAL;
    if (rc) {
        path_error(rc, err);
        goto out;
    }
    req.path = mason_buf_str(&path);
    rc = send_json(kube, &req, out, err);
out:
    mason_buf_release(&path);
    return rc;
}

int mason_kube_create_object(struct mason_kube *kube, const struct mason_kube_resource *res,
                             const char *ns, json_t *obj, json_t **out, struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    struct kube_request req = {.method = "POST", .content_type = "application/json"};
    int rc;

    if (out)
        *out = NULL;
    rc = mason_kube_path(&path, res, ns, NULL, NULL);
    if (rc) {
        path_error(rc, err);
        goto out;
    }
    req.path = mason_buf_str(&path);
    rc = send_object(kube, &req, obj, out, err);
out:
    mason_buf_release(&path);
    return rc;
}

int mason_kube_update(struct mason_kube *kube, const struct mason_kube_resource *res,
                      const char *ns, const char *name, const char *subresource, json_t *obj,
                      json_t **out, struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    struct kube_request req = {
        .method = "PUT", .content_type = "application/json", .replayable = true};
    int rc;

    if (out)
        *out = NULL;
    rc = name ? mason_kube_path(&path, res, ns, name, subresource) : MASON_EINVAL;
    if (rc) {
        path_error(rc, err);
        goto out;
    }
    req.path = mason_buf_str(&path);
    rc = send_object(kube, &req, obj, out, err);
out:
    mason_buf_release(&path);
    return rc;
}

static const char *patch_content_type(enum mason_kube_patch type)
{
    switch (type) {
    case MASON_KUBE_PATCH_JSON:
        return "application/json-patch+json";
    case MASON_KUBE_PATCH_APPLY:
        return "application/apply-patch+yaml";
    case MASON_KUBE_PATCH_MERGE:
    default:
        return "application/merge-patch+json";
    }
}

static int patch_path(struct mason_buf *path, const struct mason_kube_resource *res, const char *ns,
                      const char *name, const char *subresource, enum mason_kube_patch type,
                      const char *field_manager)
{
    int rc;

    if (!name || (type == MASON_KUBE_PATCH_APPLY && !field_manager))
        return MASON_EINVAL;
    rc = mason_kube_path(path, res, ns, name, subresource);
    if (!rc && field_manager) {
        rc = mason_buf_adds(path, "?fieldManager=");
        if (!rc)
            rc = mason_kube_escape(path, field_manager);
    }
    if (!rc && type == MASON_KUBE_PATCH_APPLY)
        rc = mason_buf_adds(path, "&force=true");
    return rc;
}

int mason_kube_patch(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                     const char *name, const char *subresource, enum mason_kube_patch type,
                     json_t *patch, const char *field_manager, json_t **out, struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    /* A JSON patch may append to a list, so sending it twice can change the object twice. */
    struct kube_request req = {.method = "PATCH",
                               .content_type = patch_content_type(type),
                               .replayable = type != MASON_KUBE_PATCH_JSON};
    int rc;

    if (out)
        *out = NULL;
    rc = patch_path(&path, res, ns, name, subresource, type, field_manager);
    if (rc) {
        path_error(rc, err);
        goto out;
    }
    req.path = mason_buf_str(&path);
    /* JSON is valid YAML, so an apply patch is sent as JSON too. */
    rc = send_object(kube, &req, patch, out, err);
out:
    mason_buf_release(&path);
    return rc;
}

int mason_kube_delete(struct mason_kube *kube, const struct mason_kube_resource *res,
                      const char *ns, const char *name, const char *propagation,
                      struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    struct kube_request req = {
        .method = "DELETE", .content_type = "application/json", .replayable = true};
    json_t *options = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    int rc;

    rc = options ? 0 : MASON_ENOMEM;
    if (!rc && propagation &&
        json_object_set_new(options, "propagationPolicy", json_string(propagation)))
        rc = MASON_EINVAL;
    if (!rc && (rc = name ? mason_kube_path(&path, res, ns, name, NULL) : MASON_EINVAL))
        path_error(rc, err);
    if (rc)
        goto out;
    req.path = mason_buf_str(&path);
    rc = send_object(kube, &req, options, NULL, err);
out:
    json_decref(options);
    mason_buf_release(&path);
    return rc;
}

int mason_kube_get_raw(struct mason_kube *kube, const char *path_and_query, struct mason_buf *out,
                       struct mason_buf *err)
{
    struct kube_request req = {.method = "GET", .path = path_and_query, .replayable = true};
    int rc;

    if (!out->cap)
        out->cap = MASON_KUBE_MAX_BODY;
    rc = kube_request_send(kube, &req, out, err);
    if (rc)
        mason_buf_reset(out); /* out holds only a successful body, never an error Status */
    return rc;
}

static int list_query(struct mason_buf *path, const struct mason_kube_list_opts *opts,
                      const char *cont)
{
    long limit = opts && opts->limit > 0 ? opts->limit : KUBE_LIST_PAGE;
    int rc = mason_buf_addf(path, "?limit=%ld", limit);

    if (!rc && opts && opts->label_selector && *opts->label_selector) {
        rc = mason_buf_adds(path, "&labelSelector=");
        rc = rc ? rc : mason_kube_escape(path, opts->label_selector);
    }
    if (!rc && opts && opts->field_selector && *opts->field_selector) {
        rc = mason_buf_adds(path, "&fieldSelector=");
        rc = rc ? rc : mason_kube_escape(path, opts->field_selector);
    }
    if (!rc && cont) {
        rc = mason_buf_adds(path, "&continue=");
        rc = rc ? rc : mason_kube_escape(path, cont);
    }
    return rc;
}

/* Moves the items of one list page into items, adding the apiVersion and kind that list
 * replies leave out of each item. */
static int take_items(const struct mason_kube_resource *res, json_t *page, json_t *items)
{
    json_t *item, *api_version;
    size_t i;

    if (*res->group)
        api_version = json_sprintf("%s/%s", res->group, res->version);
    else
        api_version = json_string(res->version);
    if (!api_version)
        return MASON_ENOMEM;
    json_array_foreach(json_object_get(page, "items"), i, item)
    {
        if (!json_is_object(item))
            continue;
        if (!json_object_get(item, "apiVersion"))
            json_object_set(item, "apiVersion", api_version);
        if (!json_object_get(item, "kind"))
            json_object_set_new(item, "kind", json_string(res->kind));
        if (json_array_append(items, item)) {
            json_decref(api_version);
            return MASON_ENOMEM;
        }
    }
    json_decref(api_version);
    return 0;
}

/* Fetches one page into items and returns its continue token in *cont (malloc'd or NULL). */
static int list_page(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                     const struct mason_kube_list_opts *opts, char **cont, json_t *items,
                     char **resource_version, struct mason_buf *err)
{
    struct mason_buf path = MASON_BUF_INIT;
    struct kube_request req = {.method = "GET", .replayable = true};
    json_t *page = NULL;
    const char *next, *rv;
    int rc = mason_kube_path(&path, res, ns, NULL, NULL);

    rc = rc ? rc : list_query(&path, opts, *cont);
    free(*cont);
    *cont = NULL;
    if (rc) {
        path_error(rc, err);
        goto out;
    }
    req.path = mason_buf_str(&path);
    rc = send_json(kube, &req, &page, err);
    if (!rc)
        rc = take_items(res, page, items);
    if (rc)
        goto out;
    next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
    rv = json_string_value(json_object_get(json_object_get(page, "metadata"), "resourceVersion"));
    if (next && *next && !(*cont = strdup(next)))
        rc = MASON_ENOMEM;
    if (rv && resource_version) {
        free(*resource_version);
        *resource_version = strdup(rv);
    }
out:
    json_decref(page);
    mason_buf_release(&path);
    return rc;
}

int mason_kube_list_each(struct mason_kube *kube, const struct mason_kube_resource *res,
                         const char *ns, const struct mason_kube_list_opts *opts,
                         int (*fn)(void *arg, json_t *item), void *arg, char **resource_version,
                         struct mason_buf *err)
{
    json_t *page = NULL, *item;
    char *cont = NULL, *rv = NULL;
    int rc = 0;
    int pages = 0;
    size_t i;

    if (resource_version)
        *resource_version = NULL;
    do {
        if (++pages > KUBE_LIST_MAX_PAGES) {
            rc = MASON_ETOOBIG;
            if (err)
                mason_buf_addf(err, "list of %s has more than %d pages", res->plural,
                               KUBE_LIST_MAX_PAGES);
            break;
        }
        page = json_array();
        rc = page ? list_page(kube, res, ns, opts, &cont, page, &rv, err) : MASON_ENOMEM;
        json_array_foreach(page, i, item)
        {
            if (!rc)
                rc = fn(arg, item);
        }
        json_decref(page);
    } while (!rc && cont);
    free(cont);
    if (rc) {
        free(rv);
        return rc;
    }
    if (resource_version)
        *resource_version = rv;
    else
        free(rv);
    return 0;
}

static int collect_item(void *arg, json_t *item)
{
    return json_array_append(arg, item) ? MASON_ENOMEM : 0;
}

int mason_kube_list(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                    const struct mason_kube_list_opts *opts, json_t **items,
                    char **resource_version, struct mason_buf *err)
{
    json_t *all = json_array();
    int rc;

    *items = NULL;
    if (resource_version)
        *resource_version = NULL;
    if (!all)
        return MASON_ENOMEM;
    rc = mason_kube_list_each(kube, res, ns, opts, collect_item, all, resource_version, err);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *items = all;
    return 0;
}
