/* jobtrace.c - the spans of a job's attempt, as BullMQ's Worker makes them with telemetry
 * (docs/bullmq.md "Tracing"): `process <queue>` (CONSUMER), child of the producer's span found
 * in the job's `tm`, and its child `complete|retry|delay|fail <queue>` (INTERNAL) around the
 * recording of the outcome; plus the public calls that let a handler read and extend them. Every
 * step returns at once when the worker does not trace. */
#include "engine/engine.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The attributes every BullMQ span carries, and the job's. */
static void base_attrs(bullc__span *sp, const bullc_worker_t *w, const char *op,
                       const bullc_job_t *job)
{
    bullc__span_attr_str(sp, "bullmq.queue.name", w->s_queue);
    bullc__span_attr_str(sp, "bullmq.queue.operation", op);
    bullc__span_attr_str(sp, "bullmq.job.id", job->id);
    bullc__span_attr_str(sp, "bullmq.job.name", job->name);
}

static bullc__span *start_named(bullc_worker_t *w, const char *op, int kind,
                                const bullc__span *parent, const bullc__trace_ctx *remote)
{
    char name[320];
    snprintf(name, sizeof name, "%s %s", op, w->s_queue);
    return bullc__span_start(w->tracer, name, kind, parent, remote);
}

void bullc__jobtrace_begin(bullc__slot *s, bullc_job_t *job)
{
    bullc_worker_t *w = s->w;
    if (!w->tracer)
        return;
    bullc__trace_ctx ctx = {0};
    const char *tm = w->ops->trace_meta ? w->ops->trace_meta(w->proto, job) : NULL;
    /* a carrier that does not parse starts a new trace, as Node's propagator would */
    int remote = tm && bullc__trace_carrier_parse(tm, &ctx) == 0;
    s->span = start_named(w, "process", BULLC__SPAN_CONSUMER, NULL, remote ? &ctx : NULL);
    bullc__trace_ctx_clear(&ctx);
    base_attrs(s->span, w, "process", job);
    bullc__span_attr_str(s->span, "bullmq.worker.id", w->worker_id);
    bullc__span_attr_str(s->span, "bullmq.worker.name", w->s_name); /* none when unnamed */
}

void bullc__jobtrace_settling(bullc__slot *s, bullc__outcome *oc)
{
    if (!s->span)
        return;
    s->settle_span = start_named(s->w, "settle", BULLC__SPAN_INTERNAL, s->span, NULL);
    free(s->settle_meta);
    s->settle_meta = s->settle_span ? bullc__span_carrier(s->settle_span) : NULL;
    oc->trace_meta = s->settle_meta;
}

static const char *operation(const bullc__settle *st)
{
    if (st->event == BULLC_EVENT_COMPLETED)
        return "complete";
    if (st->event == BULLC_EVENT_RETRYING)
        return st->retry_delayed ? "delay" : "retry";
    return "fail";
}

void bullc__jobtrace_settled(bullc__slot *s, const bullc_job_t *job, const bullc__settle *st)
{
    if (!s->settle_span)
        return;
    bullc_worker_t *w = s->w;
    const char *op = operation(st);
    char name[320];
    snprintf(name, sizeof name, "%s %s", op, w->s_queue);
    bullc__span_rename(s->settle_span, name);
    base_attrs(s->settle_span, w, op, job);
    if (st->rc != 0)
        bullc__span_error(s->settle_span, st->errstr[0] ? st->errstr : bullc_strerror(st->rc));
    bullc__span_end(s->settle_span);
    s->settle_span = NULL;
    if (st->rc != 0)
        return; /* nothing recorded: no event, as Node's when its call throws */
    if (st->event == BULLC_EVENT_COMPLETED)
        bullc__span_event(s->span, "job completed", "bullmq.job.result", st->detail);
    else
        bullc__span_event(s->span, "job failed", "bullmq.job.failed.reason", st->detail);
    bullc__span_attr_int(s->span, "bullmq.job.attempts.made", job->atm + 1);
}

void bullc__jobtrace_end(bullc__slot *s, const bullc_job_t *job, int export_it)
{
    if (!s->span)
        return;
    bullc__span_discard(s->settle_span); /* a settle given up half way */
    s->settle_span = NULL;
    free(s->settle_meta);
    s->settle_meta = NULL;
    bullc__span_attr_int(s->span, "bullmq.job.attempt_finished_timestamp", bullc__now_ms());
    const char *processed = bullc_job_field(job, "processedOn");
    long long ms;
    if (processed && bullc__parse_ll(processed, strlen(processed), &ms) == 0)
        bullc__span_attr_int(s->span, "bullmq.job.processed.timestamp", ms);
    if (export_it)
        bullc__span_end(s->span);
    else
        bullc__span_discard(s->span);
    s->span = NULL;
}

/* ---- the public calls ---------------------------------------------------------------------- */

/* The attempt's process span: the slot's, or in a handler process its stand-in
 * (isolate_child.c), whose children the worker exports as if they were made there. */
static bullc__span *job_span(const bullc_job_t *job)
{
    if (!job || !job->run)
        return NULL;
    return job->run->slot ? job->run->slot->span : job->run->span;
}

const char *bullc_job_traceparent(const bullc_job_t *job)
{
    return bullc__span_traceparent(job_span(job));
}

bullc_span_t *bullc_job_span_start(bullc_job_t *job, const char *name, bullc_span_kind_t kind,
                                   bullc_span_t *parent)
{
    if (!job || !job->run)
        return NULL;
    bullc__span *p = parent ? (bullc__span *)parent : job_span(job);
    if (!p || !name || kind < BULLC_SPAN_INTERNAL || kind > BULLC_SPAN_CONSUMER)
        return NULL;
    return (bullc_span_t *)bullc__span_start(job->run->w->tracer, name, (int)kind, p, NULL);
}

void bullc_span_set_str(bullc_span_t *span, const char *key, const char *value)
{
    bullc__span_attr_str((bullc__span *)span, key, value);
}

void bullc_span_set_int(bullc_span_t *span, const char *key, long long value)
{
    bullc__span_attr_int((bullc__span *)span, key, value);
}

void bullc_span_add_event(bullc_span_t *span, const char *name, const char *key,
                          const char *value)
{
    bullc__span_event((bullc__span *)span, name, key, value);
}

void bullc_span_set_error(bullc_span_t *span, const char *message)
{
    bullc__span_error((bullc__span *)span, message);
}

const char *bullc_span_traceparent(const bullc_span_t *span)
{
    return bullc__span_traceparent((const bullc__span *)span);
}

void bullc_span_end(bullc_span_t *span) { bullc__span_end((bullc__span *)span); }
