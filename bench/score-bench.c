/*
 * Throughput of the engine adapters and trajectory scoring on recorded
 * streams, beside the rate at which jansson alone parses the same lines.
 * Every Claude Code and Codex stream in the directory is loaded into memory
 * and replayed until the requested volume has gone through each pass, on
 * one thread:
 *   1. json_loadb and json_decref per line (the parser the adapters used
 *      before operator/jscan.c);
 *   2. mason_jscan_parse per line, the reader the adapters use now;
 *   3. the adapter per line, its events only counted;
 *   4. the adapter per line with a scorer (default thresholds) fed each event;
 *   5. the scorer alone, fed the events of pass 4 recorded beforehand, the
 *      same number of times.
 * Times are the thread's CPU time, so the rates are per core.
 *
 * usage: score-bench [--megabytes N] [--json FILE] DIRECTORY
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "adapter.h"
#include "buf.h"
#include "error.h"
#include "jscan.h"
#include "score.h"
#include "banned.h"

#define MAX_STREAMS 64

enum mode {
    MODE_JANSSON,
    MODE_JSCAN,
    MODE_ADAPTER,
    MODE_ADAPTER_SCORE,
};

struct stream {
    char *name;
    enum mason_engine_id engine;
    char *data;
    size_t len;
    struct mason_event *events; /* recorded, with strings owned by the recording */
    size_t events_count;
    size_t events_alloc;
};

struct corpus {
    struct stream streams[MAX_STREAMS];
    unsigned count;
    size_t bytes;
};

struct pass {
    const char *name;
    double seconds;
    uint64_t bytes;
    uint64_t lines;
    uint64_t events;
};

struct counter {
    uint64_t events;
    struct mason_score *score;
};

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_file(const char *path, struct stream *s)
{
    struct mason_buf b = MASON_BUF_INIT;
    char chunk[65536];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        fprintf(stderr, "score-bench: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    mason_buf_init(&b, 512u * 1024u * 1024u);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (mason_buf_add(&b, chunk, n) != 0)
            break;
    fclose(f);
    s->len = b.len;
    s->data = mason_buf_detach(&b);
    return s->data ? 0 : -1;
}

/* Loads claude-*.jsonl and codex-*.jsonl in name order. */
static int load_corpus(const char *dir, struct corpus *c)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int rc = 0;

    if (n < 0) {
        fprintf(stderr, "score-bench: cannot read directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        bool claude = strncmp(name, "claude-", 7) == 0, codex = strncmp(name, "codex-", 6) == 0;

        if (rc == 0 && (claude || codex) && len > 6 && strcmp(name + len - 6, ".jsonl") == 0 &&
            c->count < MAX_STREAMS) {
            struct stream *s = &c->streams[c->count];
            struct mason_buf path = MASON_BUF_INIT;

            mason_buf_addf(&path, "%s/%s", dir, name);
            s->name = strdup(name);
            s->engine = claude ? MASON_ENGINE_CLAUDE_CODE : MASON_ENGINE_CODEX;
            rc = load_file(mason_buf_str(&path), s);
            mason_buf_release(&path);
            if (rc == 0) {
                c->bytes += s->len;
                c->count++;
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0 && c->count == 0) {
        fprintf(stderr, "score-bench: no claude-*.jsonl or codex-*.jsonl in %s\n", dir);
        rc = -1;
    }
    return rc;
}

static const char *copy(const char *s)
{
    char *c = s ? strdup(s) : NULL;

    if (s && !c)
        abort();
    return c;
}

/* Keeps a copy of every event with the strings the scorer reads. */
static void record(void *arg, const struct mason_event *ev)
{
    struct stream *s = arg;
    struct mason_event *e;

    if (s->events_count == s->events_alloc) {
        s->events_alloc = s->events_alloc ? s->events_alloc * 2 : 256;
        s->events = realloc(s->events, s->events_alloc * sizeof(*s->events));
        if (!s->events)
            abort();
    }
    e = &s->events[s->events_count++];
    *e = *ev;
    e->session_id = e->model = e->tool_id = e->error = NULL;
    e->result.subtype = e->result.terminal_reason = NULL;
    e->result.structured_output = NULL;
    e->tool_name = copy(ev->tool_name);
    e->command = copy(ev->command);
    e->text = copy(ev->text);
    for (unsigned i = 0; i < ev->files_count; i++)
        e->files[i] = copy(ev->files[i]);
}

static void free_recording(struct stream *s)
{
    for (size_t i = 0; i < s->events_count; i++) {
        struct mason_event *e = &s->events[i];

        free((char *)e->tool_name);
        free((char *)e->command);
        free((char *)e->text);
        for (unsigned f = 0; f < e->files_count; f++)
            free((char *)e->files[f]);
    }
    free(s->events);
}

static void on_event(void *arg, const struct mason_event *ev)
{
    struct counter *c = arg;

    c->events++;
    if (c->score && mason_score_feed(c->score, ev, 0) != 0)
        abort();
}

/* Runs one stream through the adapter, or without one through jscan or json_loadb. Returns
 * lines seen. */
static uint64_t replay(const struct stream *s, struct mason_adapter *adapter,
                       struct mason_jscan *jscan)
{
    const char *p = s->data, *end = s->data + s->len;
    uint64_t lines = 0;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((eol ? eol : end) - p);

        if (len > 0) {
            lines++;
            if (adapter) {
                if (mason_adapter_feed(adapter, p, len) != 0)
                    abort();
            } else if (jscan) {
                if (mason_jscan_parse(jscan, p, len) == MASON_ENOMEM)
                    abort();
            } else {
                json_decref(json_loadb(p, len, 0, NULL));
            }
        }
        p = eol ? eol + 1 : end;
    }
    return lines;
}

static void record_corpus(struct corpus *c)
{
    for (unsigned i = 0; i < c->count; i++) {
        struct mason_adapter *a =
            mason_adapter_create(c->streams[i].engine, record, &c->streams[i]);

        if (!a)
            abort();
        replay(&c->streams[i], a, NULL);
        mason_adapter_free(a);
    }
}

/* Feeds the recorded events of the corpus to fresh scorers, rounds times. */
static void run_score_only(const struct corpus *c, uint64_t rounds, struct pass *out)
{
    double start = cpu_seconds();

    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < c->count; i++) {
            const struct stream *s = &c->streams[i];
            struct mason_score *score = mason_score_create(NULL);

            if (!score)
                abort();
            for (size_t e = 0; e < s->events_count; e++)
                if (mason_score_feed(score, &s->events[e], 0) != 0)
                    abort();
            out->events += s->events_count;
            out->bytes += s->len;
            mason_score_free(score);
        }
    }
    out->seconds = cpu_seconds() - start;
}

static void run_pass(const struct corpus *c, uint64_t target, enum mode mode, struct pass *out)
{
    double start = cpu_seconds();
    struct mason_jscan jscan;

    mason_jscan_init(&jscan);
    while (out->bytes < target) {
        for (unsigned i = 0; i < c->count; i++) {
            const struct stream *s = &c->streams[i];
            struct counter counter = {0, NULL};
            struct mason_adapter *a = NULL;

            if (mode >= MODE_ADAPTER && !(a = mason_adapter_create(s->engine, on_event, &counter)))
                abort();
            if (mode == MODE_ADAPTER_SCORE && !(counter.score = mason_score_create(NULL)))
                abort();
            out->lines += replay(s, a, mode == MODE_JSCAN ? &jscan : NULL);
            out->bytes += s->len;
            out->events += counter.events;
            mason_adapter_free(a);
            mason_score_free(counter.score);
        }
    }
    out->seconds = cpu_seconds() - start;
    mason_jscan_release(&jscan);
}

static void print_pass(const struct pass *p, FILE *json, bool last)
{
    double mb = (double)p->bytes / 1e6;

    printf("%-18s %8.1f MB %10llu lines %10llu events %7.2f s  %8.1f MB/s %10.0f lines/s", p->name,
           mb, (unsigned long long)p->lines, (unsigned long long)p->events, p->seconds,
           mb / p->seconds, (double)p->lines / p->seconds);
    if (p->events > 0)
        printf(" %10.0f events/s", (double)p->events / p->seconds);
    printf("\n");
    if (json)
        fprintf(json,
                "    \"%s\": {\"bytes\": %llu, \"lines\": %llu, \"events\": %llu, "
                "\"cpu_seconds\": %.3f, \"mb_per_s\": %.1f, \"lines_per_s\": %.0f, "
                "\"events_per_s\": %.0f}%s\n",
                p->name, (unsigned long long)p->bytes, (unsigned long long)p->lines,
                (unsigned long long)p->events, p->seconds, mb / p->seconds,
                (double)p->lines / p->seconds, (double)p->events / p->seconds, last ? "" : ",");
}

static int parse_args(int argc, char **argv, unsigned long *megabytes, const char **json,
                      const char **dir)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--megabytes") == 0 && i + 1 < argc) {
            char *end;

            *megabytes = strtoul(argv[++i], &end, 10);
            if (*end || *megabytes == 0 || *megabytes > 100000) {
                fprintf(stderr, "score-bench: invalid --megabytes '%s': expected 1 to 100000\n",
                        argv[i]);
                return -1;
            }
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            *json = argv[++i];
        } else if (argv[i][0] != '-' && !*dir) {
            *dir = argv[i];
        } else {
            fprintf(stderr, "usage: score-bench [--megabytes N] [--json FILE] DIRECTORY\n");
            return -1;
        }
    }
    if (!*dir) {
        fprintf(stderr, "usage: score-bench [--megabytes N] [--json FILE] DIRECTORY\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct corpus c = {0};
    struct pass passes[5] = {{"jansson-parse", 0, 0, 0, 0},
                             {"jscan-parse", 0, 0, 0, 0},
                             {"adapter", 0, 0, 0, 0},
                             {"adapter+score", 0, 0, 0, 0},
                             {"score-only", 0, 0, 0, 0}};
    unsigned long megabytes = 300;
    const char *json_path = NULL, *dir = NULL;
    FILE *json = NULL;

    if (parse_args(argc, argv, &megabytes, &json_path, &dir) != 0 || load_corpus(dir, &c) != 0)
        return 2;
    printf("corpus: %u streams, %zu bytes; each pass replays it to %lu MB\n", c.count, c.bytes,
           megabytes);
    for (int mode = MODE_JANSSON; mode <= MODE_ADAPTER_SCORE; mode++)
        run_pass(&c, (uint64_t)megabytes * 1000000u, (enum mode)mode, &passes[mode]);
    record_corpus(&c);
    run_score_only(&c, passes[3].bytes / c.bytes, &passes[4]);
    if (json_path && !(json = fopen(json_path, "w"))) {
        fprintf(stderr, "score-bench: cannot write %s: %s\n", json_path, strerror(errno));
        return 2;
    }
    if (json)
        fprintf(json, "{\n  \"corpus_bytes\": %zu,\n  \"passes\": {\n", c.bytes);
    for (int i = 0; i < 5; i++)
        print_pass(&passes[i], json, i == 4);
    if (json) {
        fprintf(json, "  }\n}\n");
        fclose(json);
    }
    printf("adapter+score runs at %.1f times the jansson line rate\n",
           ((double)passes[3].lines / passes[3].seconds) /
               ((double)passes[0].lines / passes[0].seconds));
    for (unsigned i = 0; i < c.count; i++) {
        free(c.streams[i].name);
        free(c.streams[i].data);
        free_recording(&c.streams[i]);
    }
    return 0;
}
