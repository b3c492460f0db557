/* worker.h - the worker object shared by worker.c (lifecycle, handler threads, blocking
 * connection), finish.c (outcomes) and maint.c (lock renewal, stalled checks). */
#ifndef BULLC_WORKER_H
#define BULLC_WORKER_H

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct bullc__handler {
    char *name; /* NULL = catch-all */
    bullc_handler_fn fn;
    void *ud;
} bullc__handler;

/* One slot of the lock table: the job a handler thread holds, renewed by the maintenance
 * thread. */
typedef struct bullc__lockslot {
    char *job_id; /* borrowed from the job while active */
    char token[64];
    long long renewed_ms;
    int active;
} bullc__lockslot;

/* One job's moveToFinished, waiting to be sent in a batch (group commit, finish.c). The keys and
 * arguments point into the submitting thread's buffers, which outlive the request. */
typedef struct bullc__finreq {
    const char *keys[3];   /* completed|failed set, job key, metrics key */
    const char *args[8];   /* jobId, now, valueField, value, target, fetchNext, opts, fields */
    size_t lens[8];
    int done;              /* under fin_mu: the outcome below is set */
    int rc;                /* 0 with reply, or a BULLC_E* code for the whole batch */
    bullc__reply *reply; /* this job's element of the batch reply */
    bullc__reply *root;  /* the batch reply itself: the request holds one reference */
    struct bullc__finreq *next;
    pthread_cond_t cv;     /* signalled when done, or when this request is first in line */
} bullc__finreq;

typedef struct bullc__hthread {
    struct bullc_worker *w;
    int idx;
    pthread_t tid;
    int started;
    bullc__conn cn;
    char label[32];
    unsigned seed;
    bullc__buf mp; /* scratch for msgpack arguments */
} bullc__hthread;

struct bullc_worker {
    /* options, with strings owned */
    bullc_worker_opts_t o;
    char *s_url, *s_prefix, *s_queue, *s_name;
    bullc__url url;
    bullc__keys keys;
    bullc__logger log;
    char *client_name; /* blocking connection's CLIENT SETNAME */
    char uuid[37];
    int renew_ms; /* lockRenewTime */
    double min_block_s;

    bullc__handler *handlers;
    size_t nhandlers;
    bullc__handler catchall;

    /* stop: a flag plus one byte in a pipe, both async-signal-safe */
    atomic_int stop_flag;
    int stop_pipe[2];

    /* coordination between handler threads, the blocker and the maintenance loop */
    pthread_mutex_t mu;
    pthread_cond_t park_cv;    /* parked handler threads */
    pthread_cond_t blocker_cv; /* the blocker waits for a parked thread */
    pthread_cond_t done_cv;    /* maintenance waits for handler threads to exit */
    int stopping;              /* under mu: stop observed and broadcast */
    int parked;
    int wakeups;
    int threads_alive;
    long long block_until; /* next delayed job's due time (ms, 0 = none) */
    atomic_int drained;
    atomic_int paused;          /* bullc_worker_pause: take no new jobs */
    atomic_llong limit_until;   /* rate limited until this time (ms): fetch nothing before */
    atomic_uint token_seq;
    int running;

    /* group commit of finishes (finish.c): requests queue up while one thread (the leader) has
     * a batch in flight on its own connection; the next request to find no leader sends all
     * that queued up as one moveToFinishedBatch call */
    pthread_mutex_t fin_mu;
    bullc__finreq *fin_head, *fin_tail;
    int fin_leader; /* a batch is in flight */

    /* lock table, one slot per handler thread */
    pthread_mutex_t lock_mu;
    bullc__lockslot *slots;

    bullc__hthread *threads;
    pthread_t blocker_tid;
    int blocker_started;
    bullc__conn blocker_cn;
    bullc__conn maint_cn;

    char errmsg[320];
};

typedef struct bullc_worker bullc_worker_t;

/* worker.c */
int bullc__worker_stopping(bullc_worker_t *w);
/* Sleeps up to ms, returning early when the worker stops. */
void bullc__worker_nap(bullc_worker_t *w, int ms);
void bullc__worker_note_delay(bullc_worker_t *w, long long due_ms);
/* Records that the queue is rate limited for `ms` from now: no thread fetches before then. */
void bullc__worker_note_limit(bullc_worker_t *w, long long ms);
int bullc__worker_paused(bullc_worker_t *w);
void bullc__worker_emit(bullc_worker_t *w, bullc_event_t ev, const bullc_job_t *job,
                        const char *detail);

/* A decoded "next job" reply ([hash, id, rateLimitMs, delayUntilMs]). */
typedef struct bullc__next {
    bullc_job_t *job;       /* NULL when none was handed out */
    long long rate_limit_ms;
    long long delay_until_ms;
} bullc__next;

/* Decodes a next-job reply (array or integer 0). BULLC_EBADJOB for other shapes. */
int bullc__parse_next(const bullc__reply *r, bullc__next *out);
/* The queue keys of moveToActive, in its KEYS order (moveToFinishedBatch starts with the same
 * eleven). */
enum { BULLC__FETCH_NKEYS = 11 };
void bullc__fetch_keys(const bullc_worker_t *w, const char *keys[BULLC__FETCH_NKEYS]);
/* Writes the `limiter` member ({max, duration}) of the options Node sends with a fetch. */
void bullc__write_limiter(bullc_worker_t *w, bullc__buf *mp);
/* Writes the msgpack {token, lockDuration, name} fetch options. */
void bullc__fetch_opts(bullc_worker_t *w, bullc__buf *mp, const char *token);

/* finish.c: runs the handler for `job` (or fails it at once for `defa`) and records the outcome
 * in Redis. When fetch_next and a next job came back, *next holds it. */
/* The BULLC_E* code for a negative script reply (-1 no job, -2 no lock, ...). */
int bullc__script_code(long long code);
/* Records (or with job NULL clears) the job whose lock the maintenance thread renews for `t`. */
void bullc__slot_set(bullc__hthread *t, bullc_job_t *job, const char *token);
void bullc__process_job(bullc__hthread *t, bullc_job_t *job, const char *token, bullc__next *next);

/* scheduler.c: called when a job was taken, before it runs. If the job is an iteration of a job
 * scheduler, creates the next iteration as Node's Worker does. Returns 0 when the job should run,
 * 1 when it must not (Node's scheduler step threw: the job stays active until it stalls). */
int bullc__scheduler_on_fetch(bullc__hthread *t, bullc_job_t *job);

/* The handler thread of a job lent to a running handler (its connection and worker), or NULL
 * outside a handler: what every call a handler makes on its job needs. */
static inline bullc__hthread *bullc__job_thread(const bullc_job_t *job)
{
    return job && job->thread && job->token ? job->thread : NULL;
}

/* maint.c */
void bullc__maint_renew(bullc_worker_t *w, long long now);
void bullc__maint_stalled(bullc_worker_t *w);

#endif
