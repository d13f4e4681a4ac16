/* The table of tool calls that wait for their result. */
#include "adapter_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

void adapter_call_release(struct adapter_call *call)
{
    free(call->id);
    free(call->name);
    free(call->command);
    for (unsigned i = 0; i < call->files_count; i++)
        free(call->files[i]);
    memset(call, 0, sizeof(*call));
}

void adapter_calls_clear(struct mason_adapter *a)
{
    for (unsigned i = 0; i < a->calls_count; i++)
        adapter_call_release(&a->calls[i]);
    a->calls_count = 0;
}

static void call_remove(struct mason_adapter *a, unsigned i)
{
    a->calls[i] = a->calls[--a->calls_count];
    memset(&a->calls[a->calls_count], 0, sizeof(a->calls[0]));
}

static void calls_evict_oldest(struct mason_adapter *a)
{
    unsigned oldest = 0;

    for (unsigned i = 1; i < a->calls_count; i++)
        if (a->calls[i].seq < a->calls[oldest].seq)
            oldest = i;
    adapter_call_release(&a->calls[oldest]);
    call_remove(a, oldest);
    a->stats.evicted++;
}

static char *strdup_capped(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    char *copy = malloc(len + 1);

    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}
/* Doubles the table, so a stream with few calls in flight keeps a small one. */
static int calls_grow(struct mason_adapter *a)
{
    unsigned alloc = a->calls_alloc ? a->calls_alloc * 2 : 8;
    struct adapter_call *calls;

    if (alloc > ADAPTER_MAX_PENDING)
        alloc = ADAPTER_MAX_PENDING;
    calls = realloc(a->calls, alloc * sizeof(*calls));
    if (!calls)
        return MASON_ENOMEM;
    a->calls = calls;
    a->calls_alloc = alloc;
    return 0;
}

int adapter_call_remember(struct mason_adapter *a, const struct mason_event *ev)
{
    struct adapter_call call = {0};

    if (!ev->tool_id)
        return 0;
    call.id = strdup(ev->tool_id);
    call.name = strdup(ev->tool_name ? ev->tool_name : "");
    call.command = ev->command ? strdup_capped(ev->command, ADAPTER_MAX_COMMAND) : NULL;
    if (!call.id || !call.name || (ev->command && !call.command))
        goto nomem;
    memcpy(call.hash, ev->args_hash, sizeof(call.hash));
    for (unsigned i = 0; i < ev->files_count; i++) {
        call.files[i] = strdup(ev->files[i]);
        if (!call.files[i])
            goto nomem;
        call.files_count++;
    }
    call.files_total = ev->files_total;
    call.files_modified = ev->files_modified;
    call.seq = a->calls_seq++;
    if (a->calls_count == ADAPTER_MAX_PENDING)
        calls_evict_oldest(a);
    if (a->calls_count == a->calls_alloc && calls_grow(a) != 0)
        goto nomem;
    a->calls[a->calls_count++] = call;
    return 0;

nomem:
    adapter_call_release(&call);
    return MASON_ENOMEM;
}

bool adapter_call_take(struct mason_adapter *a, const char *id, struct mason_event *ev,
                       struct adapter_call *hold)
{
    unsigned i;

    if (!id)
        return false;
    for (i = 0; i < a->calls_count; i++)
        if (strcmp(a->calls[i].id, id) == 0)
            break;
    if (i == a->calls_count)
        return false;
    *hold = a->calls[i];
    call_remove(a, i);
    ev->tool_name = hold->name;
    ev->command = hold->command;
    memcpy(ev->args_hash, hold->hash, sizeof(ev->args_hash));
    for (unsigned f = 0; f < hold->files_count; f++)
        ev->files[f] = hold->files[f];
    ev->files_count = hold->files_count;
    ev->files_total = hold->files_total;
    ev->files_modified = hold->files_modified;
    return true;
}
