/* worker.c - the public worker API: options, creating and freeing, handlers, run() with its
 * maintenance loop (lock renewal, stalled checks), stop, pause and resume. */
#include "engine/engine.h"
#include "util/sized.h"
#include "util/time.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Commands on the command connection should never take this long (a busy Redis answers BUSY
 * or LOADING at once); past it the connection is considered dead and rebuilt: the longer of
 * this and twice the drain delay, so that a worker whose connections went silent recovers
 * within about twice its drain delay (docs/architecture.md §9). */
#define BULLC__COMMAND_TIMEOUT_MS 10000

static void defaults(bullc_worker_opts_t *o)
{
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

void bullc_worker_opts_init_sized(bullc_worker_opts_t *o, size_t size)
{
    if (!o)
        return;
    bullc_worker_opts_t d;
    defaults(&d);
    bullc__sized_write(o, size, &d, sizeof d);
}

/* The caller's options over the defaults: the fields its struct has (README "ABI policy").
 * Non-zero bytes past the fields this library knows are refused. */
static int read_opts(bullc_worker_opts_t *out, const bullc_worker_opts_t *in, size_t size)
{
    defaults(out);
    return bullc__sized_read(out, sizeof *out, in, size);
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
    if (o->isolate_timeout_ms < 0 || o->isolate_memory_mb < 0)
        return "isolate_timeout_ms and isolate_memory_mb must not be negative";
    if (!bullc__proto_find(o->protocol))
        return "protocol must be \"bullmq\" (or NULL) or \"bull\"";
    return NULL;
}

void bullc_worker_free(bullc_worker_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nhandlers; i++)
        free(w->handlers[i].name);
    free(w->handlers);
    for (int i = 0; w->slots && i < w->o.concurrency; i++) {
        bullc__clink_free(&w->slots[i].link);
        pthread_cond_destroy(&w->slots[i].idle_cv);
    }
    free(w->slots);
    if (w->links_made) {
        bullc__clink_free(&w->blocker_link);
        bullc__clink_free(&w->run_link);
    }
    if (w->tick_fd >= 0)
        close(w->tick_fd);
    if (w->made_conns) {
        bullc__combiner_free(&w->comb);
        bullc__conn_free(&w->blocker_conn);
    }
    if (w->ops)
        w->ops->close(w->proto);
    free(w->s_url);
    free(w->s_prefix);
    free(w->s_queue);
    free(w->s_name);
    bullc__tracer_free(w->tracer);
    if (w->made_server)
        bullc__server_free(&w->server);
    bullc__gate_free(&w->gate);
    pthread_mutex_destroy(&w->lock_mu);
    pthread_cond_destroy(&w->done_cv);
    free(w);
}

/* Copies the option strings into the worker. */
static int own_strings(bullc_worker_t *w)
{
    const bullc_worker_opts_t *o = &w->o;
    w->s_url = bullc__strdup(o->redis_url ? o->redis_url : "redis://127.0.0.1:6379");
    w->s_prefix = bullc__strdup(o->prefix);
    w->s_queue = bullc__strdup(o->queue);
    w->s_name = o->name && *o->name ? bullc__strdup(o->name) : NULL;
    if (!w->s_url || !w->s_prefix || !w->s_queue || (o->name && *o->name && !w->s_name))
        return BULLC_ENOMEM;
    w->o.redis_url = w->s_url;
    w->o.prefix = w->s_prefix;
    w->o.queue = w->s_queue;
    w->o.name = w->s_name;
    return 0;
}

/* The handler threads' slots, each with its link through the combiner. */
static int make_slots(bullc_worker_t *w)
{
    int n = w->o.concurrency;
    if (bullc__clink_init(&w->blocker_link, &w->comb) != 0)
        return BULLC_ETHREAD;
    if (bullc__clink_init(&w->run_link, &w->comb) != 0) {
        bullc__clink_free(&w->blocker_link);
        return BULLC_ETHREAD;
    }
    w->links_made = 1;
    if (!(w->slots = calloc((size_t)n, sizeof *w->slots)))
        return BULLC_ENOMEM;
    for (int i = 0; i < n; i++) {
        bullc__slot *s = &w->slots[i];
        s->w = w;
        s->idx = i;
        s->seed = (unsigned)(bullc__mono_ms() + i * 7919);
        snprintf(s->label, sizeof s->label, "handler %d", i);
        if (bullc__clink_init(&s->link, &w->comb) != 0 || pthread_cond_init(&s->idle_cv, NULL) != 0)
            return BULLC_ETHREAD;
        s->run.w = w;
        s->run.slot = s;
        s->run.link = &s->link.link;
    }
    return 0;
}

/* The tracer, when the options or the environment ask for one, and the worker's id for it. */
static int make_tracer(bullc_worker_t *w)
{
    int rc = bullc__tracer_new(&w->tracer, w->o.trace, &w->log);
    w->o.trace = NULL; /* read and copied: not the user's to keep */
    if (rc == BULLC_EINVAL)
        snprintf(w->errmsg, sizeof w->errmsg, "invalid trace options (bullc_trace_opts_init)");
    if (rc || !w->tracer)
        return rc;
    unsigned char u[16];
    bullc__tracer_random(w->tracer, u, sizeof u);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* a version 4 UUID, as Node's worker id */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(w->worker_id, sizeof w->worker_id,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    return 0;
}

/* Everything but the options: protocol, connections, combiner, slots. */
static int build(bullc_worker_t *w)
{
    int rc = own_strings(w);
    if (rc)
        return rc;
    w->log = (bullc__logger){w->o.log_cb, w->o.log_user_data, w->o.log_level, w->o.log_job_cb};
    if ((rc = make_tracer(w)) != 0)
        return rc;
    w->renew_ms = w->o.lock_renew_ms ? w->o.lock_renew_ms : w->o.lock_duration_ms / 2;
    if (w->renew_ms < 1)
        w->renew_ms = 1;
    w->ops = bullc__proto_find(w->o.protocol);
    w->o.protocol = w->ops->name; /* the user's string is not ours to keep */
    rc = w->ops->open_worker(&w->proto, &w->o, &w->log, w->errmsg, sizeof w->errmsg);
    w->o.limiter_group_key = NULL; /* read by the protocol: not the user's to keep */
    if (rc != 0)
        return rc;
    w->made_server = 1;
    rc = bullc__server_init(&w->server, w->s_url, &w->o.tls,
                            w->ops->key_base(w->proto), &w->log, w->o.connect_timeout_ms,
                            w->errmsg, sizeof w->errmsg);
    w->o.tls = (bullc_tls_opts_t){0}; /* read (the files) and copied: not the user's to keep */
    if (rc)
        return rc;
    long long twice = 2LL * w->o.drain_delay_ms;
    int command_timeout_ms = twice > INT_MAX                     ? INT_MAX
                             : twice > BULLC__COMMAND_TIMEOUT_MS ? (int)twice
                                                                 : BULLC__COMMAND_TIMEOUT_MS;
    bullc__conn_cfg cmd = {&w->server, &w->log, "command connection", NULL,
                           w->o.connect_timeout_ms, command_timeout_ms};
    bullc__conn_cfg blk = {&w->server, &w->log, "blocking connection",
                           w->ops->client_name(w->proto), w->o.connect_timeout_ms, 0};
    w->made_conns = 1;
    bullc__conn_init(&w->blocker_conn, &blk);
    if ((rc = bullc__combiner_init(&w->comb, &cmd, w->ops, w->proto,
                                    (size_t)w->o.concurrency)) != 0)
        return rc;
    w->comb.conn.stats = w->blocker_conn.stats = &w->stats;
    return make_slots(w);
}

int bullc_worker_new_sized(bullc_worker_t **out, const bullc_worker_opts_t *opts, size_t size)
{
    if (!out)
        return BULLC_EINVAL;
    *out = NULL;
    bullc_worker_opts_t o;
    if (!opts || read_opts(&o, opts, size) != 0)
        return BULLC_EINVAL;
    const char *bad = invalid_option(&o);
    if (bad) {
        bullc__logger lg = {o.log_cb, o.log_user_data, o.log_level, o.log_job_cb};
        bullc__log(&lg, BULLC_LOG_ERROR, "bullc_worker_new: invalid option: %s", bad);
        return BULLC_EINVAL;
    }
    bullc_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return BULLC_ENOMEM;
    w->o = o;
    bullc__stats_init(&w->stats);
    w->tick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = bullc__gate_init(&w->gate);
    if (w->tick_fd < 0)
        rc = rc ? rc : BULLC_ETHREAD;
    if (pthread_mutex_init(&w->lock_mu, NULL) != 0 || bullc__cond_init_mono(&w->done_cv) != 0)
        rc = rc ? rc : BULLC_ENOMEM;
    if (rc == 0)
        rc = build(w);
    if (rc != 0) {
        if (w->errmsg[0])
            bullc__log(&w->log, BULLC_LOG_ERROR, "bullc_worker_new: %s", w->errmsg);
        bullc_worker_free(w);
        return rc;
    }
    *out = w;
    return BULLC_OK;
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
    h[w->nhandlers++] = (bullc__handler){name, fn, ud};
    return BULLC_OK;
}

void bullc_worker_stop(bullc_worker_t *w)
{
    if (!w)
        return;
    int saved = errno;
    atomic_store(&w->gate.stop_flag, 1);
    if (w->gate.stop_pipe[1] >= 0) {
        ssize_t n = write(w->gate.stop_pipe[1], "s", 1);
        (void)n; /* a full pipe already wakes everyone */
    }
    errno = saved;
}

void bullc_worker_stop_within(bullc_worker_t *w, long long deadline_ms)
{
    if (!w)
        return;
    /* clock_gettime and lock-free atomics only: async-signal-safe */
    long long by = bullc__mono_ms() + (deadline_ms > 0 ? deadline_ms : 0);
    by = by > 0 ? by : 1;
    long long cur = atomic_load(&w->gate.stop_by);
    while ((cur == 0 || by < cur) && !atomic_compare_exchange_weak(&w->gate.stop_by, &cur, by)) {
    }
    bullc_worker_stop(w);
}

void bullc_worker_pause(bullc_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->gate.mu);
    atomic_store(&w->gate.paused, 1);
    pthread_mutex_unlock(&w->gate.mu);
}

void bullc_worker_resume(bullc_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->gate.mu);
    atomic_store(&w->gate.paused, 0);
    /* idle threads fetch at once rather than wait for a marker they may have missed */
    w->kick = 1;
    pthread_cond_signal(&w->gate.blocker_cv);
    pthread_mutex_unlock(&w->gate.mu);
}

const char *bullc_worker_errmsg(const bullc_worker_t *w)
{
    if (!w)
        return "no worker";
    return w->errmsg[0] ? w->errmsg : "no error";
}

/* ---- run ---------------------------------------------------------------------------------- */

/* Connects the command connection and checks the server through the protocol. */
static int check_server(bullc_worker_t *w, bullc__clink *via)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 2, "INFO", "server");
    bullc__reply *r = NULL;
    char err[256] = "out of memory";
    int rc = bullc__conn_ensure(&w->comb.conn);
    if (rc != 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "%s", w->comb.conn.errstr);
    } else {
        rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : bullc__link_call(&via->link, &cmd, &r, err, sizeof err);
        if (rc != 0)
            snprintf(w->errmsg, sizeof w->errmsg, "INFO: %s", err);
        else
            rc = w->ops->check_server(w->proto, r->type == BULLC__R_STRING ? r->str : NULL,
                                      w->errmsg, sizeof w->errmsg);
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}

/* One lock asked for: which slot's run it belongs to. */
typedef struct renewal {
    int slot;
    unsigned long seq;
} renewal;

/* The locks lost in a renewal: their handlers are told to stop and their locks are renewed no
 * more, if the slot still runs the job the lock was asked for. */
static void note_lost(bullc_worker_t *w, const bullc__lock *locks, const renewal *from,
                      size_t count)
{
    pthread_mutex_lock(&w->lock_mu);
    for (size_t i = 0; i < count; i++) {
        bullc__slot *s = &w->slots[from[i].slot];
        if (!locks[i].lost || s->lock_seq != from[i].seq)
            continue;
        atomic_fetch_or(&s->stop_why, BULLC_STOP_LOCK_LOST);
        s->lock_job_id = s->lock_token = NULL;
        s->lock_seq++;
    }
    pthread_mutex_unlock(&w->lock_mu);
}

/* Copies the locks due for renewal into text (id and token, each NUL-ended) and from; their
 * count. */
static size_t due_locks(bullc_worker_t *w, bullc__buf *text, renewal *from)
{
    size_t count = 0;
    long long now = bullc__mono_ms(), half = w->renew_ms / 2;
    pthread_mutex_lock(&w->lock_mu);
    for (int i = 0; i < w->o.concurrency; i++) {
        bullc__slot *s = &w->slots[i];
        if (!s->lock_job_id || now - s->lock_renewed_ms < half)
            continue;
        bullc__buf_append(text, s->lock_job_id, strlen(s->lock_job_id) + 1);
        bullc__buf_append(text, s->lock_token, strlen(s->lock_token) + 1);
        s->lock_renewed_ms = now;
        from[count++] = (renewal){i, s->lock_seq};
    }
    pthread_mutex_unlock(&w->lock_mu);
    return count;
}

/* Renews, in one call, the locks of running jobs not renewed for half a renew period (as
 * Node's LockManager). Ids and tokens are copied under lock_mu (a finished job is freed right
 * after its slot is cleared); a failed call is retried on the next tick. A lock found lost
 * tells its handler to stop (BULLC_STOP_LOCK_LOST). */
static void renew_locks(bullc_worker_t *w, bullc__clink *via)
{
    int n = w->o.concurrency;
    bullc__buf text;
    bullc__buf_init(&text);
    renewal *from = malloc((size_t)n * sizeof *from);
    size_t count = from ? due_locks(w, &text, from) : 0;
    bullc__lock *locks = count ? calloc(count, sizeof *locks) : NULL;
    int rc = 0;
    if (!from || (count && (!locks || text.oom))) {
        bullc__log(&w->log, BULLC_LOG_ERROR, "lock renewal: out of memory");
        rc = BULLC_ENOMEM;
    } else if (count) {
        const char *p = text.data;
        for (size_t i = 0; i < count; i++) {
            locks[i].job_id = p;
            p += strlen(p) + 1;
            locks[i].token = p;
            p += strlen(p) + 1;
        }
        rc = w->ops->extend_locks(w->proto, &via->link, locks, count);
        if (rc == 0)
            note_lost(w, locks, from, count);
    }
    if (rc != 0) {
        pthread_mutex_lock(&w->lock_mu);
        for (int i = 0; i < n; i++)
            w->slots[i].lock_renewed_ms = 0;
        pthread_mutex_unlock(&w->lock_mu);
    }
    free(locks);
    free(from);
    bullc__buf_free(&text);
}

/* Runs the protocol's tick when it is due (or one was asked for by then); the next time on the
 * monotonic clock, -1 when the protocol has none. */
static long long run_tick(bullc_worker_t *w, bullc__clink *via, long long next_tick)
{
    if (!w->ops->tick)
        return -1;
    eventfd_t n;
    eventfd_read(w->tick_fd, &n);
    long long asked = atomic_load(&w->tick_due), mono = bullc__mono_ms();
    if (asked > 0) {
        long long at = mono + (asked - bullc__now_ms());
        next_tick = at < next_tick ? at : next_tick;
    }
    if (mono < next_tick || bullc__gate_stopping(&w->gate))
        return next_tick;
    if (asked > 0)
        atomic_compare_exchange_strong(&w->tick_due, &asked, 0);
    long long ms = w->ops->tick(w->proto, &via->link);
    return bullc__mono_ms() + (ms < 0 ? 0 : ms);
}

/* While stopping: once bullc_worker_stop_within's deadline has passed, tells the running
 * handlers to stop (once). Returns how long to wait for handlers now: at most `wait`, and
 * 200 ms while a deadline may still come (a signal handler cannot wake a condition wait). */
static long long stop_deadline(bullc_worker_t *w, long long wait)
{
    if (atomic_load(&w->gate.past_deadline))
        return wait;
    long long by = atomic_load(&w->gate.stop_by), now = bullc__mono_ms();
    if (by > 0 && now >= by) {
        atomic_store(&w->gate.past_deadline, 1);
        bullc__pool_tell_stop(w, BULLC_STOP_WORKER);
        bullc__log(&w->log, BULLC_LOG_INFO, "stop deadline passed: running handlers told to stop");
        return wait;
    }
    long long left = by > 0 ? by - now : 200;
    return wait < left ? wait : left < 200 ? left : 200;
}

/* Lock renewal, stalled checks and the protocol's tick until every handler thread has
 * finished. */
static void maintain(bullc_worker_t *w, bullc__clink *via)
{
    long long now = bullc__mono_ms();
    long long tick = w->renew_ms / 2 > 0 ? w->renew_ms / 2 : 1;
    long long next_renew = now + tick;
    long long next_stalled = w->o.skip_stalled_check ? -1 : now;
    long long next_tick = now;
    bullc__listener listener;
    bullc__listener_open(&listener, w);
    for (;;) {
        now = bullc__mono_ms();
        if (!w->o.skip_lock_renewal && now >= next_renew) {
            renew_locks(w, via);
            next_renew = now + tick;
        }
        next_tick = run_tick(w, via, next_tick);
        int stopping = bullc__gate_stopping(&w->gate);
        /* as Node, a locally paused worker runs no stalled checks */
        if (next_stalled >= 0 && now >= next_stalled && !stopping && !atomic_load(&w->gate.paused)) {
            w->ops->check_stalled(w->proto, &via->link);
            next_stalled = bullc__mono_ms() + w->o.stalled_interval_ms;
        }
        long long wake = next_renew;
        if (next_stalled >= 0 && next_stalled < wake && !stopping)
            wake = next_stalled;
        if (next_tick >= 0 && next_tick < wake && !stopping)
            wake = next_tick;
        long long wait = wake - bullc__mono_ms();
        wait = wait < 0 ? 0 : wait > 60000 ? 60000 : wait;
        if (!stopping && listener.on) {
            next_tick = bullc__listener_wait(&listener, w, bullc__mono_ms() + wait, next_tick);
            continue;
        }
        if (!stopping) {
            struct pollfd pfd[2] = {{w->gate.stop_pipe[0], POLLIN, 0}, {w->tick_fd, POLLIN, 0}};
            poll(pfd, 2, (int)wait);
            continue;
        }
        bullc__gate_observe_stop(&w->gate);
        bullc__pool_wake_all(w);
        wait = stop_deadline(w, wait);
        struct timespec ts = bullc__mono_deadline(wait);
        pthread_mutex_lock(&w->gate.mu);
        while (w->threads_alive > 0 && pthread_cond_timedwait(&w->done_cv, &w->gate.mu, &ts) != ETIMEDOUT) {
        }
        int alive = w->threads_alive;
        pthread_mutex_unlock(&w->gate.mu);
        if (alive == 0)
            break;
    }
    bullc__listener_close(&listener);
}

/* Starts the blocker and the handler threads. */
static int start_threads(bullc_worker_t *w)
{
    if (pthread_create(&w->blocker_tid, NULL, bullc__blocker_main, w) != 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "cannot start the blocking thread");
        return BULLC_ETHREAD;
    }
    w->blocker_started = 1;
    int rc = bullc__pool_start(w);
    if (rc != 0)
        bullc_worker_stop(w);
    return rc;
}

int bullc_worker_run(bullc_worker_t *w)
{
    if (!w)
        return BULLC_EINVAL;
    if (w->running)
        return BULLC_EMISUSE;
    w->errmsg[0] = '\0';
    if (bullc__gate_stopping(&w->gate))
        return BULLC_OK; /* stopped before it ran */
    w->running = 1;
    atomic_store(&w->stats.running, 1);
    /* handler processes are forked first, while the worker has no thread */
    int rc = w->o.isolate ? bullc__iso_start(w) : 0;
    bullc__clink *via = &w->run_link;
    if (rc == 0)
        rc = check_server(w, via);
    /* connect the blocking connection now so that getWorkers() lists us at once */
    if (rc == 0 && (rc = bullc__conn_ensure(&w->blocker_conn)) != 0)
        snprintf(w->errmsg, sizeof w->errmsg, "%s", w->blocker_conn.errstr);
    if (rc == 0 && (rc = bullc__tracer_start(w->tracer)) != 0)
        snprintf(w->errmsg, sizeof w->errmsg, "cannot start the trace export thread");
    int started = rc == 0 && start_threads(w) == 0;
    if (rc == 0) {
        if (started)
            bullc__log(&w->log, BULLC_LOG_INFO, "worker %s started on queue %s (concurrency %d)",
                       w->ops->client_name(w->proto), w->s_queue, w->o.concurrency);
        maintain(w, via);
        rc = started ? 0 : BULLC_ETHREAD;
    }
    bullc__gate_observe_stop(&w->gate);
    bullc__pool_wake_all(w);
    bullc__pool_join(w);
    if (w->blocker_started)
        pthread_join(w->blocker_tid, NULL);
    w->blocker_started = 0;
    bullc__iso_stop(w);
    bullc__conn_close(&w->blocker_conn);
    bullc__conn_close(&w->comb.conn);
    bullc__tracer_stop(w->tracer); /* what is queued goes out within its shutdown deadline */
    if (rc == 0)
        bullc__log(&w->log, BULLC_LOG_INFO, "worker %s stopped", w->ops->client_name(w->proto));
    atomic_store(&w->stats.running, 0);
    w->running = 0;
    return rc;
}
