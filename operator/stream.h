/*
 * From pod-log bytes to normalised events. Three layers, each usable alone:
 *
 * - a line splitter with a cap on the line length: a longer line is counted
 *   and skipped, never fatal, and lines may arrive split across reads;
 * - the timestamp prefix of pod-log lines: the API server's
 *   "<RFC3339Nano> <text>" (timestamps=true) and the CRI log file form
 *   "<RFC3339Nano> stdout|stderr F|P <text>", whose P lines are fragments of
 *   one long line to join;
 * - a stream: splitter, prefix, de-duplication and an engine adapter. It
 *   remembers the position (timestamp, lines seen at that timestamp) of the
 *   last line it delivered, so that after a reconnection, whether the server
 *   honoured sinceTime or replayed the whole log, no line is lost or
 *   delivered twice.
 */
#ifndef MASON_STREAM_H
#define MASON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "buf.h"
#include "config.h"
#include "event.h"

/* Default cap of one line: a Claude tool result holding a base64 PDF exceeds 1 MiB. */
#define MASON_STREAM_MAX_LINE (8u * 1024u * 1024u)

/* ---- line splitter ---- */

/* Called with each line, without its '\n' (a trailing '\r' is kept). Returns 0 or an error
 * that mason_lines_feed passes back. */
typedef int (*mason_line_fn)(void *arg, const char *line, size_t len);

struct mason_lines {
    struct mason_buf partial; /* the start of a line still missing its '\n' */
    size_t max_line;
    bool skipping;     /* inside a line that passed max_line: drop through its '\n' */
    uint64_t too_long; /* lines skipped for their length */
    mason_line_fn fn;
    void *arg;
};

/* Initialises a splitter; max_line 0 means MASON_STREAM_MAX_LINE. */
void mason_lines_init(struct mason_lines *l, size_t max_line, mason_line_fn fn, void *arg);

/* Frees the partial line. */
void mason_lines_release(struct mason_lines *l);

/*
 * Splits data into lines and calls fn for each complete one; the rest waits
 * for the next call. Returns 0, the first error fn returned (the lines after
 * it are not delivered), or MASON_ENOMEM.
 */
int mason_lines_feed(struct mason_lines *l, const char *data, size_t len);

/* Delivers the partial line, if any, as a last line. Returns as mason_lines_feed. */
int mason_lines_flush(struct mason_lines *l);

/* Drops the partial line (a connection that broke in the middle of a line). */
void mason_lines_discard(struct mason_lines *l);

/* ---- timestamps and the pod-log prefix ---- */

/* A point in time in UTC. */
struct mason_timestamp {
    int64_t sec; /* seconds since 1970-01-01T00:00:00Z */
    int32_t nsec;
};

/* Parses RFC 3339 ("2025-11-04T10:00:00.123456789Z", an offset instead of Z allowed). Returns 0
 * or MASON_EPARSE. */
int mason_timestamp_parse(const char *s, size_t len, struct mason_timestamp *out);

/* Compares a and b like strcmp. */
int mason_timestamp_cmp(const struct mason_timestamp *a, const struct mason_timestamp *b);

/* Appends ts as RFC 3339 UTC: with nanoseconds, or truncated to the second. */
int mason_timestamp_format(const struct mason_timestamp *ts, bool nanoseconds,
                           struct mason_buf *out);

enum mason_log_stream {
    MASON_LOG_STREAM_NONE = 0, /* API server form: no stream name */
    MASON_LOG_STREAM_STDOUT,
    MASON_LOG_STREAM_STDERR,
};

/* One pod-log line split into its prefix and text. */
struct mason_log_line {
    struct mason_timestamp ts;
    enum mason_log_stream stream;
    bool partial; /* CRI tag P: the text continues on the next line */
    const char *text;
    size_t len;
};

/*
 * Splits a line that starts with a timestamp. "<ts> stdout|stderr F|P <text>"
 * is read as the CRI form, anything else after "<ts> " as text. Returns 0 or
 * MASON_EPARSE when the line does not start with a timestamp and a space.
 */
int mason_log_line_parse(const char *line, size_t len, struct mason_log_line *out);

/* ---- stream ---- */

/* Stream position: the timestamp of the last delivered line and how many lines carried it. */
struct mason_stream_position {
    bool valid; /* false until a timestamped line was delivered */
    struct mason_timestamp ts;
    uint64_t count;
};

struct mason_stream_stats {
    struct mason_adapter_stats adapter;
    uint64_t bytes;
    uint64_t lines;         /* physical lines received */
    uint64_t too_long;      /* lines (or joined CRI fragments) past the cap */
    uint64_t duplicates;    /* lines skipped as delivered before */
    uint64_t untimestamped; /* lines without a timestamp, delivered as is */
    uint64_t connections;   /* calls to mason_stream_connected */
};

/* Called for each event with the position of the line that produced it. */
typedef void (*mason_stream_event_fn)(void *arg, const struct mason_event *ev,
                                      const struct mason_stream_position *pos);

struct mason_stream;

/*
 * Creates a stream for engine's output. With timestamps, every line is
 * expected to start with a timestamp (the API's timestamps=true); lines
 * without one are delivered anyway and counted. max_line 0 means
 * MASON_STREAM_MAX_LINE. Returns NULL when engine has no adapter or memory
 * runs out.
 */
struct mason_stream *mason_stream_create(enum mason_engine_id engine, bool timestamps,
                                         size_t max_line, mason_stream_event_fn fn, void *arg);

/* Frees the stream; NULL is a no-op. */
void mason_stream_free(struct mason_stream *s);

/* Sets the position to resume from, such as one saved before a restart. */
void mason_stream_set_position(struct mason_stream *s, const struct mason_stream_position *pos);

/* Returns the position of the last delivered line. */
const struct mason_stream_position *mason_stream_position(const struct mason_stream *s);

/* Starts a new connection: lines now replay from the server's start point. */
void mason_stream_connected(struct mason_stream *s);

/* Feeds bytes of the current connection. Returns 0 or MASON_ENOMEM. */
int mason_stream_feed(struct mason_stream *s, const char *data, size_t len);

/*
 * Ends the current connection. After a clean end (the server ended the
 * body), a last line without '\n' is delivered. After a broken connection
 * it is dropped, because the next connection sends it again whole. Returns
 * 0 or MASON_ENOMEM.
 */
int mason_stream_disconnected(struct mason_stream *s, bool clean);

/* Copies the counters into out. */
void mason_stream_stats(const struct mason_stream *s, struct mason_stream_stats *out);

#endif
