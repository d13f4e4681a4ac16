#include "notify.h"

#include "banned.h"

void mason_notify_request(struct reconcile *r)
{
    json_t *slack = json_object_get(r->op->cfg->approvals, "slack");

    if (!slack)
        return;
    mason_warn(
        &r->ctx,
        "approvals.slack is configured but this build posts no Slack messages; approve with kubectl annotate");
}

void mason_notify_decided(struct reconcile *r)
{
    (void)r;
}
