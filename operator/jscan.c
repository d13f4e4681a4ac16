/*
 * The validating pass of the JSON reader: builds the tape. Lookups, string
 * decoding and canonical output are in jscan_read.c.
 */
#include "jscan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "error.h"
#include "banned.h"

void mason_jscan_init(struct mason_jscan *js)
{
    memset(js, 0, offsetof(struct mason_jscan, stack));
}

static void arena_reset(struct mason_jscan *js)
{
    for (unsigned i = 0; i < js->spill_count; i++)
        free(js->spill[i]);
    js->spill_count = 0;
    js->arena_used = 0;
    js->nomem = false;
}

void mason_jscan_release(struct mason_jscan *js)
{
    arena_reset(js);
    free(js->spill);
    free(js->arena);
    free(js->tokens);
    mason_jscan_init(js);
}

/* Sizes of the arena kept between lines; a line that needs more spills into blocks. */
#define ARENA_MIN (16u * 1024u)
#define ARENA_MAX_KEEP (1024u * 1024u)

/* Empties the arena, and grows it first when the last line had to spill. */
static int arena_prepare(struct mason_jscan *js)
{
    size_t want = js->arena_requested;

    arena_reset(js);
    js->arena_requested = 0;
    if (want < ARENA_MIN)
        want = ARENA_MIN;
    if (want > ARENA_MAX_KEEP)
        want = ARENA_MAX_KEEP;
    if (want <= js->arena_size)
        return 0;
    free(js->arena);
    js->arena = malloc(want);
    js->arena_size = js->arena ? want : 0;
    return js->arena ? 0 : MASON_ENOMEM;
}

static int grow_tape(struct mason_jscan *js)
{
    uint32_t alloc = js->alloc ? js->alloc * 2 : 256;
    struct mason_jscan_token *tokens = realloc(js->tokens, alloc * sizeof(*tokens));

    if (!tokens)
        return MASON_ENOMEM;
    js->tokens = tokens;
    js->alloc = alloc;
    return 0;
}

static inline int push(struct mason_jscan *js, enum mason_jscan_type type, const char *at)
{
    struct mason_jscan_token *t;

    if (js->count == js->alloc && grow_tape(js) != 0)
        return MASON_ENOMEM;
    t = &js->tokens[js->count];
    t->start = (uint32_t)(at - js->text);
    t->len = 0;
    t->next = js->count + 1;
    t->type = (uint8_t)type;
    t->flags = 0;
    js->count++;
    return 0;
}

static inline const char *skip_space(const char *p, const char *end)
{
    /* The first test ends the loop for every byte above ' ', the common case. */
    while (p < end && (unsigned char)*p <= ' ' &&
           (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/*
 * Checks the UTF-8 sequence at p (its first byte is >= 0x80) and returns the
 * byte after it, or NULL when it is invalid: overlong, a surrogate, past
 * U+10FFFF, or cut short.
 */
static const char *skip_utf8(const char *p, const char *end)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t avail = (size_t)(end - p);
    unsigned n, min;
    uint32_t cp;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2, min = 0x80, cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3, min = 0x800, cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4, min = 0x10000, cp = s[0] & 0x07u;
    } else {
        return NULL;
    }
    if (avail < n)
        return NULL;
    for (unsigned i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return NULL;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return NULL;
    return p + n;
}

static int hex4(const char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/*
 * Checks the escape at p (p[0] is the backslash) and returns the byte after
 * it, or NULL. Like jansson, rejects "\u0000" and unpaired surrogates.
 */
static const char *skip_escape(const char *p, const char *end)
{
    int hi, lo;

    if (end - p < 2)
        return NULL;
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 2;
    default:
        break;
    }
    if (p[1] != 'u' || end - p < 6 || (hi = hex4(p + 2)) < 0 || hi == 0)
        return NULL;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return NULL;
    if (hi < 0xd800 || hi > 0xdbff)
        return p + 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return NULL;
    lo = hex4(p + 8);
    if (lo < 0xdc00 || lo > 0xdfff)
        return NULL;
    return p + 12;
}

#ifdef __SSE2__
/* Returns a bit per byte of the 16 at p that is '"', '\\', a control byte or >= 0x80. */
static inline unsigned special_mask(const char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* A signed compare flags control bytes and every byte >= 0x80 at once. */
    const __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
        _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));

    return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/* Returns the first byte at or after p that ends a plain run of string bytes, or end. */
static const char *skip_plain(const char *p, const char *end)
{
#ifdef __SSE2__
    while (end - p >= 32) {
        unsigned mask = special_mask(p) | special_mask(p + 16) << 16;

        if (mask)
            return p + __builtin_ctz(mask);
        p += 32;
    }
    if (end - p >= 16) {
        unsigned mask = special_mask(p);

        if (mask)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#else
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;

    while (end - p >= 8) {
        uint64_t x, q, b;

        memcpy(&x, p, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        /* Sets a byte's high bit where it is '"', '\\', below 0x20 or >= 0x80. */
        if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x) & highs)
            break;
        p += 8;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
           (unsigned char)*p < 0x80)
        p++;
    return p;
}

/* Scans a string body; p is the byte after the opening quote. Returns the byte after the
 * closing quote, or NULL. */
static inline const char *scan_string(struct mason_jscan *js, const char *p, const char *end)
{
    struct mason_jscan_token *t = &js->tokens[js->count - 1];
    const char *body = p;

    for (;;) {
        p = skip_plain(p, end);
        if (p == end)
            return NULL;
        if (*p == '"')
            break;
        if (*p == '\\') {
            t->flags |= MASON_JSCAN_ESCAPED;
            p = skip_escape(p, end);
        } else if ((unsigned char)*p < 0x20) {
            return NULL;
        } else {
            p = skip_utf8(p, end);
        }
        if (!p)
            return NULL;
    }
    t->len = (uint32_t)(p - body);
    return p + 1;
}

static bool is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Returns whether the digits of an integer overflow int64_t, as strtoll reports. */
static bool int_overflows(const char *s, size_t len)
{
    bool negative = *s == '-';
    const char *digits = s + negative;
    size_t n = len - negative;

    if (n < 19)
        return false;
    if (n > 19)
        return true;
    return memcmp(digits, negative ? "9223372036854775808" : "9223372036854775807", 19) > 0;
}

/* Returns whether a real overflows a double. Short numbers without an exponent never do. */
static bool real_overflows(const char *s, size_t len, bool exponent)
{
    char small[64], *copy = small;
    bool overflow;
    double v;

    if (!exponent && len < 300)
        return false;
    if (len >= sizeof(small) && !(copy = malloc(len + 1)))
        return true;
    memcpy(copy, s, len);
    copy[len] = '\0';
    errno = 0;
    v = strtod(copy, NULL);
    overflow = errno == ERANGE && isinf(v);
    if (copy != small)
        free(copy);
    return overflow;
}

static const char *scan_number(struct mason_jscan *js, const char *p, const char *end)
{
    struct mason_jscan_token *t = &js->tokens[js->count - 1];
    const char *start = p;
    bool exponent = false;

    if (*p == '-')
        p++;
    if (!is_digit(p, end))
        return NULL;
    if (*p++ == '0') {
        if (is_digit(p, end))
            return NULL;
    } else {
        while (is_digit(p, end))
            p++;
    }
    if (p < end && *p == '.') {
        t->flags |= MASON_JSCAN_REAL;
        if (!is_digit(++p, end))
            return NULL;
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        t->flags |= MASON_JSCAN_REAL;
        exponent = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return NULL;
        while (is_digit(p, end))
            p++;
    }
    t->len = (uint32_t)(p - start);
    if (t->flags & MASON_JSCAN_REAL ? real_overflows(start, t->len, exponent)
                                    : int_overflows(start, t->len))
        return NULL;
    return p;
}

static const char *scan_literal(struct mason_jscan *js, const char *p, const char *end)
{
    static const char *const words[] = {"true", "false", "null"};
    static const enum mason_jscan_type types[] = {MASON_JSCAN_TRUE, MASON_JSCAN_FALSE,
                                                  MASON_JSCAN_NULL};
    struct mason_jscan_token *t = &js->tokens[js->count - 1];

    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);

        if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0) {
            t->type = (uint8_t)types[i];
            t->len = (uint32_t)n;
            return p + n;
        }
    }
    return NULL;
}

/* Scans a number or a literal at p into a new token. Returns the byte after it, or NULL. */
static const char *scan_other(struct mason_jscan *js, const char *p, const char *end, int *rc)
{
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        *rc = push(js, MASON_JSCAN_NUMBER, p);
        return *rc ? NULL : scan_number(js, p, end);
    }
    if (*p == 't' || *p == 'f' || *p == 'n') {
        *rc = push(js, MASON_JSCAN_NULL, p);
        return *rc ? NULL : scan_literal(js, p, end);
    }
    return NULL;
}

/* Closes the innermost container at p, its closing bracket. */
static void close_container(struct mason_jscan *js, uint32_t depth, const char *p)
{
    struct mason_jscan_token *t = &js->tokens[js->stack[depth - 1]];

    t->len = (uint32_t)(p + 1 - js->text) - t->start;
    t->next = js->count;
}

/*
 * The grammar as a loop over three states: expecting a value, expecting an
 * object key, and after a value. js->stack contains the open containers, and
 * in_object is true when the innermost one is an object. done is the index of
 * the value just scanned.
 */
static int scan(struct mason_jscan *js, const char *p, const char *end)
{
    uint32_t depth = 0, done = 0;
    bool in_object = false;
    int rc = 0;

value:
    p = skip_space(p, end);
    if (p == end)
        return MASON_EPARSE;
    if (*p == '"') {
        rc = push(js, MASON_JSCAN_STRING, p + 1);
        if (rc)
            return rc;
        p = scan_string(js, p + 1, end);
        if (!p)
            return MASON_EPARSE;
        done = js->count - 1;
        goto after;
    }
    if (*p == '{' || *p == '[') {
        in_object = *p == '{';
        if (depth == MASON_JSCAN_MAX_DEPTH)
            return MASON_EPARSE;
        rc = push(js, in_object ? MASON_JSCAN_OBJECT : MASON_JSCAN_ARRAY, p);
        if (rc)
            return rc;
        js->stack[depth++] = js->count - 1;
        p = skip_space(p + 1, end);
        if (p < end && *p == (in_object ? '}' : ']'))
            goto close;
        if (in_object)
            goto key;
        goto value;
    }
    p = scan_other(js, p, end, &rc);
    if (!p)
        return rc ? rc : MASON_EPARSE;
    done = js->count - 1;
    goto after;

key:
    p = skip_space(p, end);
    if (p == end || *p != '"')
        return MASON_EPARSE;
    rc = push(js, MASON_JSCAN_STRING, p + 1);
    if (rc)
        return rc;
    p = scan_string(js, p + 1, end);
    if (!p)
        return MASON_EPARSE;
    p = skip_space(p, end);
    if (p == end || *p != ':')
        return MASON_EPARSE;
    p++;
    goto value;

after:
    /* A key's next skips its value, so lookups hop from key to key. */
    if (in_object)
        js->tokens[done - 1].next = js->count;
    p = skip_space(p, end);
    if (depth == 0)
        return p == end ? 0 : MASON_EPARSE;
    if (p == end)
        return MASON_EPARSE;
    if (*p == ',') {
        p++;
        if (in_object)
            goto key;
        goto value;
    }
    if (*p != (in_object ? '}' : ']'))
        return MASON_EPARSE;

close:
    done = js->stack[depth - 1];
    close_container(js, depth--, p++);
    in_object = depth > 0 && js->tokens[js->stack[depth - 1]].type == MASON_JSCAN_OBJECT;
    goto after;
}

/* Most tokens kept between lines (1 MiB); a longer tape is freed before the next line. */
#define TAPE_MAX_KEEP (64u * 1024u)

int mason_jscan_parse(struct mason_jscan *js, const char *text, size_t len)
{
    int rc = arena_prepare(js);

    if (js->alloc > TAPE_MAX_KEEP) {
        free(js->tokens);
        js->tokens = NULL;
        js->alloc = 0;
    }

    js->text = text;
    js->len = len;
    js->count = 0;
    if (rc)
        return rc;
    if (len > MASON_JSCAN_MAX_LEN)
        return MASON_EPARSE;
    rc = scan(js, text, text + len);
    if (rc)
        js->count = 0;
    return rc;
}
