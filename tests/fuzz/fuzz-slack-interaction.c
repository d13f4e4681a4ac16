/*
 * Fuzzes the Slack interactivity request parser: the input is a request body
 * as Slack posts it (payload=<form-encoded JSON>). A parsed click is then
 * rewritten into the decided message form, which walks the blocks it carried.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "slack.h"

static void check_click(const struct mason_slack_click *click)
{
    struct mason_approval_verdict v = {click->outcome, click->user_id, click->user_name, 0};
    json_t *blocks;

    /* A parsed click has every field the endpoint uses. */
    if (!click->user_id || !click->user_name || !click->channel_id || !click->message_ts ||
        !click->namespace || !click->name || !click->uid || !click->request_id)
        abort();
    if (click->outcome != MASON_APPROVAL_CONTINUE && click->outcome != MASON_APPROVAL_STOP)
        abort();
    if (strchr(click->namespace, '/') || strchr(click->request_id, '/'))
        abort();
    blocks = mason_slack_decided_blocks(click->blocks, &v);
    if (!blocks)
        abort();
    json_decref(blocks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mason_slack_click click;
    struct mason_buf err = MASON_BUF_INIT;
    int rc = mason_slack_click_parse((const char *)data, size, &click, &err);

    if (rc == 0)
        check_click(&click);
    else if (err.len == 0)
        abort(); /* every rejection has a message */
    mason_slack_click_release(&click);
    mason_buf_reset(&err);
    /* The signature check reads the same untrusted bytes. */
    if (mason_slack_verify("secret", "1712345700", "v0=00", (const char *)data, size, 1712345700,
                           &err) != MASON_EUNAUTHORIZED)
        abort();
    mason_buf_release(&err);
    return 0;
}
