/* bmq_flow.c - calls a parent job's handler makes about its children: wait for them, and read
 * what they returned or why they failed, as Node's Job does (docs/bullmq.md §4.12, §8.1). */
#include "bullmq.h"
#include "util/json.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets the failure reason Node's Job gives for a script's negative reply, so that a handler
 * that returns the code fails the job as the exception would in Node. */
static int script_failure(bullc_job_t *job, int rc, long long code, const char *command)
{
    char msg[512];
    switch (rc) {
    case BULLC_ENOJOB:
        snprintf(msg, sizeof msg, "Missing key for job %s. %s", job->id, command);
        break;
    case BULLC_ELOCKMISSING:
        snprintf(msg, sizeof msg, "Missing lock for job %s. %s", job->id, command);
        break;
    case BULLC_ENOTINSTATE:
        snprintf(msg, sizeof msg, "Job %s is not in the active state. %s", job->id, command);
        break;
    case BULLC_ELOCKMISMATCH:
        snprintf(msg, sizeof msg, "Lock mismatch for job %s. Cmd %s from active", job->id,
                 command);
        break;
    case BULLC_EFAILEDCHILDREN:
        snprintf(msg, sizeof msg,
                 "Cannot complete job %s because it has at least one failed child. %s", job->id,
                 command);
        break;
    default:
        snprintf(msg, sizeof msg, "Unknown code %lld error for %s. %s", code, job->id, command);
        rc = BULLC_EPROTO;
    }
    bullc__job_set_failure(job, msg, rc == BULLC_EFAILEDCHILDREN);
    return rc;
}

int bullc__bmq_wait_children(bullc__proto *p, bullc__link *link, bullc_job_t *job)
{
    char *job_key = bullc__bmq_job_key(&p->keys, job->id, NULL);
    char *deps = bullc__bmq_job_key(&p->keys, job->id, ":dependencies");
    char *failed = bullc__bmq_job_key(&p->keys, job->id, ":unsuccessful");
    int rc = BULLC_ENOMEM;
    if (job_key && deps && failed) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bmq_moveToWaitingChildren(&cmd, &p->keys, job_key, deps, failed, job->token, "",
                                         bullc__now_ms(), job->id);
        long long code = 0;
        rc = bullc__bmq_int_call(p, link, &cmd, &code);
        if (rc == 0)
            rc = code == 0 ? BULLC_EMOVED : code == 1 ? BULLC_OK : BULLC_EPROTO;
        else if (code < 0)
            rc = script_failure(job, rc, code, "moveToWaitingChildren");
    }
    free(job_key);
    free(deps);
    free(failed);
    return rc;
}

/* A hash's field/value pairs as a JSON object text: values copied as JSON (values_are_json,
 * each checked) or quoted as strings. */
static int pairs_as_object(const bullc__reply *r, int values_are_json, char **json_out,
                           char *err, size_t errlen)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_append(&b, "{", 1);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const bullc__reply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != BULLC__R_STRING || v->type != BULLC__R_STRING) {
            bullc__buf_free(&b);
            return BULLC_EPROTO;
        }
        if (values_are_json && (memchr(v->str, '\0', v->len) || !bullc__json_valid(v->str))) {
            snprintf(err, errlen, "the value stored for child %.200s is not valid JSON", f->str);
            bullc__buf_free(&b);
            return BULLC_EJSON;
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
    return (*json_out = bullc__buf_take(&b)) ? BULLC_OK : BULLC_ENOMEM;
}

/* HGETALL <jobKey><suffix> as a JSON object text. */
static int hash_as_object(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                          const char *suffix, int values_are_json, char **json_out)
{
    char *key = bullc__bmq_job_key(&p->keys, job->id, suffix);
    if (!key)
        return BULLC_ENOMEM;
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 2, "HGETALL", key);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : bullc__link_call(link, &cmd, &r, err, sizeof err);
    if (rc == 0 && (r->type != BULLC__R_ARRAY || r->elements % 2 != 0)) {
        snprintf(err, sizeof err, "HGETALL %s: unexpected reply", suffix);
        rc = BULLC_EPROTO;
    }
    if (rc == 0)
        rc = pairs_as_object(r, values_are_json, json_out, err, sizeof err);
    if (rc != 0)
        bullc__log(&p->log, BULLC_LOG_WARN, "job %s: children%s: %s (%s)", job->id, suffix,
                   bullc_strerror(rc), err);
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    free(key);
    return rc;
}

int bullc__bmq_children_values(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                               char **json)
{
    return hash_as_object(p, link, job, ":processed", 1, json);
}

int bullc__bmq_ignored_failures(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                                char **json)
{
    return hash_as_object(p, link, job, ":failed", 0, json);
}
