/* bmq_queue.c - the producer half of BullMQ: adding jobs as Node's Queue.add/addBulk store them
 * (docs/bullmq.md §7), and reading a job's state, fields and the queue's counts. */
#include "bullmq.h"
#include "util/sized.h"
#include "util/time.h"

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

/* The job id from an addJob reply. */
static int add_reply(const bullc__reply *r, size_t i, size_t n, char **id, char *err, size_t errlen)
{
    char where[32] = "";
    if (n > 1)
        snprintf(where, sizeof where, "job %zu: ", i);
    if (r->type == BULLC__R_ERROR)
        return set_err(err, errlen, BULLC_ESCRIPT, "%saddJob: %s", where, r->str);
    if (r->type != BULLC__R_STRING || r->len == 0)
        return set_err(err, errlen, BULLC_EPROTO, "addJob: unexpected reply (type %d)", (int)r->type);
    if (id && !(*id = bullc__strndup(r->str, r->len)))
        return set_err(err, errlen, BULLC_ENOMEM, "out of memory");
    return 0;
}

/* Sends the addJob calls of n prepared jobs as one pipeline; ids[i] gets job i's id. */
static int add_prepared(bullc__proto *p, bullc__link *link, const bullc__newjob *jobs, size_t n,
                        char **ids, char *err, size_t errlen)
{
    bullc__cmd *cmds = calloc(n, sizeof *cmds);
    bullc__cmd **ptrs = calloc(n, sizeof *ptrs);
    bullc__reply **replies = calloc(n, sizeof *replies);
    int rc = 0;
    if (!cmds || !ptrs || !replies)
        rc = set_err(err, errlen, BULLC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        bullc__cmd_init(&cmds[i]);
        bullc__bmq_addJob(&cmds[i], &p->keys, jobs[i].job_id, jobs[i].name, jobs[i].timestamp,
                          jobs[i].data, jobs[i].opts.data, jobs[i].opts.len);
        ptrs[i] = &cmds[i];
        if (bullc__cmd_oom(&cmds[i]))
            rc = set_err(err, errlen, BULLC_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = link->exec(link, ptrs, n, replies, err, errlen);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    for (size_t i = 0; i < n && !rc; i++)
        rc = add_reply(replies[i], i, n, ids ? &ids[i] : NULL, err, errlen);
    for (size_t i = 0; cmds && i < n; i++) {
        bullc__cmd_free(&cmds[i]);
        if (replies)
            bullc__reply_free(replies[i]);
    }
    free(cmds);
    free(ptrs);
    free(replies);
    return rc;
}

int bullc__bmq_add(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
                   size_t stride, char **ids, char *err, size_t errlen)
{
    bullc__newjob *prep = calloc(n, sizeof *prep);
    if (!prep)
        return set_err(err, errlen, BULLC_ENOMEM, "out of memory");
    int rc = 0;
    long long now = bullc__now_ms();
    for (size_t i = 0; i < n && !rc; i++) {
        bullc_new_job_t j = {0};
        if (bullc__sized_read(&j, sizeof j, (const char *)jobs + i * stride, stride) != 0) {
            rc = set_err(err, errlen, BULLC_EINVAL, "job %zu: a field this library does not know is set", i);
            break;
        }
        char why[400];
        rc = bullc__newjob_prepare(&prep[i], j.name, j.data_json, j.opts_json, now, why, sizeof why);
        if (rc && n > 1)
            set_err(err, errlen, rc, "job %zu: %s", i, why);
        else if (rc)
            set_err(err, errlen, rc, "%s", why);
    }
    if (!rc)
        rc = add_prepared(p, link, prep, n, ids, err, errlen);
    if (rc && ids)
        for (size_t i = 0; i < n; i++) {
            free(ids[i]);
            ids[i] = NULL;
        }
    for (size_t i = 0; i < n; i++)
        bullc__newjob_free(&prep[i]);
    free(prep);
    return rc;
}

/* Runs one command for a read; an error reply becomes BULLC_ESCRIPT with its text. */
static int read_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                     size_t errlen)
{
    int rc = bullc__cmd_oom(cmd) ? set_err(err, errlen, BULLC_ENOMEM, "out of memory")
                                 : bullc__link_call(link, cmd, r, err, errlen);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        char tmp[64];
        rc = set_err(err, errlen, BULLC_ESCRIPT, "%s: %s", bullc__cmd_name(cmd, tmp, sizeof tmp),
                     (*r)->str);
        bullc__reply_free(*r);
        *r = NULL;
    }
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
