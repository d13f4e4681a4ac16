/*
 * Claude Code --output-format stream-json --verbose. Every line has a type.
 * A system line with subtype init opens a session. An assistant line holds
 * one content block, and the lines of one API message share message.id and
 * its usage. A user line holds tool_result blocks. The result line carries
 * the session's outcome and totals.
 */
#include "adapter_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static const char *const init_fields[] = {
    "type",
    "subtype",
    "cwd",
    "session_id",
    "tools",
    "mcp_servers",
    "model",
    "permissionMode",
    "slash_commands",
    "apiKeySource",
    "claude_code_version",
    "output_style",
    "agents",
    "skills",
    "plugins",
    "uuid",
    "fast_mode_state",
    NULL,
};

static const char *const assistant_fields[] = {
    "type", "message", "parent_tool_use_id", "session_id", "uuid", "error", NULL,
};

static const char *const user_fields[] = {
    "type",       "message",     "parent_tool_use_id",
    "session_id", "uuid",        "tool_use_result",
    "isReplay",   "isSynthetic", NULL,
};

static const char *const result_fields[] = {
    "type",
    "subtype",
    "is_error",
    "duration_ms",
    "duration_api_ms",
    "num_turns",
    "result",
    "stop_reason",
    "session_id",
    "total_cost_usd",
    "cost_usd",
    "usage",
    "modelUsage",
    "permission_denials",
    "uuid",
    "errors",
    "structured_output",
    "terminal_reason",
    "api_error_status",
    "fast_mode_state",
    "deferred_tool_use",
    NULL,
};

/* system subtypes that carry nothing the supervisor uses. */
static const char *const system_ignored[] = {
    "status",       "compact_boundary", "hook_started",      "hook_response", "hook_progress",
    "task_started", "task_progress",    "task_notification", "task_updated",  NULL,
};

/* Line types the CLI prints that carry nothing the supervisor uses. */
static const char *const types_ignored[] = {
    "stream_event", "rate_limit_event", "control_request", "control_response", "keep_alive", NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static const char *str(struct mason_adapter *a, int obj, const char *key)
{
    return adapter_str(a, obj, key);
}

/* A new session_id starts a new session: the turn count and pending calls restart. */
static int claude_set_session(struct mason_adapter *a, const char *session_id)
{
    if (!session_id || (a->session_id && strcmp(a->session_id, session_id) == 0))
        return 0;
    a->turn = 0;
    adapter_calls_clear(a);
    free(a->main_message);
    a->main_message = NULL;
    return adapter_set_string(&a->session_id, session_id);
}

static int claude_system(struct mason_adapter *a, int line)
{
    const char *subtype = str(a, line, "subtype");
    struct mason_event ev;
    int rc;

    if (!subtype || strcmp(subtype, "init") != 0) {
        if (subtype && in_list(system_ignored, subtype))
            a->stats.ignored++;
        else
            a->stats.unknown_types++;
        return 0;
    }
    adapter_check_fields(a, line, init_fields);
    rc = claude_set_session(a, str(a, line, "session_id"));
    if (rc == 0)
        rc = adapter_set_string(&a->model, str(a, line, "model"));
    if (rc)
        return rc;
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_INIT;
    adapter_emit(a, &ev);
    return 0;
}

static void claude_tokens(struct mason_adapter *a, int usage, struct mason_tokens *t)
{
    t->input = adapter_u64(a, usage, "input_tokens");
    t->output = adapter_u64(a, usage, "output_tokens");
    t->cache_read = adapter_u64(a, usage, "cache_read_input_tokens");
    t->cache_write = adapter_u64(a, usage, "cache_creation_input_tokens");
}

static bool message_seen(struct mason_adapter *a, const char *id)
{
    for (unsigned i = 0; i < ADAPTER_RECENT_MESSAGES; i++)
        if (a->recent_messages[i] && strcmp(a->recent_messages[i], id) == 0)
            return true;
    return false;
}

/* Counts the turn and emits the usage of a message the first time one of its lines comes. */
static int claude_message_usage(struct mason_adapter *a, int message, bool sidechain)
{
    const char *id = str(a, message, "id");
    int usage = adapter_get(a, message, "usage");
    struct mason_event ev;
    int rc;

    if (!id || message_seen(a, id))
        return 0;
    rc = adapter_set_string(&a->recent_messages[a->recent_next], id);
    if (rc)
        return rc;
    a->recent_next = (a->recent_next + 1) % ADAPTER_RECENT_MESSAGES;
    if (!sidechain) {
        a->turn++;
        rc = adapter_set_string(&a->main_message, id);
        if (rc)
            return rc;
    }
    if (!adapter_is(a, usage, MASON_JSCAN_OBJECT))
        return 0;
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_USAGE;
    ev.model = str(a, message, "model");
    ev.sidechain = sidechain;
    ev.has_tokens = true;
    claude_tokens(a, usage, &ev.tokens);
    adapter_emit(a, &ev);
    return 0;
}

static bool tool_modifies(const char *name)
{
    return strcmp(name, "Edit") == 0 || strcmp(name, "Write") == 0 ||
           strcmp(name, "MultiEdit") == 0 || strcmp(name, "NotebookEdit") == 0;
}

static bool tool_reads(const char *name)
{
    return strcmp(name, "Read") == 0;
}

static int claude_tool_use(struct mason_adapter *a, int block, struct mason_event *ev)
{
    int input = adapter_get(a, block, "input");
    int rc;

    ev->kind = MASON_EVENT_TOOL_CALL;
    ev->tool_name = str(a, block, "name");
    ev->tool_id = str(a, block, "id");
    if (!ev->tool_name)
        ev->tool_name = "";
    rc = adapter_hash_value(a, input, ev->args_hash);
    if (rc)
        return rc;
    ev->command = str(a, input, "command");
    if (tool_modifies(ev->tool_name) || tool_reads(ev->tool_name)) {
        mason_event_add_file(ev, str(a, input, "file_path"));
        mason_event_add_file(ev, str(a, input, "notebook_path"));
        ev->files_modified = tool_modifies(ev->tool_name);
    }
    adapter_emit(a, ev);
    return adapter_call_remember(a, ev);
}

static int claude_assistant_block(struct mason_adapter *a, int block, struct mason_event *ev)
{
    const char *type = str(a, block, "type");

    if (!type) {
        a->stats.unknown_types++;
        return 0;
    }
    if (strcmp(type, "text") == 0) {
        ev->kind = ev->error ? MASON_EVENT_ERROR : MASON_EVENT_TEXT;
        ev->is_error = ev->error != NULL;
        ev->text = str(a, block, "text");
        adapter_emit(a, ev);
        return 0;
    }
    if (strcmp(type, "tool_use") == 0 || strcmp(type, "server_tool_use") == 0)
        return claude_tool_use(a, block, ev);
    if (strcmp(type, "thinking") == 0 || strcmp(type, "redacted_thinking") == 0)
        a->stats.ignored++;
    else
        a->stats.unknown_types++;
    return 0;
}

/* Returns the first element of array i, or -1 when it is empty or not an array. */
static int first_element(struct mason_adapter *a, int i)
{
    return adapter_is(a, i, MASON_JSCAN_ARRAY) ? mason_jscan_first(&a->doc, i) : -1;
}

static int claude_assistant(struct mason_adapter *a, int line)
{
    int message = adapter_get(a, line, "message");
    int content = adapter_get(a, message, "content");
    bool sidechain = adapter_is(a, adapter_get(a, line, "parent_tool_use_id"), MASON_JSCAN_STRING);
    const char *model, *error;
    int rc;

    adapter_check_fields(a, line, assistant_fields);
    if (!adapter_is(a, message, MASON_JSCAN_OBJECT)) {
        a->stats.malformed++;
        return 0;
    }
    rc = claude_set_session(a, str(a, line, "session_id"));
    if (rc == 0)
        rc = claude_message_usage(a, message, sidechain);
    if (rc)
        return rc;
    model = str(a, message, "model");
    error = str(a, line, "error");
    for (int block = first_element(a, content); block >= 0;
         block = mason_jscan_next(&a->doc, content, block)) {
        struct mason_event ev;

        mason_event_clear(&ev);
        ev.model = model;
        ev.sidechain = sidechain;
        ev.error = error;
        rc = claude_assistant_block(a, block, &ev);
        if (rc)
            return rc;
    }
    return 0;
}

/* Reads N from "Exit code N", the prefix of a failed Bash result since CLI 2.0.36. */
static bool exit_code_prefix(const char *text, int *code)
{
    static const char prefix[] = "Exit code ";
    char *end;
    long n;

    if (!text || strncmp(text, prefix, sizeof(prefix) - 1) != 0)
        return false;
    errno = 0;
    n = strtol(text + sizeof(prefix) - 1, &end, 10);
    if (errno || end == text + sizeof(prefix) - 1 || n < -255 || n > 255)
        return false;
    *code = (int)n;
    return true;
}

/* Returns the output of a tool_result, cut at MASON_EVENT_MAX_RESULT_TEXT bytes. */
static const char *result_text(struct mason_adapter *a, int content)
{
    if (adapter_is(a, content, MASON_JSCAN_STRING))
        return mason_jscan_string_prefix(&a->doc, content, MASON_EVENT_MAX_RESULT_TEXT);
    for (int block = first_element(a, content); block >= 0;
         block = mason_jscan_next(&a->doc, content, block)) {
        int text = adapter_get(a, block, "text");

        if (mason_jscan_equals(&a->doc, adapter_get(a, block, "type"), "text") &&
            adapter_is(a, text, MASON_JSCAN_STRING))
            return mason_jscan_string_prefix(&a->doc, text, MASON_EVENT_MAX_RESULT_TEXT);
    }
    return NULL;
}

static void claude_tool_result(struct mason_adapter *a, int block, bool sidechain)
{
    struct adapter_call call = {0};
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_RESULT;
    ev.sidechain = sidechain;
    ev.tool_id = str(a, block, "tool_use_id");
    ev.is_error = adapter_is(a, adapter_get(a, block, "is_error"), MASON_JSCAN_TRUE);
    ev.text = result_text(a, adapter_get(a, block, "content"));
    ev.has_exit_code = ev.is_error && exit_code_prefix(ev.text, &ev.exit_code);
    if (!adapter_call_take(a, ev.tool_id, &ev, &call))
        ev.tool_name = "";
    adapter_emit(a, &ev);
    adapter_call_release(&call);
}

static int claude_user(struct mason_adapter *a, int line)
{
    int content = adapter_get(a, adapter_get(a, line, "message"), "content");
    bool sidechain = adapter_is(a, adapter_get(a, line, "parent_tool_use_id"), MASON_JSCAN_STRING);
    int rc;

    adapter_check_fields(a, line, user_fields);
    rc = claude_set_session(a, str(a, line, "session_id"));
    if (rc)
        return rc;
    if (!adapter_is(a, content, MASON_JSCAN_ARRAY)) {
        a->stats.ignored++; /* a prompt echoed as a plain string */
        return 0;
    }
    for (int block = first_element(a, content); block >= 0;
         block = mason_jscan_next(&a->doc, content, block)) {
        const char *type = str(a, block, "type");

        if (type && strcmp(type, "tool_result") == 0)
            claude_tool_result(a, block, sidechain);
        else if (type && (strcmp(type, "text") == 0 || strcmp(type, "image") == 0 ||
                          strcmp(type, "document") == 0))
            a->stats.ignored++;
        else
            a->stats.unknown_types++;
    }
    return 0;
}

static enum mason_outcome claude_outcome(const char *subtype, bool is_error)
{
    if (!subtype)
        return MASON_OUTCOME_ERROR;
    if (strcmp(subtype, "error_max_turns") == 0)
        return MASON_OUTCOME_MAX_TURNS;
    if (strcmp(subtype, "error_max_budget_usd") == 0)
        return MASON_OUTCOME_MAX_BUDGET;
    if (strcmp(subtype, "success") == 0 && !is_error)
        return MASON_OUTCOME_SUCCESS;
    return MASON_OUTCOME_ERROR;
}

static void claude_result_cost(struct mason_adapter *a, int line, struct mason_event *ev)
{
    int cost = adapter_get(a, line, "total_cost_usd");
    double value;

    if (cost < 0)
        cost = adapter_get(a, line, "cost_usd");
    if (mason_jscan_double(&a->doc, cost, &value) && value >= 0) {
        ev->result.has_cost = true;
        ev->result.total_cost_usd = value;
    }
}

/* Parses structured_output with jansson: only the rare result line has it. */
static int claude_structured_output(struct mason_adapter *a, int line, json_t **out)
{
    size_t len;
    const char *text = mason_jscan_span(&a->doc, adapter_get(a, line, "structured_output"), &len);

    *out = NULL;
    if (!text)
        return 0;
    *out = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    return *out ? 0 : MASON_ENOMEM;
}

static int claude_result(struct mason_adapter *a, int line)
{
    int usage = adapter_get(a, line, "usage");
    int64_t turns;
    struct mason_event ev;
    int rc;

    adapter_check_fields(a, line, result_fields);
    rc = claude_set_session(a, str(a, line, "session_id"));
    if (rc)
        return rc;
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_RESULT;
    ev.result.subtype = str(a, line, "subtype");
    ev.is_error = adapter_is(a, adapter_get(a, line, "is_error"), MASON_JSCAN_TRUE);
    ev.result.outcome = claude_outcome(ev.result.subtype, ev.is_error);
    if (mason_jscan_int(&a->doc, adapter_get(a, line, "num_turns"), &turns))
        ev.result.num_turns = (long)turns;
    claude_result_cost(a, line, &ev);
    ev.has_tokens = adapter_is(a, usage, MASON_JSCAN_OBJECT);
    claude_tokens(a, usage, &ev.tokens);
    ev.text = str(a, line, "result");
    if (!ev.text)
        ev.text = mason_jscan_string(&a->doc, first_element(a, adapter_get(a, line, "errors")));
    ev.result.terminal_reason = str(a, line, "terminal_reason");
    rc = claude_structured_output(a, line, &ev.result.structured_output);
    if (rc)
        return rc;
    adapter_emit(a, &ev);
    json_decref(ev.result.structured_output);
    return 0;
}

int adapter_claude_feed(struct mason_adapter *a, int line)
{
    const char *type = mason_jscan_string(&a->doc, a->type);

    if (!type)
        return MASON_ENOMEM; /* the line was checked to have a string type: decoding failed */
    if (strcmp(type, "assistant") == 0)
        return claude_assistant(a, line);
    if (strcmp(type, "user") == 0)
        return claude_user(a, line);
    if (strcmp(type, "system") == 0)
        return claude_system(a, line);
    if (strcmp(type, "result") == 0)
        return claude_result(a, line);
    if (in_list(types_ignored, type))
        a->stats.ignored++;
    else
        a->stats.unknown_types++;
    return 0;
}
