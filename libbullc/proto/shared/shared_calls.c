/* shared_calls.c - running one script call outside the exchange (handler calls, maintenance)
 * and reading its reply the way both protocols do: errors with the call's name, integer replies,
 * the codes their scripts share, and the logs of lock renewal and the stalled check. */
#include "proto/shared/shared.h"

#include <stdio.h>
#include <string.h>

int bullc__proto_call(bullc__link *link, bullc__cmd *cmd, const char *what, bullc__reply **r,
                      char *err, size_t errlen)
{
    int rc = bullc__cmd_oom(cmd) ? BULLC_ENOMEM : bullc__link_call(link, cmd, r, err, errlen);
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%s: %s", what, (*r)->str);
        rc = BULLC_ESCRIPT;
    }
    return rc;
}

int bullc__proto_read(bullc__link *link, bullc__cmd *cmd, const char *what, bullc__reply **r,
                      char *err, size_t errlen)
{
    int rc = BULLC_ENOMEM;
    if (bullc__cmd_oom(cmd))
        snprintf(err, errlen, "out of memory");
    else
        rc = bullc__link_call(link, cmd, r, err, errlen);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%s%s%s", what ? what : "", what ? ": " : "", (*r)->str);
        bullc__reply_free(*r);
        *r = NULL;
        rc = BULLC_ESCRIPT;
    }
    return rc;
}

int bullc__proto_int_call(const bullc__logger *log, bullc__link *link, bullc__cmd *cmd,
                          long long *out)
{
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__cmd_oom(cmd) ? BULLC_ENOMEM : bullc__link_call(link, cmd, &r, err, sizeof err);
    const char *name = cmd->script ? cmd->script->name : "command";
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(err, sizeof err, "%s", r->str);
        rc = BULLC_ESCRIPT;
    } else if (rc == 0 && r->type != BULLC__R_INTEGER) {
        snprintf(err, sizeof err, "unexpected reply");
        rc = BULLC_EPROTO;
    }
    if (rc != 0)
        bullc__log(log, BULLC_LOG_WARN, "%s failed: %s (%s)", name, bullc_strerror(rc), err);
    else
        *out = r->integer;
    bullc__reply_free(r);
    bullc__cmd_free(cmd);
    return rc;
}

int bullc__proto_code(long long code)
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

/* Logs that the lock of job `id` could not be renewed and marks the locks of that id lost. */
static void lock_lost(const bullc__logger *log, bullc__lock *locks, size_t n, const char *id)
{
    bullc__log(log, BULLC_LOG_WARN,
               "lock of job %s could not be renewed: another worker may run it; its handler is "
               "told to stop",
               id);
    for (size_t i = 0; i < n; i++)
        if (strcmp(locks[i].job_id, id) == 0)
            locks[i].lost = 1;
}

void bullc__proto_log_renewal(const bullc__logger *log, int rc, const char *err,
                              const bullc__reply *r, bullc__lock *locks, size_t n)
{
    if (rc != 0) {
        bullc__log(log, BULLC_LOG_WARN, "lock renewal failed: %s (%s)", bullc_strerror(rc), err);
        return;
    }
    if (r->type != BULLC__R_ARRAY)
        return;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == BULLC__R_STRING)
            lock_lost(log, locks, n, r->element[i]->str);
}

void bullc__proto_log_ids(const bullc__logger *log, const bullc__reply *list, const char *what)
{
    if (!list || list->type != BULLC__R_ARRAY)
        return;
    for (size_t i = 0; i < list->elements; i++)
        if (list->element[i]->type == BULLC__R_STRING)
            bullc__log(log, BULLC_LOG_WARN, "job %s %s", list->element[i]->str, what);
}
