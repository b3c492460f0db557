/* bull_queue.c - the producer half of Bull: adding jobs as Node Bull's Queue.add/addBulk store
 * them (docs/bull.md §3), and reading a job's state, fields and the queue's counts. */
#include "bull.h"
#include "util/sized.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The job id from an addJob reply. */
static int add_reply(const bullc__reply *r, size_t i, size_t n, char **id, char *err,
                     size_t errlen)
{
    char where[32] = "";
    if (n > 1)
        snprintf(where, sizeof where, "job %zu: ", i);
    if (r->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%saddJob: %s", where, r->str);
        return BULLC_ESCRIPT;
    }
    if (r->type != BULLC__R_STRING || r->len == 0) {
        snprintf(err, errlen, "%saddJob: unexpected reply", where);
        return BULLC_EPROTO;
    }
    if (id && !(*id = bullc__strndup(r->str, r->len))) {
        snprintf(err, errlen, "out of memory");
        return BULLC_ENOMEM;
    }
    return 0;
}

/* Sends the addJob calls of n prepared jobs as one pipeline; ids[i] gets job i's id. */
static int add_prepared(bullc__proto *p, bullc__link *link, const bullc__bull_newjob *jobs,
                        size_t n, char **ids, char *err, size_t errlen)
{
    bullc__cmd *cmds = calloc(n, sizeof *cmds);
    bullc__cmd **ptrs = calloc(n, sizeof *ptrs);
    bullc__reply **replies = calloc(n, sizeof *replies);
    int rc = cmds && ptrs && replies ? 0 : BULLC_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        bullc__cmd_init(&cmds[i]);
        bullc__bull_add_cmd(&cmds[i], p, &jobs[i], "0");
        ptrs[i] = &cmds[i];
        if (bullc__cmd_oom(&cmds[i]))
            rc = BULLC_ENOMEM;
    }
    if (rc == BULLC_ENOMEM)
        snprintf(err, errlen, "out of memory");
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

int bullc__bull_add(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
                    size_t stride, char **ids, char *err, size_t errlen)
{
    bullc__bull_newjob *prep = calloc(n, sizeof *prep);
    if (!prep) {
        snprintf(err, errlen, "out of memory");
        return BULLC_ENOMEM;
    }
    int rc = 0;
    long long now = bullc__now_ms();
    for (size_t i = 0; i < n && !rc; i++) {
        bullc_new_job_t j = {0};
        char why[400] = "a field this library does not know is set";
        rc = bullc__sized_read(&j, sizeof j, (const char *)jobs + i * stride, stride) != 0
                 ? BULLC_EINVAL
                 : bullc__bull_newjob_prepare(&prep[i], j.name, j.data_json, j.opts_json, now,
                                              why, sizeof why);
        if (rc && n > 1)
            snprintf(err, errlen, "job %zu: %s", i, why);
        else if (rc)
            snprintf(err, errlen, "%s", why);
    }
    if (!rc)
        rc = add_prepared(p, link, prep, n, ids, err, errlen);
    if (rc && ids)
        for (size_t i = 0; i < n; i++) {
            free(ids[i]);
            ids[i] = NULL;
        }
    for (size_t i = 0; i < n; i++)
        bullc__bull_newjob_free(&prep[i]);
    free(prep);
    return rc;
}

/* Runs one command for a read; an error reply becomes BULLC_ESCRIPT with its text. */
static int read_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                     size_t errlen)
{
    int rc = bullc__cmd_oom(cmd) ? BULLC_ENOMEM : bullc__link_call(link, cmd, r, err, errlen);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%s", (*r)->str);
        bullc__reply_free(*r);
        *r = NULL;
        rc = BULLC_ESCRIPT;
    }
    return rc;
}

int bullc__bull_get_state(bullc__proto *p, bullc__link *link, const char *id,
                          const char **state, char *err, size_t errlen)
{
    static const char *const names[] = {"completed", "failed", "delayed", "active",
                                        "waiting",   "paused", "stuck",   "unknown"};
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_getState(&cmd, &p->keys, id);
    bullc__reply *r = NULL;
    int rc = read_call(link, &cmd, &r, err, errlen);
    bullc__cmd_free(&cmd);
    if (rc == 0) {
        rc = BULLC_EPROTO;
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (r->type == BULLC__R_STRING && strcmp(r->str, names[i]) == 0) {
                *state = names[i];
                rc = 0;
            }
    }
    bullc__reply_free(r);
    return rc;
}

int bullc__bull_get_job_field(bullc__proto *p, bullc__link *link, const char *id,
                              const char *field, char **value, char *err, size_t errlen)
{
    char *key = bullc__bull_job_key(&p->keys, id);
    if (!key)
        return BULLC_ENOMEM;
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 3, "HMGET", key, field);
    bullc__cmd_str(&cmd, "name"); /* present in every job hash: tells a missing job apart */
    bullc__reply *r = NULL;
    int rc = read_call(link, &cmd, &r, err, errlen);
    if (rc == 0 && (r->type != BULLC__R_ARRAY || r->elements != 2))
        rc = BULLC_EPROTO;
    else if (rc == 0 && r->element[1]->type != BULLC__R_STRING)
        rc = BULLC_ENOJOB;
    else if (rc == 0 && r->element[0]->type == BULLC__R_STRING &&
             !(*value = bullc__strndup(r->element[0]->str, r->element[0]->len)))
        rc = BULLC_ENOMEM;
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    free(key);
    return rc;
}

int bullc__bull_get_counts(bullc__proto *p, bullc__link *link, bullc_job_counts_t *out,
                           size_t size, char *err, size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_getCounts(&cmd, &p->keys);
    bullc__reply *r = NULL;
    int rc = read_call(link, &cmd, &r, err, errlen);
    bullc__cmd_free(&cmd);
    if (rc == 0 && (r->type != BULLC__R_ARRAY || r->elements != 6))
        rc = BULLC_EPROTO;
    long long v[6] = {0};
    for (size_t i = 0; rc == 0 && i < 6; i++)
        if (bullc__reply_ll(r->element[i], &v[i]) != 0)
            rc = BULLC_EPROTO;
    bullc__reply_free(r);
    if (rc != 0)
        return rc;
    bullc_job_counts_t c = {0};
    c.waiting = v[0];
    c.active = v[1];
    c.delayed = v[2];
    c.completed = v[3];
    c.failed = v[4];
    c.paused = v[5];
    bullc__sized_write(out, size, &c, sizeof c);
    return 0;
}
