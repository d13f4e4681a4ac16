/*
 * The scoring section of the operator configuration: trajectory scoring
 * thresholds and the strongest intervention allowed.
 *
 *   scoring:
 *     enabled: true          # default true
 *     window_events: 100
 *     window_minutes: 30
 *     loop_repeats: 4
 *     thrash_flips: 4
 *     burn_tokens: 250000
 *     warn_below: 0.6
 *     hint_below: 0.4
 *     terminate_below: 0.2
 *     intervention: terminate   # none, warn, hint or terminate
 *     max_hints: 2              # hint runs per task before a low score terminates
 */
#ifndef MASON_SCORING_CONFIG_H
#define MASON_SCORING_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "score.h"

struct mason_scoring {
    bool enabled;
    unsigned max_hints;
    struct mason_score_config score;
};

/* Fills out from section (borrowed; NULL gives the defaults). Returns 0 or MASON_ECONFIG
 * with err naming the key and the fix. */
int mason_scoring_load(const json_t *section, struct mason_scoring *out, struct mason_buf *err);

/*
 * Returns MASON_ECONFIG with err naming the first key of section (an
 * object) that keys (NULL-terminated) lacks, "PREFIX: unknown key ...", or 0.
 */
int mason_config_check_keys(const json_t *section, const char *const *keys, const char *prefix,
                            struct mason_buf *err);

#endif
