/* engine.h - the worker's insides, shared by the files of engine/ only (docs/architecture.md):
 *   worker.c   the public worker API: options, lifecycle, run() and its maintenance loop
 *   pool.c     handler threads: take a job, run its handler, settle it, go idle and refill
 *   combine.c  the combiner: every thread's Redis work goes through one shared connection, in
 *              rounds that merge what threads submitted while the previous round was in flight
 *   blocker.c  the blocking wait for work while handler threads are idle
 *   gate.c     stop, local pause, rate-limit and delayed-job timing, shared by all threads
 *   calls.c    the public calls a handler makes on its job
 *   isolate*.c handlers in handler processes (bullc_worker_opts_t.isolate; engine/isolate.h)
 * The engine knows no key names or scripts: everything it sends comes from the protocol
 * (proto/proto.h). */
#ifndef BULLC_ENGINE_H
#define BULLC_ENGINE_H

#include "net/sub.h"
#include "proto/proto.h"
#include "trace/trace.h"
#include "util/log.h"
#include "util/stats.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>


/* ---- the combiner (combine.c) ------------------------------------------------------------- */

typedef enum bullc__req_kind { BULLC__REQ_CMDS = 1, BULLC__REQ_SETTLE, BULLC__REQ_FETCH } bullc__req_kind;

/* One thread's request, waiting for a round. */
typedef struct bullc__req {
    bullc__req_kind kind;
    bullc__cmd *const *cmds;   /* CMDS: the commands and where their replies go */
    size_t ncmds;
    bullc__reply **replies;
    bullc__settle *settle;     /* SETTLE */
    int want;                  /* FETCH: how many jobs */
    const char *claim;         /* FETCH: an id the blocking wait moved, taken first, or NULL */
    bullc_job_t **jobs;        /* FETCH: room for `want` jobs; *got of them filled */
    size_t got;
    bullc__hints hints;        /* FETCH: when it came back short */
    int rc;
    char err[256];
    atomic_int done;
    sem_t *sem;                /* the waiting thread's own: posted when done, or to lead */
    sem_t *wakes;              /* when done: the next waiter of the round, which this one wakes */
    struct bullc__req *next;
} bullc__req;

/* Most requests of each kind one round takes (the rest wait for the next round), and most
 * requests in all. */
enum { BULLC__ROUND_MAX = 64, BULLC__ROUND_REQS = 3 * BULLC__ROUND_MAX };

/* One round's requests and the leader's scratch for it. */
typedef struct bullc__round {
    bullc__req *batch[BULLC__ROUND_REQS];
    size_t n;
    bullc__cmd **cmds;       /* the plain commands, then the exchange's */
    size_t ncmds, nplain;
    bullc__reply **replies;
    bullc__xchg x;           /* the protocol's exchange for the settles and fetches */
    int xrc;                 /* building the exchange failed */
    int rc;                  /* the round trip failed */
    unsigned gen;            /* the connection it was sent on (bullc__conn.generation) */
} bullc__round;

typedef struct bullc__combiner {
    pthread_mutex_t mu;
    bullc__req *head, *tail;
    size_t queued;             /* requests in the queue */
    size_t wake_at;            /* > 0: the leader waits for replies and wants waking (wake_fd)
                                  once this many requests are queued */
    int wake_fd;               /* an eventfd */
    int leading;
    bullc__req *heir;          /* the queued request whose thread takes over the lead */
    size_t expect;             /* threads that queue requests under load (the concurrency) */
    bullc__conn conn;          /* used only by the thread leading */
    const bullc__proto_ops *ops;
    bullc__proto *proto;
    bullc__round rounds[2];    /* a leader keeps up to two rounds in flight */
    bullc__round *flight[2];   /* the rounds in flight, oldest first (the leader's; passed on
                                  with the lead) */
    int nflight;
} bullc__combiner;

/* `expect`: how many threads submit requests (the worker's concurrency), which sizes the second
 * round a leader sends while one is in flight. */
int bullc__combiner_init(bullc__combiner *c, const bullc__conn_cfg *cfg,
                         const bullc__proto_ops *ops, bullc__proto *proto, size_t expect);
void bullc__combiner_free(bullc__combiner *c);
/* Queues `req` and returns once a round has carried it (req->rc and results set). The calling
 * thread may lead that round itself; `sem` is its own semaphore. */
void bullc__combiner_submit(bullc__combiner *c, bullc__req *req, sem_t *sem);

/* A bullc__link through the combiner, for one thread (with that thread's semaphore). */
typedef struct bullc__clink {
    bullc__link link;
    bullc__combiner *c;
    sem_t sem;
} bullc__clink;

int bullc__clink_init(bullc__clink *l, bullc__combiner *c);
void bullc__clink_free(bullc__clink *l);

/* ---- shared timing and state (gate.c) ----------------------------------------------------- */

typedef struct bullc__gate {
    pthread_mutex_t mu;        /* guards everything below that is not atomic */
    pthread_cond_t blocker_cv; /* the blocker waits for idle threads, pause, delays */
    pthread_cond_t nap_cv;     /* timed naps that stop cuts short */
    atomic_int stop_flag;      /* set by bullc_worker_stop (async-signal-safe) */
    atomic_llong stop_by;      /* bullc_worker_stop_within: monotonic ms after which running
                                  handlers are told to stop (0: no deadline) */
    atomic_int past_deadline;  /* stop_by passed: handlers starting now are told at once */
    int stop_pipe[2];          /* one byte written on stop wakes every poll */
    int stopping;              /* under mu: stop observed and broadcast */
    atomic_int paused;         /* bullc_worker_pause */
    atomic_llong limit_until;  /* rate limited until then (monotonic ms) */
    long long block_until;     /* under mu: next delayed job's due time (epoch ms, 0 none) */
    atomic_int drained;        /* the drained event was emitted and no job taken since */
    atomic_int fetch_down;     /* fetches fail for want of a connection (logged once) */
    atomic_int claim_waiting;  /* the blocker holds a job it moved and no idle thread to run
                                  it: finishing threads take no fetch-next and do not fetch for
                                  themselves, so that job is the next one run (not starved) */
} bullc__gate;

int bullc__gate_init(bullc__gate *g);
void bullc__gate_free(bullc__gate *g);
int bullc__gate_stopping(bullc__gate *g);
/* Marks the stop as observed and wakes everything that waits. Idempotent. */
void bullc__gate_observe_stop(bullc__gate *g);
/* Sleeps up to ms, returning early when the worker stops. */
void bullc__gate_nap(bullc__gate *g, long long ms);
/* The queue is rate limited for ms from now (saturating). */
void bullc__gate_note_limit(bullc__gate *g, long long ms);
/* Rate-limit time left (ms), 0 when not limited. */
long long bullc__gate_limit_left(bullc__gate *g);
/* A delayed job falls due at due_ms (epoch): the blocker wakes no later than then. */
void bullc__gate_note_delay(bullc__gate *g, long long due_ms);

/* ---- handler threads (pool.c) ------------------------------------------------------------- */

typedef struct bullc__handler {
    char *name; /* NULL = catch-all */
    bullc_handler_fn fn;
    void *ud;
} bullc__handler;

/* The context of a running handler, for the calls it makes on its job (calls.c). */
typedef struct bullc__run {
    bullc_worker_t *w;
    struct bullc__slot *slot;
    bullc__link *link;
    struct bullc__iso_rt *child; /* inside a handler process: the calls go to the worker
                                    (isolate_child.c); slot and link are NULL then */
    bullc__span *span;           /* inside a handler process: a stand-in for the attempt's
                                    process span, made in the worker (NULL untraced) */
} bullc__run;

/* One handler thread. */
typedef struct bullc__slot {
    bullc_worker_t *w;
    int idx;
    pthread_t tid;
    int started;
    char label[32];
    bullc__clink link;
    bullc__settle settle;
    bullc__run run;
    pthread_cond_t idle_cv;    /* waits here while idle */
    bullc_job_t *job;          /* under gate.mu while idle: a job handed to it */
    int idle;                  /* under gate.mu: waiting in the idle list */
    struct bullc__slot *next_idle;
    unsigned seed;
    /* the lock the maintenance loop renews (under lock_mu) */
    const char *lock_job_id;
    const char *lock_token;
    long long lock_renewed_ms; /* monotonic */
    unsigned long lock_seq;    /* bumped at every change of the lock fields: a renewal's answer
                                  applies to the run it was asked for only */
    /* cancellation of the running handler (bullc_job_should_stop) */
    atomic_int stop_why;       /* bullc_stop_reason_t bits; reset as each handler starts */
    long long deadline_ms;     /* the handler thread's own: monotonic end of the job's timeout,
                                  0 = none */
    long long run_us;          /* the current job's handler run time (0 = it did not run) */
    /* tracing (jobtrace.c; NULL when the worker does not trace) */
    bullc__span *span;         /* the current attempt's `process` span */
    bullc__span *settle_span;  /* its child recording the outcome */
    char *settle_meta;         /* the child's context, written as the job's `tm` on failure */
} bullc__slot;

/* Starts the handler threads. BULLC_ETHREAD when one cannot be started (those that were are
 * stopped by bullc__pool_join). */
int bullc__pool_start(bullc_worker_t *w);
/* Takes jobs for the idle threads (at most BULLC__ROUND_MAX) and hands them out, on the calling
 * thread, whose link carries the request; notes the hints and emits `drained` when the queue
 * had none. Does nothing while stopping, locally paused or rate limited. `claim` (or NULL): a
 * job id the blocking wait already moved (BULLC__WAKE_JOB), taken first. Returns 1 when the
 * fetch was sent (the claim went with it), 0 when nothing was asked. */
int bullc__pool_refill(bullc_worker_t *w, bullc__clink *via, const char *claim);
/* Idle threads no refill in flight will serve (under gate.mu). */
int bullc__pool_wants_work(bullc_worker_t *w);
/* Wakes every idle thread (after a stop). */
void bullc__pool_wake_all(bullc_worker_t *w);
void bullc__pool_join(bullc_worker_t *w);
/* Records (or with job NULL clears) the lock the maintenance loop renews for slot. */
void bullc__slot_lock(bullc__slot *s, const bullc_job_t *job);
/* What bullc_job_should_stop answers for the handler running on slot s: its stop bits, plus
 * BULLC_STOP_TIMEOUT once now_ms (monotonic) reaches its timeout deadline. */
int bullc__slot_stop_bits(bullc__slot *s, long long now_ms);
/* Tells every running handler to stop for `why` (maintenance thread). */
void bullc__pool_tell_stop(bullc_worker_t *w, int why);
void bullc__worker_emit(bullc_worker_t *w, bullc_event_t ev, const bullc_job_t *job,
                        const char *detail);

/* ---- isolated handlers (isolate.c, docs/architecture.md §10) ------------------------------ */

/* Forks the zygote and one handler process per slot, and waits for their child_init: called by
 * bullc_worker_run before the worker starts any thread. BULLC_ETHREAD (w->errmsg says why). */
int bullc__iso_start(bullc_worker_t *w);
/* Runs job's handler h in slot s's handler process, answering the calls it makes; returns the
 * handler's code, or BULLC_EJOBFAILED with the reason set when the process died, timed out or
 * could not be started (a replacement is started). */
int bullc__iso_run(bullc__slot *s, bullc_job_t *job, const bullc__handler *h);
/* Ends the (idle) handler processes and the zygote, reaping them all. NULL iso: nothing. */
void bullc__iso_stop(bullc_worker_t *w);

/* ---- tracing (jobtrace.c): each step does nothing when the worker does not trace ---------- */

/* A job was taken: its attempt's `process` span starts, continuing the producer's trace. */
void bullc__jobtrace_begin(bullc__slot *s, bullc_job_t *job);
/* Its outcome is about to be recorded: the child span starts; oc->trace_meta is set. */
void bullc__jobtrace_settling(bullc__slot *s, bullc__outcome *oc);
/* The outcome was recorded (or not: st->rc): the child span ends, named for what happened. */
void bullc__jobtrace_settled(bullc__slot *s, const bullc_job_t *job, const bullc__settle *st);
/* The attempt is over: the process span ends (export 0: discarded, the job was not run). */
void bullc__jobtrace_end(bullc__slot *s, const bullc_job_t *job, int export_it);

/* ---- the blocking wait (blocker.c) -------------------------------------------------------- */

void *bullc__blocker_main(void *arg);

/* ---- the maintenance loop's pub/sub wait (listen.c) -------------------------------------- */

typedef struct bullc__listener {
    bullc__sub sub;  /* the protocol's tick channels */
    int epfd;        /* the stop pipe and tick_fd, as one wake descriptor */
    int made;        /* sub was initialised (to free) */
    int on;          /* 0: the protocol has no channels (or listening failed): plain waits */
} bullc__listener;

/* Subscribes (on first wait) to the protocol's tick channels, if any. 0 (l->on says whether it
 * listens), or why it cannot (logged; the loop then waits as without channels). */
int bullc__listener_open(bullc__listener *l, bullc_worker_t *w);
void bullc__listener_close(bullc__listener *l);
/* Waits until the monotonic `wake`, a stop or tick request, or a message; returns next_tick
 * brought forward to what a message announced (now after a (re)subscription). */
long long bullc__listener_wait(bullc__listener *l, bullc_worker_t *w, long long wake,
                               long long next_tick);

/* ---- the worker --------------------------------------------------------------------------- */

struct bullc_worker {
    bullc_worker_opts_t o;     /* options, strings owned */
    char *s_url, *s_prefix, *s_queue, *s_name;
    bullc__server server;      /* where Redis is (shared by both connections) */
    int made_server, made_conns; /* what build() got to, for bullc_worker_free */
    bullc__logger log;
    const bullc__proto_ops *ops;
    bullc__proto *proto;
    int renew_ms;              /* lockRenewTime */
    bullc__handler *handlers;
    size_t nhandlers;
    bullc__handler catchall;
    bullc__gate gate;
    bullc__combiner comb;
    bullc__conn blocker_conn;
    pthread_t blocker_tid;
    int blocker_started;
    /* the pool: idle threads and refills (under gate.mu) */
    pthread_cond_t done_cv;    /* run() waits for handler threads to exit */
    bullc__slot *slots;
    /* the blocking thread's and run()'s links through the combiner: owned here, like the
     * slots', so a wake-up still on its way to one never lands on a stack that is gone */
    bullc__clink blocker_link, run_link;
    int links_made;
    bullc__slot *idle_head;
    int nidle;
    int reserved;              /* idle threads a refill in flight will hand jobs to */
    int threads_alive;
    int kick;                  /* the blocker should refill at once (resume) */
    pthread_mutex_t lock_mu;   /* the slots' lock fields */
    int tick_fd;               /* an eventfd: wakes the maintenance loop to run ops->tick */
    atomic_llong tick_due;     /* epoch ms the tick is wanted by (0: no request) */
    int running;
    char errmsg[320];
    bullc__stats stats;        /* bullc_worker_stats (engine/stats.c) */
    struct bullc__iso *iso;    /* isolate: the zygote and handler processes while run() runs */
    bullc__tracer *tracer;     /* NULL: no tracing */
    char worker_id[37];        /* tracing's bullmq.worker.id: a random UUID */
};

#endif
