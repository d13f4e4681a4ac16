/*
 * Tells people about continuation requests and decisions: a Slack message
 * with Continue and Stop buttons when approvals.slack is configured, and a
 * Kubernetes Event either way (through the phase change).
 */
#ifndef MASON_NOTIFY_H
#define MASON_NOTIFY_H

#include "reconcile.h"

/* Announces the pending request in status.approval; stores the Slack message's channel and
 * ts there. Failures are logged: the annotation path works without Slack. */
void mason_notify_request(struct reconcile *r);

/* Updates the announcement with the decision in status.approval. */
void mason_notify_decided(struct reconcile *r);

#endif
