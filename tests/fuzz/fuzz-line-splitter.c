/*
 * Fuzzes the pod-log path: the line splitter with a small cap, the timestamp
 * prefix, CRI joins and de-duplication. The first input byte chooses where
 * the bytes are cut into two reads, and whether a second connection replays
 * them, so partial lines and replays are exercised.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(void *arg, const struct mason_event *ev,
                     const struct mason_stream_position *pos)
{
    size_t *total = arg;

    *total += ev->text ? strlen(ev->text) : 0;
    *total += (size_t)pos->count;
}

static int count_line(void *arg, const char *line, size_t len)
{
    struct mason_log_line ll;
    size_t *total = arg;

    if (mason_log_line_parse(line, len, &ll) == 0)
        *total += ll.len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;
    size_t total = 0, len, cut;
    struct mason_stream *s;
    struct mason_lines l;

    if (size < 1)
        return 0;
    len = size - 1;
    cut = len ? data[0] % (len + 1) : 0;

    mason_lines_init(&l, 256, count_line, &total);
    mason_lines_feed(&l, text, cut);
    mason_lines_feed(&l, text + cut, len - cut);
    mason_lines_flush(&l);
    mason_lines_release(&l);

    s = mason_stream_create(data[0] & 1 ? MASON_ENGINE_CODEX : MASON_ENGINE_CLAUDE_CODE, true, 512,
                            on_event, &total);
    if (!s)
        return 0;
    mason_stream_connected(s);
    mason_stream_feed(s, text, cut);
    mason_stream_disconnected(s, false);
    mason_stream_connected(s);
    mason_stream_feed(s, text, len);
    mason_stream_disconnected(s, true);
    mason_stream_free(s);
    return 0;
}
