/* job.h - a job as the engine and handlers see it, whatever wire protocol it came from: decoded
 * by a protocol from its job hash, lent to one handler at a time, and carrying the outcome the
 * handler sets. */
#ifndef BULLC_JOB_JOB_H
#define BULLC_JOB_JOB_H

#include "net/reply.h"
#include "util/buf.h"

/* Data texts and parsed views a handler may still hold after its data was replaced: kept until
 * the job is freed. */
typedef struct bullc__retired {
    char *text;
    void *json; /* cJSON * */
    struct bullc__retired *next;
} bullc__retired;

struct bullc__run; /* the engine's context while a handler runs (engine/engine.h) */

struct bullc_job {
    const char *id;
    const char *name;   /* "" when absent */
    const char *data;   /* JSON text, "{}" when absent */
    const char *opts;   /* JSON text, "{}" when absent */
    const char **fields; /* flat field/value pairs (in `block`) */
    size_t nfields;     /* number of pairs */
    char *block;        /* one allocation: the field pointers, the id, the fields' text */
    long atm;           /* attempts made before this one */
    long ats;           /* attempts started, this one included */
    long long timestamp;
    char token[64];     /* the lock token the job was taken with ("" when none) */
    void *data_json;    /* cJSON *, parsed on first use */
    void *opts_json;    /* cJSON *, parsed on first use */
    /* the outcome, set by the handler (or by the protocol when it turns a completion into a
     * failure) */
    char *result;       /* JSON text */
    char *fail_message; /* the failure reason */
    int unrecoverable;
    int moved;          /* the handler moved the job out of active itself: record nothing */
    int abandoned;      /* the handler gave up when the worker's stop deadline passed: record
                           nothing (the stalled check requeues it) */
    /* set by the protocol before the handler runs (Bull's `timeout` option): past timeout_ms
     * of handler run time the attempt fails with timeout_reason, whatever the handler says */
    long long timeout_ms; /* 0 = none */
    char *timeout_reason;
    /* set only while a handler runs, for the calls it makes on its job */
    struct bullc__run *run;
    char *data_owned;   /* data replaced by bullc_job_update_data (else NULL) */
    bullc__retired *retired;
};

/* A job from a flat field/value array (an HGETALL reply), its text copied into one block the
 * job owns, so the reply can be freed by the thread that read it, at once (a reply's memory
 * then stays where it was allocated): BULLC_EBADJOB when `hash` is not a flat array of strings
 * or the id is empty, BULLC_ENOMEM. The attempt counters are the protocol's to set. */
int bullc__job_from_hash(const bullc__reply *hash, const char *id, size_t idlen,
                         bullc_job_t **out);
void bullc__job_free(bullc_job_t *job);
/* The job's opts parsed (a cJSON *), or NULL when they are not valid JSON. */
void *bullc__job_opts_cjson(bullc_job_t *job);
/* Makes `copy` (malloc'd JSON text, taken over) the job's data; the old text and parsed view
 * stay valid until the job is freed. BULLC_ENOMEM leaves the job unchanged and frees copy. */
int bullc__job_swap_data(bullc_job_t *job, char *copy);
/* Sets the failure reason (copied) and the unrecoverable flag; keeps the old reason when out of
 * memory. */
void bullc__job_set_failure(bullc_job_t *job, const char *reason, int unrecoverable);
/* A non-negative integer field (an attempt counter the protocol reads), or dflt when the field
 * is absent or not such a number. */
long bullc__job_counter(const bullc_job_t *job, const char *field, long dflt);

#endif
