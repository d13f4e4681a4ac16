#include "pricing.h"

#include <string.h>

#include "banned.h"

/*
 * Anthropic prices: cache_write is the 5-minute cache write (1.25 x input),
 * cache_read 0.1 x input. OpenAI charges no cache write; cache_read is the
 * cached-input price.
 */
static const struct mason_price default_prices[] = {
    {"claude-opus-4-5", 5.0, 25.0, 0.50, 6.25},
    {"claude-opus-4-1", 15.0, 75.0, 1.50, 18.75},
    {"claude-opus-4", 15.0, 75.0, 1.50, 18.75},
    {"claude-sonnet-4-5", 3.0, 15.0, 0.30, 3.75},
    {"claude-sonnet-4", 3.0, 15.0, 0.30, 3.75},
    {"claude-3-7-sonnet", 3.0, 15.0, 0.30, 3.75},
    {"claude-haiku-4-5", 1.0, 5.0, 0.10, 1.25},
    {"claude-3-5-haiku", 0.80, 4.0, 0.08, 1.0},
    {"gpt-5-codex", 1.25, 10.0, 0.125, 0.0},
    {"gpt-5-mini", 0.25, 2.0, 0.025, 0.0},
    {"gpt-5-nano", 0.05, 0.40, 0.005, 0.0},
    {"gpt-5", 1.25, 10.0, 0.125, 0.0},
    {"gpt-4.1-mini", 0.40, 1.60, 0.10, 0.0},
    {"gpt-4.1", 2.0, 8.0, 0.50, 0.0},
    {"o4-mini", 1.10, 4.40, 0.275, 0.0},
    {"o3-mini", 1.10, 4.40, 0.55, 0.0},
    {"o3", 2.0, 8.0, 0.50, 0.0},
    {"codex-mini", 1.50, 6.0, 0.375, 0.0},
};

const struct mason_pricing mason_pricing_defaults = {
    default_prices,
    sizeof(default_prices) / sizeof(default_prices[0]),
};

const struct mason_price *mason_pricing_lookup(const struct mason_pricing *pricing,
                                               const char *model)
{
    const struct mason_price *best = NULL;
    size_t best_len = 0;

    if (!pricing || !model)
        return NULL;
    for (size_t i = 0; i < pricing->count; i++) {
        const struct mason_price *p = &pricing->prices[i];
        size_t len = p->model ? strlen(p->model) : 0;

        if (len == 0 || len <= best_len || strncmp(model, p->model, len) != 0)
            continue;
        best = p;
        best_len = len;
    }
    return best;
}

double mason_pricing_cost(const struct mason_price *price, const struct mason_tokens *tokens)
{
    if (!price)
        return 0.0;
    return ((double)tokens->input * price->input + (double)tokens->output * price->output +
            (double)tokens->cache_read * price->cache_read +
            (double)tokens->cache_write * price->cache_write) /
           1e6;
}
