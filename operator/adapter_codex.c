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

static const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool is(const char *s, const char *literal)
{
    return s && strcmp(s, literal) == 0;
}

static int codex_thread_started(struct mason_adapter *a, json_t *line)
{
    static const char *const fields[] = {"type", "thread_id", NULL};
    struct mason_event ev;
    int rc;

    adapter_check_fields(a, line, fields);
    rc = adapter_set_string(&a->session_id, str(line, "thread_id"));
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

/* Fills the call fields of a tool item: name, hash of its arguments, command and files. */
static int codex_call_fields(json_t *item, const char *type, struct mason_event *ev, char *name,
                             size_t name_size)
{
    json_t *args = NULL, *change;
    size_t i;
    int rc;

    ev->tool_id = str(item, "id");
    ev->tool_name = type;
    if (is(type, "command_execution")) {
        ev->command = str(item, "command");
        args = json_pack("{s:s?}", "command", ev->command);
    } else if (is(type, "file_change")) {
        args = json_pack("{s:O?}", "changes", json_object_get(item, "changes"));
        json_array_foreach(json_object_get(item, "changes"), i, change)
            mason_event_add_file(ev, str(change, "path"));
        ev->files_modified = true;
    } else if (is(type, "mcp_tool_call")) {
        snprintf(name, name_size, "mcp__%s__%s", str(item, "server") ? str(item, "server") : "",
                 str(item, "tool") ? str(item, "tool") : "");
        ev->tool_name = name;
        args = json_incref(json_object_get(item, "arguments"));
    } else {
        args = json_pack("{s:s?}", "query", str(item, "query"));
    }
    rc = mason_event_hash_args(args, ev->args_hash);
    json_decref(args);
    return rc;
}

static int codex_tool_call(struct mason_adapter *a, json_t *item, const char *type)
{
    struct mason_event ev;
    char name[256];
    int rc;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_CALL;
    rc = codex_call_fields(item, type, &ev, name, sizeof(name));
    if (rc)
        return rc;
    adapter_emit(a, &ev);
    return adapter_call_remember(a, &ev);
}

static void codex_tool_outcome(json_t *item, struct mason_event *ev)
{
    const char *status = str(item, "status");
    json_t *code = json_object_get(item, "exit_code");
    json_t *error = json_object_get(item, "error");

    ev->is_error = is(status, "failed") || is(status, "declined") || json_is_object(error);
    if (json_is_integer(code)) {
        ev->has_exit_code = true;
        ev->exit_code = (int)json_integer_value(code);
        ev->is_error = ev->is_error || ev->exit_code != 0;
    }
    ev->text = str(item, "aggregated_output");
    if (json_is_object(error))
        ev->text = str(error, "message");
}

/* A tool item completed; items that Codex emits only as completed get their call first. */
static int codex_tool_result(struct mason_adapter *a, json_t *item, const char *type)
{
    struct adapter_call call = {0};
    struct mason_event ev;
    int rc;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TOOL_RESULT;
    ev.tool_id = str(item, "id");
    if (!adapter_call_take(a, ev.tool_id, &ev, &call)) {
        rc = codex_tool_call(a, item, type);
        if (rc)
            return rc;
        if (!adapter_call_take(a, ev.tool_id, &ev, &call))
            ev.tool_name = type;
    }
    codex_tool_outcome(item, &ev);
    adapter_emit(a, &ev);
    adapter_call_release(&call);
    return 0;
}

static int codex_message(struct mason_adapter *a, json_t *item, bool completed)
{
    struct mason_event ev;
    int rc;

    if (!completed)
        return 0;
    rc = adapter_set_string(&a->last_message, str(item, "text"));
    if (rc)
        return rc;
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TEXT;
    ev.text = str(item, "text");
    adapter_emit(a, &ev);
    return 0;
}

static void codex_error_item(struct mason_adapter *a, json_t *item)
{
    struct mason_event ev;

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_ERROR;
    ev.is_error = true;
    ev.text = str(item, "message");
    adapter_emit(a, &ev);
}

static bool tool_item(const char *type)
{
    return is(type, "command_execution") || is(type, "file_change") || is(type, "mcp_tool_call") ||
           is(type, "web_search");
}

static int codex_item(struct mason_adapter *a, json_t *line, const char *phase)
{
    static const char *const fields[] = {"type", "item", NULL};
    json_t *item = json_object_get(line, "item");
    const char *type = str(item, "type");
    bool completed = is(phase, "item.completed");

    adapter_check_fields(a, line, fields);
    if (!type)
        type = str(item, "item_type"); /* the name before Codex 0.46 */
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

static void codex_turn_completed(struct mason_adapter *a, json_t *line)
{
    static const char *const fields[] = {"type", "usage", NULL};
    json_t *usage = json_object_get(line, "usage");
    uint64_t input = adapter_u64(usage, "input_tokens");
    uint64_t cached = adapter_u64(usage, "cached_input_tokens");
    struct mason_event ev;

    adapter_check_fields(a, line, fields);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_USAGE;
    ev.has_tokens = true;
    ev.tokens.cache_read = cached;
    ev.tokens.input = input > cached ? input - cached : 0;
    ev.tokens.output = adapter_u64(usage, "output_tokens");
    mason_tokens_add(&a->thread_tokens, &ev.tokens);
    adapter_emit(a, &ev);

    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TURN_END;
    adapter_emit(a, &ev);
    codex_emit_result(a, false, NULL);
}

static void codex_turn_failed(struct mason_adapter *a, json_t *line)
{
    static const char *const fields[] = {"type", "error", NULL};
    const char *message = str(json_object_get(line, "error"), "message");
    struct mason_event ev;

    adapter_check_fields(a, line, fields);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_TURN_END;
    ev.is_error = true;
    ev.text = message;
    adapter_emit(a, &ev);
    codex_emit_result(a, true, message);
}

static void codex_error(struct mason_adapter *a, json_t *line)
{
    static const char *const fields[] = {"type", "message", NULL};
    static const char reconnecting[] = "Reconnecting...";
    struct mason_event ev;

    adapter_check_fields(a, line, fields);
    mason_event_clear(&ev);
    ev.kind = MASON_EVENT_ERROR;
    ev.is_error = true;
    ev.text = str(line, "message");
    ev.transient = ev.text && strncmp(ev.text, reconnecting, sizeof(reconnecting) - 1) == 0;
    adapter_emit(a, &ev);
}

int adapter_codex_feed(struct mason_adapter *a, json_t *line)
{
    const char *type = str(line, "type");

    if (strncmp(type, "item.", 5) == 0 && json_is_object(json_object_get(line, "item")))
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
