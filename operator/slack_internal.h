/* Helpers shared by the slack_*.c files; not part of the module's interface. */
#ifndef MASON_SLACK_INTERNAL_H
#define MASON_SLACK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "slack.h"

/* The members of one approver user group as usergroups.users.list returned them. */
struct slack_group {
    char *group;
    char **members;
    size_t member_count;
    time_t fetched_at; /* 0 until the first successful fetch */
};

struct mason_slack {
    struct mason_slack_config cfg;
    char *bot_token;
    char *signing_secret;
    pthread_mutex_t lock;       /* guards groups */
    struct slack_group *groups; /* one per S... approver, in cfg.approvers order */
    size_t group_count;
};

/* Frees a group's member list and marks it as never fetched. */
void slack_group_clear(struct slack_group *g);

#define SLACK_REF_PART_MAX 253 /* a Kubernetes name can be this long */

/*
 * Returns whether s may be one part of a button value
 * "namespace/name/uid/request_id": 1 to SLACK_REF_PART_MAX letters, digits,
 * '-', '.' or '_'. So the value splits back on '/' unambiguously.
 */
bool slack_valid_ref_part(const char *s, size_t len);

/* Appends t as "2024-04-05 12:34 UTC". */
int slack_add_time(struct mason_buf *out, time_t t);

#endif
