/* bull_xchg.c - one round trip of settling and fetching (docs/bull.md §4.2, §4.3). A round with
 * one finish, or only one wanted job, or a rate limit, sends single calls: each settle its own
 * script call, each wanted job one moveToActive call (first for the ids the blocking wait
 * already moved to active, then taking the next waiting ones). Otherwise the finishes and the
 * wanted jobs go in one moveToFinishedBatch call, after the retries' own calls. */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct xstate {
    bullc__cmd *fetch;   /* nfetch moveToActive calls */
    int fetch_cap;
    bullc__cmd batch;    /* moveToFinishedBatch */
    bullc__buf claims;   /* its msgpack list of wanted jobs */
    bullc__cmd **cmds;
    size_t cap;
    int nfetch;
    int batched;         /* the finishes and the fetches are in `batch` */
} xstate;

static xstate *xstate_get(bullc__xchg *x, size_t ncmds, int nfetch)
{
    xstate *st = x->priv;
    if (!st) {
        if (!(st = calloc(1, sizeof *st)))
            return NULL;
        bullc__cmd_init(&st->batch);
        bullc__buf_init(&st->claims);
        x->priv = st;
    }
    if (bullc__proto_cmds_reserve(&st->cmds, &st->cap, ncmds) != 0)
        return NULL;
    if (nfetch > st->fetch_cap) {
        bullc__cmd *f = realloc(st->fetch, (size_t)nfetch * sizeof *f);
        if (!f)
            return NULL;
        for (int i = st->fetch_cap; i < nfetch; i++)
            bullc__cmd_init(&f[i]);
        st->fetch = f;
        st->fetch_cap = nfetch;
    }
    return st;
}

/* The batch: the retries' own calls, then one moveToFinishedBatch with every finish, in the
 * order given, and one entry per wanted job (a claimed id, or "" for the next waiting one). */
static int build_batch(bullc__proto *p, bullc__xchg *x, xstate *st)
{
    size_t n = 0;
    for (size_t i = 0; i < x->nsettles; i++)
        if (!bullc__bull_settle_finishes(x->settles[i]))
            st->cmds[n++] = bullc__bull_settle_cmd(p, x->settles[i]);
    bullc__buf_reset(&st->claims);
    if (x->nfetch > 0) {
        bullc__mp_array(&st->claims, (uint32_t)x->nfetch);
        for (int i = 0; i < x->nfetch; i++)
            bullc__mp_cstr(&st->claims, (size_t)i < x->nclaims ? x->claims[i] : "");
    }
    if (st->claims.oom)
        return BULLC_ENOMEM;
    bullc__bull_moveToFinishedBatch(&st->batch, &p->keys, p->token, p->w.lock_duration_ms,
                                    bullc__now_ms(), st->claims.data, st->claims.len);
    for (size_t i = 0; i < x->nsettles; i++)
        if (bullc__bull_settle_finishes(x->settles[i]) &&
            bullc__bull_settle_item(p, x->settles[i], &st->batch) != 0)
            return BULLC_ENOMEM;
    if (bullc__cmd_oom(&st->batch))
        return BULLC_ENOMEM;
    st->cmds[n++] = &st->batch;
    x->cmds = st->cmds;
    x->ncmds = n;
    return 0;
}

/* A batch pays when it replaces two calls or more; with a rate limit each take stays a
 * moveToActive call of its own (the limiter lives there, docs/bull.md §4.11). */
static int wants_batch(bullc__proto *p, const bullc__xchg *x)
{
    size_t nfinish = 0;
    for (size_t i = 0; i < x->nsettles; i++)
        nfinish += (size_t)bullc__bull_settle_finishes(x->settles[i]);
    return !p->w.limiter_max && nfinish >= 1 && nfinish + (size_t)x->nfetch >= 2;
}

int bullc__bull_xchg_build(bullc__proto *p, bullc__xchg *x)
{
    xstate *st = xstate_get(x, x->nsettles + (size_t)x->nfetch, x->nfetch);
    if (!st)
        return BULLC_ENOMEM;
    st->nfetch = x->nfetch;
    st->batched = wants_batch(p, x);
    if (st->batched)
        return build_batch(p, x, st);
    size_t n = 0;
    for (size_t i = 0; i < x->nsettles; i++)
        st->cmds[n++] = bullc__bull_settle_cmd(p, x->settles[i]);
    long long now = bullc__now_ms();
    for (int i = 0; i < x->nfetch; i++) {
        const char *claim = (size_t)i < x->nclaims ? x->claims[i] : "";
        bullc__bull_moveToActive(&st->fetch[i], &p->keys, p->token, p->w.lock_duration_ms, now,
                                 claim, p->w.limiter_max, p->w.limiter_duration_ms,
                                 p->limit_group, p->bounce_back);
        st->cmds[n++] = &st->fetch[i];
        if (bullc__cmd_oom(&st->fetch[i]))
            return BULLC_ENOMEM;
    }
    x->cmds = st->cmds;
    x->ncmds = n;
    return 0;
}

/* A moveToActive reply: a taken job, or nothing (the queue was empty, or the rate limit put the
 * job off: to delayed, promoted by this worker when due, or back to wait, which this worker
 * leaves alone until the window ends). A refusal (NOPERM, OOM) keeps the server's words for
 * the engine, which logs them once. */
static void take(bullc__xchg *x, bullc__proto *p, const bullc__reply *r)
{
    bullc_job_t *job = NULL;
    if (r && r->type == BULLC__R_ERROR) {
        snprintf(x->err, sizeof x->err, "moveToActive: %s", r->str);
        x->rc = BULLC_ESCRIPT;
        return;
    }
    long long due = 0;
    if (r && r->type == BULLC__R_ARRAY && r->elements == 2 && r->element[0]->type ==
        BULLC__R_INTEGER && bullc__reply_ll(r->element[1], &due) == 0) {
        if (r->element[0]->integer == 1) {
            if (due > x->hints.rate_limit_ms)
                x->hints.rate_limit_ms = due;
        } else if (due > 0 && (x->hints.tick_at_ms <= 0 || due < x->hints.tick_at_ms)) {
            x->hints.tick_at_ms = due;
        }
        return;
    }
    int rc = bullc__bull_decode_taken(p, r, &job);
    if (rc != 0)
        x->rc = rc;
    else if (job)
        x->fetched[x->nfetched++] = job;
}

/* The batch's reply: each finish's moveToFinished reply, then each wanted job's moveToActive
 * reply. A refusal of the whole call (NOPERM, OOM, NOSCRIPT) is each finish's and the fetch's. */
static void decode_batch(bullc__proto *p, bullc__xchg *x, xstate *st, const bullc__reply *r)
{
    int whole = !r || r->type != BULLC__R_ARRAY;
    size_t e = 0;
    for (size_t i = 0; i < x->nsettles; i++) {
        if (!bullc__bull_settle_finishes(x->settles[i]))
            continue;
        const bullc__reply *el = whole ? r : e < r->elements ? r->element[e] : NULL;
        e++;
        bullc__bull_settle_decode(p, x->settles[i], el);
    }
    if (whole) {
        if (st->nfetch > 0)
            take(x, p, r);
        return;
    }
    for (int i = 0; i < st->nfetch && e < r->elements; i++)
        take(x, p, r->element[e++]);
}

void bullc__bull_xchg_decode(bullc__proto *p, bullc__xchg *x, int rc, bullc__reply **replies,
                             const char *err)
{
    xstate *st = x->priv;
    if (bullc__proto_xchg_failed(x, rc, err)) {
        snprintf(x->err, sizeof x->err, "%s", err ? err : "");
        return;
    }
    size_t n = 0;
    if (st->batched) {
        for (size_t i = 0; i < x->nsettles; i++)
            if (!bullc__bull_settle_finishes(x->settles[i]))
                bullc__bull_settle_decode(p, x->settles[i], replies[n++]);
        decode_batch(p, x, st, replies[n]);
    } else {
        for (size_t i = 0; i < x->nsettles; i++)
            bullc__bull_settle_decode(p, x->settles[i], replies[n++]);
        for (int i = 0; i < st->nfetch; i++)
            take(x, p, replies[n++]);
    }
    for (size_t i = 0; i < x->ncmds; i++)
        bullc__reply_free(replies[i]);
}

void bullc__bull_xchg_free(bullc__proto *p, bullc__xchg *x)
{
    (void)p;
    xstate *st = x->priv;
    if (!st)
        return;
    for (int i = 0; i < st->fetch_cap; i++)
        bullc__cmd_free(&st->fetch[i]);
    free(st->fetch);
    bullc__cmd_free(&st->batch);
    bullc__buf_free(&st->claims);
    free(st->cmds);
    free(st);
    x->priv = NULL;
}
