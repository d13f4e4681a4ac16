#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

void mason_buf_init(struct mason_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void mason_buf_release(struct mason_buf *b)
{
    free(b->data);
    mason_buf_init(b, b->cap);
}

void mason_buf_reset(struct mason_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static size_t buf_cap(const struct mason_buf *b)
{
    return b->cap ? b->cap : MASON_BUF_DEFAULT_CAP;
}

static int buf_grow(struct mason_buf *b, size_t extra)
{
    size_t need, alloc;
    char *data;

    if (extra > buf_cap(b) - b->len)
        return MASON_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;
    alloc = b->alloc ? b->alloc : 64;
    while (alloc < need)
        alloc *= 2;
    data = realloc(b->data, alloc);
    if (!data)
        return MASON_ENOMEM;
    b->data = data;
    b->alloc = alloc;
    return 0;
}

int mason_buf_add(struct mason_buf *b, const void *data, size_t len)
{
    int err = buf_grow(b, len);

    if (err)
        return err;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int mason_buf_adds(struct mason_buf *b, const char *s)
{
    return mason_buf_add(b, s, strlen(s));
}

int mason_buf_vaddf(struct mason_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    int n, err;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return MASON_EINVAL;
    err = buf_grow(b, (size_t)n);
    if (err)
        return err;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int mason_buf_addf(struct mason_buf *b, const char *fmt, ...)
{
    va_list ap;
    int err;

    va_start(ap, fmt);
    err = mason_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return err;
}

void mason_buf_consume(struct mason_buf *b, size_t n)
{
    if (n >= b->len) {
        mason_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

const char *mason_buf_str(const struct mason_buf *b)
{
    return b->data ? b->data : "";
}

char *mason_buf_detach(struct mason_buf *b)
{
    char *data = b->data;

    if (!data)
        data = calloc(1, 1);
    mason_buf_init(b, b->cap);
    return data;
}
