/* bull_maint.c - what Bull leaves to its workers' timers (docs/bull.md §4.5-4.7): renewing
 * locks, the stalled-job check, and promoting delayed jobs when they fall due. */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    bullc__bull_extendLocks(&cmd, &p->keys, p->token, p->w.lock_duration_ms, ids.data, ids.len);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = ids.oom ? BULLC_ENOMEM
                     : bullc__proto_call(link, &cmd, "extendLocks", &r, err, sizeof err);
    bullc__proto_log_renewal(&p->log, rc, err, r, locks, n);
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    bullc__buf_free(&ids);
    return rc;
}

int bullc__bull_check_stalled(bullc__proto *p, bullc__link *link)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_moveStalledJobsToWait(&cmd, &p->keys, p->w.max_stalled_count, bullc__now_ms(),
                                      p->w.stalled_interval_ms);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__proto_call(link, &cmd, "moveStalledJobsToWait", &r, err, sizeof err);
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "stalled check failed: %s (%s)", bullc_strerror(rc),
                   err);
    } else if (r->type == BULLC__R_ARRAY && r->elements == 2) {
        bullc__proto_log_ids(&p->log, r->element[0],
                             "stalled more than allowable limit and was failed");
        bullc__proto_log_ids(&p->log, r->element[1], "stalled and was moved back to wait");
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
    int rc = bullc__proto_call(link, &cmd, "updateDelaySet", &r, err, sizeof err);
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

/* The delayed set's channel: every writer of `delayed` publishes the due time there (docs/bull.md
 * §4.7). */
size_t bullc__bull_tick_channels(const bullc__proto *p, const char *const **names)
{
    *names = (const char *const *)&p->keys.k[BULLC__BULL_Q_DELAYED];
    return 1;
}

/* The message is a due time in ms, maybe fractional (a score / 4096): the tick runs at its
 * ceiling, as Node's worker rounds it. Anything else is ignored. */
long long bullc__bull_tick_message(bullc__proto *p, const char *channel, const char *payload,
                                   size_t len)
{
    (void)p;
    (void)channel;
    char text[64];
    if (len == 0 || len >= sizeof text)
        return 0;
    memcpy(text, payload, len);
    text[len] = '\0';
    char *end = NULL;
    double due = strtod(text, &end);
    if (end == text || *end || !isfinite(due) || due <= 0 || due > 9e15)
        return 0;
    return (long long)ceil(due);
}
