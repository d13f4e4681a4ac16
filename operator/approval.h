/*
 * Human approval of continuations. When a run ends at its turn limit, the
 * operator records a pending approval request in the AgentTask status, and a
 * human decides in Slack or through the mason.dev/approval annotation whether
 * the task may continue. This header holds the vocabulary both paths share and the
 * parser of the configuration's approvals section.
 */
#ifndef MASON_APPROVAL_H
#define MASON_APPROVAL_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

#define MASON_APPROVAL_DEFAULT_TIMEOUT_MINUTES 240u
#define MASON_APPROVAL_MAX_TIMEOUT_MINUTES (30u * 24u * 60u)

/* The end of an approval request. Only continue and stop are decisions a person makes. */
enum mason_approval_outcome {
    MASON_APPROVAL_CONTINUE,
    MASON_APPROVAL_STOP,
    MASON_APPROVAL_EXPIRED,
};

/* Returns "continue", "stop" or "expired". */
const char *mason_approval_outcome_name(enum mason_approval_outcome outcome);

/*
 * Parses a decision as a person writes it in the mason.dev/approval
 * annotation: "continue" or "stop", nothing else. Returns 0 or MASON_EINVAL.
 */
int mason_approval_parse_decision(const char *text, enum mason_approval_outcome *out);

/*
 * A pending request as shown to approvers. All strings are borrowed; any of
 * repository and summary may be NULL.
 */
struct mason_approval_request {
    const char *namespace;
    const char *name;
    const char *uid;
    const char *request_id; /* unique per request; letters, digits, '-', '_' and '.' */
    const char *repository;
    const char *summary; /* progress so far, plain text */
    unsigned turns_used;
    double cost_usd;
    unsigned continuation;      /* the continuation this request would start, from 1 */
    unsigned max_continuations; /* the engine's max_continuations */
    time_t expires_at;          /* 0 when the request does not expire */
};

/* The decider and time that ended a request. Strings are borrowed and may be NULL. */
struct mason_approval_verdict {
    enum mason_approval_outcome outcome;
    const char *slack_user_id; /* set when the decision came from Slack */
    const char *decider;       /* Slack user name or Kubernetes user name */
    time_t decided_at;
};

struct mason_slack_config;

/* The approvals section. slack is NULL when the section has no slack key. */
struct mason_approvals_config {
    unsigned timeout_minutes;
    struct mason_slack_config *slack;
};

/*
 * Fills cfg from the approvals object of the configuration (borrowed; NULL
 * or JSON null gives the defaults and no Slack). Returns 0, or MASON_ECONFIG
 * with err naming the key path, such as "approvals.slack.channel: missing",
 * and what to write there, or MASON_ENOMEM. cfg is empty on failure. Release cfg with
 * mason_approvals_config_release.
 */
int mason_approvals_config_parse(const json_t *section, struct mason_approvals_config *cfg,
                                 struct mason_buf *err);

/* Frees what cfg owns; cfg is empty afterwards. */
void mason_approvals_config_release(struct mason_approvals_config *cfg);

#endif
