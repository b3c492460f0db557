/* test_trace.c - unit tests for the trace layer (libbullc/trace/): W3C traceparent and the `tm`
 * carrier, the configuration from the OTEL_* environment and bullc_trace_opts_t (what turns
 * tracing on, off, or is refused), the sampler, and spans' ids and traceparents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_forms),
        cmocka_unit_test(carrier_forms),
        cmocka_unit_test_setup(off_unless_configured, clear_env),
        cmocka_unit_test_setup(samplers, clear_env),
        cmocka_unit_test_setup(child_spans_share_the_trace, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
