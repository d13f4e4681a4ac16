/* Fuzzes the Claude Code stream-json adapter: each input is a stream of lines. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_event(void *arg, const struct mason_event *ev)
{
    size_t *total = arg;

    /* Touch the borrowed strings so a sanitizer reports a dangling one. */
    *total += ev->text ? strlen(ev->text) : 0;
    *total += ev->tool_name ? strlen(ev->tool_name) : 0;
    for (unsigned i = 0; i < ev->files_count; i++)
        *total += strlen(ev->files[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    struct mason_adapter *a = mason_adapter_create(MASON_ENGINE_CLAUDE_CODE, on_event, &total);
    const char *p = (const char *)data, *end = p + size;

    if (!a)
        return 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

        mason_adapter_feed(a, p, len);
        p += len + 1;
    }
    mason_adapter_free(a);
    return 0;
}
