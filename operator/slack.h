/*
 * Continuation approval in Slack: the Block Kit messages the operator posts,
 * a Web API client (chat.postMessage, chat.update, usergroups.users.list) on
 * libcurl, and the interactivity endpoint that receives Continue and Stop
 * clicks. Clicks are accepted only with a valid v0 request signature, from the
 * configured channel and from an approver. No function here writes the bot
 * token or the signing secret into a message, a log line or a reply.
 */
#ifndef MASON_SLACK_H
#define MASON_SLACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "approval.h"
#include "buf.h"

#define MASON_SLACK_ACTION_CONTINUE "mason_continue"
#define MASON_SLACK_ACTION_STOP "mason_stop"
#define MASON_SLACK_INTERACTIONS_PATH "/slack/interactions"
#define MASON_SLACK_MAX_SKEW_SECONDS 300           /* request timestamp tolerance, both ways */
#define MASON_SLACK_MAX_BODY (1024u * 1024u)       /* cap on an interactivity request body */
#define MASON_SLACK_MAX_REPLY (2u * 1024u * 1024u) /* cap on a Web API reply */
#define MASON_SLACK_GROUP_CACHE_SECONDS 60

/* approvals.slack. Strings are owned. */
struct mason_slack_config {
    char *api_base_url;     /* Web API root, such as https://slack.com/api; required */
    char *channel;          /* channel id, such as C0123456789 */
    char *bot_token_secret; /* secret reference to the bot token (xoxb-...) */
    char *signing_secret;   /* secret reference to the app's signing secret */
    char **approvers;       /* user ids (U..., W...) and user group ids (S...) */
    size_t approver_count;
};

/* Frees what cfg owns; cfg is empty afterwards. */
void mason_slack_config_release(struct mason_slack_config *cfg);

/* ---- Request signatures ---- */

/*
 * Computes the signature Slack sends in X-Slack-Signature: "v0=" and the hex
 * HMAC-SHA256, keyed with secret, of "v0:" timestamp ":" body. Appends it to
 * out. Returns 0 or MASON_ENOMEM.
 */
int mason_slack_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                     struct mason_buf *out);

/*
 * Checks a request's X-Slack-Request-Timestamp and X-Slack-Signature (either
 * may be NULL when the header is absent) against body, in constant time.
 * The timestamp must be within MASON_SLACK_MAX_SKEW_SECONDS of now, in either
 * direction. Returns 0 or MASON_EUNAUTHORIZED with err saying which check
 * failed; err never contains the expected signature.
 */
int mason_slack_verify(const char *secret, const char *timestamp, const char *signature,
                       const char *body, size_t len, time_t now, struct mason_buf *err);

/* ---- Block Kit messages ---- */

/*
 * Builds the chat.postMessage body for req in channel: a header, the task,
 * repository, turns used, cost so far, "k of M" continuation, the progress
 * summary, and Continue and Stop buttons whose value is
 * "namespace/name/uid/request_id". Returns a new reference, or NULL when
 * req lacks namespace, name, uid or a valid request_id, or memory ran out.
 */
json_t *mason_slack_request_message(const char *channel, const struct mason_approval_request *req);

/*
 * Builds the chat.update body that turns the message channel/ts into the
 * record of verdict: the request's fields stay, the buttons go, and a line
 * names who decided what and when. Returns a new reference or NULL.
 */
json_t *mason_slack_decided_message(const char *channel, const char *ts,
                                    const struct mason_approval_request *req,
                                    const struct mason_approval_verdict *verdict);

/*
 * Rewrites the blocks of a posted request message (borrowed, as Slack returns
 * them in an interaction payload) into the decided form, like
 * mason_slack_decided_message. Returns a new reference or NULL.
 */
json_t *mason_slack_decided_blocks(const json_t *blocks,
                                   const struct mason_approval_verdict *verdict);

/* ---- Interactivity payloads ---- */

/* A button click parsed from an interactivity request. Strings are owned. */
struct mason_slack_click {
    enum mason_approval_outcome outcome; /* CONTINUE or STOP */
    char *user_id;
    char *user_name; /* user.username, else user.name, else the user id */
    char *channel_id;
    char *message_ts;
    char *namespace; /* the task and the request, from the button value */
    char *name;
    char *uid;
    char *request_id;
    json_t *blocks; /* message.blocks, new reference, or NULL when absent */
};

/* Frees what click owns; it is empty afterwards and may be released again. */
void mason_slack_click_release(struct mason_slack_click *click);

/*
 * Parses an interactivity request body: application/x-www-form-urlencoded
 * with a payload field that contains JSON of type block_actions whose first
 * action is mason_continue or mason_stop. Checks nothing about who sent it.
 * Returns 0 on success. A well-formed interaction of another kind (another
 * type or action_id) gives MASON_EINVAL. Malformed input gives MASON_EPARSE,
 * and a body over MASON_SLACK_MAX_BODY gives MASON_ETOOBIG. Every failure
 * sets err and leaves click empty.
 */
int mason_slack_click_parse(const char *body, size_t len, struct mason_slack_click *click,
                            struct mason_buf *err);

/* ---- Web API client ---- */

struct mason_slack;

/*
 * Creates a client for cfg (copied) with the resolved bot token and signing
 * secret (copied, wiped on free). Returns NULL with err set when an argument
 * is missing or memory ran out.
 */
struct mason_slack *mason_slack_create(const struct mason_slack_config *cfg, const char *bot_token,
                                       const char *signing_secret, struct mason_buf *err);

/* Wipes the credentials and frees the client. NULL is a no-op. */
void mason_slack_free(struct mason_slack *slack);

/* Returns the configured channel id (borrowed). */
const char *mason_slack_channel(const struct mason_slack *slack);

/*
 * Calls the Web API method (such as "chat.postMessage") with a JSON body, or
 * with a form body when form is not NULL (body is then ignored). On
 * {"ok":true} stores the reply in *reply (new reference; reply may be NULL)
 * and returns 0. Otherwise returns MASON_EUNAUTHORIZED (invalid_auth and
 * other token errors), MASON_EFORBIDDEN (not_in_channel, missing_scope, ...),
 * MASON_ENOTFOUND (channel_not_found, message_not_found, ...),
 * MASON_ETHROTTLED (HTTP 429), MASON_EUNAVAILABLE (HTTP 5xx), MASON_ECONNECT,
 * MASON_ETIMEOUT, MASON_EPARSE or MASON_EHTTP, with err naming the method,
 * Slack's error code and what to fix.
 */
int mason_slack_call(struct mason_slack *slack, const char *method, const json_t *body,
                     const char *form, json_t **reply, struct mason_buf *err);

/* The location of a posted message: channel id and message ts, as Slack returned them. */
struct mason_slack_message_ref {
    char channel[32];
    char ts[32];
};

/*
 * Posts the approval message for req to the configured channel and stores
 * where it went in out. Errors as mason_slack_call, or MASON_EINVAL for an
 * incomplete req.
 */
int mason_slack_post_request(struct mason_slack *slack, const struct mason_approval_request *req,
                             struct mason_slack_message_ref *out, struct mason_buf *err);

/* Updates the message at where to show verdict. Errors as mason_slack_call. */
int mason_slack_update_decided(struct mason_slack *slack,
                               const struct mason_slack_message_ref *where,
                               const struct mason_approval_request *req,
                               const struct mason_approval_verdict *verdict, struct mason_buf *err);

/*
 * Sets *allowed to whether user_id is an approver: listed itself, or a member
 * of a listed user group. Group members come from usergroups.users.list and
 * are cached for MASON_SLACK_GROUP_CACHE_SECONDS from now. Returns 0, or an
 * error of mason_slack_call when a group could not be read (the caller must
 * then reject the click). Thread-safe.
 */
int mason_slack_is_approver(struct mason_slack *slack, const char *user_id, time_t now,
                            bool *allowed, struct mason_buf *err);

/* ---- The interactivity endpoint ---- */

/* An HTTP request to MASON_SLACK_INTERACTIONS_PATH. All fields are borrowed;
 * header values are NULL when the header is absent. */
struct mason_slack_http_request {
    const char *method;
    const char *content_type;
    const char *timestamp; /* X-Slack-Request-Timestamp */
    const char *signature; /* X-Slack-Signature */
    const char *body;
    size_t body_len;
};

/*
 * Applies an authorised click to the AgentTask click->namespace/name. Returns
 * 0 when this click decided the pending request, MASON_EEXISTS when the
 * request was already decided (a repeated click, which changes nothing),
 * MASON_ENOTFOUND when the task or a pending request with click->uid and
 * click->request_id does not exist, or another MASON_E* code with err set.
 */
typedef int (*mason_slack_apply_fn)(void *arg, const struct mason_slack_click *click, time_t now,
                                    struct mason_buf *err);

/*
 * Serves one interactivity request: checks method, signature, timestamp,
 * payload, channel and approver, then calls apply, and on success updates the
 * message to show who decided. Returns the HTTP status for the reply and
 * appends a short plain-text reply body to reply:
 *   200  the click was applied, repeated an earlier decision, or is another
 *        kind of interaction (ignored)
 *   400  malformed request or payload
 *   401  missing or invalid signature, or a stale timestamp
 *   403  click from another channel or from someone who is not an approver
 *   404  no pending request matches (apply returned MASON_ENOTFOUND)
 *   405  method other than POST
 *   413  body over MASON_SLACK_MAX_BODY
 *   503  the approvers could not be read, or apply failed otherwise
 * Logs each rejection and failure once.
 */
unsigned mason_slack_handle_interaction(struct mason_slack *slack,
                                        const struct mason_slack_http_request *req, time_t now,
                                        mason_slack_apply_fn apply, void *apply_arg,
                                        struct mason_buf *reply);

#endif
