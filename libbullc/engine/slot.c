/* slot.c - what a handler slot shares with the calls its handler makes: the lock record the
 * maintenance loop renews, and the stop bits bullc_job_should_stop answers (docs/architecture.md
 * §4). The pool (pool.c) and the handler calls (calls.c) both use it; it uses neither. */
#include "engine/engine.h"
#include "util/time.h"

void bullc__slot_lock(bullc__slot *s, const bullc_job_t *job)
{
    bullc_worker_t *w = s->w;
    pthread_mutex_lock(&w->lock_mu);
    s->lock_job_id = job ? job->id : NULL;
    s->lock_token = job ? job->token : NULL;
    s->lock_renewed_ms = bullc__mono_ms();
    s->lock_seq++;
    pthread_mutex_unlock(&w->lock_mu);
}

int bullc__slot_stop_bits(bullc__slot *s, long long now_ms)
{
    int why = atomic_load_explicit(&s->stop_why, memory_order_relaxed);
    if (s->deadline_ms > 0 && now_ms >= s->deadline_ms && !(why & BULLC_STOP_TIMEOUT))
        why = atomic_fetch_or(&s->stop_why, BULLC_STOP_TIMEOUT) | BULLC_STOP_TIMEOUT;
    return why;
}
