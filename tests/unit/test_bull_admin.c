/* test_bull_admin.c - unit tests for the pure parts of Bull queue administration (no server):
 * the job object read from a job hash as Node Bull reads it, and the workers picked from a
 * CLIENT LIST text as Node Bull's getWorkers() picks them (docs/bull.md §6). What reaches Redis
 * is covered by tests/interop/bull-admin.test.js. Includes proto/bull/ headers, so not unit.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/reply.h"
#include "proto/bull/bull_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An HGETALL-like array reply of the given field/value strings (n of them). */
static bullc__reply *hash(const char *const *fv, size_t n)
{
    char buf[4096];
    size_t at = (size_t)snprintf(buf, sizeof buf, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "$%zu\r\n%s\r\n", strlen(fv[i]), fv[i]);
    bullc__reply *r = NULL;
    assert_int_equal(bullc__reply_parse(buf, at, &r), 0);
    return r;
}

static void job_json_is(const char *const *fv, size_t n, const char *state, const char *want)
{
    bullc__reply *h = hash(fv, n);
    char *out = NULL;
    assert_int_equal(bullc__bull_job_json(h, "7", state, &out), 0);
    assert_string_equal(out, want);
    free(out);
    bullc__reply_free(h);
}

/* A failed job's hash: every field in place, numbers as numbers, JSON fields parsed. */
static void job_full(void **state)
{
    (void)state;
    static const char *const fv[] = {
        "name", "bad", "data", "{\"i\":1}", "opts", "{\"attempts\":1,\"lifo\":true}",
        "timestamp", "1700000000000", "delay", "0", "priority", "3", "processedOn",
        "1700000000100", "finishedOn", "1700000000200", "failedReason", "boom",
        "stacktrace", "[\"Error: boom\"]", "attemptsMade", "1", "progress", "{\"p\":50}",
        "returnvalue", "null"};
    job_json_is(fv, BULLC__COUNT(fv), "failed",
                "{\"id\":\"7\",\"name\":\"bad\",\"data\":{\"i\":1},"
                "\"opts\":{\"attempts\":1,\"lifo\":true},\"progress\":{\"p\":50},"
                "\"attemptsMade\":1,\"attemptsStarted\":null,\"timestamp\":1700000000000,"
                "\"processedOn\":1700000000100,\"finishedOn\":1700000000200,"
                "\"returnvalue\":null,\"failedReason\":\"boom\",\"stacktrace\":[\"Error: boom\"],"
                "\"delay\":0,\"priority\":3,\"state\":\"failed\"}");
}

/* Missing or unreadable fields get Bull's defaults: __default__, {}, progress 0, attemptsMade
 * 0, a stacktrace that is no array is [], a number that is none is null. */
static void job_defaults(void **state)
{
    (void)state;
    static const char *const fv[] = {"data", "not json", "stacktrace", "{\"x\":1}", "timestamp",
                                     "abc"};
    job_json_is(fv, BULLC__COUNT(fv), "stuck",
                "{\"id\":\"7\",\"name\":\"__default__\",\"data\":{},\"opts\":{},\"progress\":0,"
                "\"attemptsMade\":0,\"attemptsStarted\":null,\"timestamp\":null,"
                "\"processedOn\":null,\"finishedOn\":null,\"returnvalue\":null,"
                "\"failedReason\":null,\"stacktrace\":[],\"delay\":null,\"priority\":null,"
                "\"state\":\"stuck\"}");
}

/* opts.preventParsingData: data stays text. */
static void job_raw_data(void **state)
{
    (void)state;
    static const char *const fv[] = {"name", "n", "data", "{\"a\":1}", "opts",
                                     "{\"preventParsingData\":true}"};
    bullc__reply *h = hash(fv, BULLC__COUNT(fv));
    char *out = NULL;
    assert_int_equal(bullc__bull_job_json(h, "1", "waiting", &out), 0);
    assert_non_null(strstr(out, "\"data\":\"{\\\"a\\\":1}\""));
    free(out);
    bullc__reply_free(h);
}

/* CLIENT LIST: names starting with the client name count (a longer name too, as startsWith),
 * others and unnamed connections do not; each reports the queue's name. */
static void workers(void **state)
{
    (void)state;
    const char *list =
        "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=bull:YnE= age=1 db=0\n"
        "id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=9 name= age=1 db=0\n"
        "id=5 addr=127.0.0.1:5002 laddr=127.0.0.1:6379 fd=10 name=bull:b3RoZXJx age=1\n"
        "id=6 addr=127.0.0.1:5003 fd=11 name=bull:YnE=:w:x age=1\n"
        "id=7 addr=127.0.0.1:5004 fd=12 age=1\n";
    char *out = NULL;
    assert_int_equal(bullc__bull_workers_json(list, "bull:YnE=", "bq", 2, &out), 0);
    assert_string_equal(out, "[{\"name\":\"bq\",\"addr\":\"127.0.0.1:5000\","
                             "\"rawname\":\"bull:YnE=\"},"
                             "{\"name\":\"bq\",\"addr\":\"127.0.0.1:5003\","
                             "\"rawname\":\"bull:YnE=:w:x\"}]");
    free(out);
    assert_int_equal(bullc__bull_workers_json("", "bull:YnE=", "bq", 2, &out), 0);
    assert_string_equal(out, "[]");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(job_full), cmocka_unit_test(job_defaults),
        cmocka_unit_test(job_raw_data), cmocka_unit_test(workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
