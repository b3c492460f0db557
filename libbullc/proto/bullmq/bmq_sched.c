/* bmq_sched.c - job schedulers seen by a worker: when a taken job belongs to a job scheduler,
 * create the scheduler's next iteration before the job runs, with the next time, job id, opts
 * and events Node's Worker would produce (docs/bullmq.md §8.3). The options go through the same
 * steps as in Node (optsFromJSON, the Job constructor, getNextJobOpts, optsAsJSON), with
 * JavaScript's key order, so the stored opts come out byte-identical. */
#include "bullmq.h"
#include "util/cron.h"
#include "util/js.h"
#include "util/json.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options as Node holds them: ordered members, with JavaScript's key order ------------ */

enum { JOBJ_MAX = 96 }; /* members of an options object; more are refused as "too large" */

/* One member; val NULL = undefined (dropped at the top level, nil when nested). */
typedef struct jentry {
    const char *key;
    const cJSON *val;
    const struct jobj *obj; /* a nested object we built (instead of val) */
} jentry;

typedef struct jobj {
    jentry e[JOBJ_MAX];
    size_t n;
    int full;
} jobj;

static jentry *jobj_find(jobj *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->e[i].key, key) == 0)
            return &o->e[i];
    return NULL;
}

static const cJSON *jobj_get(jobj *o, const char *key)
{
    jentry *e = jobj_find(o, key);
    return e ? e->val : NULL;
}

/* o[key] = val: in place when present, else appended (JavaScript assignment). */
static void jobj_set(jobj *o, const char *key, const cJSON *val, const jobj *obj)
{
    jentry *e = jobj_find(o, key);
    if (!e) {
        if (o->n == JOBJ_MAX) {
            o->full = 1;
            return;
        }
        e = &o->e[o->n++];
        e->key = key;
    }
    e->val = val;
    e->obj = obj;
}

static void jobj_del(jobj *o, const char *key)
{
    jentry *e = jobj_find(o, key);
    if (!e)
        return;
    size_t i = (size_t)(e - o->e);
    memmove(&o->e[i], &o->e[i + 1], (o->n - i - 1) * sizeof o->e[0]);
    o->n--;
}

/* The members of a parsed object in the order JSON.parse gives them (util/js.h); a member list
 * that cannot be built (too many members, out of memory) is marked full. */
static void jobj_from(jobj *o, const cJSON *obj)
{
    o->n = 0;
    o->full = 0;
    bullc__js_prop *p = NULL;
    size_t n = 0;
    if (bullc__js_props(obj, &p, &n) != 0) {
        o->full = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        jobj_set(o, p[i].key, p[i].value, NULL);
    free(p);
}

/* ---- msgpack as msgpackr writes it -------------------------------------------------------- */

static int mp_value(bullc__buf *b, const cJSON *v, int depth);

static int mp_jobj(bullc__buf *b, const jobj *o, int top, int depth)
{
    if (o->full)
        return BULLC_EINVAL;
    uint32_t n = 0;
    for (size_t i = 0; i < o->n; i++)
        if (!top || o->e[i].val || o->e[i].obj)
            n++;
    bullc__mp_map(b, n);
    for (size_t i = 0; i < o->n; i++) {
        const jentry *e = &o->e[i];
        if (top && !e->val && !e->obj)
            continue;
        bullc__mp_cstr(b, e->key);
        int rc = 0;
        if (e->obj)
            rc = mp_jobj(b, e->obj, 0, depth + 1);
        else if (e->val)
            rc = mp_value(b, e->val, depth + 1);
        else
            bullc__mp_nil(b);
        if (rc)
            return rc;
    }
    return 0;
}

static int mp_value(bullc__buf *b, const cJSON *v, int depth)
{
    if (depth > 64)
        return BULLC_EINVAL;
    if (cJSON_IsArray(v)) {
        bullc__mp_array(b, (uint32_t)cJSON_GetArraySize(v));
        const cJSON *c;
        cJSON_ArrayForEach(c, v)
        {
            int rc = mp_value(b, c, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (cJSON_IsObject(v)) {
        jobj *o = malloc(sizeof *o);
        if (!o)
            return BULLC_ENOMEM;
        jobj_from(o, v);
        int rc = mp_jobj(b, o, 0, depth);
        free(o);
        return rc;
    }
    return bullc__mp_cjson(b, v, depth); /* a scalar (or BULLC_EINVAL) */
}

/* ---- the next iteration ------------------------------------------------------------------- */

/* new Date(v).getTime() for a number (TimeClip); other types are not supported. */
static int date_ms(const cJSON *v, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 8.64e15)
        return -1;
    *out = trunc(v->valuedouble) + 0.0;
    return 0;
}

/* Everything computed from the taken job, and the objects it is computed in. */
typedef struct plan {
    int skip;           /* nothing to schedule (limit, endDate, no next time) */
    int every;          /* the next time comes from the scheduler, in Lua */
    long long next_ms;  /* `pattern`: the next time */
    double now, iteration;
    bullc__buf mp;      /* the next job's opts */
    cJSON *opts;        /* the taken job's opts, parsed */
    cJSON *scratch;     /* values created here (owned) */
    const cJSON *repeat;
    const cJSON *tel_meta, *tel_omc; /* telemetry, when the job had any */
    int has_tel;
    jobj a, b, r, f;    /* optsFromJSON, the Job constructor, repeat, optsAsJSON */
    char *err;
    size_t errlen;
} plan;

static int refuse(plan *pl, const char *why)
{
    snprintf(pl->err, pl->errlen, "%s", why);
    return BULLC_EINVAL;
}

/* A number kept alive with the plan. */
static cJSON *scratch_number(plan *pl, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (n)
        cJSON_AddItemToArray(pl->scratch, n);
    return n;
}

/* Job.optsFromJSON: long option names, tm/omc folded into one telemetry member. */
static int opts_from_json(plan *pl)
{
    jobj e;
    jobj_from(&e, pl->opts);
    pl->a.n = 0;
    pl->a.full = e.full;
    for (size_t i = 0; i < e.n; i++) {
        const char *k = e.e[i].key;
        const cJSON *v = e.e[i].val;
        if (strcmp(k, "__proto__") == 0)
            continue;
        if (strcmp(k, "tm") == 0 || strcmp(k, "omc") == 0 || strcmp(k, "telemetry") == 0) {
            if (strcmp(k, "tm") == 0)
                pl->tel_meta = v;
            else if (strcmp(k, "omc") == 0)
                pl->tel_omc = v;
            else {
                pl->tel_meta = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "metadata") : NULL;
                pl->tel_omc = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "omitContext") : NULL;
            }
            pl->has_tel = 1;
            jobj_set(&pl->a, "telemetry", NULL, NULL);
        } else {
            jobj_set(&pl->a, bullc__bmq_long_name(k), v, NULL);
        }
    }
    if (jobj_find(&pl->a, "debounce"))
        return refuse(pl, "Debounce option has been removed. Use deduplication option instead");
    return 0;
}

/* The Job constructor: attempts first, repeatJobKey taken out, a numeric backoff normalized. */
static int job_constructor(plan *pl)
{
    jobj *a = &pl->a, *b = &pl->b;
    b->n = 0;
    b->full = a->full;
    const cJSON *att = jobj_get(a, "attempts");
    cJSON *zero = att ? NULL : scratch_number(pl, 0);
    if (!att && !zero)
        return BULLC_ENOMEM;
    jobj_set(b, "attempts", att ? att : zero, NULL);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->e[i].key, "repeatJobKey") != 0)
            jobj_set(b, a->e[i].key, a->e[i].val, NULL);
    const cJSON *bo = jobj_get(a, "backoff");
    if (cJSON_IsNumber(bo) && isfinite(bo->valuedouble)) {
        cJSON *nb = cJSON_CreateObject();
        if (!nb || !cJSON_AddStringToObject(nb, "type", "fixed") ||
            !cJSON_AddNumberToObject(nb, "delay", bo->valuedouble)) {
            cJSON_Delete(nb);
            return BULLC_ENOMEM;
        }
        cJSON_AddItemToArray(pl->scratch, nb);
        jobj_set(b, "backoff", nb, NULL);
    } else {
        jobj_set(b, "backoff", bullc__js_truthy(bo) ? bo : NULL, NULL);
    }
    return 0;
}

/* upsertJobScheduler's checks; sets the iteration, or skip when the series is over. */
static int check_repeat(plan *pl)
{
    const cJSON *rp = pl->repeat = jobj_get(&pl->b, "repeat");
    if (!cJSON_IsObject(rp))
        return refuse(pl, "the job has no repeat options");
    int pattern = bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(rp, "pattern"));
    int every = bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(rp, "every"));
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(rp, "limit");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(rp, "count");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(rp, "endDate");
    if (pattern && every)
        return refuse(pl, "Both .pattern and .every options are defined for this repeatable job");
    if (!pattern && !every)
        return refuse(pl, "Either .pattern or .every options must be defined for this repeatable job");
    if (bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(rp, "immediately")) &&
        bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(rp, "startDate")))
        return refuse(pl, "Both .immediately and .startDate options are defined for this repeatable job");
    if (pattern && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rp, "pattern")))
        return refuse(pl, "repeat.pattern is not a string");
    if (bullc__js_truthy(count) && !cJSON_IsNumber(count))
        return refuse(pl, "repeat.count is not a number");
    pl->iteration = bullc__js_truthy(count) ? count->valuedouble + 1 : 1;
    /* JavaScript compares a null limit as 0 */
    if (limit && !cJSON_IsNumber(limit) && !cJSON_IsNull(limit))
        return refuse(pl, "repeat.limit is not a number");
    if (limit && pl->iteration > (cJSON_IsNull(limit) ? 0 : limit->valuedouble))
        pl->skip = 1;
    double endv;
    if (!pl->skip && bullc__js_truthy(end)) {
        if (date_ms(end, &endv) != 0)
            return refuse(pl, "repeat.endDate must be epoch milliseconds");
        pl->skip = pl->now > endv;
    }
    pl->every = every;
    return 0;
}

/* The next time of a `pattern` schedule after `base`, as BullMQ's default repeat strategy
 * computes it with cron-parser. 0 (skip set when there is none), or BULLC_EINVAL when
 * cron-parser would throw. */
static int pattern_next(plan *pl, double base)
{
    const cJSON *rp = pl->repeat;
    const cJSON *tz = cJSON_GetObjectItemCaseSensitive(rp, "tz");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(rp, "startDate");
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(rp, "endDate");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(rp, "hashSeed");
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(rp, "pattern");
    if (tz && !cJSON_IsNull(tz) && !cJSON_IsString(tz))
        return refuse(pl, "repeat.tz is not a string");
    double sdv = 0, edv = 0;
    int has_sd = bullc__js_truthy(sd), has_ed = bullc__js_truthy(ed);
    if ((has_sd && date_ms(sd, &sdv) != 0) || (has_ed && date_ms(ed, &edv) != 0))
        return refuse(pl, "repeat.startDate/endDate must be epoch milliseconds");
    bullc__cron *cr = NULL;
    bullc__tz *z = NULL;
    bullc__cron_iter *it = NULL;
    int rc = bullc__cron_parse(pattern->valuestring,
                               bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(rp, "strict")),
                               cJSON_IsString(seed) ? seed->valuestring : NULL, &cr, pl->err,
                               pl->errlen);
    if (rc == 0)
        rc = bullc__tz_load(cJSON_IsString(tz) ? tz->valuestring : NULL, &z, pl->err, pl->errlen);
    long long sdl = (long long)sdv, edl = (long long)edv;
    double cur = has_sd && sdv > base ? sdv : base;
    if (rc == 0)
        rc = bullc__cron_iter_new(cr, z, (long long)cur, has_sd ? &sdl : NULL, has_ed ? &edl : NULL,
                                  &it);
    char why[128];
    if (rc == 0 && bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(rp, "immediately")))
        pl->next_ms = bullc__now_ms();
    else if (rc == 0 && bullc__cron_iter_next(it, &pl->next_ms, why, sizeof why) != 0)
        pl->skip = 1;
    if (rc == 0 && !pl->skip && (double)pl->next_ms < base)
        pl->next_ms = (long long)base;
    bullc__cron_iter_free(it);
    bullc__cron_free(cr);
    bullc__tz_free(z);
    return rc;
}

/* When the next iteration is due: after the previous one (prevMillis) or now, whichever is
 * later; `every` schedules leave it to the script. */
static int next_time(plan *pl)
{
    if (pl->every)
        return 0;
    const cJSON *pm = jobj_get(&pl->b, "prevMillis");
    double prev = bullc__js_truthy(pm) && cJSON_IsNumber(pm) ? pm->valuedouble : 0;
    double base = prev < pl->now ? pl->now : prev;
    /* prevMillis comes from the stored opts: outside a Date's range Node's cron-parser throws
     * (and converting such a double to long long is undefined) */
    if (!(fabs(base) <= 8.64e15))
        return refuse(pl, "CronDate: unhandled timestamp: Invalid Date");
    return pattern_next(pl, base);
}

/* repeat: {...repeat without immediately, offset, count, startDate, endDate}. */
static int next_repeat(plan *pl)
{
    const cJSON *rp = pl->repeat;
    const cJSON *offset = cJSON_GetObjectItemCaseSensitive(rp, "offset");
    jobj *r = &pl->r;
    jobj_from(r, rp);
    jobj_del(r, "immediately");
    const cJSON *new_offset = pl->every && bullc__js_truthy(offset) ? offset : NULL;
    cJSON *nullv = cJSON_CreateNull(), *count = scratch_number(pl, pl->iteration);
    if (!nullv || !count) {
        cJSON_Delete(nullv);
        return BULLC_ENOMEM;
    }
    cJSON_AddItemToArray(pl->scratch, nullv);
    jobj_set(r, "offset", new_offset ? new_offset : nullv, NULL);
    jobj_set(r, "count", count, NULL);
    static const char *const dates[2] = {"startDate", "endDate"};
    for (int i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(rp, dates[i]);
        double dm;
        if (!bullc__js_truthy(d)) {
            jobj_set(r, dates[i], NULL, NULL);
            continue;
        }
        if (date_ms(d, &dm) != 0)
            return refuse(pl, "repeat.startDate/endDate must be epoch milliseconds");
        cJSON *n = scratch_number(pl, dm);
        if (!n)
            return BULLC_ENOMEM;
        jobj_set(r, dates[i], n, NULL);
    }
    return 0;
}

/* getNextJobOpts: the taken job's options with the next iteration's id, delay, timestamp,
 * prevMillis and repeat (into b). */
static int next_job_opts(plan *pl, const char *sched_id)
{
    jobj *c = &pl->b;
    int rc = next_repeat(pl);
    if (rc)
        return rc;
    jobj_set(c, "repeat", NULL, &pl->r);
    jobj_set(c, "telemetry", NULL, NULL);
    char idbuf[64];
    if (pl->every)
        snprintf(idbuf, sizeof idbuf, "undefined");
    else
        snprintf(idbuf, sizeof idbuf, "%lld", pl->next_ms);
    bullc__buf jid;
    bullc__buf_init(&jid);
    bullc__buf_printf(&jid, "repeat:%s:%s", sched_id, idbuf);
    cJSON *jv = jid.oom ? NULL : cJSON_CreateString(jid.data);
    bullc__buf_free(&jid);
    if (!jv)
        return BULLC_ENOMEM;
    cJSON_AddItemToArray(pl->scratch, jv);
    const cJSON *offset = jobj_get(&pl->r, "offset");
    double delay = pl->every ? NAN
                             : (double)pl->next_ms +
                                   (cJSON_IsNumber(offset) ? offset->valuedouble : 0) - pl->now;
    cJSON *dv = scratch_number(pl, 0), *tv = scratch_number(pl, pl->now),
          *pv = scratch_number(pl, (double)pl->next_ms), *kv = cJSON_CreateString(sched_id);
    if (!dv || !tv || !pv || !kv) {
        cJSON_Delete(kv);
        return BULLC_ENOMEM;
    }
    cJSON_AddItemToArray(pl->scratch, kv);
    dv->valuedouble = delay < 0 ? 0 : delay; /* NaN for `every`: the script replaces it */
    jobj_set(c, "jobId", jv, NULL);
    jobj_set(c, "delay", dv, NULL);
    jobj_set(c, "timestamp", tv, NULL);
    jobj_set(c, "prevMillis", pl->every ? NULL : pv, NULL);
    jobj_set(c, "repeatJobKey", kv, NULL);
    return 0;
}

/* optsAsJSON: short names, telemetry as tm/omc; packed as msgpackr would. */
static int opts_as_json(plan *pl)
{
    const jobj *c = &pl->b;
    jobj *f = &pl->f;
    f->n = 0;
    f->full = c->full || pl->r.full;
    for (size_t i = 0; i < c->n; i++) {
        const jentry *e = &c->e[i];
        if (strcmp(e->key, "telemetry") == 0) {
            if (pl->has_tel && pl->tel_meta)
                jobj_set(f, "tm", pl->tel_meta, NULL);
            if (pl->has_tel && pl->tel_omc)
                jobj_set(f, "omc", pl->tel_omc, NULL);
        } else if (e->val || e->obj) {
            jobj_set(f, bullc__bmq_short_name(e->key), e->val, e->obj);
        }
    }
    bullc__buf_reset(&pl->mp);
    int rc = mp_jobj(&pl->mp, f, 1, 0);
    if (rc == 0 && pl->mp.oom)
        rc = BULLC_ENOMEM;
    if (rc == BULLC_EINVAL)
        refuse(pl, "the job's opts are too large or too deep");
    return rc;
}

/* Everything the worker computes from the taken job: whether to schedule, when, and the opts. */
static int make_plan(plan *pl, const char *sched_id, const char *opts_json)
{
    pl->opts = bullc__json_parse(opts_json ? opts_json : "{}");
    pl->scratch = cJSON_CreateArray();
    if (!pl->scratch)
        return BULLC_ENOMEM;
    if (!cJSON_IsObject(pl->opts))
        return refuse(pl, "the job's opts are not a JSON object");
    int rc = opts_from_json(pl);
    if (rc == 0)
        rc = job_constructor(pl);
    if (rc == 0)
        rc = check_repeat(pl);
    if (rc == 0 && !pl->skip)
        rc = next_time(pl);
    if (rc == 0 && !pl->skip)
        rc = next_job_opts(pl, sched_id);
    if (rc == 0 && !pl->skip)
        rc = opts_as_json(pl);
    return rc;
}

/* ---- Redis -------------------------------------------------------------------------------- */

/* Node 6 refuses v5 repeat keys shaped "name:id:endDate:tz:<cron|every>". */
static int legacy_key_shape(const char *k)
{
    const char *c[4];
    const char *p = k;
    for (int i = 0; i < 4; i++) {
        c[i] = strchr(p, ':');
        if (!c[i])
            return 0;
        p = c[i] + 1;
    }
    for (const char *q = c[1] + 1; q < c[2]; q++)
        if (*q < '0' || *q > '9')
            return 0;
    const char *suffix = c[3] + 1;
    if (!*suffix)
        return 0;
    if (strchr(suffix, ' '))
        return 1;
    for (const char *q = suffix; *q; q++)
        if (*q < '0' || *q > '9')
            return 0;
    return 1;
}

/* HEXISTS repeat:<id> ic: does this v5-shaped key name a v6 scheduler? */
static int scheduler_exists(bullc__proto *p, bullc__link *link, const char *sched_id,
                            int *exists, char *err, size_t errlen)
{
    bullc__buf key;
    bullc__buf_init(&key);
    bullc__buf_printf(&key, "%s:%s", p->keys.k[BULLC__BMQ_Q_REPEAT], sched_id);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 3, "HEXISTS", key.data ? key.data : "", "ic");
    bullc__reply *r = NULL;
    int rc = key.oom || bullc__cmd_oom(&cmd) ? BULLC_ENOMEM
                                             : bullc__link_call(link, &cmd, &r, err, errlen);
    if (rc == 0)
        *exists = r->type == BULLC__R_INTEGER && r->integer == 1;
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    bullc__buf_free(&key);
    return rc;
}

static int update_scheduler(bullc__proto *p, bullc__link *link, const char *sched_id,
                            const plan *pl, const char *job_id, char *err, size_t errlen)
{
    char next[32] = "";
    if (!pl->every)
        snprintf(next, sizeof next, "%lld", pl->next_ms);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bmq_updateJobScheduler(&cmd, &p->keys, next, sched_id, pl->mp.data, pl->mp.len,
                                  (long long)pl->now, job_id);
    bullc__reply *r = NULL;
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : bullc__link_call(link, &cmd, &r, err, errlen);
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "updateJobScheduler: %s", r->str);
        rc = BULLC_ESCRIPT;
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}

static void plan_free(plan *pl)
{
    bullc__buf_free(&pl->mp);
    cJSON_Delete(pl->opts);
    cJSON_Delete(pl->scratch);
    free(pl);
}

/* The job scheduler step: 0 run the job, 1 do not (Node's step threw), or a transport error. */
static int scheduler_step(bullc__proto *p, bullc__link *link, bullc_job_t *job)
{
    const char *rjk = bullc_job_field(job, "rjk");
    char err[256] = "";
    if (legacy_key_shape(rjk)) {
        int exists = 0;
        int rc = scheduler_exists(p, link, rjk, &exists, err, sizeof err);
        if (rc == BULLC_EIO || rc == BULLC_ECONNECT)
            return rc; /* the engine tries again */
        if (rc != 0) {
            bullc__log(&p->log, BULLC_LOG_ERROR,
                       "Failed to add repeatable job for next iteration: %s (%s)",
                       bullc_strerror(rc), err);
            return 1;
        }
        if (!exists) {
            bullc__log(&p->log, BULLC_LOG_ERROR,
                       "Failed to add repeatable job for next iteration: legacy repeatable job "
                       "metadata is not supported in BullMQ v6 (key: \"%s\")",
                       rjk);
            return 0;
        }
    }
    plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return BULLC_ENOMEM;
    bullc__buf_init(&pl->mp);
    pl->err = err;
    pl->errlen = sizeof err;
    pl->now = (double)bullc__now_ms();
    int rc = make_plan(pl, rjk, job->opts);
    if (rc == 0 && !pl->skip)
        rc = update_scheduler(p, link, rjk, pl, job->id, err, sizeof err);
    plan_free(pl);
    if (rc == BULLC_EIO || rc == BULLC_ECONNECT)
        return rc; /* the engine tries again */
    if (rc != 0) {
        /* as in Node: the job is not run; it stays active until a stalled check requeues it */
        bullc__log(&p->log, BULLC_LOG_ERROR,
                   "Failed to add repeatable job for next iteration: %s; job %s is not processed",
                   err[0] ? err : bullc_strerror(rc), job->id);
        return 1;
    }
    return 0;
}

int bullc__bmq_start(bullc__proto *p, bullc__link *link, bullc_job_t *job)
{
    const char *rjk = bullc_job_field(job, "rjk");
    if (rjk && *rjk) {
        int rc = scheduler_step(p, link, job);
        if (rc != 0)
            return rc;
    }
    /* a deferred failure (set by the stalled checker or a failed child) fails at once, and so
     * does a job started more often than maxStartedAttempts allows (docs/bullmq.md §5.7) */
    const char *defa = bullc_job_field(job, "defa");
    if (defa) {
        bullc__job_set_failure(job, defa, 1);
        return BULLC_EJOBFAILED;
    }
    if (p->max_started_attempts > 0 && p->max_started_attempts < job->ats) {
        bullc__job_set_failure(job, "job started more than allowable limit", 1);
        return BULLC_EJOBFAILED;
    }
    return 0;
}
