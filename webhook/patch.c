/* Pod mutation as a minimal JSON Patch (see patch.h). */
#include "patch.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "policy.h"
#include "banned.h"

/* What one patch build needs; rc keeps the first error so the steps read as a list. */
struct patcher {
    json_t *patch;
    struct mason_buf path;
    int rc;
};

int mason_patch_escape_token(const char *key, struct mason_buf *out)
{
    int rc = 0;

    for (const char *c = key; *c && !rc; c++) {
        if (*c == '~')
            rc = mason_buf_adds(out, "~0");
        else if (*c == '/')
            rc = mason_buf_adds(out, "~1");
        else
            rc = mason_buf_add(out, c, 1);
    }
    return rc;
}

int mason_patch_append(json_t *patch, const char *op, const char *path, json_t *value)
{
    json_t *item = json_pack("{s:s, s:s}", "op", op, "path", path);

    if (!item) {
        json_decref(value);
        return MASON_ENOMEM;
    }
    if (value && json_object_set_new(item, "value", value)) {
        json_decref(item);
        return MASON_ENOMEM;
    }
    return json_array_append_new(patch, item) ? MASON_ENOMEM : 0;
}

/* Appends one operation whose path is formatted from fmt; value is stolen. */
static void emit(struct patcher *p, const char *op, json_t *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void emit(struct patcher *p, const char *op, json_t *value, const char *fmt, ...)
{
    va_list ap;

    if (p->rc) {
        json_decref(value);
        return;
    }
    if (!value && strcmp(op, "remove") != 0) {
        p->rc = MASON_ENOMEM;
        return;
    }
    mason_buf_reset(&p->path);
    va_start(ap, fmt);
    p->rc = mason_buf_vaddf(&p->path, fmt, ap);
    va_end(ap);
    if (!p->rc)
        p->rc = mason_patch_append(p->patch, op, mason_buf_str(&p->path), value);
    else
        json_decref(value);
}

static bool has(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

    return v && !json_is_null(v);
}

static json_t *seccomp_default(void)
{
    return json_pack("{s:s}", "type", "RuntimeDefault");
}

static void patch_pod_context(struct patcher *p, const json_t *spec)
{
    const json_t *sc = json_object_get(spec, "securityContext");
    bool windows = mason_policy_pod_is_windows(spec);
    json_int_t id = MASON_POLICY_DEFAULT_ID;

    if (!json_is_object(sc)) {
        if (windows)
            emit(p, "add", json_pack("{s:b}", "runAsNonRoot", 1), "/spec/securityContext");
        else
            emit(p, "add",
                 json_pack("{s:b, s:I, s:I, s:I, s:o}", "runAsNonRoot", 1, "runAsUser", id,
                           "runAsGroup", id, "fsGroup", id, "seccompProfile", seccomp_default()),
                 "/spec/securityContext");
        return;
    }
    if (!has(sc, "runAsNonRoot"))
        emit(p, "add", json_true(), "/spec/securityContext/runAsNonRoot");
    if (windows)
        return;
    if (!has(sc, "runAsUser"))
        emit(p, "add", json_integer(id), "/spec/securityContext/runAsUser");
    if (!has(sc, "runAsGroup"))
        emit(p, "add", json_integer(id), "/spec/securityContext/runAsGroup");
    if (!has(sc, "fsGroup"))
        emit(p, "add", json_integer(id), "/spec/securityContext/fsGroup");
    if (!has(sc, "seccompProfile"))
        emit(p, "add", seccomp_default(), "/spec/securityContext/seccompProfile");
}

static bool list_contains(const json_t *list, const char *a, const char *b)
{
    size_t i;
    json_t *item;

    json_array_foreach(list, i, item)
    {
        const char *s = json_string_value(item);

        if (s && (!strcmp(s, a) || (b && !strcmp(s, b))))
            return true;
    }
    return false;
}

/*
 * Returns whether allowPrivilegeEscalation may be set to false: the API
 * server rejects false together with privileged or an added CAP_SYS_ADMIN,
 * and validation reports those fields with a clearer reason.
 */
static bool may_forbid_escalation(const json_t *sc)
{
    const json_t *add = json_object_get(json_object_get(sc, "capabilities"), "add");

    if (json_is_true(json_object_get(sc, "privileged")))
        return false;
    return !list_contains(add, "SYS_ADMIN", "CAP_SYS_ADMIN");
}

static void patch_capabilities(struct patcher *p, const json_t *sc, const char *list, size_t i)
{
    const json_t *caps = json_object_get(sc, "capabilities");
    const json_t *drop = json_object_get(caps, "drop");

    if (!json_is_object(caps))
        emit(p, "add", json_pack("{s:[s]}", "drop", "ALL"),
             "/spec/%s/%zu/securityContext/capabilities", list, i);
    else if (!drop || json_is_null(drop))
        emit(p, "add", json_pack("[s]", "ALL"), "/spec/%s/%zu/securityContext/capabilities/drop",
             list, i);
    else if (json_is_array(drop) && !list_contains(drop, "ALL", NULL))
        emit(p, "add", json_string("ALL"), "/spec/%s/%zu/securityContext/capabilities/drop/-", list,
             i);
}

static void patch_container(struct patcher *p, const json_t *container, const char *list, size_t i)
{
    const json_t *sc = json_object_get(container, "securityContext");

    if (!json_is_object(sc)) {
        emit(p, "add",
             json_pack("{s:b, s:{s:[s]}, s:b}", "allowPrivilegeEscalation", 0, "capabilities",
                       "drop", "ALL", "readOnlyRootFilesystem", 1),
             "/spec/%s/%zu/securityContext", list, i);
        return;
    }
    if (!has(sc, "allowPrivilegeEscalation") && may_forbid_escalation(sc))
        emit(p, "add", json_false(), "/spec/%s/%zu/securityContext/allowPrivilegeEscalation", list,
             i);
    patch_capabilities(p, sc, list, i);
    if (!has(sc, "readOnlyRootFilesystem"))
        emit(p, "add", json_true(), "/spec/%s/%zu/securityContext/readOnlyRootFilesystem", list, i);
}

static void patch_containers(struct patcher *p, const json_t *spec, enum mason_patch_scope scope)
{
    if (mason_policy_pod_is_windows(spec))
        return;
    for (size_t l = 0; l < 3; l++) {
        const char *list = mason_policy_container_lists[l];
        size_t i;
        json_t *container;

        if (scope == MASON_PATCH_EPHEMERAL_ONLY && strcmp(list, "ephemeralContainers") != 0)
            continue;
        json_array_foreach(json_object_get(spec, list), i, container) if (json_is_object(container))
            patch_container(p, container, list, i);
    }
}

static const char *claim_of(const json_t *volume)
{
    return json_string_value(
        json_object_get(json_object_get(volume, "persistentVolumeClaim"), "claimName"));
}

/*
 * Returns the index of the first earlier volume that volume i can merge into:
 * one with the same persistentVolumeClaim source, so the merge changes no
 * readOnly setting. Returns i when there is none. The first such volume is
 * itself never merged away, because an earlier equal one would be found first.
 */
static size_t merge_target(const json_t *volumes, size_t i)
{
    const json_t *volume = json_array_get(volumes, i);
    const char *claim = claim_of(volume);

    for (size_t j = 0; claim && j < i; j++) {
        const json_t *earlier = json_array_get(volumes, j);
        const char *other = claim_of(earlier);

        if (!other || strcmp(claim, other) != 0)
            continue;
        if (json_equal(json_object_get(volume, "persistentVolumeClaim"),
                       json_object_get(earlier, "persistentVolumeClaim")))
            return j;
    }
    return i;
}

static void repoint_mounts(struct patcher *p, const json_t *spec, const char *from, const char *to)
{
    for (size_t l = 0; l < 3; l++) {
        const char *list = mason_policy_container_lists[l];
        size_t i, m;
        json_t *container, *mount;

        json_array_foreach(json_object_get(spec, list), i, container)
        {
            json_array_foreach(json_object_get(container, "volumeMounts"), m, mount)
            {
                const char *name = json_string_value(json_object_get(mount, "name"));

                if (name && !strcmp(name, from))
                    emit(p, "replace", json_string(to), "/spec/%s/%zu/volumeMounts/%zu/name", list,
                         i, m);
            }
        }
    }
}

/* Merges volumes that reference one claim: mounts move to the kept volume, then the
 * others are removed from the last to the first, so earlier indexes stay valid. */
static void patch_volumes(struct patcher *p, const json_t *spec)
{
    const json_t *volumes = json_object_get(spec, "volumes");
    size_t n = json_array_size(volumes);

    for (size_t i = 1; i < n; i++) {
        size_t target = merge_target(volumes, i);
        const char *from = json_string_value(json_object_get(json_array_get(volumes, i), "name"));
        const char *to =
            json_string_value(json_object_get(json_array_get(volumes, target), "name"));

        if (target != i && from && to)
            repoint_mounts(p, spec, from, to);
    }
    for (size_t i = n; i-- > 1;) {
        if (merge_target(volumes, i) != i)
            emit(p, "remove", NULL, "/spec/volumes/%zu", i);
    }
}

json_t *mason_patch_pod(const json_t *pod, enum mason_patch_scope scope)
{
    const json_t *spec = json_object_get(pod, "spec");
    struct patcher p = {.patch = json_array(), .path = MASON_BUF_INIT};

    if (!p.patch)
        return NULL;
    if (json_is_object(spec)) {
        if (scope == MASON_PATCH_POD)
            patch_pod_context(&p, spec);
        patch_containers(&p, spec, scope);
        if (scope == MASON_PATCH_POD)
            patch_volumes(&p, spec);
    }
    mason_buf_release(&p.path);
    if (p.rc) {
        json_decref(p.patch);
        return NULL;
    }
    return p.patch;
}
