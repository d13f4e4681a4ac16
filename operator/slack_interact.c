/*
 * Parsing of interactivity requests. Slack posts them as
 * application/x-www-form-urlencoded with one field, payload, whose value is
 * the interaction as JSON. A button click is of type block_actions and
 * carries the clicking user, the channel, the message and the action.
 */
#include "slack.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "error.h"
#include "slack_internal.h"
#include "banned.h"

#define MAX_USER_NAME 256

void mason_slack_click_release(struct mason_slack_click *click)
{
    free(click->user_id);
    free(click->user_name);
    free(click->channel_id);
    free(click->message_ts);
    free(click->namespace);
    free(click->name);
    free(click->uid);
    free(click->request_id);
    json_decref(click->blocks);
    memset(click, 0, sizeof(*click));
}

/* Appends the form-decoded bytes of s[0..len): '+' is a space and %XX a byte. Returns
 * MASON_EPARSE for a '%' without two hex digits. */
static int form_decode(const char *s, size_t len, struct mason_buf *out)
{
    struct mason_buf spaced = MASON_BUF_INIT;
    char *plain = NULL;
    int plain_len = 0, rc = 0;

    for (size_t i = 0; i < len; i++)
        if (s[i] == '%' && (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
                            !isxdigit((unsigned char)s[i + 2])))
            return MASON_EPARSE;
    if (len == 0)
        return 0;
    if (len > INT_MAX || mason_buf_add(&spaced, s, len) != 0)
        return MASON_ENOMEM;
    /* '+' becomes a space before decoding, so that an escaped %2B stays a plus sign. */
    for (size_t i = 0; i < spaced.len; i++)
        if (spaced.data[i] == '+')
            spaced.data[i] = ' ';
    plain = curl_easy_unescape(NULL, mason_buf_str(&spaced), (int)spaced.len, &plain_len);
    if (!plain || mason_buf_add(out, plain, (size_t)plain_len) != 0)
        rc = MASON_ENOMEM;
    curl_free(plain);
    mason_buf_release(&spaced);
    return rc;
}

/* Finds the payload field of a form body and decodes its value into out. */
static int form_payload(const char *body, size_t len, struct mason_buf *out, struct mason_buf *err)
{
    size_t start = 0;

    if (!body)
        body = "";
    while (start <= len) {
        const char *amp = memchr(body + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - body) : len;
        const char *eq = memchr(body + start, '=', end - start);

        if (eq && (size_t)(eq - body) - start == 7 && memcmp(body + start, "payload", 7) == 0) {
            int rc = form_decode(eq + 1, end - (size_t)(eq + 1 - body), out);

            if (rc == MASON_EPARSE)
                mason_buf_adds(err, "payload field has an invalid %-escape");
            return rc;
        }
        start = end + 1;
    }
    mason_buf_adds(err, "body has no payload field; Slack sends payload=<JSON> as a form");
    return MASON_EPARSE;
}

/* Copies the string at obj.key into *out. Returns MASON_EPARSE naming what when it is missing. */
static int copy_string(const json_t *obj, const char *key, const char *what, char **out,
                       struct mason_buf *err)
{
    const char *value = json_string_value(json_object_get(obj, key));

    if (!value || !*value) {
        mason_buf_addf(err, "payload has no %s", what);
        return MASON_EPARSE;
    }
    *out = strdup(value);
    return *out ? 0 : MASON_ENOMEM;
}

/* Splits "namespace/name/uid/request_id" into the click's task reference. */
static int parse_value(const char *value, struct mason_slack_click *click, struct mason_buf *err)
{
    char **parts[] = {&click->namespace, &click->name, &click->uid, &click->request_id};
    const char *p = value ? value : "";

    for (size_t i = 0; i < 4; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash && i < 3 ? (size_t)(slash - p) : strlen(p);

        if (!slack_valid_ref_part(p, len) || (i < 3 && !slash)) {
            mason_buf_adds(err, "button value is not namespace/name/uid/request_id");
            return MASON_EPARSE;
        }
        *parts[i] = strndup(p, len);
        if (!*parts[i])
            return MASON_ENOMEM;
        p += len + (i < 3 ? 1 : 0);
    }
    return 0;
}

static int parse_action(const json_t *payload, struct mason_slack_click *click,
                        struct mason_buf *err)
{
    const json_t *action = json_array_get(json_object_get(payload, "actions"), 0);
    const char *id = json_string_value(json_object_get(action, "action_id"));

    if (!id) {
        mason_buf_adds(err, "payload has no actions[0].action_id");
        return MASON_EPARSE;
    }
    if (strcmp(id, MASON_SLACK_ACTION_CONTINUE) == 0) {
        click->outcome = MASON_APPROVAL_CONTINUE;
    } else if (strcmp(id, MASON_SLACK_ACTION_STOP) == 0) {
        click->outcome = MASON_APPROVAL_STOP;
    } else {
        mason_buf_adds(err, "action is not a mason approval button");
        return MASON_EINVAL;
    }
    return parse_value(json_string_value(json_object_get(action, "value")), click, err);
}

static int parse_user(const json_t *user, struct mason_slack_click *click, struct mason_buf *err)
{
    const char *name = json_string_value(json_object_get(user, "username"));
    int rc = copy_string(user, "id", "user.id", &click->user_id, err);

    if (rc)
        return rc;
    if (!slack_valid_ref_part(click->user_id, strlen(click->user_id))) {
        mason_buf_adds(err, "payload user.id is not a Slack user id");
        return MASON_EPARSE;
    }
    if (!name || !*name)
        name = json_string_value(json_object_get(user, "name"));
    if (!name || !*name)
        name = click->user_id;
    if (strlen(name) > MAX_USER_NAME) {
        mason_buf_adds(err, "payload user name is too long");
        return MASON_EPARSE;
    }
    click->user_name = strdup(name);
    return click->user_name ? 0 : MASON_ENOMEM;
}

static int parse_payload(const json_t *payload, struct mason_slack_click *click,
                         struct mason_buf *err)
{
    const char *type = json_string_value(json_object_get(payload, "type"));
    const json_t *message = json_object_get(payload, "message");
    int rc;

    if (!type) {
        mason_buf_adds(err, "payload has no type");
        return MASON_EPARSE;
    }
    if (strcmp(type, "block_actions") != 0) {
        mason_buf_adds(err, "interaction type is not block_actions");
        return MASON_EINVAL;
    }
    rc = parse_action(payload, click, err);
    if (!rc)
        rc = parse_user(json_object_get(payload, "user"), click, err);
    if (!rc)
        rc = copy_string(json_object_get(payload, "channel"), "id", "channel.id",
                         &click->channel_id, err);
    if (!rc)
        rc = copy_string(message, "ts", "message.ts", &click->message_ts, err);
    if (!rc && json_is_array(json_object_get(message, "blocks")))
        click->blocks = json_incref(json_object_get(message, "blocks"));
    return rc;
}

int mason_slack_click_parse(const char *body, size_t len, struct mason_slack_click *click,
                            struct mason_buf *err)
{
    struct mason_buf text = MASON_BUF_INIT;
    json_t *payload = NULL;
    int rc;

    memset(click, 0, sizeof(*click));
    if (len > MASON_SLACK_MAX_BODY) {
        mason_buf_addf(err, "body is larger than %u bytes", MASON_SLACK_MAX_BODY);
        return MASON_ETOOBIG;
    }
    rc = form_payload(body, len, &text, err);
    if (!rc) {
        payload = json_loadb(mason_buf_str(&text), text.len, 0, NULL);
        if (!json_is_object(payload)) {
            mason_buf_adds(err, "payload is not a JSON object");
            rc = MASON_EPARSE;
        }
    }
    if (!rc)
        rc = parse_payload(payload, click, err);
    if (rc == MASON_ENOMEM)
        mason_buf_adds(err, "out of memory");
    if (rc)
        mason_slack_click_release(click);
    json_decref(payload);
    mason_buf_release(&text);
    return rc;
}
