#include "runs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "usage.h"
#include "banned.h"

/* Cost samples kept for the cost-per-10-minutes ceiling: one per event that changed the cost. */
#define COST_WINDOW_SECONDS 600
#define COST_SAMPLES 256
#define COST_SAMPLE_SECONDS 5 /* 256 slots of 5 s reach back 21 minutes */

struct cost_sample {
    time_t at;
    double cost;
};

struct run_entry {
    struct run_entry *next;
    char *uid;
    int index;
    struct mason_usage usage;
    time_t started;
    time_t last_event;
    bool stream_ended;
    bool warned;
    struct mason_score *score;
    struct cost_sample samples[COST_SAMPLES];
    unsigned sample_next, sample_count;
};

struct mason_runs {
    pthread_mutex_t lock;
    struct run_entry *head;
    const struct mason_pricing *pricing;
    const struct mason_score_config *scoring;
    size_t count;
};

struct mason_runs *mason_runs_create(const struct mason_pricing *pricing,
                                     const struct mason_score_config *scoring)
{
    struct mason_runs *runs = calloc(1, sizeof(*runs));

    if (!runs)
        return NULL;
    pthread_mutex_init(&runs->lock, NULL);
    runs->pricing = pricing;
    runs->scoring = scoring;
    return runs;
}

static void entry_free(struct run_entry *e)
{
    mason_usage_release(&e->usage);
    mason_score_free(e->score);
    free(e->uid);
    free(e);
}

void mason_runs_free(struct mason_runs *runs)
{
    if (!runs)
        return;
    while (runs->head) {
        struct run_entry *e = runs->head;

        runs->head = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&runs->lock);
    free(runs);
}

/* Returns the entry of (uid, index); the lock is held. */
static struct run_entry *find(struct mason_runs *runs, const char *uid, int index)
{
    for (struct run_entry *e = runs->head; e; e = e->next) {
        if (e->index == index && strcmp(e->uid, uid) == 0)
            return e;
    }
    return NULL;
}

int mason_runs_add(struct mason_runs *runs, const char *uid, int index, const char *model)
{
    struct run_entry *e;
    int rc = 1;

    pthread_mutex_lock(&runs->lock);
    if (find(runs, uid, index)) {
        rc = 0;
        goto out;
    }
    e = calloc(1, sizeof(*e));
    if (!e || !(e->uid = strdup(uid)) || mason_usage_init(&e->usage, runs->pricing, model) != 0) {
        if (e)
            free(e->uid);
        free(e);
        rc = MASON_ENOMEM;
        goto out;
    }
    if (runs->scoring && !(e->score = mason_score_create(runs->scoring))) {
        entry_free(e);
        rc = MASON_ENOMEM;
        goto out;
    }
    e->index = index;
    e->started = time(NULL);
    e->next = runs->head;
    runs->head = e;
    runs->count++;
out:
    pthread_mutex_unlock(&runs->lock);
    return rc;
}

bool mason_runs_has(struct mason_runs *runs, const char *uid, int index)
{
    bool found;

    pthread_mutex_lock(&runs->lock);
    found = find(runs, uid, index) != NULL;
    pthread_mutex_unlock(&runs->lock);
    return found;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool mason_runs_warn_once(struct mason_runs *runs, const char *uid, int index)
{
    struct run_entry *e;
    bool before = true;

    pthread_mutex_lock(&runs->lock);
    e = find(runs, uid, index);
    if (e) {
        before = e->warned;
        e->warned = true;
    }
    pthread_mutex_unlock(&runs->lock);
    return before;
}

/* Copies the scorer's result into the snapshot; the lock is held. */
static void snapshot_score(const struct run_entry *e, struct mason_run_snapshot *out)
{
    const struct mason_score_result *res = e->score ? mason_score_result(e->score) : NULL;
    struct mason_buf line = MASON_BUF_INIT;

    if (!res || res->events == 0)
        return;
    out->scored = true;
    out->score = res->score;
    out->score_reasons = json_array();
    for (unsigned i = 0; i < res->reasons_count && i < 5; i++) {
        mason_buf_reset(&line);
        mason_score_reason_format(&res->reasons[i], &line);
        json_array_append_new(out->score_reasons, json_string(mason_buf_str(&line)));
    }
    mason_buf_reset(&line);
    mason_score_hint(res, &line);
    out->hint = line.len ? mason_buf_detach(&line) : NULL;
    mason_buf_release(&line);
}

/*
 * Records the run's total cost at now. Samples less than COST_SAMPLE_SECONDS
 * apart share one slot, so the ring always reaches back past the window.
 */
static void add_cost_sample(struct run_entry *e, double cost, time_t now)
{
    unsigned last = (e->sample_next + COST_SAMPLES - 1) % COST_SAMPLES;

    if (e->sample_count > 0 && now - e->samples[last].at < COST_SAMPLE_SECONDS) {
        e->samples[last].cost = cost;
        return;
    }
    e->samples[e->sample_next] = (struct cost_sample){now, cost};
    e->sample_next = (e->sample_next + 1) % COST_SAMPLES;
    if (e->sample_count < COST_SAMPLES)
        e->sample_count++;
}

void mason_runs_event(struct mason_runs *runs, const char *uid, int index,
                      const struct mason_event *ev)
{
    struct run_entry *e;

    pthread_mutex_lock(&runs->lock);
    e = find(runs, uid, index);
    if (e) {
        double before = mason_usage_total(&e->usage).cost_usd;
        double after;

        mason_usage_add(&e->usage, ev);
        if (e->score)
            mason_score_feed(e->score, ev, now_ms());
        e->last_event = time(NULL);
        after = mason_usage_total(&e->usage).cost_usd;
        if (after != before)
            add_cost_sample(e, after, e->last_event);
    }
    pthread_mutex_unlock(&runs->lock);
}

void mason_runs_stream_ended(struct mason_runs *runs, const char *uid, int index)
{
    struct run_entry *e;

    pthread_mutex_lock(&runs->lock);
    e = find(runs, uid, index);
    if (e)
        e->stream_ended = true;
    pthread_mutex_unlock(&runs->lock);
}

/* The cost spent within the last ten minutes: now's total minus the total before the window. */
static double cost_in_window(const struct run_entry *e, double total, time_t now)
{
    double before = 0;

    for (unsigned i = 0; i < e->sample_count; i++) {
        const struct cost_sample *s = &e->samples[i];

        if (s->at < now - COST_WINDOW_SECONDS && s->cost > before)
            before = s->cost;
    }
    return total - before;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void mason_runs_snapshot(struct mason_runs *runs, const char *uid, int index,
                         struct mason_run_snapshot *out)
{
    struct run_entry *e;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&runs->lock);
    e = find(runs, uid, index);
    if (e) {
        struct mason_usage_part total = mason_usage_total(&e->usage);

        out->found = true;
        out->usage = mason_usage_to_json(&e->usage);
        out->cost_usd = total.cost_usd;
        out->turns = mason_usage_turns(&e->usage);
        out->session_id = dup_or_null(e->usage.session_id);
        out->has_result = e->usage.has_result;
        out->outcome = e->usage.outcome;
        out->result_text = dup_or_null(e->usage.result_text);
        out->started = e->started;
        out->last_event = e->last_event;
        out->cost_last_10_minutes = cost_in_window(e, total.cost_usd, time(NULL));
        out->stream_ended = e->stream_ended;
        snapshot_score(e, out);
    }
    pthread_mutex_unlock(&runs->lock);
}

void mason_run_snapshot_release(struct mason_run_snapshot *s)
{
    json_decref(s->usage);
    json_decref(s->score_reasons);
    free(s->hint);
    free(s->session_id);
    free(s->result_text);
    memset(s, 0, sizeof(*s));
}

void mason_runs_remove(struct mason_runs *runs, const char *uid, int index)
{
    struct run_entry **p;

    pthread_mutex_lock(&runs->lock);
    for (p = &runs->head; *p; p = &(*p)->next) {
        if ((*p)->index == index && strcmp((*p)->uid, uid) == 0) {
            struct run_entry *e = *p;

            *p = e->next;
            entry_free(e);
            runs->count--;
            break;
        }
    }
    pthread_mutex_unlock(&runs->lock);
}

size_t mason_runs_count(struct mason_runs *runs)
{
    size_t n;

    pthread_mutex_lock(&runs->lock);
    n = runs->count;
    pthread_mutex_unlock(&runs->lock);
    return n;
}
