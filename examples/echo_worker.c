/* echo_worker - a small diagnostic worker: point it at any queue and it returns each job's data
 * (or does what the data asks: sleep, fail, fail some attempts, fail for good, report progress,
 * add log lines, replace its data, move itself to delayed, signal a rate limit, wait for its
 * children, return its children's values).
 *
 *   echo_worker --queue NAME [--redis URL] [--prefix P] [--concurrency N] [--name NAME]
 *               [--lock-duration MS] [--stalled-interval MS] [--max-stalled-count N]
 *               [--max-jobs N] [--limiter-max N --limiter-duration MS] [--metrics N]
 *               [--limiter-group-key K] [--limiter-bounce-back]   (Bull only)
 *               [--max-rate-limit-delay MS]
 *               [--max-started-attempts N] [--custom-backoff] [--quiet]
 *               [--remove-on-complete SPEC] [--remove-on-fail SPEC]
 *               [--protocol bullmq|bull]
 *               [--http HOST:PORT] [--log-level error|warn|info|debug]
 *               [--stop-timeout MS] [--isolate [--handler-timeout MS] [--isolate-memory-mb N]]
 *
 * --isolate runs the handler in handler processes, one per concurrency slot (README "Isolated
 * handlers"): a crash fails its job and the worker goes on. --handler-timeout MS kills a
 * handler process that runs one job longer (the job fails); --isolate-memory-mb N limits how
 * much each may allocate.
 *
 * --protocol picks the queue's wire protocol: BullMQ 6 (the default) or legacy Bull 4, where
 * the calls Bull lacks (rateLimitMs, waitChildren, returnChildren, returnIgnored) fail the job
 * with the library's reason, and delayMs repeats (Bull counts no started attempts).
 *
 * --stop-timeout MS: on SIGINT/SIGTERM, handlers still running MS ms later are told to stop
 * (bullc_worker_stop_within); without it the worker waits for them however long they take.
 *
 * --http serves GET /metrics (Prometheus) and GET /healthz (examples/common/http.h).
 * BULLC_LOG_FORMAT=json makes every stderr line a JSON object (examples/common/exlog.h); at
 * --log-level debug each recorded outcome is logged too, with its job.
 *
 * Data keys (when the data is an object), in the order they act:
 *   sleepMs: n            wait n ms first
 *   crash: "segv"|"abort"|"exit"  then die by SIGSEGV or SIGABRT, or exit with status 3 (the
 *                         whole worker, unless --isolate)
 *   hang: true            never return (nor poll bullc_job_should_stop)
 *   allocMb: n            allocate n MB and touch every page, aborting when the allocation is
 *                         refused (as an xmalloc would); then go on
 *   spinMs: n             then work for n ms, polling bullc_job_should_stop every 5 ms; when
 *                         told to stop, fail at once with "stopped: lock lost", "stopped:
 *                         timeout" or "stopped: worker stopping"
 *   delayMs: n            move the job to delayed for n ms (no attempt counted) and stop there,
 *                         while it was started at most delayTimes (default 1) times
 *   rateLimitMs: n        rate-limit the queue for n ms and put the job back to wait, while it
 *                         was started at most rateLimitTimes (default 1) times
 *   progress: [v, ...]    report each value as progress, in order
 *   logs: [line, ...]     add each line to the job's log
 *   updateData: v         replace the job's data with v
 *   waitChildren: true    move to waiting-children while children are unfinished
 *   unrecoverable: msg    fail with msg, no retry
 *   fail: msg             fail with msg
 *   failAttempts: n       fail ("attempt k failed") while fewer than n attempts were made
 *   returnChildren: true  return the children's values (returnIgnored: their tolerated failures)
 *   echoTraceparent: true return {"traceparent": bullc_job_traceparent(job)} (null when the
 *                         worker does not trace)
 *   result: v             return v; otherwise the job's (possibly replaced) data is returned
 *
 * Tracing (README "Observability") comes from the OTEL_* environment: with
 * OTEL_EXPORTER_OTLP_ENDPOINT set, each job's attempts are exported as OpenTelemetry spans.
 *
 * --custom-backoff installs a custom backoff strategy: type "linear" waits attemptsMade *
 * backoff.delay ms (delay 100 when absent), "giveup" returns -1 (no retry), any other type 0.
 * SIGUSR1 pauses the worker (no new jobs), SIGUSR2 resumes it.
 *
 * Exit status: 0 after a stop (SIGINT/SIGTERM, or --max-jobs reached), 1 when Redis cannot be
 * used, 2 on a bad argument.
 */
#include <bullc.h>

#include "common/exlog.h"
#include "common/http.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bullc_worker_t *g_worker; /* for the signal handler */
static long g_stop_timeout = -1; /* --stop-timeout MS, -1 = none */

typedef struct app {
    long max_jobs; /* 0 = unlimited */
    atomic_long finished;
    int quiet;
    int errors_logged; /* error lines the library printed: create_worker adds none of its own */
    ex_log log;        /* text or JSON lines (BULLC_LOG_FORMAT) */
    const char *http;  /* --http HOST:PORT, or NULL */
    int log_level;     /* --log-level (bullc_log_level_t) */
} app;

static ex_http *g_http; /* --http: the endpoints, stopped before the worker is freed */
static const ex_log *g_log; /* for run_worker's last line */

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop_timeout >= 0)
        bullc_worker_stop_within(g_worker, g_stop_timeout);
    else
        bullc_worker_stop(g_worker);
}

static void on_log_job(bullc_log_level_t level, const char *msg, const bullc_job_t *job, void *ud)
{
    app *a = ud;
    if (a->quiet && level > BULLC_LOG_WARN)
        return;
    if (level == BULLC_LOG_ERROR)
        a->errors_logged++;
    ex_log_write(&a->log, level, job, msg);
}

static void on_log(bullc_log_level_t level, const char *msg, void *ud)
{
    on_log_job(level, msg, NULL, ud);
}

/* At --log-level debug: one line per recorded outcome, with its job. */
static void log_outcome(app *a, bullc_event_t ev, const bullc_job_t *job, const char *detail)
{
    if (a->quiet || a->log_level < BULLC_LOG_DEBUG)
        return;
    if (ev == BULLC_EVENT_COMPLETED)
        ex_log_printf(&a->log, BULLC_LOG_DEBUG, job, "job %s completed", bullc_job_id(job));
    else
        ex_log_printf(&a->log, BULLC_LOG_DEBUG, job, "job %s %s: %s", bullc_job_id(job),
                      ev == BULLC_EVENT_FAILED ? "failed" : "failed, will be retried", detail);
}

static void on_event(bullc_event_t ev, const bullc_job_t *job, const char *detail, void *ud)
{
    app *a = ud;
    if (ev == BULLC_EVENT_COMPLETED || ev == BULLC_EVENT_FAILED || ev == BULLC_EVENT_RETRYING)
        log_outcome(a, ev, job, detail);
    if (ev != BULLC_EVENT_COMPLETED && ev != BULLC_EVENT_FAILED)
        return;
    long n = atomic_fetch_add(&a->finished, 1) + 1;
    if (a->max_jobs > 0 && n == a->max_jobs)
        bullc_worker_stop(g_worker);
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The failure message for data member `key`: a string as is, anything else as the producer
 * wrote it (JavaScript's String() gives the same text for numbers, booleans and null). */
static const char *message_of(const char *json, const bullc_json_t *v, const char *key, char *buf,
                              size_t cap)
{
    const char *s = bullc_json_string(v), *raw;
    size_t len;
    if (s)
        return s;
    if (bullc_json_member_raw(json, key, &raw, &len) != 0)
        return key;
    snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), raw);
    return buf;
}

/* Calls fn(element text, len) for each element of the JSON array text `arr` (valid JSON, as
 * stored by a producer), with the element's exact text. Returns the first non-zero fn result. */
static int each_element(const char *arr, size_t n, int (*fn)(bullc_job_t *, const char *, size_t),
                        bullc_job_t *job)
{
    size_t i = 0;
    while (i < n && arr[i] != '[')
        i++;
    i++;
    int depth = 0, in_str = 0;
    size_t start = i;
    for (; i < n; i++) {
        char c = arr[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == '[' || c == '{')
            depth++;
        else if ((c == ']' || c == '}') && depth > 0)
            depth--;
        else if ((c == ',' || c == ']') && depth == 0) {
            size_t a = start, b = i;
            while (a < b && strchr(" \t\r\n", arr[a]))
                a++;
            while (b > a && strchr(" \t\r\n", arr[b - 1]))
                b--;
            if (b > a) {
                int rc = fn(job, arr + a, b - a);
                if (rc != 0)
                    return rc;
            }
            if (c == ']')
                break;
            start = i + 1;
        }
    }
    return 0;
}

static int report_progress(bullc_job_t *job, const char *text, size_t len)
{
    char *json = strndup(text, len);
    if (!json)
        return BULLC_ENOMEM;
    int rc = bullc_job_update_progress(job, json);
    free(json);
    return rc;
}

/* How many times the job may do `key` (a data member holding a count, default 1). */
static long long times_of(const bullc_json_t *data, const char *key)
{
    long long n;
    return bullc_json_int(bullc_json_get(data, key), &n) == 0 ? n : 1;
}

/* sleepMs: n waits n ms first. */
static void sleep_if_asked(const bullc_json_t *data)
{
    long long sleep_for;
    if (bullc_json_int(bullc_json_get(data, "sleepMs"), &sleep_for) == 0 && sleep_for > 0)
        sleep_ms(sleep_for);
}

/* crash, hang and allocMb: a handler misbehaving as C code can (isolated handlers' tests). */
static void misbehave_if_asked(const bullc_json_t *data)
{
    const char *crash = bullc_json_string(bullc_json_get(data, "crash"));
    if (crash && !strcmp(crash, "segv"))
        raise(SIGSEGV);
    if (crash && !strcmp(crash, "abort"))
        abort();
    if (crash && !strcmp(crash, "exit"))
        _exit(3);
    if (bullc_json_type(bullc_json_get(data, "hang")) == BULLC_JSON_TRUE)
        for (;;)
            sleep_ms(1000);
    long long mb;
    if (bullc_json_int(bullc_json_get(data, "allocMb"), &mb) == 0 && mb > 0) {
        size_t size = (size_t)mb * 1024 * 1024;
        volatile char *block = malloc(size);
        if (!block) {
            errno = ENOMEM; /* as POSIX malloc leaves it; a sanitizer's allocator may not */
            abort();
        }
        for (size_t i = 0; i < size; i += 4096)
            block[i] = 1;
        free((void *)block);
    }
}

/* spinMs: n works for n ms, polling bullc_job_should_stop every 5 ms. Returns 1 with the
 * failure in *rc when told to stop. */
static int spin_if_asked(bullc_job_t *job, const bullc_json_t *data, int *rc)
{
    long long spin_for;
    if (bullc_json_int(bullc_json_get(data, "spinMs"), &spin_for) != 0 || spin_for <= 0)
        return 0;
    for (long long spun = 0; spun < spin_for; spun += 5) {
        int why = bullc_job_should_stop(job);
        if (why > 0) {
            *rc = bullc_job_fail(job, why & BULLC_STOP_LOCK_LOST ? "stopped: lock lost"
                                      : why & BULLC_STOP_TIMEOUT ? "stopped: timeout"
                                                                 : "stopped: worker stopping");
            return 1;
        }
        sleep_ms(5);
    }
    return 0;
}

/* delayMs and rateLimitMs: the job leaves active for later, while it was started at most
 * delayTimes / rateLimitTimes times. Returns 1 with the call's code in *rc when it did. */
static int leave_for_later(bullc_job_t *job, const bullc_json_t *data, int *rc)
{
    long long wait_ms;
    if (bullc_json_int(bullc_json_get(data, "delayMs"), &wait_ms) == 0 &&
        bullc_job_attempts_started(job) <= times_of(data, "delayTimes")) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        *rc = bullc_job_move_to_delayed(job, now_ms + wait_ms);
        return 1;
    }
    if (bullc_json_int(bullc_json_get(data, "rateLimitMs"), &wait_ms) == 0 &&
        bullc_job_attempts_started(job) <= times_of(data, "rateLimitTimes")) {
        *rc = bullc_job_rate_limit(job, wait_ms);
        return 1;
    }
    return 0;
}

/* progress: [v, ...] reports each value as written (numbers keep their spelling). */
static int report_progress_values(bullc_job_t *job, const bullc_json_t *data, const char *original)
{
    const char *raw;
    size_t len;
    if (bullc_json_type(bullc_json_get(data, "progress")) != BULLC_JSON_ARRAY ||
        bullc_json_member_raw(original, "progress", &raw, &len) != 0)
        return 0;
    return each_element(raw, len, report_progress, job);
}

/* logs: [line, ...] adds each line (a string as it is, anything else as JSON) to the job's log. */
static int add_log_lines(bullc_job_t *job, const bullc_json_t *data)
{
    const bullc_json_t *logs = bullc_json_get(data, "logs");
    if (bullc_json_type(logs) != BULLC_JSON_ARRAY)
        return 0;
    for (size_t index = 0; index < bullc_json_size(logs); index++) {
        const bullc_json_t *line = bullc_json_at(logs, index);
        const char *text = bullc_json_string(line);
        char *printed = text ? NULL : bullc_json_print(line);
        if (!text && !printed)
            return BULLC_ENOMEM;
        int rc = bullc_job_log(job, text ? text : printed);
        bullc_free(printed);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* updateData: v replaces the job's data with v, as written. */
static int replace_data_if_asked(bullc_job_t *job, const char *original)
{
    const char *raw;
    size_t len;
    if (bullc_json_member_raw(original, "updateData", &raw, &len) != 0)
        return 0;
    char *text = strndup(raw, len);
    if (!text)
        return BULLC_ENOMEM;
    int rc = bullc_job_update_data(job, text);
    free(text);
    return rc;
}

/* flows: "waitChildren": true parks the job while it has unfinished children (it runs again
 * once they are done, and then goes on). BULLC_EMOVED when it was parked. */
static int wait_for_children_if_asked(bullc_job_t *job, const bullc_json_t *data)
{
    if (bullc_json_type(bullc_json_get(data, "waitChildren")) != BULLC_JSON_TRUE)
        return 0;
    return bullc_job_move_to_waiting_children(job);
}

/* unrecoverable, fail and failAttempts: fails the job as asked. Returns 1 with the call's code in
 * *rc when it did. */
static int fail_if_asked(bullc_job_t *job, const bullc_json_t *data, const char *original, int *rc)
{
    char message[1024];
    const bullc_json_t *reason;
    long long attempts;
    if ((reason = bullc_json_get(data, "unrecoverable")) != NULL) {
        *rc = bullc_job_fail_unrecoverable(
            job, message_of(original, reason, "unrecoverable", message, sizeof message));
        return 1;
    }
    if ((reason = bullc_json_get(data, "fail")) != NULL) {
        *rc = bullc_job_fail(job, message_of(original, reason, "fail", message, sizeof message));
        return 1;
    }
    if (bullc_json_int(bullc_json_get(data, "failAttempts"), &attempts) == 0 &&
        bullc_job_attempts_made(job) < attempts) {
        snprintf(message, sizeof message, "attempt %ld failed", bullc_job_attempts_made(job) + 1);
        *rc = bullc_job_fail(job, message);
        return 1;
    }
    return 0;
}

/* The result: the children's values (returnChildren) or their tolerated failures
 * (returnIgnored), else `result` exactly as the producer wrote it, else the data (as replaced by
 * updateData if it was). */
static int set_result_as_asked(bullc_job_t *job, const bullc_json_t *data, const char *original)
{
    int children = bullc_json_type(bullc_json_get(data, "returnChildren")) == BULLC_JSON_TRUE;
    if (children || bullc_json_type(bullc_json_get(data, "returnIgnored")) == BULLC_JSON_TRUE) {
        char *values = NULL;
        int rc = children ? bullc_job_children_values(job, &values)
                          : bullc_job_ignored_children_failures(job, &values);
        if (rc == 0)
            rc = bullc_job_set_result(job, values);
        bullc_free(values);
        return rc;
    }
    if (bullc_json_type(bullc_json_get(data, "echoTraceparent")) == BULLC_JSON_TRUE) {
        const char *tp = bullc_job_traceparent(job);
        char text[96];
        snprintf(text, sizeof text, tp ? "{\"traceparent\":\"%s\"}" : "{\"traceparent\":null}",
                 tp ? tp : "");
        return bullc_job_set_result(job, text);
    }
    const char *raw;
    size_t len;
    if (bullc_json_member_raw(original, "result", &raw, &len) == 0) {
        char *text = strndup(raw, len);
        if (!text)
            return BULLC_ENOMEM;
        int rc = bullc_job_set_result(job, text);
        free(text);
        return rc;
    }
    return bullc_job_set_result(job, bullc_job_data(job));
}

/* The handler: does what the data's keys ask, in the order the top comment lists them. */
static int echo(bullc_job_t *job, void *ud)
{
    (void)ud;
    const bullc_json_t *data = bullc_job_data_json(job);
    if (bullc_json_type(data) != BULLC_JSON_OBJECT)
        return bullc_job_set_result(job, bullc_job_data(job));
    /* the original text, and `data` (its parsed view), stay valid for the whole handler, even
     * after updateData */
    const char *original = bullc_job_data(job);
    int rc = 0;
    sleep_if_asked(data);
    misbehave_if_asked(data);
    if (spin_if_asked(job, data, &rc))
        return rc;
    if (leave_for_later(job, data, &rc))
        return rc;
    if ((rc = report_progress_values(job, data, original)) != 0 ||
        (rc = add_log_lines(job, data)) != 0 || (rc = replace_data_if_asked(job, original)) != 0)
        return rc;
    /* BULLC_EMOVED, or an error that fails the job */
    if ((rc = wait_for_children_if_asked(job, data)) != 0)
        return rc;
    if (fail_if_asked(job, data, original, &rc))
        return rc;
    return set_result_as_asked(job, data, original);
}

/* --remove-on-complete / --remove-on-fail SPEC: "true" (remove at once), "false" (keep all),
 * N (keep the newest N) or "age=S,count=N,limit=L" with any of the three (BullMQ's KeepJobs). */
static int keep_arg(const char *opt, const char *s, bullc_keep_jobs_t *out)
{
    bullc_keep_jobs_t k = {-1, 0, 0};
    char *end;
    if (!strcmp(s, "true")) {
        k.count = 0;
    } else if (!strcmp(s, "false")) {
        k.count = -1;
    } else if (*s >= '0' && *s <= '9') {
        errno = 0;
        k.count = strtol(s, &end, 10);
        if (*end || errno)
            goto bad;
    } else {
        const char *p = s;
        while (*p) {
            long *dst = !strncmp(p, "age=", 4) ? &k.age_s : !strncmp(p, "count=", 6) ? &k.count
                      : !strncmp(p, "limit=", 6) ? &k.limit : NULL;
            if (!dst)
                goto bad;
            p = strchr(p, '=') + 1;
            errno = 0;
            *dst = strtol(p, &end, 10);
            if (end == p || errno || *dst < 0 || (*end && *end != ','))
                goto bad;
            p = *end ? end + 1 : end;
        }
        if (!*s)
            goto bad;
    }
    *out = k;
    return 0;
bad:
    fprintf(stderr, "echo_worker: %s needs true, false, N or age=S,count=N,limit=L, got '%s'\n",
            opt, s);
    return -1;
}

/* The --custom-backoff strategy (deterministic, for tests). */
static long long custom_backoff(long attempts_made, const char *type, const char *reason,
                                const bullc_job_t *job, void *ud)
{
    (void)reason;
    (void)ud;
    if (strcmp(type, "giveup") == 0)
        return -1;
    if (strcmp(type, "linear") != 0)
        return 0;
    long long delay = 100;
    const char *raw, *d;
    size_t len, dlen;
    if (bullc_json_member_raw(bullc_job_opts(job), "backoff", &raw, &len) == 0) {
        char *backoff = strndup(raw, len);
        if (backoff && bullc_json_member_raw(backoff, "delay", &d, &dlen) == 0)
            delay = strtoll(d, NULL, 10);
        free(backoff);
    }
    return attempts_made * delay;
}

static atomic_int g_quit; /* ends signal_thread once the worker has stopped */

/* SIGUSR1/SIGUSR2 arrive here (blocked in every other thread): pause and resume. */
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (atomic_load(&g_quit))
            break;
        if (sig == SIGUSR1)
            bullc_worker_pause(g_worker);
        else if (sig == SIGUSR2)
            bullc_worker_resume(g_worker);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: echo_worker --queue NAME [--redis URL] [--prefix P] [--concurrency N]\n"
               "                   [--name NAME] [--lock-duration MS] [--stalled-interval MS]\n"
               "                   [--max-stalled-count N] [--max-jobs N]\n"
               "                   [--limiter-max N --limiter-duration MS] [--metrics N]\n"
               "                   [--limiter-group-key K] [--limiter-bounce-back] (Bull)\n"
               "                   [--max-rate-limit-delay MS]\n"
               "                   [--max-started-attempts N] [--custom-backoff] [--quiet]\n"
               "                   [--remove-on-complete SPEC] [--remove-on-fail SPEC]\n"
               "                   [--protocol bullmq|bull]\n"
               "                   [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]\n"
               "                   [--tls-server-name NAME] [--tls-insecure]\n"
               "                   [--http HOST:PORT] [--log-level error|warn|info|debug]\n"
               "                   [--stop-timeout MS]\n"
               "                   [--isolate [--handler-timeout MS] [--isolate-memory-mb N]]\n"
               "  URL: redis://[user:password@]host[:port][/db], rediss://... (TLS),\n"
               "       redis-sentinel://[user:password@]host:port,host:port,...[/db]#master,\n"
               "       rediss-sentinel://... (a Cluster is found from any node's URL)\n"
               "  SPEC: true, false, N (keep the newest N) or age=S,count=N,limit=L (any of them)\n");
}

/* Parses a whole-string integer within [lo, hi]. */
static int num_arg(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "echo_worker: %s needs a number from %ld to %ld, got '%s'\n", opt, lo, hi,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* The worker option an integer flag sets, with its bounds; NULL for any other flag. */
static int *number_option(bullc_worker_opts_t *opts, const char *flag, long *lowest,
                          long *highest)
{
    const struct {
        const char *flag;
        long lowest, highest;
        int *target;
    } options[] = {
        {"--concurrency", 1, 10000, &opts->concurrency},
        {"--lock-duration", 1, 86400000, &opts->lock_duration_ms},
        {"--stalled-interval", 1, 86400000, &opts->stalled_interval_ms},
        {"--max-stalled-count", 0, 1000000, &opts->max_stalled_count},
        {"--limiter-max", 1, 2000000000, &opts->limiter_max},
        {"--limiter-duration", 1, 2000000000, &opts->limiter_duration_ms},
        {"--max-rate-limit-delay", 1, 2000000000, &opts->maximum_rate_limit_delay_ms},
        {"--metrics", 1, 2000000000, &opts->metrics_max_data_points},
        {"--max-started-attempts", 1, 2000000000, &opts->max_started_attempts},
        {"--handler-timeout", 1, 2000000000, &opts->isolate_timeout_ms},
        {"--isolate-memory-mb", 1, 1000000, &opts->isolate_memory_mb},
    };
    for (size_t index = 0; index < sizeof options / sizeof *options; index++) {
        if (strcmp(flag, options[index].flag) == 0) {
            *lowest = options[index].lowest;
            *highest = options[index].highest;
            return options[index].target;
        }
    }
    return NULL;
}

/* The worker option a text flag sets; NULL for any other flag. */
static const char **text_option(bullc_worker_opts_t *opts, const char *flag)
{
    const struct {
        const char *flag;
        const char **target;
    } options[] = {
        {"--queue", &opts->queue},
        {"--redis", &opts->redis_url},
        {"--prefix", &opts->prefix},
        {"--name", &opts->name},
        {"--protocol", &opts->protocol},
        {"--limiter-group-key", &opts->limiter_group_key},
        {"--tls-ca", &opts->tls.ca_file},
        {"--tls-cert", &opts->tls.cert_file},
        {"--tls-key", &opts->tls.key_file},
        {"--tls-server-name", &opts->tls.server_name},
    };
    for (size_t index = 0; index < sizeof options / sizeof *options; index++)
        if (strcmp(flag, options[index].flag) == 0)
            return options[index].target;
    return NULL;
}

/* --log-level error|warn|info|debug: the worker's log level (and its outcome lines at debug). */
static int level_arg(const char *value, bullc_worker_opts_t *opts, app *state)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(value, names[i])) {
            opts->log_level = (bullc_log_level_t)i;
            state->log_level = i;
            return 0;
        }
    fprintf(stderr, "echo_worker: --log-level: error, warn, info or debug\n");
    return -1;
}

/* A flag that takes a value: 0 once set, -1 (with a message) for an unknown flag or bad value. */
static int set_value_flag(const char *flag, const char *value, bullc_worker_opts_t *opts,
                          app *state)
{
    long lowest, highest, number;
    int *number_target = number_option(opts, flag, &lowest, &highest);
    if (number_target) {
        if (num_arg(flag, value, lowest, highest, &number))
            return -1;
        *number_target = (int)number;
        return 0;
    }
    const char **text_target = text_option(opts, flag);
    if (text_target) {
        *text_target = value;
        return 0;
    }
    if (!strcmp(flag, "--max-jobs"))
        return num_arg(flag, value, 1, 2000000000, &state->max_jobs);
    if (!strcmp(flag, "--stop-timeout"))
        return num_arg(flag, value, 0, 2000000000, &g_stop_timeout);
    if (!strcmp(flag, "--http"))
        return (state->http = value), 0;
    if (!strcmp(flag, "--log-level"))
        return level_arg(value, opts, state);
    if (!strcmp(flag, "--remove-on-complete"))
        return keep_arg(flag, value, &opts->remove_on_complete);
    if (!strcmp(flag, "--remove-on-fail"))
        return keep_arg(flag, value, &opts->remove_on_fail);
    fprintf(stderr, "echo_worker: unknown option '%s' (see --help)\n", flag);
    return -1;
}

/* What the options must satisfy together: 0, or -1 with a message. */
static int check_options(const bullc_worker_opts_t *opts)
{
    if (!opts->queue || !*opts->queue) {
        fprintf(stderr, "echo_worker: --queue NAME is required\n");
        return -1;
    }
    if (strchr(opts->queue, ':')) {
        fprintf(stderr, "echo_worker: queue name must not contain ':'\n");
        return -1;
    }
    if ((opts->limiter_max > 0) != (opts->limiter_duration_ms > 0)) {
        fprintf(stderr, "echo_worker: --limiter-max and --limiter-duration go together\n");
        return -1;
    }
    return 0;
}

/* What the command line asks for. */
typedef enum args_outcome { ARGS_RUN, ARGS_HELP, ARGS_BAD } args_outcome;

/* Reads the command line into the worker's options and `state`: ARGS_RUN, ARGS_HELP (the usage
 * was printed) or ARGS_BAD (a message was printed). */
static args_outcome parse_args(int argc, char **argv, bullc_worker_opts_t *opts, app *state)
{
    for (int index = 1; index < argc; index++) {
        const char *flag = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            usage(stdout);
            return ARGS_HELP;
        }
        if (!strcmp(flag, "--quiet")) {
            state->quiet = 1;
            continue;
        }
        if (!strcmp(flag, "--custom-backoff")) {
            opts->backoff_fn = custom_backoff;
            continue;
        }
        if (!strcmp(flag, "--isolate")) {
            opts->isolate = 1;
            continue;
        }
        if (!strcmp(flag, "--tls-insecure")) {
            opts->tls.insecure = 1;
            continue;
        }
        if (!strcmp(flag, "--limiter-bounce-back")) {
            opts->limiter_bounce_back = 1;
            continue;
        }
        if (!value) {
            fprintf(stderr, "echo_worker: %s\n",
                    strncmp(flag, "--", 2) ? "unexpected argument" : "option needs a value");
            return ARGS_BAD;
        }
        index++;
        if (set_value_flag(flag, value, opts, state) != 0)
            return ARGS_BAD;
    }
    return check_options(opts) == 0 ? ARGS_RUN : ARGS_BAD;
}

/* Creates g_worker with the echo handler for every job: 0, or the exit status after a message
 * (2 for a bad option, 1 when the handler cannot be registered). */
static int create_worker(const bullc_worker_opts_t *opts)
{
    const app *a = opts->log_user_data;
    int logged = a->errors_logged;
    int rc = bullc_worker_new(&g_worker, opts);
    if (rc != 0 && a->errors_logged > logged)
        return 2; /* the library's error line already says why */
    if (rc == BULLC_EURL) {
        fprintf(stderr, "echo_worker: bad --redis URL '%s'\n", opts->redis_url);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "echo_worker: %s\n", bullc_strerror(rc));
        return 2;
    }
    if ((rc = bullc_worker_on(g_worker, NULL, echo, NULL)) != 0) {
        fprintf(stderr, "echo_worker: %s\n", bullc_strerror(rc));
        bullc_worker_free(g_worker);
        return 1;
    }
    return 0;
}

/* SIGINT and SIGTERM stop the worker; SIGPIPE is ignored. */
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

/* Runs g_worker until it stops, SIGUSR1/SIGUSR2 going to a thread that pauses and resumes it,
 * then frees it. Returns the exit status. */
static int run_worker(void)
{
    /* pause/resume signals go to one thread that may call any worker function; block them
     * before the worker's threads start so that they inherit the mask */
    static sigset_t pause_signals;
    sigemptyset(&pause_signals);
    sigaddset(&pause_signals, SIGUSR1);
    sigaddset(&pause_signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &pause_signals, NULL);
    pthread_t signal_tid;
    int has_signal_thread = pthread_create(&signal_tid, NULL, signal_thread, &pause_signals) == 0;

    int rc = bullc_worker_run(g_worker);
    if (rc != 0 && g_log->json)
        ex_log_printf(g_log, BULLC_LOG_ERROR, NULL, "%s: %s", bullc_strerror(rc),
                      bullc_worker_errmsg(g_worker));
    else if (rc != 0)
        fprintf(stderr, "echo_worker: %s: %s\n", bullc_strerror(rc),
                bullc_worker_errmsg(g_worker));
    if (has_signal_thread) {
        atomic_store(&g_quit, 1);
        pthread_kill(signal_tid, SIGUSR1);
        pthread_join(signal_tid, NULL);
    }
    ex_http_stop(g_http);
    bullc_worker_free(g_worker);
    return rc == 0 ? 0 : 1;
}

/* --http: the endpoints, reading the queue's counts with the worker's Redis settings. 0, or the
 * exit status after a message (2 for a bad HOST:PORT or no libmicrohttpd; the worker is freed). */
static int start_http(const bullc_worker_opts_t *opts, app *state)
{
    bullc_queue_opts_t qo;
    bullc_queue_opts_init(&qo);
    qo.redis_url = opts->redis_url;
    qo.prefix = opts->prefix;
    qo.queue = opts->queue;
    qo.connect_timeout_ms = opts->connect_timeout_ms;
    qo.tls = opts->tls;
    char err[256];
    int rc = ex_http_start(&g_http, state->http, g_worker, &qo, err, sizeof err);
    if (rc == 0)
        return 0;
    ex_log_printf(&state->log, BULLC_LOG_ERROR, NULL, "--http: %s", err);
    bullc_worker_free(g_worker);
    return rc == EX_HTTP_ESETUP ? 2 : 1;
}

int main(int argc, char **argv)
{
    /* Few malloc arenas: glibc gives threads up to 8 per core, each holding freed memory of its
     * own, which at --concurrency 100 is about 3 MiB of the worker's peak; two are plenty for
     * handlers this short (README "Performance"). The environment's MALLOC_ARENA_MAX wins. */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
    bullc_worker_opts_t opts;
    bullc_worker_opts_init(&opts);
    app state = {0};
    state.log_level = BULLC_LOG_INFO;
    if (ex_log_init(&state.log, "echo_worker") != 0)
        return 2;
    g_log = &state.log;
    opts.log_job_cb = on_log_job;
    opts.log_cb = on_log;
    opts.log_user_data = &state;
    opts.event_cb = on_event;
    opts.event_user_data = &state;

    args_outcome args = parse_args(argc, argv, &opts, &state);
    if (args != ARGS_RUN)
        return args == ARGS_HELP ? 0 : 2;
    int exit_status = create_worker(&opts);
    if (exit_status != 0)
        return exit_status;
    if (state.http && (exit_status = start_http(&opts, &state)) != 0)
        return exit_status;
    handle_stop_signals();
    return run_worker();
}
