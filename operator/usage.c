#include "usage.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static int set_string(char **slot, const char *s, size_t cap)
{
    char *copy = NULL;

    if (s) {
        size_t len = strnlen(s, cap);

        copy = malloc(len + 1);
        if (!copy)
            return MASON_ENOMEM;
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    free(*slot);
    *slot = copy;
    return 0;
}

int mason_usage_init(struct mason_usage *u, const struct mason_pricing *pricing,
                     const char *default_model)
{
    memset(u, 0, sizeof(*u));
    u->pricing = pricing;
    u->num_turns = -1;
    return set_string(&u->default_model, default_model, 256);
}

void mason_usage_release(struct mason_usage *u)
{
    free(u->default_model);
    free(u->session_id);
    free(u->session_model);
    free(u->subtype);
    free(u->result_text);
    json_decref(u->structured_output);
    memset(u, 0, sizeof(*u));
}

static void part_add(struct mason_usage_part *a, const struct mason_usage_part *b)
{
    mason_tokens_add(&a->tokens, &b->tokens);
    a->cost_usd += b->cost_usd;
    a->estimated = a->estimated || b->estimated;
    a->unpriced_tokens += b->unpriced_tokens;
}

static uint64_t tokens_sum(const struct mason_tokens *t)
{
    return t->input + t->output + t->cache_read + t->cache_write;
}

/* Prices tokens with the event's model, else the session's, else the configured one. */
static struct mason_usage_part usage_price(struct mason_usage *u, const struct mason_event *ev,
                                           const struct mason_tokens *tokens)
{
    const char *model = ev->model ? ev->model : u->session_model;
    const struct mason_price *price = mason_pricing_lookup(u->pricing, model);
    struct mason_usage_part part = {*tokens, 0.0, true, 0};

    if (!price && model != u->default_model)
        price = mason_pricing_lookup(u->pricing, u->default_model);
    if (!price)
        part.unpriced_tokens = tokens_sum(tokens);
    part.cost_usd = mason_pricing_cost(price, tokens);
    return part;
}

/* A new session closes the previous one: its totals move into closed. */
static int usage_session(struct mason_usage *u, const struct mason_event *ev)
{
    if (!ev->session_id || (u->session_id && strcmp(u->session_id, ev->session_id) == 0))
        return 0;
    part_add(&u->closed, &u->session);
    part_add(&u->closed, &u->open);
    memset(&u->session, 0, sizeof(u->session));
    memset(&u->open, 0, sizeof(u->open));
    u->closed_turns += u->session_turns;
    u->session_turns = 0;
    u->sessions++;
    return set_string(&u->session_id, ev->session_id, 256);
}

static int usage_result(struct mason_usage *u, const struct mason_event *ev)
{
    struct mason_usage_part part = {{0}, 0.0, false, 0};
    int rc;

    if (ev->has_tokens)
        part = usage_price(u, ev, &ev->tokens);
    if (ev->result.has_cost) {
        part.cost_usd = ev->result.total_cost_usd;
        part.estimated = false;
        part.unpriced_tokens = 0;
    }
    if (ev->has_tokens || ev->result.has_cost) {
        u->session = part;
        memset(&u->open, 0, sizeof(u->open));
    }
    u->has_result = true;
    u->outcome = ev->result.outcome;
    u->is_error = ev->is_error;
    u->num_turns = ev->result.num_turns;
    json_decref(u->structured_output);
    u->structured_output = json_incref(ev->result.structured_output);
    rc = set_string(&u->subtype, ev->result.subtype, 256);
    if (rc == 0)
        rc = set_string(&u->result_text, ev->text, MASON_USAGE_MAX_TEXT);
    return rc;
}

int mason_usage_add(struct mason_usage *u, const struct mason_event *ev)
{
    struct mason_usage_part part;
    int rc = usage_session(u, ev);

    if (rc)
        return rc;
    u->events++;
    if (ev->turn > u->session_turns)
        u->session_turns = ev->turn;
    switch (ev->kind) {
    case MASON_EVENT_INIT:
        return set_string(&u->session_model, ev->model, 256);
    case MASON_EVENT_TOOL_CALL:
        u->tool_calls++;
        break;
    case MASON_EVENT_TOOL_RESULT:
        u->tool_errors += ev->is_error;
        break;
    case MASON_EVENT_USAGE:
        part = usage_price(u, ev, &ev->tokens);
        part_add(&u->open, &part);
        break;
    case MASON_EVENT_RESULT:
        return usage_result(u, ev);
    default:
        break;
    }
    return 0;
}

struct mason_usage_part mason_usage_total(const struct mason_usage *u)
{
    struct mason_usage_part total = u->closed;

    part_add(&total, &u->session);
    part_add(&total, &u->open);
    return total;
}

unsigned mason_usage_turns(const struct mason_usage *u)
{
    return u->closed_turns + u->session_turns;
}

bool mason_usage_succeeded(const struct mason_usage *u)
{
    return u->has_result && u->outcome == MASON_OUTCOME_SUCCESS;
}

json_t *mason_usage_to_json(const struct mason_usage *u)
{
    struct mason_usage_part total = mason_usage_total(u);

    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b}", "turns", (json_int_t)mason_usage_turns(u), "toolCalls",
        (json_int_t)u->tool_calls, "inputTokens", (json_int_t)total.tokens.input, "outputTokens",
        (json_int_t)total.tokens.output, "cacheReadTokens", (json_int_t)total.tokens.cache_read,
        "cacheWriteTokens", (json_int_t)total.tokens.cache_write, "costUSD", total.cost_usd,
        "costEstimated", total.estimated);
}
