/* test_robust.c - robustness: many random and mutated inputs (fixed seed, so every run is the
 * same) fed to the JSON scanner, bullc_json_member_raw, the job-hash decoder, the producer's
 * option checker and the URL parser. Each must return one of its documented codes, never crash,
 * and agree with a simple oracle. Also the overflow edges of the rate-limit arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* xorshift64*: deterministic, seeded per test */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static size_t below(rng *r, size_t n) { return n ? (size_t)(next_u64(r) % n) : 0; }

static const char *pick(rng *r, const char *const *set, size_t n) { return set[below(r, n)]; }
#define PICK(r, arr) pick((r), (arr), sizeof(arr) / sizeof *(arr))

/* Appends one random JSON value (valid unless `r` decides otherwise below), depth-limited. */
static void gen_value(rng *r, bullc__buf *b, int depth)
{
    static const char *const atoms[] = {
        "0",     "-0",  "1",    "-1.5e3", "1E+2",  "123456789012345678901234567890", "3.14",
        "true",  "false", "null", "\"\"",  "\"a\"", "\"\\u00e9\\ud83d\\ude00\"", "\"\\ud800\"",
        "\"\\udc00x\"", "\"\\\\\\\"\\/\\b\\f\\n\\r\\t\"", "\"\xc3\xa9\"", "1e400", "\"\\u0000\""};
    size_t kind = depth > 6 ? 0 : below(r, 4);
    if (kind <= 1) {
        bullc__buf_puts(b, PICK(r, atoms));
    } else if (kind == 2) {
        bullc__buf_puts(b, "[");
        size_t n = below(r, 4);
        for (size_t i = 0; i < n; i++) {
            if (i)
                bullc__buf_puts(b, below(r, 2) ? "," : " , ");
            gen_value(r, b, depth + 1);
        }
        bullc__buf_puts(b, "]");
    } else {
        static const char *const keys[] = {"\"a\"", "\"b\"", "\"key\"", "\"\"", "\"a\\\"b\""};
        bullc__buf_puts(b, "{");
        size_t n = below(r, 4);
        for (size_t i = 0; i < n; i++) {
            if (i)
                bullc__buf_puts(b, ",");
            bullc__buf_puts(b, PICK(r, keys));
            bullc__buf_puts(b, below(r, 2) ? ":" : " : ");
            gen_value(r, b, depth + 1);
        }
        bullc__buf_puts(b, "}");
    }
}

/* Flips, inserts, deletes or truncates a few bytes (never a NUL: inputs are C strings). */
static void mutate(rng *r, bullc__buf *b)
{
    static const char bytes[] = "{}[]\",:\\u0123456789abcdefEe+-.tfn \t\n\xff\x80\x01";
    size_t n = 1 + below(r, 3);
    for (size_t i = 0; i < n && b->len; i++) {
        size_t at = below(r, b->len);
        char c = bytes[below(r, sizeof bytes - 1)];
        switch (below(r, 4)) {
        case 0:
            b->data[at] = c;
            break;
        case 1: /* insert */
            bullc__buf_append(b, "", 1); /* grow by one */
            memmove(b->data + at + 1, b->data + at, b->len - at - 1);
            b->data[at] = c;
            b->data[b->len] = '\0';
            break;
        case 2: /* delete */
            memmove(b->data + at, b->data + at + 1, b->len - at);
            b->len--;
            break;
        default: /* truncate */
            b->len = at;
            b->data[at] = '\0';
        }
    }
}

/* ---- JSON scanner and member lookup -------------------------------------------------------- */

static void check_json_text(const char *s)
{
    int valid = bullc__json_valid(s);
    assert_true(valid == 0 || valid == 1);
    if (valid) {
        /* what our scanner accepts, cJSON reads (after the surrogate fix-up), as JSON.parse would */
        char *fixed = bullc__json_fix_surrogates(s);
        assert_non_null(fixed);
        cJSON *j = cJSON_ParseWithOpts(fixed, NULL, 1);
        assert_non_null(j);
        cJSON_Delete(j);
        free(fixed);
    }
    static const char *const keys[] = {"a", "b", "key", "", "a\\\"b", "zz"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *v = NULL;
        size_t len = 0;
        int rc = bullc_json_member_raw(s, keys[k], &v, &len);
        assert_true(rc == BULLC_OK || rc == BULLC_EINVAL || rc == BULLC_EJSON);
        if (rc == BULLC_OK) {
            /* found only in a well-formed text, and the value is one whole JSON value */
            assert_int_equal(valid, 1);
            assert_true(v >= s && v + len <= s + strlen(s));
            char *copy = bullc__strndup(v, len);
            assert_non_null(copy);
            assert_int_equal(bullc__json_valid(copy), 1);
            free(copy);
        }
        if (rc == BULLC_EINVAL && s[strspn(s, " \t\r\n")] == '{')
            assert_int_equal(valid, 1); /* "no such member" only for a well-formed object */
    }
}

static void json_random_and_mutated(void **state)
{
    (void)state;
    rng r = {0x9e3779b97f4a7c15ULL};
    bullc__buf b;
    bullc__buf_init(&b);
    for (int i = 0; i < 20000; i++) {
        bullc__buf_reset(&b);
        if (below(&r, 2)) {
            bullc__buf_puts(&b, "{\"a\":");
            gen_value(&r, &b, 1);
            bullc__buf_puts(&b, ",\"b\":");
            gen_value(&r, &b, 1);
            bullc__buf_puts(&b, "}");
        } else {
            gen_value(&r, &b, 0);
        }
        if (below(&r, 3))
            mutate(&r, &b);
        assert_false(b.oom);
        check_json_text(b.data ? b.data : "");
    }
    /* deep nesting is refused, not a stack overflow */
    bullc__buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        bullc__buf_puts(&b, "[");
    check_json_text(b.data);
    bullc__buf_free(&b);
}

static void json_member_raw_trailing(void **state)
{
    (void)state;
    const char *v;
    size_t len;
    /* text after the object makes it malformed, as the header says (it was ignored) */
    assert_int_equal(bullc_json_member_raw("{\"a\":1}x", "a", &v, &len), BULLC_EJSON);
    assert_int_equal(bullc_json_member_raw("{\"a\":1}{", "a", &v, &len), BULLC_EJSON);
    assert_int_equal(bullc_json_member_raw("{} 1", "a", &v, &len), BULLC_EJSON);
    assert_int_equal(bullc_json_member_raw(" {\"a\":1} \n", "a", &v, &len), BULLC_OK);
    assert_int_equal(len, 1);
    assert_int_equal(bullc_json_member_raw("{} ", "a", &v, &len), BULLC_EINVAL);
}

/* ---- job-hash decoder ---------------------------------------------------------------------- */

static void job_decoder_random(void **state)
{
    (void)state;
    static const char *const fields[] = {"name", "data", "opts", "atm", "ats", "attemptsMade",
                                         "timestamp", "stacktrace", "defa", "parentKey", "x"};
    static const char *const values[] = {
        "", "0", "1", "-1", "2147483647", "2147483648", "-9223372036854775808",
        "9223372036854775807", "99999999999999999999", " 5", "5 ", "+5", "0x10", "abc", "{}",
        "{\"attempts\":3,\"backoff\":{\"type\":\"exponential\",\"delay\":1e308}}", "[1,2",
        "{\"a\":\"\\ud800\"}", "\"s\"", "null", "1e3"};
    rng r = {0x243f6a8885a308d3ULL};
    for (int i = 0; i < 20000; i++) {
        size_t n = below(&r, 12);
        /* a hash reply as a connection parses it; some elements are not strings, and some
         * replies are not arrays */
        bullc__buf resp;
        bullc__buf_init(&resp);
        int is_array = below(&r, 30) != 0;
        if (is_array)
            bullc__buf_printf(&resp, "*%zu\r\n", n);
        else
            n = 1;
        for (size_t k = 0; k < n; k++) {
            const char *s = k % 2 == 0 ? PICK(&r, fields) : PICK(&r, values);
            if (below(&r, 40))
                unit_resp_item(&resp, s);
            else
                bullc__buf_puts(&resp, below(&r, 2) ? "$-1\r\n" : ":7\r\n");
        }
        bullc__reply *hash = NULL;
        assert_int_equal(bullc__reply_parse(resp.data, resp.len, &hash), 0);
        bullc__buf_free(&resp);
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        size_t idlen = below(&r, 50) ? strlen(id) : 0;
        bullc_job_t *job = (bullc_job_t *)hash; /* must be overwritten */
        int rc = bullc__bmq_job_decode(hash, id, idlen, &job);
        bullc__reply_free(hash); /* the job keeps its own copy */
        assert_true(rc == BULLC_OK || rc == BULLC_EBADJOB);
        if (rc == BULLC_OK) {
            assert_non_null(job);
            assert_string_equal(bullc_job_id(job), id);
            assert_non_null(bullc_job_name(job));
            assert_non_null(bullc_job_data(job));
            assert_non_null(bullc_job_opts(job));
            assert_true(bullc_job_attempts_made(job) >= 0);
            assert_true(bullc_job_attempts_started(job) >= 0);
            (void)bullc_job_timestamp(job);
            (void)bullc_job_data_json(job);
            (void)bullc__job_opts_cjson(job);
            char *p = bullc_json_print(bullc_job_data_json(job));
            bullc_free(p);
            bullc__job_free(job);
        } else {
            assert_null(job);
        }
    }
}

/* ---- producer options ---------------------------------------------------------------------- */

static void newjob_options_random(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "jobId", "delay", "priority", "lifo", "attempts", "backoff", "removeOnComplete",
        "removeOnFail", "keepLogs", "stackTraceLimit", "timestamp", "deduplication", "sizeLimit",
        "debounce", "repeat", "parent", "x"};
    static const char *const values[] = {
        "0", "-1", "1", "2.5", "1e308", "-1e308", "2097152", "9007199254740993", "true", "false",
        "null", "\"\"", "\"0\"", "\"0:x\"", "\"a:b:c\"", "\"a:b\"", "\"12345678901234567890\"",
        "\"abc\"", "{}", "[]", "{\"type\":\"fixed\",\"delay\":10,\"jitter\":0.5}",
        "{\"type\":1}", "{\"age\":1,\"count\":2,\"limit\":3}", "{\"count\":-2}",
        "{\"id\":\"d\",\"ttl\":5,\"extend\":true,\"replace\":false}", "{\"id\":\"\"}",
        "{\"keepLastIfActive\":true}", "\"\\u0000\"", "\"\\ud800\""};
    static const char *const datas[] = {NULL, "{}", "[1,2]", "\"x\"", "{\"a\":", "nul", "1"};
    rng r = {0x13198a2e03707344ULL};
    bullc__buf b;
    bullc__buf_init(&b);
    for (int i = 0; i < 20000; i++) {
        bullc__buf_reset(&b);
        const char *opts = NULL;
        if (below(&r, 10)) {
            bullc__buf_puts(&b, "{");
            size_t n = below(&r, 5);
            for (size_t k = 0; k < n; k++) {
                bullc__buf_printf(&b, "%s\"%s\":%s", k ? "," : "", PICK(&r, keys),
                                  PICK(&r, values));
            }
            bullc__buf_puts(&b, "}");
            if (!below(&r, 8))
                mutate(&r, &b);
            opts = b.data ? b.data : "";
        }
        bullc__newjob job;
        char err[200];
        const char *name = below(&r, 20) ? "n" : NULL;
        int rc = bullc__newjob_prepare(&job, name, PICK(&r, datas), opts, 1700000000000LL + i,
                                       err, sizeof err);
        assert_true(rc == 0 || rc == BULLC_EINVAL || rc == BULLC_EJSON);
        if (rc == 0) {
            assert_non_null(job.job_id);
            assert_true(job.opts.len > 0);
            assert_false(job.opts.oom);
            assert_true(job.timestamp[0] != '\0');
            bullc__newjob_free(&job);
        } else {
            assert_true(err[0] != '\0'); /* every refusal says why */
        }
    }
    bullc__buf_free(&b);
}

/* ---- URLs ---------------------------------------------------------------------------------- */

static void url_random(void **state)
{
    (void)state;
    static const char *const parts[] = {"redis://", "rediss://", "redis-sentinel://", ",", "#",
                                        "#m", "user", ":", "pass", "@", "%",
                                        "%4", "%41", "%zz", "[", "]", "::1", "host", "/", "0",
                                        "6379", "65536", "99999999999999999999", "-1", "a.b",
                                        "", "?x=1", " "};
    rng r = {0xa4093822299f31d0ULL};
    bullc__buf b;
    bullc__buf_init(&b);
    for (int i = 0; i < 20000; i++) {
        bullc__buf_reset(&b);
        if (below(&r, 4))
            bullc__buf_puts(&b, "redis://");
        size_t n = below(&r, 8);
        for (size_t k = 0; k < n; k++)
            bullc__buf_puts(&b, PICK(&r, parts));
        if (!below(&r, 5))
            mutate(&r, &b);
        bullc__url u;
        char err[128] = "";
        int rc = bullc__url_parse(b.data ? b.data : "", &u, err, sizeof err);
        assert_true(rc == 0 || rc == BULLC_EURL);
        if (rc == 0) {
            assert_true(u.nnodes >= 1);
            assert_true(u.sentinel || u.nnodes == 1);
            assert_true(!u.sentinel || (u.master && u.master[0]));
            for (size_t k = 0; k < u.nnodes; k++) {
                assert_true(u.nodes[k].host[0] != '\0');
                assert_true(u.nodes[k].port >= 1 && u.nodes[k].port <= 65535);
            }
            assert_true(u.db >= 0);
        } else {
            assert_true(err[0] != '\0');
            assert_null(u.nodes);
        }
        bullc__url_free(&u);
    }
    bullc__buf_free(&b);
}

/* ---- rate-limit arithmetic ------------------------------------------------------------------ */

static void limit_saturates(void **state)
{
    (void)state;
    bullc__gate g;
    memset(&g, 0, sizeof g);
    /* a huge limit from a reply must mean "limited", not overflow into the past */
    bullc__gate_note_limit(&g, LLONG_MAX);
    assert_true(atomic_load(&g.limit_until) > bullc__mono_ms());
    bullc__gate_note_limit(&g, LLONG_MAX - 1);
    assert_true(atomic_load(&g.limit_until) > bullc__mono_ms());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_random_and_mutated), cmocka_unit_test(json_member_raw_trailing),
        cmocka_unit_test(job_decoder_random),      cmocka_unit_test(newjob_options_random),
        cmocka_unit_test(url_random),              cmocka_unit_test(limit_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
