/* test_stats.c - unit tests for worker statistics: the counters' bookkeeping, the snapshot of a
 * worker that never ran, the exact Prometheus text of a given snapshot; and log lines carrying
 * their job (log_job_cb). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static bullc_worker_stats_t sample_stats(void)
{
    static const double le[BULLC_STATS_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                   0.5,   1,    2.5,   5,    10};
    static const unsigned long long cum[BULLC_STATS_BUCKETS] = {1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5};
    bullc_worker_stats_t s;
    memset(&s, 0, sizeof s);
    s.queue = "mail\"x";
    s.completed = 3;
    s.failed = 1;
    s.retried = 2;
    s.duration_count = 6;
    s.duration_sum_s = 12.5;
    memcpy(s.duration_le, le, sizeof le);
    memcpy(s.duration_buckets, cum, sizeof cum);
    s.active = 2;
    s.concurrency = 4;
    s.running = 1;
    s.redis_up = 1;
    s.reconnects = 7;
    s.loop_age_ms = 1500;
    return s;
}

static const char expected_text[] =
    "# HELP bullc_jobs_total Jobs whose outcome Redis recorded: completed, failed for good, or "
    "retried.\n"
    "# TYPE bullc_jobs_total counter\n"
    "bullc_jobs_total{queue=\"mail\\\"x\",outcome=\"completed\"} 3\n"
    "bullc_jobs_total{queue=\"mail\\\"x\",outcome=\"failed\"} 1\n"
    "bullc_jobs_total{queue=\"mail\\\"x\",outcome=\"retried\"} 2\n"
    "# HELP bullc_job_duration_seconds Handler run time of each job counted in bullc_jobs_total "
    "(0 when it failed unrun).\n"
    "# TYPE bullc_job_duration_seconds histogram\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.005\"} 1\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.01\"} 2\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.025\"} 2\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.05\"} 3\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.1\"} 3\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.25\"} 4\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"0.5\"} 4\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"1\"} 4\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"2.5\"} 5\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"5\"} 5\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"10\"} 5\n"
    "bullc_job_duration_seconds_bucket{queue=\"mail\\\"x\",le=\"+Inf\"} 6\n"
    "bullc_job_duration_seconds_sum{queue=\"mail\\\"x\"} 12.500000\n"
    "bullc_job_duration_seconds_count{queue=\"mail\\\"x\"} 6\n"
    "# HELP bullc_jobs_active Jobs the worker's handler threads hold now.\n"
    "# TYPE bullc_jobs_active gauge\n"
    "bullc_jobs_active{queue=\"mail\\\"x\"} 2\n"
    "# HELP bullc_concurrency Handler threads (the concurrency option).\n"
    "# TYPE bullc_concurrency gauge\n"
    "bullc_concurrency{queue=\"mail\\\"x\"} 4\n"
    "# HELP bullc_worker_running 1 while the worker runs.\n"
    "# TYPE bullc_worker_running gauge\n"
    "bullc_worker_running{queue=\"mail\\\"x\"} 1\n"
    "# HELP bullc_redis_up 1 when the worker's last exchange with Redis worked.\n"
    "# TYPE bullc_redis_up gauge\n"
    "bullc_redis_up{queue=\"mail\\\"x\"} 1\n"
    "# HELP bullc_redis_reconnects_total Connects of the worker's connections after their "
    "first.\n"
    "# TYPE bullc_redis_reconnects_total counter\n"
    "bullc_redis_reconnects_total{queue=\"mail\\\"x\"} 7\n"
    "# HELP bullc_blocking_loop_age_seconds Seconds since the blocking loop last came round (0 "
    "while it has nothing to wait for).\n"
    "# TYPE bullc_blocking_loop_age_seconds gauge\n"
    "bullc_blocking_loop_age_seconds{queue=\"mail\\\"x\"} 1.500\n"
    "# HELP bullc_blocking_loop_stalled 1 when the blocking loop is overdue.\n"
    "# TYPE bullc_blocking_loop_stalled gauge\n"
    "bullc_blocking_loop_stalled{queue=\"mail\\\"x\"} 0\n"
    "# HELP bullc_trace_spans_dropped_total Trace spans not exported (export queue full, or the "
    "collector failed).\n"
    "# TYPE bullc_trace_spans_dropped_total counter\n"
    "bullc_trace_spans_dropped_total{queue=\"mail\\\"x\"} 0\n"
    "# HELP bullc_trace_spans_exported_total Trace spans a collector accepted.\n"
    "# TYPE bullc_trace_spans_exported_total counter\n"
    "bullc_trace_spans_exported_total{queue=\"mail\\\"x\"} 0\n";

static void prometheus_exact_text(void **state)
{
    (void)state;
    bullc_worker_stats_t s = sample_stats();
    char *text = NULL;
    assert_int_equal(bullc_worker_stats_prometheus(&s, &text), 0);
    assert_non_null(text);
    assert_string_equal(text, expected_text);
    bullc_free(text);
}

static void prometheus_refuses(void **state)
{
    (void)state;
    char *text = (char *)"x";
    assert_int_equal(bullc_worker_stats_prometheus(NULL, &text), BULLC_EINVAL);
    assert_null(text);
    /* a program's struct with a field this library does not know set: refused */
    struct {
        bullc_worker_stats_t s;
        int newer;
    } big;
    memset(&big, 0, sizeof big);
    big.newer = 1;
    assert_int_equal(bullc_worker_stats_prometheus_sized(&big.s, sizeof big, &text),
                     BULLC_EINVAL);
    /* an older, shorter struct: the missing fields read as 0 */
    bullc_worker_stats_t s = sample_stats();
    assert_int_equal(bullc_worker_stats_prometheus_sized(&s, offsetof(bullc_worker_stats_t, active),
                                                         &text),
                     0);
    assert_non_null(strstr(text, "bullc_concurrency{queue=\"mail\\\"x\"} 0\n"));
    assert_non_null(strstr(text, "bullc_jobs_total{queue=\"mail\\\"x\",outcome=\"retried\"} 2\n"));
    bullc_free(text);
}

/* Outcomes and run times land in the right counters and buckets; the snapshot's histogram count
 * equals completed + failed + retried. */
static void counters_and_snapshot(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    bullc_worker_opts_init(&o);
    o.queue = "q";
    o.concurrency = 3;
    bullc_worker_t *w = NULL;
    assert_int_equal(bullc_worker_new(&w, &o), 0);
    bullc__stats_outcome(&w->stats, BULLC_EVENT_COMPLETED, 4000);     /* <= 5 ms */
    bullc__stats_outcome(&w->stats, BULLC_EVENT_COMPLETED, 5000);     /* <= 5 ms (inclusive) */
    bullc__stats_outcome(&w->stats, BULLC_EVENT_RETRYING, 300000);    /* <= 0.5 s */
    bullc__stats_outcome(&w->stats, BULLC_EVENT_FAILED, 0);           /* unrun */
    bullc__stats_outcome(&w->stats, BULLC_EVENT_FAILED, 60000000);    /* > 10 s */
    bullc__stats_outcome(&w->stats, BULLC_EVENT_LOCK_LOST, 1000);     /* not an outcome */
    bullc__stats_active(&w->stats, 1);
    bullc__stats_connected(&w->stats, 0);
    bullc__stats_connected(&w->stats, 1);
    bullc_worker_stats_t s;
    memset(&s, 0xff, sizeof s);
    assert_int_equal(bullc_worker_stats(w, &s), 0);
    assert_string_equal(s.queue, "q");
    assert_int_equal(s.completed, 2);
    assert_int_equal(s.failed, 2);
    assert_int_equal(s.retried, 1);
    assert_int_equal(s.duration_count, 5);
    assert_int_equal(s.duration_buckets[0], 3);
    assert_int_equal(s.duration_buckets[5], 3);
    assert_int_equal(s.duration_buckets[6], 4);
    assert_int_equal(s.duration_buckets[BULLC_STATS_BUCKETS - 1], 4);
    assert_true(s.duration_sum_s > 60.30 && s.duration_sum_s < 60.31);
    assert_true(s.duration_le[0] == 0.005 && s.duration_le[BULLC_STATS_BUCKETS - 1] == 10);
    assert_int_equal(s.active, 1);
    assert_int_equal(s.concurrency, 3);
    assert_int_equal(s.running, 0);
    assert_int_equal(s.redis_up, 1);
    assert_int_equal(s.reconnects, 1);
    assert_int_equal(s.loop_parked, 1);
    assert_int_equal(s.loop_age_ms, 0);
    assert_int_equal(s.loop_stalled, 0);
    bullc__stats_down(&w->stats);
    assert_int_equal(bullc_worker_stats(w, &s), 0);
    assert_int_equal(s.redis_up, 0);
    assert_int_equal(bullc_worker_stats(NULL, &s), BULLC_EINVAL);
    assert_int_equal(bullc_worker_stats(w, NULL), BULLC_EINVAL);
    bullc_worker_free(w);
}

/* log_job_cb gets the job the logging thread works on, and NULL once it is done with it;
 * without log_job_cb, log_cb gets the line. */
static const bullc_job_t *g_seen_job;
static char g_seen_line[64];
static int g_plain_calls;

static void job_cb(bullc_log_level_t level, const char *message, const bullc_job_t *job, void *ud)
{
    (void)level;
    (void)ud;
    g_seen_job = job;
    snprintf(g_seen_line, sizeof g_seen_line, "%s", message);
}

static void plain_cb(bullc_log_level_t level, const char *message, void *ud)
{
    (void)level;
    (void)message;
    (void)ud;
    g_plain_calls++;
}

static void log_carries_job(void **state)
{
    (void)state;
    bullc__logger lg = {plain_cb, NULL, BULLC_LOG_INFO, job_cb};
    const bullc_job_t *fake = (const bullc_job_t *)&lg; /* only compared, never read */
    bullc__log_job(&lg, fake, BULLC_LOG_WARN, "job %d: lost", 7);
    assert_ptr_equal(g_seen_job, fake);
    assert_string_equal(g_seen_line, "job 7: lost");
    bullc__log(&lg, BULLC_LOG_INFO, "%s", "idle");
    assert_null(g_seen_job);
    assert_int_equal(g_plain_calls, 0);
    bullc__log(&lg, BULLC_LOG_DEBUG, "%s", "filtered"); /* above the level */
    assert_string_equal(g_seen_line, "idle");
    lg.job_cb = NULL;
    bullc__log(&lg, BULLC_LOG_INFO, "%s", "plain");
    assert_int_equal(g_plain_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prometheus_exact_text),
        cmocka_unit_test(prometheus_refuses),
        cmocka_unit_test(counters_and_snapshot),
        cmocka_unit_test(log_carries_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
