/* internal.h - declarations shared by libbullc's source files (never installed). */
#ifndef BULLC_INTERNAL_H
#define BULLC_INTERNAL_H

#include "bullc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>


#include "util/buf.h"
#include "util/cron.h"
#include "util/js.h"
#include "util/json.h"
#include "util/log.h"
#include "util/msgpack.h"
#include "util/time.h"
#include "util/tz.h"
#include "net/conn.h"
#include "net/link.h"
#include "net/url.h"

/* ---- queue keys (keys.c) -------------------------------------------------------------------- */

typedef enum bullc__qkey {
    BULLC__K_WAIT,
    BULLC__K_ACTIVE,
    BULLC__K_PRIORITIZED,
    BULLC__K_EVENTS,
    BULLC__K_STALLED,
    BULLC__K_LIMITER,
    BULLC__K_DELAYED,
    BULLC__K_PAUSED,
    BULLC__K_META,
    BULLC__K_PC,
    BULLC__K_MARKER,
    BULLC__K_COMPLETED,
    BULLC__K_FAILED,
    BULLC__K_METRICS_COMPLETED,
    BULLC__K_METRICS_FAILED,
    BULLC__K_STALLED_CHECK,
    BULLC__K_REPEAT,
    BULLC__K_ID,
    BULLC__K_WAITING_CHILDREN,
    BULLC__K_COUNT
} bullc__qkey;

/* Precomputed "<prefix>:<queue>:<suffix>" keys of one queue. */
typedef struct bullc__keys {
    char *base; /* "<prefix>:<queue>:" (with the trailing colon, BullMQ's keyPrefix ARGV) */
    size_t base_len;
    char *k[BULLC__K_COUNT];
} bullc__keys;

const char *bullc__qkey_suffix(bullc__qkey k);
int bullc__keys_init(bullc__keys *keys, const char *prefix, const char *queue);
void bullc__keys_free(bullc__keys *keys);
/* "<prefix>:<queue>:<jobId>[suffix]" in a new string, NULL on OOM. */
char *bullc__job_key(const bullc__keys *keys, const char *job_id, const char *suffix);

/* ---- embedded Lua scripts (generated from lua/ into build/gen/scripts_gen.c) -------------- */

typedef enum bullc__script_id {
    BULLC__S_MOVE_TO_ACTIVE,
    BULLC__S_MOVE_TO_FINISHED,
    BULLC__S_EXTEND_LOCKS,
    BULLC__S_MOVE_STALLED,
    BULLC__S_RETRY_JOB,
    BULLC__S_MOVE_TO_DELAYED,
    BULLC__S_ADD_JOB,
    BULLC__S_GET_STATE,
    BULLC__S_GET_COUNTS,
    BULLC__S_MOVE_TO_WAITING_CHILDREN,
    BULLC__S_UPDATE_PROGRESS,
    BULLC__S_ADD_LOG,
    BULLC__S_UPDATE_DATA,
    BULLC__S_MOVE_TO_WAIT,
    BULLC__S_UPDATE_JOB_SCHEDULER,
    BULLC__S_MOVE_TO_FINISHED_BATCH,
    BULLC__S_COUNT
} bullc__script_id;

/* Defined in the generated file: the scripts in bullc__script_id order. */
extern const bullc__script bullc__scripts[BULLC__S_COUNT];

/* ---- script calls on one connection (conn.c, until the protocol layer builds them) -------- */

/* Runs a command given as argv. A Redis error reply is returned as BULLC_ESCRIPT with the reply
 * kept and the text in the connection's errstr. */
int bullc__conn_cmd(bullc__conn *cn, int argc, const char **argv, const size_t *argvlen,
                    bullc__reply **reply);
/* EVALSHA script with KEYS then ARGV (EVAL when the server lacks it). An error reply is
 * BULLC_ESCRIPT with "<script>: <text>" in errstr and no reply. */
int bullc__conn_script(bullc__conn *cn, bullc__script_id id, int nkeys, const char **keys,
                       int nargs, const char **args, const size_t *arglens, bullc__reply **reply);

/* ---- jobs (job.c) --------------------------------------------------------------------------- */

/* Data texts and parsed views a handler may still hold after bullc_job_update_data replaced
 * them: kept until the job is freed. */
typedef struct bullc__retired {
    char *text;
    void *json; /* cJSON * */
    struct bullc__retired *next;
} bullc__retired;

struct bullc__hthread;

struct bullc_job {
    char *id;
    char *name;     /* borrowed view into fields, or "" */
    const char *data;
    const char *opts;
    char **fields;  /* flat field/value pairs copied from HGETALL */
    size_t nfields; /* number of pairs */
    long atm;
    long ats;
    long long timestamp;
    void *data_json; /* cJSON *, lazily parsed */
    void *opts_json; /* cJSON *, lazily parsed */
    /* outcome set by the handler */
    char *result;        /* JSON text */
    char *fail_message;  /* failedReason */
    int unrecoverable;
    int moved;           /* the handler moved the job itself (delayed, waiting-children, wait):
                            set by the call that moved it; no outcome is recorded */
    /* set while the handler runs, for the calls it makes on the job */
    struct bullc__hthread *thread; /* the handler thread (its connection) */
    const char *token;             /* the job's lock token */
    char *data_owned;              /* data replaced by bullc_job_update_data (else NULL) */
    bullc__retired *retired;
};

/* Builds a job from the flat HGETALL array reply and its id. BULLC_EBADJOB when the reply is not
 * a flat string array; a job whose `data` is missing gets "{}". */
int bullc__job_from_reply(const bullc__reply *hash, const char *id, size_t idlen,
                          bullc_job_t **out);
void bullc__job_free(bullc_job_t *job);
/* The job's opts, parsed (cJSON *), or NULL. */
void *bullc__job_opts_cjson(bullc_job_t *job);

/* ---- producer: a job to add (jobopts.c) ------------------------------------------------------ */

/* A job checked and packed for the addJob script. */
typedef struct bullc__newjob {
    const char *name;  /* borrowed */
    const char *data;  /* borrowed JSON text, stored verbatim ("{}" for NULL) */
    char *job_id;      /* custom id, "" for an automatic one */
    char timestamp[40]; /* creation time (opts.timestamp or now), decimal text */
    bullc__buf opts;   /* msgpack map of the opts as Node stores them */
} bullc__newjob;

/* Checks name, data and options as Node's Queue.add does and packs the stored opts. On error
 * returns BULLC_EINVAL (bad option), BULLC_EJSON (data or opts not JSON) or BULLC_ENOMEM with
 * the reason in err; *job then holds nothing to free. */
int bullc__newjob_prepare(bullc__newjob *job, const char *name, const char *data_json,
                          const char *opts_json, long long now_ms, char *err, size_t errlen);
void bullc__newjob_free(bullc__newjob *job);

#endif /* BULLC_INTERNAL_H */
