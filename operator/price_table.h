/*
 * The pricing section of the operator configuration: per-model prices in
 * US dollars per million tokens, used when an engine reports tokens but no
 * cost. Without the section the built-in defaults of pricing.h apply.
 *
 *   pricing:
 *     - model: claude-sonnet-4-5   # prefix of the model names it applies to
 *       input: 3.0
 *       output: 15.0
 *       cache_read: 0.30
 *       cache_write: 3.75
 */
#ifndef MASON_PRICE_TABLE_H
#define MASON_PRICE_TABLE_H

#include <jansson.h>

#include "buf.h"
#include "pricing.h"

/*
 * Fills out from section (borrowed; NULL gives the defaults). Returns 0 or
 * MASON_ECONFIG with err naming the entry and key. Release with
 * mason_price_table_release.
 */
int mason_price_table_load(const json_t *section, struct mason_pricing *out, struct mason_buf *err);

void mason_price_table_release(struct mason_pricing *p);

#endif
