/* Approval vocabulary and the approvals configuration section (see approval.h). */
#include "approval.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets.h"
#include "slack.h"
#include "banned.h"

#define MAX_ID_LEN 64

const char *mason_approval_outcome_name(enum mason_approval_outcome outcome)
{
    switch (outcome) {
    case MASON_APPROVAL_CONTINUE:
        return "continue";
    case MASON_APPROVAL_STOP:
        return "stop";
    case MASON_APPROVAL_EXPIRED:
        return "expired";
    }
    return "unknown";
}

int mason_approval_parse_decision(const char *text, enum mason_approval_outcome *out)
{
    if (!text)
        return MASON_EINVAL;
    if (strcmp(text, "continue") == 0)
        *out = MASON_APPROVAL_CONTINUE;
    else if (strcmp(text, "stop") == 0)
        *out = MASON_APPROVAL_STOP;
    else
        return MASON_EINVAL;
    return 0;
}

void mason_slack_config_release(struct mason_slack_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->api_base_url);
    free(cfg->channel);
    free(cfg->bot_token_secret);
    free(cfg->signing_secret);
    for (size_t i = 0; i < cfg->approver_count; i++)
        free(cfg->approvers[i]);
    free(cfg->approvers);
    memset(cfg, 0, sizeof(*cfg));
}

void mason_approvals_config_release(struct mason_approvals_config *cfg)
{
    mason_slack_config_release(cfg->slack);
    free(cfg->slack);
    memset(cfg, 0, sizeof(*cfg));
}

/* Slack ids are an upper-case letter that gives the kind, then upper-case letters and digits. */
static bool valid_slack_id(const char *s, const char *kinds)
{
    size_t len = strlen(s);

    if (len < 3 || len > MAX_ID_LEN || !strchr(kinds, s[0]))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Rejects keys of obj that are not in allowed (NULL-terminated). */
static int check_keys(const json_t *obj, const char *path, const char *const *allowed,
                      struct mason_buf *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)obj, key, value)
    {
        size_t i = 0;

        (void)value;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i]) {
            mason_buf_addf(err, "%s.%s: unknown key", path, key);
            return MASON_ECONFIG;
        }
    }
    return 0;
}

static int parse_timeout(const json_t *value, unsigned *out, struct mason_buf *err)
{
    json_int_t n;

    if (!value || json_is_null(value)) {
        *out = MASON_APPROVAL_DEFAULT_TIMEOUT_MINUTES;
        return 0;
    }
    n = json_is_integer(value) ? json_integer_value(value) : -1;
    if (n < 1 || n > MASON_APPROVAL_MAX_TIMEOUT_MINUTES) {
        mason_buf_addf(err,
                       "approvals.timeout_minutes: must be a whole number of minutes from 1 to %u",
                       MASON_APPROVAL_MAX_TIMEOUT_MINUTES);
        return MASON_ECONFIG;
    }
    *out = (unsigned)n;
    return 0;
}

/* Copies the non-empty string obj.key into *out, or names what is wrong. */
static int get_string(const json_t *obj, const char *key, const char *hint, char **out,
                      struct mason_buf *err)
{
    const json_t *value = json_object_get(obj, key);

    if (!value || json_is_null(value)) {
        mason_buf_addf(err, "approvals.slack.%s: missing; %s", key, hint);
        return MASON_ECONFIG;
    }
    if (!json_is_string(value) || json_string_length(value) == 0 ||
        strlen(json_string_value(value)) != json_string_length(value)) {
        mason_buf_addf(err, "approvals.slack.%s: must be a non-empty string; %s", key, hint);
        return MASON_ECONFIG;
    }
    *out = strdup(json_string_value(value));
    return *out ? 0 : MASON_ENOMEM;
}

static int check_url(struct mason_slack_config *s, struct mason_buf *err)
{
    const char *url = s->api_base_url;
    size_t len = strlen(url);

    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        mason_buf_addf(
            err,
            "approvals.slack.api_base_url: \"%s\" is not an http or https URL; use https://slack.com/api",
            url);
        return MASON_ECONFIG;
    }
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)url[i]) || iscntrl((unsigned char)url[i]) || url[i] == '?' ||
            url[i] == '#') {
            mason_buf_addf(
                err,
                "approvals.slack.api_base_url: \"%s\" has a space, a query or a fragment; give the API root only",
                url);
            return MASON_ECONFIG;
        }
    }
    while (len > 0 && url[len - 1] == '/')
        s->api_base_url[--len] = '\0'; /* methods are appended as "/chat.update" */
    return 0;
}

static int check_secret_ref(const char *key, const char *ref, struct mason_buf *err)
{
    struct mason_buf scheme = MASON_BUF_INIT, why = MASON_BUF_INIT;
    int rc = mason_secret_uri_scheme(ref, &scheme, &why);

    if (rc)
        mason_buf_addf(
            err,
            "approvals.slack.%s: not a secret reference (%s); write it as k8s://SECRET/KEY or another configured scheme",
            key, mason_buf_str(&why));
    mason_buf_release(&scheme);
    mason_buf_release(&why);
    return rc ? MASON_ECONFIG : 0;
}

static int parse_approvers(const json_t *list, struct mason_slack_config *s, struct mason_buf *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(list) || json_array_size(list) == 0) {
        mason_buf_adds(
            err,
            "approvals.slack.approvers: missing or empty, so nobody could approve; list Slack user ids (U...) or user group ids (S...)");
        return MASON_ECONFIG;
    }
    s->approvers = calloc(json_array_size(list), sizeof(*s->approvers));
    if (!s->approvers)
        return MASON_ENOMEM;
    json_array_foreach(list, i, item)
    {
        const char *id = json_string_value(item);

        if (!id || !valid_slack_id(id, "UWS")) {
            mason_buf_addf(
                err,
                "approvals.slack.approvers[%zu]: not a Slack user id (U..., W...) or user group id (S...)",
                i);
            return MASON_ECONFIG;
        }
        s->approvers[i] = strdup(id);
        if (!s->approvers[i])
            return MASON_ENOMEM;
        s->approver_count++;
    }
    return 0;
}

static int parse_slack(const json_t *obj, struct mason_slack_config *s, struct mason_buf *err)
{
    static const char *const keys[] = {"api_base_url",   "channel",   "bot_token_secret",
                                       "signing_secret", "approvers", NULL};
    int rc;

    if (!json_is_object(obj)) {
        mason_buf_adds(err, "approvals.slack: must be a mapping");
        return MASON_ECONFIG;
    }
    rc = check_keys(obj, "approvals.slack", keys, err);
    if (!rc)
        rc = get_string(obj, "api_base_url", "set https://slack.com/api for Slack itself",
                        &s->api_base_url, err);
    if (!rc)
        rc = check_url(s, err);
    if (!rc)
        rc = get_string(obj, "channel", "give the channel id, such as C0123456789", &s->channel,
                        err);
    if (!rc && !valid_slack_id(s->channel, "CGD")) {
        mason_buf_addf(
            err,
            "approvals.slack.channel: \"%s\" is not a channel id; copy the id (C...) from the channel's details, not its name",
            s->channel);
        rc = MASON_ECONFIG;
    }
    if (!rc)
        rc = get_string(obj, "bot_token_secret",
                        "give a secret reference such as k8s://mason-slack/bot_token",
                        &s->bot_token_secret, err);
    if (!rc)
        rc = check_secret_ref("bot_token_secret", s->bot_token_secret, err);
    if (!rc)
        rc = get_string(obj, "signing_secret",
                        "give a secret reference such as k8s://mason-slack/signing_secret",
                        &s->signing_secret, err);
    if (!rc)
        rc = check_secret_ref("signing_secret", s->signing_secret, err);
    if (!rc)
        rc = parse_approvers(json_object_get(obj, "approvers"), s, err);
    return rc;
}

int mason_approvals_config_parse(const json_t *section, struct mason_approvals_config *cfg,
                                 struct mason_buf *err)
{
    static const char *const keys[] = {"timeout_minutes", "slack", NULL};
    const json_t *slack;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_minutes = MASON_APPROVAL_DEFAULT_TIMEOUT_MINUTES;
    if (!section || json_is_null(section))
        return 0;
    if (!json_is_object(section)) {
        mason_buf_adds(err, "approvals: must be a mapping");
        return MASON_ECONFIG;
    }
    rc = check_keys(section, "approvals", keys, err);
    if (!rc)
        rc = parse_timeout(json_object_get(section, "timeout_minutes"), &cfg->timeout_minutes, err);
    slack = json_object_get(section, "slack");
    if (!rc && slack && !json_is_null(slack)) {
        cfg->slack = calloc(1, sizeof(*cfg->slack));
        rc = cfg->slack ? parse_slack(slack, cfg->slack, err) : MASON_ENOMEM;
    }
    if (rc == MASON_ENOMEM)
        mason_buf_adds(err, "approvals: out of memory");
    if (rc) {
        mason_approvals_config_release(cfg);
        return rc == MASON_ENOMEM ? rc : MASON_ECONFIG;
    }
    return 0;
}
