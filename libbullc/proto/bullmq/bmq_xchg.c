/* bmq_xchg.c - one round trip of settling and fetching: the retries each thread prepared, and
 * all finishes plus the jobs idle threads want in one script call (moveToFinishedBatch; or the
 * plain moveToFinished / moveToActive Node would send when there is only one of them). */
#include "bullmq.h"
#include "proto/shared/shared.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum fetch_call { NONE, SINGLE_FINISH, SINGLE_ACTIVE, BATCH } fetch_call;

typedef struct xstate {
    bullc__cmd main;      /* moveToActive or moveToFinishedBatch */
    bullc__buf mp;        /* fetch options */
    bullc__cmd **cmds;
    size_t cap;
    fetch_call kind;
    size_t nfinish;
    int ntokens;
    char (*tokens)[BULLC__BMQ_TOKEN_LEN];
    int tokens_cap;
} xstate;

static xstate *xstate_get(bullc__xchg *x, size_t ncmds, int ntokens)
{
    xstate *st = x->priv;
    if (!st) {
        if (!(st = calloc(1, sizeof *st)))
            return NULL;
        bullc__cmd_init(&st->main);
        bullc__buf_init(&st->mp);
        x->priv = st;
    }
    if (bullc__proto_cmds_reserve(&st->cmds, &st->cap, ncmds) != 0)
        return NULL;
    if (ntokens > st->tokens_cap) {
        void *t = realloc(st->tokens, (size_t)ntokens * sizeof *st->tokens);
        if (!t)
            return NULL;
        st->tokens = t;
        st->tokens_cap = ntokens;
    }
    return st;
}

/* The call that settles the finishes and takes the wanted jobs. */
static void build_main(bullc__proto *p, bullc__xchg *x, xstate *st, bullc__settle *single)
{
    st->ntokens = x->nfetch;
    for (int i = 0; i < x->nfetch; i++)
        bullc__bmq_new_token(p, st->tokens[i], sizeof st->tokens[i]);
    if (st->kind == SINGLE_ACTIVE) {
        bullc__bmq_fetch_opts(p, &st->mp, st->tokens[0], NULL, 0);
        bullc__bmq_moveToActive(&st->main, &p->keys, bullc__now_ms(), st->mp.data, st->mp.len);
        return;
    }
    (void)single;
    bullc__buf_reset(&st->mp);
    if (x->nfetch > 0)
        bullc__bmq_fetch_opts(p, &st->mp, NULL, st->tokens, x->nfetch);
    bullc__bmq_moveToFinishedBatch(&st->main, &p->keys, bullc__now_ms(), st->mp.data, st->mp.len);
    for (size_t i = 0; i < x->nsettles; i++)
        if (bullc__bmq_settle_call(x->settles[i]) == BULLC__BMQ_FINISH)
            bullc__bmq_settle_item(x->settles[i], &st->main);
}

int bullc__bmq_xchg_build(bullc__proto *p, bullc__xchg *x)
{
    xstate *st = xstate_get(x, x->nsettles + 1, x->nfetch);
    if (!st)
        return BULLC_ENOMEM;
    size_t n = 0, nfinish = 0;
    bullc__settle *single = NULL;
    for (size_t i = 0; i < x->nsettles; i++) {
        if (bullc__bmq_settle_call(x->settles[i]) == BULLC__BMQ_FINISH) {
            nfinish++;
            single = x->settles[i];
        } else {
            st->cmds[n++] = bullc__bmq_settle_cmd(p, x->settles[i]);
        }
    }
    st->nfinish = nfinish;
    st->kind = nfinish == 1 && x->nfetch == 0   ? SINGLE_FINISH
               : nfinish == 0 && x->nfetch == 1 ? SINGLE_ACTIVE
               : nfinish + (size_t)x->nfetch > 0 ? BATCH
                                                  : NONE;
    if (st->kind == SINGLE_FINISH) {
        st->cmds[n++] = bullc__bmq_settle_cmd(p, single);
    } else if (st->kind != NONE) {
        build_main(p, x, st, single);
        st->cmds[n++] = &st->main;
    }
    x->cmds = st->cmds;
    x->ncmds = n;
    for (size_t i = 0; i < n; i++)
        if (bullc__cmd_oom(st->cmds[i]) || st->mp.oom)
            return BULLC_ENOMEM;
    return 0;
}

/* A taken job (or the hints of a fetch that took none), from one moveToActive reply. Returns 1
 * when a job was taken. */
static int take(bullc__xchg *x, xstate *st, const bullc__reply *r, int i)
{
    bullc_job_t *job = NULL;
    bullc__hints h;
    int rc = bullc__bmq_decode_next(r, &job, &h);
    if (rc != 0 || !job) {
        if (rc != 0)
            x->rc = rc;
        if (rc != 0 && r && r->type == BULLC__R_ERROR) /* NOPERM, OOM: the server's words */
            snprintf(x->err, sizeof x->err, "moveToActive: %s", r->str);
        else if (rc == 0)
            x->hints = h;
        return 0;
    }
    memcpy(job->token, st->tokens[i], sizeof job->token);
    x->fetched[x->nfetched++] = job;
    return 1;
}

static void fail_all(bullc__xchg *x, int rc, const char *err)
{
    for (size_t i = 0; i < x->nsettles; i++) {
        bullc__settle *s = x->settles[i];
        if (bullc__bmq_settle_call(s) != BULLC__BMQ_FINISH)
            continue;
        s->rc = rc;
        snprintf(s->errstr, sizeof s->errstr, "%s", err);
    }
    x->rc = rc;
    snprintf(x->err, sizeof x->err, "%s", err);
}

/* The moveToFinishedBatch reply: each finish's element, then the taken jobs. */
static void decode_batch(bullc__proto *p, bullc__xchg *x, xstate *st, bullc__reply *r)
{
    if (r->type == BULLC__R_ERROR || r->type != BULLC__R_ARRAY || r->elements < st->nfinish) {
        char err[256];
        snprintf(err, sizeof err, "moveToFinishedBatch: %s",
                 r->type == BULLC__R_ERROR ? r->str : "unexpected reply");
        fail_all(x, r->type == BULLC__R_ERROR ? BULLC_ESCRIPT : BULLC_EPROTO, err);
        return;
    }
    size_t e = 0;
    for (size_t i = 0; i < x->nsettles; i++)
        if (bullc__bmq_settle_call(x->settles[i]) == BULLC__BMQ_FINISH)
            bullc__bmq_settle_decode(p, x->settles[i], r->element[e++]);
    for (int t = 0; e < r->elements && t < st->ntokens; t++, e++)
        if (!take(x, st, r->element[e], t))
            break;
}

void bullc__bmq_xchg_decode(bullc__proto *p, bullc__xchg *x, int rc, bullc__reply **replies,
                            const char *err)
{
    xstate *st = x->priv;
    if (bullc__proto_xchg_failed(x, rc, err))
        return;
    size_t n = 0;
    for (size_t i = 0; i < x->nsettles; i++)
        if (bullc__bmq_settle_call(x->settles[i]) != BULLC__BMQ_FINISH) {
            bullc__bmq_settle_decode(p, x->settles[i], replies[n]);
            n++;
        }
    if (st->kind == SINGLE_FINISH) {
        for (size_t i = 0; i < x->nsettles; i++)
            if (bullc__bmq_settle_call(x->settles[i]) == BULLC__BMQ_FINISH)
                bullc__bmq_settle_decode(p, x->settles[i], replies[n]);
    } else if (st->kind == SINGLE_ACTIVE) {
        take(x, st, replies[n], 0);
    } else if (st->kind == BATCH) {
        decode_batch(p, x, st, replies[n]);
    }
    for (size_t i = 0; i < x->ncmds; i++)
        bullc__reply_free(replies[i]);
}

void bullc__bmq_xchg_free(bullc__proto *p, bullc__xchg *x)
{
    (void)p;
    xstate *st = x->priv;
    if (!st)
        return;
    bullc__cmd_free(&st->main);
    bullc__buf_free(&st->mp);
    free(st->cmds);
    free(st->tokens);
    free(st);
    x->priv = NULL;
}
