/*
 * The Slack Web API client: one POST per method call to
 * <api_base_url>/<method> with "Authorization: Bearer <bot token>". Slack
 * replies HTTP 200 with {"ok":false,"error":"..."} for most failures, so the
 * error code in the body determines the return code and the message.
 */
#include "slack.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secrets.h"
#include "slack_internal.h"
#include "banned.h"

#define TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 5000L

/* The return code and the fix for one Slack error code. */
struct error_hint {
    const char *code;
    int rc;
    const char *fix;
};

static const struct error_hint error_hints[] = {
    {"not_authed", MASON_EUNAUTHORIZED,
     "no bot token was sent; check the Secret that approvals.slack.bot_token_secret names"},
    {"invalid_auth", MASON_EUNAUTHORIZED,
     "Slack rejected the bot token; check that the Secret that approvals.slack.bot_token_secret names holds the app's bot token (xoxb-...)"},
    {"token_revoked", MASON_EUNAUTHORIZED,
     "the bot token was revoked; reinstall the app and update the Secret that approvals.slack.bot_token_secret names"},
    {"token_expired", MASON_EUNAUTHORIZED,
     "the bot token expired; reinstall the app and update the Secret that approvals.slack.bot_token_secret names"},
    {"account_inactive", MASON_EUNAUTHORIZED,
     "the app's bot user was deactivated; reinstall the app"},
    {"not_in_channel", MASON_EFORBIDDEN,
     "the bot is not a member of the channel; invite the app to the channel"},
    {"missing_scope", MASON_EFORBIDDEN,
     "the bot token lacks a scope; add chat:write and usergroups:read under OAuth & Permissions and reinstall the app"},
    {"is_archived", MASON_EFORBIDDEN,
     "the channel is archived; unarchive it or set approvals.slack.channel to another channel"},
    {"channel_not_found", MASON_ENOTFOUND,
     "no such channel; check approvals.slack.channel and that the app can see the channel"},
    {"message_not_found", MASON_ENOTFOUND, "the message was deleted"},
    {"cant_update_message", MASON_EFORBIDDEN, "the message was not posted by this app"},
    {"no_such_subteam", MASON_ENOTFOUND,
     "no such user group; check the S... ids in approvals.slack.approvers"},
    {"ratelimited", MASON_ETHROTTLED, "Slack is rate limiting the app; try again later"},
};

static void wipe_string(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void mason_slack_free(struct mason_slack *slack)
{
    if (!slack)
        return;
    for (size_t i = 0; i < slack->group_count; i++) {
        slack_group_clear(&slack->groups[i]);
        free(slack->groups[i].group);
    }
    free(slack->groups);
    pthread_mutex_destroy(&slack->lock);
    wipe_string(slack->bot_token);
    wipe_string(slack->signing_secret);
    mason_slack_config_release(&slack->cfg);
    free(slack);
}

static int copy_config(struct mason_slack_config *dst, const struct mason_slack_config *src)
{
    dst->api_base_url = strdup(src->api_base_url);
    dst->channel = strdup(src->channel);
    dst->bot_token_secret = src->bot_token_secret ? strdup(src->bot_token_secret) : NULL;
    dst->signing_secret = src->signing_secret ? strdup(src->signing_secret) : NULL;
    dst->approvers = calloc(src->approver_count + 1, sizeof(*dst->approvers));
    if (!dst->api_base_url || !dst->channel || !dst->approvers)
        return MASON_ENOMEM;
    for (size_t i = 0; i < src->approver_count; i++) {
        dst->approvers[i] = strdup(src->approvers[i]);
        if (!dst->approvers[i])
            return MASON_ENOMEM;
        dst->approver_count++;
    }
    return 0;
}

static int create_group_caches(struct mason_slack *slack)
{
    slack->groups = calloc(slack->cfg.approver_count + 1, sizeof(*slack->groups));
    if (!slack->groups)
        return MASON_ENOMEM;
    for (size_t i = 0; i < slack->cfg.approver_count; i++) {
        if (slack->cfg.approvers[i][0] != 'S')
            continue;
        slack->groups[slack->group_count].group = strdup(slack->cfg.approvers[i]);
        if (!slack->groups[slack->group_count].group)
            return MASON_ENOMEM;
        slack->group_count++;
    }
    return 0;
}

struct mason_slack *mason_slack_create(const struct mason_slack_config *cfg, const char *bot_token,
                                       const char *signing_secret, struct mason_buf *err)
{
    struct mason_slack *slack;

    if (!cfg || !cfg->api_base_url || !cfg->channel || !bot_token || !*bot_token ||
        !signing_secret || !*signing_secret) {
        mason_buf_adds(
            err, "Slack client needs api_base_url, channel, a bot token and a signing secret");
        return NULL;
    }
    slack = calloc(1, sizeof(*slack));
    if (!slack) {
        mason_buf_adds(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&slack->lock, NULL);
    slack->bot_token = strdup(bot_token);
    slack->signing_secret = strdup(signing_secret);
    if (!slack->bot_token || !slack->signing_secret || copy_config(&slack->cfg, cfg) ||
        create_group_caches(slack)) {
        mason_buf_adds(err, "out of memory");
        mason_slack_free(slack);
        return NULL;
    }
    return slack;
}

const char *mason_slack_channel(const struct mason_slack *slack)
{
    return slack->cfg.channel;
}

static size_t write_reply(char *data, size_t size, size_t count, void *arg)
{
    if (mason_buf_add(arg, data, size * count))
        return 0; /* curl then fails with CURLE_WRITE_ERROR */
    return size * count;
}

static struct curl_slist *request_headers(const struct mason_buf *auth, const char *type)
{
    struct mason_buf content = MASON_BUF_INIT;
    struct curl_slist *headers = NULL;

    if (!mason_buf_addf(&content, "Content-Type: %s", type))
        headers = curl_slist_append(NULL, mason_buf_str(auth));
    if (headers && !curl_slist_append(headers, mason_buf_str(&content))) {
        curl_slist_free_all(headers);
        headers = NULL;
    }
    /* curl would otherwise send "Expect: 100-continue" and wait for a reply to it. */
    if (headers && !curl_slist_append(headers, "Expect:")) {
        curl_slist_free_all(headers);
        headers = NULL;
    }
    mason_buf_release(&content);
    return headers;
}

static void set_options(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
                        struct mason_buf *reply, char *errbuf)
{
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L); /* never send the token elsewhere */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_reply);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
}

static int map_curl_error(CURLcode code, const char *url, const char *errbuf, struct mason_buf *err)
{
    mason_buf_addf(err, "POST %s failed: %s", url, *errbuf ? errbuf : curl_easy_strerror(code));
    if (code == CURLE_OPERATION_TIMEDOUT)
        return MASON_ETIMEOUT;
    if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST)
        return MASON_ECONNECT;
    if (code == CURLE_WRITE_ERROR)
        return MASON_ETOOBIG;
    return code == CURLE_OUT_OF_MEMORY ? MASON_ENOMEM : MASON_EHTTP;
}

/* Sends one POST and stores the HTTP status and the body. Returns 0 when a reply arrived. */
static int post(struct mason_slack *slack, const char *url, const char *type, const char *body,
                long *status, struct mason_buf *reply, struct mason_buf *err)
{
    struct mason_buf auth = MASON_BUF_INIT;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    CURLcode code = CURLE_OUT_OF_MEMORY;

    if (curl && !mason_buf_addf(&auth, "Authorization: Bearer %s", slack->bot_token))
        headers = request_headers(&auth, type);
    if (headers) {
        set_options(curl, url, headers, body, reply, errbuf);
        code = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    }
    /* NOTE: curl_slist_free_all does not wipe its copy of the Authorization header. */
    curl_slist_free_all(headers);
    mason_secrets_buf_wipe(&auth);
    curl_easy_cleanup(curl);
    return code == CURLE_OK ? 0 : map_curl_error(code, url, errbuf, err);
}

/* Turns {"ok":false,"error":code} into a return code and a message that names the fix. */
static int slack_error(const char *method, const json_t *reply, struct mason_buf *err)
{
    const char *code = json_string_value(json_object_get(reply, "error"));
    const char *needed = json_string_value(json_object_get(reply, "needed"));

    if (!code)
        code = "unknown_error";
    for (size_t i = 0; i < sizeof(error_hints) / sizeof(error_hints[0]); i++) {
        if (strcmp(error_hints[i].code, code) != 0)
            continue;
        mason_buf_addf(err, "Slack %s failed: %s: %s", method, code, error_hints[i].fix);
        if (needed)
            mason_buf_addf(err, " (scope needed: %s)", needed);
        return error_hints[i].rc;
    }
    mason_buf_addf(err, "Slack %s failed: %s", method, code);
    return MASON_EHTTP;
}

static int http_error(const char *method, long status, struct mason_buf *err)
{
    mason_buf_addf(err, "Slack %s failed: HTTP %ld", method, status);
    if (status == 429) {
        mason_buf_adds(err, ": Slack is rate limiting the app; try again later");
        return MASON_ETHROTTLED;
    }
    if (status >= 500)
        return MASON_EUNAVAILABLE;
    if (status == 404)
        mason_buf_adds(err, ": no such method; check approvals.slack.api_base_url");
    return MASON_EHTTP;
}

int mason_slack_call(struct mason_slack *slack, const char *method, const json_t *body,
                     const char *form, json_t **reply, struct mason_buf *err)
{
    struct mason_buf url = MASON_BUF_INIT, text = MASON_BUF_INIT;
    char *json_body = NULL;
    json_t *doc = NULL;
    long status = 0;
    int rc;

    mason_buf_init(&text, MASON_SLACK_MAX_REPLY);
    if (!form)
        json_body = json_dumps(body, JSON_COMPACT);
    rc = mason_buf_addf(&url, "%s/%s", slack->cfg.api_base_url, method);
    if (!rc && !form && !json_body)
        rc = MASON_ENOMEM;
    if (!rc)
        rc = post(slack, url.data,
                  form ? "application/x-www-form-urlencoded" : "application/json; charset=utf-8",
                  form ? form : json_body, &status, &text, err);
    if (!rc && status != 200)
        rc = http_error(method, status, err);
    if (!rc) {
        doc = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
        if (!json_is_object(doc)) {
            mason_buf_addf(err, "Slack %s failed: the reply is not a JSON object", method);
            rc = MASON_EPARSE;
        } else if (!json_is_true(json_object_get(doc, "ok"))) {
            rc = slack_error(method, doc, err);
        }
    }
    if (!rc && reply)
        *reply = json_incref(doc);
    json_decref(doc);
    free(json_body);
    mason_buf_release(&url);
    mason_buf_release(&text);
    return rc;
}

/* Copies a string id from reply into dst, which is large enough for the ids Slack returns (31
 * bytes). */
static int copy_id(const json_t *reply, const char *key, char *dst, size_t size,
                   struct mason_buf *err)
{
    const char *value = json_string_value(json_object_get(reply, key));

    if (!value || !slack_valid_ref_part(value, strlen(value)) || strlen(value) >= size) {
        mason_buf_addf(err, "Slack chat.postMessage replied without a valid \"%s\"", key);
        return MASON_EPARSE;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

int mason_slack_post_request(struct mason_slack *slack, const struct mason_approval_request *req,
                             struct mason_slack_message_ref *out, struct mason_buf *err)
{
    json_t *msg = mason_slack_request_message(slack->cfg.channel, req), *reply = NULL;
    int rc;

    if (!msg) {
        mason_buf_adds(
            err,
            "cannot build the approval message: the request needs a namespace, a name, a uid and a request id of letters, digits, '-', '.' or '_'");
        return MASON_EINVAL;
    }
    rc = mason_slack_call(slack, "chat.postMessage", msg, NULL, &reply, err);
    if (!rc)
        rc = copy_id(reply, "channel", out->channel, sizeof(out->channel), err);
    if (!rc)
        rc = copy_id(reply, "ts", out->ts, sizeof(out->ts), err);
    json_decref(reply);
    json_decref(msg);
    return rc;
}

int mason_slack_update_decided(struct mason_slack *slack,
                               const struct mason_slack_message_ref *where,
                               const struct mason_approval_request *req,
                               const struct mason_approval_verdict *verdict, struct mason_buf *err)
{
    json_t *msg = mason_slack_decided_message(where->channel, where->ts, req, verdict);
    int rc;

    if (!msg) {
        mason_buf_adds(err, "cannot build the decided message: the request is incomplete");
        return MASON_EINVAL;
    }
    rc = mason_slack_call(slack, "chat.update", msg, NULL, NULL, err);
    json_decref(msg);
    return rc;
}
