/* bull_job.c - Bull jobs decoded from what the scripts return (docs/bull.md §2). */
#include "bull.h"

#include <stdio.h>
#include <string.h>

/* A non-negative integer field, or dflt. */
static long counter(const bullc_job_t *job, const char *field, long dflt)
{
    const char *v = bullc_job_field(job, field);
    long long n;
    if (!v || bullc__parse_ll(v, strlen(v), &n) != 0 || n < 0 || n > 0x7fffffffL)
        return dflt;
    return (long)n;
}

int bullc__bull_decode_taken(bullc__proto *p, const bullc__reply *r, bullc_job_t **job)
{
    *job = NULL;
    if (!r)
        return BULLC_EBADJOB;
    if (r->type == BULLC__R_INTEGER || r->type == BULLC__R_NIL)
        return BULLC_OK; /* nothing was waiting */
    if (r->type != BULLC__R_ARRAY || r->elements != 2 || !r->element[1] ||
        r->element[1]->type != BULLC__R_STRING)
        return BULLC_EBADJOB;
    int rc = bullc__job_from_hash(r->element[0], r->element[1]->str, r->element[1]->len, job);
    if (rc != 0)
        return rc;
    /* Bull counts failed attempts only; it keeps no count of starts */
    (*job)->atm = counter(*job, "attemptsMade", 0);
    (*job)->ats = (*job)->atm + 1;
    snprintf((*job)->token, sizeof (*job)->token, "%s", p->token);
    return 0;
}

int bullc__bull_code(long long code)
{
    switch (code) {
    case -1:
        return BULLC_ENOJOB;
    case -2:
        return BULLC_ELOCKMISSING;
    case -3:
        return BULLC_ENOTINSTATE;
    case -6:
        return BULLC_ELOCKMISMATCH;
    default:
        return BULLC_EPROTO;
    }
}
