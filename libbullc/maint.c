/* maint.c - the maintenance duties run on bullc_worker_run's thread: renewing the locks of
 * running jobs in one script call, and the periodic stalled-job check. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bullc__maint_renew(bullc_worker_t *w, long long now)
{
    int n = w->o.concurrency;
    long long half = w->renew_ms / 2;
    bullc__buf tokens, ids;
    bullc__buf_init(&tokens);
    bullc__buf_init(&ids);
    uint32_t count = 0;

    /* collect jobs not renewed for half a renew period (as Node's LockManager) */
    pthread_mutex_lock(&w->lock_mu);
    for (int i = 0; i < n; i++)
        if (w->slots[i].active && now - w->slots[i].renewed_ms >= half)
            count++;
    if (count) {
        bullc__mp_array(&tokens, count);
        bullc__mp_array(&ids, count);
        for (int i = 0; i < n; i++) {
            bullc__lockslot *s = &w->slots[i];
            if (!s->active || now - s->renewed_ms < half)
                continue;
            bullc__mp_cstr(&tokens, s->token);
            bullc__mp_cstr(&ids, s->job_id);
            s->renewed_ms = now; /* a failed call is retried on the next tick anyway */
        }
    }
    pthread_mutex_unlock(&w->lock_mu);
    if (!count)
        goto out;
    if (tokens.oom || ids.oom) {
        bullc__log(&w->log, BULLC_LOG_ERROR, "lock renewal: out of memory");
        goto out;
    }
    char dur[16];
    snprintf(dur, sizeof dur, "%d", w->o.lock_duration_ms);
    const char *keys[1] = {w->keys.k[BULLC__K_STALLED]};
    const char *args[4] = {w->keys.base, tokens.data, ids.data, dur};
    size_t lens[4] = {w->keys.base_len, tokens.len, ids.len, strlen(dur)};
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&w->maint_cn, BULLC__S_EXTEND_LOCKS, 1, keys, 4, args, lens, &r);
    if (rc != 0) {
        bullc__log(&w->log, BULLC_LOG_WARN, "lock renewal failed: %s (%s)", bullc_strerror(rc),
                   w->maint_cn.errstr);
        /* force a retry on the next tick */
        pthread_mutex_lock(&w->lock_mu);
        for (int i = 0; i < n; i++)
            if (w->slots[i].active)
                w->slots[i].renewed_ms = 0;
        pthread_mutex_unlock(&w->lock_mu);
    } else if (r->type == BULLC__R_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == BULLC__R_STRING)
                bullc__log(&w->log, BULLC_LOG_WARN,
                           "lock of job %s could not be renewed: another worker may run it",
                           r->element[i]->str);
    }
    bullc__reply_free(r);
out:
    bullc__buf_free(&tokens);
    bullc__buf_free(&ids);
}

void bullc__maint_stalled(bullc_worker_t *w)
{
    static const bullc__qkey kidx[9] = {BULLC__K_STALLED, BULLC__K_WAIT,   BULLC__K_ACTIVE,
                                        BULLC__K_STALLED_CHECK, BULLC__K_META, BULLC__K_PAUSED,
                                        BULLC__K_MARKER, BULLC__K_EVENTS, BULLC__K_REPEAT};
    const char *keys[9];
    for (int i = 0; i < 9; i++)
        keys[i] = w->keys.k[kidx[i]];
    char max[16], now[24], interval[16];
    snprintf(max, sizeof max, "%d", w->o.max_stalled_count);
    snprintf(now, sizeof now, "%lld", bullc__now_ms());
    snprintf(interval, sizeof interval, "%d", w->o.stalled_interval_ms);
    const char *args[4] = {max, w->keys.base, now, interval};
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&w->maint_cn, BULLC__S_MOVE_STALLED, 9, keys, 4, args, NULL, &r);
    if (rc != 0) {
        bullc__log(&w->log, BULLC_LOG_WARN, "stalled check failed: %s (%s)", bullc_strerror(rc),
                   w->maint_cn.errstr);
    } else if (r->type == BULLC__R_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == BULLC__R_STRING)
                bullc__log(&w->log, BULLC_LOG_WARN, "job %s stalled and was moved back to wait",
                           r->element[i]->str);
    }
    bullc__reply_free(r);
}
