/* bull_maint.c - what Bull leaves to its workers' timers (docs/bull.md §4.5-4.7): renewing
 * locks, the stalled-job check, and promoting delayed jobs when they fall due. */
#include "bull.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs cmd; a script error becomes BULLC_ESCRIPT with the text in err. */
static int call(bullc__link *link, bullc__cmd *cmd, const char *what, bullc__reply **r,
                char *err, size_t errlen)
{
    int rc = bullc__cmd_oom(cmd) ? BULLC_ENOMEM : bullc__link_call(link, cmd, r, err, errlen);
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%s: %s", what, (*r)->str);
        rc = BULLC_ESCRIPT;
    }
    return rc;
}

int bullc__bull_extend_locks(bullc__proto *p, bullc__link *link, bullc__lock *locks,
                             size_t n)
{
    bullc__buf ids;
    bullc__buf_init(&ids);
    bullc__mp_array(&ids, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        bullc__mp_cstr(&ids, locks[i].job_id);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_extendLocks(&cmd, &p->keys, p->token, p->lock_duration_ms, ids.data, ids.len);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = ids.oom ? BULLC_ENOMEM : call(link, &cmd, "extendLocks", &r, err, sizeof err);
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "lock renewal failed: %s (%s)", bullc_strerror(rc),
                   err);
    } else if (r->type == BULLC__R_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == BULLC__R_STRING)
                bullc__lock_lost(&p->log, locks, n, r->element[i]->str);
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    bullc__buf_free(&ids);
    return rc;
}

/* Logs each id of one list of the stalled check's reply. */
static void log_ids(bullc__proto *p, const bullc__reply *list, const char *what)
{
    if (!list || list->type != BULLC__R_ARRAY)
        return;
    for (size_t i = 0; i < list->elements; i++)
        if (list->element[i]->type == BULLC__R_STRING)
            bullc__log(&p->log, BULLC_LOG_WARN, "job %s %s", list->element[i]->str, what);
}

int bullc__bull_check_stalled(bullc__proto *p, bullc__link *link)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_moveStalledJobsToWait(&cmd, &p->keys, p->max_stalled_count, bullc__now_ms(),
                                      p->stalled_interval_ms);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = call(link, &cmd, "moveStalledJobsToWait", &r, err, sizeof err);
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "stalled check failed: %s (%s)", bullc_strerror(rc),
                   err);
    } else if (r->type == BULLC__R_ARRAY && r->elements == 2) {
        log_ids(p, r->element[0], "stalled more than allowable limit and was failed");
        log_ids(p, r->element[1], "stalled and was moved back to wait");
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}

/* Promotes the due delayed jobs; runs again when the next one is due, within the guard
 * interval (a job another client delays is seen by then at the latest). */
long long bullc__bull_tick(bullc__proto *p, bullc__link *link)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    long long now = bullc__now_ms();
    bullc__bull_updateDelaySet(&cmd, &p->keys, now, p->token);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = call(link, &cmd, "updateDelaySet", &r, err, sizeof err);
    long long next = BULLC__BULL_GUARD_MS;
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "delayed jobs not promoted: %s (%s)",
                   bullc_strerror(rc), err);
    } else if (r->type == BULLC__R_STRING) {
        double due = ceil(strtod(r->str, NULL) / 4096.0) - (double)bullc__now_ms();
        if (due < (double)next)
            next = due > 0 ? (long long)due : 0;
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return next;
}
