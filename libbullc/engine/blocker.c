/* blocker.c - the blocking wait: while handler threads sit idle, one connection waits for the
 * protocol's "work may be ready" signal (BullMQ: BZPOPMIN on the marker) and then refills the
 * idle threads. It also waits out rate limits and sleeps until the next delayed job is due.
 * This connection carries the worker's name, which Node's getWorkers() lists. */
#include "engine/engine.h"
#include "util/time.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* Longest single blocking wait while a delayed job is pending, as Node: the queue is looked at
 * again at least this often. */
#define BULLC__MAX_BLOCK_MS 10000

/* Waits (under gate.mu) until there is something to do; returns 0 to go on, 1 to stop. */
static int wait_for_idle(bullc_worker_t *w, int *kick, long long *until)
{
    bullc__gate *g = &w->gate;
    pthread_mutex_lock(&g->mu);
    /* a locally paused worker does not take markers other workers need */
    while (!g->stopping && !w->kick && (!bullc__pool_wants_work(w) || atomic_load(&g->paused)))
        pthread_cond_wait(&g->blocker_cv, &g->mu);
    int stop = g->stopping;
    *kick = w->kick;
    w->kick = 0;
    *until = g->block_until;
    pthread_mutex_unlock(&g->mu);
    return stop;
}

/* Rate limited: no fetch until the window ends, at most maximumRateLimitDelay at a time; after
 * that longest wait, fetch anyway (that promotes due delayed jobs; a still limited queue
 * answers with a new limit), as Node's waitForRateLimit. */
static void wait_limit(bullc_worker_t *w, long long left)
{
    long long most = w->o.maximum_rate_limit_delay_ms;
    bullc__gate_nap(&w->gate, left < most ? left : most);
    if (left > most)
        atomic_store(&w->gate.limit_until, 0);
}

/* Hands a job the blocking command moved (BULLC__WAKE_JOB) to an idle thread's fetch; while no
 * thread is idle it stays pending (*claim) and the blocker does not block again. */
static void pass_claim(bullc_worker_t *w, bullc__clink *via, char **claim)
{
    if (bullc__pool_refill(w, via, *claim)) {
        free(*claim);
        *claim = NULL;
    }
    atomic_store(&w->gate.claim_waiting, *claim != NULL);
}

/* One blocking wait of up to timeout_ms; 1 when the worker stops. */
static int block_once(bullc_worker_t *w, bullc__clink *via, long long timeout_ms, unsigned *seed,
                      int *failures, char **claim)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    w->ops->block_cmd(w->proto, &cmd, timeout_ms);
    bullc__reply *r = NULL;
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM
                                  : bullc__conn_block(&w->blocker_conn, &cmd, timeout_ms,
                                                      w->gate.stop_pipe[0], &r);
    bullc__cmd_free(&cmd);
    if (rc == BULLC__STOPPED || bullc__gate_stopping(&w->gate)) {
        bullc__reply_free(r);
        return 1;
    }
    if (rc != 0) {
        /* logged once per outage; meanwhile fetch now and then in case only this link is down */
        if ((*failures)++ == 0)
            bullc__log(&w->log, BULLC_LOG_WARN, "blocking connection: %s; reconnecting",
                       w->blocker_conn.errstr);
        bullc__conn_close(&w->blocker_conn);
        bullc__gate_nap(&w->gate, bullc__backoff_ms(*failures, seed));
        bullc__pool_refill(w, via, NULL);
        return 0;
    }
    *failures = 0;
    bullc__wake wake = {0};
    w->ops->block_reply(w->proto, r, &wake);
    bullc__reply_free(r);
    if (wake.kind == BULLC__WAKE_JOB && wake.job_id) {
        *claim = wake.job_id;
        pass_claim(w, via, claim);
    } else if (wake.kind == BULLC__WAKE_LATER)
        bullc__gate_note_delay(&w->gate, wake.due_ms); /* sleep on the marker until then */
    else
        bullc__pool_refill(w, via, NULL);
    return 0;
}

/* When to wake without a signal: the next delayed job, or the drain delay. */
static long long block_timeout(bullc_worker_t *w, long long until, int *due)
{
    long long now = bullc__now_ms();
    *due = 0;
    if (until <= 0)
        return w->o.drain_delay_ms;
    if (until <= now) {
        pthread_mutex_lock(&w->gate.mu);
        if (w->gate.block_until == until)
            w->gate.block_until = 0;
        pthread_mutex_unlock(&w->gate.mu);
        *due = 1;
        return 0;
    }
    return until - now > BULLC__MAX_BLOCK_MS ? BULLC__MAX_BLOCK_MS : until - now;
}

void *bullc__blocker_main(void *arg)
{
    bullc_worker_t *w = arg;
    bullc__clink *via = &w->blocker_link;
    unsigned seed = (unsigned)bullc__mono_ms();
    int failures = 0;
    char *claim = NULL;
    for (;;) {
        int kick, due;
        long long until;
        bullc__stats_loop(&w->stats, 1);
        if (wait_for_idle(w, &kick, &until))
            break;
        bullc__stats_loop(&w->stats, 0);
        if (claim) {
            long long limited = bullc__gate_limit_left(&w->gate);
            if (limited > 0)
                wait_limit(w, limited);
            pass_claim(w, via, &claim);
            continue;
        }
        long long left = bullc__gate_limit_left(&w->gate);
        if (kick || left > 0) {
            if (left > 0)
                wait_limit(w, left);
            bullc__pool_refill(w, via, NULL);
            continue;
        }
        long long timeout = block_timeout(w, until, &due);
        if (due) {
            bullc__pool_refill(w, via, NULL);
            continue;
        }
        if (block_once(w, via, timeout, &seed, &failures, &claim))
            break;
    }
    if (claim)
        bullc__log(&w->log, BULLC_LOG_WARN, "job %s was taken while stopping and is left for the "
                   "stalled check", claim);
    free(claim);
    bullc__conn_close(&w->blocker_conn);
    return NULL;
}
