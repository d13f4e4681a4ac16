/* Lookups on the tape of a parsed document, string decoding and canonical output. */
#include "jscan.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

enum mason_jscan_type mason_jscan_type(const struct mason_jscan *js, int i)
{
    if (i < 0 || (uint32_t)i >= js->count)
        return MASON_JSCAN_NONE;
    return (enum mason_jscan_type)js->tokens[i].type;
}

int mason_jscan_first(const struct mason_jscan *js, int i)
{
    enum mason_jscan_type type = mason_jscan_type(js, i);

    if (type != MASON_JSCAN_OBJECT && type != MASON_JSCAN_ARRAY)
        return -1;
    return js->tokens[i].next > (uint32_t)i + 1 ? i + 1 : -1;
}

int mason_jscan_next(const struct mason_jscan *js, int parent, int child)
{
    uint32_t after = js->tokens[child].next;

    return after < js->tokens[parent].next ? (int)after : -1;
}

/* Reserves n bytes in the arena, or in a block of their own when it is full. */
static char *arena_alloc(struct mason_jscan *js, size_t n)
{
    char *block;

    js->arena_requested += n;
    if (js->arena_size - js->arena_used >= n) {
        block = js->arena + js->arena_used;
        js->arena_used += n;
        return block;
    }
    if (js->spill_count == js->spill_alloc) {
        unsigned alloc = js->spill_alloc ? js->spill_alloc * 2 : 8;
        char **spill = realloc(js->spill, alloc * sizeof(*spill));

        if (!spill)
            goto nomem;
        js->spill = spill;
        js->spill_alloc = alloc;
    }
    block = malloc(n);
    if (!block)
        goto nomem;
    js->spill[js->spill_count++] = block;
    return block;

nomem:
    js->nomem = true;
    return NULL;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t mason_jscan_decode_escape(const char **p, char *out)
{
    const char *s = *p;
    unsigned cp;

    *p = s + 2;
    switch (s[1]) {
    case 'b':
        *out = '\b';
        return 1;
    case 'f':
        *out = '\f';
        return 1;
    case 'n':
        *out = '\n';
        return 1;
    case 'r':
        *out = '\r';
        return 1;
    case 't':
        *out = '\t';
        return 1;
    case 'u':
        break;
    default:
        *out = s[1];
        return 1;
    }
    cp = hex4(s + 2);
    *p = s + 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(s + 8) - 0xdc00);
        *p = s + 12;
    }
    return put_utf8(out, cp);
}

/*
 * Decodes raw[0..len) into out, stopping once max bytes are written, and
 * returns the length. An escape may end up to 3 bytes past max; *more is set
 * when input is left.
 */
static size_t decode(const char *raw, size_t len, char *out, size_t max, bool *more)
{
    const char *p = raw, *end = raw + len;
    size_t n = 0;

    while (p < end && n < max) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t plain = (size_t)((bs ? bs : end) - p);

        if (plain > max - n)
            plain = max - n;
        memcpy(out + n, p, plain);
        n += plain;
        p += plain;
        if (p == bs && n < max)
            n += mason_jscan_decode_escape(&p, out + n);
    }
    *more = p < end;
    return n;
}

/* Returns n, or less so that out[0..n) ends on a whole UTF-8 character. */
static size_t trim_utf8(const char *out, size_t n)
{
    size_t lead = n, need;
    unsigned char c;

    while (lead > 0 && n - lead < 4 && ((unsigned char)out[lead - 1] & 0xc0) == 0x80)
        lead--;
    if (lead == 0)
        return 0;
    c = (unsigned char)out[--lead];
    if (c < 0x80)
        need = 1;
    else if (c < 0xe0)
        need = 2;
    else if (c < 0xf0)
        need = 3;
    else
        need = 4;
    return lead + need > n ? lead : n;
}

const char *mason_jscan_string_prefix(struct mason_jscan *js, int i, size_t max)
{
    const struct mason_jscan_token *t;
    bool more = false;
    size_t room, n;
    char *out;

    if (mason_jscan_type(js, i) != MASON_JSCAN_STRING)
        return NULL;
    t = &js->tokens[i];
    /* A decoded string is never longer than its raw body. */
    room = t->len <= max ? t->len : max + 3;
    out = arena_alloc(js, room + 1);
    if (!out)
        return NULL;
    if (t->flags & MASON_JSCAN_ESCAPED) {
        n = decode(js->text + t->start, t->len, out, max, &more);
    } else {
        more = t->len > max;
        n = more ? max : t->len;
        memcpy(out, js->text + t->start, n);
    }
    if (more || n > max)
        n = trim_utf8(out, n > max ? max : n);
    out[n] = '\0';
    return out;
}

const char *mason_jscan_string(struct mason_jscan *js, int i)
{
    return mason_jscan_string_prefix(js, i, SIZE_MAX - 4);
}

/* Returns whether the n bytes at a and b are equal; keys are short, so a loop beats a call. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (a[k] != b[k])
            return false;
    return true;
}

bool mason_jscan_equals_n(struct mason_jscan *js, int i, const char *s, size_t len)
{
    const struct mason_jscan_token *t;
    const char *decoded;

    if (mason_jscan_type(js, i) != MASON_JSCAN_STRING)
        return false;
    t = &js->tokens[i];
    if (!(t->flags & MASON_JSCAN_ESCAPED))
        return t->len == len && same_bytes(js->text + t->start, s, len);
    decoded = mason_jscan_string(js, i);
    return decoded && strlen(decoded) == len && memcmp(decoded, s, len) == 0;
}

int mason_jscan_get_n(struct mason_jscan *js, int obj, const char *key, size_t key_len)
{
    const struct mason_jscan_token *tokens = js->tokens;
    int found = -1;

    if (mason_jscan_type(js, obj) != MASON_JSCAN_OBJECT)
        return -1;
    /* Every member is checked, because with duplicate keys the last one wins. */
    for (uint32_t k = (uint32_t)obj + 1; k < tokens[obj].next; k = tokens[k].next) {
        const struct mason_jscan_token *t = &tokens[k];

        if (t->flags & MASON_JSCAN_ESCAPED) {
            if (mason_jscan_equals_n(js, (int)k, key, key_len))
                found = (int)k + 1;
        } else if (t->len == key_len && same_bytes(js->text + t->start, key, key_len)) {
            found = (int)k + 1;
        }
    }
    return found;
}

const char *mason_jscan_span(const struct mason_jscan *js, int i, size_t *len)
{
    const struct mason_jscan_token *t;

    if (mason_jscan_type(js, i) == MASON_JSCAN_NONE) {
        *len = 0;
        return NULL;
    }
    t = &js->tokens[i];
    if (t->type == MASON_JSCAN_STRING) {
        *len = t->len + 2u;
        return js->text + t->start - 1;
    }
    *len = t->len;
    return js->text + t->start;
}

bool mason_jscan_int(const struct mason_jscan *js, int i, int64_t *out)
{
    const struct mason_jscan_token *t;
    const char *p;
    bool negative;
    uint64_t v = 0;

    if (mason_jscan_type(js, i) != MASON_JSCAN_NUMBER || (js->tokens[i].flags & MASON_JSCAN_REAL))
        return false;
    t = &js->tokens[i];
    p = js->text + t->start;
    negative = *p == '-';
    /* The parse rejected integers outside int64_t, so this cannot overflow. */
    for (uint32_t k = negative; k < t->len; k++)
        v = v * 10 + (uint64_t)(p[k] - '0');
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool mason_jscan_double(const struct mason_jscan *js, int i, double *out)
{
    char small[64], *copy = small;
    size_t len;
    const char *s;
    int64_t n;

    if (mason_jscan_int(js, i, &n)) {
        *out = (double)n;
        return true;
    }
    if (mason_jscan_type(js, i) != MASON_JSCAN_NUMBER)
        return false;
    s = js->text + js->tokens[i].start;
    len = js->tokens[i].len;
    if (len >= sizeof(small) && !(copy = malloc(len + 1)))
        return false;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *out = strtod(copy, NULL);
    if (copy != small)
        free(copy);
    return true;
}
