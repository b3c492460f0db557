/* bull_queue.c - the producer half of Bull: adding jobs as Node Bull's Queue.add/addBulk store
 * them (docs/bull.md §3), and reading a job's state, fields and the queue's counts. */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/sized.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int prepare(void *job, const bullc_new_job_t *j, long long now_ms, char *why, size_t n)
{
    return bullc__bull_newjob_prepare(job, j->name, j->data_json, j->opts_json, now_ms, why, n);
}

static void build(bullc__cmd *cmd, const bullc__proto *p, const void *job)
{
    bullc__bull_add_cmd(cmd, p, job, "0");
}

static void release(void *job) { bullc__bull_newjob_free(job); }

int bullc__bull_add(bullc__proto *p, bullc__link *link, const bullc_new_job_t *jobs, size_t n,
                    size_t stride, char **ids, char *err, size_t errlen)
{
    static const bullc__adder adder = {sizeof(bullc__bull_newjob), prepare, build, release};
    return bullc__proto_add(p, link, &adder, jobs, n, stride, ids, err, errlen);
}

/* Runs one command for a read; an error reply becomes BULLC_ESCRIPT with its text. */
static int read_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                     size_t errlen)
{
    return bullc__proto_read(link, cmd, NULL, r, err, errlen);
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
