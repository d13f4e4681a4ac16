/*
 * Admission rules for AgentTasks: the secret-reference policy of
 * secret_resolver.policy, applied with the operator's own check so both
 * enforce one policy, a scan of literal env values for credentials, and the
 * mason.dev/approved-by annotation that records who approved a continuation.
 */
#ifndef MASON_AGENTTASK_H
#define MASON_AGENTTASK_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "policy.h"
#include "secrets.h"

#define MASON_APPROVAL_ANNOTATION "mason.dev/approval"
#define MASON_APPROVED_BY_ANNOTATION "mason.dev/approved-by"

/*
 * Checks the spec.env of an AgentTask (borrowed) and appends a violation for
 * each entry that breaks a rule: a secretRef without a valid scheme, with a
 * scheme that no backend of cfg serves or that the policy does not allow; a
 * name that matches a blocked pattern (for literal values too); a literal
 * value that looks like a credential. Messages never contain the value.
 * Returns 0, whether or not the task passes, or MASON_ENOMEM.
 */
int mason_agenttask_check(const json_t *task, const struct mason_secrets_config *cfg,
                          struct mason_policy_report *report);

/*
 * Returns a static description of the credential that value looks like,
 * such as "an Anthropic API key", or NULL when it looks like none.
 */
const char *mason_agenttask_credential_kind(const char *value);

/*
 * Builds the JSON Patch (a new reference, maybe empty) that records
 * username in the mason.dev/approved-by annotation when task sets or changes
 * mason.dev/approval compared with old_task (NULL on create). When the
 * approval is unchanged and still set, a changed approved-by is restored to
 * its old value, so no one can claim another user's decision. A recorder
 * (a user in approval_recorders, such as the operator writing a Slack
 * decision) keeps the approved-by value it sends. NULL when memory runs out.
 */
json_t *mason_agenttask_approval_patch(const json_t *task, const json_t *old_task,
                                       const char *username, bool recorder);

/*
 * Checks the mason.dev/approval annotation of task when it differs from old_task's (NULL on
 * create): only "continue" and "stop" are decisions. Returns 0, or MASON_EINVAL with the value
 * and the fix appended to message.
 */
int mason_agenttask_check_approval(const json_t *task, const json_t *old_task,
                                   struct mason_buf *message);

#endif
