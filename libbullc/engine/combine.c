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
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Rounds one thread leads in a row before it passes the lead on (its own next job waits
 * meanwhile, not yet renewed by the maintenance loop). The lead passes with the rounds in
 * flight, so a change of leader costs the heir's wake-up, not an idle Redis: 16 is where
 * 4, 8, 32 and 64 measured no better at concurrency 10. */
#define BULLC__LEAD_ROUNDS 16
/* ... or for this long, whichever comes first: with a distant Redis 16 rounds would keep the
 * leader's own job waiting for 16 round trips. */
#define BULLC__LEAD_MS 2

/* Waiters of a round that wake each other in turn (see finish_round). */
#define BULLC__WAKE_CHAIN 8

static int round_init(bullc__round *r)
{
    size_t n = 2 * BULLC__ROUND_MAX + 1;
    r->cmds = calloc(n, sizeof *r->cmds);
    r->replies = calloc(n, sizeof *r->replies);
    r->x.settles = calloc(BULLC__ROUND_MAX, sizeof *r->x.settles);
    r->x.fetched = calloc(BULLC__ROUND_MAX, sizeof *r->x.fetched);
    r->x.claims = calloc(BULLC__ROUND_MAX, sizeof *r->x.claims);
    return r->cmds && r->replies && r->x.settles && r->x.fetched && r->x.claims ? 0 : BULLC_ENOMEM;
}

static void round_free(bullc__combiner *c, bullc__round *r)
{
    if (c->ops)
        c->ops->xchg_free(c->proto, &r->x);
    free(r->cmds);
    free(r->replies);
    free(r->x.settles);
    free(r->x.fetched);
    free((void *)r->x.claims);
}

int bullc__combiner_init(bullc__combiner *c, const bullc__conn_cfg *cfg,
                         const bullc__proto_ops *ops, bullc__proto *proto, size_t expect)
{
    memset(c, 0, sizeof *c);
    c->wake_fd = -1;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return BULLC_ENOMEM;
    bullc__conn_init(&c->conn, cfg);
    if ((c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return BULLC_ETHREAD;
    c->ops = ops;
    c->proto = proto;
    c->expect = expect;
    if (round_init(&c->rounds[0]) != 0 || round_init(&c->rounds[1]) != 0)
        return BULLC_ENOMEM;
    return 0;
}

void bullc__combiner_free(bullc__combiner *c)
{
    round_free(c, &c->rounds[0]);
    round_free(c, &c->rounds[1]);
    bullc__conn_free(&c->conn);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
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
    c->queued -= n;
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
    x->nclaims = 0;
    for (size_t i = 0; i < rd->n; i++) {
        bullc__req *r = rd->batch[i];
        if (r->kind == BULLC__REQ_CMDS)
            for (size_t k = 0; k < r->ncmds; k++)
                rd->cmds[ncmds++] = r->cmds[k];
        else if (r->kind == BULLC__REQ_SETTLE)
            x->settles[x->nsettles++] = r->settle;
        else {
            x->nfetch += r->want;
            if (r->claim && r->want > 0)
                x->claims[x->nclaims++] = r->claim;
        }
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
    rd->gen = c->conn.generation;
}

/* Reads the replies of the oldest round in flight (`more_sent`: another one is behind it). */
static void recv_round(bullc__combiner *c, bullc__round *rd, int more_sent)
{
    if (rd->rc == 0 && rd->ncmds && rd->gen != c->conn.generation) {
        /* sent on a connection that was lost and replaced since: its replies are gone */
        snprintf(c->conn.errstr, sizeof c->conn.errstr, "connection lost");
        rd->rc = BULLC_EIO;
    } else if (rd->rc == 0 && rd->ncmds) {
        rd->rc = bullc__conn_recv(&c->conn, rd->cmds, rd->ncmds, rd->replies, more_sent);
    }
}

/* Hands the fetched jobs out to the FETCH requests, in order (`err`: why the fetch failed). */
static void hand_out(bullc__round *rd, const char *err)
{
    size_t next = 0;
    for (size_t i = 0; i < rd->n; i++) {
        bullc__req *r = rd->batch[i];
        if (r->kind != BULLC__REQ_FETCH)
            continue;
        r->rc = rd->x.rc;
        if (r->rc)
            snprintf(r->err, sizeof r->err, "%s", err[0] ? err : bullc_strerror(r->rc));
        r->hints = rd->x.hints;
        r->got = 0;
        while (r->got < (size_t)r->want && next < rd->x.nfetched)
            r->jobs[r->got++] = rd->x.fetched[next++];
    }
    /* more jobs than asked for cannot happen (the protocol takes at most nfetch) */
    while (next < rd->x.nfetched)
        bullc__job_free(rd->x.fetched[next++]);
}

/* Gives every request of the round its results, then wakes their threads (`me`: the leader's
 * own request, whose thread is awake). */
static void finish_round(bullc__combiner *c, bullc__round *rd, bullc__req *me)
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
        hand_out(rd, rd->xrc ? "out of memory" : rd->rc ? c->conn.errstr : rd->x.err);
    }
    /* The waiters wake each other in chains of up to BULLC__WAKE_CHAIN: a wake-up costs the
     * waker several microseconds, which the leader spends better on the next round; the
     * chains keep the last waiter of a large round from waiting for all the others. */
    sem_t *heads[BULLC__ROUND_REQS / BULLC__WAKE_CHAIN + 1];
    size_t nh = 0, nw = 0;
    bullc__req *prev = NULL;
    for (size_t i = 0; i < rd->n; i++) {
        bullc__req *r = rd->batch[i];
        r->wakes = NULL;
        if (r == me)
            continue;
        if (nw++ % BULLC__WAKE_CHAIN == 0)
            heads[nh++] = r->sem;
        else
            prev->wakes = r->sem;
        prev = r;
    }
    for (size_t i = 0; i < rd->n; i++)
        atomic_store(&rd->batch[i]->done, 1); /* the request may be gone once this is seen */
    for (size_t i = 0; i < nh; i++)
        sem_post(heads[i]);
}

/* Takes the queued requests into `rd` and sends them (mu held on entry, released on return). */
static void start_round(bullc__combiner *c, bullc__round *rd)
{
    take_round(c, rd);
    pthread_mutex_unlock(&c->mu);
    send_round(c, rd);
}

/* With one round in flight, sends a second one when enough requests have queued up, waiting
 * for them or for the first round's replies, whichever comes first. 1 when a round was sent.
 * Enough is half of the threads not in the first round: the two rounds then carry about as
 * many jobs each, and Redis runs one while the handlers of the other run (with 10 threads and
 * a first round of 9, the tenth goes alone at once instead of waiting for the 9). */
static int start_second(bullc__combiner *c, bullc__round *first, bullc__round *spare)
{
    size_t rest = c->expect > first->n ? c->expect - first->n : 0;
    size_t enough = rest > 1 ? (rest + 1) / 2 : 1;
    pthread_mutex_lock(&c->mu);
    if (c->queued < enough) {
        c->wake_at = enough;
        pthread_mutex_unlock(&c->mu);
        int replies = bullc__conn_wait(&c->conn, c->wake_fd);
        pthread_mutex_lock(&c->mu);
        /* a submitter that wakes us clears wake_at and writes the eventfd under mu: with
         * wake_at still set, nothing was written, and the read (a syscall per round) is saved */
        int woken = c->wake_at == 0;
        c->wake_at = 0;
        eventfd_t n;
        if (woken)
            eventfd_read(c->wake_fd, &n);
        else if (replies) {
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    }
    if (!c->head) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    start_round(c, spare);
    return 1;
}

/* Leads (called with mu held, returns with it released): keeps rounds going, up to two in
 * flight, while requests keep arriving. After BULLC__LEAD_ROUNDS rounds or BULLC__LEAD_MS, it
 * passes the lead to the first thread queued, with the rounds still in flight, so that Redis
 * is never left idle by the change (that thread receives them); with nobody queued it lets
 * them land and stops. */
static void lead(bullc__combiner *c, bullc__req *me)
{
    int led = 0;
    long long until = bullc__mono_ms() + BULLC__LEAD_MS;
    if (!c->leading) {
        c->leading = 1;
        c->flight[0] = &c->rounds[0];
        c->nflight = 1;
        led = 1;
        start_round(c, c->flight[0]);
    } else {
        pthread_mutex_unlock(&c->mu); /* the heir: the rounds in flight are ours now */
    }
    bullc__round **flight = c->flight;
    while (c->nflight > 0) {
        int tired = led >= BULLC__LEAD_ROUNDS || bullc__mono_ms() > until;
        if (c->nflight == 1 && flight[0]->rc == 0 && !tired) {
            bullc__round *spare = flight[0] == &c->rounds[0] ? &c->rounds[1] : &c->rounds[0];
            if (start_second(c, flight[0], spare)) {
                flight[c->nflight++] = spare;
                led++;
            }
        }
        tired = tired || led >= BULLC__LEAD_ROUNDS; /* best passed on with two in flight */
        if (tired) {
            pthread_mutex_lock(&c->mu);
            if (c->head) {
                c->heir = c->head;
                sem_t *heir = c->head->sem;
                pthread_mutex_unlock(&c->mu);
                sem_post(heir);
                return;
            }
            pthread_mutex_unlock(&c->mu);
        }
        recv_round(c, flight[0], c->nflight > 1);
        finish_round(c, flight[0], me);
        bullc__round *done = flight[0];
        flight[0] = flight[1];
        flight[1] = NULL;
        c->nflight--;
        if (c->nflight == 0 && !tired) {
            pthread_mutex_lock(&c->mu);
            if (c->head) {
                start_round(c, done);
                flight[c->nflight++] = done;
                led++;
            } else {
                pthread_mutex_unlock(&c->mu);
            }
        }
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
    c->queued++;
    if (c->wake_at && c->queued >= c->wake_at) {
        c->wake_at = 0; /* one wake-up is enough */
        eventfd_write(c->wake_fd, 1);
    }
    for (;;) {
        if (!c->leading) {
            /* lead; our request is in the first round unless it filled up before reaching it */
            lead(c, req);
        } else if (c->heir == req) {
            /* the leader passed us the lead, with its rounds in flight */
            c->heir = NULL;
            lead(c, req);
        } else {
            pthread_mutex_unlock(&c->mu);
            /* posted when our request is done, or when we are first in line to lead; a post
             * left over from an earlier request only costs one more turn of the loop */
            while (sem_wait(sem) != 0) {
            }
        }
        if (atomic_load(&req->done)) {
            if (req->wakes)
                sem_post(req->wakes);
            return;
        }
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
