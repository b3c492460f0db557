/* inventory.h - the parts of examples/inventory_worker.c: configuration, the per-thread
 * PostgreSQL connection, a small JSON writer and the two event handlers (which check the payload
 * and make one call of inventory_apply() in sql/schema.sql per job). */
#ifndef INVENTORY_H
#define INVENTORY_H

#include <bullc.h>
#include <libpq-fe.h>

#include "../common/exlog.h"
#include <pthread.h>
#include <stddef.h>

/* Read-only after start-up; shared by every thread. */
typedef struct inv_app {
    const char *database_url; /* libpq connection string or URL ("" = libpq's PG* defaults) */
    const char *queue;
    const char *dlq;
    const char *redis_url;
    const char *prefix;
    const char *protocol;           /* "bullmq" or "bull" (BULLC_PROTOCOL): the worker's and the
                                       DLQ's wire protocol */
    const char *crash_after_commit; /* test hook, see inventory_worker.c; NULL = off */
    bullc_tls_opts_t tls;           /* REDIS_TLS_* (for rediss:// URLs) */
    int log_level;                  /* bullc_log_level_t */
    ex_log log;                     /* text or JSON lines (BULLC_LOG_FORMAT) */
    const char *http;               /* BULLC_HTTP=HOST:PORT, or NULL */
    pthread_key_t slot_key;         /* -> inv_thread of the calling thread */
    struct inv_group *group;        /* group commit (group.c; its state is its own, behind its
                                       lock); NULL: every job is its own transaction */
} inv_app;

/* One per handler thread (created on first use, freed when the thread ends). */
typedef struct inv_thread {
    PGconn *pg;          /* this thread's own connection, NULL until first used */
    int pg_was_up;       /* it worked once: a later reconnection is logged as such */
    unsigned prepared;   /* inv_stmt bits: which statements exist on pg (a new session has none) */
    bullc_queue_t *dlq;  /* producer for the dead-letter queue, NULL until first needed */
} inv_thread;

/* The calling thread's slot, created if needed; NULL when out of memory. */
inv_thread *inv_thread_get(const inv_app *app);
/* pthread key destructor: closes and frees a slot. */
void inv_thread_free(void *slot);

/* Logging to stderr, one line per call (any thread). */
void inv_log(const inv_app *app, bullc_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void inv_log_cb(bullc_log_level_t level, const char *message, void *user_data);
/* The same for a line about `job` (its id and name go into JSON lines). */
void inv_log_job(const inv_app *app, const bullc_job_t *job, bullc_log_level_t level,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void inv_log_job_cb(bullc_log_level_t level, const char *message, const bullc_job_t *job,
                    void *user_data);

/* ---- JSON text writer: strings are escaped, invalid UTF-8 becomes U+FFFD ---------------- */

typedef struct jw {
    char *p;
    size_t len, cap;
    int oom;
} jw;

void jw_raw(jw *w, const char *s, size_t n);
void jw_lit(jw *w, const char *s); /* raw NUL-terminated text */
void jw_str(jw *w, const char *s); /* a quoted, escaped JSON string */
void jw_int(jw *w, long long v);
void jw_free(jw *w);

/* ---- database ------------------------------------------------------------------------- */

typedef enum inv_errclass {
    INV_OK = 0,
    INV_TRANSIENT,     /* connection lost, server restarting, serialization failure, deadlock */
    INV_PERMANENT,     /* constraint or range violation: the event can never succeed */
    INV_REJECTED,      /* SQLSTATE IV001 from inventory_apply: refused, the message says why */
    INV_UNEXPECTED     /* anything else: failed normally, so retries and then the DLQ apply */
} inv_errclass;

typedef struct inv_dberr {
    inv_errclass cls;
    char sqlstate[6];
    char msg[400];
} inv_dberr;

/* The thread's connection, connecting or reconnecting as needed (statements run in autocommit
 * mode: no transaction is ever left open). NULL with `err` filled when the server cannot be
 * reached. */
PGconn *inv_db(const inv_app *app, inv_thread *t, inv_dberr *err);
/* A statement the worker prepares: its name on the server, its text and its own bit in
 * inv_thread.prepared. */
typedef struct inv_stmt {
    const char *name;
    const char *sql;
    unsigned bit;
} inv_stmt;

/* Runs `st` with its parameters on the thread's connection as a prepared statement, preparing
 * it first on each new session (so the server parses and plans it once per connection).
 * Returns the result when its status is PGRES_COMMAND_OK or PGRES_TUPLES_OK, else NULL with
 * `err` filled and classified. */
PGresult *inv_exec_prepared(inv_thread *t, const inv_stmt *st, int nparams,
                            const char *const *params, inv_dberr *err);
/* Classifies a SQLSTATE (NULL = no server answer). */
inv_errclass inv_classify(const char *sqlstate);
/* Fills `err` from an error the server reported as data (a SQLSTATE and its message). */
void inv_dberr_set(inv_dberr *err, const char *sqlstate, const char *msg);

/* ---- group commit (group.c) ------------------------------------------------------------- */

#define INV_BATCH_MAX 64 /* jobs per transaction at most (BULLC_INVENTORY_BATCH) */

/* One job's call of inventory_apply, handed to inv_group_apply. */
typedef struct inv_call {
    /* in (the caller's strings, kept until inv_group_apply returns) */
    const char *id, *name, *user, *data; /* data: the payload's JSON text */
    long long ts;
    /* out */
    int alone;       /* not settled by a batch: the caller makes its own call of inventory_apply */
    int lead;        /* (with alone) ... as a leader of the group: then inv_group_end after it */
    int lost;        /* (with alone) the batch's connection broke: it may have committed */
    int already;     /* the job had been applied before: `result` is the stored one */
    char *result;    /* the result's JSON text (malloc'ed; NULL: none stored), unless err */
    inv_dberr err;   /* err.cls != INV_OK: the job raised; its SQLSTATE and message */
    size_t batch;    /* (settled by a batch) the jobs in it */
    const char *sql; /* (settled by a batch) the statement that ran it (static text) */
    /* the group's own */
    int taken;       /* in a batch (or left alone) */
    int done;
    struct inv_call *next;
} inv_call;

/* A group taking up to `max` jobs (2..INV_BATCH_MAX) per transaction, running up to `inflight`
 * transactions at the same time; NULL when out of memory. */
struct inv_group *inv_group_new(size_t max, int inflight);
void inv_group_free(struct inv_group *g);
/* Applies `c` in one transaction with the calls other threads make at the same time (or leaves
 * it to the caller: c->alone). Blocks until that transaction has ended. */
void inv_group_apply(const inv_app *app, inv_thread *t, inv_call *c);
/* After the call of a caller that inv_group_apply left alone as a leader (c->lead). */
void inv_group_end(const inv_app *app);

/* ---- handlers (registered with bullc_worker_on; user_data = inv_app) ------------------- */

/* reward_inventory_item: {"userId", "items": [...]} */
int inv_handle_reward(bullc_job_t *job, void *user_data);
/* use_item: {"userId", "itemId", "quantity"?} */
int inv_handle_use(bullc_job_t *job, void *user_data);
/* Any other job name: fails as unrecoverable ("unknown event type: <name>"). */
int inv_handle_unknown(bullc_job_t *job, void *user_data);

/* True when `s` is an id: 1 to 64 characters from A-Z a-z 0-9 _ . : - */
int inv_valid_id(const char *s);

#endif
