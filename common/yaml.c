#include "yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <libyaml.h>

#include "error.h"
#include "banned.h"

#define YAML_TAG_STR "tag:yaml.org,2002:str"

struct yaml_reader {
    yaml_parser_t parser;
    struct mason_buf *err;
};

static int reader_fail(struct yaml_reader *r, const yaml_mark_t *mark, const char *what)
{
    if (r->err)
        mason_buf_addf(r->err, "invalid YAML at line %zu, column %zu: %s", mark->line + 1,
                       mark->column + 1, what);
    return MASON_EPARSE;
}

static int reader_next(struct yaml_reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev))
        return 0;
    if (r->parser.error == YAML_MEMORY_ERROR)
        return MASON_ENOMEM;
    return reader_fail(r, &r->parser.problem_mark,
                       r->parser.problem ? r->parser.problem : "syntax error");
}

static bool matches_any(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* Accepts [-+]?digits in base 10, 0o octal and 0x hex (YAML 1.2 core schema). */
static json_t *resolve_int(const char *s)
{
    const char *digits = s;
    int base = 10;
    long long v;
    char *end;

    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        digits = s + 2;
    } else if (*digits == '-' || *digits == '+') {
        digits++;
    }
    if (!*digits || !strchr("0123456789abcdefABCDEF", *digits))
        return NULL;
    errno = 0;
    v = strtoll(base == 10 ? s : digits, &end, base);
    if (*end || errno == ERANGE)
        return NULL; /* not an integer, or too large for JSON integers: stays a string */
    return json_integer(v);
}

/* Accepts [-+]?(.d+|d+(.d*)?)([eE][-+]?d+)? with a point or an exponent; .inf and .nan stay
 * strings because JSON lacks them, and so do digits alone, which resolve_int found too large. */
static json_t *resolve_float(const char *s)
{
    const char *p = s;
    size_t whole, frac = 0;
    bool point = false, exponent = false;
    char *end;

    if (*p == '-' || *p == '+')
        p++;
    whole = strspn(p, "0123456789");
    p += whole;
    if (*p == '.') {
        point = true;
        frac = strspn(p + 1, "0123456789");
        p += 1 + frac;
    }
    if (whole == 0 && frac == 0)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        exponent = true;
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!strspn(p, "0123456789"))
            return NULL;
        p += strspn(p, "0123456789");
    }
    if (*p || (!point && !exponent))
        return NULL;
    return json_real(strtod(s, &end));
}

static json_t *resolve_plain(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    json_t *v;

    if (matches_any(s, nulls))
        return json_null();
    if (matches_any(s, trues))
        return json_true();
    if (matches_any(s, falses))
        return json_false();
    v = resolve_int(s);
    return v ? v : resolve_float(s);
}

static int scalar_to_json(struct yaml_reader *r, const yaml_event_t *ev, json_t **out)
{
    const char *value = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

    *out = NULL;
    if (plain && !(tag && strcmp(tag, YAML_TAG_STR) == 0) && strlen(value) == len)
        *out = resolve_plain(value);
    if (!*out)
        *out = json_stringn(value, len);
    if (!*out)
        return reader_fail(r, &ev->start_mark, "scalar is not valid UTF-8");
    return 0;
}

static int parse_node(struct yaml_reader *r, yaml_event_t *ev, int depth, json_t **out);

static int parse_sequence(struct yaml_reader *r, int depth, json_t *array)
{
    yaml_event_t ev;
    json_t *item;
    int err;

    for (;;) {
        err = reader_next(r, &ev);
        if (err)
            return err;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        err = parse_node(r, &ev, depth + 1, &item);
        if (err)
            return err;
        if (json_array_append_new(array, item))
            return MASON_ENOMEM;
    }
}

static int parse_mapping(struct yaml_reader *r, int depth, json_t *object)
{
    yaml_event_t key, ev;
    json_t *value;
    int err;

    for (;;) {
        err = reader_next(r, &key);
        if (err)
            return err;
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return 0;
        }
        if (key.type != YAML_SCALAR_EVENT) {
            err = reader_fail(r, &key.start_mark, "mapping key is not a scalar");
            yaml_event_delete(&key);
            return err;
        }
        err = reader_next(r, &ev);
        if (!err)
            err = parse_node(r, &ev, depth + 1, &value);
        if (!err && json_object_setn_new(object, (const char *)key.data.scalar.value,
                                         key.data.scalar.length, value))
            err = MASON_ENOMEM;
        yaml_event_delete(&key);
        if (err)
            return err;
    }
}

/* Converts the node that starts with ev, consuming ev and the events up to the node's end. */
static int parse_node(struct yaml_reader *r, yaml_event_t *ev, int depth, json_t **out)
{
    int err = 0;

    *out = NULL;
    if (depth > MASON_YAML_MAX_DEPTH) {
        err = reader_fail(r, &ev->start_mark, "nesting is too deep");
    } else if (ev->type == YAML_SCALAR_EVENT) {
        err = scalar_to_json(r, ev, out);
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        *out = json_array();
        err = *out ? parse_sequence(r, depth, *out) : MASON_ENOMEM;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        *out = json_object();
        err = *out ? parse_mapping(r, depth, *out) : MASON_ENOMEM;
    } else if (ev->type == YAML_ALIAS_EVENT) {
        err = reader_fail(r, &ev->start_mark, "aliases are not supported");
    } else {
        err = reader_fail(r, &ev->start_mark, "unexpected event");
    }
    yaml_event_delete(ev);
    if (err) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

/* Reads one document after its DOCUMENT-START event, up to and including DOCUMENT-END. */
static int parse_document(struct yaml_reader *r, json_t **out)
{
    yaml_event_t ev;
    int err;

    *out = NULL;
    err = reader_next(r, &ev);
    if (err)
        return err;
    err = parse_node(r, &ev, 0, out);
    if (err)
        return err;
    err = reader_next(r, &ev);
    if (err)
        goto fail;
    yaml_event_delete(&ev); /* DOCUMENT-END: libyaml allows nothing else here */
    return 0;
fail:
    json_decref(*out);
    *out = NULL;
    return err;
}

/* Appends each document to docs; more than max_docs documents is an error. */
static int parse_stream(struct yaml_reader *r, size_t max_docs, json_t *docs)
{
    yaml_event_t ev;
    json_t *doc;
    int err;

    for (;;) {
        err = reader_next(r, &ev);
        if (err)
            return err;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev); /* STREAM-START */
            continue;
        }
        if (json_array_size(docs) == max_docs) {
            err = reader_fail(r, &ev.start_mark, "expected one document, found more");
            yaml_event_delete(&ev);
            return err;
        }
        yaml_event_delete(&ev);
        err = parse_document(r, &doc);
        if (err)
            return err;
        if (json_array_append_new(docs, doc))
            return MASON_ENOMEM;
    }
}

static int yaml_parse(const char *text, size_t len, size_t max_docs, json_t **out,
                      struct mason_buf *err)
{
    struct yaml_reader r = {.err = err};
    int rc;

    *out = json_array();
    if (!*out)
        return MASON_ENOMEM;
    if (!yaml_parser_initialize(&r.parser)) {
        json_decref(*out);
        *out = NULL;
        return MASON_ENOMEM;
    }
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    rc = parse_stream(&r, max_docs, *out);
    yaml_parser_delete(&r.parser);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int mason_yaml_to_json(const char *text, size_t len, json_t **out, struct mason_buf *err)
{
    json_t *docs;
    int rc = yaml_parse(text, len, 1, &docs, err);

    *out = NULL;
    if (rc)
        return rc;
    *out = json_array_size(docs) ? json_incref(json_array_get(docs, 0)) : json_null();
    json_decref(docs);
    return 0;
}

int mason_yaml_to_json_all(const char *text, size_t len, json_t **out, struct mason_buf *err)
{
    return yaml_parse(text, len, (size_t)-1, out, err);
}
