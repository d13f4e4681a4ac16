/*
 * A growable byte buffer with a size cap. All formatting in the project goes
 * through it, so no caller sizes a char array by hand and no outside party can
 * make a buffer grow without bound. The contents are always NUL-terminated.
 */
#ifndef MASON_BUF_H
#define MASON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct mason_buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t alloc;
    size_t cap; /* maximum len; 0 means MASON_BUF_DEFAULT_CAP */
};

#define MASON_BUF_DEFAULT_CAP (64u * 1024u * 1024u)
#define MASON_BUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Initialises an empty buffer that may grow to cap bytes (0 for the default). */
void mason_buf_init(struct mason_buf *b, size_t cap);

/* Frees the contents; the buffer is empty and reusable afterwards. */
void mason_buf_release(struct mason_buf *b);

/* Empties the buffer, keeping its allocation. */
void mason_buf_reset(struct mason_buf *b);

/* Appends len bytes. Returns 0, MASON_ENOMEM or MASON_ETOOBIG past the cap. */
int mason_buf_add(struct mason_buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string. Errors as mason_buf_add. */
int mason_buf_adds(struct mason_buf *b, const char *s);

/* Appends formatted text. Errors as mason_buf_add. */
int mason_buf_addf(struct mason_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mason_buf_vaddf(struct mason_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Removes the first n bytes, moving the rest to the front. */
void mason_buf_consume(struct mason_buf *b, size_t n);

/* Returns the contents ("" when empty); borrowed, valid until the next change. */
const char *mason_buf_str(const struct mason_buf *b);

/* Hands the contents to the caller (free() it) and empties the buffer. Never NULL
 * unless memory ran out. */
char *mason_buf_detach(struct mason_buf *b);

#endif
