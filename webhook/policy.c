/* Pod-level policy checks, the violation report and its text forms (see policy.h). */
#include "policy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_internal.h"
#include "banned.h"

const char *const mason_policy_container_lists[3] = {"containers", "initContainers",
                                                     "ephemeralContainers"};

/* Volume types the restricted profile allows, plus image volumes. */
static const char *const allowed_volume_types[] = {
    "configMap", "csi",    "downwardAPI",           "emptyDir", "ephemeral", "image",
    "projected", "secret", "persistentVolumeClaim",
};

/* Sysctls the baseline profile allows (Pod Security Standards, Kubernetes 1.32 and later). */
static const char *const safe_sysctls[] = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
};

#define APPARMOR_ANNOTATION_PREFIX "container.apparmor.security.beta.kubernetes.io/"

void mason_policy_report_init(struct mason_policy_report *report)
{
    memset(report, 0, sizeof(*report));
}

void mason_policy_report_release(struct mason_policy_report *report)
{
    for (size_t i = 0; i < report->count; i++) {
        free(report->items[i].path);
        free(report->items[i].reason);
        free(report->items[i].fix);
    }
    free(report->items);
    mason_policy_report_init(report);
}

int mason_policy_report_add(struct mason_policy_report *report, const char *reason, const char *fix,
                            const char *fmt, ...)
{
    struct mason_buf path = MASON_BUF_INIT;
    struct mason_violation *v;
    va_list ap;
    int rc;

    if (report->count == report->alloc) {
        size_t alloc = report->alloc ? report->alloc * 2 : 8;
        struct mason_violation *items = realloc(report->items, alloc * sizeof(*items));

        if (!items)
            return MASON_ENOMEM;
        report->items = items;
        report->alloc = alloc;
    }
    va_start(ap, fmt);
    rc = mason_buf_vaddf(&path, fmt, ap);
    va_end(ap);
    v = &report->items[report->count];
    v->path = rc ? NULL : mason_buf_detach(&path);
    v->reason = strdup(reason);
    v->fix = strdup(fix);
    mason_buf_release(&path);
    if (!v->path || !v->reason || !v->fix) {
        free(v->path);
        free(v->reason);
        free(v->fix);
        return MASON_ENOMEM;
    }
    report->count++;
    return 0;
}

const json_t *policy_get(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

const char *policy_get_string(const json_t *o, const char *key)
{
    return json_string_value(policy_get(o, key));
}

bool policy_is_true(const json_t *v)
{
    return json_is_true(v);
}

bool policy_is_false(const json_t *v)
{
    return json_is_false(v);
}

bool policy_is_zero(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) == 0;
}

int mason_policy_pod_is_windows(const json_t *spec)
{
    const char *os = policy_get_string(policy_get(spec, "os"), "name");

    return os && !strcmp(os, "windows");
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static int check_host_namespaces(struct policy_pod *p)
{
    static const char *const fields[] = {"hostNetwork", "hostPID", "hostIPC"};
    int rc = 0;

    for (size_t i = 0; i < 3 && !rc; i++)
        if (policy_is_true(policy_get(p->spec, fields[i])))
            rc = mason_policy_report_add(p->report, "must be unset or false",
                                         "remove it; pods share no host namespace", "spec.%s",
                                         fields[i]);
    return rc;
}

/* Returns the volume's source type: its one key other than "name", or NULL. */
static const char *volume_type(const json_t *volume)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)volume, key, value)
    {
        if (strcmp(key, "name") != 0)
            return key;
    }
    return NULL;
}

static int check_volume_types(struct policy_pod *p)
{
    const json_t *volumes = policy_get(p->spec, "volumes");
    size_t i;
    json_t *volume;
    int rc = 0;

    json_array_foreach(volumes, i, volume)
    {
        const char *type = volume_type(volume);

        if (!type || in_list(type, allowed_volume_types,
                             sizeof(allowed_volume_types) / sizeof(allowed_volume_types[0])))
            continue;
        rc = mason_policy_report_add(
            p->report, "volume type is not allowed",
            "use configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret",
            "spec.volumes[%zu].%s", i, type);
        if (rc)
            break;
    }
    return rc;
}

static int check_sysctls(struct policy_pod *p)
{
    const json_t *sysctls = policy_get(p->pod_sc, "sysctls");
    size_t i;
    json_t *sysctl;
    int rc = 0;

    json_array_foreach(sysctls, i, sysctl)
    {
        const char *name = policy_get_string(sysctl, "name");

        if (in_list(name, safe_sysctls, sizeof(safe_sysctls) / sizeof(safe_sysctls[0])))
            continue;
        rc = mason_policy_report_add(
            p->report, "sysctl is not in the safe set",
            "remove it; only namespaced sysctls such as net.ipv4.ip_local_port_range are allowed",
            "spec.securityContext.sysctls[%zu].name", i);
        if (rc)
            break;
    }
    return rc;
}

static int check_apparmor_annotations(struct policy_pod *p)
{
    const json_t *annotations = policy_get(policy_get(p->pod, "metadata"), "annotations");
    const char *key;
    json_t *value;
    size_t prefix = strlen(APPARMOR_ANNOTATION_PREFIX);
    int rc = 0;

    json_object_foreach((json_t *)annotations, key, value)
    {
        const char *v = json_string_value(value);

        if (strncmp(key, APPARMOR_ANNOTATION_PREFIX, prefix) != 0)
            continue;
        if (v && (!strcmp(v, "runtime/default") || !strncmp(v, "localhost/", 10)))
            continue;
        rc = mason_policy_report_add(
            p->report, "AppArmor profile must be runtime/default or localhost/*",
            "remove the annotation or use runtime/default", "metadata.annotations[%s]", key);
        if (rc)
            break;
    }
    return rc;
}

/* Checks fields that the pod and its containers share: hostProcess, SELinux, AppArmor. */
static int check_pod_shared_fields(struct policy_pod *p)
{
    const json_t *selinux = policy_get(p->pod_sc, "seLinuxOptions");
    const char *type = policy_get_string(selinux, "type");
    const char *apparmor = policy_get_string(policy_get(p->pod_sc, "appArmorProfile"), "type");
    int rc = 0;

    if (policy_is_true(policy_get(policy_get(p->pod_sc, "windowsOptions"), "hostProcess")))
        rc = mason_policy_report_add(p->report, "must be unset or false",
                                     "remove it; Windows host processes are not allowed",
                                     "spec.securityContext.windowsOptions.hostProcess");
    if (!rc && type && *type && strcmp(type, "container_t") && strcmp(type, "container_init_t") &&
        strcmp(type, "container_kvm_t") && strcmp(type, "container_engine_t"))
        rc = mason_policy_report_add(
            p->report, "SELinux type is not allowed",
            "use container_t, container_init_t, container_kvm_t or container_engine_t, or remove it",
            "spec.securityContext.seLinuxOptions.type");
    if (!rc && policy_get_string(selinux, "user") && *policy_get_string(selinux, "user"))
        rc = mason_policy_report_add(p->report, "must be unset", "remove it",
                                     "spec.securityContext.seLinuxOptions.user");
    if (!rc && policy_get_string(selinux, "role") && *policy_get_string(selinux, "role"))
        rc = mason_policy_report_add(p->report, "must be unset", "remove it",
                                     "spec.securityContext.seLinuxOptions.role");
    if (!rc && apparmor && strcmp(apparmor, "RuntimeDefault") && strcmp(apparmor, "Localhost"))
        rc = mason_policy_report_add(p->report, "must be RuntimeDefault or Localhost",
                                     "set RuntimeDefault or remove it",
                                     "spec.securityContext.appArmorProfile.type");
    if (!rc)
        rc = check_apparmor_annotations(p);
    return rc;
}

/* Checks the pod-level identity fields: runAsNonRoot, runAsUser, runAsGroup, fsGroup, seccomp. */
static int check_pod_identity(struct policy_pod *p)
{
    const json_t *seccomp = policy_get(policy_get(p->pod_sc, "seccompProfile"), "type");
    const char *seccomp_type = json_string_value(seccomp);
    const json_t *fs_group = policy_get(p->pod_sc, "fsGroup");
    int rc = 0;

    if (policy_is_false(policy_get(p->pod_sc, "runAsNonRoot")))
        rc = mason_policy_report_add(p->report, "must not be false", "set it to true",
                                     "spec.securityContext.runAsNonRoot");
    if (!rc && policy_is_zero(policy_get(p->pod_sc, "runAsUser")))
        rc = mason_policy_report_add(p->report, "must not be 0",
                                     "set a non-zero user ID such as 10000 or remove it",
                                     "spec.securityContext.runAsUser");
    if (!rc && !p->windows && policy_is_zero(policy_get(p->pod_sc, "runAsGroup")))
        rc = mason_policy_report_add(p->report, "must not be 0",
                                     "set a non-zero group ID such as 10000 or remove it",
                                     "spec.securityContext.runAsGroup");
    if (!rc && !p->windows && (!json_is_integer(fs_group) || policy_is_zero(fs_group)))
        rc = mason_policy_report_add(
            p->report, fs_group ? "must not be 0" : "must be set",
            "set a non-zero group ID such as 10000, so the non-root user can write to volumes",
            "spec.securityContext.fsGroup");
    if (!rc && !p->windows && seccomp && seccomp_type && strcmp(seccomp_type, "RuntimeDefault") &&
        strcmp(seccomp_type, "Localhost"))
        rc = mason_policy_report_add(p->report, "must be RuntimeDefault or Localhost",
                                     "set RuntimeDefault",
                                     "spec.securityContext.seccompProfile.type");
    return rc;
}

static int check_duplicate_claims(struct policy_pod *p)
{
    const json_t *volumes = policy_get(p->spec, "volumes");
    size_t n = json_array_size(volumes);
    int rc = 0;

    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *volume = json_array_get(volumes, i);
        const char *claim =
            policy_get_string(policy_get(volume, "persistentVolumeClaim"), "claimName");

        for (size_t j = 0; claim && j < i; j++) {
            const json_t *earlier = json_array_get(volumes, j);
            const char *other =
                policy_get_string(policy_get(earlier, "persistentVolumeClaim"), "claimName");

            if (!other || strcmp(claim, other) != 0)
                continue;
            rc = mason_policy_report_add(
                p->report, "claim is already used by another volume",
                "use one volume per claim and mount it several times, with subPath where needed",
                "spec.volumes[%zu].persistentVolumeClaim.claimName", i);
            break;
        }
    }
    return rc;
}

static int check_containers(struct policy_pod *p)
{
    int rc = 0;

    for (size_t l = 0; l < 3 && !rc; l++) {
        const char *list = mason_policy_container_lists[l];
        const json_t *containers = policy_get(p->spec, list);
        size_t i;
        json_t *container;

        json_array_foreach(containers, i, container)
        {
            struct policy_container c = {
                .container = container,
                .sc = policy_get(container, "securityContext"),
                .list = list,
                .index = i,
            };

            rc = policy_check_container(p, &c);
            if (rc)
                break;
        }
    }
    return rc;
}

int mason_policy_check_pod(const json_t *pod, struct mason_policy_report *report)
{
    struct policy_pod p = {.pod = pod, .report = report};
    int rc;

    p.spec = policy_get(pod, "spec");
    if (!json_is_object(p.spec))
        return mason_policy_report_add(report, "must be an object", "send a complete Pod", "spec");
    p.pod_sc = policy_get(p.spec, "securityContext");
    p.windows = mason_policy_pod_is_windows(p.spec);

    rc = check_host_namespaces(&p);
    if (!rc)
        rc = check_pod_shared_fields(&p);
    if (!rc)
        rc = check_volume_types(&p);
    if (!rc)
        rc = check_sysctls(&p);
    if (!rc)
        rc = check_pod_identity(&p);
    if (!rc)
        rc = check_duplicate_claims(&p);
    if (!rc)
        rc = check_containers(&p);
    return rc;
}

int mason_policy_format_warning(const struct mason_violation *v, size_t max_len,
                                struct mason_buf *out)
{
    struct mason_buf text = MASON_BUF_INIT;
    int rc = mason_buf_addf(&text, "%s: %s", v->path, v->reason);

    if (!rc && max_len > 4 && text.len >= max_len) {
        rc = mason_buf_add(out, text.data, max_len - 4);
        if (!rc)
            rc = mason_buf_adds(out, "...");
    } else if (!rc) {
        rc = mason_buf_add(out, text.data, text.len);
    }
    mason_buf_release(&text);
    return rc;
}

int mason_policy_format_denial(const struct mason_policy_report *report, size_t max_len,
                               struct mason_buf *out)
{
    struct mason_buf item = MASON_BUF_INIT;
    size_t start = out->len, i;
    int rc = 0;

    for (i = 0; i < report->count && !rc; i++) {
        const struct mason_violation *v = &report->items[i];

        mason_buf_reset(&item);
        rc = mason_buf_addf(&item, "%s%s: %s (%s)", i ? "; " : "", v->path, v->reason, v->fix);
        if (rc)
            break;
        /* Keep room for the "; and N more" tail. */
        if (out->len - start + item.len + 24 > max_len && i > 0)
            break;
        rc = mason_buf_add(out, item.data, item.len);
    }
    if (!rc && i < report->count)
        rc = mason_buf_addf(out, "; and %zu more", report->count - i);
    mason_buf_release(&item);
    return rc;
}
