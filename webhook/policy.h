/*
 * Pod policy checks: the Pod Security Admission "restricted" profile of
 * Kubernetes 1.34 and the mason rules on top of it (read-only root
 * filesystem, fsGroup and runAsGroup set and non-zero, one volume per PVC
 * claim, no repeated mountPath in a container). The checks are pure
 * functions over the pod's JSON; every failing field is reported, not only
 * the first.
 */
#ifndef MASON_POLICY_H
#define MASON_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/* User and group IDs the mutation sets when a pod leaves them unset. */
#define MASON_POLICY_DEFAULT_ID 10000

/* One failing field. Strings are owned by the report. */
struct mason_violation {
    char *path;   /* field path, such as spec.containers[0].securityContext.runAsUser */
    char *reason; /* what is wrong, short enough for a warning: "must not be 0" */
    char *fix;    /* what to do instead, for the denial message */
};

/* The violations of one pod, in the order the checks found them. */
struct mason_policy_report {
    struct mason_violation *items;
    size_t count;
    size_t alloc;
};

void mason_policy_report_init(struct mason_policy_report *report);
void mason_policy_report_release(struct mason_policy_report *report);

/*
 * Appends one violation; path is formatted from fmt. Returns 0 or
 * MASON_ENOMEM.
 */
int mason_policy_report_add(struct mason_policy_report *report, const char *reason, const char *fix,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Checks a Pod object (borrowed) against the restricted profile and the
 * mason rules and appends every violation to report. Returns 0, whether or
 * not the pod passes, or MASON_ENOMEM. A pod without a spec object is
 * reported as one violation of "spec".
 */
int mason_policy_check_pod(const json_t *pod, struct mason_policy_report *report);

/*
 * Appends "path: reason" to out, shortened with "..." so that the result
 * has fewer than max_len bytes, for use as an admission warning.
 */
int mason_policy_format_warning(const struct mason_violation *v, size_t max_len,
                                struct mason_buf *out);

/*
 * Appends the denial text for report to out: every violation as
 * "path: reason (fix)", separated by "; ", at most max_len bytes; the rest
 * is counted as "and N more".
 */
int mason_policy_format_denial(const struct mason_policy_report *report, size_t max_len,
                               struct mason_buf *out);

/* The container lists of a pod spec, in the order the checks visit them. */
extern const char *const mason_policy_container_lists[3];

/* Returns whether the pod spec asks for Windows (spec.os.name "windows"). */
int mason_policy_pod_is_windows(const json_t *spec);

#endif
