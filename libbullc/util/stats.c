/* stats.c - the worker's live counters (util/stats.h). Every update is one or two relaxed
 * atomic operations: nothing on the job path takes a lock for them. */
#include "util/stats.h"
#include "util/time.h"

#include <string.h>
#include <time.h>

void bullc__stats_init(bullc__stats *s)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->redis_up, 0);
    atomic_init(&s->loop_parked, 1);
}

static void add(atomic_ullong *v, unsigned long long n)
{
    atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

void bullc__stats_outcome(bullc__stats *s, int event, long long run_us)
{
    static const double bounds[] = BULLC__STATS_BOUNDS;
    atomic_ullong *counter = event == BULLC_EVENT_COMPLETED ? &s->completed
                             : event == BULLC_EVENT_FAILED  ? &s->failed
                             : event == BULLC_EVENT_RETRYING ? &s->retried
                                                              : NULL;
    if (!counter)
        return;
    if (run_us < 0)
        run_us = 0;
    size_t b = 0;
    while (b < BULLC__COUNT(bounds) && (double)run_us > bounds[b] * 1e6)
        b++;
    /* the histogram first: a reader that takes the counters first never sees more outcomes
     * than observations */
    add(&s->buckets[b], 1);
    add(&s->sum_us, (unsigned long long)run_us);
    add(counter, 1);
}

void bullc__stats_active(bullc__stats *s, int delta)
{
    atomic_fetch_add_explicit(&s->active, delta, memory_order_relaxed);
}

void bullc__stats_loop(bullc__stats *s, int parked)
{
    atomic_store_explicit(&s->loop_mono_ms, bullc__mono_ms(), memory_order_relaxed);
    atomic_store_explicit(&s->loop_wall_ms, bullc__now_ms(), memory_order_relaxed);
    atomic_store_explicit(&s->loop_parked, parked, memory_order_relaxed);
}

void bullc__stats_connected(bullc__stats *s, int again)
{
    if (!s)
        return;
    if (again)
        add(&s->reconnects, 1);
    atomic_store_explicit(&s->redis_up, 1, memory_order_relaxed);
}

void bullc__stats_down(bullc__stats *s)
{
    if (s)
        atomic_store_explicit(&s->redis_up, 0, memory_order_relaxed);
}

void bullc__stats_up(bullc__stats *s)
{
    if (s && !atomic_load_explicit(&s->redis_up, memory_order_relaxed))
        atomic_store_explicit(&s->redis_up, 1, memory_order_relaxed);
}

long long bullc__stats_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}
