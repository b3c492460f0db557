/* finish.c - runs a job's handler and records the outcome as BullMQ's Worker does (PROTOCOL.md
 * §4.3): complete, retry now, retry after a backoff, or fail for good. */
#include "worker.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the job's options ---------------------------------------------------------- */

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

/* Writes keepJobs ({count} or {age, count?, limit?}) for removeOnComplete/removeOnFail: the
 * job's own option wins over the worker's. */
static void write_keep_jobs(bullc__buf *mp, bullc_job_t *job, const char *key,
                            const bullc_keep_jobs_t *dflt)
{
    const cJSON *v = opt(job, key);
    if (cJSON_IsTrue(v) || cJSON_IsFalse(v)) {
        bullc__mp_map(mp, 1);
        bullc__mp_cstr(mp, "count");
        bullc__mp_int(mp, cJSON_IsTrue(v) ? 0 : -1);
        return;
    }
    if (cJSON_IsNumber(v)) {
        bullc__mp_map(mp, 1);
        bullc__mp_cstr(mp, "count");
        bullc__mp_int(mp, (long long)v->valuedouble);
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
    uint32_t n = 1 + (dflt->age_s > 0) + (dflt->age_s > 0 && dflt->limit > 0);
    bullc__mp_map(mp, n);
    bullc__mp_cstr(mp, "count");
    bullc__mp_int(mp, dflt->count);
    if (dflt->age_s > 0) {
        bullc__mp_cstr(mp, "age");
        bullc__mp_int(mp, dflt->age_s);
        if (dflt->limit > 0) {
            bullc__mp_cstr(mp, "limit");
            bullc__mp_int(mp, dflt->limit);
        }
    }
}

/* The stacktrace JSON array after this failure: previous entries plus `entry`, keeping the last
 * stackTraceLimit entries. NULL on OOM. */
static char *next_stacktrace(bullc_job_t *job, const char *entry)
{
    cJSON *arr = NULL;
    const char *prev = bullc_job_field(job, "stacktrace");
    if (prev) {
        arr = cJSON_Parse(prev);
        if (arr && !cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    if (!arr && !(arr = cJSON_CreateArray()))
        return NULL;
    cJSON *s = cJSON_CreateString(entry);
    if (!s) {
        cJSON_Delete(arr);
        return NULL;
    }
    cJSON_AddItemToArray(arr, s);
    long long limit = opt_int(job, "stackTraceLimit", -1);
    if (limit >= 0)
        while (cJSON_GetArraySize(arr) > limit)
            cJSON_DeleteItemFromArray(arr, 0);
    char *out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}

/* The backoff before the coming retry, as Node's Backoffs.calculate: n = attempts made including
 * the one that just failed. Returns 1 with *delay set (0 = retry at once), or 0 when the job must
 * not be retried (the custom strategy said -1, or there is none for the job's type). */
static int backoff_delay(bullc__hthread *t, bullc_job_t *job, long n, const char *reason,
                         double *delay)
{
    bullc_worker_t *w = t->w;
    *delay = 0;
    const cJSON *b = opt(job, "backoff");
    /* no backoff (or a falsy one): retry at once */
    if (!b || cJSON_IsNull(b) || cJSON_IsFalse(b) ||
        (cJSON_IsString(b) && b->valuestring[0] == '\0'))
        return 1;
    const char *type = "";
    double base = 0, jitter = 0;
    if (cJSON_IsNumber(b)) {
        type = "fixed"; /* a bare number is a fixed delay */
        base = b->valuedouble;
    } else if (cJSON_IsObject(b)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(b, "type");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "delay");
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(b, "jitter");
        if (cJSON_IsString(ty))
            type = ty->valuestring;
        if (cJSON_IsNumber(d))
            base = d->valuedouble;
        if (cJSON_IsNumber(j) && j->valuedouble > 0 && j->valuedouble <= 1)
            jitter = j->valuedouble;
    }
    if (!isfinite(base))
        base = 0;
    double max;
    if (strcmp(type, "fixed") == 0) {
        max = base;
    } else if (strcmp(type, "exponential") == 0) {
        max = round(pow(2, (double)(n - 1)) * base);
    } else if (w->o.backoff_fn) {
        long long d = w->o.backoff_fn(n, type, reason, job, w->o.backoff_user_data);
        if (d == -1)
            return 0;
        *delay = (double)d;
        return 1;
    } else {
        bullc__log(&w->log, BULLC_LOG_WARN,
                   "job %s: backoff type \"%s\" needs a custom strategy (backoff_fn); failing "
                   "it without retry",
                   job->id, type);
        return 0;
    }
    if (!isfinite(max))
        return 1;
    /* kept as a double (as Node's number): an exponential delay at a high attempt count is
     * past what a long long holds (converting it was undefined and came out negative, which
     * retried the job at once instead of far in the future) */
    if (jitter > 0) {
        double r = (double)rand_r(&t->seed) / ((double)RAND_MAX + 1.0);
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

/* ---- calling the finishing scripts ------------------------------------------------------- */

int bullc__script_code(long long code)
{
    switch (code) {
    case -1:
        return BULLC_ENOJOB;
    case -2:
        return BULLC_ELOCKMISSING;
    case -3:
        return BULLC_ENOTINSTATE;
    case -4:
        return BULLC_EPENDINGCHILDREN;
    case -5:
        return BULLC_ENOPARENT;
    case -6:
        return BULLC_ELOCKMISMATCH;
    case -9:
        return BULLC_EFAILEDCHILDREN;
    default:
        return BULLC_EPROTO;
    }
}

/* Sends a finishing script, retrying across connection losses: forever while the worker runs
 * (the result must not be lost), and for one lock duration once it is stopping, after which the
 * job is left to the stalled checker. */
static int send_finish(bullc__hthread *t, bullc__script_id sid, int nkeys, const char **keys,
                       int nargs, const char **args, const size_t *lens, bullc__reply **reply,
                       const char *job_id)
{
    bullc_worker_t *w = t->w;
    long long first_fail = 0;
    int failures = 0;
    for (;;) {
        int rc = bullc__conn_script(&t->cn, sid, nkeys, keys, nargs, args, lens, reply);
        if (rc != BULLC_EIO)
            return rc;
        long long now = bullc__now_ms();
        if (!first_fail) {
            first_fail = now;
            bullc__log(&w->log, BULLC_LOG_WARN,
                       "%s: job %s finished but Redis is unreachable (%s); will retry", t->label,
                       job_id, t->cn.errstr);
        }
        if (bullc__worker_stopping(w) && now - first_fail > w->o.lock_duration_ms) {
            bullc__log(&w->log, BULLC_LOG_ERROR,
                       "%s: gave up recording job %s; its lock expires and a stalled check "
                       "will requeue it",
                       t->label, job_id);
            return rc;
        }
        failures++;
        /* not interruptible: keep trying while stopping, until the deadline above */
        struct timespec ts = {0, (long)bullc__backoff_ms(failures, &t->seed) * 1000000L};
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        nanosleep(&ts, NULL);
    }
}

/* Decodes a finishing script's reply r (inside `owner`, which is then freed): a negative code,
 * 0, or a next-job reply. */
static int finish_reply(const bullc__reply *r, bullc__reply *owner, bullc__next *next)
{
    int rc = 0;
    if (r->type == BULLC__R_INTEGER && r->integer < 0)
        rc = bullc__script_code(r->integer);
    else if (bullc__parse_next(r, next) != 0)
        rc = BULLC_EPROTO;
    bullc__reply_free(owner);
    return rc;
}

/* ---- group commit ------------------------------------------------------------------------ */

enum { BULLC__FIN_BATCH_MAX = 16 }; /* bounds the command and reply each connection buffers */

/* Sends `batch` (n requests) as one moveToFinishedBatch on t's connection and hands each request
 * its element of the reply. */
static void send_batch(bullc__hthread *t, bullc__finreq **batch, int n)
{
    bullc_worker_t *w = t->w;
    const bullc__keys *k = &w->keys;
    enum { SHARED = BULLC__FETCH_NKEYS };
    const char *keys[SHARED + 3 * BULLC__FIN_BATCH_MAX];
    const char *args[1 + 8 * BULLC__FIN_BATCH_MAX];
    size_t lens[1 + 8 * BULLC__FIN_BATCH_MAX];
    bullc__fetch_keys(w, keys); /* the queue keys come first, as in moveToActive */
    args[0] = k->base;
    lens[0] = k->base_len;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < 3; i++)
            keys[SHARED + 3 * j + i] = batch[j]->keys[i];
        for (int i = 0; i < 8; i++) {
            args[1 + 8 * j + i] = batch[j]->args[i];
            lens[1 + 8 * j + i] = batch[j]->lens[i];
        }
    }
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&t->cn, BULLC__S_MOVE_TO_FINISHED_BATCH, SHARED + 3 * n, keys,
                                1 + 8 * n, args, lens, &r);
    if (rc == 0 && (r->type != BULLC__R_ARRAY || r->elements != (size_t)n)) {
        snprintf(t->cn.errstr, sizeof t->cn.errstr, "moveToFinishedBatch: unexpected reply");
        rc = BULLC_EPROTO;
    }
    for (int j = 0; j < n; j++) {
        batch[j]->rc = rc;
        if (rc == 0) {
            batch[j]->reply = r->element[j];
            batch[j]->root = r;
            bullc__reply_ref(r);
        }
    }
    bullc__reply_free(r);
}

/* Records a finish together with those other handler threads submit meanwhile (flat combining):
 * the request is queued; a thread that finds no batch in flight becomes the leader and sends
 * everything queued (its own request included) in one call, then wakes the others. At
 * concurrency 1, or when nobody else is finishing, that is a batch of one: no wait is added.
 * Returns 0 with req->reply set, or the error of the batch call (the caller then sends its
 * job alone). */
static int finish_combined(bullc__hthread *t, bullc__finreq *req)
{
    bullc_worker_t *w = t->w;
    if (pthread_cond_init(&req->cv, NULL) != 0)
        return BULLC_ETHREAD; /* the caller sends the job alone */
    pthread_mutex_lock(&w->fin_mu);
    req->next = NULL;
    if (w->fin_tail)
        w->fin_tail->next = req;
    else
        w->fin_head = req;
    w->fin_tail = req;
    while (!req->done) {
        if (w->fin_leader) {
            /* woken when our request is done, or when we are first in line to lead */
            pthread_cond_wait(&req->cv, &w->fin_mu);
            continue;
        }
        /* lead: take up to BATCH_MAX queued requests from the head. Ours is among them unless
         * more than BATCH_MAX were ahead of it; then it stays queued, is still not done, and
         * this thread leads again on the next turn of the loop */
        w->fin_leader = 1;
        bullc__finreq *batch[BULLC__FIN_BATCH_MAX];
        int n = 0;
        while (w->fin_head && n < BULLC__FIN_BATCH_MAX) {
            batch[n++] = w->fin_head;
            w->fin_head = w->fin_head->next;
        }
        if (!w->fin_head)
            w->fin_tail = NULL;
        pthread_mutex_unlock(&w->fin_mu);
        send_batch(t, batch, n);
        pthread_mutex_lock(&w->fin_mu);
        for (int j = 0; j < n; j++) {
            batch[j]->done = 1;
            if (batch[j] != req)
                pthread_cond_signal(&batch[j]->cv);
        }
        w->fin_leader = 0;
        if (w->fin_head) /* what queued up meanwhile: its first thread leads the next batch */
            pthread_cond_signal(&w->fin_head->cv);
    }
    pthread_mutex_unlock(&w->fin_mu);
    pthread_cond_destroy(&req->cv);
    return req->rc;
}

typedef struct outcome {
    int failed;
    int unrecoverable;
    const char *message; /* failedReason */
    const char *result;  /* returnvalue JSON */
} outcome;

/* as Node: no fetch-next while closing or locally paused */
static int fetch_next_allowed(bullc_worker_t *w)
{
    return !bullc__worker_stopping(w) && !bullc__worker_paused(w);
}

/* moveToFinished for completion or final failure. */
static int move_to_finished(bullc__hthread *t, bullc_job_t *job, const char *token,
                            const outcome *oc, const char *stack, bullc__next *next)
{
    bullc_worker_t *w = t->w;
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    const char *keys[14] = {
        w->keys.k[BULLC__K_WAIT],    w->keys.k[BULLC__K_ACTIVE],  w->keys.k[BULLC__K_PRIORITIZED],
        w->keys.k[BULLC__K_EVENTS],  w->keys.k[BULLC__K_STALLED], w->keys.k[BULLC__K_LIMITER],
        w->keys.k[BULLC__K_DELAYED], w->keys.k[BULLC__K_PAUSED],  w->keys.k[BULLC__K_META],
        w->keys.k[BULLC__K_PC],
        w->keys.k[oc->failed ? BULLC__K_FAILED : BULLC__K_COMPLETED],
        job_key,
        w->keys.k[oc->failed ? BULLC__K_METRICS_FAILED : BULLC__K_METRICS_COMPLETED],
        w->keys.k[BULLC__K_MARKER]};
    int fetch = fetch_next_allowed(w);
    bullc__buf *mp = &t->mp;
    bullc__buf_reset(mp);
    int limiter = w->o.limiter_max > 0;
    bullc__mp_map(mp, 5 + (w->s_name != NULL) + limiter);
    bullc__mp_cstr(mp, "token");
    bullc__mp_cstr(mp, token);
    if (limiter)
        bullc__write_limiter(w, mp);
    if (w->s_name) {
        bullc__mp_cstr(mp, "name");
        bullc__mp_cstr(mp, w->s_name);
    }
    bullc__mp_cstr(mp, "keepJobs");
    if (oc->failed)
        write_keep_jobs(mp, job, "removeOnFail", &w->o.remove_on_fail);
    else
        write_keep_jobs(mp, job, "removeOnComplete", &w->o.remove_on_complete);
    bullc__mp_cstr(mp, "lockDuration");
    bullc__mp_int(mp, w->o.lock_duration_ms);
    bullc__mp_cstr(mp, "attempts");
    bullc__mp_int(mp, opt_int(job, "attempts", 0));
    bullc__mp_cstr(mp, "maxMetricsSize");
    if (w->o.metrics_max_data_points > 0)
        bullc__mp_int(mp, w->o.metrics_max_data_points);
    else
        bullc__mp_cstr(mp, "");
    size_t opts_len = mp->len;
    if (oc->failed) {
        bullc__mp_array(mp, 4);
        bullc__mp_cstr(mp, "failedReason");
        bullc__mp_cstr(mp, oc->message);
        bullc__mp_cstr(mp, "stacktrace");
        bullc__mp_cstr(mp, stack);
    }
    if (mp->oom) {
        free(job_key);
        return BULLC_ENOMEM;
    }
    char now[24];
    snprintf(now, sizeof now, "%lld", bullc__now_ms());
    const char *value = oc->failed ? oc->message : oc->result;
    const char *args[9] = {job->id,
                           now,
                           oc->failed ? "failedReason" : "returnvalue",
                           value,
                           oc->failed ? "failed" : "completed",
                           fetch ? "1" : "0",
                           w->keys.base,
                           mp->data,
                           oc->failed ? mp->data + opts_len : ""};
    size_t lens[9] = {strlen(job->id), strlen(now), strlen(args[2]), strlen(value),
                      strlen(args[4]), 1, w->keys.base_len, opts_len,
                      oc->failed ? mp->len - opts_len : 0};
    bullc__reply *r = NULL, *owner = NULL;
    int rc = BULLC_EIO;
    if (w->o.concurrency > 1) {
        /* group commit with the other handler threads; on a failure of the batch as a whole
         * (connection lost, ...) this job is sent on its own below, with its retries */
        /* the per-job keys and arguments (the batch shares the queue keys and the prefix);
         * finish_combined initialises the rest */
        bullc__finreq req = {
            .keys = {keys[10], keys[11], keys[12]},
            .args = {args[0], args[1], args[2], args[3], args[4], args[5], args[7], args[8]},
            .lens = {lens[0], lens[1], lens[2], lens[3], lens[4], lens[5], lens[7], lens[8]}};
        rc = finish_combined(t, &req);
        r = req.reply;
        owner = req.root;
        if (rc == 0 && r->type == BULLC__R_ERROR) {
            /* this job's finish raised inside the batch (the others went on): report it as
             * moveToFinished's error, without sending it again */
            snprintf(t->cn.errstr, sizeof t->cn.errstr, "moveToFinished: %s", r->str);
            bullc__reply_free(owner);
            free(job_key);
            return BULLC_ESCRIPT;
        }
    }
    if (rc != 0) {
        rc = send_finish(t, BULLC__S_MOVE_TO_FINISHED, 14, keys, 9, args, lens, &r, job->id);
        owner = r;
    }
    free(job_key);
    if (rc != 0)
        return rc;
    return finish_reply(r, owner, next);
}

/* retryJob (no backoff) or moveToDelayed (with backoff). */
static int retry_job(bullc__hthread *t, bullc_job_t *job, const char *token, const char *message,
                     const char *stack, double delay, bullc__next *next)
{
    bullc_worker_t *w = t->w;
    char *job_key = bullc__job_key(&w->keys, job->id, NULL);
    if (!job_key)
        return BULLC_ENOMEM;
    bullc__buf *mp = &t->mp;
    bullc__buf_reset(mp);
    bullc__mp_array(mp, 4);
    bullc__mp_cstr(mp, "failedReason");
    bullc__mp_cstr(mp, message);
    bullc__mp_cstr(mp, "stacktrace");
    bullc__mp_cstr(mp, stack);
    size_t fields_len = mp->len;
    char now[24];
    snprintf(now, sizeof now, "%lld", bullc__now_ms());
    bullc__reply *r = NULL;
    int rc;
    if (delay != 0) {
        int fetch = fetch_next_allowed(w);
        if (fetch) {
            bullc__buf opts;
            bullc__buf_init(&opts);
            bullc__fetch_opts(w, &opts, token);
            bullc__buf_append(mp, opts.data, opts.len);
            if (opts.oom)
                mp->oom = 1;
            bullc__buf_free(&opts);
        }
        if (mp->oom) {
            free(job_key);
            return BULLC_ENOMEM;
        }
        /* the delay as Node sends its number (String(delay)) */
        bullc__buf dlb;
        bullc__buf_init(&dlb);
        bullc__js_number(&dlb, delay);
        char dl[40];
        snprintf(dl, sizeof dl, "%s", dlb.data && !dlb.oom ? dlb.data : "0");
        bullc__buf_free(&dlb);
        const char *keys[11] = {
            w->keys.k[BULLC__K_MARKER],  w->keys.k[BULLC__K_ACTIVE], w->keys.k[BULLC__K_PRIORITIZED],
            w->keys.k[BULLC__K_DELAYED], job_key,                    w->keys.k[BULLC__K_EVENTS],
            w->keys.k[BULLC__K_META],    w->keys.k[BULLC__K_STALLED], w->keys.k[BULLC__K_WAIT],
            w->keys.k[BULLC__K_LIMITER], w->keys.k[BULLC__K_PC]};
        const char *args[9] = {w->keys.base, now, job->id, token, dl, "0", mp->data,
                               fetch ? "1" : "0", fetch ? mp->data + fields_len : ""};
        size_t lens[9] = {w->keys.base_len, strlen(now), strlen(job->id), strlen(token),
                          strlen(dl), 1, fields_len, 1, fetch ? mp->len - fields_len : 0};
        rc = send_finish(t, BULLC__S_MOVE_TO_DELAYED, 11, keys, 9, args, lens, &r, job->id);
    } else {
        if (mp->oom) {
            free(job_key);
            return BULLC_ENOMEM;
        }
        const cJSON *lifo = opt(job, "lifo");
        const char *keys[11] = {
            w->keys.k[BULLC__K_ACTIVE],  w->keys.k[BULLC__K_WAIT],    w->keys.k[BULLC__K_PAUSED],
            job_key,                     w->keys.k[BULLC__K_META],    w->keys.k[BULLC__K_EVENTS],
            w->keys.k[BULLC__K_DELAYED], w->keys.k[BULLC__K_PRIORITIZED], w->keys.k[BULLC__K_PC],
            w->keys.k[BULLC__K_MARKER],  w->keys.k[BULLC__K_STALLED]};
        const char *push = cJSON_IsTrue(lifo) ? "RPUSH" : "LPUSH";
        const char *args[6] = {w->keys.base, now, push, job->id, token, mp->data};
        size_t lens[6] = {w->keys.base_len, strlen(now), 5, strlen(job->id), strlen(token),
                          fields_len};
        rc = send_finish(t, BULLC__S_RETRY_JOB, 11, keys, 6, args, lens, &r, job->id);
    }
    free(job_key);
    if (rc != 0)
        return rc;
    return finish_reply(r, r, next);
}

/* ---- running a job ---------------------------------------------------------------------- */

static const bullc__handler *find_handler(bullc_worker_t *w, const char *name)
{
    for (size_t i = 0; i < w->nhandlers; i++)
        if (strcmp(w->handlers[i].name, name) == 0)
            return &w->handlers[i];
    return w->catchall.fn ? &w->catchall : NULL;
}

void bullc__slot_set(bullc__hthread *t, bullc_job_t *job, const char *token)
{
    bullc_worker_t *w = t->w;
    pthread_mutex_lock(&w->lock_mu);
    bullc__lockslot *s = &w->slots[t->idx];
    s->job_id = job ? job->id : NULL;
    s->active = job != NULL;
    if (job) {
        snprintf(s->token, sizeof s->token, "%s", token);
        s->renewed_ms = bullc__now_ms();
    }
    pthread_mutex_unlock(&w->lock_mu);
}

static void report_lost(bullc__hthread *t, bullc_job_t *job, int rc)
{
    bullc_worker_t *w = t->w;
    /* the connection's text belongs to this failure only for these codes (else it is stale) */
    int detail = (rc == BULLC_EIO || rc == BULLC_ESCRIPT) && t->cn.errstr[0];
    bullc__log(&w->log, BULLC_LOG_WARN, "%s: could not record the outcome of job %s: %s%s%s",
               t->label, job->id, bullc_strerror(rc), detail ? " - " : "",
               detail ? t->cn.errstr : "");
    if (rc == BULLC_ELOCKMISSING || rc == BULLC_ELOCKMISMATCH)
        bullc__worker_emit(w, BULLC_EVENT_LOCK_LOST, job, bullc_strerror(rc));
}

/* Fails `job` (retrying if allowed). */
static void fail_job(bullc__hthread *t, bullc_job_t *job, const char *token, const char *message,
                     int unrecoverable, bullc__next *next)
{
    bullc_worker_t *w = t->w;
    long attempts = (long)opt_int(job, "attempts", 0);
    double delay = 0;
    /* as Node's shouldRetryJob: attempts left, recoverable, and started fewer times than
     * maxStartedAttempts */
    int max_started = w->o.max_started_attempts;
    int retry = !unrecoverable && job->atm + 1 < attempts &&
                !(max_started > 0 && max_started <= job->ats);
    if (retry)
        retry = backoff_delay(t, job, job->atm + 1, message, &delay);
    bullc__buf entry;
    bullc__buf_init(&entry);
    bullc__buf_printf(&entry, "%s: %s", unrecoverable ? "UnrecoverableError" : "Error", message);
    char *e = bullc__buf_take(&entry);
    char *stack = e ? next_stacktrace(job, e) : NULL;
    free(e);
    if (!stack) {
        bullc__log(&w->log, BULLC_LOG_ERROR, "job %s: out of memory recording its failure",
                   job->id);
        return; /* the lock expires and the stalled checker requeues it */
    }
    int rc;
    if (retry) {
        rc = retry_job(t, job, token, message, stack, delay, next);
        if (rc == 0)
            bullc__worker_emit(w, BULLC_EVENT_RETRYING, job, message);
    } else {
        outcome oc = {1, unrecoverable, message, NULL};
        rc = move_to_finished(t, job, token, &oc, stack, next);
        if (rc == 0)
            bullc__worker_emit(w, BULLC_EVENT_FAILED, job, message);
    }
    free(stack);
    if (rc != 0)
        report_lost(t, job, rc);
}

void bullc__process_job(bullc__hthread *t, bullc_job_t *job, const char *token, bullc__next *next)
{
    bullc_worker_t *w = t->w;
    memset(next, 0, sizeof *next);

    /* a deferred failure (set by the stalled checker or a failed child) fails at once */
    const char *defa = bullc_job_field(job, "defa");
    if (defa) {
        fail_job(t, job, token, defa, 1, next);
        return;
    }
    /* started more often than maxStartedAttempts allows: fail it without running (as Node) */
    if (w->o.max_started_attempts > 0 && w->o.max_started_attempts < job->ats) {
        fail_job(t, job, token, "job started more than allowable limit", 1, next);
        return;
    }

    const bullc__handler *h = find_handler(w, job->name);
    int rc;
    if (!h) {
        bullc__buf b;
        bullc__buf_init(&b);
        bullc__buf_printf(&b, "no handler for job name \"%s\"", job->name);
        job->fail_message = bullc__buf_take(&b);
        rc = BULLC_ENOHANDLER;
    } else {
        bullc__slot_set(t, job, token);
        job->thread = t;
        job->token = token;
        rc = h->fn(job, h->ud);
        job->thread = NULL;
        job->token = NULL;
        bullc__slot_set(t, NULL, NULL);
    }

    if (job->moved) {
        /* the handler's call already moved the job out of active: nothing to record */
        if (rc != BULLC_EMOVED && rc != BULLC_ERATELIMITED)
            bullc__log(&w->log, BULLC_LOG_WARN,
                       "job %s: handler moved its job but returned %s; no outcome recorded",
                       job->id, bullc_errname(rc));
        return;
    }
    if (rc == BULLC_EMOVED || rc == BULLC_ERATELIMITED) {
        free(job->fail_message);
        bullc__buf b;
        bullc__buf_init(&b);
        bullc__buf_printf(&b, "handler returned %s but the job was not moved", bullc_errname(rc));
        job->fail_message = bullc__buf_take(&b);
    }
    if (rc == 0) {
        outcome oc = {0, 0, NULL, job->result ? job->result : "null"};
        rc = move_to_finished(t, job, token, &oc, NULL, next);
        if (rc == 0) {
            bullc__worker_emit(w, BULLC_EVENT_COMPLETED, job, oc.result);
            return;
        }
        if (rc == BULLC_EPENDINGCHILDREN || rc == BULLC_EFAILEDCHILDREN) {
            /* as Node: completing a parent with unfinished or failed children fails it */
            char msg[512];
            snprintf(msg, sizeof msg,
                     rc == BULLC_EPENDINGCHILDREN
                         ? "Job %s has pending dependencies. moveToFinished"
                         : "Cannot complete job %s because it has at least one failed child. "
                           "moveToFinished",
                     job->id);
            fail_job(t, job, token, msg, rc == BULLC_EFAILEDCHILDREN, next);
            return;
        }
        report_lost(t, job, rc);
        return;
    }
    const char *msg = job->fail_message ? job->fail_message : bullc_strerror(rc);
    fail_job(t, job, token, msg, rc == BULLC_EUNRECOVERABLE || job->unrecoverable, next);
}
