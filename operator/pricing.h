/*
 * Per-model token prices, to cost a run when the engine reports tokens but
 * no cost (Codex), or reports usage before its final total (Claude Code).
 * A price applies to every model whose name starts with its model prefix;
 * the longest matching prefix wins.
 */
#ifndef MASON_PRICING_H
#define MASON_PRICING_H

#include <stddef.h>

#include "event.h"

/* Prices in USD per million tokens. */
struct mason_price {
    const char *model; /* prefix of the model names it applies to, "claude-sonnet-4-5" */
    double input;
    double output;
    double cache_read;
    double cache_write;
};

struct mason_pricing {
    const struct mason_price *prices; /* borrowed */
    size_t count;
};

/*
 * Built-in defaults: list prices of current Claude and OpenAI models as
 * published by Anthropic and OpenAI in late 2025. They are defaults to
 * override from the configuration, not a source of truth: prices change.
 */
extern const struct mason_pricing mason_pricing_defaults;

/* Returns the price for model (longest prefix match), or NULL when none matches or model is
 * NULL. */
const struct mason_price *mason_pricing_lookup(const struct mason_pricing *pricing,
                                               const char *model);

/* Returns the cost in USD of tokens at price; 0 when price is NULL. */
double mason_pricing_cost(const struct mason_price *price, const struct mason_tokens *tokens);

#endif
