/* bmq_maint.c - lock renewal in one call and the stalled-job check (docs/bullmq.md §5.5, §5.6). */
#include "bullmq.h"
#include "proto/shared/shared.h"
#include "util/msgpack.h"
#include "util/time.h"

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
                           p->w.lock_duration_ms);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = tokens.oom || ids.oom
                 ? BULLC_ENOMEM
                 : bullc__proto_call(link, &cmd, "extendLocks", &r, err, sizeof err);
    bullc__proto_log_renewal(&p->log, rc, err, r, locks, n);
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
    bullc__bmq_moveStalledJobsToWait(&cmd, &p->keys, p->w.max_stalled_count, bullc__now_ms(),
                                     p->w.stalled_interval_ms);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__proto_call(link, &cmd, "moveStalledJobsToWait", &r, err, sizeof err);
    if (rc != 0)
        bullc__log(&p->log, BULLC_LOG_WARN, "stalled check failed: %s (%s)", bullc_strerror(rc),
                   err);
    else
        bullc__proto_log_ids(&p->log, r, "stalled and was moved back to wait");
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}
