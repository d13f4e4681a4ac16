/*
 * Recognising build, test and lint commands in the shell commands agents
 * run. Agents wrap them in many ways (`cd dir && npm test 2>&1 | tail -20`,
 * Codex's `bash -lc '...'`), so the command is split into the simple
 * commands of its lists and pipelines, prefixes are skipped, and the program
 * name and its first argument are looked up in tables.
 */
#include "score.h"

#include <string.h>

#include "banned.h"

/* Commands longer than this are classified on their first bytes only. */
#define CHECK_MAX_COMMAND 4096
#define CHECK_MAX_WORDS 12
#define CHECK_MAX_DEPTH 3

/* Class of the operator after a simple command. */
enum check_op { OP_END, OP_AND, OP_OTHER };

struct check_state {
    enum mason_check_kind kind;
    bool reliable;
};

struct name_kind {
    const char *name;
    enum mason_check_kind kind;
};

/* Programs that are a check whatever their arguments. */
static const struct name_kind programs[] = {
    {"pytest", MASON_CHECK_TEST},
    {"py.test", MASON_CHECK_TEST},
    {"jest", MASON_CHECK_TEST},
    {"vitest", MASON_CHECK_TEST},
    {"mocha", MASON_CHECK_TEST},
    {"rspec", MASON_CHECK_TEST},
    {"phpunit", MASON_CHECK_TEST},
    {"ctest", MASON_CHECK_TEST},
    {"tox", MASON_CHECK_TEST},
    {"nox", MASON_CHECK_TEST},
    {"unittest", MASON_CHECK_TEST},
    {"karma", MASON_CHECK_TEST},
    {"make", MASON_CHECK_BUILD},
    {"gmake", MASON_CHECK_BUILD},
    {"ninja", MASON_CHECK_BUILD},
    {"tsc", MASON_CHECK_BUILD},
    {"mvn", MASON_CHECK_BUILD},
    {"mvnw", MASON_CHECK_BUILD},
    {"gradle", MASON_CHECK_BUILD},
    {"gradlew", MASON_CHECK_BUILD},
    {"msbuild", MASON_CHECK_BUILD},
    {"eslint", MASON_CHECK_LINT},
    {"ruff", MASON_CHECK_LINT},
    {"flake8", MASON_CHECK_LINT},
    {"mypy", MASON_CHECK_LINT},
    {"pylint", MASON_CHECK_LINT},
    {"golangci-lint", MASON_CHECK_LINT},
    {"shellcheck", MASON_CHECK_LINT},
    {"stylelint", MASON_CHECK_LINT},
    {"biome", MASON_CHECK_LINT},
    {NULL, MASON_CHECK_NONE},
};

/* Programs whose first argument selects the action. */
struct sub_kind {
    const char *program;
    const char *sub;
    enum mason_check_kind kind;
};

static const struct sub_kind subcommands[] = {
    {"go", "test", MASON_CHECK_TEST},         {"go", "build", MASON_CHECK_BUILD},
    {"go", "vet", MASON_CHECK_LINT},          {"cargo", "test", MASON_CHECK_TEST},
    {"cargo", "nextest", MASON_CHECK_TEST},   {"cargo", "build", MASON_CHECK_BUILD},
    {"cargo", "check", MASON_CHECK_BUILD},    {"cargo", "clippy", MASON_CHECK_LINT},
    {"dotnet", "test", MASON_CHECK_TEST},     {"dotnet", "build", MASON_CHECK_BUILD},
    {"mix", "test", MASON_CHECK_TEST},        {"mix", "compile", MASON_CHECK_BUILD},
    {"swift", "test", MASON_CHECK_TEST},      {"swift", "build", MASON_CHECK_BUILD},
    {"deno", "test", MASON_CHECK_TEST},       {"deno", "check", MASON_CHECK_BUILD},
    {"deno", "lint", MASON_CHECK_LINT},       {"bun", "test", MASON_CHECK_TEST},
    {"bazel", "test", MASON_CHECK_TEST},      {"bazel", "build", MASON_CHECK_BUILD},
    {"bazelisk", "test", MASON_CHECK_TEST},   {"bazelisk", "build", MASON_CHECK_BUILD},
    {"meson", "test", MASON_CHECK_TEST},      {"meson", "compile", MASON_CHECK_BUILD},
    {"cmake", "--build", MASON_CHECK_BUILD},  {"rake", "test", MASON_CHECK_TEST},
    {"rake", "spec", MASON_CHECK_TEST},       {"composer", "test", MASON_CHECK_TEST},
    {"playwright", "test", MASON_CHECK_TEST}, {"v", "test", MASON_CHECK_TEST},
    {NULL, NULL, MASON_CHECK_NONE},
};

/* Words that run the command after them: skipped with their options. */
static const char *const runners[] = {
    "env", "time", "timeout", "nice",    "sudo", "stdbuf", "xvfb-run",
    "npx", "pnpx", "bunx",    "command", "exec", NULL,
};

/* Package managers whose scripts are run by name. */
static const char *const script_runners[] = {"npm", "pnpm", "yarn", "bun", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static const char *basename_of(const char *word)
{
    const char *slash = strrchr(word, '/');

    return slash ? slash + 1 : word;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An npm, yarn or pnpm script named like "test:unit", "build" or "typecheck". */
static enum mason_check_kind script_kind(const char *script)
{
    if (starts_with(script, "test") || strcmp(script, "ci") == 0 || strcmp(script, "t") == 0)
        return MASON_CHECK_TEST;
    if (starts_with(script, "build") || starts_with(script, "compile"))
        return MASON_CHECK_BUILD;
    if (starts_with(script, "lint") || starts_with(script, "check") ||
        starts_with(script, "typecheck") || starts_with(script, "type-check") ||
        strcmp(script, "tsc") == 0)
        return MASON_CHECK_LINT;
    return MASON_CHECK_NONE;
}

static bool is_assignment(const char *word)
{
    const char *eq = strchr(word, '=');

    if (!eq || eq == word || (*word >= '0' && *word <= '9'))
        return false;
    for (const char *p = word; p < eq; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* Skips assignments, runners with their options and arguments, and `uv run`-style prefixes. */
static unsigned skip_prefixes(char **words, unsigned n)
{
    unsigned i = 0;

    while (i < n) {
        const char *w = basename_of(words[i]);

        if (is_assignment(words[i])) {
            i++;
        } else if (in_list(runners, w)) {
            i++;
            while (i < n && (words[i][0] == '-' || is_assignment(words[i]) ||
                             (words[i][0] >= '0' && words[i][0] <= '9')))
                i++;
        } else if (i + 1 < n && ((strcmp(w, "uv") == 0 && strcmp(words[i + 1], "run") == 0) ||
                                 (strcmp(w, "poetry") == 0 && strcmp(words[i + 1], "run") == 0) ||
                                 (strcmp(w, "pipenv") == 0 && strcmp(words[i + 1], "run") == 0) ||
                                 (strcmp(w, "bundle") == 0 && strcmp(words[i + 1], "exec") == 0))) {
            i += 2;
        } else if (i + 2 < n && starts_with(w, "python") && strcmp(words[i + 1], "-m") == 0) {
            i += 2; /* python -m pytest: the module is the program */
        } else {
            break;
        }
    }
    return i;
}

static enum mason_check_kind package_script_kind(const char *program, char **args, unsigned n)
{
    unsigned i = 0;

    while (i < n && args[i][0] == '-')
        i++;
    if (i >= n)
        return MASON_CHECK_NONE;
    if (strcmp(args[i], "test") == 0 || strcmp(args[i], "t") == 0)
        return MASON_CHECK_TEST;
    if (strcmp(args[i], "run") == 0 || strcmp(args[i], "run-script") == 0) {
        i++;
        while (i < n && args[i][0] == '-')
            i++;
        return i < n ? script_kind(args[i]) : MASON_CHECK_NONE;
    }
    /* yarn, pnpm and bun also run a script named directly: `yarn build`. */
    if (strcmp(program, "npm") != 0)
        return script_kind(args[i]);
    return MASON_CHECK_NONE;
}

static enum mason_check_kind words_kind(char **words, unsigned n)
{
    const char *program;

    if (n == 0)
        return MASON_CHECK_NONE;
    program = basename_of(words[0]);
    for (const struct name_kind *p = programs; p->name; p++)
        if (strcmp(p->name, program) == 0)
            return p->kind;
    if (in_list(script_runners, program))
        return package_script_kind(program, words + 1, n - 1);
    for (const struct sub_kind *s = subcommands; s->program && n > 1; s++)
        if (strcmp(s->program, program) == 0 && strcmp(s->sub, words[1]) == 0)
            return s->kind;
    return MASON_CHECK_NONE;
}

static void classify(const char *command, size_t len, struct check_state *st, int depth);

/*
 * Splits one simple command into words in place: quotes are removed and
 * whitespace inside them kept. Stops at CHECK_MAX_WORDS words.
 */
static unsigned split_words(char *text, char **words)
{
    unsigned n = 0;
    char *in = text, *out = text;

    while (*in && n < CHECK_MAX_WORDS) {
        char quote = 0;

        while (*in == ' ' || *in == '\t')
            in++;
        if (!*in)
            break;
        words[n++] = out;
        while (*in && (quote || (*in != ' ' && *in != '\t'))) {
            if (!quote && (*in == '\'' || *in == '"'))
                quote = *in;
            else if (quote && *in == quote)
                quote = 0;
            else if (*in == '\\' && quote != '\'' && in[1])
                *out++ = *++in;
            else
                *out++ = *in;
            in++;
        }
        if (*in)
            in++;
        *out++ = '\0';
    }
    return n;
}

/* `bash -lc 'go test ./...'`: returns the index of the script word, or 0. */
static unsigned shell_script_index(char **words, unsigned n)
{
    const char *shell = n > 0 ? basename_of(words[0]) : "";

    if (strcmp(shell, "bash") != 0 && strcmp(shell, "sh") != 0 && strcmp(shell, "zsh") != 0 &&
        strcmp(shell, "dash") != 0)
        return 0;
    for (unsigned i = 1; i + 1 < n && words[i][0] == '-'; i++)
        if (strchr(words[i], 'c'))
            return i + 1;
    return 0;
}

static void classify_simple(const char *start, size_t len, enum check_op op, struct check_state *st,
                            int depth)
{
    char text[CHECK_MAX_COMMAND + 1];
    char *words[CHECK_MAX_WORDS];
    enum mason_check_kind kind;
    unsigned n, first, script;

    if (len > CHECK_MAX_COMMAND)
        len = CHECK_MAX_COMMAND;
    memcpy(text, start, len);
    text[len] = '\0';
    n = split_words(text, words);
    first = skip_prefixes(words, n);
    script = shell_script_index(words + first, n - first);
    if (script && depth < CHECK_MAX_DEPTH) {
        struct check_state inner = {MASON_CHECK_NONE, true};

        classify(words[first + script], strlen(words[first + script]), &inner, depth + 1);
        kind = inner.kind;
        if (kind != MASON_CHECK_NONE) {
            st->kind = kind;
            st->reliable = inner.reliable && op != OP_OTHER;
        } else if (st->kind != MASON_CHECK_NONE && op == OP_OTHER) {
            st->reliable = false;
        }
        return;
    }
    kind = words_kind(words + first, n - first);
    if (kind != MASON_CHECK_NONE) {
        st->kind = kind;
        st->reliable = op != OP_OTHER;
    } else if (st->kind != MASON_CHECK_NONE && op == OP_OTHER) {
        st->reliable = false; /* `go test ./... ; echo done`: the status is echo's */
    }
}

/* Returns the length of the operator at p ("&&", "|", ";" ...) and its class, 0 if none. */
static size_t operator_at(const char *p, const char *start, enum check_op *op)
{
    bool redirect = p > start && (p[-1] == '>' || p[-1] == '<');

    if (p[0] == '&' && p[1] == '&') {
        *op = OP_AND;
        return 2;
    }
    if ((p[0] == '|' && (p[1] == '|' || p[1] == '&')))
        *op = OP_OTHER;
    else if (p[0] == '|' || p[0] == ';' || p[0] == '\n')
        *op = OP_OTHER;
    else if (p[0] == '&' && !redirect && p[1] != '>')
        *op = OP_OTHER; /* a background job; `2>&1` and `&>` are redirections */
    else
        return 0;
    return p[0] == '|' && (p[1] == '|' || p[1] == '&') ? 2 : 1;
}

/*
 * At "<<WORD" (quotes and a '-' allowed), stores WORD as the here-document
 * delimiter. Returns the length read, 0 when p starts no here-document.
 */
static size_t heredoc_start(const char *p, const char *end, char *delim, size_t size)
{
    const char *q = p + 2;
    size_t n = 0;

    if (end - p < 3 || p[0] != '<' || p[1] != '<' || p[2] == '<')
        return 0;
    if (*q == '-')
        q++;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    while (q < end && *q != ' ' && *q != '\t' && *q != '\n' && *q != ';' && *q != '&' &&
           *q != '|' && *q != '>' && *q != '<' && *q != ')') {
        if (*q != '\'' && *q != '"' && *q != '\\' && n + 1 < size)
            delim[n++] = *q;
        q++;
    }
    delim[n] = '\0';
    return n > 0 ? (size_t)(q - p) : 0;
}

/* Returns the end of the here-document body that starts at p: after its delimiter line. */
static const char *heredoc_skip(const char *p, const char *end, const char *delim)
{
    size_t dlen = strlen(delim);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line = p;

        if (!eol)
            eol = end;
        while (line < eol && *line == '\t')
            line++;
        if ((size_t)(eol - line) == dlen && memcmp(line, delim, dlen) == 0)
            return eol;
        p = eol < end ? eol + 1 : end;
    }
    return end;
}

static void classify(const char *command, size_t len, struct check_state *st, int depth)
{
    const char *start = command, *p = command, *end = command + len;
    char quote = 0, delim[64] = "";

    while (p < end) {
        enum check_op op = OP_END;
        size_t oplen = 0;

        if (quote) {
            if (*p == '\\' && quote == '"' && p + 1 < end)
                p++;
            else if (*p == quote)
                quote = 0;
            p++;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            quote = *p++;
            continue;
        }
        if (*p == '\\' && p + 1 < end) {
            p += 2;
            continue;
        }
        if (!delim[0] && (oplen = heredoc_start(p, end, delim, sizeof(delim))) > 0) {
            p += oplen;
            continue;
        }
        oplen = operator_at(p, command, &op);
        if (oplen == 0) {
            p++;
            continue;
        }
        classify_simple(start, (size_t)(p - start), op, st, depth);
        p += oplen;
        if (op == OP_OTHER && p[-1] == '\n' && delim[0]) {
            p = heredoc_skip(p, end, delim); /* the body is data, not commands */
            delim[0] = '\0';
        }
        start = p;
    }
    classify_simple(start, (size_t)(end - start), OP_END, st, depth);
}

enum mason_check_kind mason_score_check_command(const char *command, bool *exit_reliable)
{
    struct check_state st = {MASON_CHECK_NONE, true};

    if (command)
        classify(command, strlen(command), &st, 0);
    if (exit_reliable)
        *exit_reliable = st.kind != MASON_CHECK_NONE && st.reliable;
    return st.kind;
}

const char *mason_check_kind_name(enum mason_check_kind kind)
{
    switch (kind) {
    case MASON_CHECK_BUILD:
        return "build";
    case MASON_CHECK_TEST:
        return "test";
    case MASON_CHECK_LINT:
        return "lint";
    case MASON_CHECK_NONE:
        break;
    }
    return "";
}
