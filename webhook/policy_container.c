/*
 * Container-level policy checks. A container's securityContext overrides the
 * pod's for runAsNonRoot, runAsUser, runAsGroup, seccompProfile, seLinuxOptions
 * and appArmorProfile, so those checks look at both levels.
 */
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "policy_internal.h"
#include "banned.h"

int policy_container_add(struct policy_pod *p, const struct policy_container *c, const char *field,
                         const char *reason, const char *fix)
{
    return mason_policy_report_add(p->report, reason, fix, "spec.%s[%zu].%s", c->list, c->index,
                                   field);
}

static int check_privileged(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *host_process = policy_get(policy_get(c->sc, "windowsOptions"), "hostProcess");
    int rc = 0;

    if (policy_is_true(policy_get(c->sc, "privileged")))
        rc = policy_container_add(p, c, "securityContext.privileged", "must be unset or false",
                                  "remove it; privileged containers are not allowed");
    if (!rc && policy_is_true(host_process))
        rc = policy_container_add(p, c, "securityContext.windowsOptions.hostProcess",
                                  "must be unset or false",
                                  "remove it; Windows host processes are not allowed");
    if (!rc && !p->windows && !policy_is_false(policy_get(c->sc, "allowPrivilegeEscalation")))
        rc = policy_container_add(p, c, "securityContext.allowPrivilegeEscalation", "must be false",
                                  "set it to false explicitly");
    return rc;
}

static bool drops_all(const json_t *drop)
{
    size_t i;
    json_t *cap;

    json_array_foreach(drop, i, cap)
    {
        const char *name = json_string_value(cap);

        if (name && !strcmp(name, "ALL"))
            return true;
    }
    return false;
}

static int check_capabilities(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *caps = policy_get(c->sc, "capabilities");
    const json_t *add = policy_get(caps, "add");
    struct mason_buf field = MASON_BUF_INIT;
    size_t i;
    json_t *cap;
    int rc = 0;

    if (p->windows)
        return 0;
    if (!drops_all(policy_get(caps, "drop")))
        rc = policy_container_add(p, c, "securityContext.capabilities.drop", "must include ALL",
                                  "add ALL to the dropped capabilities");
    json_array_foreach(add, i, cap)
    {
        const char *name = json_string_value(cap);

        if (rc)
            break;
        if (name && !strcmp(name, "NET_BIND_SERVICE"))
            continue;
        mason_buf_reset(&field);
        rc = mason_buf_addf(&field, "securityContext.capabilities.add[%zu]", i);
        if (!rc)
            rc = policy_container_add(p, c, mason_buf_str(&field), "capability is not allowed",
                                      "remove it; only NET_BIND_SERVICE may be added");
    }
    mason_buf_release(&field);
    return rc;
}

static int check_host_ports(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *ports = policy_get(c->container, "ports");
    struct mason_buf field = MASON_BUF_INIT;
    size_t i;
    json_t *port;
    int rc = 0;

    json_array_foreach(ports, i, port)
    {
        const json_t *host_port = policy_get(port, "hostPort");

        if (!host_port || policy_is_zero(host_port))
            continue;
        mason_buf_reset(&field);
        rc = mason_buf_addf(&field, "ports[%zu].hostPort", i);
        if (!rc)
            rc = policy_container_add(p, c, mason_buf_str(&field), "must be unset or 0",
                                      "remove it and expose the port through a Service");
        if (rc)
            break;
    }
    mason_buf_release(&field);
    return rc;
}

/* Checks the probe and lifecycle handlers' host fields, which could reach other hosts. */
static int check_handler_hosts(struct policy_pod *p, const struct policy_container *c)
{
    static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
    static const char *const hooks[] = {"postStart", "preStop"};
    static const char *const actions[] = {"httpGet", "tcpSocket"};
    const json_t *lifecycle = policy_get(c->container, "lifecycle");
    struct mason_buf field = MASON_BUF_INIT;
    int rc = 0;

    for (size_t h = 0; h < 5 && !rc; h++) {
        const json_t *handler =
            h < 3 ? policy_get(c->container, probes[h]) : policy_get(lifecycle, hooks[h - 3]);

        for (size_t a = 0; a < 2 && !rc; a++) {
            const char *host = policy_get_string(policy_get(handler, actions[a]), "host");

            if (!host || !*host)
                continue;
            mason_buf_reset(&field);
            if (h < 3)
                rc = mason_buf_addf(&field, "%s.%s.host", probes[h], actions[a]);
            else
                rc = mason_buf_addf(&field, "lifecycle.%s.%s.host", hooks[h - 3], actions[a]);
            if (!rc)
                rc = policy_container_add(p, c, mason_buf_str(&field), "must be unset",
                                          "remove it; handlers may only reach the pod itself");
        }
    }
    mason_buf_release(&field);
    return rc;
}

static int check_selinux_apparmor(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *selinux = policy_get(c->sc, "seLinuxOptions");
    const char *type = policy_get_string(selinux, "type");
    const char *user = policy_get_string(selinux, "user");
    const char *role = policy_get_string(selinux, "role");
    const char *apparmor = policy_get_string(policy_get(c->sc, "appArmorProfile"), "type");
    const char *proc_mount = policy_get_string(c->sc, "procMount");
    int rc = 0;

    if (type && *type && strcmp(type, "container_t") && strcmp(type, "container_init_t") &&
        strcmp(type, "container_kvm_t") && strcmp(type, "container_engine_t"))
        rc = policy_container_add(
            p, c, "securityContext.seLinuxOptions.type", "SELinux type is not allowed",
            "use container_t, container_init_t, container_kvm_t or container_engine_t, or remove it");
    if (!rc && user && *user)
        rc = policy_container_add(p, c, "securityContext.seLinuxOptions.user", "must be unset",
                                  "remove it");
    if (!rc && role && *role)
        rc = policy_container_add(p, c, "securityContext.seLinuxOptions.role", "must be unset",
                                  "remove it");
    if (!rc && apparmor && strcmp(apparmor, "RuntimeDefault") && strcmp(apparmor, "Localhost"))
        rc = policy_container_add(p, c, "securityContext.appArmorProfile.type",
                                  "must be RuntimeDefault or Localhost",
                                  "set RuntimeDefault or remove it");
    if (!rc && proc_mount && strcmp(proc_mount, "Default"))
        rc = policy_container_add(p, c, "securityContext.procMount", "must be unset or Default",
                                  "remove it");
    return rc;
}

static int check_non_root(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *non_root = policy_get(c->sc, "runAsNonRoot");
    bool pod_non_root = policy_is_true(policy_get(p->pod_sc, "runAsNonRoot"));
    int rc = 0;

    if (policy_is_false(non_root))
        rc = policy_container_add(p, c, "securityContext.runAsNonRoot", "must not be false",
                                  "set it to true or remove it");
    else if (!policy_is_true(non_root) && !pod_non_root)
        rc = policy_container_add(p, c, "securityContext.runAsNonRoot", "must be true",
                                  "set spec.securityContext.runAsNonRoot or this field to true");
    if (!rc && policy_is_zero(policy_get(c->sc, "runAsUser")))
        rc = policy_container_add(p, c, "securityContext.runAsUser", "must not be 0",
                                  "set a non-zero user ID such as 10000 or remove it");
    return rc;
}

/* Checks runAsGroup, seccomp and the read-only root filesystem, which Windows pods cannot set. */
static int check_linux_fields(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *group = policy_get(c->sc, "runAsGroup");
    const json_t *pod_group = policy_get(p->pod_sc, "runAsGroup");
    const char *seccomp = policy_get_string(policy_get(c->sc, "seccompProfile"), "type");
    const json_t *pod_seccomp = policy_get(policy_get(p->pod_sc, "seccompProfile"), "type");
    int rc = 0;

    if (p->windows)
        return 0;
    if (policy_is_zero(group))
        rc = policy_container_add(p, c, "securityContext.runAsGroup", "must not be 0",
                                  "set a non-zero group ID such as 10000 or remove it");
    else if (!json_is_integer(group) && !json_is_integer(pod_group))
        rc = policy_container_add(
            p, c, "securityContext.runAsGroup", "must be set",
            "set spec.securityContext.runAsGroup or this field to a non-zero group ID such as 10000");
    if (!rc && seccomp && strcmp(seccomp, "RuntimeDefault") && strcmp(seccomp, "Localhost"))
        rc = policy_container_add(p, c, "securityContext.seccompProfile.type",
                                  "must be RuntimeDefault or Localhost", "set RuntimeDefault");
    else if (!rc && !seccomp && !pod_seccomp)
        rc = policy_container_add(
            p, c, "securityContext.seccompProfile.type", "must be RuntimeDefault or Localhost",
            "set spec.securityContext.seccompProfile.type or this field to RuntimeDefault");
    if (!rc && !policy_is_true(policy_get(c->sc, "readOnlyRootFilesystem")))
        rc = policy_container_add(p, c, "securityContext.readOnlyRootFilesystem", "must be true",
                                  "set it to true and mount an emptyDir where the program writes");
    return rc;
}

static int check_mount_paths(struct policy_pod *p, const struct policy_container *c)
{
    const json_t *mounts = policy_get(c->container, "volumeMounts");
    struct mason_buf field = MASON_BUF_INIT;
    size_t n = json_array_size(mounts);
    int rc = 0;

    for (size_t i = 0; i < n && !rc; i++) {
        const char *path = policy_get_string(json_array_get(mounts, i), "mountPath");

        for (size_t j = 0; path && j < i; j++) {
            const char *other = policy_get_string(json_array_get(mounts, j), "mountPath");

            if (!other || strcmp(path, other) != 0)
                continue;
            rc = mason_buf_addf(&field, "volumeMounts[%zu].mountPath", i);
            if (!rc)
                rc = policy_container_add(p, c, mason_buf_str(&field),
                                          "repeats an earlier mountPath", "mount each path once");
            mason_buf_reset(&field);
            break;
        }
    }
    mason_buf_release(&field);
    return rc;
}

int policy_check_container(struct policy_pod *p, const struct policy_container *c)
{
    int rc = check_privileged(p, c);

    if (!rc)
        rc = check_capabilities(p, c);
    if (!rc)
        rc = check_host_ports(p, c);
    if (!rc)
        rc = check_handler_hosts(p, c);
    if (!rc)
        rc = check_selinux_apparmor(p, c);
    if (!rc)
        rc = check_non_root(p, c);
    if (!rc)
        rc = check_linux_fields(p, c);
    if (!rc)
        rc = check_mount_paths(p, c);
    return rc;
}
