/* bull_repeat.c - repeatable jobs: before a taken job with `opts.repeat` runs, the worker adds
 * its next iteration, as Node Bull's workers do (docs/bull.md §4.9). Without this a C worker
 * would end every schedule a Node producer made. */
#include "bull.h"
#include "util/cron.h"
#include "util/js.h"
#include "util/time.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one iteration needs, read from the taken job's opts. */
typedef struct plan {
    const cJSON *opts, *repeat;
    double count;           /* this iteration's number */
    double next_ms;         /* when it runs */
    char *key;              /* the repeat zset member */
    char id[128];           /* repeat:<md5>:<next> */
    char job_id_part[256];  /* "<repeat.jobId>:" or ":" */
    int set_job_id;         /* repeat.jobId is copied from opts.jobId (first iteration) */
} plan;

static const cJSON *member(const cJSON *o, const char *k)
{
    return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static int md5_hex(const char *s, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(s, strlen(s), md, &n, EVP_md5(), NULL) != 1 || n != 16)
        return BULLC_ENOMEM;
    for (unsigned i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* A JS number's text appended to b. */
static void num(bullc__buf *b, double d) { bullc__js_number(b, d); }

/* A date option as epoch ms: numbers only (strings are not parsed yet). */
static int date_ms(const cJSON *v, double *ms)
{
    if (!cJSON_IsNumber(v))
        return BULLC_EINVAL;
    *ms = trunc(v->valuedouble);
    return 0;
}

/* The next run after base_ms of a cron repeat, as cron-parser computes it; 0 when none. */
static int cron_next(const cJSON *rep, double base_ms, double *next, char *why, size_t n)
{
    const cJSON *tz = member(rep, "tz"), *sd = member(rep, "startDate");
    const cJSON *ed = member(rep, "endDate");
    double start = 0, end = 0;
    if ((sd && date_ms(sd, &start)) || (ed && date_ms(ed, &end))) {
        snprintf(why, n, "startDate/endDate given as text are not supported yet");
        return BULLC_EINVAL;
    }
    const char *zone = cJSON_IsString(tz) && *tz->valuestring       ? tz->valuestring
                       : cJSON_IsTrue(member(rep, "utc")) ? "UTC" : NULL;
    bullc__tz *z = NULL;
    bullc__cron *cr = NULL;
    bullc__cron_iter *it = NULL;
    long long cur = (long long)(sd && start > base_ms ? start : base_ms), sl = (long long)start,
              el = (long long)end, out = 0;
    int rc = bullc__tz_load(zone, &z, why, n);
    if (rc == 0)
        rc = bullc__cron_parse(member(rep, "cron")->valuestring, 0, NULL, &cr, why, n);
    if (rc == 0)
        rc = bullc__cron_iter_new(cr, z, cur, sd ? &sl : NULL, ed ? &el : NULL, &it);
    *next = 0;
    if (rc == 0 && bullc__cron_iter_next(it, &out, why, n) == 0)
        *next = (double)out; /* a throwing next() ends the series, as in Node */
    bullc__cron_iter_free(it);
    bullc__cron_free(cr);
    bullc__tz_free(z);
    return rc;
}

/* The iteration's time; 1 when the series goes on, 0 when it ended, <0 on a bad option. */
static int next_run(plan *pl, double now, char *why, size_t n)
{
    const cJSON *rep = pl->repeat, *limit = member(rep, "limit"), *end = member(rep, "endDate");
    const cJSON *every = member(rep, "every"), *cron = member(rep, "cron");
    const cJSON *cnt = member(rep, "count"), *prev = member(pl->opts, "prevMillis");
    pl->count = cJSON_IsNumber(cnt) && cnt->valuedouble != 0 ? cnt->valuedouble + 1 : 1;
    if (limit && pl->count > (cJSON_IsNumber(limit) ? limit->valuedouble : 0))
        return 0;
    double end_ms = 0;
    if (end && date_ms(end, &end_ms) != 0) {
        snprintf(why, n, "endDate given as text is not supported yet");
        return BULLC_EINVAL;
    }
    if (end && now > end_ms)
        return 0;
    double base = cJSON_IsNumber(prev) && prev->valuedouble > now ? prev->valuedouble : now;
    int has_every = bullc__js_truthy(every), has_cron = bullc__js_truthy(cron);
    if (has_every && has_cron) {
        snprintf(why, n, "Both .cron and .every options are defined for this repeatable job");
        return BULLC_EINVAL;
    }
    if (has_every && cJSON_IsNumber(every)) {
        double e = every->valuedouble;
        pl->next_ms = floor(base / e) * e + e;
        return 1;
    }
    if (!cJSON_IsString(cron)) {
        snprintf(why, n, "repeat needs a numeric every or a cron string");
        return BULLC_EINVAL;
    }
    int rc = cron_next(rep, base, &pl->next_ms, why, n);
    return rc != 0 ? rc : pl->next_ms != 0;
}

/* "<name>:<jobId>:<endDate>:<tz>:<cron>" or "<name>:<jobId>:<endDate>:<every>", and the
 * iteration's id from it. */
static int name_iteration(plan *pl, const char *name)
{
    const cJSON *rep = pl->repeat, *jid = member(rep, "jobId"), *end = member(rep, "endDate");
    const cJSON *tz = member(rep, "tz"), *cron = member(rep, "cron");
    const cJSON *ojid = member(pl->opts, "jobId"), *prev = member(pl->opts, "prevMillis");
    /* a first iteration made by hand names its series after its own jobId */
    pl->set_job_id = !bullc__js_truthy(prev) && bullc__js_truthy(ojid);
    if (pl->set_job_id)
        jid = ojid;
    bullc__buf b;
    bullc__buf_init(&b);
    if (bullc__js_truthy(jid)) {
        if (cJSON_IsString(jid))
            bullc__buf_puts(&b, jid->valuestring);
        else
            num(&b, jid->valuedouble);
    }
    bullc__buf_puts(&b, ":");
    snprintf(pl->job_id_part, sizeof pl->job_id_part, "%s", b.data && !b.oom ? b.data : ":");
    bullc__buf_reset(&b);
    bullc__buf_printf(&b, "%s:%s", name, pl->job_id_part);
    if (bullc__js_truthy(end))
        num(&b, trunc(end->valuedouble));
    bullc__buf_puts(&b, ":");
    if (bullc__js_truthy(cron)) {
        bullc__buf_printf(&b, "%s:%s", bullc__js_truthy(tz) ? tz->valuestring : "",
                          cron->valuestring);
    } else {
        num(&b, member(rep, "every")->valuedouble);
    }
    if (!(pl->key = bullc__buf_take(&b)))
        return BULLC_ENOMEM;
    char inner[33], outer[33];
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s%s", name, pl->job_id_part);
    int rc = md5_hex(pl->key, inner);
    bullc__buf_puts(&b, inner);
    if (rc == 0 && !b.oom)
        rc = md5_hex(b.data, outer);
    bullc__buf_reset(&b);
    bullc__buf_printf(&b, "repeat:%s:", outer);
    num(&b, pl->next_ms);
    if (rc == 0 && !b.oom)
        snprintf(pl->id, sizeof pl->id, "%s", b.data);
    rc = rc ? rc : b.oom ? BULLC_ENOMEM : 0;
    bullc__buf_free(&b);
    return rc;
}

/* The next iteration's opts, as lodash's defaultsDeep({repeat: {count, key}, jobId, delay,
 * timestamp, prevMillis}, opts) builds them: the new members first, then the taken job's. */
static cJSON *next_opts(const plan *pl, double delay, double now)
{
    cJSON *o = cJSON_CreateObject(), *rep = cJSON_CreateObject();
    if (!o || !rep) {
        cJSON_Delete(o);
        cJSON_Delete(rep);
        return NULL;
    }
    cJSON_AddItemToObject(o, "repeat", rep);
    cJSON_AddNumberToObject(rep, "count", pl->count);
    cJSON_AddStringToObject(rep, "key", pl->key);
    /* a first iteration made by hand had repeat.jobId set from its jobId before the copy */
    const cJSON *own_id = pl->set_job_id ? member(pl->opts, "jobId") : NULL;
    for (const cJSON *c = pl->repeat->child; c; c = c->next) {
        const cJSON *v = own_id && !strcmp(c->string, "jobId") ? own_id : c;
        if (c->string && !member(rep, c->string))
            cJSON_AddItemToObject(rep, c->string, cJSON_Duplicate(v, 1));
    }
    if (own_id && !member(rep, "jobId"))
        cJSON_AddItemToObject(rep, "jobId", cJSON_Duplicate(own_id, 1));
    cJSON_AddStringToObject(o, "jobId", pl->id);
    cJSON_AddNumberToObject(o, "delay", delay);
    cJSON_AddNumberToObject(o, "timestamp", now);
    cJSON_AddNumberToObject(o, "prevMillis", pl->next_ms);
    for (const cJSON *c = pl->opts->child; c; c = c->next)
        if (c->string && !member(o, c->string))
            cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, 1));
    return o;
}

int bullc__bull_repeat_next(bullc__bull_newjob *job, const char *name, const char *data,
                            const cJSON *opts, long long now_ms, char *why, size_t n)
{
    memset(job, 0, sizeof *job);
    plan pl = {0};
    pl.opts = opts;
    pl.repeat = member(opts, "repeat");
    double now = (double)now_ms;
    int go = next_run(&pl, now, why, n);
    if (go <= 0)
        return go;
    int rc = name_iteration(&pl, name ? name : "__default__");
    cJSON *o = rc == 0 ? next_opts(&pl, pl.next_ms - now < 0 ? 0 : pl.next_ms - now, now) : NULL;
    if (!o) {
        free(pl.key);
        snprintf(why, n, "out of memory");
        return BULLC_ENOMEM;
    }
    rc = bullc__bull_newjob_from(job, name, data, o, now_ms, why, n);
    cJSON_Delete(o);
    if (rc != 0) {
        free(pl.key);
        return rc;
    }
    job->repeat_key = pl.key;
    bullc__buf b;
    bullc__buf_init(&b);
    num(&b, pl.next_ms);
    snprintf(job->next_ms, sizeof job->next_ms, "%s", b.oom || !b.data ? "0" : b.data);
    bullc__buf_free(&b);
    return 1;
}

void bullc__bull_add_cmd(bullc__cmd *cmd, const bullc__proto *p, const bullc__bull_newjob *j,
                         const char *must_exist)
{
    if (j->repeat_key)
        bullc__bull_addRepeatJob(cmd, &p->keys, j->custom_id, j->name, j->data, j->opts.data,
                                 j->timestamp, j->delay, j->due, j->priority, j->push, p->token,
                                 j->deid, j->de_ttl, j->repeat_key, j->next_ms, must_exist);
    else
        bullc__bull_addJob(cmd, &p->keys, j->custom_id, j->name, j->data, j->opts.data,
                           j->timestamp, j->delay, j->due, j->priority, j->push, p->token,
                           j->deid, j->de_ttl);
}

void bullc__bull_note_due(bullc__proto *p, long long due)
{
    long long cur = atomic_load(&p->repeat_due);
    while (due > 0 && (cur <= 0 || due < cur) &&
           !atomic_compare_exchange_weak(&p->repeat_due, &cur, due)) {
    }
}

int bullc__bull_start(bullc__proto *p, bullc__link *link, bullc_job_t *job)
{
    const cJSON *opts = bullc__job_opts_cjson(job);
    free(job->timeout_reason);
    if (bullc__bull_timeout_of(opts, &job->timeout_ms, &job->timeout_reason) != 0)
        bullc__log(&p->log, BULLC_LOG_ERROR, "job %s: out of memory reading its timeout",
                   job->id);
    if (!cJSON_IsObject(member(opts, "repeat")))
        return 0;
    bullc__bull_newjob nj;
    char why[256] = "";
    int go = bullc__bull_repeat_next(&nj, job->name, job->data, opts, bullc__now_ms(), why,
                                     sizeof why);
    if (go < 0)
        bullc__log(&p->log, BULLC_LOG_WARN, "job %s: its repeat ends here: %s", job->id, why);
    if (go <= 0)
        return 0;
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_add_cmd(&cmd, p, &nj, "1");
    bullc__reply *r = NULL;
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM
                                  : bullc__link_call(link, &cmd, &r, why, sizeof why);
    if (rc == 0 && r->type == BULLC__R_ERROR)
        bullc__log(&p->log, BULLC_LOG_WARN, "job %s: addRepeatJob: %s", job->id, r->str);
    else if (rc == 0)
        bullc__bull_note_due(p, atoll(nj.due));
    else
        bullc__log(&p->log, BULLC_LOG_WARN, "job %s: next repeat not added: %s", job->id,
                   bullc_strerror(rc));
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    bullc__bull_newjob_free(&nj);
    return rc == BULLC_EIO || rc == BULLC_ECONNECT ? rc : 0;
}
