/* echo_worker - a small diagnostic worker: point it at any queue and it returns each job's data
 * (or does what the data asks: sleep, fail, fail some attempts, fail for good, report progress,
 * add log lines, replace its data, move itself to delayed, signal a rate limit, wait for its
 * children, return its children's values).
 *
 *   echo_worker --queue NAME [--redis URL] [--prefix P] [--concurrency N] [--name NAME]
 *               [--lock-duration MS] [--stalled-interval MS] [--max-stalled-count N]
 *               [--max-jobs N] [--limiter-max N --limiter-duration MS] [--metrics N]
 *               [--max-rate-limit-delay MS]
 *               [--max-started-attempts N] [--custom-backoff] [--quiet]
 *               [--remove-on-complete SPEC] [--remove-on-fail SPEC]
 *
 * Data keys (when the data is an object), in the order they act:
 *   sleepMs: n            wait n ms first
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
 *   result: v             return v; otherwise the job's (possibly replaced) data is returned
 *
 * --custom-backoff installs a custom backoff strategy: type "linear" waits attemptsMade *
 * backoff.delay ms (delay 100 when absent), "giveup" returns -1 (no retry), any other type 0.
 * SIGUSR1 pauses the worker (no new jobs), SIGUSR2 resumes it.
 *
 * Exit status: 0 after a stop (SIGINT/SIGTERM, or --max-jobs reached), 1 when Redis cannot be
 * used, 2 on a bad argument.
 */
#include <bullc.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bullc_worker_t *g_worker; /* for the signal handler */

typedef struct app {
    long max_jobs; /* 0 = unlimited */
    atomic_long finished;
    int quiet;
} app;

static void on_signal(int sig)
{
    (void)sig;
    bullc_worker_stop(g_worker);
}

static void on_log(bullc_log_level_t level, const char *msg, void *ud)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    const app *a = ud;
    if (a->quiet && level > BULLC_LOG_WARN)
        return;
    fprintf(stderr, "echo_worker: %s: %s\n", names[level], msg);
}

static void on_event(bullc_event_t ev, const bullc_job_t *job, const char *detail, void *ud)
{
    app *a = ud;
    (void)job;
    (void)detail;
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

static int echo(bullc_job_t *job, void *ud)
{
    (void)ud;
    const bullc_json_t *data = bullc_job_data_json(job);
    if (bullc_json_type(data) != BULLC_JSON_OBJECT)
        return bullc_job_set_result(job, bullc_job_data(job));
    /* the original text stays valid for the whole handler, even after updateData */
    const char *orig = bullc_job_data(job);

    long long n;
    int rc;
    const char *raw;
    size_t len;
    const bullc_json_t *v = bullc_json_get(data, "sleepMs");
    if (bullc_json_int(v, &n) == 0 && n > 0)
        sleep_ms(n);

    if (bullc_json_int(bullc_json_get(data, "delayMs"), &n) == 0 &&
        bullc_job_attempts_started(job) <= times_of(data, "delayTimes")) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        return bullc_job_move_to_delayed(job, ms + n);
    }
    if (bullc_json_int(bullc_json_get(data, "rateLimitMs"), &n) == 0 &&
        bullc_job_attempts_started(job) <= times_of(data, "rateLimitTimes"))
        return bullc_job_rate_limit(job, n);

    if (bullc_json_type(bullc_json_get(data, "progress")) == BULLC_JSON_ARRAY &&
        bullc_json_member_raw(orig, "progress", &raw, &len) == 0 &&
        (rc = each_element(raw, len, report_progress, job)) != 0)
        return rc;
    const bullc_json_t *logs = bullc_json_get(data, "logs");
    if (bullc_json_type(logs) == BULLC_JSON_ARRAY) {
        for (size_t i = 0; i < bullc_json_size(logs); i++) {
            const bullc_json_t *e = bullc_json_at(logs, i);
            const char *s = bullc_json_string(e);
            char *printed = s ? NULL : bullc_json_print(e);
            if (!s && !printed)
                return BULLC_ENOMEM;
            rc = bullc_job_log(job, s ? s : printed);
            bullc_free(printed);
            if (rc != 0)
                return rc;
        }
    }
    if (bullc_json_member_raw(orig, "updateData", &raw, &len) == 0) {
        char *text = strndup(raw, len);
        if (!text)
            return BULLC_ENOMEM;
        rc = bullc_job_update_data(job, text);
        free(text);
        if (rc != 0)
            return rc;
    }

    /* `data`, the parsed view of the original data, stays valid after updateData */
    /* flows: "waitChildren": true parks the job while it has unfinished children (it runs
     * again once they are done, and then goes on) */
    if (bullc_json_type(bullc_json_get(data, "waitChildren")) == BULLC_JSON_TRUE) {
        rc = bullc_job_move_to_waiting_children(job);
        if (rc != 0)
            return rc; /* BULLC_EMOVED, or an error that fails the job */
    }

    char msg[1024];
    if ((v = bullc_json_get(data, "unrecoverable")) != NULL)
        return bullc_job_fail_unrecoverable(job, message_of(orig, v, "unrecoverable", msg, sizeof msg));
    if ((v = bullc_json_get(data, "fail")) != NULL)
        return bullc_job_fail(job, message_of(orig, v, "fail", msg, sizeof msg));
    if ((v = bullc_json_get(data, "failAttempts")) != NULL && bullc_json_int(v, &n) == 0 &&
        bullc_job_attempts_made(job) < n) {
        snprintf(msg, sizeof msg, "attempt %ld failed", bullc_job_attempts_made(job) + 1);
        return bullc_job_fail(job, msg);
    }
    /* flows: "returnChildren": true returns the children's values, "returnIgnored": true the
     * children failures it tolerated */
    int children = bullc_json_type(bullc_json_get(data, "returnChildren")) == BULLC_JSON_TRUE;
    if (children || bullc_json_type(bullc_json_get(data, "returnIgnored")) == BULLC_JSON_TRUE) {
        char *values = NULL;
        rc = children ? bullc_job_children_values(job, &values)
                      : bullc_job_ignored_children_failures(job, &values);
        if (rc == 0)
            rc = bullc_job_set_result(job, values);
        bullc_free(values);
        return rc;
    }

    /* the result exactly as the producer wrote it (numbers keep their spelling) */
    if (bullc_json_member_raw(orig, "result", &raw, &len) == 0) {
        char *text = strndup(raw, len);
        if (!text)
            return BULLC_ENOMEM;
        rc = bullc_job_set_result(job, text);
        free(text);
        return rc;
    }
    /* else the data, as replaced by updateData if it was */
    return bullc_job_set_result(job, bullc_job_data(job));
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
               "                   [--max-rate-limit-delay MS]\n"
               "                   [--max-started-attempts N] [--custom-backoff] [--quiet]\n"
               "                   [--remove-on-complete SPEC] [--remove-on-fail SPEC]\n"
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

int main(int argc, char **argv)
{
    bullc_worker_opts_t o;
    bullc_worker_opts_init(&o);
    app a = {0};
    o.log_cb = on_log;
    o.log_user_data = &a;
    o.event_cb = on_event;
    o.event_user_data = &a;

    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(k, "--quiet")) {
            a.quiet = 1;
            continue;
        } else if (!strcmp(k, "--custom-backoff")) {
            o.backoff_fn = custom_backoff;
            continue;
        }
        if (!val) {
            fprintf(stderr, "echo_worker: %s\n",
                    strncmp(k, "--", 2) ? "unexpected argument" : "option needs a value");
            return 2;
        }
        i++;
        if (!strcmp(k, "--queue"))
            o.queue = val;
        else if (!strcmp(k, "--redis"))
            o.redis_url = val;
        else if (!strcmp(k, "--prefix"))
            o.prefix = val;
        else if (!strcmp(k, "--name"))
            o.name = val;
        else if (!strcmp(k, "--concurrency")) {
            if (num_arg(k, val, 1, 10000, &n))
                return 2;
            o.concurrency = (int)n;
        } else if (!strcmp(k, "--lock-duration")) {
            if (num_arg(k, val, 1, 86400000, &n))
                return 2;
            o.lock_duration_ms = (int)n;
        } else if (!strcmp(k, "--stalled-interval")) {
            if (num_arg(k, val, 1, 86400000, &n))
                return 2;
            o.stalled_interval_ms = (int)n;
        } else if (!strcmp(k, "--max-stalled-count")) {
            if (num_arg(k, val, 0, 1000000, &n))
                return 2;
            o.max_stalled_count = (int)n;
        } else if (!strcmp(k, "--limiter-max")) {
            if (num_arg(k, val, 1, 2000000000, &n))
                return 2;
            o.limiter_max = (int)n;
        } else if (!strcmp(k, "--limiter-duration")) {
            if (num_arg(k, val, 1, 2000000000, &n))
                return 2;
            o.limiter_duration_ms = (int)n;
        } else if (!strcmp(k, "--max-rate-limit-delay")) {
            if (num_arg(k, val, 1, 2000000000, &n))
                return 2;
            o.maximum_rate_limit_delay_ms = (int)n;
        } else if (!strcmp(k, "--metrics")) {
            if (num_arg(k, val, 1, 2000000000, &n))
                return 2;
            o.metrics_max_data_points = (int)n;
        } else if (!strcmp(k, "--max-started-attempts")) {
            if (num_arg(k, val, 1, 2000000000, &n))
                return 2;
            o.max_started_attempts = (int)n;
        } else if (!strcmp(k, "--max-jobs")) {
            if (num_arg(k, val, 1, 2000000000, &n))
                return 2;
            a.max_jobs = n;
        } else if (!strcmp(k, "--remove-on-complete")) {
            if (keep_arg(k, val, &o.remove_on_complete))
                return 2;
        } else if (!strcmp(k, "--remove-on-fail")) {
            if (keep_arg(k, val, &o.remove_on_fail))
                return 2;
        } else {
            fprintf(stderr, "echo_worker: unknown option '%s' (see --help)\n", k);
            return 2;
        }
    }
    if (!o.queue || !*o.queue) {
        fprintf(stderr, "echo_worker: --queue NAME is required\n");
        return 2;
    }
    if (strchr(o.queue, ':')) {
        fprintf(stderr, "echo_worker: queue name must not contain ':'\n");
        return 2;
    }
    if ((o.limiter_max > 0) != (o.limiter_duration_ms > 0)) {
        fprintf(stderr, "echo_worker: --limiter-max and --limiter-duration go together\n");
        return 2;
    }

    int rc = bullc_worker_new(&g_worker, &o);
    if (rc == BULLC_EURL) {
        fprintf(stderr, "echo_worker: bad --redis URL '%s'\n", o.redis_url);
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

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* pause/resume signals go to one thread that may call any worker function; block them
     * before the worker's threads start so that they inherit the mask */
    static sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    sigaddset(&usr, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr, NULL);
    pthread_t sig_tid;
    int sig_thread = pthread_create(&sig_tid, NULL, signal_thread, &usr) == 0;

    rc = bullc_worker_run(g_worker);
    if (rc != 0)
        fprintf(stderr, "echo_worker: %s: %s\n", bullc_strerror(rc),
                bullc_worker_errmsg(g_worker));
    if (sig_thread) {
        atomic_store(&g_quit, 1);
        pthread_kill(sig_tid, SIGUSR1);
        pthread_join(sig_tid, NULL);
    }
    bullc_worker_free(g_worker);
    return rc == 0 ? 0 : 1;
}
