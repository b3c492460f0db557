/* prom.c - a worker statistics snapshot in the Prometheus text exposition format 0.0.4
 * (bullc_worker_stats_prometheus). */
#include "util/buf.h"
#include "util/sized.h"

#include <stdio.h>
#include <string.h>

/* A label value with \ " and newline escaped, as the format requires. */
static void put_label_value(bullc__buf *b, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\')
            bullc__buf_puts(b, "\\\\");
        else if (*v == '"')
            bullc__buf_puts(b, "\\\"");
        else if (*v == '\n')
            bullc__buf_puts(b, "\\n");
        else
            bullc__buf_append(b, v, 1);
    }
}

static void head(bullc__buf *b, const char *name, const char *type, const char *help)
{
    bullc__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{queue="q"<extra>} value: `extra` is ",key=\"v\"" or "". */
static void sample(bullc__buf *b, const char *name, const char *queue, const char *extra,
                   const char *value)
{
    bullc__buf_printf(b, "%s{queue=\"", name);
    put_label_value(b, queue);
    bullc__buf_printf(b, "\"%s} %s\n", extra, value);
}

static void sample_ull(bullc__buf *b, const char *name, const char *queue, const char *extra,
                       unsigned long long v)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", v);
    sample(b, name, queue, extra, num);
}

static void outcomes(bullc__buf *b, const bullc_worker_stats_t *s)
{
    head(b, "bullc_jobs_total", "counter",
         "Jobs whose outcome Redis recorded: completed, failed for good, or retried.");
    sample_ull(b, "bullc_jobs_total", s->queue, ",outcome=\"completed\"", s->completed);
    sample_ull(b, "bullc_jobs_total", s->queue, ",outcome=\"failed\"", s->failed);
    sample_ull(b, "bullc_jobs_total", s->queue, ",outcome=\"retried\"", s->retried);
}

static void histogram(bullc__buf *b, const bullc_worker_stats_t *s)
{
    const char *name = "bullc_job_duration_seconds";
    head(b, name, "histogram",
         "Handler run time of each job counted in bullc_jobs_total (0 when it failed unrun).");
    char extra[64], num[64];
    for (int i = 0; i < BULLC_STATS_BUCKETS; i++) {
        snprintf(extra, sizeof extra, ",le=\"%g\"", s->duration_le[i]);
        sample_ull(b, "bullc_job_duration_seconds_bucket", s->queue, extra,
                   s->duration_buckets[i]);
    }
    sample_ull(b, "bullc_job_duration_seconds_bucket", s->queue, ",le=\"+Inf\"",
               s->duration_count);
    snprintf(num, sizeof num, "%.6f", s->duration_sum_s);
    sample(b, "bullc_job_duration_seconds_sum", s->queue, "", num);
    sample_ull(b, "bullc_job_duration_seconds_count", s->queue, "", s->duration_count);
}

static void gauge(bullc__buf *b, const bullc_worker_stats_t *s, const char *name,
                  const char *help, long long v)
{
    char num[32];
    head(b, name, "gauge", help);
    snprintf(num, sizeof num, "%lld", v);
    sample(b, name, s->queue, "", num);
}

static void health(bullc__buf *b, const bullc_worker_stats_t *s)
{
    gauge(b, s, "bullc_jobs_active", "Jobs the worker's handler threads hold now.", s->active);
    gauge(b, s, "bullc_concurrency", "Handler threads (the concurrency option).", s->concurrency);
    gauge(b, s, "bullc_worker_running", "1 while the worker runs.", s->running);
    gauge(b, s, "bullc_redis_up", "1 when the worker's last exchange with Redis worked.",
          s->redis_up);
    head(b, "bullc_redis_reconnects_total", "counter",
         "Connects of the worker's connections after their first.");
    sample_ull(b, "bullc_redis_reconnects_total", s->queue, "", s->reconnects);
    char num[32];
    head(b, "bullc_blocking_loop_age_seconds", "gauge",
         "Seconds since the blocking loop last came round (0 while it has nothing to wait for).");
    snprintf(num, sizeof num, "%.3f", (double)s->loop_age_ms / 1000.0);
    sample(b, "bullc_blocking_loop_age_seconds", s->queue, "", num);
    gauge(b, s, "bullc_blocking_loop_stalled", "1 when the blocking loop is overdue.",
          s->loop_stalled);
    head(b, "bullc_trace_spans_dropped_total", "counter",
         "Trace spans not exported (export queue full, or the collector failed).");
    sample_ull(b, "bullc_trace_spans_dropped_total", s->queue, "", s->trace_spans_dropped);
    head(b, "bullc_trace_spans_exported_total", "counter", "Trace spans a collector accepted.");
    sample_ull(b, "bullc_trace_spans_exported_total", s->queue, "", s->trace_spans_exported);
}

int bullc_worker_stats_prometheus_sized(const bullc_worker_stats_t *stats, size_t size,
                                        char **text_out)
{
    if (text_out)
        *text_out = NULL;
    if (!stats || !text_out)
        return BULLC_EINVAL;
    bullc_worker_stats_t s;
    memset(&s, 0, sizeof s);
    if (bullc__sized_read(&s, sizeof s, stats, size) != 0)
        return BULLC_EINVAL;
    bullc__buf b;
    bullc__buf_init(&b);
    outcomes(&b, &s);
    histogram(&b, &s);
    health(&b, &s);
    *text_out = bullc__buf_take(&b);
    return *text_out ? BULLC_OK : BULLC_ENOMEM;
}
