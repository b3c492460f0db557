/* bull_settle.c - a handler's outcome as Bull's Queue records it (docs/bull.md §4.3, §4.4):
 * complete, retry at once, retry after a backoff, or fail for good. Prepared on the handler's
 * thread as one script call (Bull's MULTI of saveStacktrace and the move, in one script of
 * ours), sent by the exchange (bull_xchg.c), decoded back here. */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/js.h"
#include "util/json.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum call { FINISH = 1, RETRY, DELAY } call;

/* A settle's prepared call. */
typedef struct prepared {
    bullc__settle_base b; /* b.opts: the msgpack keep rule of a FINISH; b.fields: msgpack
                             [stacktrace, .., failedReason, .., attemptsMade, ..] */
    call kind;
    char *event;        /* the JSON published on the completed/failed channel */
    int completion;     /* a FINISH to completed */
    int fetch_next;     /* a FINISH that takes the next job */
    long long now;      /* a FINISH's finishedOn */
    long long due_ms;   /* DELAY: when the job is due again */
} prepared;

static const cJSON *opt(bullc_job_t *job, const char *key)
{
    const cJSON *o = bullc__job_opts_cjson(job);
    return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* Bull's keep rule as the finishing script reads it: true {count: 0}, a number n {count: n},
 * an object as given (age in seconds), absent or false {count: -1} (keep). Without a rule on
 * the job, the worker's option applies. */
static void write_keep(bullc__buf *mp, bullc_job_t *job, const char *key,
                       const bullc_keep_jobs_t *dflt)
{
    const cJSON *v = opt(job, key);
    if (cJSON_IsObject(v)) {
        static const char *const names[2] = {"count", "age"};
        uint32_t n = 0;
        for (int i = 0; i < 2; i++)
            n += cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, names[i]));
        bullc__mp_map(mp, n);
        for (int i = 0; i < 2; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, names[i]);
            if (cJSON_IsNumber(x)) {
                bullc__mp_cstr(mp, names[i]);
                bullc__mp_number(mp, x->valuedouble);
            }
        }
        return;
    }
    int own = cJSON_IsBool(v) || cJSON_IsNumber(v);
    int age = !own && dflt->age_s > 0;
    bullc__mp_map(mp, (uint32_t)(1 + age));
    bullc__mp_cstr(mp, "count");
    if (cJSON_IsNumber(v))
        bullc__mp_number(mp, v->valuedouble);
    else
        bullc__mp_int(mp, cJSON_IsTrue(v) ? 0 : own ? -1 : dflt->count);
    if (age) {
        bullc__mp_cstr(mp, "age");
        bullc__mp_int(mp, dflt->age_s);
    }
}

/* {"jobId":"<id>","val":"<value>"}; without val when the handler gave no result. */
static char *event_json(const char *id, const char *val)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_puts(&b, "{\"jobId\":");
    bullc__json_append_string(&b, id, strlen(id));
    if (val) {
        bullc__buf_puts(&b, ",\"val\":");
        bullc__json_append_string(&b, val, strlen(val));
    }
    bullc__buf_puts(&b, "}");
    return bullc__buf_take(&b);
}

/* How many stacktrace entries a job keeps: the last stackTraceLimit when that is set and not
 * 0, else all (-1). */
static long long stack_limit(bullc_job_t *job)
{
    const cJSON *lim = opt(job, "stackTraceLimit");
    return cJSON_IsNumber(lim) && lim->valuedouble >= 1 ? (long long)lim->valuedouble : -1;
}

/* ---- retries ------------------------------------------------------------------------------ */

/* The delay before retry number `made` (failures so far, this one included), as Bull computes
 * it: 1 with *delay (0 = at once), or 0 when the job must fail now. */
static int backoff_delay(bullc__proto *p, bullc_job_t *job, long made, const char *reason,
                         double *delay)
{
    const cJSON *b = opt(job, "backoff");
    *delay = 0;
    if (!b || cJSON_IsNull(b))
        return 1;
    const char *type = "fixed";
    double base = 0;
    if (cJSON_IsNumber(b)) {
        base = b->valuedouble;
    } else if (cJSON_IsObject(b)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(b, "type");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "delay");
        type = cJSON_IsString(ty) ? ty->valuestring : "";
        base = cJSON_IsNumber(d) ? d->valuedouble : 0;
    }
    if (p->w.backoff_fn && strcmp(type, "fixed") != 0 && strcmp(type, "exponential") != 0) {
        long long d = p->w.backoff_fn(made, type, reason, job, p->w.backoff_user_data);
        *delay = (double)d;
        return d != -1;
    }
    if (strcmp(type, "fixed") == 0) {
        *delay = base;
    } else if (strcmp(type, "exponential") == 0) {
        *delay = round((pow(2, (double)made) - 1) * base);
    } else {
        bullc__log(&p->log, BULLC_LOG_WARN, "job %s: backoff type \"%s\" needs a custom strategy "
                   "(backoff_fn); failing it without retry", job->id, type);
        return 0;
    }
    if (!isfinite(*delay) || *delay < 0)
        *delay = *delay == -1 ? -1 : 0;
    return *delay != -1;
}

unsigned bullc__bull_id_low_bits(const char *id)
{
    while (*id == ' ' || *id == '\t' || *id == '\n' || *id == '\r')
        id++;
    char *end;
    double d = (id[0] == '0' && (id[1] == 'x' || id[1] == 'X')) ? (double)strtoull(id + 2, &end, 16)
                                                                : strtod(id, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end || !isfinite(d) || (end == id && *id))
        return 0;
    double m = fmod(trunc(d), 4294967296.0);
    if (m < 0)
        m += 4294967296.0;
    return (unsigned)m & 0xfffu;
}

/* Bull retries while failures < opts.attempts and the job may be retried. */
static int should_retry(bullc__proto *p, bullc_job_t *job, const bullc__outcome *oc, long made,
                        double *delay)
{
    const cJSON *a = opt(job, "attempts");
    *delay = 0;
    if (oc->unrecoverable || !cJSON_IsNumber(a) || (double)made >= a->valuedouble)
        return 0;
    return backoff_delay(p, job, made, oc->reason, delay);
}

/* The fields a failed attempt records: stacktrace, failedReason, attemptsMade. */
static void write_fields(bullc__buf *mp, const prepared *c, long made)
{
    char n[32];
    snprintf(n, sizeof n, "%ld", made);
    bullc__mp_array(mp, 6);
    bullc__mp_cstr(mp, "stacktrace");
    bullc__mp_cstr(mp, c->b.stack);
    bullc__mp_cstr(mp, "failedReason");
    bullc__mp_cstr(mp, c->b.reason);
    bullc__mp_cstr(mp, "attemptsMade");
    bullc__mp_cstr(mp, n);
}

static void build_finish(bullc__proto *p, bullc__settle *s, prepared *c, int failed,
                         long long now)
{
    bullc__bull_keys *k = &p->keys;
    c->kind = FINISH;
    c->completion = !failed;
    c->fetch_next = s->fetch_next && !failed && !p->w.limiter_max;
    c->now = now;
    bullc__bull_moveToFinished(&c->b.cmd, k, k->k[failed ? BULLC__BULL_Q_FAILED
                                                       : BULLC__BULL_Q_COMPLETED],
                               c->b.job_key,
                               k->k[failed ? BULLC__BULL_Q_METRICS_FAILED
                                           : BULLC__BULL_Q_METRICS_COMPLETED],
                               s->job->id, now,
                               failed ? "failedReason" : "returnvalue", c->b.value, p->token,
                               c->b.opts.data, c->b.opts.len, c->event,
                               c->fetch_next ? "1" : "0",
                               p->w.lock_duration_ms, c->b.fields.data, c->b.fields.len,
                               p->metrics_max);
}

/* A retry: at once (retryJob) or after the backoff (moveToDelayed). */
static int build_retry(bullc__proto *p, bullc__settle *s, prepared *c, double delay,
                       long long now)
{
    if (delay <= 0) {
        c->kind = RETRY;
        bullc__bull_retryJob(&c->b.cmd, &p->keys, c->b.job_key,
                             bullc__js_truthy(opt(s->job, "lifo")) ? "RPUSH" : "LPUSH",
                             s->job->id, p->token, c->b.fields.data, c->b.fields.len);
        return 0;
    }
    double due = (double)now + delay;
    bullc__buf score;
    bullc__buf_init(&score);
    bullc__js_number(&score, due * 4096.0 + bullc__bull_id_low_bits(s->job->id));
    char *text = bullc__buf_take(&score);
    if (!text)
        return BULLC_ENOMEM;
    c->kind = DELAY;
    c->due_ms = due < 9e15 ? (long long)ceil(due) : 0;
    bullc__bull_moveToDelayed(&c->b.cmd, &p->keys, c->b.job_key, text, s->job->id, p->token,
                              c->b.fields.data, c->b.fields.len);
    free(text);
    return 0;
}

static int prepare_failure(bullc__proto *p, bullc__settle *s, prepared *c,
                           const bullc__outcome *oc, long long now)
{
    long made = s->job->atm + 1;
    if (bullc__proto_settle_failure(&c->b, s->job, "Error", oc->reason, stack_limit(s->job)))
        return BULLC_ENOMEM;
    write_fields(&c->b.fields, c, made);
    double delay = 0;
    if (should_retry(p, s->job, oc, made, &delay)) {
        s->event = BULLC_EVENT_RETRYING;
        return build_retry(p, s, c, delay, now);
    }
    s->event = BULLC_EVENT_FAILED;
    if (!(c->event = event_json(s->job->id, c->b.reason)))
        return BULLC_ENOMEM;
    write_keep(&c->b.opts, s->job, "removeOnFail", &p->w.remove_on_fail);
    build_finish(p, s, c, 1, now);
    return 0;
}

static prepared *prepared_get(bullc__proto *p, bullc__settle *s)
{
    prepared *c = bullc__proto_settle_begin(s, sizeof *c, p->keys.base, p->keys.base_len);
    if (!c)
        return NULL;
    free(c->event);
    c->event = NULL;
    c->due_ms = 0;
    c->completion = 0;
    c->fetch_next = 0;
    c->now = 0;
    s->tick_at_ms = 0;
    return c;
}

int bullc__bull_settle_prepare(bullc__proto *p, bullc__settle *s, const bullc__outcome *oc)
{
    prepared *c = prepared_get(p, s);
    if (!c)
        return BULLC_ENOMEM;
    long long now = bullc__now_ms();
    int rc = 0;
    if (oc->failed) {
        rc = prepare_failure(p, s, c, oc, now);
    } else {
        c->b.value = oc->result ? oc->result : "null";
        s->event = BULLC_EVENT_COMPLETED;
        /* a handler that set no result is Node's undefined: the event carries no val */
        if (!(c->event = event_json(s->job->id, s->job->result ? c->b.value : NULL)))
            return BULLC_ENOMEM;
        write_keep(&c->b.opts, s->job, "removeOnComplete", &p->w.remove_on_complete);
        build_finish(p, s, c, 0, now);
    }
    s->detail = c->b.value;
    if (rc == 0 && bullc__proto_settle_oom(&c->b))
        rc = BULLC_ENOMEM;
    return rc;
}

void bullc__bull_settle_release(bullc__proto *p, bullc__settle *s)
{
    (void)p;
    prepared *c = s->priv;
    if (c)
        free(c->event);
    bullc__proto_settle_free(s);
}

bullc__cmd *bullc__bull_settle_cmd(bullc__proto *p, bullc__settle *s)
{
    (void)p;
    return &((prepared *)s->priv)->b.cmd;
}

int bullc__bull_settle_finishes(const bullc__settle *s)
{
    return ((const prepared *)s->priv)->kind == FINISH;
}

int bullc__bull_settle_item(bullc__proto *p, bullc__settle *s, bullc__cmd *batch)
{
    const prepared *c = s->priv;
    bullc__bull_keys *k = &p->keys;
    int failed = !c->completion;
    bullc__bull_moveToFinishedBatch_each(
        batch, k->k[failed ? BULLC__BULL_Q_FAILED : BULLC__BULL_Q_COMPLETED], c->b.job_key,
        k->k[failed ? BULLC__BULL_Q_METRICS_FAILED : BULLC__BULL_Q_METRICS_COMPLETED], s->job->id,
        c->now, failed ? "failedReason" : "returnvalue", c->b.value, c->b.opts.data,
        c->b.opts.len, c->event, c->fetch_next ? "1" : "0", c->b.fields.data, c->b.fields.len,
        p->metrics_max);
    return bullc__cmd_oom(batch) ? BULLC_ENOMEM : 0;
}

/* A completion Redis refused becomes a failure with Node Bull's message, recorded (and refused
 * again) as the next step: so the attempt is counted as Bull counts it (docs/bull.md §4.3). */
static int refused_completion(bullc__settle *s, long long code)
{
    char msg[512];
    const char *id = s->job->id;
    if (code == -1)
        snprintf(msg, sizeof msg, "Missing key for job %s finished", id);
    else if (code == -2)
        snprintf(msg, sizeof msg, "Missing lock for job %s finished", id);
    else if (code == -3)
        snprintf(msg, sizeof msg, "Job %s is not in the active state. finished", id);
    else
        snprintf(msg, sizeof msg, "Lock mismatch for job %s. Cmd finished from active", id);
    bullc__job_set_failure(s->job, msg, 0);
    return BULLC__AGAIN;
}

/* A reply that came back: a refusal, the next job (fetch-next), or nothing. */
static void decode_reply(bullc__proto *p, bullc__settle *s, const prepared *c,
                         const bullc__reply *r, const char *name)
{
    if (r->type == BULLC__R_INTEGER && r->integer < 0) {
        s->rc = bullc__bull_code(r->integer);
        if (c->completion && s->rc != BULLC_EPROTO)
            s->rc = refused_completion(s, r->integer);
    } else if (bullc__bull_decode_taken(p, r, &s->next) != 0) {
        s->rc = BULLC_EPROTO;
        snprintf(s->errstr, sizeof s->errstr, "%s: unexpected reply", name);
    } else if (c->kind == DELAY) {
        s->tick_at_ms = c->due_ms; /* this worker promotes it when due */
    }
}

void bullc__bull_settle_decode(bullc__proto *p, bullc__settle *s, const bullc__reply *r)
{
    prepared *c = s->priv;
    static const char *const names[] = {"", "moveToFinished", "retryJob", "moveToDelayed"};
    if (!bullc__proto_settle_failed(s, names[c->kind], r))
        decode_reply(p, s, c, r, names[c->kind]);
    /* a repeat iteration added before the handler is promoted when due, too */
    long long due = atomic_exchange(&p->repeat_due, 0);
    if (due > 0 && (s->tick_at_ms <= 0 || due < s->tick_at_ms))
        s->tick_at_ms = due;
}
