/* shared.h - what the wire protocols (proto/bull/, proto/bullmq/) do alike: queue key names, the
 * worker's identity (lock-token uuid, client name, server version), script calls and their
 * errors, the producer's add pipeline, and the parts of settling and exchanging that do not
 * depend on a data model. Only the protocol folders include it; the engine and queue handles
 * still see nothing but proto/proto.h. */
#ifndef BULLC_PROTO_SHARED_H
#define BULLC_PROTO_SHARED_H

#include "proto/proto.h"
#include "util/buf.h"

/* ---- keys (shared_keys.c) ----------------------------------------------------------------- */

/* The key table of queue `queue` under `prefix`, in the layout both generated headers use
 * (base, base_len, k[n], len[n]): "<prefix>:<queue>:" and one key per suffix. BULLC_EINVAL for
 * an empty name or one with ':', BULLC_ENOMEM (nothing left to free). */
int bullc__proto_keys_init(char **base, size_t *base_len, char **k, size_t *len, int n,
                           const char *const *suffix, const char *prefix, const char *queue);
void bullc__proto_keys_free(char **base, char **k, int n);
/* "<base><jobId>[suffix]" in a new string, NULL on OOM. */
char *bullc__proto_job_key(const char *base, size_t base_len, const char *job_id,
                           const char *suffix);
/* Writes why a queue could not be opened (the code bullc__proto_keys_init returned); returns
 * rc. */
int bullc__proto_open_error(int rc, char *err, size_t errlen);

/* ---- the worker's identity and options (shared_open.c) ------------------------------------ */

/* The worker options both protocols keep as given. */
typedef struct bullc__proto_wopts {
    int lock_duration_ms;
    int limiter_max, limiter_duration_ms; /* the worker's rate limit (0: none) */
    int max_stalled_count;
    int stalled_interval_ms;
    bullc_keep_jobs_t remove_on_complete, remove_on_fail; /* when a job has no rule */
    bullc_backoff_fn backoff_fn;
    void *backoff_user_data;
} bullc__proto_wopts;

/* Copies those options from o. */
void bullc__proto_wopts_copy(bullc__proto_wopts *w, const bullc_worker_opts_t *o);

/* A version-4 uuid in lowercase text. */
void bullc__proto_uuid(char out[37]);
/* "<prefix>:<base64(queue)>[:w:<name>]": what Node's getWorkers() matches; NULL on OOM. */
char *bullc__proto_client_name(const char *prefix, const char *queue, const char *name);
/* The redis_version of an INFO text as major * 10000 + minor * 100 + patch with its parts in
 * v, or -1 (v zero) when the text names none. */
long bullc__proto_redis_version(const char *info, int v[3]);

/* ---- script calls (shared_calls.c) -------------------------------------------------------- */

/* Runs cmd; an error reply becomes BULLC_ESCRIPT with "<what>: <text>" in err. */
int bullc__proto_call(bullc__link *link, bullc__cmd *cmd, const char *what, bullc__reply **r,
                      char *err, size_t errlen);
/* Runs one command for a read (a queue handle's); a lost connection is BULLC_EIO, an error
 * reply BULLC_ESCRIPT with its text in err (after "<what>: " when what is given) and *r NULL. */
int bullc__proto_read(bullc__link *link, bullc__cmd *cmd, const char *what, bullc__reply **r,
                      char *err, size_t errlen);
/* Runs a script whose reply is an integer into *out, frees cmd; a failure is logged. The
 * caller turns a negative reply into its protocol's code. */
int bullc__proto_int_call(const bullc__logger *log, bullc__link *link, bullc__cmd *cmd,
                          long long *out);
/* The BULLC_E* code of a negative reply both protocols' scripts give alike (-1 no job, -2 no
 * lock, -3 not active, -6 another worker's lock); BULLC_EPROTO for any other. */
int bullc__proto_code(long long code);
/* Logs the outcome of a lock renewal: its failure, or each id of the reply's array whose lock
 * was no longer ours, marking the `locks` (n of them) of those ids lost. */
void bullc__proto_log_renewal(const bullc__logger *log, int rc, const char *err,
                              const bullc__reply *r, bullc__lock *locks, size_t n);
/* Logs "job <id> <what>" for each id of an array reply. */
void bullc__proto_log_ids(const bullc__logger *log, const bullc__reply *list, const char *what);

/* ---- the producer (shared_add.c) ---------------------------------------------------------- */

/* How a protocol prepares and sends one job of an add. */
typedef struct bullc__adder {
    size_t size; /* of one prepared job */
    /* checks and prepares j; an error code with the reason in why */
    int (*prepare)(const bullc__proto *p, void *job, const bullc_new_job_t *j, long long now_ms,
                   char *why, size_t n);
    void (*build)(bullc__cmd *cmd, const bullc__proto *p, const void *job);
    void (*release)(void *job);
} bullc__adder;

/* Adds n jobs (stride bytes apart, read with bullc__sized_read) as one pipeline of add calls;
 * ids[i] (if ids) gets job i's id. Nothing is sent unless every job is valid. */
int bullc__proto_add(bullc__proto *p, bullc__link *link, const bullc__adder *a,
                     const bullc_new_job_t *jobs, size_t n, size_t stride, char **ids, char *err,
                     size_t errlen);

/* ---- settling and the exchange (shared_settle.c) ------------------------------------------ */

/* What every prepared settle holds, whatever the protocol: its command, the job's key, the
 * value it records and a failure's texts. A protocol's prepared settle begins with one. */
typedef struct bullc__settle_base {
    bullc__cmd cmd;
    char *job_key;
    const char *value; /* returnvalue JSON, or the failure reason */
    char *reason;      /* owned copy of the failure reason */
    char *stack;       /* the stacktrace JSON after this failure */
    bullc__buf opts;   /* the call's msgpack options (Bull: the keep rule) */
    bullc__buf fields; /* msgpack fields a failed attempt records */
} bullc__settle_base;

/* Starts preparing s: s->priv as a zeroed `size`-byte settle beginning with a
 * bullc__settle_base on first use, its base emptied after; s's results reset; the job's key
 * ("<base><jobId>") made. NULL on OOM (prepare answers BULLC_ENOMEM). The protocol resets its
 * own members. */
void *bullc__proto_settle_begin(bullc__settle *s, size_t size, const char *key_base,
                                size_t base_len);
/* Frees the base of s->priv and s->priv (its own members freed first by the protocol). */
void bullc__proto_settle_free(bullc__settle *s);
/* A failure's texts: the reason copied (and made the value) and the stacktrace with
 * "<kind>: <reason>" added (bullc__proto_stacktrace). BULLC_ENOMEM. */
int bullc__proto_settle_failure(bullc__settle_base *b, bullc_job_t *job, const char *kind,
                                const char *reason, long long limit);
/* 1 when building the command or a buffer ran out of memory. */
int bullc__proto_settle_oom(const bullc__settle_base *b);

/* The stacktrace JSON after a failure: the stored entries plus `entry`, keeping the last
 * `limit` of them (limit < 0: all). NULL on OOM. */
char *bullc__proto_stacktrace(bullc_job_t *job, const char *entry, long long limit);
/* The first checks of a settle's reply: resets s->rc and s->errstr, then, for no reply or an
 * error reply, sets them ("<call>: ...") and returns 1. 0: the protocol decodes r. */
int bullc__proto_settle_failed(bullc__settle *s, const char *call, const bullc__reply *r);
/* Resets the exchange's results; when its round trip failed (rc != 0) every settle gets rc and
 * err, and 1 is returned. */
int bullc__proto_xchg_failed(bullc__xchg *x, int rc, const char *err);
/* Grows an array of command pointers to hold n; BULLC_ENOMEM (the array kept). */
int bullc__proto_cmds_reserve(bullc__cmd ***cmds, size_t *cap, size_t n);

/* ---- queue administration (shared_admin.c) ------------------------------------------------ */

struct cJSON;

/* Formats err and returns code. */
int bullc__adm_err(char *err, size_t errlen, int code, const char *fmt, ...) BULLC__PRINTF(4, 5);
/* Runs one command (freed); an error reply becomes BULLC_ESCRIPT with its text, a lost
 * connection BULLC_EIO. */
int bullc__adm_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                    size_t errlen);
/* Runs a command whose reply is an integer into *out (cmd freed). */
int bullc__adm_int(bullc__link *link, bullc__cmd *cmd, long long *out, char *err, size_t errlen);
/* An array of strings into req->items (NULL-terminated). */
int bullc__adm_strings(const bullc__reply *r, bullc__admin *req, char *err, size_t errlen);
/* Moves src's items to the end of dst's. */
int bullc__adm_append(bullc__admin *dst, bullc__admin *src, char *err, size_t errlen);
void bullc__adm_free_items(bullc__admin *req);
/* One CLIENT LIST line's `name=` value (up to the next space) as a new cJSON string ("" when
 * the line has no such field; NULL on OOM). */
struct cJSON *bullc__adm_client_field(const char *line, size_t len, const char *name);
/* strcmp of two `char *` (for qsort of item lists). */
int bullc__adm_cmp_str(const void *a, const void *b);
/* A handle's key base "<prefix>:<queue>:" split: *plen the prefix's length, *queue and *qlen
 * the queue's name (which has no ':'). */
void bullc__adm_split_base(const char *base, size_t base_len, size_t *plen, const char **queue,
                           size_t *qlen);
/* Appends a copy of s (n bytes) to req->items (kept NULL-terminated); BULLC_ENOMEM. */
int bullc__adm_push_name(bullc__admin *req, const char *s, size_t n);
/* Sorts req->items and drops repeats. */
void bullc__adm_sort_unique(bullc__admin *req);
/* Called for each key "<prefix>:<name><suffix>" (suffix from the ':' after the name, up to the
 * end of the key); non-zero: out of memory. */
typedef int (*bullc__adm_key_fn)(void *ctx, const char *name, size_t n, const char *suffix);
/* SCANs every key under the prefix (the first plen bytes of base), calling fn on each. */
int bullc__adm_scan_keys(bullc__link *link, const char *base, size_t plen, bullc__adm_key_fn fn,
                         void *ctx, char *err, size_t errlen);
/* A job hash (HGETALL) of job `id` at `key` into *h: BULLC_ENOJOB when it is empty. */
int bullc__adm_job_hash(bullc__link *link, const char *key, const char *id, bullc__reply **h,
                        char *err, size_t errlen);
/* What `job --json` reads for both protocols: the job hash at `key` (freed here; NULL: out of
 * memory), its state by get_state, and to_json's JSON of both into req->json. */
int bullc__adm_read_job(bullc__proto *p, bullc__link *link, char *key, bullc__admin *req,
                        int (*get_state)(bullc__proto *p, bullc__link *link, const char *id,
                                         const char **state, char *err, size_t errlen),
                        int (*to_json)(const bullc__reply *h, const char *id, const char *state,
                                       char **out),
                        char *err, size_t errlen);
/* A field of an HGETALL reply, NULL when absent. */
const char *bullc__adm_field(const bullc__reply *h, const char *name);
/* JSON text parsed, else dflt (text NULL or not JSON; dflt is freed when not returned). */
struct cJSON *bullc__adm_json_or(const char *text, struct cJSON *dflt);
/* parseInt of a field, as JSON.stringify shows it: a number, null when absent or NaN. */
struct cJSON *bullc__adm_int_or_null(const char *text);
/* A job's log lines, oldest first, into req->items: BULLC_ENOJOB when the job hash at `key`
 * does not exist. */
int bullc__adm_job_logs(bullc__link *link, const char *key, const char *logs_key,
                        bullc__admin *req, char *err, size_t errlen);

#endif
