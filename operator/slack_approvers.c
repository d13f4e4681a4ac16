/*
 * Approver checks: a user listed in approvals.slack.approvers, or a member of a
 * user group listed there. Group members come from usergroups.users.list and
 * are kept for MASON_SLACK_GROUP_CACHE_SECONDS, so a burst of clicks costs one
 * call per group and a removal from a group takes effect within that time.
 */
#include "slack.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "slack_internal.h"
#include "banned.h"

#define MAX_GROUP_MEMBERS 50000u

void slack_group_clear(struct slack_group *g)
{
    for (size_t i = 0; i < g->member_count; i++)
        free(g->members[i]);
    free(g->members);
    g->members = NULL;
    g->member_count = 0;
    g->fetched_at = 0;
}

/* Replaces g's members with the "users" array of a usergroups.users.list reply. */
static int store_members(struct slack_group *g, const json_t *users, time_t now,
                         struct mason_buf *err)
{
    size_t count = json_array_size(users), i;
    json_t *item;

    if (!json_is_array(users) || count > MAX_GROUP_MEMBERS) {
        mason_buf_addf(
            err, "Slack usergroups.users.list for %s: \"users\" is not a list of at most %u ids",
            g->group, MAX_GROUP_MEMBERS);
        return MASON_EPARSE;
    }
    slack_group_clear(g);
    g->members = calloc(count + 1, sizeof(*g->members));
    if (!g->members)
        return MASON_ENOMEM;
    json_array_foreach(users, i, item)
    {
        const char *id = json_string_value(item);

        if (!id)
            continue;
        g->members[g->member_count] = strdup(id);
        if (!g->members[g->member_count])
            return MASON_ENOMEM;
        g->member_count++;
    }
    g->fetched_at = now;
    return 0;
}

static int fetch_group(struct mason_slack *slack, struct slack_group *g, time_t now,
                       struct mason_buf *err)
{
    struct mason_buf form = MASON_BUF_INIT;
    json_t *reply = NULL;
    int rc;

    /* Group ids are checked at configuration time to be letters and digits, so need no escaping. */
    rc = mason_buf_addf(&form, "usergroup=%s", g->group);
    if (!rc)
        rc = mason_slack_call(slack, "usergroups.users.list", NULL, form.data, &reply, err);
    if (!rc)
        rc = store_members(g, json_object_get(reply, "users"), now, err);
    json_decref(reply);
    mason_buf_release(&form);
    return rc;
}

static bool fresh(const struct slack_group *g, time_t now)
{
    return g->fetched_at != 0 && now >= g->fetched_at &&
           now - g->fetched_at < MASON_SLACK_GROUP_CACHE_SECONDS;
}

static bool group_has(const struct slack_group *g, const char *user_id)
{
    for (size_t i = 0; i < g->member_count; i++)
        if (strcmp(g->members[i], user_id) == 0)
            return true;
    return false;
}

int mason_slack_is_approver(struct mason_slack *slack, const char *user_id, time_t now,
                            bool *allowed, struct mason_buf *err)
{
    int rc = 0;

    *allowed = false;
    if (!user_id || !*user_id)
        return 0;
    for (size_t i = 0; i < slack->cfg.approver_count; i++) {
        if (slack->cfg.approvers[i][0] != 'S' && strcmp(slack->cfg.approvers[i], user_id) == 0) {
            *allowed = true;
            return 0;
        }
    }
    pthread_mutex_lock(&slack->lock);
    for (size_t i = 0; i < slack->group_count && !*allowed; i++) {
        struct slack_group *g = &slack->groups[i];

        if (!fresh(g, now))
            rc = fetch_group(slack, g, now, err);
        if (rc) {
            slack_group_clear(g); /* never decide on a list that failed to refresh */
            break;
        }
        *allowed = group_has(g, user_id);
    }
    pthread_mutex_unlock(&slack->lock);
    return rc;
}
