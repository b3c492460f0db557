/* stats.h - a worker's live counters (bullc_worker_stats): plain atomics that the job path,
 * the blocking loop and the connections bump without a lock, read by bullc_worker_stats()
 * from any thread. */
#ifndef BULLC_UTIL_STATS_H
#define BULLC_UTIL_STATS_H

#include "util/common.h"

#include <stdatomic.h>

/* Upper bounds (seconds) of the handler run-time histogram's buckets, Prometheus's defaults. */
#define BULLC__STATS_BOUNDS {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

typedef struct bullc__stats {
    atomic_ullong completed, failed, retried;
    atomic_ullong buckets[BULLC_STATS_BUCKETS + 1]; /* per bucket (not cumulative); last +Inf */
    atomic_ullong sum_us;      /* total run time of the observed runs */
    atomic_llong active;       /* jobs a handler thread holds */
    atomic_ullong reconnects;  /* connects of a worker connection after its first */
    atomic_int redis_up;       /* the last connect or exchange on a worker connection worked */
    atomic_int running;        /* between bullc_worker_run's start and its return */
    atomic_int loop_parked;    /* the blocking loop has nothing to wait for (threads busy) */
    atomic_llong loop_mono_ms; /* when the blocking loop last came round (monotonic) */
    atomic_llong loop_wall_ms; /* the same on the wall clock */
} bullc__stats;

void bullc__stats_init(bullc__stats *s);
/* One recorded outcome (BULLC_EVENT_COMPLETED, _FAILED or _RETRYING; others are ignored) and
 * the handler run time that led to it (0 when no handler ran). */
void bullc__stats_outcome(bullc__stats *s, int event, long long run_us);
/* A handler thread took (+1) or let go of (-1) a job. */
void bullc__stats_active(bullc__stats *s, int delta);
/* The blocking loop came round: parked (nothing to wait for) or about to wait. */
void bullc__stats_loop(bullc__stats *s, int parked);
/* A connection of the worker connected (again, when not its first) or failed. NULL s: none. */
void bullc__stats_connected(bullc__stats *s, int again);
void bullc__stats_down(bullc__stats *s);
/* An exchange worked: Redis is up (a load, and a store only when it was down). NULL s: none. */
void bullc__stats_up(bullc__stats *s);
/* Microseconds on the monotonic clock, for run times. */
long long bullc__stats_mono_us(void);

#endif
