/* test_flow.c - unit tests for the parts of the flow calls that need no server: JSON string
 * quoting of child keys and failure reasons, and calls on a job that is not lent to a handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "unit.h"

static char *quote(const char *s, size_t n)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__json_append_string(&b, s, n);
    return bullc__buf_take(&b);
}

static void quote_escapes(void **state)
{
    (void)state;
    char *q = quote("bull:q:1", 8);
    assert_string_equal(q, "\"bull:q:1\"");
    free(q);
    q = quote("a\"b\\c/\n\r\t\b\f\x01\x1f\x7f", 14);
    assert_string_equal(q, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
    assert_true(bullc__json_valid(q));
    free(q);
    q = quote("nul\0x", 5);
    assert_string_equal(q, "\"nul\\u0000x\"");
    free(q);
    q = quote("", 0);
    assert_string_equal(q, "\"\"");
    free(q);
}

static void quote_utf8(void **state)
{
    (void)state;
    /* valid multi-byte sequences are kept as they are */
    const char *ok = "\xc3\xbc \xe2\x98\x83 \xf0\x9f\x98\x80";
    char *q = quote(ok, strlen(ok));
    assert_int_equal(strlen(q), strlen(ok) + 2);
    assert_memory_equal(q + 1, ok, strlen(ok));
    free(q);
    /* invalid bytes, truncated, overlong and surrogate encodings become U+FFFD, one per byte */
    q = quote("\xff", 1);
    assert_string_equal(q, "\"\xef\xbf\xbd\"");
    free(q);
    q = quote("a\xe2\x98", 3);
    assert_string_equal(q, "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
    free(q);
    q = quote("\xc0\xaf", 2);
    assert_string_equal(q, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    free(q);
    q = quote("\xed\xa0\x80", 3);
    assert_string_equal(q, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    assert_true(bullc__json_valid(q));
    free(q);
}

static void calls_need_a_running_handler(void **state)
{
    (void)state;
    /* outside a running handler every handler call is a misuse (bullc.h) */
    bullc_job_t job;
    memset(&job, 0, sizeof job);
    job.id = "1";
    char *out = (char *)"untouched";
    assert_int_equal(bullc_job_move_to_waiting_children(&job), BULLC_EMISUSE);
    assert_int_equal(bullc_job_move_to_waiting_children(NULL), BULLC_EMISUSE);
    assert_int_equal(bullc_job_children_values(&job, &out), BULLC_EMISUSE);
    assert_null(out);
    out = (char *)"untouched";
    assert_int_equal(bullc_job_ignored_children_failures(NULL, &out), BULLC_EMISUSE);
    assert_null(out);
    assert_int_equal(bullc_job_children_values(&job, NULL), BULLC_EMISUSE);
    assert_int_equal(job.moved, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quote_escapes),
        cmocka_unit_test(quote_utf8),
        cmocka_unit_test(calls_need_a_running_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
