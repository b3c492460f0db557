/* bull_admin.c - queue administration for Bull queues: what Node Bull 4.16.5's Queue and Job
 * admin methods do to Redis, through our scripts (docs/bull.md §6). The readers are in
 * bull_admin_read.c. */
#include "bull_admin.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jobs per script call of the queue-wide loops (Node Bull's default count). */
#define ROUND 1000

/* What a one-job script's replies mean (NONE: the script has no such reply). */
#define NONE (-100)
typedef struct job_replies {
    long long ok, no_job, locked, not_in;
    const char *want; /* the state the call needs */
} job_replies;

static const job_replies RETRY = {1, 0, -1, -2, "failed"};    /* retryFailedJob.lua */
static const job_replies PROMOTE = {0, -2, NONE, -1, "delayed"}; /* promoteJob.lua */
static const job_replies REMOVE = {1, -1, 0, NONE, ""};        /* removeJob.lua */

/* A one-job script's reply v as a code. */
static int one_job_code(const bullc__admin *req, long long v, const job_replies *m, char *err,
                        size_t errlen)
{
    if (v == m->ok)
        return 0;
    if (v == m->no_job)
        return bullc__adm_err(err, errlen, BULLC_ENOJOB, "job %s does not exist", req->id);
    if (v == m->locked)
        return bullc__adm_err(err, errlen, BULLC_ELOCKMISMATCH, "job %s is locked by a worker",
                              req->id);
    if (v == m->not_in)
        return bullc__adm_err(err, errlen, BULLC_ENOTINSTATE, "job %s is not %s", req->id,
                              m->want);
    return bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply %lld", v);
}

/* Retry (job.retry()), promote (job.promote()) or remove (job.remove()) one job. */
static int one_job(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                   size_t errlen)
{
    char *key = bullc__bull_job_key(&p->keys, req->id);
    if (!key)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    if (req->op == BULLC__ADM_RETRY)
        bullc__bull_retryFailedJob(&cmd, &p->keys, key, req->id, p->token, bullc__now_ms());
    else if (req->op == BULLC__ADM_PROMOTE)
        bullc__bull_promoteJob(&cmd, &p->keys, req->id, p->token, 0);
    else
        bullc__bull_removeJob(&cmd, &p->keys, key, req->id);
    free(key);
    long long v = 0;
    int rc = bullc__adm_int(link, &cmd, &v, err, errlen);
    if (rc)
        return rc;
    return one_job_code(req, v,
                        req->op == BULLC__ADM_RETRY     ? &RETRY
                        : req->op == BULLC__ADM_PROMOTE ? &PROMOTE
                                                        : &REMOVE,
                        err, errlen);
}

/* Node Bull's queue.clean(grace, state, limit): one script call. */
static int clean(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                 size_t errlen)
{
    static const char *const states[] = {"completed", "wait", "active", "paused", "delayed",
                                         "failed"};
    const char *state = req->state && !strcmp(req->state, "waiting") ? "wait" : req->state;
    int known = 0;
    for (size_t i = 0; state && i < BULLC__COUNT(states); i++)
        known |= !strcmp(state, states[i]);
    if (!known || req->a < 0 || req->b < 0)
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "cannot clean state %s of a bull queue",
                              state ? state : "(none)");
    char *set = bullc__bull_job_key(&p->keys, state), before[32];
    if (!set)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    snprintf(before, sizeof before, "%lld", bullc__now_ms() - req->a);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_cleanJobs(&cmd, &p->keys, set, before, req->b, state);
    free(set);
    bullc__reply *r;
    int rc = bullc__adm_call(link, &cmd, &r, err, errlen);
    if (rc == 0)
        rc = bullc__adm_strings(r, req, err, errlen);
    bullc__reply_free(r);
    return rc;
}

/* Rounds of a script moving up to ROUND jobs each, until one moves fewer: the total in
 * req->count. */
static int rounds(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                  size_t errlen)
{
    long long v = ROUND;
    int rc = 0;
    req->count = 0;
    while (rc == 0 && v == ROUND) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        if (req->op == BULLC__ADM_RETRY_ALL)
            bullc__bull_retryAllFailed(&cmd, &p->keys, ROUND);
        else
            bullc__bull_promoteJob(&cmd, &p->keys, "", p->token, ROUND);
        if ((rc = bullc__adm_int(link, &cmd, &v, err, errlen)) == 0 && v < 0)
            rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply %lld", v);
        if (rc == 0)
            req->count += v;
    }
    return rc;
}

/* Node Bull's queue.obliterate({force}): a global pause, then rounds until nothing is left. */
static int obliterate(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                      size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_pauseQueue(&cmd, &p->keys, 1);
    long long v = 0;
    int rc = bullc__adm_int(link, &cmd, &v, err, errlen);
    for (v = 1; rc == 0 && v == 1;) {
        bullc__cmd_init(&cmd);
        bullc__bull_obliterateQueue(&cmd, &p->keys, ROUND, req->flag ? 1 : 0);
        rc = bullc__adm_int(link, &cmd, &v, err, errlen);
    }
    if (rc == 0 && v == -2)
        return bullc__adm_err(err, errlen, BULLC_EMISUSE,
                              "the queue has active jobs (obliterate with force)");
    if (rc == 0 && v != 0)
        return bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply %lld", v);
    return rc;
}

/* Pause or resume (queue.pause() / queue.resume()), drain (queue.empty()). */
static int queue_wide(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                      size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    if (req->op == BULLC__ADM_PAUSE)
        bullc__bull_pauseQueue(&cmd, &p->keys, req->flag ? 1 : 0);
    else /* Bull's empty() drops `delayed` whatever the flag says (docs/bull.md §6) */
        bullc__bull_emptyQueue(&cmd, &p->keys);
    long long v = 0;
    int rc = bullc__adm_int(link, &cmd, &v, err, errlen);
    if (rc == 0 && v < 0)
        rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply %lld", v);
    if (rc == 0)
        req->count = v;
    return rc;
}

int bullc__bull_admin(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                      size_t errlen)
{
    switch (req->op) {
    case BULLC__ADM_RETRY:
    case BULLC__ADM_PROMOTE:
    case BULLC__ADM_REMOVE:
        return req->id && *req->id ? one_job(p, link, req, err, errlen)
                                   : bullc__adm_err(err, errlen, BULLC_EINVAL, "no job id");
    case BULLC__ADM_CLEAN:
        return clean(p, link, req, err, errlen);
    case BULLC__ADM_RETRY_ALL:
    case BULLC__ADM_PROMOTE_ALL:
        return rounds(p, link, req, err, errlen);
    case BULLC__ADM_OBLITERATE:
        return obliterate(p, link, req, err, errlen);
    case BULLC__ADM_PAUSE:
    case BULLC__ADM_DRAIN:
        return queue_wide(p, link, req, err, errlen);
    default:
        return bullc__bull_admin_read(p, link, req, err, errlen);
    }
}
