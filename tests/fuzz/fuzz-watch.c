/*
 * Fuzzes the watch-stream parser. The first input byte chooses the chunk size
 * the rest is fed in, so lines are cut at every kind of boundary, and the
 * line cap is small so oversized lines are exercised too.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(void *arg, enum mason_watch_type type, json_t *object)
{
    size_t *events = arg;

    assert(json_is_object(object));
    assert(type <= MASON_WATCH_ERROR);
    (*events)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t events = 0, chunk;
    struct mason_watch_parser *p;

    if (size == 0)
        return 0;
    chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    p = mason_watch_parser_create(512, on_event, &events);
    if (!p)
        return 0;
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;

        if (mason_watch_parser_feed(p, (const char *)data, n) != 0)
            break;
        data += n;
        size -= n;
    }
    (void)mason_watch_parser_skipped(p);
    (void)mason_watch_parser_gone(p);
    mason_watch_parser_reset(p);
    mason_watch_parser_free(p);
    return 0;
}
