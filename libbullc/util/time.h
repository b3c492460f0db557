/* time.h - clocks. Wall-clock time is what goes into Redis (timestamps Node reads); intervals,
 * timeouts and deadlines use the monotonic clock, so a clock step never stretches a wait. */
#ifndef BULLC_UTIL_TIME_H
#define BULLC_UTIL_TIME_H

#include "util/common.h"

#include <pthread.h>
#include <time.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
long long bullc__now_ms(void);
/* Milliseconds on the monotonic clock (for intervals and deadlines only). */
long long bullc__mono_ms(void);
/* The CLOCK_MONOTONIC timespec `ms` from now, for pthread_cond_timedwait on a condition
 * variable created with bullc__cond_init_mono. */
struct timespec bullc__mono_deadline(long long ms);
/* pthread_cond_init on the monotonic clock. */
int bullc__cond_init_mono(pthread_cond_t *cv);
/* Sleeps `ms` milliseconds (restarting after signals). */
void bullc__sleep_ms(long long ms);

#endif
