/* Request counters and latency histograms (see metrics.h). */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "banned.h"

/* Label combinations are few (4 endpoints, 5 operations, 7 decisions); past this cap
 * requests count under operation "other". */
#define MAX_SERIES 256
#define MAX_ENDPOINTS 8

/* Histogram bucket upper bounds in seconds. */
static const double bucket_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
#define BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

struct series {
    const char *endpoint;
    const char *decision;
    char operation[16];
    unsigned long long count;
};

struct histogram {
    const char *endpoint;
    unsigned long long buckets[BUCKETS]; /* not cumulative; summed when rendered */
    unsigned long long count;
    double sum;
};

struct mason_metrics {
    pthread_mutex_t lock;
    struct series series[MAX_SERIES];
    size_t series_count;
    struct histogram histograms[MAX_ENDPOINTS];
    size_t histogram_count;
};

struct mason_metrics *mason_metrics_create(void)
{
    struct mason_metrics *m = calloc(1, sizeof(*m));

    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void mason_metrics_free(struct mason_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static struct series *find_series(struct mason_metrics *m, const char *endpoint,
                                  const char *operation, const char *decision)
{
    struct series *s;

    for (size_t i = 0; i < m->series_count; i++) {
        s = &m->series[i];
        if (!strcmp(s->endpoint, endpoint) && !strcmp(s->decision, decision) &&
            !strcmp(s->operation, operation))
            return s;
    }
    if (m->series_count == MAX_SERIES)
        return strcmp(operation, "other") ? find_series(m, endpoint, "other", decision) : NULL;
    s = &m->series[m->series_count++];
    s->endpoint = endpoint;
    s->decision = decision;
    memcpy(s->operation, operation, strlen(operation) + 1);
    return s;
}

static struct histogram *find_histogram(struct mason_metrics *m, const char *endpoint)
{
    for (size_t i = 0; i < m->histogram_count; i++)
        if (!strcmp(m->histograms[i].endpoint, endpoint))
            return &m->histograms[i];
    if (m->histogram_count == MAX_ENDPOINTS)
        return NULL;
    m->histograms[m->histogram_count].endpoint = endpoint;
    return &m->histograms[m->histogram_count++];
}

void mason_metrics_observe(struct mason_metrics *m, const char *endpoint, const char *operation,
                           const char *decision, double seconds)
{
    struct series *s;
    struct histogram *h;

    /* The operation comes from the request, so only a plain word becomes a label value. */
    if (!operation || !*operation || strlen(operation) >= sizeof(s->operation) ||
        strspn(operation, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(operation))
        operation = "unknown";
    pthread_mutex_lock(&m->lock);
    s = find_series(m, endpoint, operation, decision);
    if (s)
        s->count++;
    h = find_histogram(m, endpoint);
    if (h) {
        for (size_t b = 0; b < BUCKETS; b++) {
            if (seconds <= bucket_bounds[b]) {
                h->buckets[b]++;
                break;
            }
        }
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->lock);
}

static int render_histogram(const struct histogram *h, struct mason_buf *out)
{
    unsigned long long cumulative = 0;
    int rc = 0;

    for (size_t b = 0; b < BUCKETS && !rc; b++) {
        cumulative += h->buckets[b];
        rc = mason_buf_addf(
            out, "mason_webhook_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
            h->endpoint, bucket_bounds[b], cumulative);
    }
    if (!rc)
        rc = mason_buf_addf(
            out,
            "mason_webhook_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
            h->endpoint, h->count);
    if (!rc)
        rc = mason_buf_addf(out,
                            "mason_webhook_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n",
                            h->endpoint, h->sum);
    if (!rc)
        rc = mason_buf_addf(out,
                            "mason_webhook_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                            h->endpoint, h->count);
    return rc;
}

int mason_metrics_render(struct mason_metrics *m, struct mason_buf *out)
{
    int rc;

    pthread_mutex_lock(&m->lock);
    rc = mason_buf_adds(
        out,
        "# HELP mason_webhook_requests_total Admission requests by endpoint, operation and decision.\n# TYPE mason_webhook_requests_total counter\n");
    for (size_t i = 0; i < m->series_count && !rc; i++) {
        const struct series *s = &m->series[i];

        rc = mason_buf_addf(
            out,
            "mason_webhook_requests_total{endpoint=\"%s\",operation=\"%s\",decision=\"%s\"} %llu\n",
            s->endpoint, s->operation, s->decision, s->count);
    }
    if (!rc)
        rc = mason_buf_adds(
            out,
            "# HELP mason_webhook_request_duration_seconds Time to decide one admission request.\n# TYPE mason_webhook_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->histogram_count && !rc; i++)
        rc = render_histogram(&m->histograms[i], out);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
