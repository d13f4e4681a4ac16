/* Unit tests for the incremental watch-stream parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "watch.h"

struct recorder {
    int count[MASON_WATCH_ERROR + 1];
    struct mason_buf names; /* "TYPE:name," per event */
};

static void record(void *arg, enum mason_watch_type type, json_t *object)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    struct recorder *r = arg;
    json_t *meta = json_object_get(object, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));

    r->count[type]++;
    if (type == MASON_WATCH_BOOKMARK)
        name = json_string_value(json_object_get(meta, "resourceVersion"));
    if (type == MASON_WATCH_ERROR)
        name = json_string_value(json_object_get(object, "reason"));
    mason_buf_addf(&r->names, "%s:%s,", names[type], name ? name : "?");
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"AgentTask\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"},"
    "\"status\":{\"phase\":\"Running\"}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"AgentTask\",\"metadata\":{\"resourceVersion\":"
    "\"12\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"\\u00e9t\\u00e9\"}}}\n";

static const char expected[] = "ADDED:a,MODIFIED:a,BOOKMARK:12,DELETED:\xc3\xa9t\xc3\xa9,";

static void watch_parses_whole_stream(void **state)
{
    struct recorder r = {{0}, MASON_BUF_INIT};
    struct mason_watch_parser *p = mason_watch_parser_create(0, record, &r);

    (void)state;
    assert_int_equal(mason_watch_parser_feed(p, stream, strlen(stream)), 0);
    assert_string_equal(mason_buf_str(&r.names), expected);
    assert_int_equal(mason_watch_parser_skipped(p), 0);
    assert_false(mason_watch_parser_gone(p));
    mason_watch_parser_free(p);
    mason_buf_release(&r.names);
}

static void watch_splits_at_every_offset(void **state)
{
    size_t len = strlen(stream);

    (void)state;
    for (size_t cut = 0; cut <= len; cut++) {
        struct recorder r = {{0}, MASON_BUF_INIT};
        struct mason_watch_parser *p = mason_watch_parser_create(0, record, &r);

        assert_int_equal(mason_watch_parser_feed(p, stream, cut), 0);
        assert_int_equal(mason_watch_parser_feed(p, stream + cut, len - cut), 0);
        assert_string_equal(mason_buf_str(&r.names), expected);
        mason_watch_parser_free(p);
        mason_buf_release(&r.names);
    }
}

static void watch_feeds_byte_by_byte(void **state)
{
    struct recorder r = {{0}, MASON_BUF_INIT};
    struct mason_watch_parser *p = mason_watch_parser_create(0, record, &r);

    (void)state;
    for (size_t i = 0; stream[i]; i++)
        assert_int_equal(mason_watch_parser_feed(p, stream + i, 1), 0);
    assert_string_equal(mason_buf_str(&r.names), expected);
    mason_watch_parser_free(p);
    mason_buf_release(&r.names);
}

static void watch_keeps_partial_line(void **state)
{
    struct recorder r = {{0}, MASON_BUF_INIT};
    struct mason_watch_parser *p = mason_watch_parser_create(0, record, &r);
    const char *part = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}";

    (void)state;
    mason_watch_parser_feed(p, part, strlen(part));
    assert_int_equal(r.count[MASON_WATCH_ADDED], 0);
    mason_watch_parser_feed(p, "\n", 1);
    assert_int_equal(r.count[MASON_WATCH_ADDED], 1);
    mason_watch_parser_feed(p, part, strlen(part));
    mason_watch_parser_reset(p); /* a new connection drops the partial line */
    mason_watch_parser_feed(p, "\n", 1);
    assert_int_equal(r.count[MASON_WATCH_ADDED], 1);
    mason_watch_parser_free(p);
    mason_buf_release(&r.names);
}

static void watch_reports_gone_in_stream(void **state)
{
    struct recorder r = {{0}, MASON_BUF_INIT};
    struct mason_watch_parser *p = mason_watch_parser_create(0, record, &r);
    const char *err500 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
                         "\"reason\":\"InternalError\"}}\n";
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5)\","
                       "\"reason\":\"Expired\",\"code\":410}}\n";

    (void)state;
    mason_watch_parser_feed(p, err500, strlen(err500));
    assert_int_equal(r.count[MASON_WATCH_ERROR], 1);
    assert_false(mason_watch_parser_gone(p));
    mason_watch_parser_feed(p, gone, strlen(gone));
    assert_int_equal(r.count[MASON_WATCH_ERROR], 2);
    assert_true(mason_watch_parser_gone(p));
    assert_string_equal(mason_buf_str(&r.names), "ERROR:InternalError,ERROR:Expired,");
    mason_watch_parser_reset(p);
    assert_false(mason_watch_parser_gone(p));
    mason_watch_parser_free(p);
    mason_buf_release(&r.names);
}

static void watch_skips_oversized_line(void **state)
{
    struct recorder r = {{0}, MASON_BUF_INIT};
    struct mason_watch_parser *p = mason_watch_parser_create(64, record, &r);
    struct mason_buf big = MASON_BUF_INIT;
    const char *small = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"s\"}}}\n";

    (void)state;
    mason_buf_adds(&big, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"");
    for (int i = 0; i < 200; i++)
        mason_buf_adds(&big, "x");
    mason_buf_adds(&big, "\"}}}\n");
    /* The long line arrives in pieces, so the parser must discard across calls. */
    for (size_t off = 0; off < big.len; off += 10)
        mason_watch_parser_feed(p, big.data + off, big.len - off < 10 ? big.len - off : 10);
    mason_watch_parser_feed(p, small, strlen(small));
    assert_int_equal(mason_watch_parser_skipped(p), 1);
    assert_string_equal(mason_buf_str(&r.names), "ADDED:s,");
    mason_watch_parser_free(p);
    mason_buf_release(&r.names);
    mason_buf_release(&big);
}

static void watch_skips_malformed_lines(void **state)
{
    static const char *const bad[] = {
        "not json\n",
        "[1,2]\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"ADDED\",\"object\":\"str\"}\n",
        "{\"type\":\"RENAMED\",\"object\":{}}\n",
        "{\"type\":7,\"object\":{}}\n",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}\n",
    };
    struct recorder r = {{0}, MASON_BUF_INIT};
    struct mason_watch_parser *p = mason_watch_parser_create(0, record, &r);
    const char *good = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\n";

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mason_watch_parser_feed(p, bad[i], strlen(bad[i])), 0);
    mason_watch_parser_feed(p, good, strlen(good));
    assert_int_equal(mason_watch_parser_skipped(p), sizeof(bad) / sizeof(bad[0]));
    assert_string_equal(mason_buf_str(&r.names), "ADDED:ok,");
    mason_watch_parser_free(p);
    mason_buf_release(&r.names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(watch_parses_whole_stream),
        cmocka_unit_test(watch_splits_at_every_offset),
        cmocka_unit_test(watch_feeds_byte_by_byte),
        cmocka_unit_test(watch_keeps_partial_line),
        cmocka_unit_test(watch_reports_gone_in_stream),
        cmocka_unit_test(watch_skips_oversized_line),
        cmocka_unit_test(watch_skips_malformed_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
