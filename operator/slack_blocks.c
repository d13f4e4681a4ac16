/*
 * Block Kit messages for approval requests. Sizes stay under Slack's block
 * limits (header text 150 characters, section text 3000, field text 2000);
 * text from the task is escaped for mrkdwn and cut on a UTF-8 boundary.
 */
#include "slack.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "slack_internal.h"
#include "banned.h"

#define HEADER_MAX 150
#define FIELD_MAX 2000
#define SECTION_MAX 3000
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, 3 bytes */

bool slack_valid_ref_part(const char *s, size_t len)
{
    if (!s || len == 0 || len > SLACK_REF_PART_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            c != '-' && c != '.' && c != '_')
            return false;
    }
    return true;
}

int slack_add_time(struct mason_buf *out, time_t t)
{
    char text[32];
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", &tm))
        return MASON_EINVAL;
    return mason_buf_adds(out, text);
}

/* Returns the length of the UTF-8 sequence that starts with byte c (1 for a stray byte). */
static size_t utf8_length(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0)
        return c < 0xf0 ? 3 : 1;
    if (c >= 0xc0)
        return 2;
    return 1;
}

/* Finds the bytes that stand for the character at text[i]: itself, or its mrkdwn escape. */
static size_t next_piece(const char *text, size_t i, size_t len, bool escape, const char **piece,
                         size_t *piece_len)
{
    size_t n = utf8_length((unsigned char)text[i]);

    if (n > len - i)
        n = len - i;
    *piece = text + i;
    *piece_len = n;
    if (escape && text[i] == '&')
        *piece = "&amp;", *piece_len = 5;
    else if (escape && text[i] == '<')
        *piece = "&lt;", *piece_len = 4;
    else if (escape && text[i] == '>')
        *piece = "&gt;", *piece_len = 4;
    return n;
}

/*
 * Appends text, escaped for mrkdwn when escape is set, in at most max bytes.
 * A text that does not fit is cut and ends with an ellipsis; the cut never
 * splits a character or an escape.
 */
static int add_text(struct mason_buf *out, const char *text, size_t max, bool escape)
{
    size_t len = strlen(text), total = 0, used = 0, piece_len;
    const char *piece;

    for (size_t i = 0; i < len;) {
        i += next_piece(text, i, len, escape, &piece, &piece_len);
        total += piece_len;
    }
    for (size_t i = 0; i < len;) {
        size_t n = next_piece(text, i, len, escape, &piece, &piece_len);

        if (total > max && used + piece_len + strlen(ELLIPSIS) > max)
            return mason_buf_adds(out, ELLIPSIS);
        if (mason_buf_add(out, piece, piece_len))
            return MASON_ENOMEM;
        used += piece_len;
        i += n;
    }
    return 0;
}

static json_t *text_object(const char *type, const char *text)
{
    return json_pack("{s:s, s:s}", "type", type, "text", text);
}

/* A mrkdwn field "*label*\nvalue" with value escaped and capped. */
static json_t *field(const char *label, const char *value)
{
    struct mason_buf b = MASON_BUF_INIT;
    json_t *obj = NULL;

    if (!mason_buf_addf(&b, "*%s*\n", label) && !add_text(&b, value, FIELD_MAX - b.len, true))
        obj = text_object("mrkdwn", mason_buf_str(&b));
    mason_buf_release(&b);
    return obj;
}

static json_t *header_block(const struct mason_approval_request *req)
{
    struct mason_buf b = MASON_BUF_INIT;
    json_t *block = NULL;

    if (!mason_buf_addf(&b, "Agent task %s/%s ran out of turns", req->namespace, req->name)) {
        struct mason_buf cut = MASON_BUF_INIT;

        if (!add_text(&cut, mason_buf_str(&b), HEADER_MAX, false))
            block = json_pack("{s:s, s:s, s:o}", "type", "header", "block_id", "mason_header",
                              "text", text_object("plain_text", mason_buf_str(&cut)));
        mason_buf_release(&cut);
    }
    mason_buf_release(&b);
    return block;
}

static json_t *facts_block(const struct mason_approval_request *req)
{
    struct mason_buf task = MASON_BUF_INIT, turns = MASON_BUF_INIT, cost = MASON_BUF_INIT,
                     cont = MASON_BUF_INIT, expires = MASON_BUF_INIT;
    json_t *fields = json_array(), *block = NULL;

    if (mason_buf_addf(&task, "%s/%s", req->namespace, req->name) ||
        mason_buf_addf(&turns, "%u", req->turns_used) ||
        mason_buf_addf(&cost, "$%.2f", req->cost_usd) ||
        mason_buf_addf(&cont, "%u of %u", req->continuation, req->max_continuations) ||
        (req->expires_at && slack_add_time(&expires, req->expires_at)))
        goto out;
    if (json_array_append_new(fields, field("Task", mason_buf_str(&task))) ||
        json_array_append_new(fields,
                              field("Repository", req->repository ? req->repository : "not set")) ||
        json_array_append_new(fields, field("Turns used", mason_buf_str(&turns))) ||
        json_array_append_new(fields, field("Cost so far", mason_buf_str(&cost))) ||
        json_array_append_new(fields, field("Continuation", mason_buf_str(&cont))))
        goto out;
    if (req->expires_at && json_array_append_new(fields, field("Expires", mason_buf_str(&expires))))
        goto out;
    block = json_pack("{s:s, s:s, s:O}", "type", "section", "block_id", "mason_facts", "fields",
                      fields);

out:
    json_decref(fields);
    mason_buf_release(&task);
    mason_buf_release(&turns);
    mason_buf_release(&cost);
    mason_buf_release(&cont);
    mason_buf_release(&expires);
    return block;
}

static json_t *summary_block(const struct mason_approval_request *req)
{
    struct mason_buf b = MASON_BUF_INIT;
    const char *summary = req->summary && *req->summary ? req->summary : "No summary was recorded.";
    json_t *block = NULL;

    if (!mason_buf_adds(&b, "*Progress*\n") && !add_text(&b, summary, SECTION_MAX - b.len, true))
        block = json_pack("{s:s, s:s, s:o}", "type", "section", "block_id", "mason_summary", "text",
                          text_object("mrkdwn", mason_buf_str(&b)));
    mason_buf_release(&b);
    return block;
}

static json_t *button(const char *action_id, const char *label, const char *style,
                      const char *value)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:s}", "type", "button", "action_id", action_id, "text",
                     text_object("plain_text", label), "style", style, "value", value);
}

/* The Stop button opens a confirmation dialog because Stop ends the task for good. */
static json_t *stop_confirmation(void)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o}", "title", text_object("plain_text", "Stop this task?"), "text",
        text_object("mrkdwn", "The task ends Failed and its session is not resumed."), "confirm",
        text_object("plain_text", "Stop"), "deny", text_object("plain_text", "Cancel"));
}

static json_t *actions_block(const struct mason_approval_request *req)
{
    struct mason_buf value = MASON_BUF_INIT;
    json_t *cont = NULL, *stop = NULL, *block = NULL;

    if (mason_buf_addf(&value, "%s/%s/%s/%s", req->namespace, req->name, req->uid, req->request_id))
        goto out;
    cont = button(MASON_SLACK_ACTION_CONTINUE, "Continue", "primary", mason_buf_str(&value));
    stop = button(MASON_SLACK_ACTION_STOP, "Stop", "danger", mason_buf_str(&value));
    if (!cont || !stop || json_object_set_new(stop, "confirm", stop_confirmation()))
        goto out;
    block = json_pack("{s:s, s:s, s:[O, O]}", "type", "actions", "block_id", "mason_actions",
                      "elements", cont, stop);

out:
    json_decref(cont);
    json_decref(stop);
    mason_buf_release(&value);
    return block;
}

static bool request_complete(const struct mason_approval_request *req)
{
    const char *parts[] = {req->namespace, req->name, req->uid, req->request_id};

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (!parts[i] || !slack_valid_ref_part(parts[i], strlen(parts[i])))
            return false;
    return true;
}

static json_t *request_blocks(const struct mason_approval_request *req)
{
    json_t *blocks;

    if (!request_complete(req))
        return NULL;
    blocks = json_array();
    if (!blocks || json_array_append_new(blocks, header_block(req)) ||
        json_array_append_new(blocks, facts_block(req)) ||
        json_array_append_new(blocks, summary_block(req)) ||
        json_array_append_new(blocks, actions_block(req))) {
        json_decref(blocks);
        return NULL;
    }
    return blocks;
}

json_t *mason_slack_request_message(const char *channel, const struct mason_approval_request *req)
{
    struct mason_buf text = MASON_BUF_INIT;
    json_t *blocks = request_blocks(req), *msg = NULL;

    if (!blocks || !channel)
        goto out;
    if (mason_buf_addf(
            &text,
            "Agent task %s/%s ran out of turns after %u turns ($%.2f so far). Continue it (continuation %u of %u) or stop it?",
            req->namespace, req->name, req->turns_used, req->cost_usd, req->continuation,
            req->max_continuations))
        goto out;
    msg = json_pack("{s:s, s:s, s:O}", "channel", channel, "text", mason_buf_str(&text), "blocks",
                    blocks);

out:
    json_decref(blocks);
    mason_buf_release(&text);
    return msg;
}

/* Appends who decided: a Slack mention with the name, or the Kubernetes user name. */
static int add_decider(struct mason_buf *b, const struct mason_approval_verdict *v)
{
    int rc = 0;

    if (v->slack_user_id && slack_valid_ref_part(v->slack_user_id, strlen(v->slack_user_id)))
        rc = mason_buf_addf(b, "<@%s>", v->slack_user_id);
    if (!rc && v->decider && *v->decider) {
        rc = mason_buf_adds(b, v->slack_user_id ? " (" : "");
        if (!rc)
            rc = add_text(b, v->decider, 256, true);
        if (!rc)
            rc = mason_buf_adds(b, v->slack_user_id ? ")" : "");
    } else if (!rc && !v->slack_user_id) {
        rc = mason_buf_adds(b, "an unknown user");
    }
    return rc;
}

static json_t *verdict_block(const struct mason_approval_verdict *v)
{
    struct mason_buf b = MASON_BUF_INIT;
    json_t *block = NULL;
    int rc;

    if (v->outcome == MASON_APPROVAL_EXPIRED) {
        rc = mason_buf_adds(&b, ":hourglass: *Expired*: nobody decided by ");
        if (!rc)
            rc = slack_add_time(&b, v->decided_at);
        if (!rc)
            rc = mason_buf_adds(&b, ", so the task ended Failed.");
    } else {
        bool cont = v->outcome == MASON_APPROVAL_CONTINUE;

        rc = mason_buf_adds(&b, cont ? ":white_check_mark: *Continued* by "
                                     : ":octagonal_sign: *Stopped* by ");
        if (!rc)
            rc = add_decider(&b, v);
        if (!rc)
            rc = mason_buf_adds(&b, " at ");
        if (!rc)
            rc = slack_add_time(&b, v->decided_at);
        if (!rc)
            rc = mason_buf_adds(&b, cont ? ". A new run resumes the session."
                                         : ". The task ended Failed.");
    }
    if (!rc)
        block = json_pack("{s:s, s:s, s:o}", "type", "section", "block_id", "mason_verdict", "text",
                          text_object("mrkdwn", mason_buf_str(&b)));
    mason_buf_release(&b);
    return block;
}

/* Returns whether block is one the decided form leaves out: the buttons or an older verdict. */
static bool replaced_block(const json_t *block)
{
    const char *type = json_string_value(json_object_get(block, "type"));
    const char *id = json_string_value(json_object_get(block, "block_id"));

    return (type && strcmp(type, "actions") == 0) || (id && strcmp(id, "mason_verdict") == 0);
}

json_t *mason_slack_decided_blocks(const json_t *blocks,
                                   const struct mason_approval_verdict *verdict)
{
    json_t *out = json_array(), *block;
    size_t i;

    if (!out)
        return NULL;
    if (json_is_array(blocks)) {
        json_array_foreach(blocks, i, block)
        {
            if (!replaced_block(block) && json_array_append_new(out, json_deep_copy(block)))
                goto fail;
        }
    }
    if (json_array_append_new(out, verdict_block(verdict)))
        goto fail;
    return out;

fail:
    json_decref(out);
    return NULL;
}

/* The fallback text of a decided message, shown in notifications. */
static int decided_text(struct mason_buf *b, const struct mason_approval_request *req,
                        const struct mason_approval_verdict *v)
{
    const char *who = v->decider && *v->decider ? v->decider : v->slack_user_id;
    int rc;

    if (v->outcome == MASON_APPROVAL_EXPIRED)
        return mason_buf_addf(b, "Agent task %s/%s: the approval request expired.", req->namespace,
                              req->name);
    rc = mason_buf_addf(b, "Agent task %s/%s was %s by ", req->namespace, req->name,
                        v->outcome == MASON_APPROVAL_CONTINUE ? "continued" : "stopped");
    if (!rc)
        rc = add_text(b, who ? who : "an unknown user", 256, true);
    if (!rc)
        rc = mason_buf_adds(b, ".");
    return rc;
}

json_t *mason_slack_decided_message(const char *channel, const char *ts,
                                    const struct mason_approval_request *req,
                                    const struct mason_approval_verdict *verdict)
{
    struct mason_buf text = MASON_BUF_INIT;
    json_t *asked = request_blocks(req), *blocks = NULL, *msg = NULL;

    if (!asked || !channel || !ts)
        goto out;
    blocks = mason_slack_decided_blocks(asked, verdict);
    if (!blocks || decided_text(&text, req, verdict))
        goto out;
    msg = json_pack("{s:s, s:s, s:s, s:O}", "channel", channel, "ts", ts, "text",
                    mason_buf_str(&text), "blocks", blocks);

out:
    json_decref(asked);
    json_decref(blocks);
    mason_buf_release(&text);
    return msg;
}
