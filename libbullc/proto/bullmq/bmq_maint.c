/* bmq_maint.c - lock renewal in one call and the stalled-job check (docs/bullmq.md §5.5, §5.6). */
#include "bullmq.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <stdio.h>

int bullc__bmq_extend_locks(bullc__proto *p, bullc__link *link, bullc__lock *locks,
                            size_t n)
{
    bullc__buf tokens, ids;
    bullc__buf_init(&tokens);
    bullc__buf_init(&ids);
    bullc__mp_array(&tokens, (uint32_t)n);
    bullc__mp_array(&ids, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        bullc__mp_cstr(&tokens, locks[i].token);
        bullc__mp_cstr(&ids, locks[i].job_id);
    }
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_extendLocks(&cmd, &p->keys, tokens.data, tokens.len, ids.data, ids.len,
                           p->lock_duration_ms);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = tokens.oom || ids.oom || bullc__cmd_oom(&cmd)
                 ? BULLC_ENOMEM
                 : bullc__link_call(link, &cmd, &r, err, sizeof err);
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(err, sizeof err, "extendLocks: %s", r->str);
        rc = BULLC_ESCRIPT;
    }
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "lock renewal failed: %s (%s)", bullc_strerror(rc), err);
    } else if (r->type == BULLC__R_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == BULLC__R_STRING)
                bullc__lock_lost(&p->log, locks, n, r->element[i]->str);
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    bullc__buf_free(&tokens);
    bullc__buf_free(&ids);
    return rc;
}

int bullc__bmq_check_stalled(bullc__proto *p, bullc__link *link)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_moveStalledJobsToWait(&cmd, &p->keys, p->max_stalled_count, bullc__now_ms(),
                                     p->stalled_interval_ms);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : bullc__link_call(link, &cmd, &r, err, sizeof err);
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(err, sizeof err, "moveStalledJobsToWait: %s", r->str);
        rc = BULLC_ESCRIPT;
    }
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "stalled check failed: %s (%s)", bullc_strerror(rc),
                   err);
    } else if (r->type == BULLC__R_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == BULLC__R_STRING)
                bullc__log(&p->log, BULLC_LOG_WARN, "job %s stalled and was moved back to wait",
                           r->element[i]->str);
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}
