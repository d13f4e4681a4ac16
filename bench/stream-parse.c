/*
 * Measures how fast agent output streams turn into normalised events. It
 * times the line splitter with the engine adapter, the same with the API
 * server's timestamp prefix and de-duplication, and two bare parses of the
 * same lines: jansson's, for comparison, and the JSON reader the adapters
 * use (operator/jscan.c), which is their practical limit. Input: the .jsonl files named on the
 * command line (claude-* and codex-* by name), repeated to about 32 MiB per engine, or generated
 * streams when none is given.
 *
 * usage: stream-parse [FILE.jsonl...]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "buf.h"
#include "jscan.h"
#include "stream.h"

#define TARGET_BYTES (32u * 1024u * 1024u)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_event(void *arg, const struct mason_event *ev)
{
    (void)ev;
    ++*(unsigned long long *)arg;
}

static void count_stream_event(void *arg, const struct mason_event *ev,
                               const struct mason_stream_position *pos)
{
    (void)ev;
    (void)pos;
    ++*(unsigned long long *)arg;
}

static int feed_adapter(void *arg, const char *line, size_t len)
{
    return mason_adapter_feed(arg, line, len);
}

static int parse_only(void *arg, const char *line, size_t len)
{
    json_t *obj = json_loadb(line, len, 0, NULL);

    *(unsigned long long *)arg += obj != NULL;
    json_decref(obj);
    return 0;
}

struct jscan_count {
    struct mason_jscan js;
    unsigned long long parsed;
};

static int jscan_only(void *arg, const char *line, size_t len)
{
    struct jscan_count *c = arg;

    c->parsed += mason_jscan_parse(&c->js, line, len) == 0;
    return 0;
}

static void read_into(const char *path, struct mason_buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;

    if (!f) {
        fprintf(stderr, "stream-parse: cannot read %s\n", path);
        exit(2);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        mason_buf_add(out, chunk, n);
    fclose(f);
    if (out->len && out->data[out->len - 1] != '\n')
        mason_buf_adds(out, "\n");
}

/* A generated Claude step: a tool call, its failing result, and text. */
static void generate_claude(struct mason_buf *out, unsigned i)
{
    mason_buf_addf(out,
                   "{\"type\":\"assistant\",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\","
                   "\"id\":\"msg_%u\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{"
                   "\"type\":\"tool_use\",\"id\":\"toolu_%u\",\"name\":\"Bash\",\"input\":{"
                   "\"command\":\"npm test -- --grep case%u\",\"description\":\"Run tests\"}}],"
                   "\"stop_reason\":null,\"usage\":{\"input_tokens\":4,\"cache_read_input_tokens\":"
                   "%u,\"cache_creation_input_tokens\":300,\"output_tokens\":60}},"
                   "\"parent_tool_use_id\":null,\"session_id\":\"s\",\"uuid\":\"u%u\"}\n",
                   i, i, i % 7, 20000 + i, i);
    mason_buf_addf(out,
                   "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{"
                   "\"tool_use_id\":\"toolu_%u\",\"type\":\"tool_result\",\"content\":\"Exit code "
                   "1\\n1 failing\\n  AssertionError: expected 2 to equal 3\",\"is_error\":true}]},"
                   "\"parent_tool_use_id\":null,\"session_id\":\"s\",\"uuid\":\"v%u\"}\n",
                   i, i);
}

static void generate_codex(struct mason_buf *out, unsigned i)
{
    mason_buf_addf(out,
                   "{\"type\":\"item.started\",\"item\":{\"id\":\"item_%u\",\"type\":"
                   "\"command_execution\",\"command\":\"bash -lc 'cargo test'\","
                   "\"aggregated_output\":\"\",\"exit_code\":null,\"status\":\"in_progress\"}}\n"
                   "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_%u\",\"type\":"
                   "\"command_execution\",\"command\":\"bash -lc 'cargo test'\","
                   "\"aggregated_output\":\"test result: FAILED. 3 passed; 1 failed\\n\","
                   "\"exit_code\":101,\"status\":\"failed\"}}\n"
                   "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_%ur\",\"type\":"
                   "\"reasoning\",\"text\":\"**Checking the failing test**\"}}\n",
                   i, i, i);
}

/* Repeats input until it reaches TARGET_BYTES; with stamp, prefixes each line with a
 * timestamp as the API server does. */
static void build(const struct mason_buf *input, bool stamp, struct mason_buf *out)
{
    unsigned long long line_no = 0;

    /* Room for the input once more past the target, and for the timestamps. */
    mason_buf_init(out, 2 * (TARGET_BYTES + input->len));
    while (out->len < TARGET_BYTES) {
        const char *p = input->data, *end = input->data + input->len;

        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));

            if (stamp && mason_buf_addf(out, "2025-11-04T10:%02llu:%02llu.%09lluZ ",
                                        line_no / 60000000ULL % 60, line_no / 1000000ULL % 60,
                                        line_no % 1000000ULL * 1000ULL) != 0)
                return;
            if (mason_buf_add(out, p, (size_t)(nl - p) + 1) != 0)
                return;
            p = nl + 1;
            line_no++;
        }
    }
}

static void report(const char *engine, const char *what, double seconds, size_t bytes,
                   unsigned long long lines, unsigned long long events)
{
    printf("%-6s %-28s %8.3f s %9.1f MiB/s %12.0f lines/s %12.0f events/s\n", engine, what, seconds,
           (double)bytes / seconds / 1048576.0, (double)lines / seconds, (double)events / seconds);
}

static void bench_engine(const char *name, enum mason_engine_id engine,
                         const struct mason_buf *input)
{
    struct mason_buf plain, stamped;
    unsigned long long parsed = 0, events = 0, stream_events = 0;
    struct mason_adapter *a = mason_adapter_create(engine, count_event, &events);
    struct mason_stream *s =
        mason_stream_create(engine, true, 0, count_stream_event, &stream_events);
    struct mason_adapter_stats st;
    struct mason_stream_stats sst;
    struct mason_lines l;
    struct jscan_count jc = {.parsed = 0};
    double t0;

    build(input, false, &plain);
    build(input, true, &stamped);

    mason_lines_init(&l, 0, parse_only, &parsed);
    t0 = now_s();
    mason_lines_feed(&l, plain.data, plain.len);
    report(name, "jansson parse only", now_s() - t0, plain.len, parsed, parsed);
    mason_lines_release(&l);

    mason_jscan_init(&jc.js);
    mason_lines_init(&l, 0, jscan_only, &jc);
    t0 = now_s();
    mason_lines_feed(&l, plain.data, plain.len);
    report(name, "jscan parse only", now_s() - t0, plain.len, jc.parsed, jc.parsed);
    mason_lines_release(&l);
    mason_jscan_release(&jc.js);

    mason_lines_init(&l, 0, feed_adapter, a);
    t0 = now_s();
    mason_lines_feed(&l, plain.data, plain.len);
    mason_adapter_stats(a, &st);
    report(name, "lines + adapter", now_s() - t0, plain.len, st.lines, events);
    mason_lines_release(&l);

    mason_stream_connected(s);
    t0 = now_s();
    mason_stream_feed(s, stamped.data, stamped.len);
    mason_stream_stats(s, &sst);
    report(name, "timestamps, dedup, adapter", now_s() - t0, stamped.len, sst.lines, stream_events);

    mason_adapter_free(a);
    mason_stream_free(s);
    mason_buf_release(&plain);
    mason_buf_release(&stamped);
}

int main(int argc, char **argv)
{
    struct mason_buf claude = MASON_BUF_INIT, codex = MASON_BUF_INIT;

    for (int i = 1; i < argc; i++) {
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];

        if (strncmp(base, "claude-", 7) == 0)
            read_into(argv[i], &claude);
        else if (strncmp(base, "codex-", 6) == 0)
            read_into(argv[i], &codex);
    }
    if (claude.len == 0)
        for (unsigned i = 0; i < 1000; i++)
            generate_claude(&claude, i);
    if (codex.len == 0)
        for (unsigned i = 0; i < 1000; i++)
            generate_codex(&codex, i);
    printf("input: %s, about %u MiB per engine, one thread\n",
           argc > 1 ? "the files given" : "generated streams", TARGET_BYTES / 1048576u);
    bench_engine("claude", MASON_ENGINE_CLAUDE_CODE, &claude);
    bench_engine("codex", MASON_ENGINE_CODEX, &codex);
    mason_buf_release(&claude);
    mason_buf_release(&codex);
    return 0;
}
