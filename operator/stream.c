/* A followed log: lines, timestamps, de-duplication, CRI joins and the engine adapter. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

struct mason_stream {
    struct mason_lines lines;
    struct mason_adapter *adapter;
    bool timestamps;
    size_t max_line;
    mason_stream_event_fn fn;
    void *arg;

    struct mason_buf joined; /* CRI P fragments waiting for their F line */
    bool join_skipping;      /* the joined line passed the cap: drop through its F line */

    struct mason_stream_position pos; /* last delivered line */
    struct mason_timestamp conn_ts;   /* timestamp of the connection's latest line */
    uint64_t conn_count;              /* lines of this connection with conn_ts */
    bool conn_started;

    struct mason_stream_stats stats;
};

static void stream_on_event(void *arg, const struct mason_event *ev)
{
    struct mason_stream *s = arg;

    s->fn(s->arg, ev, &s->pos);
}

/* Decides whether a timestamped line was delivered before, and moves the position if not. */
static bool stream_seen(struct mason_stream *s, const struct mason_timestamp *ts)
{
    int order;

    if (s->conn_started && mason_timestamp_cmp(ts, &s->conn_ts) == 0) {
        s->conn_count++;
    } else {
        s->conn_ts = *ts;
        s->conn_count = 1;
        s->conn_started = true;
    }
    order = s->pos.valid ? mason_timestamp_cmp(ts, &s->pos.ts) : 1;
    /* NOTE: a timestamp that goes back within one connection is taken as a replay and
     * dropped; container runtimes stamp lines in order. */
    if (order < 0 || (order == 0 && s->conn_count <= s->pos.count))
        return true;
    s->pos.valid = true;
    s->pos.ts = *ts;
    s->pos.count = s->conn_count;
    return false;
}

/* Joins CRI fragments; returns 1 when text is now a whole line to deliver from joined. */
static int stream_join(struct mason_stream *s, const struct mason_log_line *ll)
{
    int rc;

    if (!ll->partial && s->joined.len == 0 && !s->join_skipping)
        return 0;
    if (!s->join_skipping && s->joined.len + ll->len > s->max_line) {
        mason_buf_reset(&s->joined);
        s->join_skipping = true;
        s->stats.too_long++;
    }
    if (!s->join_skipping) {
        rc = mason_buf_add(&s->joined, ll->text, ll->len);
        if (rc)
            return rc;
    }
    if (ll->partial)
        return 2; /* wait for the rest */
    if (s->join_skipping) {
        s->join_skipping = false;
        return 2;
    }
    return 1;
}

static int stream_on_line(void *arg, const char *line, size_t len)
{
    struct mason_stream *s = arg;
    struct mason_log_line ll;
    int rc;

    s->stats.lines++;
    if (!s->timestamps)
        return mason_adapter_feed(s->adapter, line, len);
    if (mason_log_line_parse(line, len, &ll)) {
        s->stats.untimestamped++;
        return mason_adapter_feed(s->adapter, line, len);
    }
    if (stream_seen(s, &ll.ts)) {
        s->stats.duplicates++;
        return 0;
    }
    rc = stream_join(s, &ll);
    if (rc == 0)
        return mason_adapter_feed(s->adapter, ll.text, ll.len);
    if (rc != 1)
        return rc == 2 ? 0 : rc;
    rc = mason_adapter_feed(s->adapter, s->joined.data, s->joined.len);
    mason_buf_reset(&s->joined);
    return rc;
}

struct mason_stream *mason_stream_create(enum mason_engine_id engine, bool timestamps,
                                         size_t max_line, mason_stream_event_fn fn, void *arg)
{
    struct mason_stream *s;

    if (!fn)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->adapter = mason_adapter_create(engine, stream_on_event, s);
    if (!s->adapter) {
        free(s);
        return NULL;
    }
    s->timestamps = timestamps;
    s->max_line = max_line ? max_line : MASON_STREAM_MAX_LINE;
    s->fn = fn;
    s->arg = arg;
    mason_lines_init(&s->lines, s->max_line + (timestamps ? 64 : 0), stream_on_line, s);
    mason_buf_init(&s->joined, s->max_line + 1);
    return s;
}

void mason_stream_free(struct mason_stream *s)
{
    if (!s)
        return;
    mason_adapter_free(s->adapter);
    mason_lines_release(&s->lines);
    mason_buf_release(&s->joined);
    free(s);
}

void mason_stream_set_position(struct mason_stream *s, const struct mason_stream_position *pos)
{
    s->pos = *pos;
}

const struct mason_stream_position *mason_stream_position(const struct mason_stream *s)
{
    return &s->pos;
}

void mason_stream_connected(struct mason_stream *s)
{
    mason_lines_discard(&s->lines);
    s->conn_started = false;
    s->conn_count = 0;
    s->stats.connections++;
}

int mason_stream_feed(struct mason_stream *s, const char *data, size_t len)
{
    s->stats.bytes += len;
    return mason_lines_feed(&s->lines, data, len);
}

int mason_stream_disconnected(struct mason_stream *s, bool clean)
{
    if (clean)
        return mason_lines_flush(&s->lines);
    mason_lines_discard(&s->lines);
    return 0;
}

void mason_stream_stats(const struct mason_stream *s, struct mason_stream_stats *out)
{
    *out = s->stats;
    out->too_long += s->lines.too_long;
    mason_adapter_stats(s->adapter, &out->adapter);
}
