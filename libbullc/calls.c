/* calls.c - what a handler may do to its running job: report progress, add log lines, replace
 * the data, move the job to delayed, signal a rate limit. Each call runs one script on the
 * handler thread's own connection and writes what Node's Job/Worker methods write. */
#include "worker.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a script whose reply is an integer; *out gets it. A negative reply is one of BullMQ's
 * error codes and comes back as its BULLC_E* code. */
static int int_script(bullc__hthread *t, bullc__script_id sid, int nkeys, const char **keys,
                      int nargs, const char **args, const size_t *lens, long long *out)
{
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&t->cn, sid, nkeys, keys, nargs, args, lens, &r);
    if (rc != 0) {
        bullc__log(&t->w->log, BULLC_LOG_WARN, "%s: %s failed: %s (%s)", t->label,
                   bullc__scripts[sid].name, bullc_strerror(rc), t->cn.errstr);
        return rc;
    }
    if (r->type != BULLC__R_INTEGER) {
        bullc__reply_free(r);
        return BULLC_EPROTO;
    }
    *out = r->integer;
    bullc__reply_free(r);
    return *out < 0 ? bullc__script_code(*out) : 0;
}

int bullc_job_update_progress(bullc_job_t *job, const char *json)
{
    bullc__hthread *t = bullc__job_thread(job);
    if (!t || !json)
        return t ? BULLC_EINVAL : BULLC_EMISUSE;
    if (!bullc__json_valid(json))
        return BULLC_EJSON;
    bullc_worker_t *w = t->w;
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    const char *keys[3] = {job_key, w->keys.k[BULLC__K_EVENTS], w->keys.k[BULLC__K_META]};
    const char *args[2] = {job->id, json};
    long long code = 0;
    int rc = int_script(t, BULLC__S_UPDATE_PROGRESS, 3, keys, 2, args, NULL, &code);
    free(job_key);
    return rc;
}

int bullc_job_log(bullc_job_t *job, const char *text)
{
    bullc__hthread *t = bullc__job_thread(job);
    if (!t || !text)
        return t ? BULLC_EINVAL : BULLC_EMISUSE;
    bullc_worker_t *w = t->w;
    /* keepLogs as Node sends it: the option when it is a non-zero number, else "" */
    char keep[32] = "";
    const cJSON *o = bullc__job_opts_cjson(job);
    /* stored under its compact alias `kl` (the public name is accepted too) */
    const cJSON *k = o ? cJSON_GetObjectItemCaseSensitive(o, "kl") : NULL;
    if (!k && o)
        k = cJSON_GetObjectItemCaseSensitive(o, "keepLogs");
    if (cJSON_IsNumber(k) && k->valuedouble != 0 && isfinite(k->valuedouble) &&
        k->valuedouble == floor(k->valuedouble) && fabs(k->valuedouble) < 9e15)
        snprintf(keep, sizeof keep, "%lld", (long long)k->valuedouble);
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    char *logs_key = bullc__job_key(&w->keys, job->id, ":logs");
    int rc = BULLC_ENOMEM;
    if (job_key && logs_key) {
        const char *keys[2] = {job_key, logs_key};
        const char *args[3] = {job->id, text, keep};
        long long code = 0;
        rc = int_script(t, BULLC__S_ADD_LOG, 2, keys, 3, args, NULL, &code);
    }
    free(job_key);
    free(logs_key);
    return rc;
}

int bullc_job_update_data(bullc_job_t *job, const char *json)
{
    bullc__hthread *t = bullc__job_thread(job);
    if (!t || !json)
        return t ? BULLC_EINVAL : BULLC_EMISUSE;
    if (!bullc__json_valid(json))
        return BULLC_EJSON;
    bullc_worker_t *w = t->w;
    /* allocate everything first so that a success in Redis is always mirrored here */
    char *copy = bullc__strdup(json);
    bullc__retired *slot = malloc(sizeof *slot);
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    if (!copy || !slot || !job_key) {
        free(copy);
        free(slot);
        free(job_key);
        return BULLC_ENOMEM;
    }
    const char *keys[1] = {job_key};
    const char *args[1] = {json};
    long long code = 0;
    int rc = int_script(t, BULLC__S_UPDATE_DATA, 1, keys, 1, args, NULL, &code);
    free(job_key);
    if (rc != 0) {
        free(copy);
        free(slot);
        return rc;
    }
    /* the old text and parsed view stay valid for the rest of the handler */
    slot->text = NULL;
    slot->json = job->data_json;
    job->data_json = NULL;
    char **field = NULL;
    for (size_t i = 0; i < job->nfields; i++)
        if (strcmp(job->fields[2 * i], "data") == 0)
            field = &job->fields[2 * i + 1];
    if (field) {
        slot->text = *field;
        *field = copy;
    } else {
        slot->text = job->data_owned;
        job->data_owned = copy;
    }
    job->data = copy;
    slot->next = job->retired;
    job->retired = slot;
    return 0;
}

int bullc_job_move_to_delayed(bullc_job_t *job, long long timestamp_ms)
{
    bullc__hthread *t = bullc__job_thread(job);
    if (!t)
        return BULLC_EMISUSE;
    if (job->moved)
        return BULLC_EMISUSE;
    bullc_worker_t *w = t->w;
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    /* as Node: the delay is counted from now, and never negative */
    long long now = bullc__now_ms();
    long long delay = timestamp_ms > now ? timestamp_ms - now : 0; /* no overflow for LLONG_MIN */
    char snow[24], sdelay[24];
    snprintf(snow, sizeof snow, "%lld", now);
    snprintf(sdelay, sizeof sdelay, "%lld", delay);
    const char *keys[11] = {
        w->keys.k[BULLC__K_MARKER],  w->keys.k[BULLC__K_ACTIVE], w->keys.k[BULLC__K_PRIORITIZED],
        w->keys.k[BULLC__K_DELAYED], job_key,                    w->keys.k[BULLC__K_EVENTS],
        w->keys.k[BULLC__K_META],    w->keys.k[BULLC__K_STALLED], w->keys.k[BULLC__K_WAIT],
        w->keys.k[BULLC__K_LIMITER], w->keys.k[BULLC__K_PC]};
    const char *args[9] = {w->keys.base, snow, job->id, job->token, sdelay, "1", "", "0", ""};
    long long code = 0;
    int rc = int_script(t, BULLC__S_MOVE_TO_DELAYED, 11, keys, 9, args, NULL, &code);
    free(job_key);
    if (rc != 0)
        return rc;
    job->moved = 1;
    bullc__slot_set(t, NULL, NULL);
    return BULLC_EMOVED;
}

int bullc_job_rate_limit(bullc_job_t *job, long long delay_ms)
{
    bullc__hthread *t = bullc__job_thread(job);
    if (!t)
        return BULLC_EMISUSE;
    if (delay_ms <= 0)
        return BULLC_EINVAL;
    if (job->moved)
        return BULLC_EMISUSE;
    bullc_worker_t *w = t->w;
    /* Node's worker.rateLimit(ms): the limiter counter set to its maximum for ms */
    char px[24];
    snprintf(px, sizeof px, "%lld", delay_ms);
    const char *argv[5] = {"SET", w->keys.k[BULLC__K_LIMITER], "9007199254740991", "PX", px};
    bullc__reply *r = NULL;
    int rc = bullc__conn_cmd(&t->cn, 5, argv, NULL, &r);
    bullc__reply_free(r);
    if (rc != 0) {
        bullc__log(&w->log, BULLC_LOG_WARN, "%s: cannot set the rate limit: %s (%s)", t->label,
                   bullc_strerror(rc), t->cn.errstr);
        return rc;
    }
    /* then the job goes back to wait without counting an attempt (RateLimitError) */
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    const char *keys[9] = {w->keys.k[BULLC__K_ACTIVE],  w->keys.k[BULLC__K_WAIT],
                           w->keys.k[BULLC__K_STALLED], w->keys.k[BULLC__K_PAUSED],
                           w->keys.k[BULLC__K_META],    w->keys.k[BULLC__K_LIMITER],
                           w->keys.k[BULLC__K_PRIORITIZED], w->keys.k[BULLC__K_MARKER],
                           w->keys.k[BULLC__K_EVENTS]};
    const char *args[3] = {job->id, job->token, job_key};
    long long ttl = 0;
    rc = int_script(t, BULLC__S_MOVE_TO_WAIT, 9, keys, 3, args, NULL, &ttl);
    free(job_key);
    if (rc != 0)
        return rc;
    job->moved = 1;
    bullc__slot_set(t, NULL, NULL);
    bullc__worker_note_limit(w, ttl);
    return BULLC_ERATELIMITED;
}
