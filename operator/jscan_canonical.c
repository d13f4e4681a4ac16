/*
 * Canonical output of a value on the tape, byte for byte what jansson 2.14's
 * json_dumps writes with JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY, so
 * argument hashes stay what they were when jansson serialised them.
 * tests/unit/test_jscan.c compares the two on many documents.
 */
#include "jscan.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

/*
 * The output cursor. The canonical form of a value is never longer than its
 * text: escapes only shrink or keep their length, and whitespace goes. So the
 * caller reserves the length of the text once and no write grows a buffer.
 */
struct writer {
    char *at;
    char *end;
};

static int put(struct writer *w, const void *data, size_t len)
{
    if ((size_t)(w->end - w->at) < len)
        return MASON_EINVAL; /* not reached while the bound above holds; jansson takes over */
    memcpy(w->at, data, len);
    w->at += len;
    return 0;
}

static int put_char(struct writer *w, char c)
{
    if (w->at == w->end)
        return MASON_EINVAL;
    *w->at++ = c;
    return 0;
}

struct member {
    const char *key; /* decoded, not NUL-terminated when it points into the text */
    size_t len;
    int value;
};

/* Returns the letter of the short escape of c (b, f, n, r, t), or 0 when it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/* Escapes as jansson does: '"', '\\', the short forms of \b \f \n \r \t, "\u00XX" else. */
static int write_escaped(struct writer *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    int rc = 0;

    for (size_t k = 0; k < len && rc == 0; k++) {
        unsigned char c = (unsigned char)s[k];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t esc_len = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = put(out, s + run, k - run);
        run = k + 1;
        if (c == '"' || c == '\\')
            esc[1] = (char)c;
        else if (short_escape(c))
            esc[1] = short_escape(c);
        else
            esc_len = 6;
        if (rc == 0)
            rc = put(out, esc, esc_len);
    }
    if (rc == 0)
        rc = put(out, s + run, len - run);
    return rc;
}

/*
 * Rewrites the raw body of a string with escapes in jansson's escaping. The
 * escapes \" \\ \b \f \n \r \t are already in that form, so only "\/" and
 * "\uXXXX" end a run of bytes copied as they are.
 */
static int write_unescaped(struct writer *out, const char *p, const char *end)
{
    const char *run = p;
    int rc = 0;

    while (rc == 0) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        char decoded[4];
        size_t n;

        if (!bs)
            break;
        if (bs[1] != 'u' && bs[1] != '/') {
            p = bs + 2;
            continue;
        }
        rc = put(out, run, (size_t)(bs - run));
        p = bs;
        n = mason_jscan_decode_escape(&p, decoded);
        if (rc == 0)
            rc = n == 1 ? write_escaped(out, decoded, 1) : put(out, decoded, n);
        run = p;
    }
    return rc ? rc : put(out, run, (size_t)(end - run));
}

static int write_string(struct mason_jscan *js, int i, struct writer *out)
{
    const struct mason_jscan_token *t = &js->tokens[i];
    const char *raw = js->text + t->start;
    int rc;

    rc = put_char(out, '"');
    if (rc)
        return rc;
    if (t->flags & MASON_JSCAN_ESCAPED)
        rc = write_unescaped(out, raw, raw + t->len);
    else
        /* A body without escapes contains no '"', '\\' or control byte: it is already canonical. */
        rc = put(out, raw, t->len);
    return rc ? rc : put_char(out, '"');
}

static int compare_members(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);

    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Collects obj's members sorted by key; MASON_EINVAL on a duplicate key. */
static int sorted_members(struct mason_jscan *js, int obj, struct member *small, size_t small_size,
                          struct member **out, size_t *count)
{
    struct member *m = small;
    size_t n = 0, alloc = small_size;

    for (int k = mason_jscan_first(js, obj); k >= 0; k = mason_jscan_next(js, obj, k)) {
        if (n == alloc) {
            struct member *grown;

            alloc *= 2;
            grown = realloc(m == small ? NULL : m, alloc * sizeof(*m));
            if (!grown)
                goto nomem;
            if (m == small)
                memcpy(grown, small, n * sizeof(*m));
            m = grown;
        }
        m[n].key = js->text + js->tokens[k].start;
        m[n].len = js->tokens[k].len;
        if (js->tokens[k].flags & MASON_JSCAN_ESCAPED) {
            m[n].key = mason_jscan_string(js, k);
            if (!m[n].key)
                goto nomem;
            m[n].len = strlen(m[n].key);
        }
        m[n].value = k + 1;
        n++;
    }
    if (n > 16) {
        qsort(m, n, sizeof(*m), compare_members);
    } else {
        /* Insertion sort: most objects are small, and qsort's overhead dominates there. */
        for (size_t k = 1; k < n; k++) {
            struct member item = m[k];
            size_t at = k;

            for (; at > 0 && compare_members(&m[at - 1], &item) > 0; at--)
                m[at] = m[at - 1];
            m[at] = item;
        }
    }
    for (size_t k = 1; k < n; k++) {
        if (compare_members(&m[k - 1], &m[k]) == 0) {
            if (m != small)
                free(m);
            return MASON_EINVAL;
        }
    }
    *out = m;
    *count = n;
    return 0;

nomem:
    if (m != small)
        free(m);
    return MASON_ENOMEM;
}

static int write_value(struct mason_jscan *js, int i, struct writer *out);

static int write_object(struct mason_jscan *js, int obj, struct writer *out)
{
    struct member small[16], *m = NULL;
    size_t n = 0;
    int rc = sorted_members(js, obj, small, 16, &m, &n);

    if (rc == 0)
        rc = put_char(out, '{');
    for (size_t k = 0; k < n && rc == 0; k++) {
        if (k > 0)
            rc = put_char(out, ',');
        if (rc == 0)
            rc = write_string(js, m[k].value - 1, out);
        if (rc == 0)
            rc = put_char(out, ':');
        if (rc == 0)
            rc = write_value(js, m[k].value, out);
    }
    if (m != small)
        free(m);
    return rc ? rc : put_char(out, '}');
}

static int write_array(struct mason_jscan *js, int arr, struct writer *out)
{
    int rc = put_char(out, '[');

    for (int e = mason_jscan_first(js, arr); e >= 0 && rc == 0; e = mason_jscan_next(js, arr, e)) {
        if (e != arr + 1)
            rc = put_char(out, ',');
        if (rc == 0)
            rc = write_value(js, e, out);
    }
    return rc ? rc : put_char(out, ']');
}

static int write_value(struct mason_jscan *js, int i, struct writer *out)
{
    const struct mason_jscan_token *t = &js->tokens[i];
    const char *raw = js->text + t->start;

    switch ((enum mason_jscan_type)t->type) {
    case MASON_JSCAN_OBJECT:
        return write_object(js, i, out);
    case MASON_JSCAN_ARRAY:
        return write_array(js, i, out);
    case MASON_JSCAN_STRING:
        return write_string(js, i, out);
    case MASON_JSCAN_NUMBER:
        if (t->flags & MASON_JSCAN_REAL)
            return MASON_EINVAL; /* jansson prints reals with "%.17g" and its own fix-ups */
        /* The grammar leaves an integer canonical except "-0", which jansson reads as 0. */
        if (t->len == 2 && raw[0] == '-' && raw[1] == '0')
            return put_char(out, '0');
        return put(out, raw, t->len);
    case MASON_JSCAN_TRUE:
    case MASON_JSCAN_FALSE:
    case MASON_JSCAN_NULL:
        return put(out, raw, t->len);
    case MASON_JSCAN_NONE:
        break;
    }
    return MASON_EINVAL;
}

int mason_jscan_write_canonical(struct mason_jscan *js, int i, struct mason_buf *buf)
{
    size_t start = buf->len, len;
    const char *text = mason_jscan_span(js, i, &len);
    struct writer w;
    int rc;

    if (!text)
        return MASON_EINVAL;
    /* Reserves room by appending the text itself, then writes over it. */
    rc = mason_buf_add(buf, text, len);
    if (rc)
        return rc;
    w.at = buf->data + start;
    w.end = w.at + len;
    rc = write_value(js, i, &w);
    buf->len = rc ? start : (size_t)(w.at - buf->data);
    buf->data[buf->len] = '\0';
    return rc;
}
