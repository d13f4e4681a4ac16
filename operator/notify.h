/*
 * Tells people about continuation requests and decisions: a Slack message
 * with Continue and Stop buttons when approvals.slack is configured, and a
 * Kubernetes Event either way (through the phase change).
 */
#ifndef MASON_NOTIFY_H
#define MASON_NOTIFY_H

#include "reconcile.h"
#include "slack.h"

/* Announces the pending request in status.approval; stores the Slack message's channel and
 * ts there. Failures are logged: the annotation path works without Slack. */
void mason_notify_request(struct reconcile *r);

/* Updates the announcement with the decision in status.approval. */
void mason_notify_decided(struct reconcile *r);

/*
 * Parses the approvals section and, when it configures Slack, reads the bot
 * token and signing secret (k8s:// references from namespace ns) and
 * creates the client. Returns 0 or MASON_ECONFIG with err naming the key.
 */
int mason_notify_start(struct mason_operator *op, const char *ns, struct mason_buf *err);

void mason_notify_stop(struct mason_operator *op);

/* Serves a POST to /slack/interactions (a mason_http_post_fn whose arg is the operator). */
unsigned mason_notify_http_post(void *arg, const struct mason_http_post *post,
                                struct mason_buf *reply);

#endif
