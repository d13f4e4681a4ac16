/*
 * Unit tests for the Claude Code and Codex adapters: the project's own
 * fixtures in tests/fixtures/streams, and every captured stream in
 * ../shared/transcripts when that folder exists, checked against counts
 * taken from the same lines with plain jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "buf.h"
#include "error.h"
#include "event.h"
#include "stream.h"

#define MAX_CALLS 512

struct recorder {
    unsigned kinds[MASON_EVENT_KIND_COUNT];
    struct mason_tokens usage; /* sum of USAGE increments */
    unsigned tool_errors;
    unsigned sidechain;
    unsigned transient;
    unsigned max_turn;
    char hashes[MAX_CALLS][MASON_EVENT_HASH_SIZE]; /* of tool results, in order */
    int exit_codes[MAX_CALLS];                     /* -1000 when none */
    unsigned results_seen;
    struct mason_buf files;  /* "path," per modified file of each call */
    struct mason_buf names;  /* "name," per call */
    struct mason_event last; /* the last RESULT, strings copied below */
    char subtype[64];
    char session[128];
    char text[256];
};

static void copy_string(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static void record(void *arg, const struct mason_event *ev)
{
    struct recorder *r = arg;

    r->kinds[ev->kind]++;
    if (ev->turn > r->max_turn)
        r->max_turn = ev->turn;
    r->sidechain += ev->sidechain;
    r->transient += ev->transient;
    if (ev->kind == MASON_EVENT_USAGE)
        mason_tokens_add(&r->usage, &ev->tokens);
    if (ev->kind == MASON_EVENT_TOOL_CALL) {
        mason_buf_addf(&r->names, "%s,", ev->tool_name);
        for (unsigned i = 0; i < ev->files_count && ev->files_modified; i++)
            mason_buf_addf(&r->files, "%s,", ev->files[i]);
    }
    if (ev->kind == MASON_EVENT_TOOL_RESULT && r->results_seen < MAX_CALLS) {
        memcpy(r->hashes[r->results_seen], ev->args_hash, MASON_EVENT_HASH_SIZE);
        r->exit_codes[r->results_seen] = ev->has_exit_code ? ev->exit_code : -1000;
        r->results_seen++;
        r->tool_errors += ev->is_error;
    }
    if (ev->kind == MASON_EVENT_RESULT) {
        r->last = *ev;
        copy_string(r->subtype, sizeof(r->subtype), ev->result.subtype);
        copy_string(r->session, sizeof(r->session), ev->session_id);
        copy_string(r->text, sizeof(r->text), ev->text);
    }
}

static int feed_line(void *arg, const char *line, size_t len)
{
    return mason_adapter_feed(arg, line, len);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct mason_buf b = MASON_BUF_INIT;
    char chunk[65536];
    size_t n;

    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(mason_buf_add(&b, chunk, n), 0);
    fclose(f);
    *len = b.len;
    return mason_buf_detach(&b);
}

static char *fixture_path(const char *name)
{
    const char *top = getenv("MASON_TEST_TOP");
    struct mason_buf b = MASON_BUF_INIT;

    mason_buf_addf(&b, "%s/%s", top ? top : ".", name);
    return mason_buf_detach(&b);
}

/* Feeds a file through the line splitter into an adapter. */
static void run_file(enum mason_engine_id engine, const char *path, struct recorder *r,
                     struct mason_adapter_stats *stats)
{
    struct mason_adapter *a = mason_adapter_create(engine, record, r);
    struct mason_lines lines;
    size_t len = 0;
    char *data = read_file(path, &len);

    assert_non_null(a);
    assert_non_null(data);
    mason_lines_init(&lines, 0, feed_line, a);
    assert_int_equal(mason_lines_feed(&lines, data, len), 0);
    assert_int_equal(mason_lines_flush(&lines), 0);
    mason_adapter_stats(a, stats);
    mason_lines_release(&lines);
    mason_adapter_free(a);
    free(data);
}

static void run_fixture(enum mason_engine_id engine, const char *name, struct recorder *r,
                        struct mason_adapter_stats *stats)
{
    char *path = fixture_path(name);

    memset(r, 0, sizeof(*r));
    mason_buf_init(&r->files, 0);
    mason_buf_init(&r->names, 0);
    run_file(engine, path, r, stats);
    free(path);
}

static void recorder_release(struct recorder *r)
{
    mason_buf_release(&r->files);
    mason_buf_release(&r->names);
}

static void assert_clean(const struct mason_adapter_stats *s)
{
    assert_int_equal(s->not_json, 0);
    assert_int_equal(s->malformed, 0);
    assert_int_equal(s->unknown_types, 0);
    assert_int_equal(s->unknown_fields, 0);
    assert_int_equal(s->evicted, 0);
}

static void claude_success_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/streams/claude-success.jsonl", &r, &s);
    assert_clean(&s);
    assert_int_equal(s.lines, 12);
    assert_int_equal(r.kinds[MASON_EVENT_INIT], 1);
    assert_int_equal(r.kinds[MASON_EVENT_TEXT], 2);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_CALL], 4);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], 4);
    assert_int_equal(r.kinds[MASON_EVENT_USAGE], 5); /* msg_01A1 spans two lines */
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], 1);
    assert_int_equal(r.max_turn, 5);
    assert_int_equal(r.tool_errors, 0);
    assert_string_equal(mason_buf_str(&r.names), "Read,Edit,Bash,Write,");
    assert_string_equal(mason_buf_str(&r.files),
                        "/workspace/repo/src/parse.c,/workspace/repo/NOTES.md,");
    /* The per-message increments add up to the result's usage. */
    assert_int_equal(r.usage.input, 25);
    assert_int_equal(r.usage.output, 620);
    assert_int_equal(r.usage.cache_read, 60300);
    assert_int_equal(r.usage.cache_write, 16200);
    assert_int_equal(r.last.tokens.output, 620);
    assert_int_equal(r.last.result.outcome, MASON_OUTCOME_SUCCESS);
    assert_string_equal(r.subtype, "success");
    assert_string_equal(r.session, "7b3f0c2e-5d41-4a8e-9c16-2f7e8d9a0b14");
    assert_int_equal(r.last.result.num_turns, 5);
    assert_true(r.last.result.has_cost);
    assert_true(r.last.result.total_cost_usd > 0.0933 && r.last.result.total_cost_usd < 0.0935);
    assert_string_equal(r.text, "The parser now takes an explicit length and the tests pass.");
    recorder_release(&r);
}

static void claude_max_turns_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/streams/claude-max-turns.jsonl", &r, &s);
    assert_clean(&s);
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], 1);
    assert_int_equal(r.last.result.outcome, MASON_OUTCOME_MAX_TURNS);
    assert_false(r.last.is_error); /* CLI 2.0.x prints is_error false here */
    assert_string_equal(r.subtype, "error_max_turns");
    assert_string_equal(r.text, ""); /* no result text, errors is empty */
    assert_int_equal(r.last.result.num_turns, 3);
    recorder_release(&r);
}

static void claude_tool_errors_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/streams/claude-tool-errors.jsonl", &r,
                &s);
    assert_clean(&s);
    assert_int_equal(s.ignored, 1); /* rate_limit_event */
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_CALL], 7);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], 7);
    assert_int_equal(r.tool_errors, 4);
    assert_int_equal(r.exit_codes[0], 1);     /* npm run lint */
    assert_int_equal(r.exit_codes[1], -1000); /* EISDIR has no exit code */
    assert_int_equal(r.exit_codes[2], -1000); /* <tool_use_error> */
    assert_int_equal(r.exit_codes[3], 127);   /* sub-agent Bash */
    assert_int_equal(r.exit_codes[4], -1000); /* Task succeeded */
    /* The sub-agent's message does not count as a main-thread turn. */
    assert_int_equal(r.max_turn, 7);
    assert_int_equal(r.sidechain, 3); /* its USAGE, TOOL_CALL and TOOL_RESULT */
    assert_string_equal(mason_buf_str(&r.files), "/workspace/repo/src/app.js,");
    /* The two lint runs have the same arguments, so the same hash. */
    assert_string_equal(r.hashes[0], r.hashes[6]);
    assert_string_not_equal(r.hashes[0], r.hashes[3]);
    assert_int_equal(r.last.result.outcome, MASON_OUTCOME_SUCCESS);
    recorder_release(&r);
}

static void claude_failing_loop_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CLAUDE_CODE, "tests/fixtures/streams/claude-failing-loop.jsonl", &r,
                &s);
    assert_clean(&s);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], 6);
    assert_int_equal(r.tool_errors, 6);
    assert_int_equal(r.kinds[MASON_EVENT_USAGE], 6);
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], 0);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(strlen(r.hashes[i]), 64);
        assert_string_equal(r.hashes[i], r.hashes[0]);
        assert_int_equal(r.exit_codes[i], 1);
    }
    recorder_release(&r);
}

static void codex_success_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CODEX, "tests/fixtures/streams/codex-success.jsonl", &r, &s);
    assert_clean(&s);
    assert_int_equal(s.ignored, 2); /* reasoning and todo_list */
    assert_int_equal(r.kinds[MASON_EVENT_INIT], 1);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_CALL], 3);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], 3);
    assert_int_equal(r.tool_errors, 1);
    assert_int_equal(r.exit_codes[0], 1);
    assert_int_equal(r.exit_codes[1], -1000); /* file_change */
    assert_int_equal(r.exit_codes[2], 0);
    assert_string_equal(r.hashes[0], r.hashes[2]);
    assert_string_equal(mason_buf_str(&r.names),
                        "command_execution,file_change,command_execution,");
    assert_string_equal(mason_buf_str(&r.files),
                        "/workspace/repo/cli.py,/workspace/repo/tests/test_cli.py,");
    assert_int_equal(r.kinds[MASON_EVENT_TURN_END], 1);
    assert_int_equal(r.usage.input, 48210 - 40960);
    assert_int_equal(r.usage.cache_read, 40960);
    assert_int_equal(r.usage.output, 1830);
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], 1);
    assert_int_equal(r.last.result.outcome, MASON_OUTCOME_SUCCESS);
    assert_false(r.last.result.has_cost);
    assert_int_equal(r.last.result.num_turns, 1);
    assert_string_equal(r.subtype, "turn.completed");
    assert_string_equal(r.session, "019a3b4c-5d6e-7f80-9a1b-2c3d4e5f6a7b");
    assert_string_equal(r.text, "Fixed the help text; both CLI tests pass.");
    recorder_release(&r);
}

static void codex_failing_loop_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CODEX, "tests/fixtures/streams/codex-failing-loop.jsonl", &r, &s);
    assert_clean(&s);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], 5);
    assert_int_equal(r.tool_errors, 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_string_equal(r.hashes[i], r.hashes[0]);
        assert_int_equal(r.exit_codes[i], 101);
    }
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], 0);
    recorder_release(&r);
}

static void codex_turn_failed_fixture(void **state)
{
    struct mason_adapter_stats s;
    struct recorder r;

    (void)state;
    run_fixture(MASON_ENGINE_CODEX, "tests/fixtures/streams/codex-turn-failed.jsonl", &r, &s);
    assert_clean(&s);
    assert_int_equal(r.kinds[MASON_EVENT_ERROR], 6);
    assert_int_equal(r.transient, 5);
    assert_int_equal(r.kinds[MASON_EVENT_TURN_END], 1);
    assert_int_equal(r.last.result.outcome, MASON_OUTCOME_ERROR);
    assert_true(r.last.is_error);
    assert_string_equal(r.subtype, "turn.failed");
    assert_string_equal(r.text, "exceeded retry limit, last status: 429 Too Many Requests");
    recorder_release(&r);
}

static void feed(struct mason_adapter *a, const char *line)
{
    assert_int_equal(mason_adapter_feed(a, line, strlen(line)), 0);
}

static void adapter_counts_bad_input(void **state)
{
    struct recorder r = {0};
    struct mason_adapter *a = mason_adapter_create(MASON_ENGINE_CLAUDE_CODE, record, &r);
    struct mason_adapter_stats s;

    (void)state;
    feed(a, "Reading prompt from stdin...");
    feed(a, "{");
    feed(a, "{\"no_type\":1}");
    feed(a, "{\"type\":42}");
    feed(a, "[1,2]");
    feed(a, "   ");
    feed(a, "{\"type\":\"telemetry\",\"x\":1}");
    feed(a, "{\"type\":\"system\",\"subtype\":\"hook_response\"}");
    feed(a, "{\"type\":\"system\",\"subtype\":\"brand_new\"}");
    feed(a, "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"new_field\":1}\r");
    feed(a, "{\"type\":\"assistant\",\"message\":\"not an object\"}");
    feed(a, "{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":\"sparkle\"},"
            "{\"type\":\"tool_use\"},{\"type\":\"thinking\",\"thinking\":\"x\"}]}}");
    feed(a, "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\"}]}}");
    feed(a, "{\"type\":\"result\"}");
    mason_adapter_stats(a, &s);
    assert_int_equal(s.lines, 13);
    assert_int_equal(s.not_json, 2); /* the stderr text and the array */
    assert_int_equal(s.malformed, 4);
    assert_int_equal(s.unknown_types, 3); /* telemetry, brand_new, sparkle */
    assert_int_equal(s.unknown_fields, 1);
    assert_int_equal(s.ignored, 2);
    assert_int_equal(r.kinds[MASON_EVENT_INIT], 1);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_CALL], 1);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], 1);
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], 1);
    assert_int_equal(r.last.result.outcome, MASON_OUTCOME_ERROR);
    mason_adapter_free(a);
    assert_null(mason_adapter_create(MASON_ENGINE_AIDER, record, &r));
    recorder_release(&r);
}

static void hash_ignores_key_order(void **state)
{
    json_t *a = json_loads("{\"b\": [1, 2], \"a\": {\"y\": 1, \"x\": \"s\"}}", 0, NULL);
    json_t *b = json_loads("{\"a\":{\"x\":\"s\",\"y\":1},\"b\":[1,2]}", 0, NULL);
    json_t *c = json_loads("{\"a\":{\"x\":\"s\",\"y\":2},\"b\":[1,2]}", 0, NULL);
    char ha[MASON_EVENT_HASH_SIZE], hb[MASON_EVENT_HASH_SIZE], hc[MASON_EVENT_HASH_SIZE];

    (void)state;
    assert_int_equal(mason_event_hash_args(a, ha), 0);
    assert_int_equal(mason_event_hash_args(b, hb), 0);
    assert_int_equal(mason_event_hash_args(c, hc), 0);
    assert_string_equal(ha, hb);
    assert_string_not_equal(ha, hc);
    assert_int_equal(mason_event_hash_args(NULL, ha), 0);
    assert_string_equal(ha, "");
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* The hash of a tool call's input is the hash of the same input parsed by jansson. */
struct hash_probe {
    char hash[MASON_EVENT_HASH_SIZE];
    size_t text_len;
    char text_tail[8];
    unsigned results;
};

static void probe(void *arg, const struct mason_event *ev)
{
    struct hash_probe *p = arg;

    if (ev->kind == MASON_EVENT_TOOL_CALL)
        memcpy(p->hash, ev->args_hash, sizeof(p->hash));
    if (ev->kind == MASON_EVENT_TOOL_RESULT && ev->text) {
        p->text_len = strlen(ev->text);
        copy_string(p->text_tail, sizeof(p->text_tail),
                    ev->text + (p->text_len > 4 ? p->text_len - 4 : 0));
        p->results++;
    }
}

static void hash_matches_jansson(void **state)
{
    /* Escapes, unicode, nesting, a real and a duplicate key (left to jansson). */
    static const char *const inputs[] = {
        "{\"command\":\"ls -la\",\"description\":\"List\"}",
        "{\"b\":[1,2,{\"z\":null,\"a\":true}],\"a\":\"\\u00e9\\n\\t\\\"q\\\" \\/ \\u0001\"}",
        "{\"s\":\"\\ud83d\\ude00 \xf0\x9f\x98\x80\",\"\\u0041\":-0}",
        "{\"timeout\":1.5e3,\"command\":\"sleep 1\"}",
        "{\"dup\":1,\"dup\":\"second\"}",
        "{}",
    };
    struct hash_probe p = {0};
    struct mason_adapter *a = mason_adapter_create(MASON_ENGINE_CLAUDE_CODE, probe, &p);
    struct mason_buf line = MASON_BUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        json_t *input = json_loads(inputs[i], 0, NULL);
        char want[MASON_EVENT_HASH_SIZE];

        assert_non_null(input);
        assert_int_equal(mason_event_hash_args(input, want), 0);
        mason_buf_reset(&line);
        mason_buf_addf(&line,
                       "{\"type\":\"assistant\",\"message\":{\"id\":\"m%zu\",\"content\":[{"
                       "\"type\":\"tool_use\",\"id\":\"t%zu\",\"name\":\"Bash\",\"input\":%s}]}}",
                       i, i, inputs[i]);
        feed(a, mason_buf_str(&line));
        assert_string_equal(p.hash, want);
        json_decref(input);
    }
    mason_buf_release(&line);
    mason_adapter_free(a);
}

static void result_text_is_capped(void **state)
{
    struct hash_probe p = {0};
    struct mason_adapter *a = mason_adapter_create(MASON_ENGINE_CLAUDE_CODE, probe, &p);
    struct mason_buf line = MASON_BUF_INIT;

    (void)state;
    /* 70,000 bytes of output in 2-byte characters, so the cap falls inside one. */
    mason_buf_init(&line, 0);
    mason_buf_adds(&line, "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\","
                          "\"tool_use_id\":\"t\",\"content\":\"x");
    for (int i = 0; i < 35000; i++)
        mason_buf_adds(&line, "\xc3\xa9");
    mason_buf_adds(&line, "\"}]}}");
    feed(a, mason_buf_str(&line));
    assert_int_equal(p.results, 1);
    assert_int_equal(p.text_len, MASON_EVENT_MAX_RESULT_TEXT - 1);
    assert_string_equal(p.text_tail, "\xc3\xa9\xc3\xa9");

    /* A short output is whole. */
    feed(a, "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\","
            "\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"ok\\nend\"}]}]}}");
    assert_int_equal(p.results, 2);
    assert_int_equal(p.text_len, 6);
    mason_buf_release(&line);
    mason_adapter_free(a);
}

/* ---- captured streams ---- */

/* What a file reports, counted with jansson alone. */
struct expected {
    unsigned tool_calls; /* tool_use blocks, or Codex tool items */
    unsigned tool_results;
    unsigned tool_errors; /* tool_result blocks with is_error, or failed Codex commands */
    unsigned results;
    json_t *last_result; /* the last Claude result line */
    json_t *messages;    /* set of main-thread assistant message ids */
    unsigned sessions;
    struct mason_tokens codex_usage;
};

static void expect_claude_line(json_t *line, struct expected *e)
{
    const char *type = json_string_value(json_object_get(line, "type"));
    json_t *content = json_object_get(json_object_get(line, "message"), "content");
    json_t *block;
    size_t i;

    if (strcmp(type, "result") == 0) {
        e->results++;
        json_decref(e->last_result);
        e->last_result = json_incref(line);
    }
    if (strcmp(type, "assistant") == 0 &&
        !json_is_string(json_object_get(line, "parent_tool_use_id")))
        json_object_set_new(
            e->messages, json_string_value(json_object_get(json_object_get(line, "message"), "id")),
            json_true());
    json_array_foreach(content, i, block)
    {
        const char *block_type = json_string_value(json_object_get(block, "type"));

        if (!block_type)
            continue;
        if (strcmp(type, "assistant") == 0 && strcmp(block_type, "tool_use") == 0)
            e->tool_calls++;
        if (strcmp(type, "user") == 0 && strcmp(block_type, "tool_result") == 0)
            e->tool_results++;
        if (strcmp(type, "user") == 0 && strcmp(block_type, "tool_result") == 0)
            e->tool_errors += json_is_true(json_object_get(block, "is_error"));
    }
}

static void expect_codex_line(json_t *line, struct expected *e)
{
    const char *type = json_string_value(json_object_get(line, "type"));
    json_t *item = json_object_get(line, "item");
    const char *item_type = json_string_value(json_object_get(item, "type"));
    json_t *usage = json_object_get(line, "usage");

    if (strcmp(type, "thread.started") == 0)
        e->sessions++;
    if (strcmp(type, "turn.completed") == 0 || strcmp(type, "turn.failed") == 0)
        e->results++;
    if (strcmp(type, "turn.completed") == 0) {
        json_int_t in = json_integer_value(json_object_get(usage, "input_tokens"));
        json_int_t cached = json_integer_value(json_object_get(usage, "cached_input_tokens"));

        e->codex_usage.input += (uint64_t)(in - cached);
        e->codex_usage.cache_read += (uint64_t)cached;
        e->codex_usage.output +=
            (uint64_t)json_integer_value(json_object_get(usage, "output_tokens"));
    }
    if (strcmp(type, "item.completed") == 0 && item_type &&
        (strcmp(item_type, "command_execution") == 0 || strcmp(item_type, "file_change") == 0)) {
        json_int_t code = json_integer_value(json_object_get(item, "exit_code"));
        const char *status = json_string_value(json_object_get(item, "status"));

        e->tool_calls++;
        e->tool_results++;
        e->tool_errors += code != 0 || (status && strcmp(status, "failed") == 0);
    }
}

static void expect_file(const char *path, bool codex, struct expected *e)
{
    size_t len = 0;
    char *data = read_file(path, &len);
    char *line = data, *end;

    assert_non_null(data);
    memset(e, 0, sizeof(*e));
    e->messages = json_object();
    for (; line < data + len; line = end + 1) {
        json_t *obj;

        end = memchr(line, '\n', (size_t)(data + len - line));
        if (!end)
            end = data + len;
        obj = json_loadb(line, (size_t)(end - line), 0, NULL);
        if (obj && codex)
            expect_codex_line(obj, e);
        else if (obj)
            expect_claude_line(obj, e);
        json_decref(obj);
    }
    free(data);
}

static void check_claude_result(const struct recorder *r, json_t *want)
{
    json_t *usage = json_object_get(want, "usage");

    assert_string_equal(r->subtype, json_string_value(json_object_get(want, "subtype")));
    assert_string_equal(r->session, json_string_value(json_object_get(want, "session_id")));
    assert_int_equal(r->last.result.num_turns,
                     json_integer_value(json_object_get(want, "num_turns")));
    assert_true(r->last.result.has_cost);
    assert_true(r->last.result.total_cost_usd ==
                json_number_value(json_object_get(want, "total_cost_usd")));
    assert_int_equal(r->last.is_error, json_is_true(json_object_get(want, "is_error")));
    assert_int_equal(r->last.tokens.input,
                     json_integer_value(json_object_get(usage, "input_tokens")));
    assert_int_equal(r->last.tokens.output,
                     json_integer_value(json_object_get(usage, "output_tokens")));
    assert_int_equal(r->last.tokens.cache_read,
                     json_integer_value(json_object_get(usage, "cache_read_input_tokens")));
    assert_int_equal(r->last.tokens.cache_write,
                     json_integer_value(json_object_get(usage, "cache_creation_input_tokens")));
}

static void check_transcript(const char *dir, const char *name)
{
    bool codex = strncmp(name, "codex-", 6) == 0;
    struct mason_adapter_stats s;
    struct mason_buf path = MASON_BUF_INIT;
    struct expected e;
    struct recorder r;

    mason_buf_addf(&path, "%s/%s", dir, name);
    memset(&r, 0, sizeof(r));
    mason_buf_init(&r.files, 0);
    mason_buf_init(&r.names, 0);
    run_file(codex ? MASON_ENGINE_CODEX : MASON_ENGINE_CLAUDE_CODE, mason_buf_str(&path), &r, &s);
    expect_file(mason_buf_str(&path), codex, &e);
    printf("  %s: %llu lines, %llu events, %u tool calls, %u tool errors, %u results\n", name,
           (unsigned long long)s.lines, (unsigned long long)s.events,
           r.kinds[MASON_EVENT_TOOL_CALL], r.tool_errors, r.kinds[MASON_EVENT_RESULT]);
    assert_clean(&s);
    assert_true(s.events > 0);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_CALL], e.tool_calls);
    assert_int_equal(r.kinds[MASON_EVENT_TOOL_RESULT], e.tool_results);
    assert_int_equal(r.tool_errors, e.tool_errors);
    assert_int_equal(r.kinds[MASON_EVENT_RESULT], e.results);
    if (!codex && e.last_result)
        check_claude_result(&r, e.last_result);
    if (!codex)
        assert_int_equal(r.max_turn, json_object_size(e.messages));
    if (codex) {
        assert_int_equal(r.kinds[MASON_EVENT_INIT], e.sessions);
        assert_int_equal(r.usage.input, e.codex_usage.input);
        assert_int_equal(r.usage.cache_read, e.codex_usage.cache_read);
        assert_int_equal(r.usage.output, e.codex_usage.output);
    }
    json_decref(e.last_result);
    json_decref(e.messages);
    recorder_release(&r);
    mason_buf_release(&path);
}

static void captured_streams_parse(void **state)
{
    char *dir = fixture_path("../shared/transcripts");
    DIR *d = opendir(dir);
    struct dirent *entry;
    unsigned checked = 0;

    (void)state;
    if (!d) {
        printf("SKIP: %s is absent, captured streams not checked\n", dir);
        free(dir);
        skip();
    }
    while ((entry = readdir(d)) != NULL) {
        const char *name = entry->d_name;
        size_t len = strlen(name);

        if (len < 7 || strcmp(name + len - 6, ".jsonl") != 0)
            continue;
        if (strncmp(name, "claude-", 7) != 0 && strncmp(name, "codex-", 6) != 0)
            continue;
        check_transcript(dir, name);
        checked++;
    }
    closedir(d);
    free(dir);
    assert_true(checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude_success_fixture),     cmocka_unit_test(claude_max_turns_fixture),
        cmocka_unit_test(claude_tool_errors_fixture), cmocka_unit_test(claude_failing_loop_fixture),
        cmocka_unit_test(codex_success_fixture),      cmocka_unit_test(codex_failing_loop_fixture),
        cmocka_unit_test(codex_turn_failed_fixture),  cmocka_unit_test(adapter_counts_bad_input),
        cmocka_unit_test(hash_ignores_key_order),     cmocka_unit_test(hash_matches_jansson),
        cmocka_unit_test(result_text_is_capped),      cmocka_unit_test(captured_streams_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
