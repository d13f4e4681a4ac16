#include "scoring_config.h"

#include <string.h>

#include "error.h"
#include "banned.h"

static int read_uint(const json_t *section, const char *key, unsigned long long max,
                     unsigned long long *out, struct mason_buf *err)
{
    const json_t *v = json_object_get(section, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (unsigned long long)json_integer_value(v) > max) {
        mason_buf_addf(err, "scoring.%s: invalid value; use a whole number from 0 to %llu", key,
                       max);
        return MASON_ECONFIG;
    }
    *out = (unsigned long long)json_integer_value(v);
    return 0;
}

static int read_level(const json_t *section, const char *key, double *out, struct mason_buf *err)
{
    const json_t *v = json_object_get(section, key);

    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
        mason_buf_addf(err, "scoring.%s: invalid value; use a score from 0 to 1", key);
        return MASON_ECONFIG;
    }
    *out = json_number_value(v);
    return 0;
}

static int read_uints(const json_t *section, struct mason_scoring *out, struct mason_buf *err)
{
    unsigned long long v[5] = {out->score.window_events, out->score.window_minutes,
                               out->score.loop_repeats, out->score.thrash_flips, out->max_hints};
    unsigned long long burn = out->score.burn_tokens;
    int rc = read_uint(section, "window_events", 100000, &v[0], err);

    if (rc == 0)
        rc = read_uint(section, "window_minutes", 1440, &v[1], err);
    if (rc == 0)
        rc = read_uint(section, "loop_repeats", 1000, &v[2], err);
    if (rc == 0)
        rc = read_uint(section, "thrash_flips", 1000, &v[3], err);
    if (rc == 0)
        rc = read_uint(section, "max_hints", 10, &v[4], err);
    if (rc == 0)
        rc = read_uint(section, "burn_tokens", 1000000000000ULL, &burn, err);
    out->score.window_events = (unsigned)v[0];
    out->score.window_minutes = (unsigned)v[1];
    out->score.loop_repeats = (unsigned)v[2];
    out->score.thrash_flips = (unsigned)v[3];
    out->max_hints = (unsigned)v[4];
    out->score.burn_tokens = burn;
    return rc;
}

static const char *const scoring_keys[] = {
    "enabled",    "window_events", "window_minutes",  "loop_repeats", "thrash_flips", "burn_tokens",
    "warn_below", "hint_below",    "terminate_below", "intervention", "max_hints",    NULL,
};

/* Rejects a key of section that is not in keys, naming it; prefix is the section's path. */
int mason_config_check_keys(const json_t *section, const char *const *keys, const char *prefix,
                            struct mason_buf *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)section, key, value)
    {
        int known = 0;

        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(key, keys[i]) == 0;
        if (!known) {
            mason_buf_addf(err, "%s: unknown key \"%s\"; see docs/configuration.md for the keys",
                           prefix, key);
            return MASON_ECONFIG;
        }
    }
    return 0;
}

int mason_scoring_load(const json_t *section, struct mason_scoring *out, struct mason_buf *err)
{
    const json_t *enabled = json_object_get(section, "enabled");
    const char *intervention = json_string_value(json_object_get(section, "intervention"));
    int rc;

    memset(out, 0, sizeof(*out));
    out->enabled = true;
    out->max_hints = 2;
    mason_score_config_defaults(&out->score);
    if (!section || json_is_null(section))
        return 0;
    if (!json_is_object(section)) {
        mason_buf_adds(err, "scoring: invalid value; use a mapping of scoring keys");
        return MASON_ECONFIG;
    }
    if (enabled)
        out->enabled = json_is_true(enabled);
    rc = mason_config_check_keys(section, scoring_keys, "scoring", err);
    if (rc == 0)
        rc = read_uints(section, out, err);
    if (rc == 0)
        rc = read_level(section, "warn_below", &out->score.warn_below, err);
    if (rc == 0)
        rc = read_level(section, "hint_below", &out->score.hint_below, err);
    if (rc == 0)
        rc = read_level(section, "terminate_below", &out->score.terminate_below, err);
    if (rc == 0 && intervention &&
        mason_intervention_lookup(intervention, &out->score.intervention) != 0) {
        mason_buf_addf(
            err, "scoring.intervention: invalid value \"%s\"; use none, warn, hint or terminate",
            intervention);
        rc = MASON_ECONFIG;
    }
    if (rc == 0 && mason_score_config_check(&out->score, err) != 0) {
        mason_buf_addf(err, " (in scoring)");
        rc = MASON_ECONFIG;
    }
    return rc;
}
