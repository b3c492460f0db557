/* bmq_job.c - BullMQ jobs and next-job replies, decoded from what the scripts return
 * (docs/bullmq.md §2.3, §4.1). */
#include "bullmq.h"
#include "proto/shared/shared.h"

#include <string.h>

int bullc__bmq_job_decode(const bullc__reply *hash, const char *id, size_t idlen,
                          bullc_job_t **out)
{
    int rc = bullc__job_from_hash(hash, id, idlen, out);
    if (rc != 0)
        return rc;
    bullc_job_t *job = *out;
    /* attemptsMade: `atm`, falling back to the pre-v5 field name as Node does */
    job->atm = bullc__job_counter(job, "atm", -1);
    if (job->atm < 0)
        job->atm = bullc__job_counter(job, "attemptsMade", 0);
    job->ats = bullc__job_counter(job, "ats", 0);
    return 0;
}

int bullc__bmq_decode_next(const bullc__reply *r, bullc_job_t **job, bullc__hints *hints)
{
    *job = NULL;
    memset(hints, 0, sizeof *hints);
    if (!r)
        return BULLC_EBADJOB;
    if (r->type == BULLC__R_INTEGER || r->type == BULLC__R_NIL)
        return BULLC_OK; /* plain 0: nothing fetched */
    if (r->type == BULLC__R_ERROR)
        return BULLC_ESCRIPT; /* refused (NOPERM, OOM), not a malformed job */
    if (r->type != BULLC__R_ARRAY || r->elements < 4)
        return BULLC_EBADJOB;
    const bullc__reply *hash = r->element[0], *id = r->element[1];
    long long v = 0;
    if (bullc__reply_ll(r->element[2], &v) == 0)
        hints->rate_limit_ms = v;
    v = 0;
    if (bullc__reply_ll(r->element[3], &v) == 0)
        hints->delay_until_ms = v;
    if (hash && hash->type == BULLC__R_ARRAY) {
        if (!id || id->type != BULLC__R_STRING)
            return BULLC_EBADJOB;
        return bullc__bmq_job_decode(hash, id->str, id->len, job);
    }
    return BULLC_OK;
}

int bullc__bmq_code(long long code)
{
    switch (code) {
    case -4:
        return BULLC_EPENDINGCHILDREN;
    case -5:
        return BULLC_ENOPARENT;
    case -9:
        return BULLC_EFAILEDCHILDREN;
    default:
        return bullc__proto_code(code); /* -1, -2, -3, -6 as Bull's */
    }
}
