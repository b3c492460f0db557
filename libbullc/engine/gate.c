/* gate.c - what every thread of a worker consults: stop (a flag and a pipe, both safe in a
 * signal handler), local pause, the rate-limit window and the next delayed job's due time. */
#include "engine/engine.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

int bullc__gate_init(bullc__gate *g)
{
    g->stop_pipe[0] = g->stop_pipe[1] = -1;
    if (pthread_mutex_init(&g->mu, NULL) != 0)
        return BULLC_ENOMEM;
    if (bullc__cond_init_mono(&g->blocker_cv) != 0 || bullc__cond_init_mono(&g->nap_cv) != 0 ||
        pipe(g->stop_pipe) != 0) {
        g->stop_pipe[0] = g->stop_pipe[1] = -1;
        return BULLC_ETHREAD;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(g->stop_pipe[i], F_SETFL, fcntl(g->stop_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(g->stop_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

void bullc__gate_free(bullc__gate *g)
{
    for (int i = 0; i < 2; i++)
        if (g->stop_pipe[i] >= 0)
            close(g->stop_pipe[i]);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->blocker_cv);
    pthread_cond_destroy(&g->nap_cv);
}

int bullc__gate_stopping(bullc__gate *g) { return atomic_load(&g->stop_flag) != 0; }

void bullc__gate_observe_stop(bullc__gate *g)
{
    pthread_mutex_lock(&g->mu);
    if (!g->stopping) {
        g->stopping = 1;
        pthread_cond_broadcast(&g->blocker_cv);
        pthread_cond_broadcast(&g->nap_cv);
    }
    pthread_mutex_unlock(&g->mu);
}

void bullc__gate_nap(bullc__gate *g, long long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = bullc__mono_deadline(ms);
    pthread_mutex_lock(&g->mu);
    while (!g->stopping && !bullc__gate_stopping(g))
        if (pthread_cond_timedwait(&g->nap_cv, &g->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&g->mu);
}

void bullc__gate_note_limit(bullc__gate *g, long long ms)
{
    if (ms <= 0)
        return;
    long long now = bullc__mono_ms();
    /* saturate: the reply's number is not trusted to stay clear of overflow */
    long long until = ms > LLONG_MAX - now ? LLONG_MAX : now + ms;
    long long cur = atomic_load(&g->limit_until);
    while (cur < until && !atomic_compare_exchange_weak(&g->limit_until, &cur, until)) {
    }
}

long long bullc__gate_limit_left(bullc__gate *g)
{
    long long left = atomic_load(&g->limit_until) - bullc__mono_ms();
    return left > 0 ? left : 0;
}

void bullc__gate_note_delay(bullc__gate *g, long long due_ms)
{
    if (due_ms <= 0)
        return;
    pthread_mutex_lock(&g->mu);
    if (g->block_until <= 0 || due_ms < g->block_until || g->block_until < bullc__now_ms()) {
        g->block_until = due_ms;
        pthread_cond_signal(&g->blocker_cv);
    }
    pthread_mutex_unlock(&g->mu);
}
