/*
 * A Kubernetes API client on libcurl and jansson: typed paths for the
 * resources mason uses, get/list/create/update/patch/delete with the API
 * server's errors mapped to MASON_E* codes, and retries with backoff. One
 * struct mason_kube is shared by every thread of a program.
 */
#ifndef MASON_KUBE_H
#define MASON_KUBE_H

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "kubeconfig.h"

/* Size limit of one response body. */
#define MASON_KUBE_MAX_BODY (64u * 1024u * 1024u)

/* A client; thread-safe, so any thread may call any function concurrently. */
struct mason_kube;

/*
 * Creates a client for cfg, which is copied. Initialises libcurl once per
 * process. Returns NULL when memory runs out or cfg has no server.
 */
struct mason_kube *mason_kube_create(const struct mason_kube_config *cfg);

/* Frees the client; no request may be running. */
void mason_kube_free(struct mason_kube *kube);

/* Sets the time limit of each request attempt in milliseconds (default 30000). */
void mason_kube_set_timeout(struct mason_kube *kube, long timeout_ms);

/*
 * Sets how many times a failed request is retried (default 5). Retries
 * happen on 429, 5xx and connection errors, with exponential backoff and
 * jitter, or after the server's Retry-After (seconds or an HTTP date, at most
 * 60 s) on 429 and 503. A POST or a JSON patch, which may not be safe to
 * repeat, is retried only on 429 or when the connection was refused, because
 * then the server has not acted.
 */
void mason_kube_set_retries(struct mason_kube *kube, int max_retries);

/* Sets the first retry delay and the largest one, in milliseconds (default 200 and 10000). */
void mason_kube_set_backoff(struct mason_kube *kube, long first_ms, long max_ms);

/* An API resource type. */
struct mason_kube_resource {
    const char *group; /* "" for the core group */
    const char *version;
    const char *plural;
    const char *kind;
    int namespaced;
};

extern const struct mason_kube_resource MASON_KUBE_PODS, MASON_KUBE_SECRETS, MASON_KUBE_EVENTS,
    MASON_KUBE_NAMESPACES, MASON_KUBE_PVCS, MASON_KUBE_JOBS, MASON_KUBE_NETWORKPOLICIES,
    MASON_KUBE_LEASES, MASON_KUBE_AGENTTASKS, MASON_KUBE_AGENTSESSIONS;

/*
 * Appends the API path of res to out: /api/v1/namespaces/NS/pods/NAME/SUB for
 * the core group, /apis/GROUP/VERSION/... otherwise. ns, name and subresource
 * may be NULL; ns is ignored for a cluster-scoped resource. Each segment is
 * percent-encoded. Returns 0, MASON_EINVAL for an empty segment or one that
 * is "." or "..", or a mason_buf error.
 */
int mason_kube_path(struct mason_buf *out, const struct mason_kube_resource *res, const char *ns,
                    const char *name, const char *subresource);

/* Appends s to out, percent-encoding every byte but A-Z a-z 0-9 - . _ ~. */
int mason_kube_escape(struct mason_buf *out, const char *s);

enum mason_kube_patch {
    MASON_KUBE_PATCH_MERGE, /* application/merge-patch+json */
    MASON_KUBE_PATCH_JSON,  /* application/json-patch+json */
    MASON_KUBE_PATCH_APPLY, /* server-side apply, application/apply-patch+yaml */
};

struct mason_kube_list_opts {
    const char *label_selector; /* or NULL */
    const char *field_selector; /* or NULL */
    long limit;                 /* page size; 0 means 500 */
};

/*
 * The request functions below return 0 or a negative code. The HTTP status
 * maps to MASON_ENOTFOUND (404), MASON_EEXISTS (409 with reason
 * AlreadyExists), MASON_ECONFLICT (other 409), MASON_EGONE (410),
 * MASON_EINVALID_OBJECT (400, 422), MASON_EUNAUTHORIZED (401),
 * MASON_EFORBIDDEN (403), MASON_ETHROTTLED (429 after the retries),
 * MASON_EUNAVAILABLE (5xx after the retries) or MASON_EHTTP (another
 * status). Other failures give MASON_ECONNECT, MASON_ETIMEOUT, MASON_ETOOBIG
 * (body past MASON_KUBE_MAX_BODY), MASON_EPARSE (a reply that is not JSON) or
 * MASON_EINVAL. On error, err (may be NULL) gets the server's Status message,
 * such as: agenttasks.mason.dev "x" not found, or the transport error. Every
 * json_t ** out parameter gets a new reference and may be NULL to ignore the
 * reply. json_t * inputs are borrowed.
 */

/* Gets one object. */
int mason_kube_get(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                   const char *name, json_t **out, struct mason_buf *err);

/*
 * Lists objects of res in ns (NULL: all namespaces), following `continue`
 * through every page. *items gets an array of the objects, each given the
 * apiVersion and kind that list replies leave out; *resource_version (may be
 * NULL) gets the list's resourceVersion, malloc'd. A continue token that
 * expired gives MASON_EGONE, so the caller lists again.
 */
int mason_kube_list(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                    const struct mason_kube_list_opts *opts, json_t **items,
                    char **resource_version, struct mason_buf *err);

/*
 * Lists like mason_kube_list but hands each object to fn (borrowed) one page
 * at a time, so a large list never sits in memory whole. A non-zero return
 * of fn stops the list and is returned.
 */
int mason_kube_list_each(struct mason_kube *kube, const struct mason_kube_resource *res,
                         const char *ns, const struct mason_kube_list_opts *opts,
                         int (*fn)(void *arg, json_t *item), void *arg, char **resource_version,
                         struct mason_buf *err);

/* Creates obj (POST) in ns. */
int mason_kube_create_object(struct mason_kube *kube, const struct mason_kube_resource *res,
                             const char *ns, json_t *obj, json_t **out, struct mason_buf *err);

/* Replaces an object or its subresource (NULL or "status") with obj (PUT). */
int mason_kube_update(struct mason_kube *kube, const struct mason_kube_resource *res,
                      const char *ns, const char *name, const char *subresource, json_t *obj,
                      json_t **out, struct mason_buf *err);

/*
 * Patches an object or its subresource. field_manager is required for
 * MASON_KUBE_PATCH_APPLY, which also sends force=true; for the other types it
 * is sent as fieldManager when not NULL.
 */
int mason_kube_patch(struct mason_kube *kube, const struct mason_kube_resource *res, const char *ns,
                     const char *name, const char *subresource, enum mason_kube_patch type,
                     json_t *patch, const char *field_manager, json_t **out, struct mason_buf *err);

/* Deletes an object, sending propagation ("Background", "Foreground", "Orphan" or NULL) as
 * propagationPolicy in the DeleteOptions body. */
int mason_kube_delete(struct mason_kube *kube, const struct mason_kube_resource *res,
                      const char *ns, const char *name, const char *propagation,
                      struct mason_buf *err);

/*
 * Gets path_and_query ("/api/v1/namespaces/N/pods/P/log?container=C") and
 * stores the body as text in out, replacing its contents; out keeps its own
 * cap (0 becomes MASON_KUBE_MAX_BODY). On error out is empty. The caller
 * escapes the path.
 */
int mason_kube_get_raw(struct mason_kube *kube, const char *path_and_query, struct mason_buf *out,
                       struct mason_buf *err);

/*
 * Creates a CURL easy handle for a GET of path_and_query with the client's
 * authentication, TLS settings and timeout, for streaming with a curl multi
 * handle (pod logs with follow=true). The caller sets a write callback,
 * overrides CURLOPT_TIMEOUT_MS for long streams, and owns both the handle
 * (curl_easy_cleanup) and *headers (curl_slist_free_all, after the handle is
 * done). Returns NULL when memory runs out.
 */
void *mason_kube_curl_handle(struct mason_kube *kube, const char *path_and_query,
                             struct curl_slist **headers);

/*
 * Maps an HTTP status and its reply body to a MASON_E* code (0 for 2xx) and
 * appends the Status message of body, or else the status number, to err (may
 * be NULL). For callers that run their own transfers.
 */
int mason_kube_status_error(long http_status, const char *body, size_t len, struct mason_buf *err);

#endif
