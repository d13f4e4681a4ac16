/*
 * mason-score: scores a recorded agent output stream offline, to tune the
 * scoring thresholds on real runs without a cluster. It prints each
 * normalised event on one line, a score line each time the score or its
 * reasons change, and the final score with the intervention it calls for.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapter.h"
#include "buf.h"
#include "config.h"
#include "error.h"
#include "event.h"
#include "score.h"
#include "stream.h"
#include "banned.h"

struct tool {
    bool engine_known;
    enum mason_engine_id engine;
    bool quiet;
    bool resumable;
    struct mason_score_config cfg;
    struct mason_adapter *adapter;
    struct mason_score *score;
    struct mason_buf line; /* output being formatted */
    struct mason_buf last; /* the last score line printed */
    int error;             /* first error of a callback */
};

static void usage(FILE *out)
{
    struct mason_score_config d;

    mason_score_config_defaults(&d);
    fprintf(out,
            "usage: mason-score [options] FILE.jsonl\n"
            "Scores a recorded Claude Code (stream-json) or Codex (exec --json) stream.\n"
            "  --engine claude-code|codex  the stream's engine (default: detected from the first "
            "line)\n"
            "  --quiet                     print the score timeline only, not each event\n"
            "  --not-resumable             decide as for a run whose session cannot be resumed\n"
            "  --window-events N           events the score looks at (default %u)\n"
            "  --loop-repeats N            identical failures that reach the loop threshold "
            "(default %u)\n"
            "  --thrash-flips N            returns to one file that reach the thrash threshold "
            "(default %u)\n"
            "  --burn-tokens N             tokens without a file change that reach the burn "
            "threshold (default %llu)\n"
            "  --warn-below X              warn under this score (default %.2f)\n"
            "  --hint-below X              hint under this score (default %.2f)\n"
            "  --terminate-below X         terminate under this score (default %.2f)\n"
            "  --intervention NAME         strongest intervention: none, warn, hint or terminate "
            "(default %s)\n",
            d.window_events, d.loop_repeats, d.thrash_flips, (unsigned long long)d.burn_tokens,
            d.warn_below, d.hint_below, d.terminate_below, mason_intervention_name(d.intervention));
}

static void print_tokens(struct mason_buf *b, const struct mason_tokens *t)
{
    mason_buf_addf(b, " in=%llu out=%llu cache_read=%llu cache_write=%llu",
                   (unsigned long long)t->input, (unsigned long long)t->output,
                   (unsigned long long)t->cache_read, (unsigned long long)t->cache_write);
}

static void print_call(struct mason_buf *b, const struct mason_event *ev)
{
    char text[160];

    mason_buf_addf(b, " %s", ev->tool_name && ev->tool_name[0] ? ev->tool_name : "?");
    if (ev->kind == MASON_EVENT_TOOL_RESULT)
        mason_buf_adds(b, ev->is_error ? " error" : " ok");
    if (ev->has_exit_code)
        mason_buf_addf(b, " exit=%d", ev->exit_code);
    if (ev->command) {
        mason_buf_adds(b, " `");
        for (size_t i = 0; ev->command[i] && i < sizeof(text) - 1; i++)
            mason_buf_addf(b, "%c", (unsigned char)ev->command[i] < 0x20 ? ' ' : ev->command[i]);
        mason_buf_adds(b, strlen(ev->command) >= sizeof(text) - 1 ? "...`" : "`");
    }
    for (unsigned i = 0; i < ev->files_count; i++)
        mason_buf_addf(b, " %s%s", ev->files_modified ? "+" : "", ev->files[i]);
    if (ev->files_total > ev->files_count)
        mason_buf_addf(b, " (+%u more)", ev->files_total - ev->files_count);
}

/* Appends the start of text on one line, quoted. */
static void print_text(struct mason_buf *b, const char *text)
{
    size_t i;

    mason_buf_adds(b, " \"");
    for (i = 0; text[i] && i < 100; i++)
        mason_buf_addf(b, "%c", (unsigned char)text[i] < 0x20 ? ' ' : text[i]);
    mason_buf_adds(b, text[i] ? "...\"" : "\"");
}

static void print_event(struct tool *t, const struct mason_event *ev, uint64_t index)
{
    struct mason_buf *b = &t->line;

    mason_buf_reset(b);
    mason_buf_addf(b, "%6llu %-11s turn %-3u", (unsigned long long)index,
                   mason_event_kind_name(ev->kind), ev->turn);
    if (ev->sidechain)
        mason_buf_adds(b, " [sub-agent]");
    if (ev->kind == MASON_EVENT_TOOL_CALL || ev->kind == MASON_EVENT_TOOL_RESULT)
        print_call(b, ev);
    if (ev->kind == MASON_EVENT_INIT)
        mason_buf_addf(b, " session=%s model=%s", ev->session_id ? ev->session_id : "-",
                       ev->model ? ev->model : "-");
    if (ev->kind == MASON_EVENT_USAGE)
        print_tokens(b, &ev->tokens);
    if (ev->kind == MASON_EVENT_ERROR || ev->kind == MASON_EVENT_TURN_END)
        mason_buf_addf(b, "%s%s", ev->is_error ? " error" : "", ev->transient ? " transient" : "");
    if (ev->text && ev->kind != MASON_EVENT_TOOL_RESULT)
        print_text(b, ev->text);
    if (ev->kind == MASON_EVENT_RESULT) {
        mason_buf_addf(b, " outcome=%s subtype=%s turns=%ld",
                       mason_outcome_name(ev->result.outcome),
                       ev->result.subtype ? ev->result.subtype : "-", ev->result.num_turns);
        if (ev->result.has_cost)
            mason_buf_addf(b, " cost=%.4f", ev->result.total_cost_usd);
        if (ev->has_tokens)
            print_tokens(b, &ev->tokens);
    }
    printf("%s\n", mason_buf_str(b));
}

/* Prints the score line when the score or its reasons changed since the last one. */
static void print_score(struct tool *t, uint64_t index)
{
    const struct mason_score_result *r = mason_score_result(t->score);
    struct mason_buf *b = &t->line;

    mason_buf_reset(b);
    mason_buf_addf(b, "%.2f", r->score);
    for (unsigned i = 0; i < r->reasons_count; i++) {
        mason_buf_adds(b, i == 0 ? "  " : "; ");
        mason_score_reason_format(&r->reasons[i], b);
    }
    if (strcmp(mason_buf_str(b), mason_buf_str(&t->last)) == 0)
        return;
    printf("%6llu score %s\n", (unsigned long long)index, mason_buf_str(b));
    mason_buf_reset(&t->last);
    mason_buf_adds(&t->last, mason_buf_str(b));
}

static void on_event(void *arg, const struct mason_event *ev)
{
    struct tool *t = arg;
    int rc;

    if (t->error)
        return;
    rc = mason_score_feed(t->score, ev, 0);
    if (rc) {
        t->error = rc;
        return;
    }
    if (!t->quiet)
        print_event(t, ev, mason_score_result(t->score)->events);
    print_score(t, mason_score_result(t->score)->events);
}

/* Detects the engine from the type of the first JSON line. */
static int detect_engine(const char *line, size_t len, enum mason_engine_id *out)
{
    static const char *const claude[] = {"system",       "assistant",        "user", "result",
                                         "stream_event", "rate_limit_event", NULL};
    json_t *obj = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(obj, "type"));
    int rc = MASON_ENOTFOUND;

    for (const char *const *c = claude; type && *c; c++)
        if (strcmp(type, *c) == 0) {
            *out = MASON_ENGINE_CLAUDE_CODE;
            rc = 0;
        }
    if (type && (strncmp(type, "thread.", 7) == 0 || strncmp(type, "turn.", 5) == 0 ||
                 strncmp(type, "item.", 5) == 0 || strcmp(type, "error") == 0)) {
        *out = MASON_ENGINE_CODEX;
        rc = 0;
    }
    json_decref(obj);
    return rc;
}

static int on_line(void *arg, const char *line, size_t len)
{
    struct tool *t = arg;
    size_t i = 0;

    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    if (!t->engine_known) {
        if (detect_engine(line, len, &t->engine) != 0) {
            fprintf(stderr, "mason-score: cannot tell the engine from the first line; "
                            "pass --engine claude-code or --engine codex\n");
            return MASON_EPARSE;
        }
        t->engine_known = true;
    }
    if (!t->adapter) {
        t->adapter = mason_adapter_create(t->engine, on_event, t);
        if (!t->adapter)
            return MASON_ENOMEM;
    }
    if (mason_adapter_feed(t->adapter, line, len) != 0)
        return MASON_ENOMEM;
    return t->error;
}

static int read_stream(struct tool *t, const char *path)
{
    struct mason_lines lines;
    char chunk[65536];
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc = 0;

    if (!f) {
        fprintf(stderr, "mason-score: cannot open %s: %s\n", path, strerror(errno));
        return MASON_EIO;
    }
    mason_lines_init(&lines, 0, on_line, t);
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mason_lines_feed(&lines, chunk, n);
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "mason-score: cannot read %s: %s\n", path, strerror(errno));
        rc = MASON_EIO;
    }
    if (rc == 0)
        rc = mason_lines_flush(&lines);
    if (lines.too_long > 0)
        fprintf(stderr, "mason-score: skipped %llu lines longer than %u bytes\n",
                (unsigned long long)lines.too_long, MASON_STREAM_MAX_LINE);
    mason_lines_release(&lines);
    fclose(f);
    return rc;
}

static void print_final(struct tool *t)
{
    const struct mason_score_result *r = mason_score_result(t->score);
    enum mason_intervention decision = mason_score_decide(&t->cfg, r->score, t->resumable);
    struct mason_adapter_stats st = {0};

    if (t->adapter)
        mason_adapter_stats(t->adapter, &st);
    printf("final: %llu events from %llu lines (%llu not JSON, %llu malformed, %llu of unknown "
           "type)\n",
           (unsigned long long)r->events, (unsigned long long)st.lines,
           (unsigned long long)st.not_json, (unsigned long long)st.malformed,
           (unsigned long long)st.unknown_types);
    printf("final: score %.2f, decision %s\n", r->score, mason_intervention_name(decision));
    mason_buf_reset(&t->line);
    mason_score_hint(r, &t->line);
    if (t->line.len > 0)
        printf("hint:\n%s", mason_buf_str(&t->line));
}

static int parse_unsigned(const char *s, const char *option, unsigned long long *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') {
        fprintf(stderr, "mason-score: invalid %s '%s': expected a whole number\n", option, s);
        return MASON_EINVAL;
    }
    return 0;
}

static int parse_double(const char *s, const char *option, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "mason-score: invalid %s '%s': expected a number\n", option, s);
        return MASON_EINVAL;
    }
    return 0;
}

static int parse_option(struct tool *t, int opt, const char *name, const char *value)
{
    unsigned long long n = 0;

    switch (opt) {
    case 'e':
        if (mason_engine_lookup(value, &t->engine) != 0 || !mason_adapter_supported(t->engine)) {
            fprintf(stderr, "mason-score: invalid --engine '%s': use claude-code or codex\n",
                    value);
            return MASON_EINVAL;
        }
        t->engine_known = true;
        return 0;
    case 'q':
        t->quiet = true;
        return 0;
    case 'r':
        t->resumable = false;
        return 0;
    case 'i':
        if (mason_intervention_lookup(value, &t->cfg.intervention) != 0) {
            fprintf(stderr,
                    "mason-score: invalid --intervention '%s': use none, warn, hint or "
                    "terminate\n",
                    value);
            return MASON_EINVAL;
        }
        return 0;
    case 'W':
        return parse_double(value, name, &t->cfg.warn_below);
    case 'H':
        return parse_double(value, name, &t->cfg.hint_below);
    case 'T':
        return parse_double(value, name, &t->cfg.terminate_below);
    }
    if (parse_unsigned(value, name, &n) != 0)
        return MASON_EINVAL;
    if (opt == 'b') {
        t->cfg.burn_tokens = n;
        return 0;
    }
    if (n > 1000000) {
        fprintf(stderr, "mason-score: invalid %s '%s': expected at most 1000000\n", name, value);
        return MASON_EINVAL;
    }
    if (opt == 'w')
        t->cfg.window_events = (unsigned)n;
    else if (opt == 'l')
        t->cfg.loop_repeats = (unsigned)n;
    else if (opt == 't')
        t->cfg.thrash_flips = (unsigned)n;
    return 0;
}

/* Returns "--name" of the option whose short code is opt, for messages. */
static const char *option_name(const struct option *options, int opt)
{
    static char name[64];

    for (; options->name; options++)
        if (options->val == opt) {
            snprintf(name, sizeof(name), "--%s", options->name);
            return name;
        }
    return "option";
}

static int parse_args(struct tool *t, int argc, char **argv, const char **path)
{
    static const struct option options[] = {
        {"engine", required_argument, NULL, 'e'},
        {"quiet", no_argument, NULL, 'q'},
        {"not-resumable", no_argument, NULL, 'r'},
        {"window-events", required_argument, NULL, 'w'},
        {"loop-repeats", required_argument, NULL, 'l'},
        {"thrash-flips", required_argument, NULL, 't'},
        {"burn-tokens", required_argument, NULL, 'b'},
        {"warn-below", required_argument, NULL, 'W'},
        {"hint-below", required_argument, NULL, 'H'},
        {"terminate-below", required_argument, NULL, 'T'},
        {"intervention", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mason_buf err = MASON_BUF_INIT;
    int opt, index = 0;

    while ((opt = getopt_long(argc, argv, "e:qh", options, &index)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        if (opt == '?' || parse_option(t, opt, option_name(options, opt), optarg) != 0)
            return 2;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (mason_score_config_check(&t->cfg, &err) != 0) {
        fprintf(stderr, "mason-score: %s\n", mason_buf_str(&err));
        mason_buf_release(&err);
        return 2;
    }
    *path = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    struct tool t = {0};
    const char *path = NULL;
    int rc;

    t.resumable = true;
    mason_score_config_defaults(&t.cfg);
    mason_buf_init(&t.line, 0);
    mason_buf_init(&t.last, 0);
    rc = parse_args(&t, argc, argv, &path);
    if (rc == 0) {
        t.score = mason_score_create(&t.cfg);
        rc = t.score ? read_stream(&t, path) : MASON_ENOMEM;
        if (rc == MASON_ENOMEM)
            fprintf(stderr, "mason-score: out of memory\n");
        if (rc == 0)
            print_final(&t);
        rc = rc == 0 ? 0 : 1;
    }
    mason_adapter_free(t.adapter);
    mason_score_free(t.score);
    mason_buf_release(&t.line);
    mason_buf_release(&t.last);
    return rc;
}
