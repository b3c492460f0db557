/* job.c - a decoded job: the getters handlers use, the outcome they set, and its memory (its
 * id and fields in one block). */
#include "job/job.h"
#include "util/json.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void bullc__job_free(bullc_job_t *job)
{
    if (!job)
        return;
    free(job->block);
    cJSON_Delete(job->data_json);
    cJSON_Delete(job->opts_json);
    free(job->result);
    free(job->fail_message);
    free(job->timeout_reason);
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

static long long field_ll(const bullc_job_t *job, const char *name, long long dflt)
{
    const char *v = bullc_job_field(job, name);
    long long n;
    if (!v || bullc__parse_ll(v, strlen(v), &n) != 0)
        return dflt;
    return n;
}

/* Bytes a job needs for its id and fields: the pointer array, then the strings. */
static size_t block_size(const bullc__reply *hash, size_t idlen)
{
    size_t n = hash->elements * sizeof(char *) + idlen + 1;
    for (size_t i = 0; i < hash->elements; i++)
        n += hash->element[i]->len + 1;
    return n;
}

int bullc__job_from_hash(const bullc__reply *hash, const char *id, size_t idlen,
                         bullc_job_t **out)
{
    *out = NULL;
    if (!hash || hash->type != BULLC__R_ARRAY || hash->elements % 2 != 0 || idlen == 0)
        return BULLC_EBADJOB;
    for (size_t i = 0; i < hash->elements; i++)
        if (!hash->element[i] || hash->element[i]->type != BULLC__R_STRING)
            return BULLC_EBADJOB;
    bullc_job_t *job = calloc(1, sizeof *job);
    char *block = job ? malloc(block_size(hash, idlen)) : NULL;
    if (!block) {
        free(job);
        return BULLC_ENOMEM;
    }
    /* one block: the field pointers, the id, then every field and value, each NUL-terminated */
    job->block = block;
    job->fields = (const char **)(void *)block;
    job->nfields = hash->elements / 2;
    char *p = block + hash->elements * sizeof(char *);
    memcpy(p, id, idlen);
    p[idlen] = '\0';
    job->id = p;
    p += idlen + 1;
    for (size_t i = 0; i < hash->elements; i++) {
        const bullc__reply *e = hash->element[i];
        memcpy(p, e->str, e->len + 1);
        job->fields[i] = p;
        p += e->len + 1;
    }
    job->name = bullc_job_field(job, "name");
    job->data = bullc_job_field(job, "data");
    job->opts = bullc_job_field(job, "opts");
    if (!job->name)
        job->name = "";
    if (!job->data)
        job->data = "{}";
    if (!job->opts)
        job->opts = "{}";
    job->timestamp = field_ll(job, "timestamp", 0);
    *out = job;
    return BULLC_OK;
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
    if (!job->data_json)
        job->data_json = bullc__json_parse(job->data);
    return (const bullc_json_t *)job->data_json;
}

void *bullc__job_opts_cjson(bullc_job_t *job)
{
    if (!job)
        return NULL;
    if (!job->opts_json)
        job->opts_json = bullc__json_parse(job->opts);
    return job->opts_json;
}

const bullc_json_t *bullc_job_opts_json(const bullc_job_t *job)
{
    return (const bullc_json_t *)bullc__job_opts_cjson((bullc_job_t *)(uintptr_t)job);
}

int bullc__job_swap_data(bullc_job_t *job, char *copy)
{
    bullc__retired *slot = malloc(sizeof *slot);
    if (!slot) {
        free(copy);
        return BULLC_ENOMEM;
    }
    /* the old text (when the job owned it) and parsed view stay valid for the rest of the
     * handler; text borrowed from the reply lives as long as the job anyway */
    slot->text = job->data_owned;
    slot->json = job->data_json;
    slot->next = job->retired;
    job->retired = slot;
    job->data_owned = copy;
    job->data_json = NULL;
    job->data = copy;
    for (size_t i = 0; i < job->nfields; i++)
        if (strcmp(job->fields[2 * i], "data") == 0)
            job->fields[2 * i + 1] = copy;
    return BULLC_OK;
}

void bullc__job_set_failure(bullc_job_t *job, const char *reason, int unrecoverable)
{
    char *copy = bullc__strdup(reason ? reason : "");
    if (copy) {
        free(job->fail_message);
        job->fail_message = copy;
    }
    job->unrecoverable = unrecoverable;
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
    /* without memory for the message the code's text is used as the reason */
    if (job) {
        free(job->fail_message);
        job->fail_message = bullc__strdup(message ? message : "");
        job->unrecoverable = unrecoverable;
    }
    return unrecoverable ? BULLC_EUNRECOVERABLE : BULLC_EJOBFAILED;
}

int bullc_job_fail(bullc_job_t *job, const char *message) { return set_fail(job, message, 0); }

int bullc_job_fail_unrecoverable(bullc_job_t *job, const char *message)
{
    return set_fail(job, message, 1);
}

long bullc__job_counter(const bullc_job_t *job, const char *field, long dflt)
{
    const char *v = bullc_job_field(job, field);
    long long n;
    if (!v || bullc__parse_ll(v, strlen(v), &n) != 0 || n < 0 || n > 0x7fffffffL)
        return dflt;
    return (long)n;
}
