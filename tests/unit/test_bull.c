/* test_bull.c - unit tests for the Bull 4 protocol's pure parts (no server): the options a
 * producer stores, the low bits of delayed scores, what the blocking pop's reply means, and the
 * protocol choice in the option structs. What reaches Redis is covered by
 * tests/interop/bull.test.js. This file includes proto/bull/bull.h, so not unit.h (whose
 * BullMQ header defines its own struct bullc__proto). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/reply.h"
#include "proto/bull/bull.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

extern const bullc__proto_ops bullc__bull_ops;

static int prep(bullc__bull_newjob *j, const char *opts)
{
    char err[256];
    return bullc__bull_newjob_prepare(j, NULL, NULL, opts, 1700000000000LL, err, sizeof err);
}

/* Without options: Bull's defaults appended, the default name, {} data. */
static void defaults(void **state)
{
    (void)state;
    bullc__bull_newjob j;
    assert_int_equal(prep(&j, NULL), 0);
    assert_string_equal(j.opts.data, "{\"attempts\":1,\"delay\":0,\"timestamp\":1700000000000}");
    assert_string_equal(j.name, "__default__");
    assert_string_equal(j.data, "{}");
    assert_string_equal(j.custom_id, "");
    assert_string_equal(j.delay, "0");
    assert_string_equal(j.due, "0");
    assert_string_equal(j.priority, "0");
    assert_string_equal(j.push, "LPUSH");
    bullc__bull_newjob_free(&j);
}

/* The caller's order (integer-like keys first), parseInt/Number, backoff normalized. */
static void order_and_conversions(void **state)
{
    (void)state;
    bullc__bull_newjob j;
    assert_int_equal(prep(&j, "{\"jobId\":\"k1\",\"b\":true,\"10\":\"ten\",\"attempts\":\"2\","
                              "\"backoff\":1000,\"delay\":\"1500\",\"lifo\":1,\"priority\":3}"),
                     0);
    assert_string_equal(j.opts.data,
                        "{\"10\":\"ten\",\"jobId\":\"k1\",\"b\":true,\"attempts\":2,"
                        "\"backoff\":{\"type\":\"fixed\",\"delay\":1000},\"delay\":1500,"
                        "\"lifo\":1,\"priority\":3,\"timestamp\":1700000000000}");
    assert_string_equal(j.custom_id, "k1");
    assert_string_equal(j.delay, "1500");
    assert_string_equal(j.due, "1700000001500");
    assert_string_equal(j.priority, "3");
    assert_string_equal(j.push, "RPUSH");
    bullc__bull_newjob_free(&j);
}

/* A negative delay is stored as given in opts but runs at once; a null backoff disappears; a
 * numeric id is printed as JavaScript prints it. */
static void edge_values(void **state)
{
    (void)state;
    bullc__bull_newjob j;
    assert_int_equal(prep(&j, "{\"delay\":-5,\"backoff\":null,\"jobId\":77,\"timestamp\":12.5}"),
                     0);
    assert_string_equal(j.opts.data,
                        "{\"delay\":-5,\"jobId\":77,\"timestamp\":12.5,\"attempts\":1}");
    assert_string_equal(j.delay, "0");
    assert_string_equal(j.due, "0");
    assert_string_equal(j.custom_id, "77");
    assert_string_equal(j.timestamp, "12.5");
    bullc__bull_newjob_free(&j);
}

static void refused(void **state)
{
    (void)state;
    bullc__bull_newjob j;
    assert_int_equal(prep(&j, "{\"repeat\":{\"every\":1000,\"cron\":\"* * * * *\"}}"),
                     BULLC_EINVAL);
    assert_int_equal(prep(&j, "{\"repeat\":{\"every\":1000,\"limit\":0}}"), BULLC_EINVAL);
    assert_int_equal(prep(&j, "[1]"), BULLC_EINVAL);
    assert_int_equal(prep(&j, "{"), BULLC_EJSON);
    assert_int_equal(prep(&j, "{\"delay\":\"soon\"}"), BULLC_EINVAL);
    assert_int_equal(bullc__bull_newjob_prepare(&j, "n", "{x", NULL, 0, NULL, 0), BULLC_EJSON);
}

/* A repeatable add: the first iteration, named and timed as Node Bull names it (the md5 below
 * is Node's for this key). */
static void repeat_first(void **state)
{
    (void)state;
    bullc__bull_newjob j;
    char err[256];
    assert_int_equal(bullc__bull_newjob_prepare(&j, "tick", "{}",
                                                "{\"repeat\":{\"every\":1000,\"limit\":3},"
                                                "\"removeOnComplete\":true}",
                                                1700000000500LL, err, sizeof err),
                     0);
    assert_string_equal(j.repeat_key, "tick:::1000");
    assert_string_equal(j.next_ms, "1700000001000");
    assert_string_equal(j.custom_id, "repeat:e491fd22c5553cc835b9cd533c4edeb4:1700000001000");
    assert_string_equal(j.opts.data,
                        "{\"repeat\":{\"count\":1,\"key\":\"tick:::1000\",\"every\":1000,"
                        "\"limit\":3},\"jobId\":\"repeat:e491fd22c5553cc835b9cd533c4edeb4:"
                        "1700000001000\",\"delay\":500,\"timestamp\":1700000000500,"
                        "\"prevMillis\":1700000001000,\"removeOnComplete\":true,"
                        "\"attempts\":1}");
    assert_string_equal(j.due, "1700000001000");
    bullc__bull_newjob_free(&j);
}

/* JavaScript's `id & 0xfff`. */
static void low_bits(void **state)
{
    (void)state;
    assert_int_equal(bullc__bull_id_low_bits("1"), 1);
    assert_int_equal(bullc__bull_id_low_bits("4097"), 1);
    assert_int_equal(bullc__bull_id_low_bits(" 12 "), 12);
    assert_int_equal(bullc__bull_id_low_bits("-1"), 4095);
    assert_int_equal(bullc__bull_id_low_bits("0x10"), 16);
    assert_int_equal(bullc__bull_id_low_bits("abc"), 0);
    assert_int_equal(bullc__bull_id_low_bits("my-job-1"), 0);
    assert_int_equal(bullc__bull_id_low_bits(""), 0);
    assert_int_equal(bullc__bull_id_low_bits("4294967297"), 1);
}

static bullc__reply *parse(const char *text)
{
    bullc__reply *r = NULL;
    assert_int_equal(bullc__reply_parse(text, strlen(text), &r), 0);
    return r;
}

/* BRPOPLPUSH's reply: an id is a claimed job; nil means block again, without a fetch. */
static void block_reply(void **state)
{
    (void)state;
    bullc__logger log = {0};
    bullc__proto *p = NULL;
    char err[128];
    assert_int_equal(bullc__bull_ops.open_queue(&p, "bull", "q", &log, err, sizeof err), 0);
    bullc__reply *id = parse("$2\r\n42\r\n"), *nil = parse("$-1\r\n");
    bullc__wake w;
    bullc__bull_ops.block_reply(p, id, &w);
    assert_int_equal(w.kind, BULLC__WAKE_JOB);
    assert_string_equal(w.job_id, "42");
    free(w.job_id);
    bullc__bull_ops.block_reply(p, nil, &w);
    assert_int_equal(w.kind, BULLC__WAKE_LATER);
    assert_int_equal(w.due_ms, 0);
    assert_null(w.job_id);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__bull_ops.block_cmd(p, &cmd, 5000);
    char name[32];
    assert_string_equal(bullc__cmd_name(&cmd, name, sizeof name), "BRPOPLPUSH");
    bullc__cmd_free(&cmd);
    bullc__reply_free(id);
    bullc__reply_free(nil);
    bullc__bull_ops.close(p);
}

/* The protocol is chosen by name; an unknown one is refused before anything is made. */
static void protocol_option(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    bullc_worker_opts_init(&o);
    assert_null(o.protocol);
    o.queue = "q";
    o.protocol = "bull3";
    bullc_worker_t *w = (bullc_worker_t *)1;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    assert_null(w);
    o.protocol = "bull";
    assert_int_equal(bullc_worker_new(&w, &o), 0);
    bullc_worker_free(w);
    o.max_started_attempts = 3;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL); /* Bull has no such count */
    bullc_queue_opts_t qo;
    bullc_queue_opts_init(&qo);
    qo.queue = "q";
    qo.protocol = "nope";
    bullc_queue_t *q = (bullc_queue_t *)1;
    assert_int_equal(bullc_queue_new(&q, &qo), BULLC_EINVAL);
    assert_null(q);
}

/* Bull's `timeout` option: the limit and the reason Node's Bull records when it passes. */
static void timeout_option(void **state)
{
    (void)state;
    static const struct {
        const char *opts;
        long long ms;
        const char *reason;
    } cases[] = {
        {"{\"timeout\":300}", 300, "Promise timed out after 300 milliseconds"},
        {"{\"timeout\":2.5}", 3, "Promise timed out after 2.5 milliseconds"},
        {"{\"timeout\":1e21}", 1, "Promise timed out after 1e+21 milliseconds"},
        {"{\"timeout\":-5}", 1, "Expected `milliseconds` to be a positive number, got `-5`"},
        {"{\"timeout\":\"300\"}", 1,
         "Expected `milliseconds` to be a positive number, got `300`"},
        {"{\"timeout\":true}", 1, "Expected `milliseconds` to be a positive number, got `true`"},
        {"{\"timeout\":{}}", 1,
         "Expected `milliseconds` to be a positive number, got `[object Object]`"},
        {"{\"timeout\":0}", 0, NULL},     /* falsy: no timer, as in Node */
        {"{\"timeout\":\"\"}", 0, NULL},
        {"{\"timeout\":null}", 0, NULL},
        {"{\"attempts\":3}", 0, NULL},
        {"[1]", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *opts = cJSON_Parse(cases[i].opts);
        long long ms = -1;
        char *reason = (char *)"unset";
        assert_int_equal(bullc__bull_timeout_of(opts, &ms, &reason), 0);
        assert_int_equal(ms, cases[i].ms);
        if (cases[i].reason)
            assert_string_equal(reason, cases[i].reason);
        else
            assert_null(reason);
        free(reason);
        cJSON_Delete(opts);
    }
    assert_int_equal(bullc__bull_timeout_of(NULL, &(long long){0}, &(char *){NULL}), 0);
}

/* bullc_job_should_stop outside a running handler. */
static void should_stop_misuse(void **state)
{
    (void)state;
    assert_int_equal(bullc_job_should_stop(NULL), BULLC_EMISUSE);
}

/* A message on the delayed channel: a due time (maybe fractional: rounded up), else ignored. */
static void tick_message(void **state)
{
    (void)state;
    long long (*msg)(bullc__proto *, const char *, const char *, size_t) =
        bullc__bull_ops.tick_message;
    assert_non_null(bullc__bull_ops.tick_channels);
    assert_int_equal(msg(NULL, "c", "1700000000000", 13), 1700000000000LL);
    assert_int_equal(msg(NULL, "c", "1700000000000.25", 16), 1700000000001LL);
    assert_int_equal(msg(NULL, "c", "", 0), 0);
    assert_int_equal(msg(NULL, "c", "soon", 4), 0);
    assert_int_equal(msg(NULL, "c", "-5", 2), 0);
    assert_int_equal(msg(NULL, "c", "12x", 3), 0);
}

/* The job id for a limiter group: "<jobId or uuid>:<value at the key, as JavaScript prints it>",
 * in place of an existing jobId member. */
static void group_ids(void **state)
{
    (void)state;
    static const struct {
        const char *opts, *data, *key, *want;
    } cases[] = {
        {"{\"jobId\":\"a\",\"x\":1}", "{\"g\":\"v\"}", "g", "{\"jobId\":\"a:v\",\"x\":1}"},
        {"{\"jobId\":7}", "{\"g\":1e21}", "g", "{\"jobId\":\"7:1e+21\"}"},
        {"{\"jobId\":\"b\"}", "{\"a\":{\"b\":[1,null,true]}}", "a.b", "{\"jobId\":\"b:1,,true\"}"},
        {"{\"jobId\":\"c\"}", "{\"a\":[{\"b\":\"z\"}]}", "a[0].b", "{\"jobId\":\"c:z\"}"},
        {"{\"jobId\":\"d\"}", "null", "g", "{\"jobId\":\"d:undefined\"}"},
        {"{\"jobId\":\"e\"}", "{\"g\":{}}", "g", "{\"jobId\":\"e:[object Object]\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *o = cJSON_Parse(cases[i].opts);
        assert_int_equal(bullc__bull_group_id(o, cases[i].data, cases[i].key), 0);
        char *text = cJSON_PrintUnformatted(o);
        assert_string_equal(text, cases[i].want);
        free(text);
        cJSON_Delete(o);
    }
    cJSON *o = cJSON_Parse("{\"lifo\":true}");
    assert_int_equal(bullc__bull_group_id(o, "{\"g\":\"q\"}", "g"), 0);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "jobId");
    assert_true(cJSON_IsString(id) && strlen(id->valuestring) == 38);
    assert_string_equal(id->valuestring + 36, ":q");
    assert_ptr_equal(o->child->next, id); /* added last */
    assert_int_equal(bullc__bull_group_id(o, "{x", "g"), BULLC_EJSON);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),       cmocka_unit_test(order_and_conversions),
        cmocka_unit_test(edge_values),    cmocka_unit_test(refused),
        cmocka_unit_test(low_bits),       cmocka_unit_test(block_reply),
        cmocka_unit_test(protocol_option), cmocka_unit_test(repeat_first),
        cmocka_unit_test(timeout_option),  cmocka_unit_test(should_stop_misuse),
        cmocka_unit_test(tick_message),    cmocka_unit_test(group_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
