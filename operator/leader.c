#include "leader.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "banned.h"

struct mason_leader {
    struct mason_kube *kube;
    char *namespace;
    char *name;
    char *identity;
    /* The holder and renewTime last seen, and when this replica saw them change. */
    char *seen_record;
    time_t seen_at;
};

struct mason_leader *mason_leader_create(struct mason_kube *kube, const char *namespace,
                                         const char *name, const char *identity)
{
    struct mason_leader *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->kube = kube;
    l->namespace = strdup(namespace);
    l->name = strdup(name);
    l->identity = strdup(identity);
    if (!l->namespace || !l->name || !l->identity) {
        mason_leader_free(l, 0);
        return NULL;
    }
    return l;
}

/* Writes the current time in the Lease's MicroTime format. */
static void micro_time(char out[40])
{
    struct timeval tv;
    struct tm tm;
    char sec[32];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06ldZ", sec, (long)tv.tv_usec);
}

static json_t *lease_spec(struct mason_leader *l, json_t *old_spec)
{
    char now[40];
    json_t *spec;
    const char *holder = json_string_value(json_object_get(old_spec, "holderIdentity"));
    json_int_t transitions = json_integer_value(json_object_get(old_spec, "leaseTransitions"));

    micro_time(now);
    spec = json_pack("{s:s, s:i, s:s, s:s, s:I}", "holderIdentity", l->identity,
                     "leaseDurationSeconds", MASON_LEADER_LEASE_SECONDS, "acquireTime", now,
                     "renewTime", now, "leaseTransitions", transitions);
    if (holder && strcmp(holder, l->identity) == 0)
        json_object_set(spec, "acquireTime", json_object_get(old_spec, "acquireTime"));
    else if (holder && *holder)
        json_object_set_new(spec, "leaseTransitions", json_integer(transitions + 1));
    return spec;
}

static int create_lease(struct mason_leader *l)
{
    struct mason_buf err = MASON_BUF_INIT;
    json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion",
                              "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                              l->name, "namespace", l->namespace, "spec", lease_spec(l, NULL));
    int rc = mason_kube_create_object(l->kube, &MASON_KUBE_LEASES, l->namespace, lease, NULL, &err);

    json_decref(lease);
    mason_buf_release(&err);
    return rc == MASON_EEXISTS ? MASON_ECONFLICT : rc;
}

/* Whether the holder of spec has let the Lease expire, by this replica's clock. */
static int lease_expired(struct mason_leader *l, json_t *spec)
{
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    const char *renew = json_string_value(json_object_get(spec, "renewTime"));
    json_int_t duration = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    struct mason_buf record = MASON_BUF_INIT;
    time_t now = time(NULL);
    int expired;

    if (!holder || !*holder)
        return 1;
    mason_buf_addf(&record, "%s@%s", holder, renew ? renew : "");
    if (!l->seen_record || strcmp(l->seen_record, mason_buf_str(&record)) != 0) {
        free(l->seen_record);
        l->seen_record = mason_buf_detach(&record);
        l->seen_at = now;
    }
    mason_buf_release(&record);
    expired = now - l->seen_at > (duration > 0 ? duration : MASON_LEADER_LEASE_SECONDS);
    return expired;
}

/* Tries once to take or renew the Lease. Returns 0 when this replica holds it. */
static int try_acquire(struct mason_leader *l)
{
    struct mason_buf err = MASON_BUF_INIT;
    json_t *lease = NULL, *spec;
    const char *holder;
    int rc;

    rc = mason_kube_get(l->kube, &MASON_KUBE_LEASES, l->namespace, l->name, &lease, &err);
    if (rc == MASON_ENOTFOUND) {
        rc = create_lease(l);
        goto out;
    }
    if (rc != 0)
        goto out;
    spec = json_object_get(lease, "spec");
    holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (!(holder && strcmp(holder, l->identity) == 0) && !lease_expired(l, spec)) {
        rc = MASON_ECONFLICT;
        goto out;
    }
    json_object_set_new(lease, "spec", lease_spec(l, spec));
    /* The PUT carries the resourceVersion read above, so of two replicas only one wins. */
    rc = mason_kube_update(l->kube, &MASON_KUBE_LEASES, l->namespace, l->name, NULL, lease, NULL,
                           &err);
out:
    if (rc != 0 && rc != MASON_ECONFLICT)
        mason_warn(NULL, "leader election: Lease %s/%s: %s: %s", l->namespace, l->name,
                   mason_strerror(rc), mason_buf_str(&err));
    json_decref(lease);
    mason_buf_release(&err);
    return rc;
}

int mason_leader_acquire(struct mason_leader *l, volatile sig_atomic_t *stop)
{
    int logged = 0;

    while (!*stop) {
        if (try_acquire(l) == 0) {
            mason_info(NULL, "leader election: %s holds Lease %s/%s", l->identity, l->namespace,
                       l->name);
            return 0;
        }
        if (!logged)
            mason_info(NULL, "leader election: waiting for Lease %s/%s held by another replica",
                       l->namespace, l->name);
        logged = 1;
        sleep(MASON_LEADER_RENEW_SECONDS);
    }
    return MASON_ETIMEOUT;
}

int mason_leader_renew(struct mason_leader *l)
{
    return try_acquire(l);
}

static void release_lease(struct mason_leader *l)
{
    struct mason_buf err = MASON_BUF_INIT;
    json_t *lease = NULL;

    if (mason_kube_get(l->kube, &MASON_KUBE_LEASES, l->namespace, l->name, &lease, &err) == 0) {
        const char *holder =
            json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity"));

        if (holder && strcmp(holder, l->identity) == 0) {
            json_object_set_new(json_object_get(lease, "spec"), "holderIdentity", json_string(""));
            mason_kube_update(l->kube, &MASON_KUBE_LEASES, l->namespace, l->name, NULL, lease, NULL,
                              &err);
        }
    }
    json_decref(lease);
    mason_buf_release(&err);
}

void mason_leader_free(struct mason_leader *l, int release)
{
    if (!l)
        return;
    if (release)
        release_lease(l);
    free(l->namespace);
    free(l->name);
    free(l->identity);
    free(l->seen_record);
    free(l);
}
