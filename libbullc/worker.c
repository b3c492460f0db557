/* worker.c - worker lifecycle: options, handler threads that fetch and process jobs, the one
 * blocking connection that waits on the queue's marker, and stop. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Commands on handler and maintenance connections should never take this long; past it the
 * connection is considered broken and rebuilt. */
#define BULLC__COMMAND_TIMEOUT_MS 30000
/* Longest single BZPOPMIN, as Node (it re-checks delayed jobs at least this often). */
#define BULLC__MAX_BLOCK_MS 10000

void bullc_worker_opts_init(bullc_worker_opts_t *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->redis_url = "redis://127.0.0.1:6379";
    o->prefix = "bull";
    o->concurrency = 1;
    o->lock_duration_ms = 30000;
    o->stalled_interval_ms = 30000;
    o->max_stalled_count = 1;
    o->drain_delay_ms = 5000;
    o->remove_on_complete.count = -1;
    o->remove_on_fail.count = -1;
    o->connect_timeout_ms = 5000;
    o->log_level = BULLC_LOG_INFO;
    o->maximum_rate_limit_delay_ms = 30000;
}

static void make_uuid(char out[37])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* fall back to time and address entropy; uniqueness, not secrecy, is what counts */
        unsigned long long t = (unsigned long long)bullc__now_ms() ^ (unsigned long long)(uintptr_t)out;
        for (int i = 0; i < 16; i++)
            r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37 + clock());
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

void bullc_worker_free(bullc_worker_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nhandlers; i++)
        free(w->handlers[i].name);
    free(w->handlers);
    free(w->s_url);
    free(w->s_prefix);
    free(w->s_queue);
    free(w->s_name);
    free(w->client_name);
    free(w->slots);
    free(w->threads);
    bullc__url_free(&w->url);
    bullc__keys_free(&w->keys);
    if (w->stop_pipe[0] >= 0)
        close(w->stop_pipe[0]);
    if (w->stop_pipe[1] >= 0)
        close(w->stop_pipe[1]);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->lock_mu);
    pthread_mutex_destroy(&w->fin_mu);
    pthread_cond_destroy(&w->park_cv);
    pthread_cond_destroy(&w->blocker_cv);
    pthread_cond_destroy(&w->done_cv);
    free(w);
}

static int dup_opt(char **dst, const char *src)
{
    if (!src) {
        *dst = NULL;
        return 0;
    }
    return (*dst = bullc__strdup(src)) ? 0 : BULLC_ENOMEM;
}

/* Which option is out of range (a sentence for the log), or NULL when all are valid. */
static const char *invalid_option(const bullc_worker_opts_t *o)
{
    if (!o->queue || !*o->queue || strchr(o->queue, ':'))
        return "queue must be a non-empty name without ':'";
    if (!o->prefix)
        return "prefix must not be NULL";
    if (o->concurrency < 1 || o->concurrency > 10000)
        return "concurrency must be from 1 to 10000";
    if (o->lock_duration_ms < 1)
        return "lock_duration_ms must be positive";
    if (o->lock_renew_ms < 0)
        return "lock_renew_ms must not be negative";
    if (o->stalled_interval_ms < 1)
        return "stalled_interval_ms must be positive";
    if (o->max_stalled_count < 0)
        return "max_stalled_count must not be negative";
    if (o->drain_delay_ms < 0)
        return "drain_delay_ms must not be negative";
    if (o->connect_timeout_ms < 0)
        return "connect_timeout_ms must not be negative";
    if (o->remove_on_complete.count < -1 || o->remove_on_fail.count < -1 ||
        o->remove_on_complete.age_s < 0 || o->remove_on_fail.age_s < 0 ||
        o->remove_on_complete.limit < 0 || o->remove_on_fail.limit < 0)
        return "remove_on_complete/remove_on_fail: count must be >= -1, age_s and limit >= 0";
    if (o->limiter_max < 0 || o->limiter_duration_ms < 0 ||
        (o->limiter_max > 0) != (o->limiter_duration_ms > 0))
        return "limiter_max and limiter_duration_ms must both be positive, or both 0";
    if (o->metrics_max_data_points < 0)
        return "metrics_max_data_points must not be negative";
    if (o->max_started_attempts < 0)
        return "max_started_attempts must not be negative";
    if (o->maximum_rate_limit_delay_ms < 1)
        return "maximum_rate_limit_delay_ms must be positive";
    return NULL;
}

int bullc_worker_new(bullc_worker_t **out, const bullc_worker_opts_t *opts)
{
    if (!out)
        return BULLC_EINVAL;
    *out = NULL;
    if (!opts)
        return BULLC_EINVAL;
    const char *bad = invalid_option(opts);
    if (bad) {
        bullc__logger lg = {opts->log_cb, opts->log_user_data, opts->log_level};
        bullc__log(&lg, BULLC_LOG_ERROR, "bullc_worker_new: invalid option: %s", bad);
        return BULLC_EINVAL;
    }

    bullc_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return BULLC_ENOMEM;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->lock_mu, NULL);
    pthread_mutex_init(&w->fin_mu, NULL);

    pthread_cond_init(&w->park_cv, NULL);
    pthread_cond_init(&w->blocker_cv, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    w->o = *opts;
    int rc = BULLC_ENOMEM;
    if (dup_opt(&w->s_url, opts->redis_url ? opts->redis_url : "redis://127.0.0.1:6379") ||
        dup_opt(&w->s_prefix, opts->prefix) || dup_opt(&w->s_queue, opts->queue) ||
        dup_opt(&w->s_name, opts->name && *opts->name ? opts->name : NULL))
        goto fail;
    w->o.redis_url = w->s_url;
    w->o.prefix = w->s_prefix;
    w->o.queue = w->s_queue;
    w->o.name = w->s_name;
    w->log.cb = opts->log_cb;
    w->log.ud = opts->log_user_data;
    w->log.level = opts->log_level;
    w->renew_ms = opts->lock_renew_ms ? opts->lock_renew_ms : opts->lock_duration_ms / 2;
    if (w->renew_ms < 1)
        w->renew_ms = 1;
    w->min_block_s = 0.002;

    if ((rc = bullc__url_parse(w->s_url, &w->url, w->errmsg, sizeof w->errmsg)) != 0)
        goto fail;
    if ((rc = bullc__keys_init(&w->keys, w->s_prefix, w->s_queue)) != 0)
        goto fail;

    rc = BULLC_ENOMEM;
    char *b64 = bullc__base64(w->s_queue, strlen(w->s_queue));
    if (!b64)
        goto fail;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s:%s", w->s_prefix, b64);
    if (w->s_name)
        bullc__buf_printf(&b, ":w:%s", w->s_name);
    free(b64);
    if (!(w->client_name = bullc__buf_take(&b)))
        goto fail;
    make_uuid(w->uuid);

    if (!(w->slots = calloc((size_t)opts->concurrency, sizeof *w->slots)) ||
        !(w->threads = calloc((size_t)opts->concurrency, sizeof *w->threads)))
        goto fail;
    if (pipe(w->stop_pipe) != 0) {
        rc = BULLC_ETHREAD;
        w->stop_pipe[0] = w->stop_pipe[1] = -1;
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(w->stop_pipe[i], F_SETFL, fcntl(w->stop_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(w->stop_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    *out = w;
    return BULLC_OK;
fail:
    bullc_worker_free(w);
    return rc;
}

int bullc_worker_on(bullc_worker_t *w, const char *job_name, bullc_handler_fn fn, void *ud)
{
    if (!w || !fn)
        return BULLC_EINVAL;
    if (w->running)
        return BULLC_EMISUSE;
    if (!job_name) {
        w->catchall.fn = fn;
        w->catchall.ud = ud;
        return BULLC_OK;
    }
    for (size_t i = 0; i < w->nhandlers; i++) {
        if (strcmp(w->handlers[i].name, job_name) == 0) {
            w->handlers[i].fn = fn;
            w->handlers[i].ud = ud;
            return BULLC_OK;
        }
    }
    bullc__handler *h = realloc(w->handlers, (w->nhandlers + 1) * sizeof *h);
    if (!h)
        return BULLC_ENOMEM;
    w->handlers = h;
    char *name = bullc__strdup(job_name);
    if (!name)
        return BULLC_ENOMEM;
    h[w->nhandlers].name = name;
    h[w->nhandlers].fn = fn;
    h[w->nhandlers].ud = ud;
    w->nhandlers++;
    return BULLC_OK;
}

void bullc_worker_stop(bullc_worker_t *w)
{
    if (!w)
        return;
    int saved = errno;
    atomic_store(&w->stop_flag, 1);
    if (w->stop_pipe[1] >= 0) {
        ssize_t n = write(w->stop_pipe[1], "s", 1);
        (void)n; /* a full pipe already wakes everyone */
    }
    errno = saved;
}

const char *bullc_worker_errmsg(const bullc_worker_t *w)
{
    if (!w)
        return "no worker";
    return w->errmsg[0] ? w->errmsg : "no error";
}

int bullc__worker_stopping(bullc_worker_t *w) { return atomic_load(&w->stop_flag) != 0; }

static void abs_deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void bullc__worker_nap(bullc_worker_t *w, int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts;
    abs_deadline(&ts, ms);
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        if (pthread_cond_timedwait(&w->park_cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

void bullc__worker_note_delay(bullc_worker_t *w, long long due_ms)
{
    if (due_ms <= 0)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->block_until <= 0 || due_ms < w->block_until || w->block_until < bullc__now_ms())
        w->block_until = due_ms;
    pthread_mutex_unlock(&w->mu);
}

void bullc__worker_note_limit(bullc_worker_t *w, long long ms)
{
    if (ms <= 0)
        return;
    long long now = bullc__now_ms();
    /* saturate: the reply's number is not trusted to stay clear of overflow */
    long long until = ms > LLONG_MAX - now ? LLONG_MAX : now + ms;
    long long cur = atomic_load(&w->limit_until);
    while (cur < until && !atomic_compare_exchange_weak(&w->limit_until, &cur, until)) {
    }
}

int bullc__worker_paused(bullc_worker_t *w) { return atomic_load(&w->paused) != 0; }

void bullc_worker_pause(bullc_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->paused, 1);
    pthread_mutex_unlock(&w->mu);
}

void bullc_worker_resume(bullc_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->paused, 0);
    /* parked threads fetch at once rather than wait for a marker they may have missed */
    w->wakeups = w->parked;
    pthread_cond_broadcast(&w->park_cv);
    pthread_cond_signal(&w->blocker_cv);
    pthread_mutex_unlock(&w->mu);
}

/* While locally paused: waits (without polling) until resumed or stopping. */
static void wait_unpaused(bullc_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->stopping && atomic_load(&w->paused))
        pthread_cond_wait(&w->park_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void bullc__worker_emit(bullc_worker_t *w, bullc_event_t ev, const bullc_job_t *job,
                        const char *detail)
{
    if (w->o.event_cb)
        w->o.event_cb(ev, job, detail, w->o.event_user_data);
}

/* ---- next-job replies ------------------------------------------------------------------ */

static long long reply_ll(const bullc__reply *r)
{
    if (r->type == BULLC__R_INTEGER)
        return r->integer;
    if (r->type == BULLC__R_STRING) {
        long long v = 0;
        bullc__parse_ll(r->str, r->len, &v);
        return v;
    }
    return 0;
}

int bullc__parse_next(const bullc__reply *r, bullc__next *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return BULLC_EBADJOB;
    if (r->type == BULLC__R_INTEGER || r->type == BULLC__R_NIL)
        return BULLC_OK; /* plain 0: nothing fetched */
    if (r->type != BULLC__R_ARRAY || r->elements < 4)
        return BULLC_EBADJOB;
    const bullc__reply *hash = r->element[0], *id = r->element[1];
    out->rate_limit_ms = reply_ll(r->element[2]);
    out->delay_until_ms = reply_ll(r->element[3]);
    if (hash->type == BULLC__R_ARRAY) {
        if (id->type != BULLC__R_STRING)
            return BULLC_EBADJOB;
        return bullc__job_from_reply(hash, id->str, id->len, &out->job);
    }
    return BULLC_OK;
}

void bullc__write_limiter(bullc_worker_t *w, bullc__buf *mp)
{
    bullc__mp_cstr(mp, "limiter");
    bullc__mp_map(mp, 2);
    bullc__mp_cstr(mp, "max");
    bullc__mp_int(mp, w->o.limiter_max);
    bullc__mp_cstr(mp, "duration");
    bullc__mp_int(mp, w->o.limiter_duration_ms);
}

void bullc__fetch_opts(bullc_worker_t *w, bullc__buf *mp, const char *token)
{
    int limiter = w->o.limiter_max > 0;
    bullc__buf_reset(mp);
    bullc__mp_map(mp, 2 + (w->s_name != NULL) + limiter);
    bullc__mp_cstr(mp, "token");
    bullc__mp_cstr(mp, token);
    if (limiter)
        bullc__write_limiter(w, mp);
    bullc__mp_cstr(mp, "lockDuration");
    bullc__mp_int(mp, w->o.lock_duration_ms);
    if (w->s_name) {
        bullc__mp_cstr(mp, "name");
        bullc__mp_cstr(mp, w->s_name);
    }
}

static void new_token(bullc_worker_t *w, char *token, size_t n)
{
    unsigned seq = atomic_fetch_add(&w->token_seq, 1) + 1;
    snprintf(token, n, "%s:%u", w->uuid, seq);
}

void bullc__fetch_keys(const bullc_worker_t *w, const char *keys[BULLC__FETCH_NKEYS])
{
    static const bullc__qkey kidx[BULLC__FETCH_NKEYS] = {
        BULLC__K_WAIT,    BULLC__K_ACTIVE,  BULLC__K_PRIORITIZED, BULLC__K_EVENTS,
        BULLC__K_STALLED, BULLC__K_LIMITER, BULLC__K_DELAYED,     BULLC__K_PAUSED,
        BULLC__K_META,    BULLC__K_PC,      BULLC__K_MARKER};
    for (int i = 0; i < BULLC__FETCH_NKEYS; i++)
        keys[i] = w->keys.k[kidx[i]];
}

/* moveToActive. Returns 0 with next filled (job or hints), or an error. */
static int fetch_job(bullc__hthread *t, const char *token, bullc__next *next)
{
    bullc_worker_t *w = t->w;
    const char *keys[BULLC__FETCH_NKEYS];
    bullc__fetch_keys(w, keys);
    char now[24];
    snprintf(now, sizeof now, "%lld", bullc__now_ms());
    bullc__fetch_opts(w, &t->mp, token);
    if (t->mp.oom)
        return BULLC_ENOMEM;
    const char *args[3] = {w->keys.base, now, t->mp.data};
    size_t lens[3] = {w->keys.base_len, strlen(now), t->mp.len};
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&t->cn, BULLC__S_MOVE_TO_ACTIVE, 11, keys, 3, args, lens, &r);
    if (rc == 0) {
        rc = bullc__parse_next(r, next);
        if (rc == BULLC_EBADJOB)
            bullc__log(&w->log, BULLC_LOG_ERROR, "%s: malformed moveToActive reply", t->label);
    }
    bullc__reply_free(r);
    return rc;
}

/* Parks the calling handler thread until the blocker sees work (or the worker stops). */
static void park(bullc__hthread *t)
{
    bullc_worker_t *w = t->w;
    pthread_mutex_lock(&w->mu);
    w->parked++;
    pthread_cond_signal(&w->blocker_cv);
    while (!w->stopping && w->wakeups == 0)
        pthread_cond_wait(&w->park_cv, &w->mu);
    if (w->wakeups > 0)
        w->wakeups--;
    w->parked--;
    pthread_mutex_unlock(&w->mu);
}

static void *handler_main(void *arg)
{
    bullc__hthread *t = arg;
    bullc_worker_t *w = t->w;
    bullc__next next = {0};
    char token[64] = "";
    int io_failures = 0;

    while (next.job || !bullc__worker_stopping(w)) {
        if (!next.job) {
            if (bullc__worker_paused(w)) {
                wait_unpaused(w);
                continue;
            }
            /* rate limited: no fetch until the window ends (at most Node's
             * maximumRateLimitDelay at a time, so due delayed jobs still get promoted) */
            long long until = atomic_load(&w->limit_until);
            long long left = until - bullc__now_ms();
            if (left > 0) {
                long long most = w->o.maximum_rate_limit_delay_ms;
                bullc__worker_nap(w, (int)(left < most ? left : most));
                /* as Node, after the longest wait fetch again even if the limit has not run
                 * out (that promotes due delayed jobs; a still limited queue answers with a new
                 * limit); before, the thread napped again until the whole limit was over */
                if (left > most)
                    atomic_compare_exchange_strong(&w->limit_until, &until, 0);
                continue;
            }
            new_token(w, token, sizeof token);
            int rc = fetch_job(t, token, &next);
            if (rc != 0) {
                if (io_failures++ == 0 || rc != BULLC_EIO)
                    bullc__log(&w->log, rc == BULLC_EIO ? BULLC_LOG_WARN : BULLC_LOG_ERROR,
                               "%s: cannot fetch a job: %s (%s); retrying", t->label,
                               bullc_strerror(rc), t->cn.errstr);
                bullc__worker_nap(w, bullc__backoff_ms(io_failures, &t->seed));
                continue;
            }
            io_failures = 0;
            if (!next.job) {
                if (next.delay_until_ms > 0)
                    bullc__worker_note_delay(w, next.delay_until_ms);
                if (next.rate_limit_ms > 0) {
                    bullc__worker_note_limit(w, next.rate_limit_ms);
                    continue;
                }
                if (atomic_exchange(&w->drained, 1) == 0)
                    bullc__worker_emit(w, BULLC_EVENT_DRAINED, NULL, NULL);
                park(t);
                continue;
            }
        }
        atomic_store(&w->drained, 0);
        bullc_job_t *job = next.job;
        if (bullc__scheduler_on_fetch(t, job) != 0) {
            bullc__job_free(job);
            next.job = NULL;
            continue;
        }
        bullc__process_job(t, job, token, &next);
        bullc__job_free(job);
        if (!next.job && next.delay_until_ms > 0)
            bullc__worker_note_delay(w, next.delay_until_ms);
        if (!next.job && next.rate_limit_ms > 0)
            bullc__worker_note_limit(w, next.rate_limit_ms);
    }

    bullc__conn_close(&t->cn);
    pthread_mutex_lock(&w->mu);
    w->threads_alive--;
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the blocking connection ----------------------------------------------------------- */

/* Sends BZPOPMIN marker timeout and waits for its reply or a stop. Returns 1 with *reply, 0 on
 * stop, or a negative error (the connection is then closed). */
static int blocker_wait(bullc_worker_t *w, double timeout_s, bullc__reply **reply)
{
    bullc__conn *cn = &w->blocker_cn;
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%.3f", timeout_s);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 3, "BZPOPMIN", w->keys.k[BULLC__K_MARKER], tbuf);
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM
                                  : bullc__conn_block(cn, &cmd, (long long)(timeout_s * 1000),
                                                      w->stop_pipe[0], reply);
    bullc__cmd_free(&cmd);
    if (rc == BULLC__STOPPED)
        return 0;
    if (rc == 0 && bullc__worker_stopping(w)) {
        bullc__reply_free(*reply);
        *reply = NULL;
        return 0;
    }
    if (rc != 0) {
        bullc__conn_close(cn);
        cn->failures++;
        return rc == BULLC_ECONNECT ? BULLC_EIO : rc;
    }
    return 1;
}

static void wake_one(bullc_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->wakeups < w->parked) {
        w->wakeups++;
        /* broadcast: napping and paused threads share park_cv, and a signal could wake one of
         * them instead of the parked thread; parked threads take only `wakeups` wake-ups */
        pthread_cond_broadcast(&w->park_cv);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *blocker_main(void *arg)
{
    bullc_worker_t *w = arg;
    unsigned seed = (unsigned)bullc__now_ms();
    int failures = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        /* a locally paused worker does not take markers other workers need */
        while (!w->stopping && (w->parked - w->wakeups <= 0 || atomic_load(&w->paused)))
            pthread_cond_wait(&w->blocker_cv, &w->mu);
        int stopping = w->stopping;
        long long until = w->block_until;
        pthread_mutex_unlock(&w->mu);
        if (stopping)
            break;

        long long now = bullc__now_ms();
        double timeout_s;
        if (until > 0) {
            if (until <= now) {
                pthread_mutex_lock(&w->mu);
                if (w->block_until == until)
                    w->block_until = 0;
                pthread_mutex_unlock(&w->mu);
                wake_one(w);
                continue;
            }
            long long ms = until - now;
            if (ms > BULLC__MAX_BLOCK_MS)
                ms = BULLC__MAX_BLOCK_MS;
            timeout_s = (double)ms / 1000.0;
        } else {
            timeout_s = (double)w->o.drain_delay_ms / 1000.0;
        }
        if (timeout_s < w->min_block_s)
            timeout_s = w->min_block_s;

        bullc__reply *r = NULL;
        int rc = blocker_wait(w, timeout_s, &r);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (failures++ == 0)
                bullc__log(&w->log, BULLC_LOG_WARN, "blocking connection: %s; reconnecting",
                           w->blocker_cn.errstr);
            bullc__worker_nap(w, bullc__backoff_ms(failures, &seed));
            wake_one(w); /* let a handler thread poll meanwhile */
            continue;
        }
        failures = 0;
        if (r->type == BULLC__R_ARRAY && r->elements == 3 &&
            r->element[2]->type == BULLC__R_STRING) {
            double score = strtod(r->element[2]->str, NULL);
            if (score > (double)bullc__now_ms()) { /* false for nan */
                /* a delayed job is due later: sleep on the marker until then (a score past
                 * what a long long holds, "inf" included, is kept as the latest time) */
                bullc__worker_note_delay(w, score < 9.2e18 ? (long long)score : LLONG_MAX);
                bullc__reply_free(r);
                continue;
            }
        }
        bullc__reply_free(r);
        wake_one(w);
    }
    bullc__conn_close(&w->blocker_cn);
    return NULL;
}

/* ---- run ------------------------------------------------------------------------------- */

/* Reads the server version for the block timeout floor; refuses servers BullMQ refuses. */
static int check_server(bullc_worker_t *w)
{
    const char *argv[2] = {"INFO", "server"};
    bullc__reply *r = NULL;
    int rc = bullc__conn_cmd(&w->maint_cn, 2, argv, NULL, &r);
    if (rc != 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "INFO: %s", w->maint_cn.errstr);
        bullc__reply_free(r);
        return rc;
    }
    int maj = 0, min = 0, patch = 0;
    const char *v = r->type == BULLC__R_STRING ? strstr(r->str, "redis_version:") : NULL;
    if (v)
        sscanf(v + 14, "%d.%d.%d", &maj, &min, &patch);
    bullc__reply_free(r);
    long ver = maj * 10000L + min * 100L + patch;
    if (v && ver < 50000) {
        snprintf(w->errmsg, sizeof w->errmsg, "Redis %d.%d.%d is too old: BullMQ needs 5.0.0+",
                 maj, min, patch);
        return BULLC_ECONNECT;
    }
    if (v && ver < 60200)
        bullc__log(&w->log, BULLC_LOG_WARN, "Redis %d.%d.%d: 6.2.0 or newer is recommended", maj,
                   min, patch);
    w->min_block_s = ver >= 70008 ? 0.001 : 0.002;
    return 0;
}

static void observe_stop(bullc_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    if (!w->stopping) {
        w->stopping = 1;
        pthread_cond_broadcast(&w->park_cv);
        pthread_cond_broadcast(&w->blocker_cv);
    }
    pthread_mutex_unlock(&w->mu);
}

int bullc_worker_run(bullc_worker_t *w)
{
    if (!w)
        return BULLC_EINVAL;
    if (w->running)
        return BULLC_EMISUSE;
    w->errmsg[0] = '\0';
    if (bullc__worker_stopping(w))
        return BULLC_OK; /* stopped before it ran */
    w->running = 1;
    int n = w->o.concurrency, rc;

    bullc__conn_init(&w->maint_cn, &(bullc__conn_cfg){&w->url, &w->log, "maintenance", NULL,
                                                      w->o.connect_timeout_ms,
                                                      BULLC__COMMAND_TIMEOUT_MS});
    bullc__conn_init(&w->blocker_cn, &(bullc__conn_cfg){&w->url, &w->log, "blocking connection",
                                                        w->client_name, w->o.connect_timeout_ms, 0});
    if ((rc = bullc__conn_ensure(&w->maint_cn)) != 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "%s", w->maint_cn.errstr);
        goto out;
    }
    if ((rc = check_server(w)) != 0)
        goto out;
    /* connect the blocking connection now so that getWorkers() lists us at once */
    if ((rc = bullc__conn_ensure(&w->blocker_cn)) != 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "%s", w->blocker_cn.errstr);
        goto out;
    }

    w->stopping = 0;
    w->threads_alive = 0;
    for (int i = 0; i < n; i++) {
        bullc__hthread *t = &w->threads[i];
        t->w = w;
        t->idx = i;
        t->seed = (unsigned)(bullc__now_ms() + i * 7919);
        snprintf(t->label, sizeof t->label, "handler %d", i);
        bullc__conn_init(&t->cn, &(bullc__conn_cfg){&w->url, &w->log, t->label, NULL,
                                                     w->o.connect_timeout_ms,
                                                     BULLC__COMMAND_TIMEOUT_MS});
        bullc__buf_init(&t->mp);
    }
    if (pthread_create(&w->blocker_tid, NULL, blocker_main, w) != 0) {
        rc = BULLC_ETHREAD;
        snprintf(w->errmsg, sizeof w->errmsg, "cannot start the blocking thread");
        goto out;
    }
    w->blocker_started = 1;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&w->mu);
        w->threads_alive++;
        pthread_mutex_unlock(&w->mu);
        if (pthread_create(&w->threads[i].tid, NULL, handler_main, &w->threads[i]) != 0) {
            pthread_mutex_lock(&w->mu);
            w->threads_alive--;
            pthread_mutex_unlock(&w->mu);
            rc = BULLC_ETHREAD;
            snprintf(w->errmsg, sizeof w->errmsg, "cannot start handler thread %d", i);
            bullc_worker_stop(w);
            break;
        }
        w->threads[i].started = 1;
    }
    bullc__log(&w->log, BULLC_LOG_INFO, "worker %s started on queue %s (concurrency %d)",
               w->client_name, w->s_queue, n);

    /* maintenance loop: lock renewal and stalled checks until every handler has finished */
    long long now = bullc__now_ms();
    long long tick = w->renew_ms / 2 > 0 ? w->renew_ms / 2 : 1;
    long long next_renew = now + tick;
    long long next_stalled = w->o.skip_stalled_check ? -1 : now;
    for (;;) {
        now = bullc__now_ms();
        if (!w->o.skip_lock_renewal && now >= next_renew) {
            bullc__maint_renew(w, now);
            next_renew = now + tick;
        }
        /* as Node, a locally paused worker runs no stalled checks */
        if (next_stalled >= 0 && now >= next_stalled && !bullc__worker_stopping(w) &&
            !bullc__worker_paused(w)) {
            bullc__maint_stalled(w);
            next_stalled = bullc__now_ms() + w->o.stalled_interval_ms;
        }
        long long wake = next_renew;
        if (next_stalled >= 0 && next_stalled < wake && !bullc__worker_stopping(w))
            wake = next_stalled;
        long long wait = wake - bullc__now_ms();
        if (wait < 0)
            wait = 0;
        if (!bullc__worker_stopping(w)) {
            struct pollfd pfd = {w->stop_pipe[0], POLLIN, 0};
            poll(&pfd, 1, (int)(wait > 60000 ? 60000 : wait));
            if (bullc__worker_stopping(w))
                observe_stop(w);
            continue;
        }
        observe_stop(w);
        struct timespec ts;
        abs_deadline(&ts, (int)(wait > 60000 ? 60000 : wait));
        pthread_mutex_lock(&w->mu);
        while (w->threads_alive > 0 &&
               pthread_cond_timedwait(&w->done_cv, &w->mu, &ts) != ETIMEDOUT) {
        }
        int alive = w->threads_alive;
        pthread_mutex_unlock(&w->mu);
        if (alive == 0)
            break;
    }
    rc = 0;
    if (w->errmsg[0])
        rc = BULLC_ETHREAD;
out:
    observe_stop(w);
    for (int i = 0; i < n; i++) {
        if (w->threads[i].started)
            pthread_join(w->threads[i].tid, NULL);
        w->threads[i].started = 0;
        bullc__conn_free(&w->threads[i].cn);
        bullc__buf_free(&w->threads[i].mp);
    }
    if (w->blocker_started)
        pthread_join(w->blocker_tid, NULL);
    w->blocker_started = 0;
    bullc__conn_free(&w->blocker_cn);
    bullc__conn_free(&w->maint_cn);
    if (rc == 0)
        bullc__log(&w->log, BULLC_LOG_INFO, "worker %s stopped", w->client_name);
    w->running = 0;
    return rc;
}
