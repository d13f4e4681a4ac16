/*
 * An incremental parser for the body of a Kubernetes watch response: one JSON
 * object {"type": ..., "object": ...} per line, arriving in arbitrary chunks.
 * Bad lines are skipped and counted, so one malformed event never stops a
 * watch.
 */
#ifndef MASON_WATCH_H
#define MASON_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Default line cap. etcd's default request limit (1.5 MiB) bounds real objects well below it. */
#define MASON_WATCH_LINE_CAP (16u * 1024u * 1024u)

enum mason_watch_type {
    MASON_WATCH_ADDED,
    MASON_WATCH_MODIFIED,
    MASON_WATCH_DELETED,
    MASON_WATCH_BOOKMARK,
    MASON_WATCH_ERROR,
};

struct mason_watch_parser;

/*
 * Creates a parser that calls fn(arg, type, object) once per event and skips
 * lines longer than line_cap bytes (0: MASON_WATCH_LINE_CAP). object is
 * borrowed and valid only during the call; for MASON_WATCH_ERROR it is the
 * metav1.Status the server sent. Returns NULL when memory runs out.
 */
struct mason_watch_parser *mason_watch_parser_create(
    size_t line_cap, void (*fn)(void *arg, enum mason_watch_type type, json_t *object), void *arg);

void mason_watch_parser_free(struct mason_watch_parser *p);

/*
 * Parses len bytes, calling fn for each complete line; a trailing partial
 * line is kept for the next call. A line that is over line_cap, not JSON,
 * not an object, or has an unknown type or a non-object "object" is skipped
 * and counted. Returns 0, or MASON_ENOMEM.
 */
int mason_watch_parser_feed(struct mason_watch_parser *p, const char *data, size_t len);

/* Returns how many lines were skipped since creation or the last reset. */
size_t mason_watch_parser_skipped(const struct mason_watch_parser *p);

/* Returns true once an ERROR event with Status code 410 (resource version too old) arrived:
 * the caller must list again before it watches. */
bool mason_watch_parser_gone(const struct mason_watch_parser *p);

/* Drops a kept partial line and clears the skipped count and the gone flag, for a new
 * connection. */
void mason_watch_parser_reset(struct mason_watch_parser *p);

#endif
