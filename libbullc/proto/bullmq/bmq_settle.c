/* bmq_settle.c - a handler's outcome as BullMQ's Worker records it (docs/bullmq.md §5.8):
 * complete, retry at once, retry after a backoff, or fail for good; prepared on the handler's
 * thread, sent by the exchange (bmq_xchg.c), decoded back here. */
#include "bullmq.h"
#include "proto/shared/shared.h"
#include "util/js.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A settle's prepared call. */
typedef struct prepared {
    bullc__settle_base b; /* b.cmd: RETRY and DELAY: the call; FINISH: moveToFinished, built
                             when sent alone; b.opts: msgpack options of a FINISH or DELAY;
                             b.fields: msgpack [failedReason, ..., stacktrace, ...] */
    bullc__bmq_call call;
    int cmd_built;
    const char *set_key, *metrics_key;
    long long now;
    int failed;
    bullc_event_t event;
    const char *tm; /* tracing: the failure's trace context, written as the `tm` field */
} prepared;

/* ---- reading the job's options ------------------------------------------------------------ */

static const cJSON *opt(bullc_job_t *job, const char *key)
{
    const cJSON *o = bullc__job_opts_cjson(job);
    return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static long long opt_int(bullc_job_t *job, const char *key, long long dflt)
{
    const cJSON *v = opt(job, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return dflt;
    return (long long)v->valuedouble;
}

/* keepJobs ({count} or {age, count?, limit?}) for removeOnComplete/removeOnFail: the job's own
 * option wins over the worker's. */
static void write_keep_jobs(bullc__buf *mp, bullc_job_t *job, const char *key,
                            const bullc_keep_jobs_t *dflt)
{
    const cJSON *v = opt(job, key);
    if (cJSON_IsBool(v) || cJSON_IsNumber(v)) {
        bullc__mp_map(mp, 1);
        bullc__mp_cstr(mp, "count");
        bullc__mp_int(mp, cJSON_IsTrue(v) ? 0 : cJSON_IsFalse(v) ? -1 : (long long)v->valuedouble);
        return;
    }
    if (cJSON_IsObject(v)) {
        static const char *const names[3] = {"count", "age", "limit"};
        uint32_t n = 0;
        for (int i = 0; i < 3; i++)
            n += cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, names[i]));
        bullc__mp_map(mp, n);
        for (int i = 0; i < 3; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, names[i]);
            if (!cJSON_IsNumber(x))
                continue;
            bullc__mp_cstr(mp, names[i]);
            if (x->valuedouble == floor(x->valuedouble) && fabs(x->valuedouble) < 9e15)
                bullc__mp_int(mp, (long long)x->valuedouble);
            else
                bullc__mp_double(mp, x->valuedouble);
        }
        return;
    }
    int age = dflt->age_s > 0, limit = age && dflt->limit > 0;
    bullc__mp_map(mp, (uint32_t)(1 + age + limit));
    bullc__mp_cstr(mp, "count");
    bullc__mp_int(mp, dflt->count);
    if (age) {
        bullc__mp_cstr(mp, "age");
        bullc__mp_int(mp, dflt->age_s);
    }
    if (limit) {
        bullc__mp_cstr(mp, "limit");
        bullc__mp_int(mp, dflt->limit);
    }
}

/* ---- retries ------------------------------------------------------------------------------ */

/* The job's backoff as {type, base delay, jitter}; 0 when it has none (retry at once). */
static int read_backoff(bullc_job_t *job, const char **type, double *base, double *jitter)
{
    const cJSON *b = opt(job, "backoff");
    *type = "";
    *base = 0;
    *jitter = 0;
    if (!bullc__js_truthy(b))
        return 0;
    if (cJSON_IsNumber(b)) {
        *type = "fixed"; /* a bare number is a fixed delay */
        *base = b->valuedouble;
    } else if (cJSON_IsObject(b)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(b, "type");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "delay");
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(b, "jitter");
        if (cJSON_IsString(ty))
            *type = ty->valuestring;
        if (cJSON_IsNumber(d))
            *base = d->valuedouble;
        if (cJSON_IsNumber(j) && j->valuedouble > 0 && j->valuedouble <= 1)
            *jitter = j->valuedouble;
    }
    if (!isfinite(*base))
        *base = 0;
    return 1;
}

/* The delay before the coming retry, as Node's Backoffs.calculate, with n = attempts made
 * including the one that just failed. 1 with *delay set (0 = at once), or 0 when the job must
 * not be retried (a custom strategy said -1, or there is none for the job's type). Kept as a
 * double, as Node's number: a high attempt count overflows a long long. */
static int backoff_delay(bullc__proto *p, bullc_job_t *job, long n, const char *reason,
                         double *delay)
{
    const char *type;
    double base, jitter, max;
    *delay = 0;
    if (!read_backoff(job, &type, &base, &jitter))
        return 1;
    if (strcmp(type, "fixed") == 0) {
        max = base;
    } else if (strcmp(type, "exponential") == 0) {
        max = round(pow(2, (double)(n - 1)) * base);
    } else if (p->w.backoff_fn) {
        long long d = p->w.backoff_fn(n, type, reason, job, p->w.backoff_user_data);
        *delay = (double)d;
        return d != -1;
    } else {
        bullc__log(&p->log, BULLC_LOG_WARN,
                   "job %s: backoff type \"%s\" needs a custom strategy (backoff_fn); failing "
                   "it without retry",
                   job->id, type);
        return 0;
    }
    if (!isfinite(max))
        return 1;
    if (jitter > 0) {
        /* any uniform source will do; the job id and clock keep threads apart */
        unsigned seed = (unsigned)bullc__mono_ms() ^ (unsigned)(uintptr_t)job;
        double r = (double)rand_r(&seed) / ((double)RAND_MAX + 1.0);
        *delay = floor(r * max * jitter + max * (1 - jitter));
    } else {
        *delay = max;
    }
    /* as Node, -1 from any strategy (e.g. a fixed delay of -1) means no retry */
    if (*delay == -1) {
        *delay = 0;
        return 0;
    }
    return 1;
}

/* Node's shouldRetryJob: attempts left, recoverable, started fewer times than
 * maxStartedAttempts; then the backoff may still refuse. */
static int should_retry(bullc__proto *p, bullc_job_t *job, const bullc__outcome *oc,
                        double *delay)
{
    long attempts = (long)opt_int(job, "attempts", 0);
    int max_started = p->max_started_attempts;
    if (oc->unrecoverable || job->atm + 1 >= attempts ||
        (max_started > 0 && max_started <= job->ats))
        return 0;
    return backoff_delay(p, job, job->atm + 1, oc->reason, delay);
}

/* ---- preparing the calls ------------------------------------------------------------------ */

/* The fields a failure updates: failedReason, stacktrace and, when traced, `tm` (the context of
 * the span recording it, as Node's Job.moveToFailed writes it: docs/bullmq.md "Tracing"). */
static void write_fields(prepared *c)
{
    bullc__mp_array(&c->b.fields, c->tm ? 6 : 4);
    bullc__mp_cstr(&c->b.fields, "failedReason");
    bullc__mp_cstr(&c->b.fields, c->b.reason);
    bullc__mp_cstr(&c->b.fields, "stacktrace");
    bullc__mp_cstr(&c->b.fields, c->b.stack);
    if (c->tm) {
        bullc__mp_cstr(&c->b.fields, "tm");
        bullc__mp_cstr(&c->b.fields, c->tm);
    }
}

/* moveToFinished's options (docs/bullmq.md §4.5). */
static void write_finish_opts(bullc__proto *p, bullc_job_t *job, prepared *c)
{
    bullc__buf *mp = &c->b.opts;
    int limiter = p->w.limiter_max > 0;
    bullc__mp_map(mp, 5 + (p->name != NULL) + limiter);
    bullc__mp_cstr(mp, "token");
    bullc__mp_cstr(mp, job->token);
    if (limiter)
        bullc__bmq_write_limiter(p, mp);
    if (p->name) {
        bullc__mp_cstr(mp, "name");
        bullc__mp_cstr(mp, p->name);
    }
    bullc__mp_cstr(mp, "keepJobs");
    if (c->failed)
        write_keep_jobs(mp, job, "removeOnFail", &p->w.remove_on_fail);
    else
        write_keep_jobs(mp, job, "removeOnComplete", &p->w.remove_on_complete);
    bullc__mp_cstr(mp, "lockDuration");
    bullc__mp_int(mp, p->w.lock_duration_ms);
    bullc__mp_cstr(mp, "attempts");
    bullc__mp_int(mp, opt_int(job, "attempts", 0));
    bullc__mp_cstr(mp, "maxMetricsSize");
    if (p->metrics_max_data_points > 0)
        bullc__mp_int(mp, p->metrics_max_data_points);
    else
        bullc__mp_cstr(mp, "");
}

static void prepare_finish(bullc__proto *p, bullc_job_t *job, prepared *c)
{
    c->call = BULLC__BMQ_FINISH;
    c->set_key = p->keys.k[c->failed ? BULLC__BMQ_Q_FAILED : BULLC__BMQ_Q_COMPLETED];
    c->metrics_key =
        p->keys.k[c->failed ? BULLC__BMQ_Q_METRICS_FAILED : BULLC__BMQ_Q_METRICS_COMPLETED];
    write_finish_opts(p, job, c);
    if (c->failed)
        write_fields(c);
}

/* retryJob (no delay) or moveToDelayed (a backoff), docs/bullmq.md §4.7-4.8. */
static void prepare_retry(bullc__proto *p, bullc__settle *s, prepared *c, double delay)
{
    bullc_job_t *job = s->job;
    write_fields(c);
    if (delay == 0) {
        c->call = BULLC__BMQ_RETRY;
        const char *push = cJSON_IsTrue(opt(job, "lifo")) ? "RPUSH" : "LPUSH";
        bullc__bmq_retryJob(&c->b.cmd, &p->keys, c->b.job_key, c->now, push, job->id, job->token,
                            c->b.fields.data, c->b.fields.len);
        return;
    }
    c->call = BULLC__BMQ_DELAY;
    if (s->fetch_next)
        bullc__bmq_fetch_opts(p, &c->b.opts, job->token, NULL, 0);
    /* the delay as Node sends its number (String(delay)) */
    bullc__buf dl;
    bullc__buf_init(&dl);
    bullc__js_number(&dl, delay);
    bullc__bmq_moveToDelayed(&c->b.cmd, &p->keys, c->b.job_key, c->now, job->id, job->token,
                             dl.oom ? "0" : dl.data, "0", c->b.fields.data, c->b.fields.len,
                             s->fetch_next ? "1" : "0", c->b.opts.data, c->b.opts.len);
    if (dl.oom)
        c->b.cmd.args.oom = 1;
    bullc__buf_free(&dl);
}

static int prepare_failure(bullc__proto *p, bullc__settle *s, prepared *c,
                           const bullc__outcome *oc)
{
    double delay = 0;
    int retry = should_retry(p, s->job, oc, &delay);
    /* the stored stacktrace keeps its last stackTraceLimit entries */
    if (bullc__proto_settle_failure(&c->b, s->job,
                                    oc->unrecoverable ? "UnrecoverableError" : "Error",
                                    oc->reason, opt_int(s->job, "stackTraceLimit", -1)))
        return BULLC_ENOMEM;
    c->event = retry ? BULLC_EVENT_RETRYING : BULLC_EVENT_FAILED;
    /* Node writes no context for a job added with telemetry.omitContext (`omc`) */
    c->tm = oc->trace_meta && !cJSON_IsTrue(opt(s->job, "omc")) ? oc->trace_meta : NULL;
    s->retry_delayed = retry && delay != 0;
    if (retry)
        prepare_retry(p, s, c, delay);
    else
        prepare_finish(p, s->job, c);
    return 0;
}

int bullc__bmq_settle_prepare(bullc__proto *p, bullc__settle *s, const bullc__outcome *oc)
{
    prepared *c = bullc__proto_settle_begin(s, sizeof *c, p->keys.base, p->keys.base_len);
    if (!c)
        return BULLC_ENOMEM;
    c->cmd_built = 0;
    c->now = bullc__now_ms();
    c->failed = oc->failed;
    c->tm = NULL;
    s->retry_delayed = 0;
    int rc = 0;
    if (oc->failed) {
        rc = prepare_failure(p, s, c, oc);
    } else {
        c->b.value = oc->result ? oc->result : "null";
        c->event = BULLC_EVENT_COMPLETED;
        prepare_finish(p, s->job, c);
    }
    s->event = c->event;
    s->detail = c->b.value;
    if (rc == 0 && bullc__proto_settle_oom(&c->b))
        rc = BULLC_ENOMEM;
    return rc;
}

void bullc__bmq_settle_release(bullc__proto *p, bullc__settle *s)
{
    (void)p;
    bullc__proto_settle_free(s);
}

bullc__bmq_call bullc__bmq_settle_call(const bullc__settle *s)
{
    return ((const prepared *)s->priv)->call;
}

static const char *target(const prepared *c) { return c->failed ? "failed" : "completed"; }
static const char *value_field(const prepared *c)
{
    return c->failed ? "failedReason" : "returnvalue";
}

bullc__cmd *bullc__bmq_settle_cmd(bullc__proto *p, bullc__settle *s)
{
    prepared *c = s->priv;
    if (c->call == BULLC__BMQ_FINISH && !c->cmd_built) {
        bullc__bmq_moveToFinished(&c->b.cmd, &p->keys, c->set_key, c->b.job_key, c->metrics_key,
                                  s->job->id, c->now, value_field(c), c->b.value, target(c),
                                  s->fetch_next ? "1" : "0", c->b.opts.data, c->b.opts.len,
                                  c->b.fields.data, c->b.fields.len);
        c->cmd_built = 1;
    }
    return &c->b.cmd;
}

void bullc__bmq_settle_item(bullc__settle *s, bullc__cmd *batch)
{
    prepared *c = s->priv;
    bullc__bmq_moveToFinishedBatch_each(batch, c->set_key, c->b.job_key, c->metrics_key, s->job->id,
                                        c->now, value_field(c), c->b.value, target(c),
                                        s->fetch_next ? "1" : "0", c->b.opts.data, c->b.opts.len,
                                        c->b.fields.data, c->b.fields.len);
}

/* ---- results ------------------------------------------------------------------------------ */

/* A completion refused because of children fails the job, as in Node (docs/bullmq.md §5.8). */
static int children_refusal(bullc__settle *s, int code)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             code == BULLC_EPENDINGCHILDREN
                 ? "Job %s has pending dependencies. moveToFinished"
                 : "Cannot complete job %s because it has at least one failed child. "
                   "moveToFinished",
             s->job->id);
    bullc__job_set_failure(s->job, msg, code == BULLC_EFAILEDCHILDREN);
    return BULLC__AGAIN;
}

/* A reply that came back: a refusal, the next job (fetch-next), or nothing. */
static void decode_reply(bullc__settle *s, const prepared *c, const bullc__reply *r,
                         const char *name)
{
    if (r->type == BULLC__R_INTEGER && r->integer < 0) {
        s->rc = bullc__bmq_code(r->integer);
        if (c->call == BULLC__BMQ_FINISH && !c->failed &&
            (s->rc == BULLC_EPENDINGCHILDREN || s->rc == BULLC_EFAILEDCHILDREN))
            s->rc = children_refusal(s, s->rc);
    } else if (bullc__bmq_decode_next(r, &s->next, &s->hints) != 0) {
        s->rc = BULLC_EPROTO;
        snprintf(s->errstr, sizeof s->errstr, "%s: unexpected reply", name);
    } else if (s->next) {
        /* a job handed out with fetch-next keeps the finished job's token (as Node) */
        memcpy(s->next->token, s->job->token, sizeof s->next->token);
    }
}

void bullc__bmq_settle_decode(bullc__proto *p, bullc__settle *s, const bullc__reply *r)
{
    (void)p;
    prepared *c = s->priv;
    static const char *const names[] = {"", "moveToFinished", "retryJob", "moveToDelayed"};
    if (!bullc__proto_settle_failed(s, names[c->call], r))
        decode_reply(s, c, r, names[c->call]);
}

const char *bullc__bmq_trace_meta(bullc__proto *p, bullc_job_t *job)
{
    (void)p;
    const cJSON *tm = opt(job, "tm"); /* Node's opts.telemetry.metadata */
    return cJSON_IsString(tm) ? tm->valuestring : NULL;
}
