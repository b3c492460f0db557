/* bull.h - legacy Bull 4's wire protocol, shared by the files of proto/bull/ (docs/bull.md).
 * Nothing outside this folder includes it: the rest of the library reaches Bull through the
 * bullc__proto_ops table (proto/proto.h). */
#ifndef BULLC_PROTO_BULL_H
#define BULLC_PROTO_BULL_H

#include "bull_scripts.h" /* generated from lua/bull/ */
#include "proto/proto.h"
#include "proto/shared/shared.h"
#include "util/buf.h"

#include <stdatomic.h>

struct cJSON;

/* The Bull release whose data model this protocol writes. */
#define BULLC__BULL_VERSION "4.16.5"

/* Longest wait between two delayed-job promotions (Bull's guardInterval). */
#define BULLC__BULL_GUARD_MS 5000

struct bullc__proto {
    bullc__bull_keys keys;
    bullc__logger log;
    int worker;                 /* opened for a worker */
    char *client_name;          /* "<prefix>:<base64(queue)>" */
    char token[37];             /* the worker's lock token: one uuid for all its jobs */
    bullc__proto_wopts w;       /* the worker's options (w.limiter_*: Bull's rate limit) */
    int limit_group;            /* the rate limit counts per job-id group (Bull's groupKey) */
    int bounce_back;            /* a limited job goes back to wait (Bull's bounceBack) */
    char *group_key;            /* a producer's limiter group key: job ids get the group */
    char metrics_max[24];       /* data points the metrics keep, "" for no metrics */
    long long block_floor_ms;   /* shortest BRPOPLPUSH timeout the server takes */
    atomic_llong repeat_due;    /* earliest due time of a job this worker delayed outside a
                                   settle (epoch ms, 0 none): the next settle asks for a tick
                                   then (bullc__bull_note_due) */
};

/* ---- the protocol state (bull_proto.c) ---------------------------------------------------- */

/* The queue's keys; BULLC_EINVAL for an empty name or one with ':'. */
int bullc__bull_keys_init(bullc__bull_keys *k, const char *prefix, const char *queue);
void bullc__bull_keys_free(bullc__bull_keys *k);
/* "<prefix>:<queue>:<jobId>" in a new string, NULL on OOM. */
char *bullc__bull_job_key(const bullc__bull_keys *k, const char *job_id);

/* ---- jobs (bull_job.c) -------------------------------------------------------------------- */

/* A job from a [hashFlat, id] reply; *job NULL for a plain 0 (nothing taken). BULLC_EBADJOB for
 * any other shape. The token is the worker's. */
int bullc__bull_decode_taken(bullc__proto *p, const bullc__reply *r, bullc_job_t **job);
/* The BULLC_E* code of a negative script reply (-1 no job, -2 no lock, -3 not active, -6). */
int bullc__bull_code(long long code);

/* ---- settling (bull_settle.c) and the exchange (bull_xchg.c) ----------------------------- */

int bullc__bull_settle_prepare(bullc__proto *p, bullc__settle *s, const bullc__outcome *oc);
void bullc__bull_settle_release(bullc__proto *p, bullc__settle *s);
/* A prepared settle's one command. */
bullc__cmd *bullc__bull_settle_cmd(bullc__proto *p, bullc__settle *s);
/* 1 when a prepared settle finishes its job (moveToFinished): it may go into a batch. */
int bullc__bull_settle_finishes(const bullc__settle *s);
/* Appends a finishing settle to a moveToFinishedBatch call, with the arguments its own
 * moveToFinished call would have had. BULLC_ENOMEM when the call ran out of memory. */
int bullc__bull_settle_item(bullc__proto *p, bullc__settle *s, bullc__cmd *batch);
void bullc__bull_settle_decode(bullc__proto *p, bullc__settle *s, const bullc__reply *r);
int bullc__bull_xchg_build(bullc__proto *p, bullc__xchg *x);
void bullc__bull_xchg_decode(bullc__proto *p, bullc__xchg *x, int rc, bullc__reply **replies,
                             const char *err);
void bullc__bull_xchg_free(bullc__proto *p, bullc__xchg *x);

/* JavaScript's `id & 0xfff` for a job id: the low 12 bits of its number, 0 when not one (the
 * low part of a delayed score). */
unsigned bullc__bull_id_low_bits(const char *id);

/* ---- handler calls (bull_calls.c) --------------------------------------------------------- */

int bullc__bull_update_progress(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                                const char *json);
int bullc__bull_add_log(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *text);
int bullc__bull_update_data(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                            const char *json);
int bullc__bull_move_to_delayed(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                                long long ts_ms);

/* ---- maintenance (bull_maint.c) ----------------------------------------------------------- */

int bullc__bull_extend_locks(bullc__proto *p, bullc__link *link, bullc__lock *locks,
                             size_t n);
int bullc__bull_check_stalled(bullc__proto *p, bullc__link *link);
long long bullc__bull_tick(bullc__proto *p, bullc__link *link);
size_t bullc__bull_tick_channels(const bullc__proto *p, const char *const **names);
long long bullc__bull_tick_message(bullc__proto *p, const char *channel, const char *payload,
                                   size_t len);

/* ---- producer and reads (bull_opts.c, bull_queue.c) ------------------------------------- */

/* A job checked and prepared for the addJob script. */
typedef struct bullc__bull_newjob {
    const char *name;   /* borrowed ("__default__" for NULL) */
    const char *data;   /* borrowed JSON text, stored verbatim ("{}" for NULL) */
    char *custom_id;    /* "" for the next counter value */
    bullc__buf opts;    /* the stored opts: JSON text as Node writes it */
    char timestamp[40], delay[40], due[40], priority[40]; /* decimal texts */
    const char *push;   /* "LPUSH", or "RPUSH" for lifo */
    char *deid;         /* debounce id ("" for none) */
    char de_ttl[40];    /* its TTL in ms ("" for none) */
    char *repeat_key;   /* a repeat iteration: its entry in the repeat zset, else NULL */
    char next_ms[40];   /* ... and the iteration's time */
} bullc__bull_newjob;

/* Checks and completes the options as Node Bull's Queue.add does, a repeatable job becoming its
 * first iteration (bull_queue.c). BULLC_EINVAL (bad option), BULLC_EJSON or BULLC_ENOMEM with the
 * reason in err; *job then holds nothing to free. */
int bullc__bull_newjob_prepare(bullc__bull_newjob *job, const char *name, const char *data_json,
                               const char *opts_json, long long now_ms, char *err, size_t errlen);
void bullc__bull_newjob_free(bullc__bull_newjob *job);
/* Checks and completes parsed options as Node Bull's Queue.add does, for a plain add (repeat
 * not looked at): BULLC_EINVAL (bad option), BULLC_EJSON or BULLC_ENOMEM with the reason in err;
 * *job then holds nothing to free. */
int bullc__bull_newjob_from(bullc__bull_newjob *job, const char *name, const char *data_json,
                            const struct cJSON *opts, long long now_ms, char *err,
                            size_t errlen);

/* The limiter group key a queue handle forms job ids with (NULL or "": none). 0 or ENOMEM. */
int bullc__bull_set_group_key(bullc__proto *p, const char *key);
/* Node Bull's Queue.add with a limiter groupKey: opts' jobId becomes "<jobId, or a uuid when
 * falsy>:<the data's value at group_key>" (bull_group.c). 0, BULLC_EJSON (data), BULLC_ENOMEM. */
int bullc__bull_group_id(struct cJSON *opts, const char *data_json, const char *group_key);

int bullc__bull_add(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
                    size_t stride, char **ids, char *err, size_t errlen);
int bullc__bull_get_state(bullc__proto *p, bullc__link *link, const char *id,
                          const char **state, char *err, size_t errlen);
int bullc__bull_get_job_field(bullc__proto *p, bullc__link *link, const char *id,
                              const char *field, char **value, char *err, size_t errlen);
int bullc__bull_get_counts(bullc__proto *p, bullc__link *link, bullc_job_counts_t *out,
                           size_t size, char *err, size_t errlen);

/* ---- queue administration (bull_admin.c, bull_admin_read.c; docs/bull.md §6) ------------- */

/* The queue handle's admin request, as Node Bull 4.16.5's Queue/Job method of the same meaning. */
int bullc__bull_admin(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                      size_t errlen);

/* ---- repeatable jobs (bull_repeat.c) ----------------------------------------------------- */

/* The next iteration of the series `opts.repeat` describes, as Node Bull's nextRepeatableJob
 * builds it: 1 with *job filled, 0 when the series has ended (limit, endDate, no next cron
 * time), or BULLC_EINVAL / BULLC_ENOMEM with why. */
int bullc__bull_repeat_next(bullc__bull_newjob *job, const char *name, const char *data,
                            const struct cJSON *opts, long long now_ms, char *why, size_t n);
/* The add call for a prepared job: addRepeatJob for an iteration (must_exist "1": only while its
 * repeat entry exists, as a worker adds; "0": a producer's first one), else addJob. */
void bullc__bull_add_cmd(bullc__cmd *cmd, const bullc__proto *p, const bullc__bull_newjob *j,
                         const char *must_exist);
/* A job this worker put in delayed outside a settle falls due then: the next settle asks the
 * engine for a tick at that time. */
void bullc__bull_note_due(bullc__proto *p, long long due_ms);
/* Adds the next iteration of a repeatable job; 0 (run it), or a transport error to retry. */
int bullc__bull_start(bullc__proto *p, bullc__link *link, bullc_job_t *job);
/* Bull's `timeout` option in `opts` (a cJSON *): *ms > 0 and *reason (malloc'd: the failure
 * reason Node's Bull records, "Promise timed out after N milliseconds", or p-timeout's refusal
 * of a value that is not a positive number, which fails the attempt at once) when the attempt
 * has a time limit; *ms 0 and *reason NULL when it has none. 0 or BULLC_ENOMEM. */
int bullc__bull_timeout_of(const struct cJSON *opts, long long *ms, char **reason);

#endif
