/* scheduler.c - job schedulers seen by a worker: when a taken job belongs to a job scheduler,
 * create the scheduler's next iteration before the job runs, with the next time, job id, opts
 * and events Node's Worker would produce (PROTOCOL.md 4.5). */
#include "worker.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options as Node holds them: ordered members, with JavaScript's key order ------------ */

/* One member; val NULL = undefined (dropped at the top level, nil when nested). */
typedef struct jentry {
    const char *key;
    const cJSON *val;
    const struct jobj *obj; /* a nested object we built (instead of val) */
} jentry;

typedef struct jobj {
    jentry e[96];
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

/* o[key] = val: in place when present, else appended (JavaScript assignment). */
static void jobj_set(jobj *o, const char *key, const cJSON *val, const jobj *obj)
{
    jentry *e = jobj_find(o, key);
    if (!e) {
        if (o->n == sizeof o->e / sizeof o->e[0]) {
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

/* The members of a parsed JSON object in the order JSON.parse gives them (see util/js.h); a
 * member list that cannot be built (too many members, out of memory) is marked full. */
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

/* ---- JavaScript truthiness and the like ---------------------------------------------------- */

/* new Date(v).getTime() for a number (TimeClip); other types are not supported. */
static int date_ms(const cJSON *v, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 8.64e15)
        return -1;
    *out = trunc(v->valuedouble) + 0.0;
    return 0;
}

/* Option names stored in short form. */
static const char *const SHORT[6] = {"de", "fpof", "cpof", "idof", "kl", "rdof"};
static const char *const LONG[6] = {"deduplication", "failParentOnFailure", "continueParentOnFailure",
                                    "ignoreDependencyOnFailure", "keepLogs", "removeDependencyOnFailure"};

static const char *long_name(const char *k)
{
    for (int i = 0; i < 6; i++)
        if (strcmp(k, SHORT[i]) == 0)
            return LONG[i];
    return k;
}

static const char *short_name(const char *k)
{
    for (int i = 0; i < 6; i++)
        if (strcmp(k, LONG[i]) == 0)
            return SHORT[i];
    return k;
}

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

/* ---- the next iteration --------------------------------------------------------------------- */

typedef struct plan {
    int skip;              /* 1: nothing to schedule (limit, endDate, no next time) */
    int every;             /* the next time comes from the scheduler in Lua */
    long long next_ms;     /* pattern */
    bullc__buf mp;         /* the next job's opts */
} plan;

static int err_out(char *err, size_t n, const char *fmt, const char *a)
{
    snprintf(err, n, fmt, a);
    return BULLC_EINVAL;
}

/* Computes the next time of a `pattern` schedule as BullMQ's default repeat strategy does.
 * Returns 0 (with *has_next), or BULLC_EINVAL when cron-parser would throw. */
static int pattern_next(const cJSON *repeat, const char *pattern, double now, long long *next,
                        int *has_next, char *err, size_t errlen)
{
    *has_next = 0;
    const cJSON *tz = cJSON_GetObjectItemCaseSensitive(repeat, "tz");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(repeat, "startDate");
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(repeat, "endDate");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(repeat, "hashSeed");
    const cJSON *strict = cJSON_GetObjectItemCaseSensitive(repeat, "strict");
    if (tz && !cJSON_IsNull(tz) && !cJSON_IsString(tz))
        return err_out(err, errlen, "%s", "repeat.tz is not a string");
    double sdv = 0, edv = 0;
    int has_sd = bullc__js_truthy(sd), has_ed = bullc__js_truthy(ed);
    if ((has_sd && date_ms(sd, &sdv) != 0) || (has_ed && date_ms(ed, &edv) != 0))
        return err_out(err, errlen, "%s", "repeat.startDate/endDate must be epoch milliseconds");
    double cur = has_sd && sdv > now ? sdv : now;
    bullc__cron *cr = NULL;
    bullc__tz *z = NULL;
    bullc__cron_iter *it = NULL;
    int rc = bullc__cron_parse(pattern, bullc__js_truthy(strict),
                               cJSON_IsString(seed) ? seed->valuestring : NULL, &cr, err, errlen);
    if (rc == 0)
        rc = bullc__tz_load(cJSON_IsString(tz) ? tz->valuestring : NULL, &z, err, errlen);
    long long sdl = (long long)sdv, edl = (long long)edv;
    if (rc == 0)
        rc = bullc__cron_iter_new(cr, z, (long long)cur, has_sd ? &sdl : NULL, has_ed ? &edl : NULL,
                                  &it);
    if (rc == 0) {
        if (bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(repeat, "immediately"))) {
            *next = bullc__now_ms();
            *has_next = 1;
        } else {
            char why[128];
            *has_next = bullc__cron_iter_next(it, next, why, sizeof why) == 0;
        }
    }
    bullc__cron_iter_free(it);
    bullc__cron_free(cr);
    bullc__tz_free(z);
    return rc;
}

/* Everything the worker computes from the taken job: whether to schedule, when, and the opts. */
static int make_plan(const char *sched_id, const char *opts_json, long long now_ll, plan *pl,
                     char *err, size_t errlen)
{
    double now = (double)now_ll;
    char *fixed = bullc__json_fix_surrogates(opts_json ? opts_json : "{}");
    if (!fixed)
        return BULLC_ENOMEM;
    cJSON *opts = cJSON_Parse(fixed);
    free(fixed);
    cJSON *scratch = cJSON_CreateArray();
    jobj *A = malloc(sizeof *A), *B = malloc(sizeof *B), *R = malloc(sizeof *R);
    int rc = 0;
    if (!scratch || !A || !B || !R) {
        rc = BULLC_ENOMEM;
        goto out;
    }
    if (!cJSON_IsObject(opts)) {
        rc = err_out(err, errlen, "%s", "the job's opts are not a JSON object");
        goto out;
    }

    /* Job.optsFromJSON: long names; tm/omc folded into one telemetry member */
    jobj E;
    jobj_from(&E, opts);
    A->n = 0;
    A->full = E.full;
    const cJSON *tel_meta = NULL, *tel_omc = NULL;
    int has_tel = 0;
    for (size_t i = 0; i < E.n; i++) {
        const char *k = E.e[i].key;
        const cJSON *v = E.e[i].val;
        if (strcmp(k, "__proto__") == 0)
            continue;
        if (strcmp(k, "tm") == 0 || strcmp(k, "omc") == 0) {
            if (strcmp(k, "tm") == 0)
                tel_meta = v;
            else
                tel_omc = v;
            has_tel = 1;
            jobj_set(A, "telemetry", NULL, NULL);
        } else if (strcmp(k, "telemetry") == 0) {
            tel_meta = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "metadata") : NULL;
            tel_omc = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "omitContext") : NULL;
            has_tel = 1;
            jobj_set(A, "telemetry", NULL, NULL);
        } else {
            jobj_set(A, long_name(k), v, NULL);
        }
    }
    if (jobj_find(A, "debounce")) {
        rc = err_out(err, errlen, "%s", "Debounce option has been removed. Use deduplication option instead");
        goto out;
    }

    /* the Job constructor: attempts first, repeatJobKey taken out, backoff normalized */
    B->n = 0;
    B->full = A->full;
    jentry *att = jobj_find(A, "attempts");
    cJSON *zero = cJSON_CreateNumber(0);
    if (!zero) {
        rc = BULLC_ENOMEM;
        goto out;
    }
    cJSON_AddItemToArray(scratch, zero);
    jobj_set(B, "attempts", att ? att->val : zero, NULL);
    for (size_t i = 0; i < A->n; i++)
        if (strcmp(A->e[i].key, "repeatJobKey") != 0)
            jobj_set(B, A->e[i].key, A->e[i].val, NULL);
    jentry *bo = jobj_find(A, "backoff");
    const cJSON *bov = bo ? bo->val : NULL;
    if (cJSON_IsNumber(bov) && isfinite(bov->valuedouble)) {
        cJSON *nb = cJSON_CreateObject();
        if (!nb || !cJSON_AddStringToObject(nb, "type", "fixed") ||
            !cJSON_AddNumberToObject(nb, "delay", bov->valuedouble)) {
            cJSON_Delete(nb);
            rc = BULLC_ENOMEM;
            goto out;
        }
        cJSON_AddItemToArray(scratch, nb);
        jobj_set(B, "backoff", nb, NULL);
    } else {
        jobj_set(B, "backoff", bullc__js_truthy(bov) ? bov : NULL, NULL);
    }

    /* upsertJobScheduler's checks */
    jentry *re = jobj_find(B, "repeat");
    const cJSON *repeat = re ? re->val : NULL;
    if (!cJSON_IsObject(repeat)) {
        rc = err_out(err, errlen, "%s", "the job has no repeat options");
        goto out;
    }
    const cJSON *every = cJSON_GetObjectItemCaseSensitive(repeat, "every");
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(repeat, "pattern");
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(repeat, "limit");
    const cJSON *offset = cJSON_GetObjectItemCaseSensitive(repeat, "offset");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(repeat, "count");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(repeat, "endDate");
    if (bullc__js_truthy(pattern) && bullc__js_truthy(every)) {
        rc = err_out(err, errlen, "%s", "Both .pattern and .every options are defined for this repeatable job");
        goto out;
    }
    if (!bullc__js_truthy(pattern) && !bullc__js_truthy(every)) {
        rc = err_out(err, errlen, "%s", "Either .pattern or .every options must be defined for this repeatable job");
        goto out;
    }
    if (bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(repeat, "immediately")) &&
        bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(repeat, "startDate"))) {
        rc = err_out(err, errlen, "%s", "Both .immediately and .startDate options are defined for this repeatable job");
        goto out;
    }
    if (bullc__js_truthy(pattern) && !cJSON_IsString(pattern)) {
        rc = err_out(err, errlen, "%s", "repeat.pattern is not a string");
        goto out;
    }
    if (bullc__js_truthy(count) && !cJSON_IsNumber(count)) {
        rc = err_out(err, errlen, "%s", "repeat.count is not a number");
        goto out;
    }
    double iteration = bullc__js_truthy(count) ? count->valuedouble + 1 : 1;
    if (limit) {
        /* JavaScript compares with null as 0 */
        if (!cJSON_IsNumber(limit) && !cJSON_IsNull(limit)) {
            rc = err_out(err, errlen, "%s", "repeat.limit is not a number");
            goto out;
        }
        if (iteration > (cJSON_IsNull(limit) ? 0 : limit->valuedouble)) {
            pl->skip = 1;
            goto out;
        }
    }
    double endv;
    if (bullc__js_truthy(end)) {
        if (date_ms(end, &endv) != 0) {
            rc = err_out(err, errlen, "%s", "repeat.endDate must be epoch milliseconds");
            goto out;
        }
        if (now > endv) {
            pl->skip = 1;
            goto out;
        }
    }
    jentry *pm = jobj_find(B, "prevMillis");
    double prev = pm && bullc__js_truthy(pm->val) && cJSON_IsNumber(pm->val) ? pm->val->valuedouble : 0;
    double base = prev < now ? now : prev;

    if (bullc__js_truthy(pattern)) {
        int has_next;
        long long next;
        /* prevMillis comes from the stored opts: outside a Date's range Node's cron-parser throws
         * (and converting such a double to long long is undefined) */
        if (!(fabs(base) <= 8.64e15)) {
            rc = err_out(err, errlen, "%s", "CronDate: unhandled timestamp: Invalid Date");
            goto out;
        }
        rc = pattern_next(repeat, pattern->valuestring, base, &next, &has_next, err, errlen);
        if (rc)
            goto out;
        if (!has_next) {
            pl->skip = 1;
            goto out;
        }
        if ((double)next < base)
            next = (long long)base;
        pl->next_ms = next;
    } else {
        pl->every = 1;
    }

    /* the next job's opts (getNextJobOpts), then optsAsJSON's short names */
    jobj *C = B; /* repeat without `immediately`, telemetry kept in place */
    R->n = 0;
    R->full = 0;
    jobj_from(R, repeat);
    jobj_del(R, "immediately");
    jobj_set(C, "repeat", NULL, R);
    jobj_set(C, "telemetry", NULL, NULL);
    char idbuf[64];
    if (pl->every)
        snprintf(idbuf, sizeof idbuf, "undefined");
    else
        snprintf(idbuf, sizeof idbuf, "%lld", pl->next_ms);
    size_t idlen = strlen(sched_id) + strlen(idbuf) + 16;
    char *jid = malloc(idlen);
    if (!jid) {
        rc = BULLC_ENOMEM;
        goto out;
    }
    snprintf(jid, idlen, "repeat:%s:%s", sched_id, idbuf);
    cJSON *jv = cJSON_CreateString(jid);
    free(jid);
    const cJSON *new_offset = bullc__js_truthy(every) && bullc__js_truthy(offset) ? offset : NULL;
    double delay = pl->every ? NAN
                             : (double)pl->next_ms + (new_offset && cJSON_IsNumber(new_offset)
                                                          ? new_offset->valuedouble
                                                          : 0) - now;
    if (delay < 0)
        delay = 0;
    cJSON *dv = cJSON_CreateNumber(0), *tv = cJSON_CreateNumber(now),
          *pv = cJSON_CreateNumber((double)pl->next_ms), *kv = cJSON_CreateString(sched_id),
          *cv = cJSON_CreateNumber(iteration), *nullv = cJSON_CreateNull();
    cJSON *all[7] = {jv, dv, tv, pv, kv, cv, nullv};
    for (int i = 0; i < 7; i++) {
        if (!all[i]) {
            for (int k = i + 1; k < 7; k++)
                cJSON_Delete(all[k]);
            rc = BULLC_ENOMEM;
            goto out;
        }
        cJSON_AddItemToArray(scratch, all[i]);
    }
    dv->valuedouble = delay; /* NaN for `every`: Lua replaces it */
    jobj_set(C, "jobId", jv, NULL);
    jobj_set(C, "delay", dv, NULL);
    jobj_set(C, "timestamp", tv, NULL);
    jobj_set(C, "prevMillis", pl->every ? NULL : pv, NULL);
    jobj_set(C, "repeatJobKey", kv, NULL);
    /* repeat: {...repeat, offset, count, startDate, endDate} */
    jobj_set(R, "offset", new_offset ? new_offset : nullv, NULL);
    jobj_set(R, "count", cv, NULL);
    static const char *const dates[2] = {"startDate", "endDate"};
    for (int i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(repeat, dates[i]);
        double dm;
        if (!bullc__js_truthy(d)) {
            jobj_set(R, dates[i], NULL, NULL);
            continue;
        }
        if (date_ms(d, &dm) != 0) {
            rc = err_out(err, errlen, "%s", "repeat.startDate/endDate must be epoch milliseconds");
            goto out;
        }
        cJSON *n = cJSON_CreateNumber(dm);
        if (!n) {
            rc = BULLC_ENOMEM;
            goto out;
        }
        cJSON_AddItemToArray(scratch, n);
        jobj_set(R, dates[i], n, NULL);
    }

    /* optsAsJSON: short names, telemetry as tm/omc */
    jobj *F = A; /* reuse A's storage */
    F->n = 0;
    F->full = C->full || R->full;
    for (size_t i = 0; i < C->n; i++) {
        const jentry *e = &C->e[i];
        if (strcmp(e->key, "telemetry") == 0) {
            if (has_tel && tel_meta)
                jobj_set(F, "tm", tel_meta, NULL);
            if (has_tel && tel_omc)
                jobj_set(F, "omc", tel_omc, NULL);
            continue;
        }
        if (!e->val && !e->obj)
            continue;
        jobj_set(F, short_name(e->key), e->val, e->obj);
    }
    bullc__buf_reset(&pl->mp);
    rc = mp_jobj(&pl->mp, F, 1, 0);
    if (rc == 0 && pl->mp.oom)
        rc = BULLC_ENOMEM;
    if (rc == BULLC_EINVAL)
        snprintf(err, errlen, "the job's opts are too large or too deep");
out:
    cJSON_Delete(opts);
    cJSON_Delete(scratch);
    free(A);
    free(B);
    free(R);
    return rc;
}

/* ---- Redis ------------------------------------------------------------------------------ */

static int call_update(bullc__hthread *t, const char *sched_id, const plan *pl, long long now,
                       const char *job_id, bullc__reply **reply)
{
    bullc_worker_t *w = t->w;
    static const bullc__qkey kidx[11] = {BULLC__K_REPEAT, BULLC__K_DELAYED, BULLC__K_WAIT,
                                         BULLC__K_PAUSED, BULLC__K_META,    BULLC__K_PRIORITIZED,
                                         BULLC__K_MARKER, BULLC__K_ID,      BULLC__K_EVENTS,
                                         BULLC__K_PC,     BULLC__K_ACTIVE};
    const char *keys[11];
    for (int i = 0; i < 11; i++)
        keys[i] = w->keys.k[kidx[i]];
    char next[32] = "", nowbuf[32];
    if (!pl->every)
        snprintf(next, sizeof next, "%lld", pl->next_ms);
    snprintf(nowbuf, sizeof nowbuf, "%lld", now);
    const char *args[6] = {next, sched_id, pl->mp.data, nowbuf, w->keys.base, job_id};
    size_t lens[6] = {strlen(next), strlen(sched_id), pl->mp.len, strlen(nowbuf), w->keys.base_len,
                      strlen(job_id)};
    return bullc__conn_script(&t->cn, BULLC__S_UPDATE_JOB_SCHEDULER, 11, keys, 6, args, lens, reply);
}

/* Runs a Redis step, retrying connection errors as Node does (until the worker stops). */
static int with_retry(bullc__hthread *t, int (*fn)(bullc__hthread *, void *), void *arg)
{
    int failures = 0;
    for (;;) {
        int rc = fn(t, arg);
        if (rc != BULLC_EIO && rc != BULLC_ECONNECT)
            return rc;
        if (bullc__worker_stopping(t->w))
            return rc;
        if (failures++ == 0)
            bullc__log(&t->w->log, BULLC_LOG_WARN, "%s: job scheduler update: %s (%s); retrying",
                       t->label, bullc_strerror(rc), t->cn.errstr);
        bullc__worker_nap(t->w, bullc__backoff_ms(failures, &t->seed));
    }
}

typedef struct hexists_arg {
    const char *sched_id;
    int exists;
} hexists_arg;

static int do_hexists(bullc__hthread *t, void *p)
{
    hexists_arg *a = p;
    int rc = bullc__conn_ensure(&t->cn);
    if (rc)
        return rc;
    bullc_worker_t *w = t->w;
    size_t klen = strlen(w->keys.k[BULLC__K_REPEAT]) + strlen(a->sched_id) + 2;
    char *key = malloc(klen);
    if (!key)
        return BULLC_ENOMEM;
    snprintf(key, klen, "%s:%s", w->keys.k[BULLC__K_REPEAT], a->sched_id);
    const char *argv[3] = {"HEXISTS", key, "ic"};
    size_t lens[3] = {7, strlen(key), 2};
    bullc__reply *r = NULL;
    rc = bullc__conn_cmd(&t->cn, 3, argv, lens, &r);
    free(key);
    if (rc == 0)
        a->exists = r && r->type == BULLC__R_INTEGER && r->integer == 1;
    bullc__reply_free(r);
    return rc;
}

typedef struct update_arg {
    const char *sched_id;
    const plan *pl;
    long long now;
    const char *job_id;
} update_arg;

static int do_update(bullc__hthread *t, void *p)
{
    update_arg *a = p;
    int rc = bullc__conn_ensure(&t->cn);
    if (rc)
        return rc;
    bullc__reply *r = NULL;
    rc = call_update(t, a->sched_id, a->pl, a->now, a->job_id, &r);
    bullc__reply_free(r);
    return rc;
}

int bullc__scheduler_on_fetch(bullc__hthread *t, bullc_job_t *job)
{
    bullc_worker_t *w = t->w;
    const char *rjk = bullc_job_field(job, "rjk");
    if (!rjk || !*rjk)
        return 0;
    if (legacy_key_shape(rjk)) {
        hexists_arg ha = {rjk, 0};
        int rc = with_retry(t, do_hexists, &ha);
        if (rc != 0) {
            bullc__log(&w->log, BULLC_LOG_ERROR,
                       "%s: Failed to add repeatable job for next iteration: %s (%s)", t->label,
                       bullc_strerror(rc), t->cn.errstr);
            return 1;
        }
        if (!ha.exists) {
            bullc__log(&w->log, BULLC_LOG_ERROR,
                       "%s: Failed to add repeatable job for next iteration: legacy repeatable job "
                       "metadata is not supported in BullMQ v6 (key: \"%s\")",
                       t->label, rjk);
            return 0;
        }
    }
    plan pl;
    memset(&pl, 0, sizeof pl);
    bullc__buf_init(&pl.mp);
    char err[256] = "";
    long long now = bullc__now_ms();
    int rc = make_plan(rjk, job->opts, now, &pl, err, sizeof err);
    if (rc == 0 && !pl.skip) {
        update_arg ua = {rjk, &pl, now, job->id};
        rc = with_retry(t, do_update, &ua);
        if (rc != 0)
            snprintf(err, sizeof err, "%s (%.200s)", bullc_strerror(rc), t->cn.errstr);
    }
    bullc__buf_free(&pl.mp);
    if (rc != 0) {
        /* As in Node: the job is not run; it stays active until a stalled check requeues it. */
        bullc__log(&w->log, BULLC_LOG_ERROR,
                   "%s: Failed to add repeatable job for next iteration: %s; job %s is not "
                   "processed",
                   t->label, err[0] ? err : bullc_strerror(rc), job->id);
        return 1;
    }
    return 0;
}
