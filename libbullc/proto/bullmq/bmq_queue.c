/* bmq_queue.c - the producer half of BullMQ: adding jobs as Node's Queue.add/addBulk store them
 * (docs/bullmq.md §7), and reading a job's state, fields and the queue's counts. */
#include "bullmq.h"
#include "proto/shared/shared.h"
#include "util/sized.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...) BULLC__PRINTF(4, 5);
static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static int prepare(const bullc__proto *p, void *job, const bullc_new_job_t *j, long long now_ms,
                   char *why, size_t n)
{
    (void)p;
    return bullc__newjob_prepare(job, j->name, j->data_json, j->opts_json, now_ms, why, n);
}

static void build(bullc__cmd *cmd, const bullc__proto *p, const void *job)
{
    const bullc__newjob *j = job;
    bullc__bmq_addJob(cmd, &p->keys, j->job_id, j->name, j->timestamp, j->data, j->opts.data,
                      j->opts.len);
}

static void release(void *job) { bullc__newjob_free(job); }

int bullc__bmq_add(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
                   size_t stride, char **ids, char *err, size_t errlen)
{
    static const bullc__adder adder = {sizeof(bullc__newjob), prepare, build, release};
    return bullc__proto_add(p, link, &adder, jobs, n, stride, ids, err, errlen);
}

/* Runs one command for a read, then frees it; an error reply becomes BULLC_ESCRIPT with the
 * command's name and the text. */
static int read_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                     size_t errlen)
{
    char name[64];
    int rc = bullc__proto_read(link, cmd, bullc__cmd_name(cmd, name, sizeof name), r, err, errlen);
    bullc__cmd_free(cmd);
    return rc;
}

int bullc__bmq_get_state(bullc__proto *p, bullc__link *link, const char *id, const char **state,
                         char *err, size_t errlen)
{
    static const char *const states[] = {"completed", "failed",  "delayed",          "prioritized",
                                          "active",    "waiting", "waiting-children", "unknown"};
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_getState(&cmd, &p->keys, id);
    bullc__reply *r = NULL;
    int rc = read_call(link, &cmd, &r, err, errlen);
    if (rc)
        return rc;
    rc = set_err(err, errlen, BULLC_EPROTO, "getState: unexpected reply");
    if (r->type == BULLC__R_STRING || r->type == BULLC__R_STATUS)
        for (size_t i = 0; i < BULLC__COUNT(states); i++)
            if (!strcmp(r->str, states[i])) {
                *state = states[i];
                err[0] = '\0';
                rc = 0;
            }
    bullc__reply_free(r);
    return rc;
}

int bullc__bmq_get_job_field(bullc__proto *p, bullc__link *link, const char *id,
                             const char *field, char **value, char *err, size_t errlen)
{
    char *key = bullc__bmq_job_key(&p->keys, id, NULL);
    if (!key)
        return set_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 3, "HGET", key, field);
    bullc__reply *r = NULL;
    int rc = read_call(link, &cmd, &r, err, errlen);
    if (rc == 0 && r->type == BULLC__R_STRING) {
        if (!(*value = bullc__strndup(r->str, r->len)))
            rc = set_err(err, errlen, BULLC_ENOMEM, "out of memory");
    } else if (rc == 0 && r->type == BULLC__R_NIL) {
        /* no such field: tell a missing job apart */
        bullc__reply_free(r);
        r = NULL;
        bullc__cmd_init(&cmd);
        bullc__cmd_plain(&cmd, 2, "EXISTS", key);
        rc = read_call(link, &cmd, &r, err, errlen);
        if (rc == 0 && r->type != BULLC__R_INTEGER)
            rc = set_err(err, errlen, BULLC_EPROTO, "EXISTS: unexpected reply");
        else if (rc == 0 && r->integer == 0)
            rc = set_err(err, errlen, BULLC_ENOJOB, "job %s does not exist", id);
    } else if (rc == 0) {
        rc = set_err(err, errlen, BULLC_EPROTO, "HGET: unexpected reply");
    }
    bullc__reply_free(r);
    free(key);
    return rc;
}

int bullc__bmq_get_counts(bullc__proto *p, bullc__link *link, bullc_job_counts_t *out,
                          size_t size, char *err, size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_getCounts(&cmd, &p->keys);
    bullc__reply *r = NULL;
    int rc = read_call(link, &cmd, &r, err, errlen);
    if (rc)
        return rc;
    long long v[8];
    rc = r->type == BULLC__R_ARRAY && r->elements == 8 ? 0 : BULLC_EPROTO;
    for (size_t i = 0; i < 8 && rc == 0; i++) {
        if (r->element[i]->type != BULLC__R_INTEGER)
            rc = BULLC_EPROTO;
        else
            v[i] = r->element[i]->integer;
    }
    bullc__reply_free(r);
    if (rc)
        return set_err(err, errlen, rc, "getCounts: unexpected reply");
    bullc_job_counts_t c = {0};
    c.waiting = v[0];
    c.paused = v[1];
    c.active = v[2];
    c.completed = v[3];
    c.failed = v[4];
    c.delayed = v[5];
    c.prioritized = v[6];
    c.waiting_children = v[7];
    bullc__sized_write(out, size, &c, sizeof c);
    return 0;
}
