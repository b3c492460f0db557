/* worker_stats.c - bullc_worker_stats: a copy of the worker's live counters (util/stats.h), and
 * whether its blocking loop is overdue. */
#include "engine/engine.h"
#include "util/sized.h"
#include "util/time.h"

#include <string.h>

/* How long a healthy round of the blocking loop may take: its longest wait (the drain delay, or
 * 10 s while a delayed job is pending), any rate-limit wait in progress, and 10 s of slack for
 * the fetch and reconnect backoff that follow. */
static long long loop_budget_ms(const bullc_worker_t *w)
{
    long long budget = w->o.drain_delay_ms > 10000 ? w->o.drain_delay_ms : 10000;
    long long left = bullc__gate_limit_left((bullc__gate *)&w->gate);
    long long most = w->o.maximum_rate_limit_delay_ms;
    return budget + (left < most ? left : most) + 10000;
}

static void loop_state(const bullc_worker_t *w, bullc_worker_stats_t *o)
{
    const bullc__stats *s = &w->stats;
    long long mono = atomic_load(&s->loop_mono_ms);
    o->loop_parked = atomic_load(&s->loop_parked) || !o->running;
    o->loop_last_unix_ms = atomic_load(&s->loop_wall_ms);
    if (mono > 0 && !o->loop_parked)
        o->loop_age_ms = bullc__mono_ms() - mono;
    o->loop_stalled = o->loop_age_ms > loop_budget_ms(w);
}

int bullc_worker_stats_sized(const bullc_worker_t *w, bullc_worker_stats_t *out, size_t size)
{
    if (!w || !out)
        return BULLC_EINVAL;
    static const double bounds[] = BULLC__STATS_BOUNDS;
    const bullc__stats *s = &w->stats;
    bullc_worker_stats_t o;
    memset(&o, 0, sizeof o);
    o.queue = w->s_queue;
    o.completed = atomic_load(&s->completed);
    o.failed = atomic_load(&s->failed);
    o.retried = atomic_load(&s->retried);
    unsigned long long cumulative = 0;
    for (int i = 0; i <= BULLC_STATS_BUCKETS; i++) {
        cumulative += atomic_load(&s->buckets[i]);
        if (i < BULLC_STATS_BUCKETS) {
            o.duration_le[i] = bounds[i];
            o.duration_buckets[i] = cumulative;
        }
    }
    o.duration_count = cumulative;
    o.duration_sum_s = (double)atomic_load(&s->sum_us) / 1e6;
    o.active = atomic_load(&s->active);
    o.concurrency = w->o.concurrency;
    o.running = atomic_load(&s->running);
    o.redis_up = atomic_load(&s->redis_up);
    o.reconnects = atomic_load(&s->reconnects);
    loop_state(w, &o);
    o.trace_spans_dropped = bullc__tracer_dropped(w->tracer);
    o.trace_spans_exported = bullc__tracer_exported(w->tracer);
    bullc__sized_write(out, size, &o, sizeof o);
    return BULLC_OK;
}
