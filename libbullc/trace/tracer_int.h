/* tracer_int.h - the tracer's insides, shared by tracer.c (configuration, sampler, ids) and
 * export.c (the queue and the export thread) only. */
#ifndef BULLC_TRACE_TRACER_INT_H
#define BULLC_TRACE_TRACER_INT_H

#include "trace/trace.h"
#include "util/time.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

/* The libcurl functions the exporter calls, from the library a tracer loads when it is made
 * (curl_api.c): libbullc does not link libcurl, so only a worker that traces maps it. */
typedef struct bullc__curl_api {
    void *dl; /* dlopen's handle; NULL: not loaded */
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode rc);
    void (*easy_cleanup)(CURL *c);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} bullc__curl_api;

/* Loads libcurl.so.4 and resolves every function of the table. 0, or -1 with the loader's
 * reason in `why` (api left empty). */
int bullc__curl_load(bullc__curl_api *api, char *why, size_t why_size);
/* Closes what bullc__curl_load opened (nothing: nothing); the table is emptied. */
void bullc__curl_unload(bullc__curl_api *api);

enum { BULLC__SAMPLE_ON, BULLC__SAMPLE_OFF, BULLC__SAMPLE_RATIO };

struct bullc__tracer {
    bullc__logger log;
    bullc__curl_api curl;       /* libcurl, loaded for this tracer (closed when it is freed) */
    char *url;                  /* where spans are posted */
    struct curl_slist *headers; /* Content-Type and OTEL_EXPORTER_OTLP_HEADERS */
    char *resource_json;        /* the OTLP resource object */
    int oom;                    /* building the headers ran out of memory */
    int parentbased, root;      /* the sampler */
    double ratio;
    int max_queue, max_batch, delay_ms, timeout_ms, shutdown_ms;
    int made_sync, curl_inited;
    pthread_mutex_t rng_mu;     /* the id generator */
    uint64_t rng[4];
    /* the export queue (under mu): a ring of finished spans' JSON texts */
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* the export thread waits here (monotonic clock) */
    char **ring;
    size_t head, count;
    int stopping;               /* stop asked: export what is left, then exit */
    int started;
    pthread_t tid;
    atomic_llong abort_at;      /* monotonic ms after which the request in flight gives up
                                   (0: none) */
    atomic_ullong dropped, exported;
    /* failures, logged now and then (export thread only) */
    long long warned_at;        /* monotonic ms of the last warning, 0 never */
    unsigned long long failures;
    /* in a handler process (bullc__tracer_forked): finished spans go here instead of the queue */
    bullc__span_sink sink;
    void *sink_ud;
};

#endif
