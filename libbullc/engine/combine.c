/* combine.c - the combiner: one command connection shared by every thread of a worker. A
 * thread with Redis work (a job to settle, jobs to fetch, a handler call, maintenance) queues a
 * request; if no round is in flight it leads one itself, sending everything queued as one
 * pipeline, with all settles and fetches merged into the protocol's exchange call, then hands
 * each request its result. While a round is in flight the next one fills up, so under load one
 * round trip (and one script call) carries many jobs, and an uncontended request costs no
 * hand-off at all (flat combining; docs/architecture.md §3). A leader that finds requests
 * queued when its round returns sends them at once, and only then hands out the round it has:
 * Redis works on the next round meanwhile. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rounds one thread leads in a row before it passes the lead on (its own next job waits
 * meanwhile, not yet renewed by the maintenance loop). */
#define BULLC__LEAD_ROUNDS 8

static int round_init(bullc__round *r)
{
    size_t n = 2 * BULLC__ROUND_MAX + 1;
    r->cmds = calloc(n, sizeof *r->cmds);
    r->replies = calloc(n, sizeof *r->replies);
    r->x.settles = calloc(BULLC__ROUND_MAX, sizeof *r->x.settles);
    r->x.fetched = calloc(BULLC__ROUND_MAX, sizeof *r->x.fetched);
    return r->cmds && r->replies && r->x.settles && r->x.fetched ? 0 : BULLC_ENOMEM;
}

static void round_free(bullc__combiner *c, bullc__round *r)
{
    if (c->ops)
        c->ops->xchg_free(c->proto, &r->x);
    free(r->cmds);
    free(r->replies);
    free(r->x.settles);
    free(r->x.fetched);
}

int bullc__combiner_init(bullc__combiner *c, const bullc__conn_cfg *cfg,
                         const bullc__proto_ops *ops, bullc__proto *proto)
{
    memset(c, 0, sizeof *c);
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return BULLC_ENOMEM;
    bullc__conn_init(&c->conn, cfg);
    c->ops = ops;
    c->proto = proto;
    if (round_init(&c->rounds[0]) != 0 || round_init(&c->rounds[1]) != 0)
        return BULLC_ENOMEM;
    return 0;
}

void bullc__combiner_free(bullc__combiner *c)
{
    round_free(c, &c->rounds[0]);
    round_free(c, &c->rounds[1]);
    bullc__conn_free(&c->conn);
    pthread_mutex_destroy(&c->mu);
}

/* Takes the requests of the next round from the queue (under mu): everything queued, up to
 * BULLC__ROUND_MAX settles, jobs wanted and commands. The first request is always taken. */
static void take_round(bullc__combiner *c, bullc__round *rd)
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
            rd->batch[n++] = r;
            *prev = next;
        } else {
            prev = &r->next;
        }
        r = next;
    }
    rd->n = n;
    c->tail = NULL;
    for (bullc__req *r = c->head; r; r = r->next)
        c->tail = r;
}

/* The round's commands: the plain ones first, then the protocol's exchange for every settle
 * and fetch; then sends them. */
static void send_round(bullc__combiner *c, bullc__round *rd)
{
    bullc__xchg *x = &rd->x;
    size_t ncmds = 0;
    x->nsettles = 0;
    x->nfetch = 0;
    for (size_t i = 0; i < rd->n; i++) {
        bullc__req *r = rd->batch[i];
        if (r->kind == BULLC__REQ_CMDS)
            for (size_t k = 0; k < r->ncmds; k++)
                rd->cmds[ncmds++] = r->cmds[k];
        else if (r->kind == BULLC__REQ_SETTLE)
            x->settles[x->nsettles++] = r->settle;
        else
            x->nfetch += r->want;
    }
    rd->nplain = ncmds;
    x->ncmds = 0;
    x->nfetched = 0;
    rd->xrc = x->nsettles || x->nfetch ? c->ops->xchg_build(c->proto, x) : 0;
    if (rd->xrc == 0)
        for (size_t k = 0; k < x->ncmds; k++)
            rd->cmds[ncmds++] = x->cmds[k];
    rd->ncmds = ncmds;
    rd->rc = ncmds ? bullc__conn_send(&c->conn, rd->cmds, ncmds) : 0;
}

/* Reads the round's replies (after its send, before the next send). */
static void recv_round(bullc__combiner *c, bullc__round *rd)
{
    if (rd->rc == 0 && rd->ncmds)
        rd->rc = bullc__conn_recv(&c->conn, rd->cmds, rd->ncmds, rd->replies);
}

/* Hands the fetched jobs out to the FETCH requests, in order. */
static void hand_out(bullc__round *rd)
{
    size_t next = 0;
    for (size_t i = 0; i < rd->n; i++) {
        bullc__req *r = rd->batch[i];
        if (r->kind != BULLC__REQ_FETCH)
            continue;
        r->rc = rd->x.rc;
        r->hints = rd->x.hints;
        r->got = 0;
        while (r->got < (size_t)r->want && next < rd->x.nfetched)
            r->jobs[r->got++] = rd->x.fetched[next++];
    }
    /* more jobs than asked for cannot happen (the protocol takes at most nfetch) */
    while (next < rd->x.nfetched)
        bullc__job_free(rd->x.fetched[next++]);
}

/* Gives every request of the round its results, then wakes its thread. */
static void finish_round(bullc__combiner *c, bullc__round *rd)
{
    size_t at = 0;
    for (size_t i = 0; i < rd->n; i++) {
        bullc__req *r = rd->batch[i];
        if (r->kind != BULLC__REQ_CMDS)
            continue;
        r->rc = rd->rc;
        for (size_t k = 0; k < r->ncmds; k++)
            r->replies[k] = rd->replies[at++];
        if (rd->rc)
            snprintf(r->err, sizeof r->err, "%s", c->conn.errstr);
    }
    if (rd->x.nsettles || rd->x.nfetch) {
        if (rd->xrc)
            c->ops->xchg_decode(c->proto, &rd->x, rd->xrc, NULL, "out of memory");
        else
            c->ops->xchg_decode(c->proto, &rd->x, rd->rc, rd->replies + rd->nplain,
                                c->conn.errstr);
        hand_out(rd);
    }
    for (size_t i = 0; i < rd->n; i++) {
        sem_t *s = rd->batch[i]->sem;
        atomic_store(&rd->batch[i]->done, 1); /* the request may be gone once this is seen */
        sem_post(s);
    }
}

/* Leads (called with mu held, returns with it released): sends a round, and while requests
 * keep arriving sends the next round as soon as the previous one's replies are in, before
 * handing those out. Then passes the lead to the first thread still queued. */
static void lead(bullc__combiner *c)
{
    bullc__round *cur = &c->rounds[0], *next = &c->rounds[1];
    c->leading = 1;
    take_round(c, cur);
    pthread_mutex_unlock(&c->mu);
    send_round(c, cur);
    for (int led = 1;; led++) {
        recv_round(c, cur);
        pthread_mutex_lock(&c->mu);
        int more = cur->rc == 0 && c->head && led < BULLC__LEAD_ROUNDS;
        if (more)
            take_round(c, next);
        pthread_mutex_unlock(&c->mu);
        if (more)
            send_round(c, next);
        finish_round(c, cur);
        if (!more)
            break;
        bullc__round *t = cur;
        cur = next;
        next = t;
    }
    pthread_mutex_lock(&c->mu);
    c->leading = 0;
    sem_t *first = c->head ? c->head->sem : NULL;
    pthread_mutex_unlock(&c->mu);
    if (first)
        sem_post(first);
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
            /* lead; our request is in the first round unless it filled up before reaching it */
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
    if (n > BULLC__ROUND_MAX)
        return BULLC_EINVAL; /* handler calls and maintenance send one or two */
    bullc__req req;
    memset(&req, 0, sizeof req);
    req.kind = BULLC__REQ_CMDS;
    req.cmds = cmds;
    req.ncmds = n;
    req.replies = replies;
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
