#include "watch.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "banned.h"

struct mason_watch_parser {
    struct mason_buf line; /* the partial line so far */
    size_t line_cap;
    bool discarding; /* inside a line that went over line_cap: drop bytes up to its newline */
    size_t skipped;
    bool gone;
    void (*fn)(void *arg, enum mason_watch_type type, json_t *object);
    void *arg;
};

struct mason_watch_parser *mason_watch_parser_create(
    size_t line_cap, void (*fn)(void *arg, enum mason_watch_type type, json_t *object), void *arg)
{
    struct mason_watch_parser *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->line_cap = line_cap ? line_cap : MASON_WATCH_LINE_CAP;
    mason_buf_init(&p->line, p->line_cap);
    p->fn = fn;
    p->arg = arg;
    return p;
}

void mason_watch_parser_free(struct mason_watch_parser *p)
{
    if (!p)
        return;
    mason_buf_release(&p->line);
    free(p);
}

static bool type_from_name(const char *name, enum mason_watch_type *type)
{
    static const struct {
        const char *name;
        enum mason_watch_type type;
    } types[] = {
        {"ADDED", MASON_WATCH_ADDED},     {"MODIFIED", MASON_WATCH_MODIFIED},
        {"DELETED", MASON_WATCH_DELETED}, {"BOOKMARK", MASON_WATCH_BOOKMARK},
        {"ERROR", MASON_WATCH_ERROR},
    };

    for (size_t i = 0; name && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(name, types[i].name) == 0) {
            *type = types[i].type;
            return true;
        }
    }
    return false;
}

static void parse_line(struct mason_watch_parser *p, const char *line, size_t len)
{
    enum mason_watch_type type;
    json_t *event, *object;

    while (len > 0 && strchr(" \t\r", line[len - 1]))
        len--;
    if (len == 0)
        return; /* a blank line carries no event */
    event = json_loadb(line, len, 0, NULL);
    object = json_object_get(event, "object");
    if (!json_is_object(object) ||
        !type_from_name(json_string_value(json_object_get(event, "type")), &type)) {
        p->skipped++;
        json_decref(event);
        return;
    }
    if (type == MASON_WATCH_ERROR && json_integer_value(json_object_get(object, "code")) == 410)
        p->gone = true;
    if (p->fn)
        p->fn(p->arg, type, object);
    json_decref(event);
}

/* Handles bytes that contain no newline. */
static int add_partial(struct mason_watch_parser *p, const char *data, size_t len)
{
    int err;

    if (p->discarding)
        return 0;
    err = mason_buf_add(&p->line, data, len);
    if (err == MASON_ETOOBIG) {
        p->skipped++;
        p->discarding = true;
        mason_buf_reset(&p->line);
        return 0;
    }
    return err;
}

int mason_watch_parser_feed(struct mason_watch_parser *p, const char *data, size_t len)
{
    const char *nl;
    size_t n;
    int err;

    while (len > 0 && (nl = memchr(data, '\n', len))) {
        n = (size_t)(nl - data);
        err = add_partial(p, data, n);
        if (err)
            return err;
        if (!p->discarding)
            parse_line(p, mason_buf_str(&p->line), p->line.len);
        p->discarding = false;
        mason_buf_reset(&p->line);
        data += n + 1;
        len -= n + 1;
    }
    return len ? add_partial(p, data, len) : 0;
}

size_t mason_watch_parser_skipped(const struct mason_watch_parser *p)
{
    return p->skipped;
}

bool mason_watch_parser_gone(const struct mason_watch_parser *p)
{
    return p->gone;
}

void mason_watch_parser_reset(struct mason_watch_parser *p)
{
    mason_buf_reset(&p->line);
    p->discarding = false;
    p->skipped = 0;
    p->gone = false;
}
