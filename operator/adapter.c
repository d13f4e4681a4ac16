#include "adapter_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

bool mason_adapter_supported(enum mason_engine_id engine)
{
    return engine == MASON_ENGINE_CLAUDE_CODE || engine == MASON_ENGINE_CODEX;
}

struct mason_adapter *mason_adapter_create(enum mason_engine_id engine, mason_event_fn fn,
                                           void *arg)
{
    struct mason_adapter *a;

    if (!mason_adapter_supported(engine) || !fn)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->engine = engine;
    a->fn = fn;
    a->arg = arg;
    a->feed = engine == MASON_ENGINE_CODEX ? adapter_codex_feed : adapter_claude_feed;
    return a;
}

void mason_adapter_free(struct mason_adapter *a)
{
    if (!a)
        return;
    adapter_calls_clear(a);
    free(a->calls);
    for (unsigned i = 0; i < ADAPTER_RECENT_MESSAGES; i++)
        free(a->recent_messages[i]);
    free(a->main_message);
    free(a->session_id);
    free(a->model);
    free(a->last_message);
    free(a);
}

int mason_adapter_feed(struct mason_adapter *a, const char *line, size_t len)
{
    json_t *obj;
    int rc;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (len == 0)
        return 0;
    a->stats.lines++;
    if (*line != '{') {
        a->stats.not_json++;
        return 0;
    }
    obj = json_loadb(line, len, 0, NULL);
    if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "type"))) {
        a->stats.malformed++;
        json_decref(obj);
        return 0;
    }
    rc = a->feed(a, obj);
    json_decref(obj);
    return rc;
}

void mason_adapter_stats(const struct mason_adapter *a, struct mason_adapter_stats *out)
{
    *out = a->stats;
}

int adapter_set_string(char **slot, const char *s)
{
    char *copy = NULL;

    if (*slot && s && strcmp(*slot, s) == 0)
        return 0;
    if (s) {
        copy = strdup(s);
        if (!copy)
            return MASON_ENOMEM;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

void adapter_emit(struct mason_adapter *a, struct mason_event *ev)
{
    if (!ev->session_id)
        ev->session_id = a->session_id;
    if (!ev->model)
        ev->model = a->model;
    ev->turn = a->turn;
    a->stats.events++;
    a->fn(a->arg, ev);
}

void adapter_check_fields(struct mason_adapter *a, json_t *obj, const char *const *known)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        const char *const *k = known;

        while (*k && strcmp(*k, key) != 0)
            k++;
        if (!*k)
            a->stats.unknown_fields++;
    }
}

uint64_t adapter_u64(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_integer(v) && json_integer_value(v) > 0)
        return (uint64_t)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1e18)
        return (uint64_t)json_real_value(v);
    return 0;
}
