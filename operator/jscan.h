/*
 * A zero-copy JSON reader for one line of an agent's output. One pass
 * validates the whole text and records each value on a flat tape of tokens
 * (type, byte span, index of the token after the value), so a lookup skips
 * whole subtrees. Strings stay undecoded in the caller's text until a caller
 * asks for one; it is then decoded into a per-document scratch arena.
 *
 * It accepts what jansson 2.14's json_loadb(text, len, 0, ...) accepts for an
 * object or array, so the adapters count the same lines as malformed as they
 * did with jansson. That is the RFC 8259 grammar with UTF-8 checked
 * everywhere, no control bytes or "\u0000" in strings, no unpaired
 * surrogates, integers that fit in int64_t, finite reals, and nesting up to
 * 2048 deep. There are two differences: a bare scalar at the top is accepted
 * (json_loadb needs JSON_DECODE_ANY for it), and a NUL byte right after a
 * number or a literal is rejected (jansson 2.14 skips it).
 *
 * Why not a library: the adapters need about 550 MB/s on the captured Claude
 * Code and Codex streams (lines of about 800 bytes, one core of a 2-core AMD
 * EPYC). There jansson's json_loadb parses about 41 MB/s
 * (bench/score-bench.sh). yajl 2.1 with empty callbacks and
 * yajl_dont_validate_strings parses about 400 MB/s, measured once with a
 * throwaway program over the same lines. This reader parses them at 1.2 to
 * 1.6 GB/s: it skips string bodies 32 bytes at a time with SSE2 (8 at a time
 * with portable SWAR otherwise) and allocates nothing per token.
 *
 * NOTE: numbers are converted with strtod, so the process must keep the "C"
 * locale for LC_NUMERIC (mason never calls setlocale).
 */
#ifndef MASON_JSCAN_H
#define MASON_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/* Deepest nesting of objects and arrays accepted, as in jansson 2.14. */
#define MASON_JSCAN_MAX_DEPTH 2048

/* Maximum length of a text, in bytes, so a token's offsets fit in 32 bits. */
#define MASON_JSCAN_MAX_LEN (1u << 30)

enum mason_jscan_type {
    MASON_JSCAN_NONE = 0, /* no such value: a lookup that found nothing */
    MASON_JSCAN_OBJECT,
    MASON_JSCAN_ARRAY,
    MASON_JSCAN_STRING,
    MASON_JSCAN_NUMBER,
    MASON_JSCAN_TRUE,
    MASON_JSCAN_FALSE,
    MASON_JSCAN_NULL,
};

/* Token flags. */
#define MASON_JSCAN_ESCAPED 1u /* a string with at least one backslash escape */
#define MASON_JSCAN_REAL 2u    /* a number with a fraction or an exponent */

/*
 * One value on the tape. Objects store each member as its key (a string
 * token) followed by the value's tokens.
 */
struct mason_jscan_token {
    uint32_t start; /* offset of the first byte; for a string, the byte after the quote */
    uint32_t len;   /* bytes of the span; for a string, the raw body without quotes */
    uint32_t next;  /* index of the first token after this value and its children; for a key,
                       after its value */
    uint8_t type;   /* enum mason_jscan_type */
    uint8_t flags;  /* MASON_JSCAN_ESCAPED, MASON_JSCAN_REAL */
};

/* A parsed document. Embed it, mason_jscan_init it, and reuse it for every line. */
struct mason_jscan {
    const char *text; /* the caller's text; it must outlive every lookup */
    size_t len;
    struct mason_jscan_token *tokens;
    uint32_t count;
    uint32_t alloc;
    bool nomem; /* a decode since the last parse ran out of memory */

    /* Scratch arena for decoded strings, emptied by each parse. */
    char *arena;
    size_t arena_used;
    size_t arena_size;
    size_t arena_requested; /* bytes requested since the last parse, to size the next arena */
    char **spill;           /* blocks allocated when the arena was full */
    unsigned spill_count;
    unsigned spill_alloc;

    uint32_t stack[MASON_JSCAN_MAX_DEPTH];
};

/* Initialises an empty document. */
void mason_jscan_init(struct mason_jscan *js);

/* Frees the tape and the arena; the struct may be initialised again. */
void mason_jscan_release(struct mason_jscan *js);

/*
 * Parses text[0..len) as one JSON value with optional whitespace around it.
 * The root is token 0. Returns 0, MASON_EPARSE when the text is not valid
 * JSON (or is longer than MASON_JSCAN_MAX_LEN), or MASON_ENOMEM. Strings
 * decoded for the previous text become invalid. A tape of more than 65,536
 * tokens and strings decoded beyond the 1 MiB arena are freed first, so one
 * huge line does not keep its memory.
 */
int mason_jscan_parse(struct mason_jscan *js, const char *text, size_t len);

/* Returns the type of token i, or MASON_JSCAN_NONE when i is negative. */
enum mason_jscan_type mason_jscan_type(const struct mason_jscan *js, int i);

/*
 * Returns the index of the value of member key in object obj, or -1 when obj
 * is not an object or has no such member. With duplicate keys the last one
 * wins, as in jansson.
 */
int mason_jscan_get_n(struct mason_jscan *js, int obj, const char *key, size_t key_len);

/* mason_jscan_get_n inline, so the length of a literal key is known when compiling. */
static inline int mason_jscan_get(struct mason_jscan *js, int obj, const char *key)
{
    return mason_jscan_get_n(js, obj, key, strlen(key));
}

/*
 * Returns the first child of the array or object i, or -1 when it is empty or
 * not a container. The child of an object is its first key, and the key's
 * value is the token after it.
 */
int mason_jscan_first(const struct mason_jscan *js, int i);

/* Returns the child of parent after child (an element, or a key), or -1 after the last. */
int mason_jscan_next(const struct mason_jscan *js, int parent, int child);

/* Returns whether the string token i decodes to s[0..len). */
bool mason_jscan_equals_n(struct mason_jscan *js, int i, const char *s, size_t len);

/* Returns whether the string token i decodes to s. */
static inline bool mason_jscan_equals(struct mason_jscan *js, int i, const char *s)
{
    return mason_jscan_equals_n(js, i, s, strlen(s));
}

/*
 * Returns the decoded string token i, NUL-terminated in the arena and valid
 * until the next parse, or NULL when i is not a string or memory ran out
 * (then js->nomem is set).
 */
const char *mason_jscan_string(struct mason_jscan *js, int i);

/*
 * Like mason_jscan_string, but decodes at most max bytes, cut at a UTF-8
 * character boundary.
 */
const char *mason_jscan_string_prefix(struct mason_jscan *js, int i, size_t max);

/* Returns whether token i is an integer that fits in int64_t, and stores it in *out. */
bool mason_jscan_int(const struct mason_jscan *js, int i, int64_t *out);

/* Returns whether token i is a number (integer or real), and stores it in *out. */
bool mason_jscan_double(const struct mason_jscan *js, int i, double *out);

/* Returns the JSON text of value i in the parsed text (a string with its quotes) and stores
 * its length in *len; NULL when i is -1. */
const char *mason_jscan_span(const struct mason_jscan *js, int i, size_t *len);

/*
 * Appends value i to out serialised as jansson 2.14's json_dumps does with
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY: keys sorted by byte value,
 * no whitespace, strings with only '"', '\\' and control characters escaped.
 * Returns 0, MASON_ENOMEM or MASON_ETOOBIG from out, or MASON_EINVAL when the
 * value contains a real number or a duplicate key, whose jansson form this
 * writer does not reproduce: the caller then serialises with jansson.
 */
int mason_jscan_write_canonical(struct mason_jscan *js, int i, struct mason_buf *out);

/*
 * Decodes the escape at *p, a backslash in a string that mason_jscan_parse
 * accepted, into out (4 bytes of room) and moves *p past it. Returns the
 * bytes written. For the reader's own files.
 */
size_t mason_jscan_decode_escape(const char **p, char *out);

#endif
