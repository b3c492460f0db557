/* pool.c - the handler threads. Each takes a job, lets the protocol check it, runs the user's
 * handler, and settles the outcome through the combiner, asking for its next job in the same
 * round trip; a thread with no next job goes idle and refills the idle threads (one fetch for
 * all of them), and the blocker waits for more work when even that came back empty
 * (docs/architecture.md §4). */
#include "engine/engine.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

void bullc__worker_emit(bullc_worker_t *w, bullc_event_t ev, const bullc_job_t *job,
                        const char *detail)
{
    if (w->o.event_cb)
        w->o.event_cb(ev, job, detail, w->o.event_user_data);
}

void bullc__pool_tell_stop(bullc_worker_t *w, int why)
{
    for (int i = 0; i < w->o.concurrency; i++)
        atomic_fetch_or(&w->slots[i].stop_why, why);
}

/* Arms cancellation for the handler about to run job on s: no reason yet (but the worker's
 * stop deadline if it already passed), and the job's timeout from now. */
static void arm_stop(bullc__slot *s, const bullc_job_t *job)
{
    atomic_store(&s->stop_why, 0);
    /* after the reset: a deadline passing meanwhile is either seen here or told to us */
    if (atomic_load(&s->w->gate.past_deadline))
        atomic_fetch_or(&s->stop_why, BULLC_STOP_WORKER);
    s->deadline_ms = job->timeout_ms > 0 ? bullc__mono_ms() + job->timeout_ms : 0;
}

/* After the handler returned rc: the code its run ends with. Past its timeout the attempt
 * fails with the protocol's reason (the handler's result is discarded); a failure returned
 * once the worker's stop deadline passed is recorded nowhere (abandoned). */
static int after_handler(bullc__slot *s, bullc_job_t *job, int rc)
{
    int why = bullc__slot_stop_bits(s, bullc__mono_ms());
    s->deadline_ms = 0;
    if (job->moved)
        return rc;
    if ((why & BULLC_STOP_TIMEOUT) && job->timeout_reason) {
        bullc__job_set_failure(job, job->timeout_reason, 0);
        return BULLC_EJOBFAILED;
    }
    if ((why & BULLC_STOP_WORKER) && rc != 0) {
        job->abandoned = 1;
        bullc__log_job(&s->w->log, job, BULLC_LOG_INFO,
                       "%s: job %s stopped at the worker's stop deadline (%s); left active "
                       "for a stalled check to requeue",
                       s->label, job->id, bullc_errname(rc));
    }
    return rc;
}

/* ---- the idle list ------------------------------------------------------------------------ */

int bullc__pool_wants_work(bullc_worker_t *w) { return w->nidle - w->reserved > 0; }

static bullc__slot *pop_idle(bullc_worker_t *w)
{
    bullc__slot *s = w->idle_head;
    if (s) {
        w->idle_head = s->next_idle;
        s->idle = 0;
        w->nidle--;
    }
    return s;
}

static void remove_idle(bullc_worker_t *w, bullc__slot *s)
{
    for (bullc__slot **p = &w->idle_head; *p; p = &(*p)->next_idle)
        if (*p == s) {
            *p = s->next_idle;
            s->idle = 0;
            w->nidle--;
            return;
        }
}

void bullc__pool_wake_all(bullc_worker_t *w)
{
    pthread_mutex_lock(&w->gate.mu);
    for (bullc__slot *s = w->idle_head; s; s = s->next_idle)
        pthread_cond_signal(&s->idle_cv);
    pthread_mutex_unlock(&w->gate.mu);
}

/* A delayed job falls due at due_ms (epoch): the maintenance loop runs the protocol's tick, if
 * any, by then (worker.c reads tick_due when tick_fd wakes it). */
static void ask_tick(bullc_worker_t *w, long long due_ms)
{
    if (!w->ops->tick || due_ms <= 0)
        return;
    long long cur = atomic_load(&w->tick_due);
    while ((cur <= 0 || due_ms < cur) &&
           !atomic_compare_exchange_weak(&w->tick_due, &cur, due_ms)) {
    }
    if (cur <= 0 || due_ms < cur)
        eventfd_write(w->tick_fd, 1);
}

/* Notes what a short fetch said about the queue; `drained` once per empty spell, as Node. A
 * failed fetch is logged once until a fetch works again (the blocker retries with backoff). */
static void after_short_fetch(bullc_worker_t *w, const bullc__req *req)
{
    int transport = req->rc == BULLC_EIO || req->rc == BULLC_ECONNECT;
    if (req->rc != 0 && atomic_exchange(&w->gate.fetch_down, 1) == 0)
        bullc__log(&w->log, transport ? BULLC_LOG_WARN : BULLC_LOG_ERROR,
                   "cannot fetch jobs: %s (%s)", bullc_strerror(req->rc), req->err);
    if (req->rc != 0)
        return;
    atomic_store(&w->gate.fetch_down, 0);
    ask_tick(w, req->hints.tick_at_ms);
    bullc__gate_note_delay(&w->gate, req->hints.delay_until_ms);
    bullc__gate_note_limit(&w->gate, req->hints.rate_limit_ms);
    if (req->hints.rate_limit_ms <= 0 && req->got == 0 && atomic_exchange(&w->gate.drained, 1) == 0)
        bullc__worker_emit(w, BULLC_EVENT_DRAINED, NULL, NULL);
}

int bullc__pool_refill(bullc_worker_t *w, bullc__clink *via, const char *claim)
{
    bullc__gate *g = &w->gate;
    if (bullc__gate_stopping(g) || atomic_load(&g->paused) || bullc__gate_limit_left(g) > 0)
        return 0;
    pthread_mutex_lock(&g->mu);
    int k = w->nidle - w->reserved;
    if (k > BULLC__ROUND_MAX)
        k = BULLC__ROUND_MAX;
    if (k > 0)
        w->reserved += k;
    pthread_mutex_unlock(&g->mu);
    if (k <= 0)
        return 0;
    bullc_job_t *jobs[BULLC__ROUND_MAX];
    bullc__req req;
    memset(&req, 0, sizeof req);
    req.kind = BULLC__REQ_FETCH;
    req.want = k;
    req.claim = claim;
    req.jobs = jobs;
    bullc__combiner_submit(&w->comb, &req, &via->sem);
    if (req.got > 0)
        atomic_store(&g->drained, 0);
    pthread_mutex_lock(&g->mu);
    w->reserved -= k;
    for (size_t i = 0; i < req.got; i++) {
        bullc__slot *s = pop_idle(w);
        if (!s) { /* cannot happen: k idle threads were reserved for this fetch */
            bullc__log_job(&w->log, jobs[i], BULLC_LOG_ERROR,
                           "job %s fetched with no thread to run it", jobs[i]->id);
            bullc__job_free(jobs[i]);
            continue;
        }
        s->job = jobs[i];
        pthread_cond_signal(&s->idle_cv);
    }
    if ((int)req.got < k)
        pthread_cond_signal(&g->blocker_cv); /* idle threads remain: wait for work */
    if (g->stopping)
        for (bullc__slot *s = w->idle_head; s; s = s->next_idle)
            pthread_cond_signal(&s->idle_cv); /* the reservation that kept them is gone */
    pthread_mutex_unlock(&g->mu);
    if ((int)req.got < k)
        after_short_fetch(w, &req);
    else
        atomic_store(&g->fetch_down, 0);
    return 1;
}

/* Waits in the idle list until a refill hands this thread a job; NULL once the worker stops.
 * With `refill`, first fetches for the idle threads itself. */
static bullc_job_t *wait_for_job(bullc__slot *s, int refill)
{
    bullc_worker_t *w = s->w;
    bullc__gate *g = &w->gate;
    /* a thread that fetches for itself wakes the blocker only if that fetch was not sent (a
     * short one wakes it in refill): otherwise both would take jobs at once, and a job the
     * blocking command moved could wait behind the ones this fetch took */
    refill = refill && !atomic_load(&g->claim_waiting);
    pthread_mutex_lock(&g->mu);
    s->idle = 1;
    s->next_idle = w->idle_head;
    w->idle_head = s;
    w->nidle++;
    if (!refill)
        pthread_cond_signal(&g->blocker_cv);
    pthread_mutex_unlock(&g->mu);
    if (refill && !bullc__pool_refill(w, &s->link, NULL)) {
        pthread_mutex_lock(&g->mu);
        pthread_cond_signal(&g->blocker_cv);
        pthread_mutex_unlock(&g->mu);
    }
    pthread_mutex_lock(&g->mu);
    /* a stopping thread still waits for a refill in flight, which may hand it a job */
    while (!s->job && !((g->stopping || bullc__gate_stopping(g)) && w->reserved == 0))
        pthread_cond_wait(&s->idle_cv, &g->mu);
    bullc_job_t *job = s->job;
    s->job = NULL;
    if (!job)
        remove_idle(w, s);
    pthread_mutex_unlock(&g->mu);
    return job;
}

/* ---- one job ------------------------------------------------------------------------------ */

static const bullc__handler *find_handler(bullc_worker_t *w, const char *name)
{
    for (size_t i = 0; i < w->nhandlers; i++)
        if (strcmp(w->handlers[i].name, name) == 0)
            return &w->handlers[i];
    return w->catchall.fn ? &w->catchall : NULL;
}

/* The protocol's look at a taken job before its handler, retried across connection losses
 * until the worker stops: 0 run, 1 skip, BULLC_EJOBFAILED fail without running. */
static int start_job(bullc__slot *s, bullc_job_t *job)
{
    bullc_worker_t *w = s->w;
    for (int failures = 0;; failures++) {
        int rc = w->ops->start(w->proto, &s->link.link, job);
        if (rc != BULLC_EIO && rc != BULLC_ECONNECT)
            return rc == 0 || rc == BULLC_EJOBFAILED ? rc : 1;
        if (bullc__gate_stopping(&w->gate))
            return 1; /* left active: the stalled check requeues it */
        if (failures == 0)
            bullc__log_job(&w->log, job, BULLC_LOG_WARN,
                           "%s: job %s: Redis unreachable before its handler (%s); retrying",
                           s->label, job->id, bullc_strerror(rc));
        bullc__gate_nap(&w->gate, bullc__backoff_ms(failures + 1, &s->seed));
    }
}

/* Runs the handler; the job's outcome fields say what happened. */
static int run_handler(bullc__slot *s, bullc_job_t *job)
{
    bullc_worker_t *w = s->w;
    const bullc__handler *h = find_handler(w, job->name);
    if (!h) {
        bullc__buf b;
        bullc__buf_init(&b);
        bullc__buf_printf(&b, "no handler for job name \"%s\"", job->name);
        free(job->fail_message);
        job->fail_message = bullc__buf_take(&b);
        return BULLC_ENOHANDLER;
    }
    arm_stop(s, job);
    bullc__slot_lock(s, job);
    job->run = &s->run;
    long long t0 = bullc__stats_mono_us();
    int rc = w->iso ? bullc__iso_run(s, job, h) : h->fn(job, h->ud);
    s->run_us = bullc__stats_mono_us() - t0;
    job->run = NULL;
    bullc__slot_lock(s, NULL);
    return after_handler(s, job, rc);
}

/* The outcome of a handler's return code; 1 when the handler moved the job itself (nothing to
 * record). */
static int outcome_of(bullc_worker_t *w, bullc_job_t *job, int rc, bullc__outcome *oc)
{
    if (job->abandoned)
        return 1;
    if (job->moved) {
        if (rc != BULLC_EMOVED && rc != BULLC_ERATELIMITED)
            bullc__log_job(&w->log, job, BULLC_LOG_WARN,
                       "job %s: handler moved its job but returned %s; no outcome recorded",
                       job->id, bullc_errname(rc));
        return 1;
    }
    if (rc == BULLC_EMOVED || rc == BULLC_ERATELIMITED) {
        char msg[128];
        snprintf(msg, sizeof msg, "handler returned %s but the job was not moved",
                 bullc_errname(rc));
        bullc__job_set_failure(job, msg, job->unrecoverable);
    }
    memset(oc, 0, sizeof *oc);
    oc->failed = rc != 0;
    oc->result = job->result ? job->result : "null";
    oc->reason = job->fail_message ? job->fail_message : bullc_strerror(rc);
    oc->unrecoverable = rc == BULLC_EUNRECOVERABLE || job->unrecoverable;
    return 0;
}

static void report_lost(bullc__slot *s, bullc_job_t *job, int rc, const char *detail)
{
    bullc_worker_t *w = s->w;
    bullc__log_job(&w->log, job, BULLC_LOG_WARN,
                   "%s: could not record the outcome of job %s: %s%s%s", s->label, job->id,
                   bullc_strerror(rc), detail[0] ? " - " : "", detail);
    if (rc == BULLC_ELOCKMISSING || rc == BULLC_ELOCKMISMATCH)
        bullc__worker_emit(w, BULLC_EVENT_LOCK_LOST, job, bullc_strerror(rc));
}

/* Sends a prepared settle until Redis takes it: forever while the worker runs (a result must
 * not be lost), for one lock duration once it is stopping (then the stalled check of some
 * worker requeues the job). */
static void send_settle(bullc__slot *s, bullc__settle *st)
{
    bullc_worker_t *w = s->w;
    long long first_fail = 0;
    for (int failures = 0;; failures++) {
        bullc__req req;
        memset(&req, 0, sizeof req);
        req.kind = BULLC__REQ_SETTLE;
        req.settle = st;
        bullc__combiner_submit(&w->comb, &req, &s->link.sem);
        if (st->rc != BULLC_EIO && st->rc != BULLC_ECONNECT)
            return;
        long long now = bullc__mono_ms();
        if (!first_fail) {
            first_fail = now;
            bullc__log_job(&w->log, st->job, BULLC_LOG_WARN,
                       "%s: job %s finished but Redis did not take its outcome (%s); will retry",
                       s->label, st->job->id, st->errstr);
        }
        if (bullc__gate_stopping(&w->gate) && now - first_fail > w->o.lock_duration_ms) {
            bullc__log_job(&w->log, st->job, BULLC_LOG_ERROR,
                       "%s: gave up recording job %s; its lock expires and a stalled check "
                       "will requeue it",
                       s->label, st->job->id);
            return;
        }
        bullc__sleep_ms(bullc__backoff_ms(failures + 1, &s->seed)); /* not cut short by stop */
    }
}

/* Records the outcome; returns the next job Redis handed out with it, or NULL. */
static bullc_job_t *settle(bullc__slot *s, bullc_job_t *job, bullc__outcome *oc)
{
    bullc_worker_t *w = s->w;
    bullc__settle *st = &s->settle;
    st->job = job;
    /* as Node: no next job while closing or locally paused */
    st->fetch_next = !bullc__gate_stopping(&w->gate) && !atomic_load(&w->gate.paused) &&
                     !atomic_load(&w->gate.claim_waiting);
    bullc__jobtrace_settling(s, oc);
    for (;;) {
        if (w->ops->settle_prepare(w->proto, st, oc) != 0) {
            bullc__log_job(&w->log, job, BULLC_LOG_ERROR,
                           "job %s: out of memory recording its outcome", job->id);
            return NULL; /* the lock expires and the stalled check requeues it */
        }
        send_settle(s, st);
        if (st->rc != BULLC__AGAIN)
            break;
        /* the protocol turned the completion into a failure (a refusal it records as one) */
        oc->failed = 1;
        oc->reason = job->fail_message;
        oc->unrecoverable = job->unrecoverable;
    }
    bullc__jobtrace_settled(s, job, st);
    if (st->rc == 0)
        bullc__stats_outcome(&w->stats, st->event, s->run_us);
    if (st->rc == 0)
        bullc__worker_emit(w, st->event, job, st->detail);
    else
        report_lost(s, job, st->rc, st->errstr);
    if (st->rc == 0 && st->tick_at_ms > 0)
        ask_tick(w, st->tick_at_ms);
    if (!st->next) {
        bullc__gate_note_delay(&w->gate, st->hints.delay_until_ms);
        bullc__gate_note_limit(&w->gate, st->hints.rate_limit_ms);
    }
    bullc_job_t *next = st->next;
    st->next = NULL;
    return next;
}

/* Starts, runs and settles one job; returns the next job, or NULL. */
static bullc_job_t *handle(bullc__slot *s, bullc_job_t *job)
{
    bullc_worker_t *w = s->w;
    atomic_store(&w->gate.drained, 0);
    s->run_us = 0;
    bullc__outcome oc;
    bullc__jobtrace_begin(s, job);
    int rc = start_job(s, job);
    if (rc == 1) {
        bullc__jobtrace_end(s, job, 0);
        return NULL;
    }
    if (rc == BULLC_EJOBFAILED) {
        memset(&oc, 0, sizeof oc);
        oc.failed = 1;
        oc.reason = job->fail_message ? job->fail_message : bullc_strerror(rc);
        oc.unrecoverable = job->unrecoverable;
    } else if (outcome_of(w, job, run_handler(s, job), &oc)) {
        bullc__jobtrace_end(s, job, 1);
        return NULL;
    }
    bullc_job_t *next = settle(s, job, &oc);
    bullc__jobtrace_end(s, job, 1);
    return next;
}

static void *slot_main(void *arg)
{
    bullc__slot *s = arg;
    bullc_worker_t *w = s->w;
    bullc_job_t *job = wait_for_job(s, 1);
    while (job) {
        bullc__stats_active(&w->stats, 1);
        bullc_job_t *next = handle(s, job);
        bullc__stats_active(&w->stats, -1);
        bullc__job_free(job);
        job = next ? next : wait_for_job(s, 1);
    }
    w->ops->settle_release(w->proto, &s->settle);
    pthread_mutex_lock(&w->gate.mu);
    w->threads_alive--;
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->gate.mu);
    return NULL;
}

int bullc__pool_start(bullc_worker_t *w)
{
    for (int i = 0; i < w->o.concurrency; i++) {
        bullc__slot *s = &w->slots[i];
        pthread_mutex_lock(&w->gate.mu);
        w->threads_alive++;
        pthread_mutex_unlock(&w->gate.mu);
        if (pthread_create(&s->tid, NULL, slot_main, s) != 0) {
            pthread_mutex_lock(&w->gate.mu);
            w->threads_alive--;
            pthread_mutex_unlock(&w->gate.mu);
            snprintf(w->errmsg, sizeof w->errmsg, "cannot start handler thread %d", i);
            return BULLC_ETHREAD;
        }
        s->started = 1;
    }
    return 0;
}

void bullc__pool_join(bullc_worker_t *w)
{
    for (int i = 0; i < w->o.concurrency; i++) {
        if (w->slots[i].started)
            pthread_join(w->slots[i].tid, NULL);
        w->slots[i].started = 0;
    }
}
