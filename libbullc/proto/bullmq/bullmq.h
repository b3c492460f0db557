/* bullmq.h - BullMQ 6's wire protocol, shared by the files of proto/bullmq/ (docs/bullmq.md).
 * Nothing outside this folder includes it: the rest of the library reaches BullMQ through the
 * bullc__proto_ops table (proto/proto.h). */
#ifndef BULLC_PROTO_BULLMQ_H
#define BULLC_PROTO_BULLMQ_H

#include "bullmq_scripts.h" /* generated from lua/bullmq/ */
#include "proto/proto.h"
#include "proto/shared/shared.h"
#include "util/buf.h"

#include <stdatomic.h>

/* The BullMQ release whose data model this protocol writes. */
#define BULLC__BMQ_VERSION "6.7.0"

struct bullc__proto {
    bullc__bmq_keys keys;
    bullc__logger log;
    /* worker options the protocol needs (copied; strings owned) */
    int worker;             /* opened for a worker */
    char *name;             /* worker name (pb), or NULL */
    char *client_name;      /* "<prefix>:<base64(queue)>[:w:<name>]" */
    bullc__proto_wopts w;
    int metrics_max_data_points;
    int max_started_attempts;
    long long block_floor_ms; /* shortest BZPOPMIN timeout: 1 ms on Redis >= 7.0.8, else 2 */
    /* lock tokens "<uuid>:<n>", n counting fetch calls (docs/bullmq.md §5.4) */
    char uuid[37];
    atomic_uint token_seq;
};

/* ---- the protocol state (bmq_proto.c) ---------------------------------------------------- */

int bullc__bmq_open_worker(bullc__proto **out, const bullc_worker_opts_t *o,
                           const bullc__logger *log, char *err, size_t errlen);
int bullc__bmq_open_queue(bullc__proto **out, const char *prefix, const char *queue,
                          const bullc__logger *log, char *err, size_t errlen);
void bullc__bmq_close(bullc__proto *p);
int bullc__bmq_check_server(bullc__proto *p, const char *info, char *err, size_t errlen);
const char *bullc__bmq_client_name(const bullc__proto *p);
const char *bullc__bmq_key_base(const bullc__proto *p);
void bullc__bmq_block_cmd(bullc__proto *p, bullc__cmd *cmd, long long timeout_ms);
void bullc__bmq_block_reply(bullc__proto *p, const bullc__reply *r, bullc__wake *out);

/* ---- keys (bmq_keys.c) -------------------------------------------------------------------- */

/* The keys of queue `queue` under `prefix`. BULLC_EINVAL for an empty name or one with ':'. */
int bullc__bmq_keys_init(bullc__bmq_keys *k, const char *prefix, const char *queue);
void bullc__bmq_keys_free(bullc__bmq_keys *k);
/* "<prefix>:<queue>:<jobId>[suffix]" in a new string, NULL on OOM. */
char *bullc__bmq_job_key(const bullc__bmq_keys *k, const char *job_id, const char *suffix);

/* ---- jobs and next-job replies (bmq_job.c) ------------------------------------------------ */

/* A job from its HGETALL reply, with BullMQ's attempt counters. */
int bullc__bmq_job_decode(const bullc__reply *hash, const char *id, size_t idlen,
                          bullc_job_t **out);
/* A next-job reply ([hash, id, rateLimitMs, delayUntilMs], or an integer when nothing was
 * fetched): *job (or NULL) and the hints. BULLC_EBADJOB for any other shape. */
int bullc__bmq_decode_next(const bullc__reply *r, bullc_job_t **job, bullc__hints *hints);
/* The BULLC_E* code for a negative script reply (-1 no job, -2 no lock, ...). */
int bullc__bmq_code(long long code);

/* ---- fetching (bmq_fetch.c) --------------------------------------------------------------- */

enum { BULLC__BMQ_TOKEN_LEN = 64 };
/* A fresh lock token into buf (BULLC__BMQ_TOKEN_LEN bytes suffice). */
void bullc__bmq_new_token(bullc__proto *p, char *buf, size_t n);
/* The msgpack fetch options {token | tokens, lockDuration, limiter?, name?}: with ntokens > 0
 * `tokens` (one per job to take, for a batch), else `token`. */
void bullc__bmq_fetch_opts(bullc__proto *p, bullc__buf *mp, const char *token,
                           char (*tokens)[BULLC__BMQ_TOKEN_LEN], int ntokens);
/* Writes the limiter member {max, duration} of the worker's fetch options. */
void bullc__bmq_write_limiter(const bullc__proto *p, bullc__buf *mp);

/* ---- settling (bmq_settle.c) and the exchange (bmq_xchg.c) ------------------------------- */

int bullc__bmq_settle_prepare(bullc__proto *p, bullc__settle *s, const bullc__outcome *oc);
void bullc__bmq_settle_release(bullc__proto *p, bullc__settle *s);
/* The job's `tm` option (a producer's trace context: docs/bullmq.md "Tracing"), or NULL. */
const char *bullc__bmq_trace_meta(bullc__proto *p, bullc_job_t *job);
/* What kind of call a prepared settle is. */
typedef enum bullc__bmq_call { BULLC__BMQ_FINISH = 1, BULLC__BMQ_RETRY, BULLC__BMQ_DELAY } bullc__bmq_call;
bullc__bmq_call bullc__bmq_settle_call(const bullc__settle *s);
/* A prepared settle's own command (retryJob / moveToDelayed, or moveToFinished when alone). */
bullc__cmd *bullc__bmq_settle_cmd(bullc__proto *p, bullc__settle *s);
/* Appends a prepared finish as one item of a moveToFinishedBatch call. */
void bullc__bmq_settle_item(bullc__settle *s, bullc__cmd *batch);
/* Decodes a settle's reply element `r`. */
void bullc__bmq_settle_decode(bullc__proto *p, bullc__settle *s, const bullc__reply *r);
int bullc__bmq_xchg_build(bullc__proto *p, bullc__xchg *x);
void bullc__bmq_xchg_decode(bullc__proto *p, bullc__xchg *x, int rc, bullc__reply **replies,
                            const char *err);
void bullc__bmq_xchg_free(bullc__proto *p, bullc__xchg *x);

/* ---- before the handler (bmq_start.c), maintenance (bmq_maint.c) -------------------------- */

int bullc__bmq_start(bullc__proto *p, bullc__link *link, bullc_job_t *job);
int bullc__bmq_extend_locks(bullc__proto *p, bullc__link *link, bullc__lock *locks,
                            size_t n);
int bullc__bmq_check_stalled(bullc__proto *p, bullc__link *link);

/* ---- handler calls (bmq_calls.c, bmq_flow.c) -------------------------------------------- */

/* Runs a script whose reply is an integer; a negative one becomes its BULLC_E* code. */
int bullc__bmq_int_call(bullc__proto *p, bullc__link *link, bullc__cmd *cmd, long long *out);
int bullc__bmq_update_progress(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                               const char *json);
int bullc__bmq_add_log(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *text);
int bullc__bmq_update_data(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                           const char *json);
int bullc__bmq_move_to_delayed(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                               long long ts_ms);
int bullc__bmq_rate_limit(bullc__proto *p, bullc__link *link, bullc_job_t *job, long long ms,
                          long long *limit_ms);
int bullc__bmq_wait_children(bullc__proto *p, bullc__link *link, bullc_job_t *job);
int bullc__bmq_children_values(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                               char **json);
int bullc__bmq_ignored_failures(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                                char **json);

/* ---- producer (bmq_opts.c, bmq_queue.c) ---------------------------------------------------- */

/* A job checked and packed for the addJob script. */
typedef struct bullc__newjob {
    const char *name;   /* borrowed */
    const char *data;   /* borrowed JSON text, stored verbatim ("{}" for NULL) */
    char *job_id;       /* custom id, "" for an automatic one */
    char timestamp[40]; /* creation time (opts.timestamp or now), decimal text */
    bullc__buf opts;    /* msgpack map of the opts as Node stores them */
} bullc__newjob;

/* Checks name, data and options as Node's Queue.add does and packs the stored opts. On error
 * returns BULLC_EINVAL (bad option), BULLC_EJSON (data or opts not JSON) or BULLC_ENOMEM with
 * the reason in err; *job then holds nothing to free. */
int bullc__newjob_prepare(bullc__newjob *job, const char *name, const char *data_json,
                          const char *opts_json, long long now_ms, char *err, size_t errlen);
void bullc__newjob_free(bullc__newjob *job);
/* Option names BullMQ stores in short form (de, kl, fpof, ...), both ways. */
const char *bullc__bmq_short_name(const char *name);
const char *bullc__bmq_long_name(const char *name);

int bullc__bmq_add(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
                   size_t stride, char **ids, char *err, size_t errlen);
int bullc__bmq_get_state(bullc__proto *p, bullc__link *link, const char *id, const char **state,
                         char *err, size_t errlen);
int bullc__bmq_get_job_field(bullc__proto *p, bullc__link *link, const char *id,
                             const char *field, char **value, char *err, size_t errlen);
int bullc__bmq_get_counts(bullc__proto *p, bullc__link *link, bullc_job_counts_t *out,
                          size_t size, char *err, size_t errlen);

/* ---- queue administration (bmq_admin.c, bmq_admin_read.c) ----------------------------- */

int bullc__bmq_admin(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                     size_t errlen);

#endif
