/* Unit tests for the work queue: de-duplication, processing rules, backoff, delays, workers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "queue.h"

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void take_and_finish(struct mason_queue *q, const char *expected)
{
    char *key = mason_queue_get(q);

    assert_non_null(key);
    assert_string_equal(key, expected);
    mason_queue_done(q, key);
    free(key);
}

static void queue_deduplicates_keys(void **state)
{
    struct mason_queue *q = mason_queue_create();

    (void)state;
    mason_queue_add(q, "ns/a");
    mason_queue_add(q, "ns/b");
    mason_queue_add(q, "ns/a");
    mason_queue_add(q, "ns/a");
    assert_int_equal(mason_queue_len(q), 2);
    take_and_finish(q, "ns/a");
    take_and_finish(q, "ns/b");
    assert_int_equal(mason_queue_len(q), 0);
    mason_queue_free(q);
}

static void queue_requeues_key_added_while_processing(void **state)
{
    struct mason_queue *q = mason_queue_create();
    char *key;

    (void)state;
    mason_queue_add(q, "ns/a");
    key = mason_queue_get(q);
    assert_string_equal(key, "ns/a");
    mason_queue_add(q, "ns/a");
    mason_queue_add(q, "ns/a");
    assert_int_equal(mason_queue_len(q), 0); /* not handed to a second worker */
    mason_queue_done(q, key);
    free(key);
    assert_int_equal(mason_queue_len(q), 1);
    take_and_finish(q, "ns/a");
    assert_int_equal(mason_queue_len(q), 0);
    mason_queue_free(q);
}

static void queue_backoff_doubles_to_cap(void **state)
{
    (void)state;
    assert_int_equal(mason_queue_backoff_ms(1), 5);
    assert_int_equal(mason_queue_backoff_ms(2), 10);
    assert_int_equal(mason_queue_backoff_ms(3), 20);
    assert_int_equal(mason_queue_backoff_ms(18), 5L << 17);
    assert_int_equal(mason_queue_backoff_ms(19), MASON_QUEUE_BACKOFF_MAX_MS);
    assert_int_equal(mason_queue_backoff_ms(1000), MASON_QUEUE_BACKOFF_MAX_MS);
    assert_int_equal(MASON_QUEUE_BACKOFF_MAX_MS, 1000L * 1000);
}

static void queue_rate_limited_counts_and_forgets(void **state)
{
    struct mason_queue *q = mason_queue_create();
    struct timespec start;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 1; i <= 3; i++) {
        mason_queue_add_rate_limited(q, "ns/a");
        assert_int_equal(mason_queue_requeues(q, "ns/a"), i);
        take_and_finish(q, "ns/a");
    }
    assert_true(elapsed_ms(&start) >= 5 + 10 + 20 - 3); /* clock granularity */
    mason_queue_forget(q, "ns/a");
    assert_int_equal(mason_queue_requeues(q, "ns/a"), 0);
    assert_int_equal(mason_queue_requeues(q, "ns/other"), 0);
    mason_queue_free(q);
}

static void queue_delays_add_after(void **state)
{
    struct mason_queue *q = mason_queue_create();
    struct timespec start;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &start);
    mason_queue_add_after(q, "ns/late", 100);
    assert_int_equal(mason_queue_len(q), 0);
    take_and_finish(q, "ns/late");
    assert_true(elapsed_ms(&start) >= 99);

    /* A second, earlier add_after of the same key wins. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    mason_queue_add_after(q, "ns/k", 60000);
    mason_queue_add_after(q, "ns/k", 20);
    take_and_finish(q, "ns/k");
    assert_true(elapsed_ms(&start) < 30000);
    mason_queue_free(q); /* frees the stale 60 s entry */
}

static void queue_delayed_key_already_ready_runs_once(void **state)
{
    struct mason_queue *q = mason_queue_create();

    (void)state;
    mason_queue_add(q, "ns/a");
    mason_queue_add_after(q, "ns/a", 10);
    take_and_finish(q, "ns/a");
    take_and_finish(q, "ns/a"); /* the delayed add comes due after the first one is done */
    mason_queue_add_after(q, "ns/b", 10);
    mason_queue_add_after(q, "ns/b", 10);
    take_and_finish(q, "ns/b");
    assert_int_equal(mason_queue_len(q), 0);
    mason_queue_free(q);
}

static void *get_in_thread(void *arg)
{
    return mason_queue_get(arg);
}

static void queue_shutdown_wakes_waiters(void **state)
{
    struct mason_queue *q = mason_queue_create();
    pthread_t threads[3];
    void *result;

    (void)state;
    mason_queue_add_after(q, "ns/never", 60000);
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, get_in_thread, q);
    mason_queue_shutdown(q);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], &result);
        assert_null(result);
    }
    mason_queue_add(q, "ns/after");
    assert_int_equal(mason_queue_len(q), 0);
    assert_null(mason_queue_get(q));
    mason_queue_free(q);
}

struct work_log {
    pthread_mutex_t lock;
    int processed;
    int busy[10]; /* workers inside fn for key i */
    int overlaps; /* times two workers held the same key */
};

static void work(void *arg, const char *key)
{
    struct work_log *log = arg;
    int i = key[strlen(key) - 1] - '0';
    struct timespec pause = {0, 200000};

    pthread_mutex_lock(&log->lock);
    if (log->busy[i]++)
        log->overlaps++;
    pthread_mutex_unlock(&log->lock);
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&log->lock);
    log->busy[i]--;
    log->processed++;
    pthread_mutex_unlock(&log->lock);
}

static void queue_workers_process_each_key(void **state)
{
    struct mason_queue *q = mason_queue_create();
    struct work_log log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char key[] = "ns/k0";
    int processed = 0;

    (void)state;
    assert_int_equal(mason_queue_start_workers(q, 4, work, &log), 0);
    assert_int_equal(mason_queue_start_workers(q, 4, work, &log), MASON_EINVAL);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 10; i++) {
            key[4] = (char)('0' + i);
            mason_queue_add(q, key);
        }
    }
    for (int wait = 0; wait < 500; wait++) { /* at most 5 s */
        struct timespec pause = {0, 10000000};

        pthread_mutex_lock(&log.lock);
        processed = log.processed;
        pthread_mutex_unlock(&log.lock);
        if (mason_queue_len(q) == 0 && processed >= 10)
            break;
        nanosleep(&pause, NULL);
    }
    mason_queue_shutdown(q);
    mason_queue_join_workers(q);
    assert_true(processed >= 10);
    assert_true(processed <= 500);
    assert_int_equal(log.overlaps, 0);
    mason_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_deduplicates_keys),
        cmocka_unit_test(queue_requeues_key_added_while_processing),
        cmocka_unit_test(queue_backoff_doubles_to_cap),
        cmocka_unit_test(queue_rate_limited_counts_and_forgets),
        cmocka_unit_test(queue_delays_add_after),
        cmocka_unit_test(queue_delayed_key_already_ready_runs_once),
        cmocka_unit_test(queue_shutdown_wakes_waiters),
        cmocka_unit_test(queue_workers_process_each_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
