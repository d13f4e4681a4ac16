/*
 * Drives the Slack client and the interactivity endpoint for
 * e2e/test_slack_standin.py. usage: probe API_BASE_URL BOT_TOKEN
 * SIGNING_SECRET COMMAND... with approvers U0ALICE0000 and group S0REVIEWERS
 * and channel C0123456789. Commands run in order, and each prints one JSON
 * line with "rc" (an error name, "OK" on success) and "error":
 *   post                          post the approval request of agents/fix-login
 *   update:CHANNEL:TS:OUTCOME     show OUTCOME (continue, stop, expired) on a message
 *   approver:USER                 print whether USER is an approver ("allowed")
 *   interact:TS:SIGNATURE:FILE    serve the interactivity request whose body is in
 *                                 FILE, as the operator would; "status" and "reply"
 *                                 show the reply, "applied" the decision it applied
 * Exits 0 when every command ran, whatever the commands returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "error.h"
#include "slack.h"

static const struct mason_approval_request request = {
    .namespace = "agents",
    .name = "fix-login",
    .uid = "6f1c2a9e-3b7d-4e51-9a0c-2d8f7e6b5a41",
    .request_id = "r1",
    .repository = "https://github.com/example/webapp",
    .summary = "Fixed the cookie path; two OAuth tests still fail.",
    .turns_used = 100,
    .cost_usd = 3.42,
    .continuation = 1,
    .max_continuations = 2,
};

static void print_line(json_t *line, int rc, const struct mason_buf *err)
{
    char *text;

    json_object_set_new(line, "rc", json_string(mason_errname(rc)));
    json_object_set_new(line, "error", json_string(mason_buf_str(err)));
    text = json_dumps(line, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    fflush(stdout);
    free(text);
    json_decref(line);
}

static int apply_print(void *arg, const struct mason_slack_click *click, time_t now,
                       struct mason_buf *err)
{
    json_t *applied = arg;

    (void)now, (void)err;
    json_object_set_new(applied, "outcome",
                        json_string(mason_approval_outcome_name(click->outcome)));
    json_object_set_new(applied, "user", json_string(click->user_id));
    json_object_set_new(applied, "task", json_sprintf("%s/%s", click->namespace, click->name));
    json_object_set_new(applied, "request_id", json_string(click->request_id));
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)size + 1);
        if (data && fread(data, 1, (size_t)size, f) == (size_t)size) {
            data[size] = '\0';
            *len = (size_t)size;
        } else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static void interact(struct mason_slack *slack, char *args)
{
    char *ts = args, *sig = strchr(ts, ':'), *path = sig ? strchr(sig + 1, ':') : NULL;
    struct mason_buf reply = MASON_BUF_INIT, err = MASON_BUF_INIT;
    json_t *applied = json_object();
    size_t len = 0;
    char *body;
    unsigned status;

    if (!path) {
        mason_buf_adds(&err, "usage: interact:TS:SIGNATURE:FILE");
        print_line(json_object(), MASON_EINVAL, &err);
        return;
    }
    *sig++ = '\0';
    *path++ = '\0';
    body = read_file(path, &len);
    struct mason_slack_http_request req = {"POST",           "application/x-www-form-urlencoded",
                                           *ts ? ts : NULL,  *sig ? sig : NULL,
                                           body ? body : "", len};
    status = mason_slack_handle_interaction(slack, &req, time(NULL), apply_print, applied, &reply);
    print_line(json_pack("{s:i, s:s, s:o}", "status", (int)status, "reply", mason_buf_str(&reply),
                         "applied", applied),
               0, &err);
    free(body);
    mason_buf_release(&reply);
    mason_buf_release(&err);
}

static void run(struct mason_slack *slack, char *cmd)
{
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_slack_message_ref ref = {{0}};
    int rc;

    if (strcmp(cmd, "post") == 0) {
        rc = mason_slack_post_request(slack, &request, &ref, &err);
        print_line(json_pack("{s:s, s:s}", "channel", ref.channel, "ts", ref.ts), rc, &err);
    } else if (strncmp(cmd, "update:", 7) == 0) {
        char *channel = cmd + 7, *ts = strchr(channel, ':'),
             *outcome = ts ? strchr(ts + 1, ':') : NULL;
        struct mason_approval_verdict v = {MASON_APPROVAL_EXPIRED, NULL, "probe", time(NULL)};

        if (!outcome || (size_t)(ts - channel) >= sizeof(ref.channel) ||
            (size_t)(outcome - ts - 1) >= sizeof(ref.ts)) {
            mason_buf_adds(&err, "usage: update:CHANNEL:TS:OUTCOME");
            print_line(json_object(), MASON_EINVAL, &err);
            return;
        }
        memcpy(ref.channel, channel, (size_t)(ts - channel));
        memcpy(ref.ts, ts + 1, (size_t)(outcome - ts - 1));
        if (strcmp(outcome + 1, "expired") != 0)
            mason_approval_parse_decision(outcome + 1, &v.outcome);
        rc = mason_slack_update_decided(slack, &ref, &request, &v, &err);
        print_line(json_object(), rc, &err);
    } else if (strncmp(cmd, "approver:", 9) == 0) {
        bool allowed = false;

        rc = mason_slack_is_approver(slack, cmd + 9, time(NULL), &allowed, &err);
        print_line(json_pack("{s:b}", "allowed", allowed), rc, &err);
    } else if (strncmp(cmd, "interact:", 9) == 0) {
        interact(slack, cmd + 9);
    } else {
        mason_buf_addf(&err, "unknown command %s", cmd);
        print_line(json_object(), MASON_EINVAL, &err);
    }
    mason_buf_release(&err);
}

int main(int argc, char **argv)
{
    struct mason_approvals_config cfg;
    struct mason_buf err = MASON_BUF_INIT;
    struct mason_slack *slack = NULL;
    json_t *section;

    if (argc < 4) {
        fprintf(stderr, "usage: %s API_BASE_URL BOT_TOKEN SIGNING_SECRET COMMAND...\n", argv[0]);
        return 2;
    }
    section = json_pack("{s:{s:s, s:s, s:s, s:s, s:[s, s]}}", "slack", "api_base_url", argv[1],
                        "channel", "C0123456789", "bot_token_secret", "k8s://mason-slack/bot_token",
                        "signing_secret", "k8s://mason-slack/signing_secret", "approvers",
                        "U0ALICE0000", "S0REVIEWERS");
    if (mason_approvals_config_parse(section, &cfg, &err) == 0)
        slack = mason_slack_create(cfg.slack, argv[2], argv[3], &err);
    if (!slack) {
        fprintf(stderr, "probe: %s\n", mason_buf_str(&err));
        return 2;
    }
    for (int i = 4; i < argc; i++)
        run(slack, argv[i]);
    mason_slack_free(slack);
    mason_approvals_config_release(&cfg);
    json_decref(section);
    mason_buf_release(&err);
    return 0;
}
