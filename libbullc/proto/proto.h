/* proto.h - the interface between the engine and a wire protocol.
 *
 * The engine (engine/) runs handler threads, fetches and settles jobs, renews locks, runs the
 * stalled check and stops cleanly. It knows no key names, scripts or job-hash fields: every
 * command it sends comes from a protocol through this table, and every reply goes back to the
 * protocol to decode. BullMQ 6 (proto/bullmq/) is the first protocol; queue handles (queue/)
 * use the producer half.
 *
 * How a second protocol plugs in (legacy Bull 4, whose worker blocks with BRPOPLPUSH, promotes
 * delayed jobs from the client, publishes pub/sub events and locks with one token per worker):
 * it fills a bullc__proto_ops of its own in proto/bull/ and registers it in proto.c. Its
 * differences all fall inside these calls:
 *   - block_cmd/block_reply: BRPOPLPUSH wait->active instead of BZPOPMIN on a marker; the reply
 *     is a job id already moved to active, which block_reply returns as BULLC__WAKE_JOB and the
 *     next exchange claims (bullc__xchg.claims) instead of popping one.
 *   - tick: Bull's updateDelaySet, on the engine's timer (BullMQ promotes inside its fetches and
 *     leaves tick NULL).
 *   - tokens: per worker instead of per fetch; extend_locks checks each job's lock on its own
 *     (Bull sends one extendLock per job; ours does them in one call, to the same effect).
 *   - settle_prepare: Bull's retry rules and backoff ((2^n - 1) * delay), attemptsMade counting
 *     failures only, its MULTI [saveStacktrace, move...] as one script of ours; the exchange may
 *     emit one command per settle where BullMQ batches them.
 *   - handler calls the protocol lacks (flows) are NULL: the public call answers BULLC_EMISUSE.
 * The engine's side of this (claims, running tick) is generic: it names no Bull key.
 *
 * Threads: a bullc__proto is immutable after open except for what its functions document; the
 * worker calls them from several threads at once (settle_prepare on handler threads, the
 * exchange on whichever thread leads a round, maintenance on run()'s thread).
 */
#ifndef BULLC_PROTO_PROTO_H
#define BULLC_PROTO_PROTO_H

#include "net/link.h"
#include "job/job.h"
#include "util/log.h"

typedef struct bullc__proto bullc__proto; /* one protocol's state for one queue */

/* A handler run's verdict, handed to settle_prepare. */
typedef struct bullc__outcome {
    int failed;
    int unrecoverable;
    const char *result; /* JSON text of a completion */
    const char *reason; /* failure reason */
    const char *trace_meta; /* NULL, or (tracing) the trace context of the span recording a
                               failure, written as the job's `tm` field as BullMQ's telemetry
                               does (docs/bullmq.md "Tracing") */
} bullc__outcome;

/* When the queue can be asked again: rate-limit window and next delayed job, from a fetch that
 * returned no job. */
typedef struct bullc__hints {
    long long rate_limit_ms;  /* > 0: rate limited for this long */
    long long delay_until_ms; /* > 0: a delayed job is due then (epoch ms) */
    long long tick_at_ms;     /* > 0: run the protocol's tick then (epoch ms; the fetch put a
                                 job in delayed that the tick promotes) */
} bullc__hints;

/* settle->rc when the protocol turned the outcome into a failure (a completion refused: BullMQ
 * because of children, Bull because the lock was lost): the job's fail_message/unrecoverable
 * hold the failure; prepare and send again. */
#define BULLC__AGAIN 2

/* One job's outcome on its way to Redis. The engine owns the struct; the protocol prepares its
 * command arguments on the handler's thread (priv) and decodes the result into `rc` onwards. */
typedef struct bullc__settle {
    bullc_job_t *job;
    int fetch_next;     /* take the next job in the same call, for this thread */
    void *priv;         /* the protocol's prepared arguments */
    /* results */
    int rc;             /* 0, BULLC__AGAIN, or why nothing was recorded (BULLC_ELOCKMISSING,
                           BULLC_EIO, ...) */
    bullc_event_t event;  /* with rc 0: BULLC_EVENT_COMPLETED, _FAILED or _RETRYING */
    const char *detail;   /* the result or reason the event reports */
    bullc_job_t *next;    /* a job handed out with fetch-next (the engine takes it) */
    bullc__hints hints;   /* when fetch-next found no job */
    long long tick_at_ms; /* > 0: run the protocol's tick then (epoch ms; a job it delayed
                             falls due) */
    char errstr[256];     /* detail of a failure */
    int retry_delayed;    /* with BULLC_EVENT_RETRYING: the retry waits a backoff (delayed) */
} bullc__settle;

/* One round trip's worth of settling and fetching, assembled by whichever thread leads it. */
typedef struct bullc__xchg {
    bullc__settle **settles; /* in */
    size_t nsettles;
    int nfetch;              /* in: jobs wanted for idle handler threads */
    const char **claims;     /* in: ids the blocking wait already moved (BULLC__WAKE_JOB), to
                                take first; they count in nfetch (nclaims <= nfetch) */
    size_t nclaims;
    bullc__cmd **cmds;       /* built: the commands to send, in order */
    size_t ncmds;
    void *priv;              /* the protocol's storage for the commands */
    bullc_job_t **fetched;   /* out: room for nfetch jobs (engine-provided) */
    size_t nfetched;
    bullc__hints hints;      /* out: when the fetch came back short */
    int rc;                  /* out: 0, or what failed for the fetch part */
    char err[256];           /* out: with rc, the detail (the server's words), or "" */
} bullc__xchg;

/* What the blocking wait saw. */
typedef enum bullc__wake_kind {
    BULLC__WAKE_READY = 1, /* a job may be ready: fetch */
    BULLC__WAKE_LATER,     /* nothing before due_ms (epoch ms; 0: nothing known, block
                              again) */
    BULLC__WAKE_TIMEOUT,   /* nothing happened: fetch anyway (delayed jobs may be due) */
    BULLC__WAKE_JOB        /* the blocking command itself moved job `job_id` (to the
                              protocol's active state, not yet locked): the next fetch must
                              claim it (bullc__xchg.claims) */
} bullc__wake_kind;

typedef struct bullc__wake {
    bullc__wake_kind kind;
    long long due_ms;
    char *job_id;          /* BULLC__WAKE_JOB: malloc'd by block_reply, the engine frees it */
} bullc__wake;

/* One lock to renew. */
typedef struct bullc__lock {
    const char *job_id;
    const char *token;
    int lost;           /* out: set by extend_locks when the lock was gone or not ours */
} bullc__lock;

/* ---- queue administration ---------------------------------------------------------------
 * One request type for every admin call of a queue handle (Node's Queue and Job methods of the
 * same meaning; docs/bullmq.md "Admin operations"), so a protocol adds one op for all of them. */
typedef enum bullc__admin_op {
    BULLC__ADM_QUEUES = 1, /* -> items: queue names under the prefix, sorted */
    BULLC__ADM_JOBS,       /* state, a = start, b = end -> items: ids in Node's getJobs order */
    BULLC__ADM_JOB,        /* id -> json: the whole job */
    BULLC__ADM_RETRY,      /* id: a failed job back to wait */
    BULLC__ADM_RETRY_ALL,  /* -> count: every failed job back to wait */
    BULLC__ADM_PROMOTE,    /* id: a delayed job made ready */
    BULLC__ADM_PROMOTE_ALL, /* -> count */
    BULLC__ADM_REMOVE,     /* id */
    BULLC__ADM_CLEAN,      /* state, a = grace ms, b = limit (0 none) -> items: ids removed */
    BULLC__ADM_PAUSE,      /* flag: 1 pause, 0 resume */
    BULLC__ADM_DRAIN,      /* flag: delayed jobs too */
    BULLC__ADM_OBLITERATE, /* flag: force */
    BULLC__ADM_LOGS,       /* id -> items: log lines */
    BULLC__ADM_WORKERS,    /* -> json: [{name, addr, rawname}] */
    BULLC__ADM_EVENTS      /* id = after this id, a = count (0 all), b = block ms (< 0 none)
                              -> json: [{id, event, ...}] */
} bullc__admin_op;

typedef struct bullc__admin {
    bullc__admin_op op;
    const char *id;
    const char *state;
    long long a, b;
    int flag;
    /* results, malloc'd (the caller frees them) */
    char **items;
    size_t nitems;
    long long count;
    char *json;
} bullc__admin;

typedef struct bullc__proto_ops {
    const char *name;

    /* ---- both sides --------------------------------------------------------------------- */
    /* A protocol state for a worker (o is a checked copy of the user's options). On error the
     * reason goes to err. */
    int (*open_worker)(bullc__proto **out, const bullc_worker_opts_t *o, const bullc__logger *log,
                       char *err, size_t errlen);
    /* A protocol state for a queue handle (producer and reads). */
    int (*open_queue)(bullc__proto **out, const char *prefix, const char *queue,
                      const bullc__logger *log, char *err, size_t errlen);
    void (*close)(bullc__proto *p);
    /* What every key of the queue starts with ("<prefix>:<queue>:" for BullMQ and Bull): on a
     * Redis Cluster it must carry a hash tag, and its slot picks the node. */
    const char *(*key_base)(const bullc__proto *p);
    /* Checks INFO's text (server version); may tune the protocol (block timeout floor). */
    int (*check_server)(bullc__proto *p, const char *info, char *err, size_t errlen);

    /* ---- worker ------------------------------------------------------------------------- */
    /* The blocking connection's CLIENT SETNAME (what getWorkers lists). */
    const char *(*client_name)(const bullc__proto *p);
    /* The command that waits for work for up to timeout_ms, and what its reply means. */
    void (*block_cmd)(bullc__proto *p, bullc__cmd *cmd, long long timeout_ms);
    void (*block_reply)(bullc__proto *p, const bullc__reply *r, bullc__wake *out);

    /* A taken job, before its handler: 0 run it, 1 skip it (leave it as it is), or
     * BULLC_EJOBFAILED to fail it without running (reason and unrecoverable set on the job).
     * May talk to Redis through `link` (job schedulers). */
    int (*start)(bullc__proto *p, bullc__link *link, bullc_job_t *job);

    /* On the handler's thread: prepares s->job's outcome (fills s->priv). 0, or BULLC_ENOMEM.
     * Called again after BULLC__AGAIN or a failed round trip. */
    int (*settle_prepare)(bullc__proto *p, bullc__settle *s, const bullc__outcome *oc);
    /* Frees s->priv (and resets the results). */
    void (*settle_release)(bullc__proto *p, bullc__settle *s);

    /* On the leading thread: the commands for x (x->cmds, x->ncmds). 0 or BULLC_ENOMEM. */
    int (*xchg_build)(bullc__proto *p, bullc__xchg *x);
    /* Decodes the replies of x's commands (rc != 0: the round trip failed, replies are NULL)
     * into every settle's results and x's fetched jobs and hints. Takes the replies. */
    void (*xchg_decode)(bullc__proto *p, bullc__xchg *x, int rc, bullc__reply **replies,
                        const char *err);
    /* Frees what xchg_build allocated (x->priv). */
    void (*xchg_free)(bullc__proto *p, bullc__xchg *x);

    /* Renews locks; logs the ones that could not be renewed and sets their `lost`. 0 or a
     * transport error. */
    int (*extend_locks)(bullc__proto *p, bullc__link *link, bullc__lock *locks, size_t n);
    /* The stalled check; logs what it recovered. */
    int (*check_stalled)(bullc__proto *p, bullc__link *link);
    /* Periodic client-side duty (NULL when none), run by the worker's maintenance thread;
     * returns the ms until it wants to run again. The engine also runs it at a settle's
     * tick_at_ms. */
    long long (*tick)(bullc__proto *p, bullc__link *link);
    /* Pub/sub channels whose messages announce when tick should run (NULL: none, as BullMQ):
     * their number, the names in *names (owned by p). The maintenance loop subscribes to them
     * on a connection of its own. */
    size_t (*tick_channels)(const bullc__proto *p, const char *const **names);
    /* A message on one of them: the epoch ms at which to run tick, or 0 to ignore it. */
    long long (*tick_message)(bullc__proto *p, const char *channel, const char *payload,
                              size_t len);

    /* Calls a handler makes on its running job (NULL: not offered by this protocol). */
    int (*update_progress)(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *json);
    int (*add_log)(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *text);
    int (*update_data)(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *json);
    int (*move_to_delayed)(bullc__proto *p, bullc__link *link, bullc_job_t *job, long long ts_ms);
    /* Sets the rate limit and returns the job to wait: BULLC_ERATELIMITED with *limit_ms. */
    int (*rate_limit)(bullc__proto *p, bullc__link *link, bullc_job_t *job, long long ms,
                      long long *limit_ms);
    int (*wait_children)(bullc__proto *p, bullc__link *link, bullc_job_t *job);
    int (*children_values)(bullc__proto *p, bullc__link *link, bullc_job_t *job, char **json);
    int (*ignored_failures)(bullc__proto *p, bullc__link *link, bullc_job_t *job, char **json);
    /* The propagation carrier a producer's tracing left in the job (BullMQ's `tm` option: JSON
     * text with a traceparent), borrowed from the job, or NULL (NULL op: none kept). */
    const char *(*trace_meta)(bullc__proto *p, bullc_job_t *job);

    /* ---- queue handle ------------------------------------------------------------------- */
    /* Adds n jobs in one round trip; ids[i] (malloc'd) for each. err gets the reason. */
    int (*add)(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
               size_t stride, char **ids, char *err, size_t errlen);
    int (*get_state)(bullc__proto *p, bullc__link *link, const char *id, const char **state,
                     char *err, size_t errlen);
    int (*get_job_field)(bullc__proto *p, bullc__link *link, const char *id, const char *field,
                         char **value, char *err, size_t errlen);
    int (*get_counts)(bullc__proto *p, bullc__link *link, bullc_job_counts_t *out, size_t size,
                      char *err, size_t errlen);
    /* Queue administration (NULL: not offered, the public calls answer BULLC_EMISUSE). */
    int (*admin)(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err, size_t errlen);
    /* The producer's limiter group key (bullc_queue_opts_t.limiter_group_key; NULL: the
     * protocol has none, the option is refused). 0 or BULLC_ENOMEM. */
    int (*set_group_key)(bullc__proto *p, const char *key);
} bullc__proto_ops;

/* The protocol for a name ("bullmq"), or NULL. */
const bullc__proto_ops *bullc__proto_find(const char *name);

#endif
