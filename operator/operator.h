/*
 * The operator's shared state: configuration, API client, secret resolver,
 * informers over AgentTasks and the Jobs it owns, and the work queue of task
 * keys ("namespace/name"). main.c builds it; controller.c runs it;
 * reconcile.c acts on one key at a time.
 */
#ifndef MASON_OPERATOR_H
#define MASON_OPERATOR_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "http.h"
#include "informer.h"
#include "approval.h"
#include "pricing.h"
#include "scoring_config.h"
#include "kube.h"
#include "queue.h"
#include "secrets.h"

#define MASON_FIELD_MANAGER "mason-operator"

struct mason_operator {
    struct mason_config *cfg;      /* borrowed */
    struct mason_kube *kube;       /* borrowed */
    struct mason_secrets *secrets; /* borrowed */
    struct mason_queue *queue;
    struct mason_informer **tasks; /* one per watched namespace, or one for all */
    struct mason_informer **jobs;
    size_t informer_count;
    int workers;
    char instance[128]; /* host name, the reportingInstance of Events */
    struct mason_operator_metrics metrics;
    struct mason_http *http;
    struct mason_runs *runs;         /* what each followed run's stream reported */
    struct mason_follower *follower; /* reads the agent pods' logs */
    struct mason_pricing pricing;    /* prices of the configuration, else the defaults */
    struct mason_scoring scoring;    /* trajectory scoring thresholds and interventions */
    struct mason_approvals_config approvals;
    struct mason_slack *slack;         /* Slack client for approvals, or NULL */
    struct mason_session_sweep *sweep; /* deletes expired AgentSessions */
};

extern const struct mason_kube_resource MASON_KUBE_CONFIGMAPS;

/*
 * Creates the queue and the informers for the namespaces in op->cfg, starts
 * them, waits for their first lists and starts op->workers workers. Returns 0
 * or a MASON_E* code with err set.
 */
int mason_controller_start(struct mason_operator *op, struct mason_buf *err);

/* Stops workers and informers, finishing the reconciles in progress, and frees them. */
void mason_controller_stop(struct mason_operator *op);

/* Returns a deep copy of the cached AgentTask ns/name (new reference), or NULL. */
json_t *mason_controller_task(struct mason_operator *op, const char *ns, const char *name);

/* Returns a deep copy of the cached Job ns/name (new reference), or NULL. */
json_t *mason_controller_job(struct mason_operator *op, const char *ns, const char *name);

/*
 * Brings the objects of the AgentTask named by key ("namespace/name") in line
 * with its spec and writes its status. Returns 0, or a MASON_E* code when the
 * key should be retried with backoff.
 */
int mason_reconcile(struct mason_operator *op, const char *key);

/*
 * Records a core/v1 Event about the AgentTask t ("Normal" or "Warning"
 * type). Failures are logged, never returned: an Event is best effort.
 */
void mason_event_record(struct mason_operator *op, json_t *task, const char *type,
                        const char *reason, const char *message);

#endif
