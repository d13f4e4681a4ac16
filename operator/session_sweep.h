/*
 * Expiry of AgentSessions. A session expires its TTL after its last use
 * (status.lastUsed plus spec.ttlSeconds), never counted from its creation,
 * and never while its task still runs or waits for approval. An expired
 * session is deleted, and with it the per-taskrun claim it owns.
 */
#ifndef MASON_SESSION_SWEEP_H
#define MASON_SESSION_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "operator.h"

/* How often the sweeper lists the sessions. */
#define MASON_SESSION_SWEEP_SECONDS 60

/*
 * Returns whether session (an AgentSession object) has expired at now.
 * task is its AgentTask, or NULL when the task is gone. fallback_ttl
 * (seconds) applies when the session has no spec.ttlSeconds.
 */
bool mason_session_expired(json_t *session, json_t *task, time_t now, long fallback_ttl);

/* Starts the sweeper thread. Returns 0 or MASON_ENOMEM. */
int mason_session_sweep_start(struct mason_operator *op);

/* Stops the sweeper thread and waits for it. */
void mason_session_sweep_stop(struct mason_operator *op);

#endif
