/* test_producer.c - unit tests for the producer's option checks and the msgpack opts it packs
 * (no server: what reaches Redis is covered by tests/interop/producer.test.js). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static int prep(bullc__newjob *j, const char *data, const char *opts, char *err, size_t n)
{
    return bullc__newjob_prepare(j, "name", data, opts, 1700000000000LL, err, n);
}

/* Without options the stored opts are {attempts: 0}, as Node's Job constructor adds. */
static void defaults(void **state)
{
    (void)state;
    bullc__newjob j;
    char err[256];
    assert_int_equal(prep(&j, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(j.data, "{}");
    assert_string_equal(j.job_id, "");
    assert_string_equal(j.timestamp, "1700000000000");
    static const char want[] = "\x81\xa8" "attempts" "\x00";
    assert_int_equal(j.opts.len, sizeof want - 1);
    assert_memory_equal(j.opts.data, want, sizeof want - 1);
    bullc__newjob_free(&j);
}

/* attempts first, then the caller's order; aliases de/kl; a number backoff becomes fixed. */
static void key_order_and_aliases(void **state)
{
    (void)state;
    bullc__newjob j;
    char err[256];
    assert_int_equal(prep(&j, "[1]",
                          "{\"priority\":2,\"attempts\":3,\"deduplication\":{\"id\":\"x\"},"
                          "\"keepLogs\":5,\"backoff\":7,\"jobId\":\"a-1\",\"timestamp\":1.5}",
                          err, sizeof err),
                     0);
    bullc__buf w;
    bullc__buf_init(&w);
    bullc__mp_map(&w, 7);
    bullc__mp_cstr(&w, "attempts");
    bullc__mp_int(&w, 3);
    bullc__mp_cstr(&w, "priority");
    bullc__mp_int(&w, 2);
    bullc__mp_cstr(&w, "de");
    bullc__mp_map(&w, 1);
    bullc__mp_cstr(&w, "id");
    bullc__mp_cstr(&w, "x");
    bullc__mp_cstr(&w, "kl");
    bullc__mp_int(&w, 5);
    bullc__mp_cstr(&w, "backoff");
    bullc__mp_map(&w, 2);
    bullc__mp_cstr(&w, "type");
    bullc__mp_cstr(&w, "fixed");
    bullc__mp_cstr(&w, "delay");
    bullc__mp_int(&w, 7);
    bullc__mp_cstr(&w, "jobId");
    bullc__mp_cstr(&w, "a-1");
    bullc__mp_cstr(&w, "timestamp");
    bullc__mp_double(&w, 1.5);
    assert_false(w.oom);
    assert_int_equal(j.opts.len, w.len);
    assert_memory_equal(j.opts.data, w.data, w.len);
    assert_string_equal(j.job_id, "a-1");
    assert_string_equal(j.timestamp, "1.5");
    bullc__buf_free(&w);
    bullc__newjob_free(&j);
}

/* traceparent (with tracestate) is stored as `tm`, bullmq-otel's carrier text, where
 * traceparent stood; bad forms are refused. */
static void trace_context(void **state)
{
    (void)state;
    bullc__newjob j;
    char err[256];
    assert_int_equal(prep(&j, NULL,
                          "{\"tracestate\":\"k=v\",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736"
                          "-00f067aa0ba902b7-01\",\"delay\":5}",
                          err, sizeof err),
                     0);
    bullc__buf w;
    bullc__buf_init(&w);
    bullc__mp_map(&w, 3);
    bullc__mp_cstr(&w, "attempts");
    bullc__mp_int(&w, 0);
    bullc__mp_cstr(&w, "tm");
    bullc__mp_cstr(&w, "{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
                       "\"tracestate\":\"k=v\"}");
    bullc__mp_cstr(&w, "delay");
    bullc__mp_int(&w, 5);
    assert_int_equal(j.opts.len, w.len);
    assert_memory_equal(j.opts.data, w.data, w.len);
    bullc__buf_free(&w);
    bullc__newjob_free(&j);
    const char *bad[] = {
        "{\"traceparent\":\"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\"}",
        "{\"traceparent\":\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\"}",
        "{\"traceparent\":\"garbage\"}",
        "{\"traceparent\":7}",
        "{\"tracestate\":\"k=v\"}",
    };
    for (size_t i = 0; i < BULLC__COUNT(bad); i++)
        assert_int_equal(prep(&j, NULL, bad[i], err, sizeof err), BULLC_EINVAL);
}

/* opts.timestamp 0 means "now", as Node's `opts.timestamp ? ... : Date.now()`. */
static void zero_timestamp_is_now(void **state)
{
    (void)state;
    bullc__newjob j;
    assert_int_equal(prep(&j, "{}", "{\"timestamp\":0}", NULL, 0), 0);
    assert_string_equal(j.timestamp, "1700000000000");
    bullc__newjob_free(&j);
}

/* Custom ids Node refuses as integers (`${parseInt(id, 10)}` === id) and ones it accepts. */
static void integer_ids(void **state)
{
    (void)state;
    static const struct {
        const char *id;
        int refused;
    } cases[] = {
        {"123", 1},
        {"-9007199254740992", 1},
        {"9007199254740992", 1},
        {"123456789012345680", 1},
        {"100000000000000000000", 1},
        {"12345678901234567891", 0},
        {"9007199254740993", 0},
        {"123456789012345678", 0},
        {"999999999999999999999", 0},
        {"-0", 0},
        {"00", 0},
        {"1e3", 0},
        {"a1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char opts[128], err[256];
        snprintf(opts, sizeof opts, "{\"jobId\":\"%s\"}", cases[i].id);
        bullc__newjob j;
        int rc = prep(&j, "{}", opts, err, sizeof err);
        if (cases[i].refused) {
            assert_int_equal(rc, BULLC_EINVAL);
            assert_string_equal(err, "Custom Id cannot be integers");
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(j.job_id, cases[i].id);
            bullc__newjob_free(&j);
        }
    }
}

/* Refused input: the code, and the start of the message. */
static void refused(void **state)
{
    (void)state;
    static const struct {
        const char *data, *opts;
        int rc;
        const char *msg;
    } cases[] = {
        {"{bad", NULL, BULLC_EJSON, "data is not valid JSON"},
        {"{}", "{\"a\":", BULLC_EJSON, "opts is not valid JSON"},
        {"{}", "[]", BULLC_EINVAL, "opts must be a JSON object"},
        {"{}", "{\"delay\":1,\"delay\":2}", BULLC_EINVAL, "option delay given twice"},
        {"{}", "{\"jobId\":\"x\\u0000y\"}", BULLC_EINVAL, "opts must not contain"},
        {"{}", "{\"delay\":1e999}", BULLC_EINVAL, "option delay must be a finite number"},
        {"{}", "{\"priority\":3.5}", BULLC_EINVAL, "Priority should not be float"},
        {"{}", "{\"priority\":2097152}", BULLC_EINVAL, "Priority should be between 0 and"},
        {"{}", "{\"jobId\":\"0:1\"}", BULLC_EINVAL, "JobId cannot be '0'"},
        {"{}", "{\"jobId\":\"a:b:c:d\"}", BULLC_EINVAL, "Custom Id cannot contain :"},
        {"{}", "{\"lifo\":\"yes\"}", BULLC_EINVAL, "option lifo must be true or false"},
        {"{}", "{\"keepLogs\":-1}", BULLC_EINVAL, "option keepLogs must be an integer >= 0"},
        {"{}", "{\"backoff\":true}", BULLC_EINVAL, "option backoff must be a number or"},
        {"{}", "{\"backoff\":{\"type\":\"fixed\",\"jitter\":-0.1}}", BULLC_EINVAL,
         "Jitter should be between 0 and 1"},
        {"{}", "{\"removeOnComplete\":{\"count\":1.5}}", BULLC_EINVAL,
         "option removeOnComplete.count must be an integer"},
        {"{}", "{\"removeOnFail\":{\"age\":-1}}", BULLC_EINVAL, "option removeOnFail.age must be"},
        {"{}", "{\"deduplication\":{\"id\":\"\"}}", BULLC_EINVAL, "Deduplication id must be"},
        {"{}", "{\"deduplication\":{\"id\":7}}", BULLC_EINVAL, "option deduplication.id must be"},
        {"{}", "{\"deduplication\":{\"id\":\"x\",\"ttl\":1.5}}", BULLC_EINVAL,
         "option deduplication.ttl must be an integer"},
        {"{}", "{\"deduplication\":{\"id\":\"x\",\"reschedule\":true}}", BULLC_EINVAL,
         "option deduplication.reschedule is not supported"},
        {"{}", "{\"telemetry\":{}}", BULLC_EINVAL, "unknown or unsupported option 'telemetry'"},
        {"\"12345\"", "{\"sizeLimit\":3}", BULLC_EINVAL, "The size of job name exceeds the limit 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bullc__newjob j;
        char err[256];
        int rc = prep(&j, cases[i].data, cases[i].opts, err, sizeof err);
        if (rc != cases[i].rc || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu (%s): rc %d, message '%s'", i, cases[i].opts ? cases[i].opts : "",
                     rc, err);
    }
    bullc__newjob j;
    assert_int_equal(bullc__newjob_prepare(&j, NULL, "{}", NULL, 0, NULL, 0), BULLC_EINVAL);
}

/* The public calls refuse NULL handles and arguments without touching anything. */
static void null_handles(void **state)
{
    (void)state;
    char *id = (char *)1;
    assert_int_equal(bullc_queue_add(NULL, "n", NULL, NULL, &id), BULLC_EINVAL);
    assert_null(id);
    bullc_queue_free(NULL);
    assert_string_equal(bullc_queue_errmsg(NULL), "no queue");
    bullc_queue_t *q = (bullc_queue_t *)1;
    assert_int_equal(bullc_queue_new(&q, NULL), BULLC_EINVAL);
    assert_null(q);
    bullc_queue_opts_t o;
    bullc_queue_opts_init(&o);
    assert_string_equal(o.prefix, "bull");
    assert_int_equal(bullc_queue_new(&q, &o), BULLC_EINVAL); /* no queue name */
    o.queue = "a:b";
    assert_int_equal(bullc_queue_new(&q, &o), BULLC_EINVAL);
    o.queue = "q";
    o.redis_url = "http://x";
    assert_int_equal(bullc_queue_new(&q, &o), BULLC_EURL);
    assert_null(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(key_order_and_aliases),
        cmocka_unit_test(zero_timestamp_is_now),
        cmocka_unit_test(integer_ids),
        cmocka_unit_test(refused),
        cmocka_unit_test(trace_context),
        cmocka_unit_test(null_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
