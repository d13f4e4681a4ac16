/*
 * Codex exec --json. A run is thread.started, then per turn turn.started,
 * item.started / item.updated / item.completed for each item (commands,
 * file changes, messages, reasoning), and turn.completed with the turn's
 * usage or turn.failed. Codex reports no cost and no model.
 */
#include "adapter_internal.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static const char *str(struct mason_adapter *a, int obj, const char *key)
{
    return adapter_str(a, obj, key);
}

static bool is(const char *s, const char *literal)
{
    return s && strcmp(s, literal) == 0;
}

static int codex_thread_started(struct mason_adapter *a, int line)
{
    static const char *const fields[] = {"type", "thread_id", NULL};
    struct mason_event ev;
    int rc;

    adapter_check_fields(a, line, fields);
    rc = adapter_set_string(&a->session_id, str(a, line, "thread_id"));
    if (rc)
        return rc;
    a->turn = 0;
    adapter_calls_clear(a);
    memset(&a->thread_tokens, 0, sizeof(a->thread_tokens));
    adapter_set_string(&a->last_message, NULL);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_INIT;
    adapter_emit(a, &ev);
    return 0;
}

/* Returns member key of obj when it is a string, else -1. */
static int string_member(struct mason_adapter *a, int obj, const char *key)
{
    int v = adapter_get(a, obj, key);

    return adapter_is(a, v, MASON_JSCAN_STRING) ? v : -1;
}

/*
 * Fills the call fields of a tool item: name, hash of its arguments, command
 * and files. The arguments hashed are {"command": s}, {"changes": v},
 * {"query": s} or the MCP arguments, with null for a missing string.
 */
static int codex_call_fields(struct mason_adapter *a, int item, const char *type,
                             struct mason_event *ev, char *name, size_t name_size)
{
    int changes = adapter_get(a, item, "changes");
    const char *server, *tool;

    ev->tool_id = str(a, item, "id");
    ev->tool_name = type;
    if (is(type, "command_execution")) {
        ev->command = str(a, item, "command");
        return adapter_hash_member(a, "command", string_member(a, item, "command"), ev->args_hash);
    }
    if (is(type, "file_change")) {
        if (adapter_is(a, changes, MASON_JSCAN_ARRAY))
            for (int c = mason_jscan_first(&a->doc, changes); c >= 0;
                 c = mason_jscan_next(&a->doc, changes, c))
                mason_event_add_file(ev, str(a, c, "path"));
        ev->files_modified = true;
        return adapter_hash_member(a, "changes", changes, ev->args_hash);
    }
    if (is(type, "mcp_tool_call")) {
        server = str(a, item, "server");
        tool = str(a, item, "tool");
        snprintf(name, name_size, "mcp__%s__%s", server ? server : "", tool ? tool : "");
        ev->tool_name = name;
        return adapter_hash_value(a, adapter_get(a, item, "arguments"), ev->args_hash);
    }
    return adapter_hash_member(a, "query", string_member(a, item, "query"), ev->args_hash);
}

static int codex_tool_call(struct mason_adapter *a, int item, const char *type)
{
    struct mason_event ev;
    char name[256];
    int rc;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_CALL;
    rc = codex_call_fields(a, item, type, &ev, name, sizeof(name));
    if (rc)
        return rc;
    adapter_emit(a, &ev);
    return adapter_call_remember(a, &ev);
}

/* Fills the outcome of a tool item; the output is cut at MASON_EVENT_MAX_RESULT_TEXT bytes. */
static void codex_tool_outcome(struct mason_adapter *a, int item, struct mason_event *ev)
{
    const char *status = str(a, item, "status");
    int error = adapter_get(a, item, "error");
    bool error_object = adapter_is(a, error, MASON_JSCAN_OBJECT);
    int64_t code;

    ev->is_error = is(status, "failed") || is(status, "declined") || error_object;
    if (mason_jscan_int(&a->doc, adapter_get(a, item, "exit_code"), &code)) {
        ev->has_exit_code = true;
        ev->exit_code = (int)code;
        ev->is_error = ev->is_error || ev->exit_code != 0;
    }
    ev->text = mason_jscan_string_prefix(&a->doc, adapter_get(a, item, "aggregated_output"),
                                         MASON_EVENT_MAX_RESULT_TEXT);
    if (error_object)
        ev->text = mason_jscan_string_prefix(&a->doc, adapter_get(a, error, "message"),
                                             MASON_EVENT_MAX_RESULT_TEXT);
}

/* A tool item completed; items that Codex emits only as completed get their call first. */
static int codex_tool_result(struct mason_adapter *a, int item, const char *type)
{
    struct adapter_call call = {0};
    struct mason_event ev;
    int rc;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_RESULT;
    ev.tool_id = str(a, item, "id");
    if (!adapter_call_take(a, ev.tool_id, &ev, &call)) {
        rc = codex_tool_call(a, item, type);
        if (rc)
            return rc;
        if (!adapter_call_take(a, ev.tool_id, &ev, &call))
            ev.tool_name = type;
    }
    codex_tool_outcome(a, item, &ev);
    adapter_emit(a, &ev);
    adapter_call_release(&call);
    return 0;
}

static int codex_message(struct mason_adapter *a, int item, bool completed)
{
    struct mason_event ev;
    int rc;

    if (!completed)
        return 0;
    rc = adapter_set_string(&a->last_message, str(a, item, "text"));
    if (rc)
        return rc;
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TEXT;
    ev.text = str(a, item, "text");
    adapter_emit(a, &ev);
    return 0;
}

static void codex_error_item(struct mason_adapter *a, int item)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_ERROR;
    ev.is_error = true;
    ev.text = str(a, item, "message");
    adapter_emit(a, &ev);
}

static bool tool_item(const char *type)
{
    return is(type, "command_execution") || is(type, "file_change") || is(type, "mcp_tool_call") ||
           is(type, "web_search");
}

static int codex_item(struct mason_adapter *a, int line, const char *phase)
{
    static const char *const fields[] = {"type", "item", NULL};
    int item = adapter_get(a, line, "item");
    const char *type = str(a, item, "type");
    bool completed = is(phase, "item.completed");

    adapter_check_fields(a, line, fields);
    if (!type)
        type = str(a, item, "item_type"); /* the name before Codex 0.46 */
    if (!type) {
        a->stats.malformed++;
        return 0;
    }
    if (tool_item(type)) {
        if (completed)
            return codex_tool_result(a, item, type);
        if (is(phase, "item.started"))
            return codex_tool_call(a, item, type);
        return 0;
    }
    if (is(type, "agent_message"))
        return codex_message(a, item, completed);
    if (is(type, "error")) {
        codex_error_item(a, item);
        return 0;
    }
    if (is(type, "reasoning") || is(type, "todo_list") || is(type, "plan"))
        a->stats.ignored++;
    else
        a->stats.unknown_types++;
    return 0;
}

static void codex_emit_result(struct mason_adapter *a, bool failed, const char *message)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_RESULT;
    ev.is_error = failed;
    ev.result.outcome = failed ? MASON_OUTCOME_ERROR : MASON_OUTCOME_SUCCESS;
    ev.result.subtype = failed ? "turn.failed" : "turn.completed";
    ev.result.num_turns = a->turn;
    ev.has_tokens = true;
    ev.tokens = a->thread_tokens;
    ev.text = failed ? message : a->last_message;
    adapter_emit(a, &ev);
}

static void codex_turn_completed(struct mason_adapter *a, int line)
{
    static const char *const fields[] = {"type", "usage", NULL};
    int usage = adapter_get(a, line, "usage");
    uint64_t input = adapter_u64(a, usage, "input_tokens");
    uint64_t cached = adapter_u64(a, usage, "cached_input_tokens");
    struct mason_event ev;

    adapter_check_fields(a, line, fields);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_USAGE;
    ev.has_tokens = true;
    ev.tokens.cache_read = cached;
    ev.tokens.input = input > cached ? input - cached : 0;
    ev.tokens.output = adapter_u64(a, usage, "output_tokens");
    mason_tokens_add(&a->thread_tokens, &ev.tokens);
    adapter_emit(a, &ev);

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TURN_END;
    adapter_emit(a, &ev);
    codex_emit_result(a, false, NULL);
}

static void codex_turn_failed(struct mason_adapter *a, int line)
{
    static const char *const fields[] = {"type", "error", NULL};
    const char *message = str(a, adapter_get(a, line, "error"), "message");
    struct mason_event ev;

    adapter_check_fields(a, line, fields);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TURN_END;
    ev.is_error = true;
    ev.text = message;
    adapter_emit(a, &ev);
    codex_emit_result(a, true, message);
}

static void codex_error(struct mason_adapter *a, int line)
{
    static const char *const fields[] = {"type", "message", NULL};
    static const char reconnecting[] = "Reconnecting...";
    struct mason_event ev;

    adapter_check_fields(a, line, fields);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_ERROR;
    ev.is_error = true;
    ev.text = str(a, line, "message");
    ev.transient = ev.text && strncmp(ev.text, reconnecting, sizeof(reconnecting) - 1) == 0;
    adapter_emit(a, &ev);
}

int adapter_codex_feed(struct mason_adapter *a, int line)
{
    const char *type = mason_jscan_string(&a->doc, a->type);

    if (!type)
        return MASON_ENOMEM; /* the line was checked to have a string type: decoding failed */
    if (strncmp(type, "item.", 5) == 0 &&
        adapter_is(a, adapter_get(a, line, "item"), MASON_JSCAN_OBJECT))
        return codex_item(a, line, type);
    if (is(type, "thread.started"))
        return codex_thread_started(a, line);
    if (is(type, "turn.started")) {
        a->turn++;
        return 0;
    }
    if (is(type, "turn.completed"))
        codex_turn_completed(a, line);
    else if (is(type, "turn.failed"))
        codex_turn_failed(a, line);
    else if (is(type, "error"))
        codex_error(a, line);
    else if (is(type, "item.plan.delta") || is(type, "request_user_input"))
        a->stats.ignored++;
    else
        a->stats.unknown_types++;
    return 0;
}
