/* tracer.c - a worker's tracer: its configuration (the OTEL_* environment under the user's
 * bullc_trace_opts_t), the sampler and the id generator (libbullc/trace/README.md). */
#include "trace/tracer_int.h"
#include "util/json.h"
#include "util/sized.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

void bullc_trace_opts_init_sized(bullc_trace_opts_t *opts, size_t size)
{
    if (!opts || size < sizeof(size_t))
        return;
    memset(opts, 0, size);
    opts->size = size;
}

/* The user's string, else the first environment variable set (and not empty). */
static const char *pick(const char *opt, const char *env1, const char *env2)
{
    if (opt && *opt)
        return opt;
    const char *v = env1 ? getenv(env1) : NULL;
    if (v && *v)
        return v;
    v = env2 ? getenv(env2) : NULL;
    return v && *v ? v : NULL;
}

/* The user's number, else the environment's, else dflt. */
static int pick_int(int opt, const char *env1, const char *env2, int dflt)
{
    if (opt > 0)
        return opt;
    const char *v = pick(NULL, env1, env2);
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    return v && *end == '\0' && n > 0 && n < 1000000000 ? (int)n : dflt;
}

/* Receives one pair of a `k=v,k2=v2` list. */
typedef void (*pair_fn)(void *ctx, const char *key, const char *value);

/* %XX escapes decoded in place (a '%' not followed by two hex digits stays as it is). */
static void url_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        int hi = *r == '%' ? bullc__hex_digit(r[1]) : -1;
        int lo = hi >= 0 ? bullc__hex_digit(r[2]) : -1;
        if (lo >= 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Calls `put` for each pair of a `k=v,k2=v2` list (keys and values trimmed and URL-decoded);
 * -1 on a malformed list (nothing put after the bad pair). */
static int each_pair(const char *list, pair_fn put, void *ctx)
{
    char *copy = bullc__strdup(list);
    if (!copy)
        return -1;
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            rc = -1;
            break;
        }
        *eq = '\0';
        char *k = trim(item), *v = trim(eq + 1);
        url_decode(k);
        url_decode(v);
        if (*k)
            put(ctx, k, v);
    }
    free(copy);
    return rc;
}

static void put_header(void *ctx, const char *key, const char *value)
{
    bullc__tracer *t = ctx;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s: %s", key, value);
    struct curl_slist *l = b.oom ? NULL : t->curl.slist_append(t->headers, b.data);
    if (l)
        t->headers = l;
    else
        t->oom = 1;
    bullc__buf_free(&b);
}

static void put_resource(void *ctx, const char *key, const char *value)
{
    bullc__buf *b = ctx;
    if (strcmp(key, "service.name") == 0)
        return; /* OTEL_SERVICE_NAME or ours comes first and wins */
    bullc__buf_puts(b, ",{\"key\":");
    bullc__json_append_string(b, key, strlen(key));
    bullc__buf_puts(b, ",\"value\":{\"stringValue\":");
    bullc__json_append_string(b, value, strlen(value));
    bullc__buf_puts(b, "}}");
}

/* The resource object: service.name, the SDK's name and version, OTEL_RESOURCE_ATTRIBUTES. */
static int make_resource(bullc__tracer *t, const bullc_trace_opts_t *o)
{
    const char *service = pick(o->service_name, "OTEL_SERVICE_NAME", NULL);
    const char *res = pick(o->resource_attributes, "OTEL_RESOURCE_ATTRIBUTES", NULL);
    char *svc_from_res = NULL;
    if (!service && res) { /* service.name may come from the resource attributes */
        const char *p = strstr(res, "service.name=");
        if (p && (p == res || p[-1] == ',' || p[-1] == ' ')) {
            p += strlen("service.name=");
            svc_from_res = bullc__strndup(p, strcspn(p, ","));
            if (svc_from_res) {
                url_decode(svc_from_res);
                service = trim(svc_from_res);
            }
        }
    }
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_puts(&b, "{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    const char *svc = service ? service : "unknown_service";
    bullc__json_append_string(&b, svc, strlen(svc));
    bullc__buf_printf(&b, "}},{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":"
                          "\"libbullc\"}},{\"key\":\"telemetry.sdk.version\",\"value\":"
                          "{\"stringValue\":\"%s\"}}", BULLC_VERSION_STRING);
    free(svc_from_res);
    if (res && each_pair(res, put_resource, &b) != 0)
        bullc__log(&t->log, BULLC_LOG_WARN, "tracing: OTEL_RESOURCE_ATTRIBUTES is malformed; "
                   "only its pairs before the first bad one are used");
    bullc__buf_puts(&b, "]}");
    t->resource_json = bullc__buf_take(&b);
    return t->resource_json ? 0 : BULLC_ENOMEM;
}

/* The sampler from its name and argument; -1 for an unknown name. */
static int set_sampler(bullc__tracer *t, const char *name, const char *arg)
{
    t->parentbased = 1;
    t->root = BULLC__SAMPLE_ON;
    if (!name)
        name = "parentbased_always_on";
    if (strncmp(name, "parentbased_", 12) == 0)
        name += 12;
    else
        t->parentbased = 0;
    if (strcmp(name, "always_on") == 0)
        t->root = BULLC__SAMPLE_ON;
    else if (strcmp(name, "always_off") == 0)
        t->root = BULLC__SAMPLE_OFF;
    else if (strcmp(name, "traceidratio") == 0)
        t->root = BULLC__SAMPLE_RATIO;
    else
        return -1;
    double ratio = 1.0;
    if (arg) {
        char *end;
        double r = strtod(arg, &end);
        if (*end == '\0' && r >= 0 && r <= 1)
            ratio = r;
        else
            bullc__log(&t->log, BULLC_LOG_WARN, "tracing: OTEL_TRACES_SAMPLER_ARG \"%s\" is not "
                       "a ratio in [0, 1]; 1.0 is used", arg);
    }
    t->ratio = ratio;
    return 0;
}

int bullc__tracer_sample(bullc__tracer *t, const unsigned char trace_id[16], int has_parent,
                         int parent_sampled)
{
    if (t->parentbased && has_parent)
        return parent_sampled;
    if (t->root == BULLC__SAMPLE_ON)
        return 1;
    if (t->root == BULLC__SAMPLE_OFF)
        return 0;
    /* traceidratio: the trace id's last 8 bytes as a number below ratio * 2^64 */
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | trace_id[i];
    if (t->ratio >= 1)
        return 1;
    return (double)v < t->ratio * 18446744073709551616.0;
}

/* ---- ids ---------------------------------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** */
static uint64_t next64(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static void seed(bullc__tracer *t)
{
    ssize_t got = getrandom(t->rng, sizeof t->rng, GRND_NONBLOCK);
    if (got != (ssize_t)sizeof t->rng) { /* no entropy yet: the clocks, mixed */
        struct timespec a, b;
        clock_gettime(CLOCK_REALTIME, &a);
        clock_gettime(CLOCK_MONOTONIC, &b);
        t->rng[0] = (uint64_t)a.tv_nsec ^ (uint64_t)(uintptr_t)t;
        t->rng[1] = (uint64_t)a.tv_sec * 0x9E3779B97F4A7C15ULL;
        t->rng[2] = (uint64_t)b.tv_nsec ^ 0xD1B54A32D192ED03ULL;
        t->rng[3] = (uint64_t)b.tv_sec + 0x8BB84B93962EACC9ULL;
    }
    if (!(t->rng[0] | t->rng[1] | t->rng[2] | t->rng[3]))
        t->rng[0] = 1;
}

void bullc__tracer_forked(bullc__tracer *t, bullc__span_sink sink, void *ud)
{
    if (!t)
        return;
    seed(t); /* no other thread in this process: the generator's lock is free */
    t->sink = sink;
    t->sink_ud = ud;
}

void bullc__tracer_random(bullc__tracer *t, unsigned char *out, size_t n)
{
    pthread_mutex_lock(&t->rng_mu);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = next64(t->rng);
        for (size_t j = 0; j < 8 && i + j < n; j++)
            out[i + j] = (unsigned char)(v >> (8 * j));
    }
    pthread_mutex_unlock(&t->rng_mu);
}

/* ---- configuration ------------------------------------------------------------------------ */

/* The URL spans are posted to, or NULL (tracing off) with *oom set when out of memory. */
static char *traces_url(const bullc_trace_opts_t *o, int *oom)
{
    const char *full = pick(o->traces_endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL);
    if (full) {
        char *url = bullc__strdup(full);
        *oom = !url;
        return url;
    }
    const char *base = pick(o->endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT", NULL);
    if (!base && o->enabled == 1)
        base = "http://localhost:4318";
    if (!base)
        return NULL;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_append(&b, base, n);
    bullc__buf_puts(&b, "/v1/traces");
    char *url = bullc__buf_take(&b);
    *oom = !url;
    return url;
}

static int env_true(const char *name)
{
    const char *v = getenv(name);
    return v && strcasecmp(v, "true") == 0;
}

/* Whether the options and environment turn tracing off before anything is built. */
static int tracing_off(const bullc_trace_opts_t *o)
{
    if (o->enabled < 0 || env_true("OTEL_SDK_DISABLED"))
        return 1;
    const char *exp = getenv("OTEL_TRACES_EXPORTER");
    return exp && strcmp(exp, "none") == 0 && o->enabled != 1;
}

/* The numbers, the protocol, the sampler, the headers and the resource. */
static int configure(bullc__tracer *t, const bullc_trace_opts_t *o)
{
    const char *proto = pick(o->protocol, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                             "OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && strcmp(proto, "http/json") != 0) {
        bullc__log(&t->log, BULLC_LOG_ERROR, "tracing off: OTLP protocol \"%s\" is not "
                   "supported (only http/json)", proto);
        return 1;
    }
    const char *sampler = pick(o->sampler, "OTEL_TRACES_SAMPLER", NULL);
    if (set_sampler(t, sampler, pick(o->sampler_arg, "OTEL_TRACES_SAMPLER_ARG", NULL)) != 0) {
        bullc__log(&t->log, BULLC_LOG_WARN, "tracing: unknown sampler \"%s\"; "
                   "parentbased_always_on is used", sampler);
        set_sampler(t, NULL, NULL);
    }
    t->max_queue = pick_int(o->max_queue_size, "OTEL_BSP_MAX_QUEUE_SIZE", NULL, 2048);
    t->max_batch = pick_int(o->max_export_batch_size, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, 512);
    if (t->max_batch > t->max_queue)
        t->max_batch = t->max_queue;
    t->delay_ms = pick_int(o->schedule_delay_ms, "OTEL_BSP_SCHEDULE_DELAY", NULL, 5000);
    t->timeout_ms = pick_int(o->export_timeout_ms, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                             "OTEL_EXPORTER_OTLP_TIMEOUT", 10000);
    t->shutdown_ms = o->shutdown_timeout_ms > 0 ? o->shutdown_timeout_ms : 3000;
    t->headers = t->curl.slist_append(NULL, "Content-Type: application/json");
    if (!t->headers)
        return BULLC_ENOMEM;
    const char *hdrs = pick(o->headers, "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                            "OTEL_EXPORTER_OTLP_HEADERS");
    if (hdrs && each_pair(hdrs, put_header, t) != 0)
        bullc__log(&t->log, BULLC_LOG_WARN, "tracing: OTEL_EXPORTER_OTLP_HEADERS is malformed; "
                   "only its pairs before the first bad one are sent");
    if (t->oom)
        return BULLC_ENOMEM;
    t->ring = calloc((size_t)t->max_queue, sizeof *t->ring);
    if (!t->ring)
        return BULLC_ENOMEM;
    return make_resource(t, o);
}

/* Loads libcurl for t and initializes it; 1 (logged: tracing off, the worker runs without it)
 * when it cannot be loaded, BULLC_ENOMEM when its initialization fails. */
static int load_curl(bullc__tracer *t)
{
    char why[512];
    if (bullc__curl_load(&t->curl, why, sizeof why) != 0) {
        bullc__log(&t->log, BULLC_LOG_ERROR, "tracing is off: libcurl.so.4 could not be "
                   "loaded: %s", why);
        return 1;
    }
    /* Initialized here, once per tracer and paired with curl_global_cleanup before the library
     * is closed, rather than left to curl_easy_init's implicit initialization in the export
     * thread, which nothing would ever undo: the calls are reference counted inside libcurl, so
     * several tracers (or a program using libcurl itself) share one initialization, and since
     * curl 7.84 they are thread-safe (Debian 12 ships 7.88), so workers made on different
     * threads may do this at once. */
    if (t->curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return BULLC_ENOMEM;
    t->curl_inited = 1;
    return 0;
}

int bullc__tracer_new(bullc__tracer **out, const bullc_trace_opts_t *user, const bullc__logger *log)
{
    *out = NULL;
    bullc_trace_opts_t o;
    memset(&o, 0, sizeof o);
    if (user && (user->size < sizeof(size_t) ||
                 bullc__sized_read(&o, sizeof o, user, user->size) != 0))
        return BULLC_EINVAL;
    if (tracing_off(&o))
        return 0;
    int oom = 0;
    char *url = traces_url(&o, &oom);
    if (!url)
        return oom ? BULLC_ENOMEM : 0;
    bullc__tracer *t = calloc(1, sizeof *t);
    if (!t) {
        free(url);
        return BULLC_ENOMEM;
    }
    t->log = *log;
    t->url = url;
    pthread_mutex_init(&t->rng_mu, NULL);
    pthread_mutex_init(&t->mu, NULL);
    int rc = bullc__cond_init_mono(&t->cv) != 0 ? BULLC_ENOMEM : 0;
    t->made_sync = 1;
    seed(t);
    if (rc == 0)
        rc = load_curl(t);
    if (rc == 0)
        rc = configure(t, &o);
    if (rc != 0) { /* 1: refused (logged), tracing off */
        bullc__tracer_free(t);
        return rc == 1 ? 0 : rc;
    }
    bullc__log(&t->log, BULLC_LOG_INFO, "tracing: spans go to %s (OTLP/HTTP JSON)", t->url);
    *out = t;
    return 0;
}

void bullc__tracer_free(bullc__tracer *t)
{
    if (!t)
        return;
    bullc__tracer_stop(t);
    for (size_t i = 0; t->ring && i < t->count; i++)
        free(t->ring[(t->head + i) % (size_t)t->max_queue]);
    free(t->ring);
    free(t->url);
    free(t->resource_json);
    if (t->headers)
        t->curl.slist_free_all(t->headers);
    if (t->curl_inited)
        t->curl.global_cleanup();
    bullc__curl_unload(&t->curl); /* after the export thread and every curl object are gone */
    if (t->made_sync) {
        pthread_mutex_destroy(&t->rng_mu);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
    }
    free(t);
}
