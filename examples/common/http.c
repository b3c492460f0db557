/* http.c - /metrics and /healthz for the example workers (http.h). One thread of
 * libmicrohttpd answers requests; another reads the queue's counts every EX_HTTP_COUNTS_MS
 * with its own bullc_queue_t, which is also the probe that says whether Redis answers.
 *
 * libmicrohttpd is not linked: ex_http_start dlopen()s it and resolves the few functions used
 * here into the server's own table (struct mhd_api), and ex_http_stop dlclose()s it. A worker
 * run without --http / BULLC_HTTP thus never maps it nor its dependencies (gnutls, nettle, gmp,
 * p11-kit...), about 2.5 MB of resident memory (README "Metrics and health"). Its header
 * still gives the types and constants. */
#include "http.h"

#include <microhttpd.h>

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* /healthz: the probe must have worked this recently (a silent Redis blocks it) */
#define EX_HTTP_PROBE_STALE_MS 7000

/* The shared object loaded: its SONAME, which the Debian package libmicrohttpd12 provides. */
#define EX_HTTP_MHD_SONAME "libmicrohttpd.so.12"

/* The functions of libmicrohttpd we call, as <microhttpd.h> declares them. */
typedef struct MHD_Daemon *(*mhd_start_daemon_fn)(unsigned int flags, uint16_t port,
                                                  MHD_AcceptPolicyCallback apc, void *apc_cls,
                                                  MHD_AccessHandlerCallback dh, void *dh_cls, ...);
typedef void (*mhd_stop_daemon_fn)(struct MHD_Daemon *daemon);
typedef struct MHD_Response *(*mhd_create_response_from_buffer_fn)(
    size_t size, void *buffer, enum MHD_ResponseMemoryMode mode);
typedef enum MHD_Result (*mhd_add_response_header_fn)(struct MHD_Response *response,
                                                      const char *header, const char *content);
typedef enum MHD_Result (*mhd_queue_response_fn)(struct MHD_Connection *connection,
                                                 unsigned int status_code,
                                                 struct MHD_Response *response);
typedef void (*mhd_destroy_response_fn)(struct MHD_Response *response);

struct mhd_api {
    void *lib; /* dlopen handle; NULL until loaded */
    mhd_start_daemon_fn start_daemon;
    mhd_stop_daemon_fn stop_daemon;
    mhd_create_response_from_buffer_fn create_response_from_buffer;
    mhd_add_response_header_fn add_response_header;
    mhd_queue_response_fn queue_response;
    mhd_destroy_response_fn destroy_response;
};

struct ex_http {
    struct mhd_api mhd;        /* loaded by ex_http_start, unloaded by ex_http_stop */
    struct MHD_Daemon *daemon;
    bullc_worker_t *worker;
    bullc_queue_opts_t qo;
    char *url, *prefix, *queue; /* owned copies of qo's strings */
    pthread_t tid;
    int started;
    int inited;                /* mu and cv exist */
    pthread_mutex_t mu;        /* guards everything below */
    pthread_cond_t cv;
    int quit;
    int have_counts;
    bullc_job_counts_t counts;
    int probe_ok;              /* -1 not yet probed, 0 failed, 1 worked */
    long long probe_ok_ms;     /* monotonic ms of the last probe that worked */
    char probe_err[600];
    char queue_log[256];       /* the queue handle's last log line (why a connect failed) */
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the counts and the probe ------------------------------------------------------------ */

static void on_queue_log(bullc_log_level_t level, const char *message, void *ud)
{
    ex_http *h = ud;
    if (level > BULLC_LOG_WARN)
        return;
    pthread_mutex_lock(&h->mu);
    snprintf(h->queue_log, sizeof h->queue_log, "%s", message);
    pthread_mutex_unlock(&h->mu);
}

/* One read of the counts (connecting the handle first if needed); records the outcome. */
static void probe(ex_http *h, bullc_queue_t **q)
{
    bullc_job_counts_t c;
    char why[600] = "";
    int rc = *q ? 0 : bullc_queue_new(q, &h->qo);
    if (rc != 0) {
        pthread_mutex_lock(&h->mu);
        snprintf(why, sizeof why, "%s: %s", bullc_strerror(rc), h->queue_log);
        pthread_mutex_unlock(&h->mu);
    } else if ((rc = bullc_queue_get_counts(*q, &c)) != 0) {
        snprintf(why, sizeof why, "%s: %s", bullc_strerror(rc), bullc_queue_errmsg(*q));
    }
    pthread_mutex_lock(&h->mu);
    h->probe_ok = rc == 0;
    if (rc == 0) {
        h->counts = c;
        h->have_counts = 1;
        h->probe_ok_ms = mono_ms();
    } else {
        snprintf(h->probe_err, sizeof h->probe_err, "%s", why);
    }
    pthread_mutex_unlock(&h->mu);
}

static void *counts_main(void *arg)
{
    ex_http *h = arg;
    bullc_queue_t *q = NULL;
    pthread_mutex_lock(&h->mu);
    while (!h->quit) {
        pthread_mutex_unlock(&h->mu);
        probe(h, &q);
        pthread_mutex_lock(&h->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += EX_HTTP_COUNTS_MS / 1000;
        until.tv_nsec += (EX_HTTP_COUNTS_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!h->quit && pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&h->mu);
    bullc_queue_free(q);
    return NULL;
}

/* ---- the pages ---------------------------------------------------------------------------- */

/* `v` with \\ and " escaped for a label value (newlines cannot be in a queue name we read). */
static void label_value(char *out, size_t cap, const char *v)
{
    size_t at = 0;
    for (; *v && at + 2 < cap; v++) {
        if (*v == '\\' || *v == '"')
            out[at++] = '\\';
        out[at++] = *v;
    }
    out[at] = '\0';
}

/* The queue's counts as bullc_queue_jobs{queue,state}, with the states Node's getJobCounts()
 * reports; nothing before the first read worked. malloc'd, NULL on allocation failure. */
static char *counts_text(ex_http *h)
{
    pthread_mutex_lock(&h->mu);
    bullc_job_counts_t c = h->counts;
    int have = h->have_counts;
    pthread_mutex_unlock(&h->mu);
    const struct { const char *state; long long n; } rows[] = {
        {"active", c.active},       {"completed", c.completed},     {"delayed", c.delayed},
        {"failed", c.failed},       {"prioritized", c.prioritized}, {"waiting", c.waiting},
        {"waiting-children", c.waiting_children},
    };
    char queue[512];
    label_value(queue, sizeof queue, h->queue);
    size_t cap = 4096, at = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    if (!have)
        return out;
    at += (size_t)snprintf(out, cap, "# HELP bullc_queue_jobs Jobs in the queue by state "
                                     "(Queue.getJobCounts), read every %d ms.\n"
                                     "# TYPE bullc_queue_jobs gauge\n", EX_HTTP_COUNTS_MS);
    for (size_t i = 0; i < sizeof rows / sizeof *rows && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "bullc_queue_jobs{queue=\"%s\",state=\"%s\"} %lld\n",
                               queue, rows[i].state, rows[i].n);
    return out;
}

/* The whole /metrics body, malloc'd; NULL on failure. */
static char *metrics_text(ex_http *h)
{
    bullc_worker_stats_t st;
    char *worker_part = NULL;
    if (bullc_worker_stats(h->worker, &st) != 0 || bullc_worker_stats_prometheus(&st, &worker_part) != 0)
        return NULL;
    char *queue_part = counts_text(h);
    char *all = NULL;
    if (queue_part && (all = malloc(strlen(worker_part) + strlen(queue_part) + 1)))
        strcat(strcpy(all, worker_part), queue_part);
    bullc_free(worker_part);
    free(queue_part);
    return all;
}

/* 0 and "ok", or 503 and why not, in `why`. */
static int health(ex_http *h, char *why, size_t cap)
{
    bullc_worker_stats_t st;
    if (bullc_worker_stats(h->worker, &st) != 0 || !st.running) {
        snprintf(why, cap, "worker not running\n");
        return 503;
    }
    pthread_mutex_lock(&h->mu);
    int ok = h->probe_ok;
    long long age = mono_ms() - h->probe_ok_ms;
    char err[sizeof h->probe_err];
    memcpy(err, h->probe_err, sizeof err);
    pthread_mutex_unlock(&h->mu);
    if (ok == 0)
        snprintf(why, cap, "redis unreachable: %s\n", err);
    else if (ok == 1 && age > EX_HTTP_PROBE_STALE_MS)
        snprintf(why, cap, "redis not answering for %lld ms\n", age);
    else if (!st.redis_up)
        snprintf(why, cap, "redis unreachable: the worker's connection is down\n");
    else if (st.loop_stalled)
        snprintf(why, cap, "blocking loop stalled for %lld ms\n", st.loop_age_ms);
    else {
        snprintf(why, cap, "ok\n");
        return 200;
    }
    return 503;
}

static enum MHD_Result reply(const struct mhd_api *mhd, struct MHD_Connection *conn,
                             unsigned code, const char *type, char *body)
{
    if (!body)
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    struct MHD_Response *r =
        mhd->create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = mhd->queue_response(conn, code, r);
    mhd->destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    ex_http *h = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    const char *text = "text/plain; charset=utf-8";
    int known = !strcmp(url, "/metrics") || !strcmp(url, "/healthz");
    if (!known)
        return reply(&h->mhd, conn, MHD_HTTP_NOT_FOUND, text, strdup("not found\n"));
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(&h->mhd, conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, strdup("method not allowed\n"));
    if (!strcmp(url, "/metrics"))
        return reply(&h->mhd, conn, MHD_HTTP_OK, "text/plain; version=0.0.4", metrics_text(h));
    char why[700];
    int code = health(h, why, sizeof why);
    return reply(&h->mhd, conn, (unsigned)code, text, strdup(why));
}

/* ---- start and stop ----------------------------------------------------------------------- */

/* "HOST:PORT" or "[V6]:PORT" to an address to bind. 0, or -1 with err. */
static int resolve(const char *listen, struct sockaddr_storage *sa, char *err, size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    char host[256];
    if (!colon || colon == listen || !colon[1] || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "--http/BULLC_HTTP wants HOST:PORT, not '%s'", listen);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

/* dlopen()s libmicrohttpd and resolves what we call into `api` (api->lib is set as soon as it
 * loads: the caller unloads it, on failure too). 0, or -1 with err naming the library and saying
 * dlerror(). */
static int load_mhd(struct mhd_api *api, char *err, size_t errlen)
{
    static const char *const names[] = {
        "MHD_start_daemon",        "MHD_stop_daemon",    "MHD_create_response_from_buffer",
        "MHD_add_response_header", "MHD_queue_response", "MHD_destroy_response",
    };
    void *sym[sizeof names / sizeof *names];
    const char *why = NULL;
    dlerror(); /* clears an earlier error */
    api->lib = dlopen(EX_HTTP_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    for (size_t i = 0; api->lib && i < sizeof names / sizeof *names && !why; i++)
        if (!(sym[i] = dlsym(api->lib, names[i])))
            why = dlerror();
    if (!api->lib || why) {
        if (!why)
            why = dlerror();
        snprintf(err, errlen, "cannot load %s: %s", EX_HTTP_MHD_SONAME, why ? why : "unknown error");
        return -1;
    }
    /* POSIX (dlsym) guarantees a function's address survives the trip through void * */
    api->start_daemon = (mhd_start_daemon_fn)sym[0];
    api->stop_daemon = (mhd_stop_daemon_fn)sym[1];
    api->create_response_from_buffer = (mhd_create_response_from_buffer_fn)sym[2];
    api->add_response_header = (mhd_add_response_header_fn)sym[3];
    api->queue_response = (mhd_queue_response_fn)sym[4];
    api->destroy_response = (mhd_destroy_response_fn)sym[5];
    return 0;
}

static int copy_opts(ex_http *h, const bullc_queue_opts_t *qo)
{
    h->qo = *qo;
    h->url = strdup(qo->redis_url ? qo->redis_url : "redis://127.0.0.1:6379");
    h->prefix = strdup(qo->prefix ? qo->prefix : "bull");
    h->queue = strdup(qo->queue ? qo->queue : "");
    if (!h->url || !h->prefix || !h->queue)
        return -1;
    h->qo.redis_url = h->url;
    h->qo.prefix = h->prefix;
    h->qo.queue = h->queue;
    h->qo.log_cb = on_queue_log;
    h->qo.log_user_data = h;
    h->qo.log_level = BULLC_LOG_WARN;
    return 0;
}

static int start_threads(ex_http *h, const struct sockaddr_storage *sa, const char *listen,
                         char *err, size_t errlen);

int ex_http_start(ex_http **out, const char *listen, bullc_worker_t *worker,
                  const bullc_queue_opts_t *queue_opts, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage sa;
    if (resolve(listen, &sa, err, errlen) != 0)
        return EX_HTTP_ESETUP;
    ex_http *h = calloc(1, sizeof *h);
    if (!h || copy_opts(h, queue_opts) != 0) {
        snprintf(err, errlen, "out of memory");
        ex_http_stop(h);
        return -1;
    }
    h->worker = worker;
    h->probe_ok = -1;
    if (pthread_mutex_init(&h->mu, NULL) != 0 || pthread_cond_init(&h->cv, NULL) != 0) {
        snprintf(err, errlen, "cannot create a mutex");
        ex_http_stop(h);
        return -1;
    }
    h->inited = 1;
    if (load_mhd(&h->mhd, err, errlen) != 0) {
        ex_http_stop(h);
        return EX_HTTP_ESETUP;
    }
    /* our threads take no signals: the program's own threads handle them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = start_threads(h, &sa, listen, err, errlen);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ex_http_stop(h);
        return -1;
    }
    *out = h;
    return 0;
}

/* The server's thread (with its listening socket) and the counts thread. */
static int start_threads(ex_http *h, const struct sockaddr_storage *sa, const char *listen,
                         char *err, size_t errlen)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (sa->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = h->mhd.start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 (const struct sockaddr *)sa, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)10, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s (in use?)", listen);
        return -1;
    }
    if (pthread_create(&h->tid, NULL, counts_main, h) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        return -1;
    }
    h->started = 1;
    return 0;
}

void ex_http_stop(ex_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        h->mhd.stop_daemon(h->daemon);
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->quit = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->tid, NULL);
    }
    if (h->inited) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
    }
    if (h->mhd.lib)
        dlclose(h->mhd.lib); /* after the server's thread has ended */
    free(h->url);
    free(h->prefix);
    free(h->queue);
    free(h);
}
