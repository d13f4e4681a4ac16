/*
 * Command lines of the agent engines. Each engine gets its current
 * non-interactive flags and reads the prompt from a file mounted in the pod,
 * so the prompt reaches the agent byte for byte whatever its size and
 * content: it is never placed into a shell word.
 */
#ifndef MASON_ENGINE_H
#define MASON_ENGINE_H

#include <jansson.h>

#include "config.h"

/* Where the per-run ConfigMap with the prompt is mounted, and its key. */
#define MASON_PROMPT_DIR "/etc/mason/prompt"
#define MASON_PROMPT_KEY "prompt"

struct mason_engine_run {
    enum mason_engine_id engine;
    const char *model;     /* NULL for the engine's default */
    long max_turns;        /* 0 for no flag */
    const char *resume_id; /* engine session id to resume, or NULL */
};

/* Returns whether id is safe to pass to an engine's resume flag. */
int mason_engine_session_id_valid(const char *id);

/*
 * Returns the container command as a new JSON array of strings
 * (["/bin/sh", "-c", script]), or NULL when resume_id is not a valid session
 * id or memory ran out.
 */
json_t *mason_engine_command(const struct mason_engine_run *run);

/* Returns the environment variable that carries the engine's API key. */
const char *mason_engine_api_key_env(enum mason_engine_id engine);

/* Returns the directory under $HOME where the engine keeps its conversations. */
const char *mason_engine_session_dir(enum mason_engine_id engine);

#endif
