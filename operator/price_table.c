#include "price_table.h"

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "error.h"
#include "scoring_config.h"
#include "banned.h"

static int price_number(const json_t *entry, size_t i, const char *key, double *out,
                        struct mason_buf *err)
{
    const json_t *v = json_object_get(entry, key);

    if (!v) {
        *out = 0;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < 0) {
        mason_buf_addf(
            err,
            "pricing[%zu].%s: invalid value; use a price in US dollars per million tokens, such as 3.0",
            i, key);
        return MASON_ECONFIG;
    }
    *out = json_number_value(v);
    return 0;
}

static int load_entry(const json_t *entry, size_t i, struct mason_price *p, struct mason_buf *err)
{
    static const char *const keys[] = {"model",      "input",       "output",
                                       "cache_read", "cache_write", NULL};
    const char *model = json_string_value(json_object_get(entry, "model"));
    char prefix[32];
    int rc;

    snprintf(prefix, sizeof(prefix), "pricing[%zu]", i);
    if (!json_is_object(entry) || mason_config_check_keys(entry, keys, prefix, err) != 0) {
        if (!err->len)
            mason_buf_addf(err,
                           "%s: invalid entry; use {model, input, output, cache_read, cache_write}",
                           prefix);
        return MASON_ECONFIG;
    }
    if (!model || !*model) {
        mason_buf_addf(err, "pricing[%zu].model: missing; give the model name or its prefix", i);
        return MASON_ECONFIG;
    }
    p->model = strdup(model);
    if (!p->model)
        return MASON_ENOMEM;
    rc = price_number(entry, i, "input", &p->input, err);
    if (rc == 0)
        rc = price_number(entry, i, "output", &p->output, err);
    if (rc == 0)
        rc = price_number(entry, i, "cache_read", &p->cache_read, err);
    if (rc == 0)
        rc = price_number(entry, i, "cache_write", &p->cache_write, err);
    return rc;
}

int mason_price_table_load(const json_t *section, struct mason_pricing *out, struct mason_buf *err)
{
    struct mason_price *prices;
    size_t n = json_array_size(section);
    int rc = 0;

    *out = mason_pricing_defaults;
    if (!section || json_is_null(section))
        return 0;
    if (!json_is_array(section)) {
        mason_buf_adds(
            err,
            "pricing: invalid value; use a list of {model, input, output, cache_read, cache_write}");
        return MASON_ECONFIG;
    }
    prices = calloc(n ? n : 1, sizeof(*prices));
    if (!prices)
        return MASON_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_entry(json_array_get(section, i), i, &prices[i], err);
    out->prices = prices;
    out->count = n;
    if (rc != 0)
        mason_price_table_release(out);
    return rc;
}

void mason_price_table_release(struct mason_pricing *p)
{
    if (p->prices && p->prices != mason_pricing_defaults.prices) {
        for (size_t i = 0; i < p->count; i++)
            free((char *)p->prices[i].model);
        free((struct mason_price *)p->prices);
    }
    *p = mason_pricing_defaults;
}
