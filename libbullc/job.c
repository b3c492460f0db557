/* job.c - a job decoded from its Redis hash, the getters handlers use, and the outcome they set. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void bullc__job_free(bullc_job_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->nfields * 2; i++)
        free(job->fields[i]);
    free(job->fields);
    free(job->id);
    cJSON_Delete(job->data_json);
    cJSON_Delete(job->opts_json);
    free(job->result);
    free(job->fail_message);
    free(job->data_owned);
    while (job->retired) {
        bullc__retired *r = job->retired;
        job->retired = r->next;
        free(r->text);
        cJSON_Delete(r->json);
        free(r);
    }
    free(job);
}

static long field_long(const bullc_job_t *job, const char *name, long dflt)
{
    const char *v = bullc_job_field(job, name);
    long long n;
    if (!v || bullc__parse_ll(v, strlen(v), &n) != 0 || n < 0 || n > 0x7fffffffL)
        return dflt;
    return (long)n;
}

int bullc__job_from_reply(const bullc__reply *hash, const char *id, size_t idlen,
                          bullc_job_t **out)
{
    *out = NULL;
    if (!hash || hash->type != BULLC__R_ARRAY || hash->elements % 2 != 0 || idlen == 0)
        return BULLC_EBADJOB;
    for (size_t i = 0; i < hash->elements; i++)
        if (hash->element[i]->type != BULLC__R_STRING)
            return BULLC_EBADJOB;
    bullc_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return BULLC_ENOMEM;
    job->nfields = hash->elements / 2;
    if (!(job->id = bullc__strndup(id, idlen)))
        goto oom;
    if (hash->elements && !(job->fields = calloc(hash->elements, sizeof(char *))))
        goto oom;
    for (size_t i = 0; i < hash->elements; i++) {
        const bullc__reply *e = hash->element[i];
        if (!(job->fields[i] = bullc__strndup(e->str, e->len)))
            goto oom;
    }
    job->name = (char *)bullc_job_field(job, "name");
    if (!job->name)
        job->name = "";
    job->data = bullc_job_field(job, "data");
    if (!job->data)
        job->data = "{}";
    job->opts = bullc_job_field(job, "opts");
    if (!job->opts)
        job->opts = "{}";
    /* attemptsMade: `atm`, falling back to the pre-v5 field name as Node does */
    job->atm = field_long(job, "atm", -1);
    if (job->atm < 0)
        job->atm = field_long(job, "attemptsMade", 0);
    job->ats = field_long(job, "ats", 0);
    const char *ts = bullc_job_field(job, "timestamp");
    long long t = 0;
    if (ts)
        bullc__parse_ll(ts, strlen(ts), &t);
    job->timestamp = t;
    *out = job;
    return BULLC_OK;
oom:
    bullc__job_free(job);
    return BULLC_ENOMEM;
}

const char *bullc_job_field(const bullc_job_t *job, const char *field)
{
    if (!job || !field)
        return NULL;
    for (size_t i = 0; i < job->nfields; i++)
        if (strcmp(job->fields[2 * i], field) == 0)
            return job->fields[2 * i + 1];
    return NULL;
}

const char *bullc_job_id(const bullc_job_t *job) { return job ? job->id : NULL; }
const char *bullc_job_name(const bullc_job_t *job) { return job ? job->name : NULL; }
const char *bullc_job_data(const bullc_job_t *job) { return job ? job->data : NULL; }
const char *bullc_job_opts(const bullc_job_t *job) { return job ? job->opts : NULL; }
long bullc_job_attempts_made(const bullc_job_t *job) { return job ? job->atm : 0; }
long bullc_job_attempts_started(const bullc_job_t *job) { return job ? job->ats : 0; }
long long bullc_job_timestamp(const bullc_job_t *job) { return job ? job->timestamp : 0; }

const bullc_json_t *bullc_job_data_json(const bullc_job_t *cjob)
{
    if (!cjob)
        return NULL;
    /* the parsed view is a cache: jobs are always allocated writable, and only the thread that
     * holds the job touches it */
    bullc_job_t *job = (bullc_job_t *)(uintptr_t)cjob;
    if (!job->data_json) {
        char *fixed = bullc__json_fix_surrogates(job->data);
        job->data_json = fixed ? cJSON_Parse(fixed) : NULL;
        free(fixed);
    }
    return (const bullc_json_t *)job->data_json;
}

void *bullc__job_opts_cjson(bullc_job_t *job)
{
    if (!job)
        return NULL;
    if (!job->opts_json) {
        char *fixed = bullc__json_fix_surrogates(job->opts);
        job->opts_json = fixed ? cJSON_Parse(fixed) : NULL;
        free(fixed);
    }
    return job->opts_json;
}

const bullc_json_t *bullc_job_opts_json(const bullc_job_t *job)
{
    return (const bullc_json_t *)bullc__job_opts_cjson((bullc_job_t *)(uintptr_t)job);
}

int bullc_job_set_result(bullc_job_t *job, const char *json)
{
    if (!job || !json)
        return BULLC_EINVAL;
    if (!bullc__json_valid(json))
        return BULLC_EJSON;
    char *copy = bullc__strdup(json);
    if (!copy)
        return BULLC_ENOMEM;
    free(job->result);
    job->result = copy;
    return BULLC_OK;
}

static int set_fail(bullc_job_t *job, const char *message, int unrecoverable)
{
    if (!job)
        return unrecoverable ? BULLC_EUNRECOVERABLE : BULLC_EJOBFAILED;
    free(job->fail_message);
    job->fail_message = bullc__strdup(message ? message : "");
    job->unrecoverable = unrecoverable;
    /* without memory for the message the code's text is used as the reason */
    return unrecoverable ? BULLC_EUNRECOVERABLE : BULLC_EJOBFAILED;
}

int bullc_job_fail(bullc_job_t *job, const char *message) { return set_fail(job, message, 0); }

int bullc_job_fail_unrecoverable(bullc_job_t *job, const char *message)
{
    return set_fail(job, message, 1);
}
