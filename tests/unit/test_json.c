/* test_json.c - bullc_json_print writes exactly what JSON.stringify(JSON.parse(text)) writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* Parses `text` the way job data is parsed and prints it back. */
static char *roundtrip(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    char *out = bullc_json_print((const bullc_json_t *)(const void *)j);
    cJSON_Delete(j);
    assert_non_null(out);
    return out;
}

static void expect(const char *in, const char *want)
{
    char *got = roundtrip(in);
    if (strcmp(got, want) != 0)
        fail_msg("%s printed as %s, JSON.stringify gives %s", in, got, want);
    bullc_free(got);
}

/* Expected texts are what Node 20 prints for JSON.stringify(JSON.parse(in)). */
static void numbers_like_javascript(void **state)
{
    (void)state;
    expect("0.30000000000000004", "0.30000000000000004");
    expect("0.1", "0.1");
    expect("1e21", "1e+21");
    expect("1e20", "100000000000000000000");
    expect("123456789012345680000", "123456789012345680000");
    expect("1e-7", "1e-7");
    expect("0.000001", "0.000001");
    expect("1.23e-18", "1.23e-18");
    expect("-0", "0");
    expect("-0.0", "0");
    expect("5e-324", "5e-324");
    expect("1.7976931348623157e308", "1.7976931348623157e+308");
    expect("9007199254740993", "9007199254740992");
    expect("100", "100");
    expect("-1.5", "-1.5");
    expect("2.5E+3", "2500");
    expect("1.0", "1");
    expect("123.456e5", "12345600");
    expect("4.35", "4.35");
    expect("1e-6", "0.000001");
    expect("1.5e-6", "0.0000015");
    expect("1e300", "1e+300");
}

static void strings_and_keys_like_javascript(void **state)
{
    (void)state;
    expect("\"a\\u0001\\n\\\"\\\\\\/\\u001f\\t\\b\\f\\r\"", "\"a\\u0001\\n\\\"\\\\/\\u001f\\t\\b\\f\\r\"");
    expect("\"\\u00e9\\u20ac\"", "\"\xc3\xa9\xe2\x82\xac\"");
    /* array-index keys first in ascending order, then the rest in insertion order */
    expect("{\"b\":1,\"2\":2,\"1\":3,\"a\":0,\"01\":4,\"4294967295\":5,\"4294967294\":6}",
           "{\"1\":3,\"2\":2,\"4294967294\":6,\"b\":1,\"a\":0,\"01\":4,\"4294967295\":5}");
    /* duplicate keys: the last value, at the first key's place */
    expect("{\"x\":1,\"y\":2,\"x\":3}", "{\"x\":3,\"y\":2}");
    expect(" [ 1 , { } , [ ] , null , true , false ] ", "[1,{},[],null,true,false]");
}

/* A big object: index keys (given in descending order) come first in ascending order, the
 * others keep their first place and take their last value. */
static void big_object_order(void **state)
{
    (void)state;
    enum { N = 3000 };
    bullc__buf in, want;
    bullc__buf_init(&in);
    bullc__buf_init(&want);
    bullc__buf_puts(&in, "{");
    for (int i = 0; i < N; i++)
        bullc__buf_printf(&in, "%s\"k%d\":%d,\"%d\":%d", i ? "," : "", i, i, N - i, i);
    for (int i = 0; i < N; i += 10) /* later duplicates of every 10th k-key */
        bullc__buf_printf(&in, ",\"k%d\":\"again\"", i);
    bullc__buf_puts(&in, "}");
    bullc__buf_puts(&want, "{");
    for (int v = 1; v <= N; v++) /* "N-i" took value i */
        bullc__buf_printf(&want, "%s\"%d\":%d", v > 1 ? "," : "", v, N - v);
    for (int i = 0; i < N; i++) {
        if (i % 10 == 0)
            bullc__buf_printf(&want, ",\"k%d\":\"again\"", i);
        else
            bullc__buf_printf(&want, ",\"k%d\":%d", i, i);
    }
    bullc__buf_puts(&want, "}");
    char *text = bullc__buf_take(&in), *expected = bullc__buf_take(&want);
    assert_non_null(text);
    assert_non_null(expected);
    char *got = roundtrip(text);
    assert_string_equal(got, expected);
    bullc_free(got);
    free(text);
    free(expected);
}

static void get_takes_last_duplicate(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse("{\"k\":1,\"k\":2}");
    assert_non_null(j);
    const bullc_json_t *v = bullc_json_get((const bullc_json_t *)(const void *)j, "k");
    long long n = 0;
    assert_int_equal(bullc_json_int(v, &n), 0);
    assert_int_equal(n, 2);
    cJSON_Delete(j);
}

/* Node reads job data as a JavaScript string, where every byte that is not UTF-8 becomes U+FFFD
 * (as bullc_json_print writes it), so keys that differ only in such bytes are one key there: one
 * property, with the last value, at the first one's place (a fuzzer found duplicates printed). */
static void keys_as_javascript_reads_them(void **state)
{
    (void)state;
    expect("{\"\xff\":1,\"\xfe\":2}", "{\"\xef\xbf\xbd\":2}");
    expect("{\"a\xff\":1,\"b\":2,\"a\xc0\":3}", "{\"a\xef\xbf\xbd\":3,\"b\":2}");
    /* U+FFFD written as itself is that key too */
    expect("{\"\xef\xbf\xbd\":1,\"x\":0,\"\xff\":2}", "{\"\xef\xbf\xbd\":2,\"x\":0}");
    /* one replacement per byte: these keys stay apart */
    expect("{\"\xff\":1,\"\xff\xff\":2,\"\xfe\":3}", "{\"\xef\xbf\xbd\":3,\"\xef\xbf\xbd\xef\xbf\xbd\":2}");
    /* valid UTF-8 is compared as it is */
    expect("{\"\xc3\xa9\":1,\"\xc3\xa8\":2,\"e\":3}", "{\"\xc3\xa9\":1,\"\xc3\xa8\":2,\"e\":3}");

    /* printing again gives the same text */
    const char *in = "{\"\xfe\":{\"\xff\":1,\"\xfd\":[2]},\"k\":1,\"\xff\":{\"\x80\":3}}";
    char *once = roundtrip(in);
    assert_string_equal(once, "{\"\xef\xbf\xbd\":{\"\xef\xbf\xbd\":3},\"k\":1}");
    char *twice = roundtrip(once);
    assert_string_equal(twice, once);
    bullc_free(once);
    bullc_free(twice);

    /* bullc_json_get finds the property the printed text shows */
    cJSON *j = cJSON_Parse("{\"\xff\":1,\"\xfe\":2}");
    assert_non_null(j);
    long long n = 0;
    const bullc_json_t *obj = (const bullc_json_t *)(const void *)j;
    assert_int_equal(bullc_json_int(bullc_json_get(obj, "\xff"), &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(bullc_json_int(bullc_json_get(obj, "\xef\xbf\xbd"), &n), 0);
    assert_int_equal(n, 2);
    assert_null(bullc_json_get(obj, "\xff\xff"));
    cJSON_Delete(j);
}

/* Texts JSON.parse refuses that cJSON_Parse would take (trailing text, number spellings, raw
 * control bytes, a byte-order mark, bad \u escapes): the library's parser, and so the job's
 * parsed data and opts, give NULL as bullc.h promises. */
static const char *const not_json[] = {
    "{\"a\":1} x", "[1] [2]", "1 2",   "{\"a\":1}}", "nulll", "01",       "[01]",
    "{\"a\":01}",  "1.",      "[1.]",  "-.5",        "1e",    "1.e5",     "0x10",
    "\"a\tb\"",    "\x01{}",  "{}\x01", "\xef\xbb\xbf{}",    "\"\\u00zz\"",
};

static void parse_refuses_what_json_parse_refuses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++) {
        void *parsed = bullc__json_parse(not_json[i]);
        if (parsed) {
            cJSON_Delete(parsed);
            fail_msg("bullc__json_parse took %s, which JSON.parse refuses", not_json[i]);
        }
    }
    /* what JSON.parse takes still parses: lone surrogates, deep nesting within the bound */
    cJSON *surrogate = bullc__json_parse("[\"\\ud800\"] \n");
    assert_non_null(surrogate);
    cJSON_Delete(surrogate);
    char deep[1100];
    memset(deep, '[', 512);
    memset(deep + 512, ']', 512);
    deep[1024] = '\0';
    cJSON *nested = bullc__json_parse(deep);
    assert_non_null(nested);
    cJSON_Delete(nested);
}

static void job_views_refuse_invalid_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++) {
        const char *items[] = {"name", "n", "data", not_json[i], "opts", not_json[i]};
        bullc__reply *hash = unit_array_reply(items, 6);
        assert_non_null(hash);
        bullc_job_t *job = NULL;
        assert_int_equal(bullc__bmq_job_decode(hash, "1", 1, &job), 0);
        bullc__reply_free(hash); /* the job holds its own reference */
        assert_string_equal(bullc_job_data(job), not_json[i]);
        if (bullc_job_data_json(job) || bullc_job_opts_json(job))
            fail_msg("job data or opts %s gave a parsed view", not_json[i]);
        bullc__job_free(job);
    }
}

/* Property: for many doubles the text reads back as the same value, and no shorter digit string
 * does (so it is the shortest, as ECMAScript requires). */
static void numbers_shortest_roundtrip(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        if (i % 2) {
            memcpy(&d, &x, sizeof d);
            if (!isfinite(d))
                continue;
        } else {
            d = (double)(x % 1000000007ULL) / (double)(1 + (x >> 40) % 100000);
        }
        bullc__buf b;
        bullc__buf_init(&b);
        bullc__js_number(&b, d);
        char *s = bullc__buf_take(&b);
        assert_non_null(s);
        double back = strtod(s, NULL);
        if (back != d && !(d == 0 && back == 0))
            fail_msg("%.17g printed as %s", d, s);
        /* count significant digits and check one fewer cannot round-trip */
        int digits = 0, started = 0, zeros = 0;
        for (const char *p = s; *p && *p != 'e'; p++) {
            if (*p >= '1' && *p <= '9')
                started = 1;
            if (started && *p >= '0' && *p <= '9') {
                digits++;
                zeros = *p == '0' ? zeros + 1 : 0; /* trailing zeros are not significant */
            }
        }
        digits -= zeros;
        if (digits > 1 && d != 0) {
            char shorter[48];
            snprintf(shorter, sizeof shorter, "%.*e", digits - 2, d);
            assert_true(strtod(shorter, NULL) != d);
        }
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_like_javascript),
        cmocka_unit_test(strings_and_keys_like_javascript),
        cmocka_unit_test(big_object_order),
        cmocka_unit_test(get_takes_last_duplicate),
        cmocka_unit_test(keys_as_javascript_reads_them),
        cmocka_unit_test(parse_refuses_what_json_parse_refuses),
        cmocka_unit_test(job_views_refuse_invalid_json),
        cmocka_unit_test(numbers_shortest_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
