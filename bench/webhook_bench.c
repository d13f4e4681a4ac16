/*
 * Admission latency benchmark client. It sends one AdmissionReview body to
 * a mason-webhook URL over HTTPS from N threads, each with one keep-alive
 * connection and a fixed number of requests, optionally paced to a total
 * rate. It prints throughput and latency percentiles as one JSON line.
 *
 * usage: webhook_bench URL BODY_FILE CA_FILE CONCURRENCY REQUESTS_PER_THREAD [RATE]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    pthread_t thread;
    const char *url;
    const char *body;
    long body_len;
    const char *ca_file;
    long requests;
    double interval; /* seconds between requests of this thread; 0 for back to back */
    double *latencies;
    long done;
    long failed;
};

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static void sleep_until(double deadline)
{
    double left = deadline - now_seconds();
    struct timespec ts;

    if (left <= 0)
        return;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    double next = now_seconds();

    curl_easy_setopt(curl, CURLOPT_URL, w->url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, w->body_len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CAINFO, w->ca_file);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    for (long i = 0; i < w->requests; i++) {
        double start;
        long status = 0;

        if (w->interval > 0) {
            sleep_until(next);
            next += w->interval;
        }
        start = now_seconds();
        if (curl_easy_perform(curl) != CURLE_OK)
            w->failed++;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            w->failed++;
        w->latencies[w->done++] = now_seconds() - start;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return NULL;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double p)
{
    long index = (long)(p * (double)(n - 1) + 0.5);

    return n ? sorted[index] : 0;
}

static char *read_all(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *data;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)*len + 1);
    if (data && fread(data, 1, (size_t)*len, f) != (size_t)*len) {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

int main(int argc, char **argv)
{
    long body_len = 0, concurrency, per_thread, total, count = 0, failed = 0;
    double rate, start, elapsed, *all;
    struct worker *workers;
    char *body;

    if (argc < 6) {
        fprintf(
            stderr,
            "usage: webhook_bench URL BODY_FILE CA_FILE CONCURRENCY REQUESTS_PER_THREAD [RATE]\n");
        return 2;
    }
    body = read_all(argv[2], &body_len);
    concurrency = strtol(argv[4], NULL, 10);
    per_thread = strtol(argv[5], NULL, 10);
    rate = argc > 6 ? strtod(argv[6], NULL) : 0;
    if (!body || concurrency < 1 || concurrency > 1024 || per_thread < 1 || per_thread > 10000000) {
        fprintf(stderr, "webhook_bench: invalid arguments or unreadable %s\n", argv[2]);
        return 2;
    }
    total = concurrency * per_thread;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    workers = calloc((size_t)concurrency, sizeof(*workers));
    all = malloc((size_t)total * sizeof(*all));
    start = now_seconds();
    for (long i = 0; i < concurrency; i++) {
        workers[i] = (struct worker){.url = argv[1],
                                     .body = body,
                                     .body_len = body_len,
                                     .ca_file = argv[3],
                                     .requests = per_thread,
                                     .interval = rate > 0 ? (double)concurrency / rate : 0};
        workers[i].latencies = malloc((size_t)per_thread * sizeof(double));
        pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]);
    }
    for (long i = 0; i < concurrency; i++) {
        pthread_join(workers[i].thread, NULL);
        memcpy(all + count, workers[i].latencies, (size_t)workers[i].done * sizeof(double));
        count += workers[i].done;
        failed += workers[i].failed;
        free(workers[i].latencies);
    }
    elapsed = now_seconds() - start;
    qsort(all, (size_t)count, sizeof(*all), compare);
    printf("{\"concurrency\": %ld, \"requests\": %ld, \"failed\": %ld, \"seconds\": %.3f, "
           "\"throughput_rps\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f}\n",
           concurrency, count, failed, elapsed, (double)count / elapsed,
           percentile(all, count, 0.50) * 1e3, percentile(all, count, 0.99) * 1e3,
           percentile(all, count, 0.999) * 1e3);
    free(all);
    free(workers);
    free(body);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
