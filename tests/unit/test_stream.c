/* Unit tests for the line splitter, pod-log prefixes and the de-duplicating stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "stream.h"

static int collect(void *arg, const char *line, size_t len)
{
    struct mason_buf *b = arg;

    mason_buf_add(b, line, len);
    return mason_buf_adds(b, "|");
}

static const char text[] = "alpha\nbeta\r\n\ngamma delta\nlast";

static void lines_split_at_every_offset(void **state)
{
    (void)state;
    for (size_t cut = 0; cut <= sizeof(text) - 1; cut++) {
        struct mason_buf got = MASON_BUF_INIT;
        struct mason_lines l;

        mason_lines_init(&l, 0, collect, &got);
        assert_int_equal(mason_lines_feed(&l, text, cut), 0);
        assert_int_equal(mason_lines_feed(&l, text + cut, sizeof(text) - 1 - cut), 0);
        assert_string_equal(mason_buf_str(&got), "alpha|beta\r||gamma delta|");
        assert_int_equal(mason_lines_flush(&l), 0);
        assert_string_equal(mason_buf_str(&got), "alpha|beta\r||gamma delta|last|");
        mason_lines_release(&l);
        mason_buf_release(&got);
    }
}

static void lines_skip_past_cap(void **state)
{
    struct mason_buf got = MASON_BUF_INIT;
    struct mason_lines l;

    (void)state;
    mason_lines_init(&l, 8, collect, &got);
    /* 8 bytes fit, 9 do not: whole in one read, and split over reads. */
    assert_int_equal(mason_lines_feed(&l, "12345678\n123456789\nok\n", 22), 0);
    assert_int_equal(mason_lines_feed(&l, "abcde", 5), 0);
    assert_int_equal(mason_lines_feed(&l, "fghij", 5), 0);
    assert_int_equal(mason_lines_feed(&l, "klm\nafter\n", 10), 0);
    assert_int_equal(mason_lines_feed(&l, "1234", 4), 0);
    assert_int_equal(mason_lines_feed(&l, "5678\n", 5), 0);
    assert_string_equal(mason_buf_str(&got), "12345678|ok|after|12345678|");
    assert_int_equal(l.too_long, 2);
    mason_lines_release(&l);
    mason_buf_release(&got);
}

static int fail_second(void *arg, const char *line, size_t len)
{
    int *calls = arg;

    (void)line;
    (void)len;
    return ++*calls == 2 ? MASON_EIO : 0;
}

static void lines_pass_callback_error(void **state)
{
    struct mason_lines l;
    int calls = 0;

    (void)state;
    mason_lines_init(&l, 0, fail_second, &calls);
    assert_int_equal(mason_lines_feed(&l, "a\nb\nc\n", 6), MASON_EIO);
    assert_int_equal(calls, 2);
    mason_lines_release(&l);
}

static void timestamp_parse_and_format(void **state)
{
    static const char *const bad[] = {
        "2025-11-04 10:00:00Z",     "2025-13-04T10:00:00Z",
        "2025-11-04T10:00:00",      "2025-11-04T10:00:00.Z",
        "2025-11-04T10:00:00+0100", "x025-11-04T10:00:00Z",
        "2025-11-04T24:00:00Z",     "",
    };
    struct mason_timestamp a, b;
    struct mason_buf out = MASON_BUF_INIT;

    (void)state;
    assert_int_equal(mason_timestamp_parse("1970-01-01T00:00:00Z", 20, &a), 0);
    assert_int_equal(a.sec, 0);
    assert_int_equal(mason_timestamp_parse("2025-11-04T10:20:30.123456789Z", 30, &a), 0);
    assert_int_equal(a.sec, 1762251630);
    assert_int_equal(a.nsec, 123456789);
    assert_int_equal(mason_timestamp_parse("2025-11-04T11:20:30.5+01:00", 27, &b), 0);
    assert_int_equal(b.sec, 1762251630);
    assert_int_equal(b.nsec, 500000000);
    assert_true(mason_timestamp_cmp(&a, &b) < 0);
    assert_true(mason_timestamp_cmp(&b, &a) > 0);
    assert_int_equal(mason_timestamp_cmp(&a, &a), 0);
    assert_int_equal(mason_timestamp_format(&a, true, &out), 0);
    assert_string_equal(mason_buf_str(&out), "2025-11-04T10:20:30.123456789Z");
    mason_buf_reset(&out);
    assert_int_equal(mason_timestamp_format(&a, false, &out), 0);
    assert_string_equal(mason_buf_str(&out), "2025-11-04T10:20:30Z");
    mason_buf_reset(&out);
    assert_int_equal(mason_timestamp_parse("2024-02-29T23:59:59Z", 20, &a), 0);
    assert_int_equal(mason_timestamp_format(&a, false, &out), 0);
    assert_string_equal(mason_buf_str(&out), "2024-02-29T23:59:59Z");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mason_timestamp_parse(bad[i], strlen(bad[i]), &a), MASON_EPARSE);
    mason_buf_release(&out);
}

static void log_line_forms(void **state)
{
    struct mason_log_line ll;
    const char *api = "2025-11-04T10:20:30.000000001Z {\"type\":\"turn.started\"}";
    const char *cri = "2025-11-04T10:20:30.1Z stderr P {\"type\":";
    const char *empty = "2025-11-04T10:20:30Z stdout F ";

    (void)state;
    assert_int_equal(mason_log_line_parse(api, strlen(api), &ll), 0);
    assert_int_equal(ll.stream, MASON_LOG_STREAM_NONE);
    assert_false(ll.partial);
    assert_int_equal(ll.ts.nsec, 1);
    assert_int_equal(ll.len, strlen("{\"type\":\"turn.started\"}"));
    assert_memory_equal(ll.text, "{\"type\":\"turn.started\"}", ll.len);
    assert_int_equal(mason_log_line_parse(cri, strlen(cri), &ll), 0);
    assert_int_equal(ll.stream, MASON_LOG_STREAM_STDERR);
    assert_true(ll.partial);
    assert_memory_equal(ll.text, "{\"type\":", ll.len);
    assert_int_equal(mason_log_line_parse(empty, strlen(empty), &ll), 0);
    assert_int_equal(ll.stream, MASON_LOG_STREAM_STDOUT);
    assert_int_equal(ll.len, 0);
    assert_int_equal(mason_log_line_parse("{\"type\":1}", 10, &ll), MASON_EPARSE);
    assert_int_equal(mason_log_line_parse("nospace", 7, &ll), MASON_EPARSE);
}

/* ---- stream ---- */

struct sink {
    struct mason_buf kinds; /* one letter per event */
    unsigned tool_calls;
    struct mason_stream_position last;
};

static void on_event(void *arg, const struct mason_event *ev,
                     const struct mason_stream_position *pos)
{
    struct sink *k = arg;

    mason_buf_add(&k->kinds, mason_event_kind_name(ev->kind), 2);
    mason_buf_adds(&k->kinds, " ");
    k->tool_calls += ev->kind == MASON_EVENT_TOOL_CALL;
    k->last = *pos;
}

/* A Codex run as the API server sends it with timestamps=true; lines 3 and 4 share a timestamp. */
static const char log_text[] =
    "2025-11-04T10:00:00.100000000Z {\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n"
    "2025-11-04T10:00:00.200000000Z {\"type\":\"turn.started\"}\n"
    "2025-11-04T10:00:01.000000000Z {\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\","
    "\"type\":\"command_execution\",\"command\":\"make\",\"aggregated_output\":\"\",\"exit_code\":2,"
    "\"status\":\"failed\"}}\n"
    "2025-11-04T10:00:01.000000000Z {\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\","
    "\"type\":\"command_execution\",\"command\":\"make\",\"aggregated_output\":\"\",\"exit_code\":2,"
    "\"status\":\"failed\"}}\n"
    "2025-11-04T10:00:02.500000000Z {\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":10,"
    "\"cached_input_tokens\":0,\"output_tokens\":5}}\n";

static const char log_kinds[] = "in to to to to us tu re ";

static void sink_init(struct sink *k)
{
    memset(k, 0, sizeof(*k));
    mason_buf_init(&k->kinds, 0);
}

static void stream_replay_delivers_once(void **state)
{
    struct sink k;
    struct mason_stream *s;
    struct mason_stream_stats st;

    (void)state;
    sink_init(&k);
    s = mason_stream_create(MASON_ENGINE_CODEX, true, 0, on_event, &k);
    assert_non_null(s);
    /* First connection breaks inside line 4, after the first of the two same-time lines. */
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, log_text, 420), 0);
    assert_int_equal(mason_stream_disconnected(s, false), 0);
    assert_int_equal(k.tool_calls, 1);
    assert_int_equal(mason_stream_position(s)->count, 1);
    /* The server ignores sinceTime and replays everything. */
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, log_text, sizeof(log_text) - 1), 0);
    assert_int_equal(mason_stream_disconnected(s, true), 0);
    assert_string_equal(mason_buf_str(&k.kinds), log_kinds);
    /* A third connection from sinceTime (truncated to the second) adds nothing. */
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, strstr(log_text, "2025-11-04T10:00:01"),
                                       strlen(strstr(log_text, "2025-11-04T10:00:01"))),
                     0);
    assert_int_equal(mason_stream_disconnected(s, true), 0);
    assert_string_equal(mason_buf_str(&k.kinds), log_kinds);
    assert_true(k.last.valid);
    assert_int_equal(k.last.ts.nsec, 500000000);
    assert_int_equal(k.last.count, 1);
    mason_stream_stats(s, &st);
    assert_int_equal(st.connections, 3);
    assert_int_equal(st.duplicates, 3 + 3);
    assert_int_equal(st.adapter.lines, 5);
    mason_stream_free(s);
    mason_buf_release(&k.kinds);
}

static void stream_resumes_from_saved_position(void **state)
{
    struct sink k;
    struct mason_stream *s;
    struct mason_stream_position pos = {true, {0, 0}, 1};

    (void)state;
    sink_init(&k);
    /* A position saved after the first of the two lines at 10:00:01. */
    assert_int_equal(mason_timestamp_parse("2025-11-04T10:00:01Z", 20, &pos.ts), 0);
    s = mason_stream_create(MASON_ENGINE_CODEX, true, 0, on_event, &k);
    mason_stream_set_position(s, &pos);
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, log_text, sizeof(log_text) - 1), 0);
    assert_string_equal(mason_buf_str(&k.kinds), "to to us tu re ");
    mason_stream_free(s);
    mason_buf_release(&k.kinds);
}

/* A Claude line split by the runtime into CRI fragments, one of them sent twice. */
static void stream_joins_cri_fragments(void **state)
{
    static const char part1[] = "2025-11-04T10:00:00.1Z stdout P {\"type\":\"system\",\"subtype\":";
    static const char part2[] = "2025-11-04T10:00:00.2Z stdout P \"init\",\"session_id\":\"s1\",";
    static const char part3[] = "2025-11-04T10:00:00.3Z stdout F \"model\":\"claude-x\"}";
    struct sink k;
    struct mason_stream *s;
    struct mason_buf log = MASON_BUF_INIT;

    (void)state;
    sink_init(&k);
    s = mason_stream_create(MASON_ENGINE_CLAUDE_CODE, true, 0, on_event, &k);
    mason_buf_addf(&log, "%s\n%s\n", part1, part2);
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, log.data, log.len), 0);
    assert_int_equal(mason_stream_disconnected(s, false), 0);
    mason_buf_addf(&log, "%s\n", part3);
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, log.data, log.len), 0);
    assert_string_equal(mason_buf_str(&k.kinds), "in ");
    mason_stream_free(s);
    mason_buf_release(&log);
    mason_buf_release(&k.kinds);
}

static void stream_skips_long_lines(void **state)
{
    struct sink k;
    struct mason_stream *s;
    struct mason_stream_stats st;
    struct mason_buf log = MASON_BUF_INIT;

    (void)state;
    sink_init(&k);
    s = mason_stream_create(MASON_ENGINE_CODEX, false, 64, on_event, &k);
    mason_buf_adds(&log, "{\"type\":\"turn.started\"}\n{\"type\":\"error\",\"message\":\"");
    for (int i = 0; i < 100; i++)
        mason_buf_adds(&log, "x");
    mason_buf_adds(&log, "\"}\nnot json\n{\"type\":\"error\",\"message\":\"short\"}");
    mason_stream_connected(s);
    assert_int_equal(mason_stream_feed(s, log.data, log.len), 0);
    assert_int_equal(mason_stream_disconnected(s, true), 0);
    assert_string_equal(mason_buf_str(&k.kinds), "er ");
    mason_stream_stats(s, &st);
    assert_int_equal(st.too_long, 1);
    assert_int_equal(st.adapter.not_json, 1);
    assert_false(mason_stream_position(s)->valid);
    mason_stream_free(s);
    mason_buf_release(&log);
    mason_buf_release(&k.kinds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_split_at_every_offset),
        cmocka_unit_test(lines_skip_past_cap),
        cmocka_unit_test(lines_pass_callback_error),
        cmocka_unit_test(timestamp_parse_and_format),
        cmocka_unit_test(log_line_forms),
        cmocka_unit_test(stream_replay_delivers_once),
        cmocka_unit_test(stream_resumes_from_saved_position),
        cmocka_unit_test(stream_joins_cri_fragments),
        cmocka_unit_test(stream_skips_long_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
