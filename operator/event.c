#include "event.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

const char *mason_event_kind_name(enum mason_event_kind kind)
{
    static const char *const names[MASON_EVENT_KIND_COUNT] = {
        "unknown",  "init",  "text",   "tool_call", "tool_result",
        "turn_end", "usage", "result", "error",
    };

    if ((unsigned)kind >= MASON_EVENT_KIND_COUNT)
        return "unknown";
    return names[kind];
}

const char *mason_outcome_name(enum mason_outcome outcome)
{
    switch (outcome) {
    case MASON_OUTCOME_SUCCESS:
        return "success";
    case MASON_OUTCOME_ERROR:
        return "error";
    case MASON_OUTCOME_MAX_TURNS:
        return "max_turns";
    case MASON_OUTCOME_MAX_BUDGET:
        return "max_budget";
    case MASON_OUTCOME_NONE:
        break;
    }
    return "none";
}

void mason_event_clear(struct mason_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->result.num_turns = -1;
}

void mason_event_hex_digest(const unsigned char digest[32], char out[MASON_EVENT_HASH_SIZE])
{
    static const char hex[] = "0123456789abcdef";

    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

int mason_event_hash_text(const char *text, size_t len, char out[MASON_EVENT_HASH_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    out[0] = '\0';
    if (!EVP_Digest(text, len, digest, &digest_len, EVP_sha256(), NULL) || digest_len != 32)
        return MASON_ENOMEM;
    mason_event_hex_digest(digest, out);
    return 0;
}

int mason_event_hash_args(const json_t *args, char out[MASON_EVENT_HASH_SIZE])
{
    char *text;
    int rc;

    out[0] = '\0';
    if (!args)
        return 0;
    text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return MASON_ENOMEM;
    rc = mason_event_hash_text(text, strlen(text), out);
    free(text);
    return rc;
}

void mason_event_add_file(struct mason_event *ev, const char *path)
{
    if (!path || !*path)
        return;
    for (unsigned i = 0; i < ev->files_count; i++)
        if (strcmp(ev->files[i], path) == 0)
            return;
    ev->files_total++;
    if (ev->files_count < MASON_EVENT_MAX_FILES)
        ev->files[ev->files_count++] = path;
}

void mason_tokens_add(struct mason_tokens *a, const struct mason_tokens *b)
{
    a->input += b->input;
    a->output += b->output;
    a->cache_read += b->cache_read;
    a->cache_write += b->cache_write;
}
