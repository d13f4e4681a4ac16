/*
 * Text of the scorer: keys built from commands and error messages, the
 * subjects and details kept in the window, the reason lines, the hint for a
 * resumed session and the intervention decision.
 */
#include "score_internal.h"

#include <string.h>

#include "error.h"
#include "banned.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static uint64_t mix(uint64_t h, char c)
{
    h ^= (unsigned char)c;
    return h * 0x100000001b3ull;
}

uint64_t score_hash_command(uint64_t h, const char *command)
{
    bool space = false;

    while (is_space(*command))
        command++;
    for (; *command; command++) {
        if (is_space(*command)) {
            space = true;
            continue;
        }
        if (space)
            h = mix(h, ' ');
        space = false;
        h = mix(h, *command);
    }
    return mix(h, '\0');
}

uint64_t score_hash_error(uint64_t h, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *start, *end;
        bool digit = false;

        while (is_space(*p))
            p++;
        start = p;
        for (; *p && !is_space(*p); p++)
            digit |= *p >= '0' && *p <= '9';
        end = p;
        if (digit || start == end)
            continue;
        while (start < end)
            h = mix(h, *start++);
        h = mix(h, ' ');
    }
    return mix(h, '\0');
}

/* Length of the longest prefix of s, at most max bytes, that ends on a UTF-8 boundary. */
static size_t utf8_prefix(const char *s, size_t max)
{
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

void score_copy_text(char *dst, size_t size, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    size_t keep = len;

    if (size == 0)
        return;
    if (len >= size) {
        keep = size > 4 ? utf8_prefix(text, size - 4) : 0;
    }
    for (size_t i = 0; i < keep; i++)
        dst[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
    if (keep < len && size > 4) {
        memcpy(dst + keep, "...", 3);
        keep += 3;
    }
    dst[keep] = '\0';
}

/* Decoration around a line: pytest's "=====" and "_____" rulers, bullets. */
static bool is_decoration(char c)
{
    return is_space(c) || c == '=' || c == '_' || c == '-' || c == '*';
}

/* Words that mark the line of a failure output worth quoting. */
static bool names_failure(const char *line, size_t len)
{
    static const char *const words[] = {"FAIL",  "Error",     "error", "assert",
                                        "panic", "Exception", NULL};

    if (len < 8 || (len == 8 && memcmp(line, "FAILURES", 8) == 0))
        return false;
    for (const char *const *w = words; *w; w++)
        if (memmem(line, len, *w, strlen(*w)))
            return true;
    return false;
}

void score_first_line(const char *text, char *dst, size_t size)
{
    const char *first = NULL, *pick = NULL;
    size_t first_len = 0, pick_len = 0;
    char line[512];

    while (text && *text && !pick) {
        const char *eol = strchr(text, '\n');
        const char *start = text, *end = eol ? eol : text + strlen(text);

        text = eol ? eol + 1 : end;
        if (end - start >= 10 && strncmp(start, "Exit code ", 10) == 0)
            continue;
        while (start < end && is_decoration(*start))
            start++;
        while (end > start && is_decoration(end[-1]))
            end--;
        if (start == end)
            continue;
        if (!first) {
            first = start;
            first_len = (size_t)(end - start);
        }
        if (names_failure(start, (size_t)(end - start))) {
            pick = start;
            pick_len = (size_t)(end - start);
        }
    }
    if (!pick) {
        pick = first;
        pick_len = first_len;
    }
    dst[0] = '\0';
    if (!pick)
        return;
    if (pick_len >= sizeof(line))
        pick_len = sizeof(line) - 1;
    memcpy(line, pick, pick_len);
    line[pick_len] = '\0';
    score_copy_text(dst, size, line);
}

/*
 * Returns the script of `bash -lc '<script>'` (sh, zsh, dash; -c, -lc), the
 * form Codex runs every command in, unquoted into buf; or command itself.
 */
static const char *unwrap_shell(const char *command, char *buf, size_t size)
{
    static const char *const prefixes[] = {"bash -lc ", "bash -c ", "zsh -lc ", "zsh -c ",
                                           "sh -c ",    "sh -lc ",  "dash -c ", NULL};
    const char *p = NULL;
    size_t n = 0;
    char quote;

    for (const char *const *pre = prefixes; *pre && !p; pre++)
        if (strncmp(command, *pre, strlen(*pre)) == 0)
            p = command + strlen(*pre);
    if (!p || (*p != '\'' && *p != '"'))
        return command;
    quote = *p++;
    for (; *p && *p != quote && n + 1 < size; p++) {
        if (quote == '"' && *p == '\\' && p[1])
            p++;
        buf[n++] = *p;
    }
    if (*p != quote || p[1] != '\0')
        return command; /* more than one quoted word: show it as it is */
    buf[n] = '\0';
    return buf;
}

void score_call_subject(const struct mason_event *ev, char *dst, size_t size)
{
    struct mason_buf b = MASON_BUF_INIT;

    if (ev->command) {
        char script[512];

        score_copy_text(dst, size, unwrap_shell(ev->command, script, sizeof(script)));
        return;
    }
    mason_buf_init(&b, size * 2);
    if (ev->files_count > 0)
        mason_buf_addf(&b, "%s %s", ev->tool_name, ev->files[0]);
    score_copy_text(dst, size, b.len ? mason_buf_str(&b) : ev->tool_name);
    mason_buf_release(&b);
}

const char *mason_intervention_name(enum mason_intervention intervention)
{
    switch (intervention) {
    case MASON_INTERVENTION_WARN:
        return "warn";
    case MASON_INTERVENTION_HINT:
        return "hint";
    case MASON_INTERVENTION_TERMINATE:
        return "terminate";
    case MASON_INTERVENTION_NONE:
        break;
    }
    return "none";
}

int mason_intervention_lookup(const char *name, enum mason_intervention *out)
{
    for (int i = MASON_INTERVENTION_NONE; i <= MASON_INTERVENTION_TERMINATE; i++) {
        if (name && strcmp(name, mason_intervention_name(i)) == 0) {
            *out = i;
            return 0;
        }
    }
    return MASON_ENOTFOUND;
}

enum mason_intervention mason_score_decide(const struct mason_score_config *cfg, double score,
                                           bool resumable)
{
    enum mason_intervention level = MASON_INTERVENTION_NONE;

    if (score < cfg->terminate_below)
        level = MASON_INTERVENTION_TERMINATE;
    else if (score < cfg->hint_below)
        level = MASON_INTERVENTION_HINT;
    else if (score < cfg->warn_below)
        level = MASON_INTERVENTION_WARN;
    if (level > cfg->intervention)
        level = cfg->intervention;
    if (level == MASON_INTERVENTION_HINT && !resumable)
        level = MASON_INTERVENTION_WARN;
    return level;
}

int mason_score_reason_format(const struct mason_score_reason *r, struct mason_buf *out)
{
    const char *kind = mason_check_kind_name(r->check);

    switch (r->signal) {
    case MASON_SCORE_LOOP:
        mason_buf_addf(out, "loop: `%s` failed %u times with no success in between", r->subject,
                       r->count);
        if (r->detail[0])
            mason_buf_addf(out, " (last output: %s)", r->detail);
        break;
    case MASON_SCORE_ERROR_LOOP:
        mason_buf_addf(out, "error_loop: the engine reported the same error %u times: %s", r->count,
                       r->subject);
        break;
    case MASON_SCORE_THRASH:
        mason_buf_addf(out, "thrash: went back to edit %s %u times with no passing build or test",
                       r->subject, r->count);
        break;
    case MASON_SCORE_REGRESSION:
        mason_buf_addf(out, "regression: %s `%s` failed after it passed", kind, r->subject);
        break;
    case MASON_SCORE_PROGRESS:
        mason_buf_addf(out, "progress: %s `%s` passed after it failed", kind, r->subject);
        break;
    case MASON_SCORE_BURN:
        mason_buf_addf(out, "burn: %llu tokens spent with no file change",
                       (unsigned long long)r->tokens);
        break;
    default:
        mason_buf_addf(out, "%s", r->code ? r->code : "unknown");
        break;
    }
    return mason_buf_addf(out, " (%+.2f)", r->delta);
}

static void hint_line(const struct mason_score_reason *r, struct mason_buf *out)
{
    switch (r->signal) {
    case MASON_SCORE_LOOP:
        mason_buf_addf(out, "- You ran `%s` %u times and it failed each time", r->subject,
                       r->count);
        if (r->detail[0])
            mason_buf_addf(out, "; the last output began with \"%s\"", r->detail);
        mason_buf_adds(out, ". Running it again unchanged will fail the same way: read the "
                            "failure, change the code or the approach, then run it once.\n");
        break;
    case MASON_SCORE_ERROR_LOOP:
        mason_buf_addf(out,
                       "- The same error came back %u times: \"%s\". Retrying will not "
                       "clear it; work around it or report it.\n",
                       r->count, r->subject);
        break;
    case MASON_SCORE_THRASH:
        mason_buf_addf(out,
                       "- You went back to edit %s %u times with no passing build or test "
                       "in between. Stop editing it back and forth: run the build or the "
                       "tests, find the actual cause, then make one deliberate change.\n",
                       r->subject, r->count);
        break;
    case MASON_SCORE_REGRESSION:
        mason_buf_addf(out,
                       "- `%s` passed earlier and now fails: a change since then broke it. "
                       "Review what you changed after it last passed.\n",
                       r->subject);
        break;
    case MASON_SCORE_BURN:
        mason_buf_addf(out,
                       "- You spent %llu tokens without changing any file. Decide on a "
                       "concrete change and make it, or state what blocks you.\n",
                       (unsigned long long)r->tokens);
        break;
    default:
        break;
    }
}

int mason_score_hint(const struct mason_score_result *result, struct mason_buf *out)
{
    bool any = false;

    for (unsigned i = 0; i < result->reasons_count; i++)
        any |= result->reasons[i].delta < 0;
    if (!any)
        return 0;
    mason_buf_adds(out, "Your previous attempt was stopped because it was not making progress:\n");
    for (unsigned i = 0; i < result->reasons_count; i++)
        if (result->reasons[i].delta < 0)
            hint_line(&result->reasons[i], out);
    return mason_buf_adds(out, "Continue the task with a different approach.\n");
}
