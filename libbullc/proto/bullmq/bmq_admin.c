/* bmq_admin.c - queue administration for BullMQ queues: what Node's Queue and Job admin methods
 * do to Redis, through our scripts (docs/bullmq.md "Admin operations"). The readers are in
 * bmq_admin_read.c. */
#include "bmq_admin.h"
#include "util/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Retry, promote or remove one job. */
static int one_job(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                   size_t errlen)
{
    char *key = bullc__bmq_job_key(&p->keys, req->id, NULL);
    if (!key)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    const char *want = "failed";
    if (req->op == BULLC__ADM_RETRY) {
        bullc__bmq_retryFailedJob(&cmd, &p->keys, key, req->id);
    } else if (req->op == BULLC__ADM_PROMOTE) {
        bullc__bmq_promoteJob(&cmd, &p->keys, req->id);
        want = "delayed";
    } else {
        bullc__bmq_removeJob(&cmd, &p->keys, key, req->id);
    }
    free(key);
    long long v = 0;
    int rc = bullc__adm_int(link, &cmd, &v, err, errlen);
    if (rc)
        return rc;
    if (req->op == BULLC__ADM_REMOVE && v == 0)
        return bullc__adm_err(err, errlen, BULLC_ELOCKMISMATCH, "job %s is locked by a worker",
                              req->id);
    if (v == -1)
        return bullc__adm_err(err, errlen, BULLC_ENOJOB, "job %s does not exist", req->id);
    if (v == -3)
        return bullc__adm_err(err, errlen, BULLC_ENOTINSTATE, "job %s is not %s", req->id, want);
    if (v == -8)
        return bullc__adm_err(err, errlen, BULLC_EINVAL,
                              "job %s is the next iteration of a job scheduler", req->id);
    return v < 0 ? bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply %lld", v) : 0;
}

/* Node's clean: rounds of at most 10000 until one removes fewer than it asked for. */
static int clean(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                 size_t errlen)
{
    static const char *const states[] = {"completed", "failed", "delayed", "prioritized",
                                         "wait",      "paused", "active"};
    const char *state = req->state && !strcmp(req->state, "waiting") ? "wait" : req->state;
    int known = 0;
    for (size_t i = 0; state && i < BULLC__COUNT(states); i++)
        known |= !strcmp(state, states[i]);
    if (!known || req->a < 0 || req->b < 0)
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "cannot clean state %s",
                              state ? state : "(none)");
    long long before = bullc__now_ms() - req->a;
    bullc__admin all = {0};
    int rc = 0;
    long long want = req->b && req->b < 10000 ? req->b : 10000; /* per round, as Node */
    for (;;) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bmq_cleanJobs(&cmd, &p->keys, state, before, want);
        bullc__reply *r;
        bullc__admin round = {0};
        if ((rc = bullc__adm_call(link, &cmd, &r, err, errlen)) == 0)
            rc = bullc__adm_strings(r, &round, err, errlen);
        bullc__reply_free(r);
        if (rc == 0)
            rc = bullc__adm_append(&all, &round, err, errlen);
        bullc__adm_free_items(&round);
        if (rc)
            break;
        if ((long long)round.nitems < want || (req->b && (long long)all.nitems >= req->b))
            break;
    }
    if (rc) {
        bullc__adm_free_items(&all);
        return rc;
    }
    req->items = all.items;
    req->nitems = all.nitems;
    return 0;
}

/* Queue-wide changes: pause/resume, retry or promote all, drain, obliterate. */
static int queue_wide(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                      size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    char now[32];
    snprintf(now, sizeof now, "%lld", bullc__now_ms());
    long long v = 0;
    int rc;
    switch (req->op) {
    case BULLC__ADM_PAUSE:
        bullc__bmq_pauseQueue(&cmd, &p->keys, req->flag ? 1 : 0);
        break;
    case BULLC__ADM_RETRY_ALL:
        bullc__bmq_requeueAll(&cmd, &p->keys, "failed", now);
        break;
    case BULLC__ADM_PROMOTE_ALL:
        bullc__bmq_requeueAll(&cmd, &p->keys, "delayed", "+inf");
        break;
    case BULLC__ADM_DRAIN:
        bullc__bmq_drainQueue(&cmd, &p->keys, req->flag ? 1 : 0);
        break;
    default: /* obliterate: paused first, as Node's queue.obliterate() */
        bullc__bmq_pauseQueue(&cmd, &p->keys, 1);
        if ((rc = bullc__adm_int(link, &cmd, &v, err, errlen)) != 0)
            return rc;
        bullc__cmd_init(&cmd);
        bullc__bmq_obliterateQueue(&cmd, &p->keys, req->flag ? 1 : 0);
        break;
    }
    if ((rc = bullc__adm_int(link, &cmd, &v, err, errlen)) != 0)
        return rc;
    if (req->op == BULLC__ADM_OBLITERATE && v == -2)
        return bullc__adm_err(err, errlen, BULLC_EMISUSE,
                              "the queue has active jobs (obliterate with force)");
    if (v < 0)
        return bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply %lld", v);
    req->count = v;
    return 0;
}

int bullc__bmq_admin(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                     size_t errlen)
{
    switch (req->op) {
    case BULLC__ADM_RETRY:
    case BULLC__ADM_PROMOTE:
    case BULLC__ADM_REMOVE:
        return req->id ? one_job(p, link, req, err, errlen)
                       : bullc__adm_err(err, errlen, BULLC_EINVAL, "no job id");
    case BULLC__ADM_CLEAN:
        return clean(p, link, req, err, errlen);
    case BULLC__ADM_PAUSE:
    case BULLC__ADM_RETRY_ALL:
    case BULLC__ADM_PROMOTE_ALL:
    case BULLC__ADM_DRAIN:
    case BULLC__ADM_OBLITERATE:
        return queue_wide(p, link, req, err, errlen);
    default:
        return bullc__bmq_admin_read(p, link, req, err, errlen);
    }
}
