/* The line splitter with a length cap. */
#include "stream.h"

#include <string.h>

#include "error.h"
#include "banned.h"

void mason_lines_init(struct mason_lines *l, size_t max_line, mason_line_fn fn, void *arg)
{
    memset(l, 0, sizeof(*l));
    l->max_line = max_line ? max_line : MASON_STREAM_MAX_LINE;
    /* One byte more than a line, so a line of exactly max_line bytes fits. */
    mason_buf_init(&l->partial, l->max_line + 1);
    l->fn = fn;
    l->arg = arg;
}

void mason_lines_release(struct mason_lines *l)
{
    mason_buf_release(&l->partial);
}

void mason_lines_discard(struct mason_lines *l)
{
    mason_buf_reset(&l->partial);
    l->skipping = false;
}

/* Adds the bytes of an unfinished line, switching to skipping when they pass the cap. */
static int lines_keep(struct mason_lines *l, const char *data, size_t len)
{
    if (l->skipping)
        return 0;
    if (l->partial.len + len > l->max_line) {
        mason_buf_reset(&l->partial);
        l->skipping = true;
        l->too_long++;
        return 0;
    }
    return mason_buf_add(&l->partial, data, len);
}

/* Ends the current line at a '\n': delivers it unless it was skipped. */
static int lines_end(struct mason_lines *l, const char *data, size_t len)
{
    int rc;

    if (l->skipping) {
        l->skipping = false;
        return 0;
    }
    if (l->partial.len == 0) {
        if (len > l->max_line) {
            l->too_long++;
            return 0;
        }
        return l->fn(l->arg, data, len); /* the common case: no copy */
    }
    rc = lines_keep(l, data, len);
    if (rc || l->skipping) {
        l->skipping = false;
        return rc;
    }
    rc = l->fn(l->arg, l->partial.data, l->partial.len);
    mason_buf_reset(&l->partial);
    return rc;
}

int mason_lines_feed(struct mason_lines *l, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n;
        int rc;

        if (!nl)
            return lines_keep(l, data, len);
        n = (size_t)(nl - data);
        rc = lines_end(l, data, n);
        if (rc)
            return rc;
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

int mason_lines_flush(struct mason_lines *l)
{
    int rc = 0;

    if (!l->skipping && l->partial.len > 0)
        rc = l->fn(l->arg, l->partial.data, l->partial.len);
    mason_lines_discard(l);
    return rc;
}
