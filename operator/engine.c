#include "engine.h"

#include <ctype.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

#define PROMPT_FILE MASON_PROMPT_DIR "/" MASON_PROMPT_KEY

int mason_engine_session_id_valid(const char *id)
{
    size_t len = id ? strlen(id) : 0;

    if (len == 0 || len > 128)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return 0;
    return 1;
}

/* Adds " FLAG 'VALUE'" with the value single-quoted for the shell. */
static void add_quoted(struct mason_buf *b, const char *flag, const char *value)
{
    mason_buf_addf(b, " %s '", flag);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            mason_buf_adds(b, "'\\''");
        else
            mason_buf_add(b, p, 1);
    }
    mason_buf_adds(b, "'");
}

static void claude_script(const struct mason_engine_run *run, struct mason_buf *b)
{
    mason_buf_adds(b, "exec claude -p --output-format stream-json --verbose"
                      " --dangerously-skip-permissions");
    if (run->max_turns > 0)
        mason_buf_addf(b, " --max-turns %ld", run->max_turns);
    if (run->model)
        add_quoted(b, "--model", run->model);
    if (run->resume_id)
        mason_buf_addf(b, " --resume %s", run->resume_id);
    mason_buf_adds(b, " < " PROMPT_FILE);
}

static void codex_script(const struct mason_engine_run *run, struct mason_buf *b)
{
    mason_buf_adds(b, "exec codex exec --json --skip-git-repo-check"
                      " --dangerously-bypass-approvals-and-sandbox");
    if (run->model)
        add_quoted(b, "--model", run->model);
    if (run->resume_id)
        mason_buf_addf(b, " resume %s", run->resume_id);
    mason_buf_adds(b, " - < " PROMPT_FILE);
}

static void cline_script(const struct mason_engine_run *run, struct mason_buf *b)
{
    mason_buf_adds(b, "exec cline --yolo --json");
    if (run->model)
        add_quoted(b, "--model", run->model);
    mason_buf_adds(b, " \"$(cat " PROMPT_FILE ")\"");
}

static void opencode_script(const struct mason_engine_run *run, struct mason_buf *b)
{
    mason_buf_adds(b, "exec opencode run --format json");
    if (run->model)
        add_quoted(b, "--model", run->model);
    if (run->resume_id)
        mason_buf_addf(b, " --session %s", run->resume_id);
    mason_buf_adds(b, " \"$(cat " PROMPT_FILE ")\"");
}

static void aider_script(const struct mason_engine_run *run, struct mason_buf *b)
{
    mason_buf_adds(b, "exec aider --yes-always --no-pretty --no-stream --no-check-update");
    if (run->model)
        add_quoted(b, "--model", run->model);
    if (run->resume_id)
        mason_buf_adds(b, " --restore-chat-history");
    mason_buf_adds(b, " --message-file " PROMPT_FILE);
}

json_t *mason_engine_command(const struct mason_engine_run *run)
{
    static void (*const scripts[MASON_ENGINE_COUNT])(const struct mason_engine_run *,
                                                     struct mason_buf *) = {
        claude_script, codex_script, cline_script, opencode_script, aider_script,
    };
    struct mason_buf script = MASON_BUF_INIT;
    json_t *command;

    if ((unsigned)run->engine >= MASON_ENGINE_COUNT)
        return NULL;
    if (run->resume_id && !mason_engine_session_id_valid(run->resume_id))
        return NULL;
    scripts[run->engine](run, &script);
    command = json_pack("[s,s,s]", "/bin/sh", "-c", mason_buf_str(&script));
    mason_buf_release(&script);
    return command;
}

const char *mason_engine_api_key_env(enum mason_engine_id engine)
{
    switch (engine) {
    case MASON_ENGINE_CLAUDE_CODE:
    case MASON_ENGINE_CLINE:
    case MASON_ENGINE_AIDER:
        return "ANTHROPIC_API_KEY";
    case MASON_ENGINE_CODEX:
    case MASON_ENGINE_OPENCODE:
    default:
        return "OPENAI_API_KEY";
    }
}

const char *mason_engine_session_dir(enum mason_engine_id engine)
{
    switch (engine) {
    case MASON_ENGINE_CLAUDE_CODE:
        return ".claude";
    case MASON_ENGINE_CODEX:
        return ".codex";
    case MASON_ENGINE_CLINE:
        return ".cline";
    case MASON_ENGINE_OPENCODE:
        return ".local/share/opencode";
    case MASON_ENGINE_AIDER:
    default:
        return ".aider";
    }
}
