/*
 * Lease-based leader election (coordination.k8s.io/v1 Lease), so that of
 * several operator replicas only one acts. A replica takes the Lease when it
 * is free or its holder has not renewed it within leaseDurationSeconds, as
 * measured on this replica's own clock from when it last saw the Lease
 * change, and renews it every MASON_LEADER_RENEW_SECONDS.
 */
#ifndef MASON_LEADER_H
#define MASON_LEADER_H

#include <signal.h>

#include "kube.h"

#define MASON_LEADER_LEASE_SECONDS 15
#define MASON_LEADER_RENEW_SECONDS 2
/* A leader that cannot renew for this long stops acting. */
#define MASON_LEADER_RENEW_DEADLINE_SECONDS 10

struct mason_leader;

/* Creates an elector for the Lease namespace/name under identity. Returns NULL when memory
 * runs out. */
struct mason_leader *mason_leader_create(struct mason_kube *kube, const char *namespace,
                                         const char *name, const char *identity);

/*
 * Blocks until this replica holds the Lease (returns 0) or *stop becomes
 * non-zero (returns MASON_ETIMEOUT). Errors of the API server are logged and
 * retried.
 */
int mason_leader_acquire(struct mason_leader *l, volatile sig_atomic_t *stop);

/* Renews the Lease once. Returns 0, or MASON_ECONFLICT when another replica took it, or the
 * request's error. */
int mason_leader_renew(struct mason_leader *l);

/* Releases the Lease so another replica takes over at once, and frees l. NULL is a no-op. */
void mason_leader_free(struct mason_leader *l, int release);

#endif
