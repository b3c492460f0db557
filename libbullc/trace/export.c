/* export.c - the export queue and thread: finished spans wait in a bounded ring (beyond it they
 * are dropped and counted); one thread posts them in batches as OTLP/HTTP JSON with libcurl
 * (through the tracer's table of its functions, curl_api.c), never blocking a handler, and at
 * stop sends what is left within the shutdown deadline (libbullc/trace/README.md). */
#include "trace/tracer_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* How often a failing collector is reported (the first failure at once). */
#define BULLC__TRACE_WARN_EVERY_MS 60000

void bullc__tracer_enqueue(bullc__tracer *t, char *json)
{
    if (!json) {
        atomic_fetch_add(&t->dropped, 1);
        return;
    }
    if (t->sink) { /* a handler process: the worker exports it */
        t->sink(t->sink_ud, json);
        return;
    }
    pthread_mutex_lock(&t->mu);
    if (t->count >= (size_t)t->max_queue || !t->started) {
        pthread_mutex_unlock(&t->mu);
        free(json);
        atomic_fetch_add(&t->dropped, 1);
        return;
    }
    t->ring[(t->head + t->count) % (size_t)t->max_queue] = json;
    t->count++;
    if (t->count == (size_t)t->max_batch)
        pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* A string member of o made of exactly `n` lowercase hex digits. */
static int hex_member(const cJSON *o, const char *key, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) != n)
        return 0;
    return strspn(v->valuestring, "0123456789abcdef") == n;
}

void bullc__tracer_enqueue_foreign(bullc__tracer *t, const char *span_json)
{
    /* one malformed text would spoil the whole batch it is posted in: look before queuing */
    cJSON *o = span_json ? cJSON_ParseWithOpts(span_json, NULL, 1) : NULL;
    int ok = cJSON_IsObject(o) && hex_member(o, "traceId", 32) && hex_member(o, "spanId", 16) &&
             cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "name"));
    cJSON_Delete(o);
    if (!ok) {
        atomic_fetch_add(&t->dropped, 1);
        return;
    }
    bullc__tracer_enqueue(t, bullc__strdup(span_json)); /* NULL (OOM) is counted as dropped */
}

unsigned long long bullc__tracer_dropped(const bullc__tracer *t)
{
    return t ? atomic_load(&((bullc__tracer *)t)->dropped) : 0;
}

unsigned long long bullc__tracer_exported(const bullc__tracer *t)
{
    return t ? atomic_load(&((bullc__tracer *)t)->exported) : 0;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* libcurl's progress callback: gives up once the shutdown deadline passed. */
static int check_abort(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    bullc__tracer *t = ud;
    long long at = atomic_load(&t->abort_at);
    return at > 0 && bullc__mono_ms() >= at;
}

/* The request body for spans[0..n): one resource, one scope. NULL on OOM. */
static char *batch_body(const bullc__tracer *t, char **spans, size_t n)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "{\"resourceSpans\":[{\"resource\":%s,\"scopeSpans\":[{\"scope\":"
                          "{\"name\":\"bullmq\",\"version\":\"%s\"},\"spans\":[",
                      t->resource_json, BULLC_VERSION_STRING);
    for (size_t i = 0; i < n; i++) {
        if (i)
            bullc__buf_puts(&b, ",");
        bullc__buf_puts(&b, spans[i]);
    }
    bullc__buf_puts(&b, "]}]}]}");
    return bullc__buf_take(&b);
}

static void note_failure(bullc__tracer *t, size_t n, const char *why)
{
    atomic_fetch_add(&t->dropped, n);
    t->failures++;
    long long now = bullc__mono_ms();
    if (t->warned_at && now - t->warned_at < BULLC__TRACE_WARN_EVERY_MS)
        return;
    bullc__log(&t->log, BULLC_LOG_WARN, "tracing: cannot export spans to %s: %s (%llu failed "
               "export%s so far; spans dropped)", t->url, why, t->failures,
               t->failures == 1 ? "" : "s");
    t->warned_at = now;
}

/* Posts one batch; the spans are freed. */
static void post(bullc__tracer *t, CURL *curl, char **spans, size_t n)
{
    char *body = batch_body(t, spans, n);
    for (size_t i = 0; i < n; i++)
        free(spans[i]);
    if (!body || !curl) {
        free(body);
        note_failure(t, n, "out of memory");
        return;
    }
    long timeout = t->timeout_ms;
    long long at = atomic_load(&t->abort_at);
    if (at > 0) {
        long long left = at - bullc__mono_ms();
        timeout = left < 1 ? 1 : left < timeout ? (long)left : timeout;
    }
    t->curl.easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    t->curl.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    t->curl.easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout);
    t->curl.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    CURLcode rc = t->curl.easy_perform(curl);
    long status = 0;
    t->curl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    free(body);
    if (rc != CURLE_OK) {
        note_failure(t, n, t->curl.easy_strerror(rc));
    } else if (status < 200 || status > 299) {
        char why[64];
        snprintf(why, sizeof why, "HTTP status %ld", status);
        note_failure(t, n, why);
    } else {
        atomic_fetch_add(&t->exported, n);
    }
}

static CURL *make_curl(bullc__tracer *t)
{
    CURL *c = t->curl.easy_init();
    if (!c)
        return NULL;
    t->curl.easy_setopt(c, CURLOPT_URL, t->url);
    t->curl.easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    t->curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    t->curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    t->curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    t->curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, check_abort);
    t->curl.easy_setopt(c, CURLOPT_XFERINFODATA, t);
    return c;
}

/* Waits for a full batch, the schedule delay or stop; takes up to max_batch spans into out.
 * Returns how many, or -1 when stopping with nothing left (under nothing: takes mu itself). */
static long take_batch(bullc__tracer *t, char **out)
{
    pthread_mutex_lock(&t->mu);
    struct timespec until = bullc__mono_deadline(t->delay_ms);
    while (!t->stopping && t->count < (size_t)t->max_batch)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &until) != 0)
            break; /* the schedule delay passed */
    if (t->stopping && t->count == 0) {
        pthread_mutex_unlock(&t->mu);
        return -1;
    }
    size_t n = t->count < (size_t)t->max_batch ? t->count : (size_t)t->max_batch;
    for (size_t i = 0; i < n; i++)
        out[i] = t->ring[(t->head + i) % (size_t)t->max_queue];
    t->head = (t->head + n) % (size_t)t->max_queue;
    t->count -= n;
    pthread_mutex_unlock(&t->mu);
    return (long)n;
}

static void *export_main(void *arg)
{
    bullc__tracer *t = arg;
    CURL *curl = make_curl(t);
    char **batch = calloc((size_t)t->max_batch, sizeof *batch);
    for (;;) {
        if (!batch) { /* no room to batch in: the spans cannot be sent */
            pthread_mutex_lock(&t->mu);
            while (!t->stopping && t->count == 0)
                pthread_cond_wait(&t->cv, &t->mu);
            size_t n = t->count;
            for (; t->count; t->count--, t->head = (t->head + 1) % (size_t)t->max_queue)
                free(t->ring[t->head]);
            int stop = t->stopping;
            pthread_mutex_unlock(&t->mu);
            atomic_fetch_add(&t->dropped, n);
            if (stop)
                break;
            continue;
        }
        long n = take_batch(t, batch);
        if (n < 0)
            break;
        long long at = atomic_load(&t->abort_at);
        if (at > 0 && bullc__mono_ms() >= at) {
            for (long i = 0; i < n; i++)
                free(batch[i]);
            atomic_fetch_add(&t->dropped, (unsigned long long)n); /* past the deadline */
        } else if (n > 0) {
            post(t, curl, batch, (size_t)n);
        }
    }
    free(batch);
    if (curl)
        t->curl.easy_cleanup(curl);
    return NULL;
}

int bullc__tracer_start(bullc__tracer *t)
{
    if (!t || t->started)
        return 0;
    pthread_mutex_lock(&t->mu);
    t->stopping = 0;
    atomic_store(&t->abort_at, 0);
    t->started = 1;
    pthread_mutex_unlock(&t->mu);
    if (pthread_create(&t->tid, NULL, export_main, t) != 0) {
        t->started = 0;
        return BULLC_ETHREAD;
    }
    return 0;
}

void bullc__tracer_stop(bullc__tracer *t)
{
    if (!t || !t->started)
        return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->abort_at, bullc__mono_ms() + t->shutdown_ms);
    t->stopping = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->tid, NULL);
    pthread_mutex_lock(&t->mu);
    t->started = 0; /* spans ended from now on are dropped */
    pthread_mutex_unlock(&t->mu);
}
