/* Shared between the pod-level and the container-level policy checks. */
#ifndef MASON_POLICY_INTERNAL_H
#define MASON_POLICY_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "policy.h"

/* The pod under check and the report its checks append to. */
struct policy_pod {
    const json_t *pod;
    const json_t *spec;
    const json_t *pod_sc; /* spec.securityContext, or NULL */
    bool windows;         /* Linux-only fields are not checked on Windows pods */
    struct mason_policy_report *report;
};

/* One container of the pod and its place in the spec. */
struct policy_container {
    const json_t *container;
    const json_t *sc; /* its securityContext, or NULL */
    const char *list; /* "containers", "initContainers" or "ephemeralContainers" */
    size_t index;
};

/* Returns o[key] when o is an object, else NULL. */
const json_t *policy_get(const json_t *o, const char *key);

/* Returns the string at o[key], or NULL when it is unset or not a string. */
const char *policy_get_string(const json_t *o, const char *key);

/* Returns whether the value is JSON true, false, or an integer equal to 0. */
bool policy_is_true(const json_t *v);
bool policy_is_false(const json_t *v);
bool policy_is_zero(const json_t *v);

/* Appends a violation at spec.<list>[i].<field> for container c. */
int policy_container_add(struct policy_pod *p, const struct policy_container *c, const char *field,
                         const char *reason, const char *fix);

/* Runs every container-level check on c. Returns 0 or MASON_ENOMEM. */
int policy_check_container(struct policy_pod *p, const struct policy_container *c);

#endif
