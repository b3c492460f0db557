/* bull_queue.c - the producer half of Bull: adding jobs as Node Bull's Queue.add/addBulk store
 * them (docs/bull.md §3), and reading a job's state, fields and the queue's counts. */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/json.h"
#include "util/sized.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The checked options object (NULL text: {}). */
static int parse_opts(const char *opts_json, cJSON **out, char *err, size_t errlen)
{
    *out = opts_json ? bullc__json_parse(opts_json) : cJSON_CreateObject();
    if (!*out) {
        snprintf(err, errlen, opts_json ? "opts are not valid JSON" : "out of memory");
        return opts_json ? BULLC_EJSON : BULLC_ENOMEM;
    }
    if (!cJSON_IsObject(*out)) {
        snprintf(err, errlen, "opts must be a JSON object");
        return BULLC_EINVAL;
    }
    return 0;
}

/* The job's id becomes "<jobId or uuid>:<group>" first when the queue has a limiter group key
 * (docs/bull.md §4.11), as Node's Queue.add does before anything else. */
static int prepare_grouped(bullc__bull_newjob *job, const char *name, const char *data_json,
                           const char *opts_json, const char *group_key, long long now_ms,
                           char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    cJSON *o = NULL;
    int rc = parse_opts(opts_json, &o, err, errlen);
    if (rc == 0 && group_key && (rc = bullc__bull_group_id(o, data_json, group_key)) != 0)
        snprintf(err, errlen, rc == BULLC_EJSON ? "data is not valid JSON" : "out of memory");
    const cJSON *rep = rc == 0 ? cJSON_GetObjectItemCaseSensitive(o, "repeat") : NULL;
    if (rc == 0 && cJSON_IsObject(rep)) {
        /* Queue.add of a repeatable job adds its first iteration */
        rc = bullc__bull_repeat_next(job, name, data_json, o, now_ms, err, errlen);
        if (rc == 0) {
            snprintf(err, errlen, "repeat: the series ends before its first iteration");
            rc = BULLC_EINVAL;
        }
        rc = rc == 1 ? 0 : rc;
    } else if (rc == 0 && rep && !cJSON_IsNull(rep)) {
        snprintf(err, errlen, "repeat must be an object");
        rc = BULLC_EINVAL;
    } else if (rc == 0) {
        rc = bullc__bull_newjob_from(job, name, data_json, o, now_ms, err, errlen);
    }
    cJSON_Delete(o);
    return rc;
}

int bullc__bull_newjob_prepare(bullc__bull_newjob *job, const char *name, const char *data_json,
                               const char *opts_json, long long now_ms, char *err, size_t errlen)
{
    return prepare_grouped(job, name, data_json, opts_json, NULL, now_ms, err, errlen);
}

static int prepare(const bullc__proto *p, void *job, const bullc_new_job_t *j, long long now_ms,
                   char *why, size_t n)
{
    return prepare_grouped(job, j->name, j->data_json, j->opts_json, p->group_key, now_ms, why,
                           n);
}

int bullc__bull_set_group_key(bullc__proto *p, const char *key)
{
    char *copy = key && *key ? bullc__strdup(key) : NULL;
    if (key && *key && !copy)
        return BULLC_ENOMEM;
    free(p->group_key);
    p->group_key = copy;
    return 0;
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
