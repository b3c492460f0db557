/* bull_job.c - Bull jobs decoded from what the scripts return (docs/bull.md §2). */
#include "bull.h"
#include "proto/shared/shared.h"

#include <stdio.h>
#include <string.h>

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
    (*job)->atm = bullc__job_counter(*job, "attemptsMade", 0);
    (*job)->ats = (*job)->atm + 1;
    snprintf((*job)->token, sizeof (*job)->token, "%s", p->token);
    return 0;
}

int bullc__bull_code(long long code)
{
    return bullc__proto_code(code); /* Bull's scripts answer only the codes both share */
}
