/* bmq_calls.c - what a handler may do to its running job: report progress, add log lines,
 * replace the data, move the job to delayed, signal a rate limit (docs/bullmq.md §4.11-4.15,
 * §5.9). Each runs one script and writes what Node's Job/Worker methods write. */
#include "bullmq.h"
#include "proto/shared/shared.h"
#include "util/json.h"
#include "util/time.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bullc__bmq_int_call(bullc__proto *p, bullc__link *link, bullc__cmd *cmd, long long *out)
{
    int rc = bullc__proto_int_call(&p->log, link, cmd, out);
    return rc == 0 && *out < 0 ? bullc__bmq_code(*out) : rc;
}

int bullc__bmq_update_progress(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                               const char *json)
{
    char *job_key = bullc__bmq_job_key(&p->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_updateProgress(&cmd, &p->keys, job_key, job->id, json);
    long long code = 0;
    int rc = bullc__bmq_int_call(p, link, &cmd, &code);
    free(job_key);
    return rc;
}

/* keepLogs as Node sends it: the option (stored under its short name `kl`; the public name is
 * accepted too) when it is a non-zero integer, else "". */
static void keep_logs(bullc_job_t *job, char *keep, size_t n)
{
    const cJSON *o = bullc__job_opts_cjson(job);
    const cJSON *k = o ? cJSON_GetObjectItemCaseSensitive(o, "kl") : NULL;
    if (!k && o)
        k = cJSON_GetObjectItemCaseSensitive(o, "keepLogs");
    keep[0] = '\0';
    if (cJSON_IsNumber(k) && k->valuedouble != 0 && isfinite(k->valuedouble) &&
        k->valuedouble == floor(k->valuedouble) && fabs(k->valuedouble) < 9e15)
        snprintf(keep, n, "%lld", (long long)k->valuedouble);
}

int bullc__bmq_add_log(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *text)
{
    char keep[32];
    keep_logs(job, keep, sizeof keep);
    char *job_key = bullc__bmq_job_key(&p->keys, job->id, NULL);
    char *logs_key = bullc__bmq_job_key(&p->keys, job->id, ":logs");
    int rc = BULLC_ENOMEM;
    if (job_key && logs_key) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bmq_addLog(&cmd, job_key, logs_key, job->id, text, keep);
        long long lines = 0;
        rc = bullc__bmq_int_call(p, link, &cmd, &lines);
    }
    free(job_key);
    free(logs_key);
    return rc;
}

int bullc__bmq_update_data(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                           const char *json)
{
    /* copy first, so that a success in Redis is always mirrored in the job */
    char *copy = bullc__strdup(json);
    char *job_key = bullc__bmq_job_key(&p->keys, job->id, NULL);
    int rc = BULLC_ENOMEM;
    if (copy && job_key) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bmq_updateData(&cmd, job_key, json);
        long long code = 0;
        rc = bullc__bmq_int_call(p, link, &cmd, &code);
    }
    free(job_key);
    if (rc != 0) {
        free(copy);
        return rc;
    }
    return bullc__job_swap_data(job, copy);
}

int bullc__bmq_move_to_delayed(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                               long long ts_ms)
{
    char *job_key = bullc__bmq_job_key(&p->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    /* as Node: the delay is counted from now, and never negative */
    long long now = bullc__now_ms();
    long long delay = ts_ms > now ? ts_ms - now : 0; /* no overflow for LLONG_MIN */
    char sdelay[24];
    snprintf(sdelay, sizeof sdelay, "%lld", delay);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_moveToDelayed(&cmd, &p->keys, job_key, now, job->id, job->token, sdelay, "1", "",
                             0, "0", "", 0);
    long long code = 0;
    int rc = bullc__bmq_int_call(p, link, &cmd, &code);
    free(job_key);
    return rc == 0 ? BULLC_EMOVED : rc;
}

/* Node's worker.rateLimit(ms): the limiter counter set to its maximum for ms; then the job goes
 * back to wait without counting an attempt (RateLimitError). */
int bullc__bmq_rate_limit(bullc__proto *p, bullc__link *link, bullc_job_t *job, long long ms,
                          long long *limit_ms)
{
    char px[24];
    snprintf(px, sizeof px, "%lld", ms);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 5, "SET", p->keys.k[BULLC__BMQ_Q_LIMITER], "9007199254740991", "PX", px);
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : bullc__link_call(link, &cmd, &r, err, sizeof err);
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(err, sizeof err, "%s", r->str);
        rc = BULLC_ESCRIPT;
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    if (rc != 0) {
        bullc__log(&p->log, BULLC_LOG_WARN, "cannot set the rate limit: %s (%s)",
                   bullc_strerror(rc), err);
        return rc;
    }
    char *job_key = bullc__bmq_job_key(&p->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    bullc__cmd_init(&cmd);
    bullc__bmq_moveJobFromActiveToWait(&cmd, &p->keys, job->id, job->token, job_key);
    *limit_ms = 0;
    rc = bullc__bmq_int_call(p, link, &cmd, limit_ms);
    free(job_key);
    return rc == 0 ? BULLC_ERATELIMITED : rc;
}
