/* flow.c - calls a parent job's handler makes about its children (flows): wait for them, and
 * read what they returned or why they failed, as Node's Job does. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets the failure reason Node's Job gives for a script's negative reply, so that a handler
 * that returns the code fails the job as the exception would in Node. */
static int script_failure(bullc_job_t *job, long long code, const char *command)
{
    char msg[512];
    int rc, unrecoverable = 0;
    switch (code) {
    case -1:
        rc = BULLC_ENOJOB;
        snprintf(msg, sizeof msg, "Missing key for job %s. %s", job->id, command);
        break;
    case -2:
        rc = BULLC_ELOCKMISSING;
        snprintf(msg, sizeof msg, "Missing lock for job %s. %s", job->id, command);
        break;
    case -3:
        rc = BULLC_ENOTINSTATE;
        snprintf(msg, sizeof msg, "Job %s is not in the active state. %s", job->id, command);
        break;
    case -6:
        rc = BULLC_ELOCKMISMATCH;
        snprintf(msg, sizeof msg, "Lock mismatch for job %s. Cmd %s from active", job->id,
                 command);
        break;
    case -9:
        rc = BULLC_EFAILEDCHILDREN;
        unrecoverable = 1;
        snprintf(msg, sizeof msg,
                 "Cannot complete job %s because it has at least one failed child. %s", job->id,
                 command);
        break;
    default:
        rc = BULLC_EPROTO;
        snprintf(msg, sizeof msg, "Unknown code %lld error for %s. %s", code, job->id, command);
    }
    char *copy = bullc__strdup(msg);
    if (copy) {
        free(job->fail_message);
        job->fail_message = copy;
        job->unrecoverable = unrecoverable;
    }
    return rc;
}

int bullc_job_move_to_waiting_children(bullc_job_t *job)
{
    bullc__hthread *t = bullc__job_thread(job);
    if (!t)
        return BULLC_EINVAL;
    if (job->moved)
        return BULLC_EMISUSE; /* it already left active */
    const bullc__keys *k = &t->w->keys;
    char *job_key = bullc__job_key(k, job->id, NULL);
    char *deps = bullc__job_key(k, job->id, ":dependencies");
    char *failed = bullc__job_key(k, job->id, ":unsuccessful");
    int rc = BULLC_ENOMEM;
    if (!job_key || !deps || !failed)
        goto out;
    const char *keys[7] = {k->k[BULLC__K_ACTIVE],  k->k[BULLC__K_WAITING_CHILDREN], job_key, deps,
                           failed,                 k->k[BULLC__K_STALLED],          k->k[BULLC__K_EVENTS]};
    char now[24];
    snprintf(now, sizeof now, "%lld", bullc__now_ms());
    const char *args[4] = {job->token, "", now, job->id};
    bullc__reply *r = NULL;
    rc = bullc__conn_script(&t->cn, BULLC__S_MOVE_TO_WAITING_CHILDREN, 7, keys, 4, args, NULL, &r);
    if (rc != 0)
        goto out;
    if (r->type != BULLC__R_INTEGER) {
        snprintf(t->cn.errstr, sizeof t->cn.errstr, "moveToWaitingChildren: reply type %d",
                 r->type);
        rc = BULLC_EPROTO;
    } else if (r->integer == 0) {
        job->moved = 1;
        rc = BULLC_EMOVED;
    } else if (r->integer == 1) {
        rc = BULLC_OK; /* no pending children: the handler goes on */
    } else {
        rc = script_failure(job, r->integer, "moveToWaitingChildren");
    }
    bullc__reply_free(r);
out:
    free(job_key);
    free(deps);
    free(failed);
    return rc;
}

/* HGETALL <jobKey><suffix> turned into a JSON object text: values either checked and copied as
 * JSON (values_are_json) or quoted as strings. */
static int hash_as_object(bullc_job_t *job, const char *suffix, int values_are_json,
                          char **json_out)
{
    if (!json_out)
        return BULLC_EINVAL;
    *json_out = NULL;
    bullc__hthread *t = bullc__job_thread(job);
    if (!t)
        return BULLC_EINVAL;
    char *key = bullc__job_key(&t->w->keys, job->id, suffix);
    if (!key)
        return BULLC_ENOMEM;
    const char *argv[2] = {"HGETALL", key};
    bullc__reply *r = NULL;
    int rc = bullc__conn_cmd(&t->cn, 2, argv, NULL, &r);
    free(key);
    if (rc != 0) {
        bullc__reply_free(r);
        return rc;
    }
    bullc__buf b;
    bullc__buf_init(&b);
    rc = BULLC_OK;
    if (r->type != BULLC__R_ARRAY || r->elements % 2 != 0) {
        snprintf(t->cn.errstr, sizeof t->cn.errstr, "HGETALL %s: unexpected reply", suffix);
        rc = BULLC_EPROTO;
        goto out;
    }
    bullc__buf_append(&b, "{", 1);
    for (size_t i = 0; i < r->elements; i += 2) {
        const bullc__reply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != BULLC__R_STRING || v->type != BULLC__R_STRING) {
            rc = BULLC_EPROTO;
            goto out;
        }
        if (values_are_json && (memchr(v->str, '\0', v->len) || !bullc__json_valid(v->str))) {
            snprintf(t->cn.errstr, sizeof t->cn.errstr,
                     "the value stored for child %.200s is not valid JSON", f->str);
            rc = BULLC_EJSON;
            goto out;
        }
        if (i)
            bullc__buf_append(&b, ",", 1);
        bullc__json_append_string(&b, f->str, f->len);
        bullc__buf_append(&b, ":", 1);
        if (values_are_json)
            bullc__buf_append(&b, v->str, v->len);
        else
            bullc__json_append_string(&b, v->str, v->len);
    }
    bullc__buf_append(&b, "}", 1);
    if (!(*json_out = bullc__buf_take(&b)))
        rc = BULLC_ENOMEM;
out:
    bullc__buf_free(&b);
    bullc__reply_free(r);
    return rc;
}

int bullc_job_children_values(bullc_job_t *job, char **json_out)
{
    return hash_as_object(job, ":processed", 1, json_out);
}

int bullc_job_ignored_children_failures(bullc_job_t *job, char **json_out)
{
    return hash_as_object(job, ":failed", 0, json_out);
}
