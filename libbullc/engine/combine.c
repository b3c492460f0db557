/* combine.c - the combiner: one command connection shared by every thread of a worker. A
 * thread with Redis work (a job to settle, jobs to fetch, a handler call, maintenance) queues a
 * request; if no round is in flight it leads one itself, sending everything queued as one
 * pipeline, with all settles and fetches merged into the protocol's exchange call, then hands
 * each request its result. While a round is in flight the next one fills up, so under load one
 * round trip (and one script call) carries many jobs, and an uncontended request costs no
 * hand-off at all (flat combining; docs/architecture.md §3). */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bullc__combiner_init(bullc__combiner *c, const bullc__conn_cfg *cfg,
                         const bullc__proto_ops *ops, bullc__proto *proto)
{
    memset(c, 0, sizeof *c);
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return BULLC_ENOMEM;
    bullc__conn_init(&c->conn, cfg);
    c->ops = ops;
    c->proto = proto;
    size_t n = 2 * BULLC__ROUND_MAX + 1;
    c->cmds = calloc(n, sizeof *c->cmds);
    c->replies = calloc(n, sizeof *c->replies);
    c->settles = calloc(BULLC__ROUND_MAX, sizeof *c->settles);
    c->fetched = calloc(BULLC__ROUND_MAX, sizeof *c->fetched);
    if (!c->cmds || !c->replies || !c->settles || !c->fetched)
        return BULLC_ENOMEM;
    return 0;
}

void bullc__combiner_free(bullc__combiner *c)
{
    if (c->ops)
        c->ops->xchg_free(c->proto, &c->x);
    bullc__conn_free(&c->conn);
    free(c->cmds);
    free(c->replies);
    free(c->settles);
    free(c->fetched);
    pthread_mutex_destroy(&c->mu);
}

/* Takes the requests of the next round from the queue (under mu) into batch: everything
 * queued, up to BULLC__ROUND_MAX settles, jobs wanted and commands. The first request is
 * always taken. */
static size_t take_round(bullc__combiner *c, bullc__req **batch)
{
    size_t n = 0, settles = 0, cmds = 0;
    int want = 0;
    bullc__req **prev = &c->head;
    for (bullc__req *r = c->head; r && n < BULLC__ROUND_REQS;) {
        bullc__req *next = r->next;
        int fits = n == 0 || (r->kind == BULLC__REQ_SETTLE && settles < BULLC__ROUND_MAX) ||
                   (r->kind == BULLC__REQ_FETCH && want + r->want <= BULLC__ROUND_MAX) ||
                   (r->kind == BULLC__REQ_CMDS && cmds + r->ncmds <= BULLC__ROUND_MAX);
        if (fits) {
            settles += r->kind == BULLC__REQ_SETTLE;
            want += r->kind == BULLC__REQ_FETCH ? r->want : 0;
            cmds += r->kind == BULLC__REQ_CMDS ? r->ncmds : 0;
            batch[n++] = r;
            *prev = next;
        } else {
            prev = &r->next;
        }
        r = next;
    }
    c->tail = NULL;
    for (bullc__req *r = c->head; r; r = r->next)
        c->tail = r;
    return n;
}

/* Hands the fetched jobs out to the FETCH requests, in order. */
static void hand_out(bullc__combiner *c, bullc__req **batch, size_t n)
{
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        bullc__req *r = batch[i];
        if (r->kind != BULLC__REQ_FETCH)
            continue;
        r->rc = c->x.rc;
        r->hints = c->x.hints;
        r->got = 0;
        while (r->got < (size_t)r->want && next < c->x.nfetched)
            r->jobs[r->got++] = c->x.fetched[next++];
    }
    /* more jobs than asked for cannot happen (the protocol takes at most nfetch) */
    while (next < c->x.nfetched)
        bullc__job_free(c->x.fetched[next++]);
}

/* One round: the plain commands first, then the protocol's exchange for settles and fetches. */
static void run_round(bullc__combiner *c, bullc__req **batch, size_t n)
{
    size_t ncmds = 0, nsettles = 0;
    int want = 0;
    for (size_t i = 0; i < n; i++) {
        bullc__req *r = batch[i];
        if (r->kind == BULLC__REQ_CMDS)
            for (size_t k = 0; k < r->ncmds; k++)
                c->cmds[ncmds++] = r->cmds[k];
        else if (r->kind == BULLC__REQ_SETTLE)
            c->settles[nsettles++] = r->settle;
        else
            want += r->want;
    }
    size_t nplain = ncmds;
    bullc__xchg *x = &c->x;
    x->settles = c->settles;
    x->nsettles = nsettles;
    x->nfetch = want;
    x->fetched = c->fetched;
    x->nfetched = 0;
    x->ncmds = 0;
    int xrc = nsettles || want ? c->ops->xchg_build(c->proto, x) : 0;
    if (xrc == 0)
        for (size_t k = 0; k < x->ncmds; k++)
            c->cmds[ncmds++] = x->cmds[k];
    int rc = ncmds ? bullc__conn_exec(&c->conn, c->cmds, ncmds, c->replies) : 0;
    size_t r_at = 0;
    for (size_t i = 0; i < n; i++) {
        bullc__req *r = batch[i];
        if (r->kind != BULLC__REQ_CMDS)
            continue;
        r->rc = rc;
        for (size_t k = 0; k < r->ncmds; k++)
            r->replies[k] = c->replies[r_at++];
        if (rc)
            snprintf(r->err, sizeof r->err, "%s", c->conn.errstr);
    }
    if (nsettles || want) {
        if (xrc)
            c->ops->xchg_decode(c->proto, x, xrc, NULL, "out of memory");
        else
            c->ops->xchg_decode(c->proto, x, rc, c->replies + nplain, c->conn.errstr);
        hand_out(c, batch, n);
    }
}

/* Leads one round (called with mu held, returns with it released): takes the queued requests,
 * carries them, passes the lead to whoever queued meanwhile, then wakes the requesters. The
 * lead passes before the wake-ups, so the next round is on its way while they run. */
static void lead(bullc__combiner *c)
{
    bullc__req *batch[BULLC__ROUND_REQS];
    c->leading = 1;
    size_t n = take_round(c, batch);
    pthread_mutex_unlock(&c->mu);
    run_round(c, batch, n);
    pthread_mutex_lock(&c->mu);
    c->leading = 0;
    sem_t *next = c->head ? c->head->sem : NULL;
    pthread_mutex_unlock(&c->mu);
    if (next)
        sem_post(next);
    for (size_t i = 0; i < n; i++) {
        sem_t *s = batch[i]->sem;
        atomic_store(&batch[i]->done, 1); /* the request may be gone once this is seen */
        sem_post(s);
    }
}

void bullc__combiner_submit(bullc__combiner *c, bullc__req *req, sem_t *sem)
{
    atomic_store(&req->done, 0);
    req->next = NULL;
    req->sem = sem;
    pthread_mutex_lock(&c->mu);
    if (c->tail)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    for (;;) {
        if (!c->leading) {
            /* lead; our request is in the round unless it filled up before reaching it */
            lead(c);
        } else {
            pthread_mutex_unlock(&c->mu);
            /* posted when our request is done, or when we are first in line to lead; a post
             * left over from an earlier request only costs one more turn of the loop */
            while (sem_wait(sem) != 0) {
            }
        }
        if (atomic_load(&req->done))
            return;
        pthread_mutex_lock(&c->mu);
    }
}

/* ---- the link through the combiner -------------------------------------------------------- */

static int clink_exec(bullc__link *self, bullc__cmd *const *cmds, size_t n, bullc__reply **replies,
                      char *err, size_t errlen)
{
    bullc__clink *l = (bullc__clink *)self;
    bullc__req req;
    memset(&req, 0, sizeof req);
    req.kind = BULLC__REQ_CMDS;
    req.cmds = cmds;
    req.ncmds = n;
    req.replies = replies;
    if (n > BULLC__ROUND_MAX)
        return BULLC_EINVAL; /* handler calls and maintenance send one or two */
    bullc__combiner_submit(l->c, &req, &l->sem);
    if (req.rc && err && errlen)
        snprintf(err, errlen, "%s", req.err);
    return req.rc;
}

int bullc__clink_init(bullc__clink *l, bullc__combiner *c)
{
    l->link.exec = clink_exec;
    l->c = c;
    return sem_init(&l->sem, 0, 0) == 0 ? 0 : BULLC_ETHREAD;
}

void bullc__clink_free(bullc__clink *l) { sem_destroy(&l->sem); }
