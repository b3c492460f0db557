/* test_trace.c - unit tests for the trace layer (libbullc/trace/): W3C traceparent and the `tm`
 * carrier, the configuration from the OTEL_* environment and bullc_trace_opts_t (what turns
 * tracing on, off, or is refused), the sampler, spans' ids and traceparents, and the spans of an
 * isolated handler process (a forked tracer's sink, a stand-in parent, the worker's check), and a
 * machine without libcurl (tracing off, the worker still made). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/tracer_int.h"
#include "unit.h"

static const char *const OTEL_VARS[] = {
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED",
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER",
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < BULLC__COUNT(OTEL_VARS); i++)
        unsetenv(OTEL_VARS[i]);
    return 0;
}

static char g_last_log[1024];

static void keep_log(bullc_log_level_t level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    snprintf(g_last_log, sizeof g_last_log, "%s", msg);
}

static const bullc__logger LOG = {keep_log, NULL, BULLC_LOG_DEBUG, NULL};

/* Set: this program's dlopen finds no libcurl, as on a machine where it is not installed (an
 * installed library cannot be hidden from the loader otherwise). */
static int g_no_libcurl;

/* The test program's own dlopen, which the library's call binds to before libc's: refuses
 * libcurl while g_no_libcurl is set, else hands the call to libc's dlopen. */
void *dlopen(const char *file, int mode)
{
    if (g_no_libcurl && file && strncmp(file, "libcurl", 7) == 0)
        return NULL;
    void *sym = dlsym(RTLD_NEXT, "dlopen");
    void *(*libc_dlopen)(const char *, int);
    memcpy(&libc_dlopen, &sym, sizeof sym);
    return libc_dlopen ? libc_dlopen(file, mode) : NULL;
}

static void traceparent_forms(void **state)
{
    (void)state;
    bullc__trace_ctx c = {0};
    assert_int_equal(bullc__traceparent_parse(
                         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c), 0);
    assert_int_equal(c.trace_id[0], 0x4b);
    assert_int_equal(c.span_id[7], 0xb7);
    assert_int_equal(c.flags, 1);
    /* a later version may carry more after a dash; version 00 may not */
    assert_int_equal(bullc__traceparent_parse(
                         "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x", &c), 0);
    const char *bad[] = {
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-not-a-trace-id-01", "",
    };
    for (size_t i = 0; i < BULLC__COUNT(bad); i++)
        assert_int_equal(bullc__traceparent_parse(bad[i], &c), -1);
    bullc__trace_ctx_clear(&c);
}

static void carrier_forms(void **state)
{
    (void)state;
    bullc__trace_ctx c = {0};
    assert_int_equal(bullc__trace_carrier_parse(
                         "{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
                         "-00\",\"tracestate\":\"k=v\"}", &c), 0);
    assert_string_equal(c.tracestate, "k=v");
    assert_int_equal(c.flags, 0);
    assert_int_equal(bullc__trace_carrier_parse("not json", &c), -1);
    assert_int_equal(bullc__trace_carrier_parse("{\"traceparent\":7}", &c), -1);
    assert_int_equal(bullc__trace_carrier_parse("{}", &c), -1);
    assert_string_equal(c.tracestate, "k=v"); /* left as it was */
    bullc__trace_ctx_clear(&c);
}

static void off_unless_configured(void **state)
{
    (void)state;
    bullc__tracer *t = (bullc__tracer *)1;
    assert_int_equal(bullc__tracer_new(&t, NULL, &LOG), 0);
    assert_null(t); /* nothing set: no tracer */
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/", 1);
    setenv("OTEL_SDK_DISABLED", "true", 1);
    assert_int_equal(bullc__tracer_new(&t, NULL, &LOG), 0);
    assert_null(t);
    unsetenv("OTEL_SDK_DISABLED");
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
    g_last_log[0] = '\0';
    assert_int_equal(bullc__tracer_new(&t, NULL, &LOG), 0);
    assert_null(t);
    assert_non_null(strstr(g_last_log, "grpc"));
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
    assert_int_equal(bullc__tracer_new(&t, NULL, &LOG), 0);
    assert_non_null(t);
    assert_string_equal(t->url, "http://127.0.0.1:4318/v1/traces");
    bullc__tracer_free(t);
    /* the options win over the environment */
    bullc_trace_opts_t o;
    bullc_trace_opts_init(&o);
    o.traces_endpoint = "http://127.0.0.1:9/custom";
    assert_int_equal(bullc__tracer_new(&t, &o, &LOG), 0);
    assert_string_equal(t->url, "http://127.0.0.1:9/custom");
    bullc__tracer_free(t);
    o.enabled = -1;
    assert_int_equal(bullc__tracer_new(&t, &o, &LOG), 0);
    assert_null(t);
}

/* One span from a tracer of the given sampler: whether it is sampled. */
static int sampled_with(const char *sampler, const char *arg, const bullc__trace_ctx *remote)
{
    bullc_trace_opts_t o;
    bullc_trace_opts_init(&o);
    o.enabled = 1;
    o.sampler = sampler;
    o.sampler_arg = arg;
    bullc__tracer *t = NULL;
    assert_int_equal(bullc__tracer_new(&t, &o, &LOG), 0);
    assert_non_null(t);
    bullc__span *s = bullc__span_start(t, "x", BULLC__SPAN_CONSUMER, NULL, remote);
    const char *tp = bullc__span_traceparent(s);
    assert_int_equal(strlen(tp), 55);
    int sampled = tp[54] == '1';
    if (remote) /* same trace, the remote span as parent */
        assert_memory_equal(tp + 3, "4bf92f3577b34da6a3ce929d0e0e4736", 32);
    bullc__span_end(s); /* not started: a recorded span is dropped and counted */
    assert_int_equal(bullc__tracer_dropped(t), (unsigned long long)sampled);
    bullc__tracer_free(t);
    return sampled;
}

static void samplers(void **state)
{
    (void)state;
    bullc__trace_ctx on = {0}, off = {0};
    bullc__traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &on);
    bullc__traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &off);
    assert_true(sampled_with(NULL, NULL, NULL));
    assert_true(sampled_with(NULL, NULL, &on));
    assert_false(sampled_with(NULL, NULL, &off));
    assert_false(sampled_with("always_off", NULL, NULL));
    assert_true(sampled_with("always_on", NULL, &off));
    assert_false(sampled_with("traceidratio", "0", NULL));
    assert_true(sampled_with("parentbased_traceidratio", "0", &on));
    assert_true(sampled_with("parentbased_traceidratio", "1", NULL));
}

static void child_spans_share_the_trace(void **state)
{
    (void)state;
    bullc_trace_opts_t o;
    bullc_trace_opts_init(&o);
    o.enabled = 1;
    bullc__tracer *t = NULL;
    assert_int_equal(bullc__tracer_new(&t, &o, &LOG), 0);
    bullc__span *p = bullc__span_start(t, "parent", BULLC__SPAN_CONSUMER, NULL, NULL);
    bullc__span *c = bullc__span_start(t, "child", BULLC__SPAN_INTERNAL, p, NULL);
    const char *ptp = bullc__span_traceparent(p), *ctp = bullc__span_traceparent(c);
    assert_memory_equal(ptp, ctp, 35);
    assert_memory_not_equal(ptp + 36, ctp + 36, 16);
    char *carrier = bullc__span_carrier(c);
    bullc__trace_ctx back = {0};
    assert_int_equal(bullc__trace_carrier_parse(carrier, &back), 0);
    bullc__span_discard(c);
    bullc__span_discard(p);
    free(carrier);
    bullc__trace_ctx_clear(&back);
    bullc__tracer_free(t);
}

/* What a forked tracer's sink got. */
typedef struct sunk {
    char *json[4];
    int n;
} sunk;

static void collect(void *ud, char *span_json)
{
    sunk *k = ud;
    if (k->n < 4)
        k->json[k->n++] = span_json;
    else
        free(span_json);
}

static void handler_process_spans(void **state)
{
    (void)state;
    bullc_trace_opts_t o;
    bullc_trace_opts_init(&o);
    o.enabled = 1;
    bullc__tracer *worker = NULL, *child = NULL;
    assert_int_equal(bullc__tracer_new(&worker, &o, &LOG), 0);
    assert_int_equal(bullc__tracer_new(&child, &o, &LOG), 0);
    bullc__trace_ctx remote = {0};
    assert_int_equal(bullc__trace_carrier_parse(
        "{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
        "\"tracestate\":\"k=v\"}", &remote), 0);
    bullc__span *proc = bullc__span_start(worker, "process q", BULLC__SPAN_CONSUMER, NULL, &remote);
    /* the handler process: a generator of its own, spans to the sink */
    uint64_t before[4];
    memcpy(before, child->rng, sizeof before);
    sunk got = {{0}, 0};
    bullc__tracer_forked(child, collect, &got);
    assert_memory_not_equal(before, child->rng, sizeof before);
    bullc__trace_ctx ctx = {0};
    assert_int_equal(bullc__traceparent_parse(bullc__span_traceparent(proc), &ctx), 0);
    ctx.tracestate = (char *)bullc__span_tracestate(proc);
    bullc__span *stand_in = bullc__span_adopt(child, &ctx);
    assert_string_equal(bullc__span_traceparent(stand_in), bullc__span_traceparent(proc));
    bullc__span *db = bullc__span_start(child, "SELECT x", BULLC__SPAN_CLIENT, stand_in, NULL);
    bullc__span_attr_str(db, "db.system.name", "postgresql");
    bullc__span_end(db);
    bullc__span_end(stand_in); /* a stand-in is never exported */
    assert_int_equal(got.n, 1);
    char want[64];
    snprintf(want, sizeof want, "\"parentSpanId\":\"%.16s\"", bullc__span_traceparent(proc) + 36);
    assert_non_null(strstr(got.json[0], want));
    assert_non_null(strstr(got.json[0], "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
    assert_non_null(strstr(got.json[0], "\"traceState\":\"k=v\""));
    /* the worker queues what proves to be a span, and drops the rest */
    worker->started = 1; /* as if its export thread ran: the queue takes spans */
    const char *bad[] = {"{", "[]", "{\"traceId\":\"xyz\",\"spanId\":\"0011223344556677\",\"name\":\"n\"}",
                         "{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}"};
    for (size_t i = 0; i < BULLC__COUNT(bad); i++)
        bullc__tracer_enqueue_foreign(worker, bad[i]);
    assert_int_equal(bullc__tracer_dropped(worker), BULLC__COUNT(bad));
    assert_int_equal(worker->count, 0);
    bullc__tracer_enqueue_foreign(worker, got.json[0]);
    assert_int_equal(worker->count, 1);
    worker->started = 0;
    free(got.json[0]);
    bullc__span_discard(proc);
    bullc__trace_ctx_clear(&remote);
    bullc__tracer_free(child);
    bullc__tracer_free(worker);
}

/* Without libcurl a configured tracer is not made: one line says why, and it is no error (the
 * worker starts without tracing). */
static void off_without_libcurl(void **state)
{
    (void)state;
    bullc_trace_opts_t o;
    bullc_trace_opts_init(&o);
    o.endpoint = "http://127.0.0.1:4318";
    bullc__tracer *t = (bullc__tracer *)1;
    g_last_log[0] = '\0';
    g_no_libcurl = 1;
    int rc = bullc__tracer_new(&t, &o, &LOG);
    g_no_libcurl = 0;
    assert_int_equal(rc, 0);
    assert_null(t);
    assert_non_null(strstr(g_last_log, "tracing is off: libcurl.so.4 could not be loaded: "));
    /* with it, the same options make a tracer, which has the library loaded */
    assert_int_equal(bullc__tracer_new(&t, &o, &LOG), 0);
    assert_non_null(t);
    assert_non_null(t->curl.dl);
    bullc__tracer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_forms),
        cmocka_unit_test(carrier_forms),
        cmocka_unit_test_setup(off_unless_configured, clear_env),
        cmocka_unit_test_setup(samplers, clear_env),
        cmocka_unit_test_setup(child_spans_share_the_trace, clear_env),
        cmocka_unit_test_setup(handler_process_spans, clear_env),
        cmocka_unit_test_setup(off_without_libcurl, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
