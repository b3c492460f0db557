/* inventory_worker - applies the game's inventory events (reward_inventory_item, use_item) from
 * the queue `events` to PostgreSQL, exactly once per job, and sends jobs that fail for good to a
 * dead-letter queue. Each job is one call of inventory_apply() (sql/schema.sql): one round trip,
 * one transaction; jobs ready at the same time share one (group commit: one call of
 * inventory_apply_batch(), examples/inventory/group.c). The queue is a BullMQ 6 queue, or with BULLC_PROTOCOL=bull a legacy Bull 4
 * queue (what @nestjs/bull producers use; docs/bull.md), and so is its dead-letter queue. See
 * examples/inventory/ and examples/demo/ (`make demo`, `BULLC_PROTOCOL=bull make demo`).
 *
 * Configuration (environment):
 *   REDIS_URL          redis://127.0.0.1:6379; also rediss://, redis-sentinel://h:p,h:p#master,
 *                      rediss-sentinel://, or any Cluster node's URL (README "Connecting to Redis")
 *   REDIS_TLS_CA, REDIS_TLS_CERT, REDIS_TLS_KEY, REDIS_TLS_SERVER_NAME   TLS files and name
 *   REDIS_TLS_INSECURE 1: do not verify the server (tests only)
 *   DATABASE_URL       libpq connection string or URL (unset: libpq's PG* variables)
 *   BULLC_QUEUE        events
 *   BULLC_PREFIX       bull
 *   BULLC_PROTOCOL     bullmq (BullMQ 6, the default) or bull (Bull 4): the wire protocol of the
 *                      queue and of the dead-letter queue (the DLQ's jobs are then Bull jobs)
 *   BULLC_CONCURRENCY  4 (one PostgreSQL connection per handler thread)
 *   BULLC_INVENTORY_BATCH  32: group commit, jobs ready at the same time share one transaction
 *                      (inventory_apply_batch, examples/inventory/group.c), at most this many
 *                      (2 to 64); 1: every job is its own transaction
 *   BULLC_INVENTORY_INFLIGHT  1: transactions the group commit runs at the same time (1 to
 *                      64); while one runs, the jobs that become ready form the next batch
 *   BULLC_DLQ          <queue>-dlq
 *   BULLC_WORKER_NAME  shown by BullMQ's Queue.getWorkers() (default inventory_worker; Bull
 *                      names no worker)
 *   BULLC_LOCK_DURATION_MS, BULLC_STALLED_INTERVAL_MS   30000 / 30000 (as in BullMQ and Bull)
 *   BULLC_LOG_LEVEL    error|warn|info|debug (info)
 *   BULLC_LOG_FORMAT   text (default) or json: one JSON object per line (examples/common/exlog.h)
 *   BULLC_HTTP         HOST:PORT: serve GET /metrics and GET /healthz (examples/common/http.h)
 *   BULLC_ISOLATE      1: run the handlers in handler processes (README "Isolated handlers"),
 *                      each opening its PostgreSQL connection in its init callback; a handler
 *                      process that dies fails its job's attempt and is replaced
 *   OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* variables: OpenTelemetry traces (README
 *                      "Observability"); each job's PostgreSQL call is a child span
 *                      "SELECT inventory_apply" (db.system.name postgresql) of its process span
 *                      (in a batch: the batch's call, with db.operation.batch.size)
 *   BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT   test hook only: "1" (any job) or a job id makes
 *                      the process _exit(86) right after that job's transaction commits and
 *                      before Redis records its completion (used to test redelivery).
 *
 * SIGINT/SIGTERM stop it gracefully (running jobs finish). Exit status: 0 after a stop, 1 when
 * Redis cannot be used, 2 on bad configuration.
 */
#include "inventory/inventory.h"
#include "common/http.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bullc_worker_t *g_worker; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    bullc_worker_stop(g_worker);
}

/* ---- dead-letter queue ------------------------------------------------------------------- */

/* Adds {"jobId","name","data","failedReason","attemptsMade"} to the DLQ under the job's name.
 * Runs on the thread that finished the job, after Redis recorded the failure. */
static void send_to_dlq(const inv_app *app, const bullc_job_t *job, const char *reason)
{
    inv_thread *t = inv_thread_get(app);
    if (!t) {
        inv_log_job(app, job, BULLC_LOG_ERROR, "job %s: out of memory; not added to the DLQ",
                bullc_job_id(job));
        return;
    }
    jw w = {0};
    jw_lit(&w, "{\"jobId\":");
    jw_str(&w, bullc_job_id(job));
    jw_lit(&w, ",\"name\":");
    jw_str(&w, bullc_job_name(job));
    jw_lit(&w, ",\"data\":");
    /* the original data as JSON (not a string); text that is not JSON goes in as a string */
    const bullc_json_t *parsed = bullc_job_data_json(job);
    if (parsed)
        jw_lit(&w, bullc_job_data(job));
    else
        jw_str(&w, bullc_job_data(job));
    jw_lit(&w, ",\"failedReason\":");
    jw_str(&w, reason ? reason : "");
    jw_lit(&w, ",\"attemptsMade\":");
    jw_int(&w, bullc_job_attempts_made(job) + 1); /* including the one that just failed */
    jw_lit(&w, "}");
    if (w.oom) {
        inv_log_job(app, job, BULLC_LOG_ERROR, "job %s: out of memory; not added to the DLQ",
                bullc_job_id(job));
        jw_free(&w);
        return;
    }
    int rc = BULLC_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!t->dlq) {
            bullc_queue_opts_t qo;
            bullc_queue_opts_init(&qo);
            qo.redis_url = app->redis_url;
            qo.prefix = app->prefix;
            qo.queue = app->dlq;
            qo.protocol = app->protocol;
            qo.log_cb = inv_log_cb;
            qo.log_user_data = (void *)app;
            qo.log_level = (bullc_log_level_t)app->log_level;
            qo.tls = app->tls;
            if ((rc = bullc_queue_new(&t->dlq, &qo)) != 0)
                break;
        }
        char *id = NULL;
        rc = bullc_queue_add(t->dlq, bullc_job_name(job), w.p, NULL, &id);
        if (rc == 0) {
            inv_log_job(app, job, BULLC_LOG_INFO, "job %s (%s) failed for good: added to %s as job %s",
                    bullc_job_id(job), bullc_job_name(job), app->dlq, id ? id : "?");
            bullc_free(id);
            break;
        }
        /* a broken connection: start a new one once */
        inv_log(app, BULLC_LOG_WARN, "DLQ add failed: %s (%s)", bullc_strerror(rc),
                bullc_queue_errmsg(t->dlq));
        bullc_queue_free(t->dlq);
        t->dlq = NULL;
    }
    if (rc != 0)
        inv_log_job(app, job, BULLC_LOG_ERROR, "job %s (%s): could not add it to the DLQ %s: %s",
                bullc_job_id(job), bullc_job_name(job), app->dlq, bullc_strerror(rc));
    jw_free(&w);
}

static void on_event(bullc_event_t ev, const bullc_job_t *job, const char *detail, void *ud)
{
    const inv_app *app = ud;
    if (ev == BULLC_EVENT_FAILED && job)
        send_to_dlq(app, job, detail);
    else if (ev == BULLC_EVENT_LOCK_LOST && job)
        inv_log_job(app, job, BULLC_LOG_WARN, "job %s: lock lost (%s)", bullc_job_id(job),
                detail ? detail : "");
}

/* ---- handler processes (BULLC_ISOLATE=1) ------------------------------------------------- */

/* In each handler process, before its first job: its PostgreSQL connection (its only thread's
 * slot). A server not reachable yet is not fatal: the handlers connect per job, as without
 * isolation. */
static int child_init(int slot, void *ud)
{
    const inv_app *app = ud;
    inv_thread *t = inv_thread_get(app);
    if (!t)
        return -1;
    inv_dberr err;
    if (inv_db(app, t, &err))
        inv_log(app, BULLC_LOG_DEBUG, "handler process %d connected to PostgreSQL", slot);
    else
        inv_log(app, BULLC_LOG_WARN, "handler process %d: PostgreSQL not reachable yet: %s",
                slot, err.msg);
    return 0;
}

/* In a handler process that exits as the worker stops: closes its connection. */
static void child_fini(int slot, void *ud)
{
    (void)slot;
    const inv_app *app = ud;
    inv_thread_free(pthread_getspecific(app->slot_key));
    pthread_setspecific(app->slot_key, NULL);
}

/* ---- configuration ----------------------------------------------------------------------- */

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* An integer variable within [lo, hi]; -1 (and a message) when it is not one. */
static int env_int(const char *name, long lo, long hi, long dflt, long *out)
{
    const char *s = getenv(name);
    *out = dflt;
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi) {
        fprintf(stderr, "inventory_worker: %s must be a number from %ld to %ld, got '%s'\n",
                name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* BULLC_LOG_LEVEL as a bullc_log_level_t, or -1 after a message. */
static int read_log_level(void)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    const char *name = env_or("BULLC_LOG_LEVEL", "info");
    for (int level = 0; level < 4; level++)
        if (!strcmp(name, levels[level]))
            return level;
    fprintf(stderr, "inventory_worker: BULLC_LOG_LEVEL must be error, warn, info or debug\n");
    return -1;
}

/* The worker's numbers from the configuration (the rest is in inv_app). */
typedef struct worker_numbers {
    long concurrency, lock_duration_ms, stalled_interval_ms, batch, inflight;
} worker_numbers;

/* The configuration from the environment (see the top comment): 0, or -1 after a message. */
static int read_config(inv_app *app, worker_numbers *numbers)
{
    memset(app, 0, sizeof *app);
    app->redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    app->database_url = env_or("DATABASE_URL", "");
    app->queue = env_or("BULLC_QUEUE", "events");
    app->prefix = env_or("BULLC_PREFIX", "bull");
    app->protocol = env_or("BULLC_PROTOCOL", "bullmq");
    if (strcmp(app->protocol, "bullmq") != 0 && strcmp(app->protocol, "bull") != 0) {
        fprintf(stderr, "inventory_worker: BULLC_PROTOCOL must be bullmq or bull, got '%s'\n",
                app->protocol);
        return -1;
    }
    app->crash_after_commit = getenv("BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT");
    if (app->crash_after_commit && !*app->crash_after_commit)
        app->crash_after_commit = NULL;
    app->tls.ca_file = getenv("REDIS_TLS_CA");
    app->tls.cert_file = getenv("REDIS_TLS_CERT");
    app->tls.key_file = getenv("REDIS_TLS_KEY");
    app->tls.server_name = getenv("REDIS_TLS_SERVER_NAME");
    app->tls.insecure = !strcmp(env_or("REDIS_TLS_INSECURE", "0"), "1");
    if ((app->log_level = read_log_level()) < 0 || ex_log_init(&app->log, "inventory_worker") != 0)
        return -1;
    app->http = getenv("BULLC_HTTP");
    static char dlq_default[512]; /* app->dlq may point here for the whole run */
    snprintf(dlq_default, sizeof dlq_default, "%s-dlq", app->queue);
    app->dlq = env_or("BULLC_DLQ", dlq_default);
    if (strchr(app->queue, ':') || strchr(app->dlq, ':') || !strcmp(app->queue, app->dlq)) {
        fprintf(stderr, "inventory_worker: BULLC_QUEUE and BULLC_DLQ must differ and contain "
                        "no ':'\n");
        return -1;
    }
    if (env_int("BULLC_CONCURRENCY", 1, 1000, 4, &numbers->concurrency) ||
        env_int("BULLC_LOCK_DURATION_MS", 100, 86400000, 30000, &numbers->lock_duration_ms) ||
        env_int("BULLC_STALLED_INTERVAL_MS", 100, 86400000, 30000, &numbers->stalled_interval_ms) ||
        env_int("BULLC_INVENTORY_BATCH", 1, INV_BATCH_MAX, 32, &numbers->batch) ||
        env_int("BULLC_INVENTORY_INFLIGHT", 1, 64, 1, &numbers->inflight))
        return -1;
    return 0;
}

/* Creates g_worker with a handler per event name and one for any other name: 0, or the exit
 * status after a message (2 for bad configuration, 1 when a handler cannot be registered). */
static int create_worker(inv_app *app, const worker_numbers *numbers)
{
    bullc_worker_opts_t opts;
    bullc_worker_opts_init(&opts);
    opts.redis_url = app->redis_url;
    opts.prefix = app->prefix;
    opts.queue = app->queue;
    opts.protocol = app->protocol;
    opts.name = env_or("BULLC_WORKER_NAME", "inventory_worker");
    opts.concurrency = (int)numbers->concurrency;
    opts.lock_duration_ms = (int)numbers->lock_duration_ms;
    opts.stalled_interval_ms = (int)numbers->stalled_interval_ms;
    opts.log_cb = inv_log_cb;
    opts.log_job_cb = inv_log_job_cb;
    opts.log_user_data = app;
    opts.log_level = (bullc_log_level_t)app->log_level;
    opts.event_cb = on_event;
    opts.event_user_data = app;
    opts.tls = app->tls;
    if (!strcmp(env_or("BULLC_ISOLATE", "0"), "1")) {
        opts.isolate = 1;
        opts.child_init = child_init;
        opts.child_fini = child_fini;
        opts.child_user_data = app;
    }

    int rc = bullc_worker_new(&g_worker, &opts);
    if (rc != 0) {
        fprintf(stderr, "inventory_worker: %s\n",
                rc == BULLC_EURL ? "bad REDIS_URL" : bullc_strerror(rc));
        return 2;
    }
    if ((rc = bullc_worker_on(g_worker, "reward_inventory_item", inv_handle_reward, app)) ||
        (rc = bullc_worker_on(g_worker, "use_item", inv_handle_use, app)) ||
        (rc = bullc_worker_on(g_worker, NULL, inv_handle_unknown, app))) {
        fprintf(stderr, "inventory_worker: %s\n", bullc_strerror(rc));
        bullc_worker_free(g_worker);
        return 1;
    }
    return 0;
}

/* SIGINT and SIGTERM stop the worker gracefully; SIGPIPE is ignored. */
static void handle_stop_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* BULLC_HTTP: the endpoints, reading the queue's counts with the worker's Redis settings. 0, or
 * the exit status after a message (2 for a bad HOST:PORT or no libmicrohttpd). */
static int start_http(const inv_app *app, ex_http **out)
{
    bullc_queue_opts_t qo;
    bullc_queue_opts_init(&qo);
    qo.redis_url = app->redis_url;
    qo.prefix = app->prefix;
    qo.queue = app->queue;
    qo.protocol = app->protocol;
    qo.tls = app->tls;
    char err[256];
    int rc = ex_http_start(out, app->http, g_worker, &qo, err, sizeof err);
    if (rc == 0)
        return 0;
    inv_log(app, BULLC_LOG_ERROR, "BULLC_HTTP: %s", err);
    return rc == EX_HTTP_ESETUP ? 2 : 1;
}

int main(void)
{
    inv_app app;
    worker_numbers numbers;
    if (read_config(&app, &numbers) != 0)
        return 2;
    if (numbers.batch > 1 && !(app.group = inv_group_new((size_t)numbers.batch, (int)numbers.inflight))) {
        fprintf(stderr, "inventory_worker: out of memory\n");
        return 1;
    }
    if (pthread_key_create(&app.slot_key, inv_thread_free) != 0) {
        fprintf(stderr, "inventory_worker: cannot create a thread key\n");
        inv_group_free(app.group);
        return 1;
    }
    int exit_status = create_worker(&app, &numbers);
    if (exit_status != 0) {
        pthread_key_delete(app.slot_key);
        inv_group_free(app.group);
        return exit_status;
    }
    ex_http *http = NULL;
    if (app.http && *app.http && (exit_status = start_http(&app, &http)) != 0) {
        bullc_worker_free(g_worker);
        pthread_key_delete(app.slot_key);
        inv_group_free(app.group);
        return exit_status;
    }
    handle_stop_signals();

    inv_log(&app, BULLC_LOG_INFO, "%s queue %s (dead letters to %s), concurrency %ld, up to %ld "
            "jobs per transaction", strcmp(app.protocol, "bull") ? "BullMQ" : "Bull", app.queue,
            app.dlq, numbers.concurrency, numbers.batch);
    int rc = bullc_worker_run(g_worker);
    if (rc != 0)
        fprintf(stderr, "inventory_worker: %s: %s\n", bullc_strerror(rc),
                bullc_worker_errmsg(g_worker));
    ex_http_stop(http);
    bullc_worker_free(g_worker);
    /* the handler threads freed their own slots when they ended; this thread's, if any, now */
    inv_thread_free(pthread_getspecific(app.slot_key));
    pthread_setspecific(app.slot_key, NULL);
    pthread_key_delete(app.slot_key);
    inv_group_free(app.group);
    return rc == 0 ? 0 : 1;
}
