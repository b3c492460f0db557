/* test_core.c - unit tests for what needs no server: URL parsing, keys, option defaults, job
 * decoding, msgpack encoding, the error table and the JSON view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* ---- URL ------------------------------------------------------------------------------- */

static void url_defaults(void **state)
{
    (void)state;
    bullc__url u;
    assert_int_equal(bullc__url_parse("redis://localhost", &u, NULL, 0), 0);
    assert_string_equal(u.nodes[0].host, "localhost");
    assert_int_equal(u.nodes[0].port, 6379);
    assert_null(u.user);
    assert_null(u.password);
    assert_int_equal(u.db, 0);
    bullc__url_free(&u);
}

static void url_full(void **state)
{
    (void)state;
    bullc__url u;
    assert_int_equal(bullc__url_parse("redis://alice:s%40cret@127.0.0.1:6380/3", &u, NULL, 0), 0);
    assert_string_equal(u.nodes[0].host, "127.0.0.1");
    assert_int_equal(u.nodes[0].port, 6380);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s@cret");
    assert_int_equal(u.db, 3);
    bullc__url_free(&u);

    assert_int_equal(bullc__url_parse("redis://:pw@h:1/", &u, NULL, 0), 0);
    assert_null(u.user);
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.nodes[0].port, 1);
    assert_int_equal(u.db, 0);
    bullc__url_free(&u);

    assert_int_equal(bullc__url_parse("redis://[::1]:7000", &u, NULL, 0), 0);
    assert_string_equal(u.nodes[0].host, "::1");
    assert_int_equal(u.nodes[0].port, 7000);
    bullc__url_free(&u);
}

static void url_tls_and_sentinel(void **state)
{
    (void)state;
    bullc__url u;
    assert_int_equal(bullc__url_parse("rediss://u:p@example.com:6390/2", &u, NULL, 0), 0);
    assert_true(u.tls);
    assert_false(u.sentinel);
    assert_int_equal(u.nnodes, 1);
    assert_string_equal(u.nodes[0].host, "example.com");
    assert_int_equal(u.nodes[0].port, 6390);
    assert_string_equal(u.user, "u");
    assert_int_equal(u.db, 2);
    assert_null(u.master);
    bullc__url_free(&u);

    assert_int_equal(bullc__url_parse("redis-sentinel://:pw@10.0.0.1:5000,s2,[::1]:5002/4#my%20master",
                                      &u, NULL, 0), 0);
    assert_false(u.tls);
    assert_true(u.sentinel);
    assert_int_equal(u.nnodes, 3);
    assert_string_equal(u.nodes[0].host, "10.0.0.1");
    assert_int_equal(u.nodes[0].port, 5000);
    assert_string_equal(u.nodes[1].host, "s2");
    assert_int_equal(u.nodes[1].port, 26379); /* the sentinels' default port */
    assert_string_equal(u.nodes[2].host, "::1");
    assert_int_equal(u.nodes[2].port, 5002);
    assert_string_equal(u.master, "my master");
    assert_null(u.user);
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.db, 4);
    bullc__url_free(&u);

    assert_int_equal(bullc__url_parse("rediss-sentinel://h#m", &u, NULL, 0), 0);
    assert_true(u.tls && u.sentinel);
    bullc__url_free(&u);
}

static void url_errors(void **state)
{
    (void)state;
    bullc__url u;
    char err[128];
    static const char *const bad[] = {
        NULL, "", "http://h", "redis://", "redis://h:0", "redis://h:65536", "redis://h:12x",
        "redis://h:", "redis://h/x", "redis://h/-1", "redis://a:b%2@h", "redis://[::1",
        "redis://:pa%00ss@h", "redis://h#m", "redis://a,b", "redis-sentinel://h",
        "redis-sentinel://h#", "redis-sentinel://h,,k#m", "redis-sentinel://h:0#m",
        "rediss-sentinel://a:1,[::1#m", "sentinel://h#m", "rediss:/h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(bullc__url_parse(bad[i], &u, err, sizeof err), BULLC_EURL);
        assert_true(err[0] != '\0');
        assert_null(u.nodes);
    }
}

/* ---- keys and base64 -------------------------------------------------------------------- */

static void keys_layout(void **state)
{
    (void)state;
    bullc__bmq_keys k;
    assert_int_equal(bullc__bmq_keys_init(&k, "bull", "events"), 0);
    assert_string_equal(k.base, "bull:events:");
    assert_int_equal(k.base_len, 12);
    assert_string_equal(k.k[BULLC__BMQ_Q_WAIT], "bull:events:wait");
    assert_string_equal(k.k[BULLC__BMQ_Q_MARKER], "bull:events:marker");
    assert_string_equal(k.k[BULLC__BMQ_Q_METRICS_FAILED], "bull:events:metrics:failed");
    assert_string_equal(k.k[BULLC__BMQ_Q_STALLED_CHECK], "bull:events:stalled-check");
    for (int i = 0; i < BULLC__BMQ_Q_COUNT; i++)
        assert_non_null(k.k[i]);
    char *jk = bullc__bmq_job_key(&k, "repeat:s1:1700000000000", ":lock");
    assert_string_equal(jk, "bull:events:repeat:s1:1700000000000:lock");
    free(jk);
    bullc__bmq_keys_free(&k);

    assert_int_equal(bullc__bmq_keys_init(&k, "{bull}", "q"), 0);
    assert_string_equal(k.k[BULLC__BMQ_Q_ACTIVE], "{bull}:q:active");
    bullc__bmq_keys_free(&k);
    assert_int_equal(bullc__bmq_keys_init(&k, "bull", "a:b"), BULLC_EINVAL);
    assert_int_equal(bullc__bmq_keys_init(&k, "bull", ""), BULLC_EINVAL);
}

static void base64_names(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", ""}, {"q", "cQ=="}, {"q2", "cTI="}, {"abc", "YWJj"}, {"events", "ZXZlbnRz"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *b = bullc__base64(cases[i][0], strlen(cases[i][0]));
        assert_string_equal(b, cases[i][1]);
        free(b);
    }
}

/* ---- options ---------------------------------------------------------------------------- */

static void opts_defaults(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    memset(&o, 0x5a, sizeof o);
    bullc_worker_opts_init(&o);
    assert_string_equal(o.redis_url, "redis://127.0.0.1:6379");
    assert_string_equal(o.prefix, "bull");
    assert_null(o.queue);
    assert_null(o.name);
    assert_int_equal(o.concurrency, 1);
    assert_int_equal(o.lock_duration_ms, 30000);
    assert_int_equal(o.lock_renew_ms, 0);
    assert_int_equal(o.stalled_interval_ms, 30000);
    assert_int_equal(o.max_stalled_count, 1);
    assert_int_equal(o.drain_delay_ms, 5000);
    assert_int_equal(o.remove_on_complete.count, -1);
    assert_int_equal(o.remove_on_fail.count, -1);
    assert_null(o.log_cb);
    assert_null(o.event_cb);
}

/* The ABI policy (README): a program built against an older header (a smaller struct) or a
 * newer one (a larger struct) works with this library. */
static void abi_older_and_newer_structs(void **state)
{
    (void)state;
    /* an older program's options end before max_started_attempts: init writes only its bytes,
     * and the fields it lacks take their defaults in the worker */
    size_t old_size = offsetof(bullc_worker_opts_t, max_started_attempts);
    unsigned char raw[sizeof(bullc_worker_opts_t) + 64];
    memset(raw, 0x5a, sizeof raw);
    bullc_worker_opts_t *o = (bullc_worker_opts_t *)(void *)raw;
    bullc_worker_opts_init_sized(o, old_size);
    assert_int_equal(o->concurrency, 1);
    for (size_t i = old_size; i < sizeof raw; i++)
        assert_int_equal(raw[i], 0x5a);
    o->queue = "q";
    bullc_worker_t *w = NULL;
    assert_int_equal(bullc_worker_new_sized(&w, o, old_size), 0);
    bullc_worker_free(w);

    /* a newer program's options are larger: zeros past our fields are fine, anything else is a
     * field this library does not know, refused */
    memset(raw, 0, sizeof raw);
    bullc_worker_opts_init_sized(o, sizeof raw);
    o->queue = "q";
    assert_int_equal(bullc_worker_new_sized(&w, o, sizeof raw), 0);
    bullc_worker_free(w);
    raw[sizeof raw - 1] = 1;
    assert_int_equal(bullc_worker_new_sized(&w, o, sizeof raw), BULLC_EINVAL);
    assert_null(w);

    /* output structs: no more than the program has is written, and a larger one is zeroed */
    bullc_job_counts_t c = {1, 2, 3, 4, 5, 6, 7, 8}, out[2];
    memset(out, 0x5a, sizeof out);
    bullc__sized_write(out, offsetof(bullc_job_counts_t, failed), &c, sizeof c);
    assert_true(out[0].waiting == 1 && out[0].completed == 5);
    assert_true(out[0].failed != 6); /* past the older program's size: untouched */
    memset(out, 0x5a, sizeof out);
    bullc__sized_write(out, sizeof out, &c, sizeof c);
    assert_true(out[0].waiting_children == 8 && out[1].waiting == 0 && out[1].failed == 0);
}

static void worker_new_validates(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    bullc_worker_t *w = (bullc_worker_t *)1;
    bullc_worker_opts_init(&o);
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL); /* no queue */
    assert_null(w);
    o.queue = "a:b";
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    o.queue = "q";
    o.concurrency = 0;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    o.concurrency = 2;
    o.redis_url = "tcp://x";
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EURL);
    o.redis_url = "redis://127.0.0.1:1";
    assert_int_equal(bullc_worker_new(&w, &o), 0);
    assert_non_null(w);
    /* stop before run makes run return at once, without connecting */
    bullc_worker_stop(w);
    assert_int_equal(bullc_worker_run(w), 0);
    bullc_worker_free(w);
    bullc_worker_free(NULL);
    bullc_worker_stop(NULL);
}

static void capture_log(bullc_log_level_t level, const char *message, void *ud)
{
    (void)level;
    snprintf((char *)ud, 256, "%s", message);
}

/* A refused option is named in the log, so users know what to fix. */
static void worker_new_names_bad_option(void **state)
{
    (void)state;
    char last[256] = "";
    bullc_worker_opts_t o;
    bullc_worker_t *w = NULL;
    bullc_worker_opts_init(&o);
    assert_int_equal(o.maximum_rate_limit_delay_ms, 30000);
    o.queue = "q";
    o.log_cb = capture_log;
    o.log_user_data = last;
    o.limiter_max = 5; /* without a duration */
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    assert_non_null(strstr(last, "limiter_max and limiter_duration_ms"));
    o.limiter_duration_ms = 1000;
    o.remove_on_fail.age_s = -1;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    assert_non_null(strstr(last, "remove_on_fail"));
    o.remove_on_fail.age_s = 0;
    o.maximum_rate_limit_delay_ms = 0;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    assert_non_null(strstr(last, "maximum_rate_limit_delay_ms"));
    o.maximum_rate_limit_delay_ms = 1000;
    assert_int_equal(bullc_worker_new(&w, &o), 0);
    bullc_worker_free(w);
}

static void worker_run_unreachable(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    bullc_worker_t *w;
    bullc_worker_opts_init(&o);
    o.queue = "q";
    o.redis_url = "redis://127.0.0.1:1";
    o.connect_timeout_ms = 500;
    assert_int_equal(bullc_worker_new(&w, &o), 0);
    assert_int_equal(bullc_worker_run(w), BULLC_ECONNECT);
    assert_non_null(strstr(bullc_worker_errmsg(w), "127.0.0.1:1"));
    bullc_worker_free(w);
}

/* ---- job decoding ----------------------------------------------------------------------- */

/* A flat hash reply, parsed from protocol text as a connection would. */
static bullc__reply *hash_reply(const char *const *kv, size_t n)
{
    bullc__reply *r = unit_array_reply(kv, n);
    assert_non_null(r);
    return r;
}

static void job_decode(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "name", "use_item", "data", "{\"userId\":\"u1\",\"n\":[1,2]}", "opts",
        "{\"attempts\":3}", "timestamp", "1700000000123", "atm", "2", "ats", "3", "extra", "x"};
    bullc__reply *h = hash_reply(kv, sizeof kv / sizeof *kv);
    bullc_job_t *job;
    assert_int_equal(bullc__bmq_job_decode(h, "42", 2, &job), 0);
    bullc__reply_free(h); /* the job keeps its own copy */
    assert_string_equal(bullc_job_id(job), "42");
    assert_string_equal(bullc_job_name(job), "use_item");
    assert_string_equal(bullc_job_data(job), "{\"userId\":\"u1\",\"n\":[1,2]}");
    assert_string_equal(bullc_job_opts(job), "{\"attempts\":3}");
    assert_int_equal(bullc_job_attempts_made(job), 2);
    assert_int_equal(bullc_job_attempts_started(job), 3);
    assert_true(bullc_job_timestamp(job) == 1700000000123LL);
    assert_string_equal(bullc_job_field(job, "extra"), "x");
    assert_null(bullc_job_field(job, "missing"));

    const bullc_json_t *d = bullc_job_data_json(job);
    assert_int_equal(bullc_json_type(d), BULLC_JSON_OBJECT);
    assert_string_equal(bullc_json_string(bullc_json_get(d, "userId")), "u1");
    const bullc_json_t *arr = bullc_json_get(d, "n");
    assert_int_equal(bullc_json_size(arr), 2);
    long long v;
    assert_int_equal(bullc_json_int(bullc_json_at(arr, 1), &v), 0);
    assert_int_equal(v, 2);
    assert_null(bullc_json_at(arr, 2));
    assert_int_equal(bullc_json_type(bullc_json_get(d, "nope")), BULLC_JSON_NONE);
    char *p = bullc_json_print(arr);
    assert_string_equal(p, "[1,2]");
    bullc_free(p);

    assert_int_equal(bullc_job_set_result(job, "{bad"), BULLC_EJSON);
    assert_int_equal(bullc_job_set_result(job, "{\"ok\":true}"), 0);
    assert_int_equal(bullc_job_fail(job, "boom"), BULLC_EJOBFAILED);
    assert_int_equal(bullc_job_fail_unrecoverable(job, "bad input"), BULLC_EUNRECOVERABLE);
    bullc__job_free(job);
    bullc__job_free(NULL);
}

static void job_decode_legacy_and_missing(void **state)
{
    (void)state;
    static const char *const kv[] = {"attemptsMade", "4", "data", "not json"};
    bullc__reply *h = hash_reply(kv, 4);
    bullc_job_t *job;
    assert_int_equal(bullc__bmq_job_decode(h, "7", 1, &job), 0);
    bullc__reply_free(h);
    assert_string_equal(bullc_job_name(job), "");
    assert_string_equal(bullc_job_opts(job), "{}");
    assert_int_equal(bullc_job_attempts_made(job), 4);
    assert_null(bullc_job_data_json(job)); /* invalid JSON: NULL, not a crash */
    bullc__job_free(job);

    h = hash_reply(NULL, 0);
    assert_int_equal(bullc__bmq_job_decode(h, "8", 1, &job), 0);
    assert_string_equal(bullc_job_data(job), "{}");
    bullc__job_free(job);
    bullc__reply_free(h);
}

static void job_decode_rejects(void **state)
{
    (void)state;
    static const char *const odd[] = {"name", "x", "data"};
    bullc__reply *h = hash_reply(odd, 3);
    bullc_job_t *job = (bullc_job_t *)1;
    assert_int_equal(bullc__bmq_job_decode(h, "1", 1, &job), BULLC_EBADJOB);
    assert_null(job);
    bullc__reply_free(h);

    static const char *const kv[] = {"name", NULL}; /* NULL: an integer element */
    h = hash_reply(kv, 2);
    assert_int_equal(bullc__bmq_job_decode(h, "1", 1, &job), BULLC_EBADJOB);
    assert_int_equal(bullc__bmq_job_decode(h, "", 0, &job), BULLC_EBADJOB);
    bullc__reply_free(h);
    assert_int_equal(bullc__bmq_job_decode(NULL, "1", 1, &job), BULLC_EBADJOB);
}

/* ---- msgpack ---------------------------------------------------------------------------- */

static void assert_bytes(const bullc__buf *b, const char *hex)
{
    char got[512] = "";
    for (size_t i = 0; i < b->len && i * 2 + 2 < sizeof got; i++)
        sprintf(got + i * 2, "%02x", (unsigned char)b->data[i]);
    assert_string_equal(got, hex);
}

static void msgpack_scalars(void **state)
{
    (void)state;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__mp_int(&b, 0);
    bullc__mp_int(&b, 127);
    bullc__mp_int(&b, 128);
    bullc__mp_int(&b, 30000);
    bullc__mp_int(&b, 70000);
    bullc__mp_int(&b, -1);
    bullc__mp_int(&b, -33);
    assert_bytes(&b, "007fcc80cd7530ce00011170ffd0df");
    bullc__buf_reset(&b);
    bullc__mp_int(&b, 1700000000123LL);
    bullc__mp_int(&b, -40000);
    assert_bytes(&b, "cf0000018bcfe5687bd2ffff63c0");
    bullc__buf_reset(&b);
    bullc__mp_nil(&b);
    bullc__mp_bool(&b, 1);
    bullc__mp_bool(&b, 0);
    bullc__mp_double(&b, 1.5);
    assert_bytes(&b, "c0c3c2cb3ff8000000000000");
    bullc__buf_free(&b);
}

static void msgpack_containers(void **state)
{
    (void)state;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__mp_map(&b, 2);
    bullc__mp_cstr(&b, "token");
    bullc__mp_cstr(&b, "t:1");
    bullc__mp_cstr(&b, "n");
    bullc__mp_array(&b, 0);
    assert_bytes(&b, "82a5746f6b656ea3743a31a16e90");
    bullc__buf_reset(&b);
    bullc__mp_array(&b, 16);
    bullc__mp_map(&b, 70000);
    assert_bytes(&b, "dc0010df00011170");
    bullc__buf_reset(&b);
    char s[40];
    memset(s, 'a', sizeof s);
    bullc__mp_str(&b, s, 40);
    assert_int_equal(b.len, 42);
    assert_int_equal((unsigned char)b.data[0], 0xd9);
    assert_int_equal((unsigned char)b.data[1], 40);
    bullc__buf_reset(&b);
    char *big = malloc(300);
    memset(big, 'b', 300);
    bullc__mp_str(&b, big, 300);
    free(big);
    assert_int_equal(b.len, 303);
    assert_int_equal((unsigned char)b.data[0], 0xda);
    assert_false(b.oom);
    bullc__buf_free(&b);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void error_table(void **state)
{
    (void)state;
    assert_string_equal(bullc_strerror(0), "success");
    assert_string_equal(bullc_errname(0), "BULLC_OK");
    assert_string_equal(bullc_strerror(BULLC_ENOMEM), "out of memory");
    assert_string_equal(bullc_errname(BULLC_ENOMEM), "BULLC_ENOMEM");
    assert_string_equal(bullc_errname(BULLC_EUNRECOVERABLE), "BULLC_EUNRECOVERABLE");
    assert_string_equal(bullc_strerror(12345), "unknown error");
    assert_string_equal(bullc_errname(-9999), "BULLC_EUNKNOWN");
    /* every code has distinct text and a name */
#define XX(name, code, text)                                         \
    assert_true((code) < 0);                                         \
    assert_string_equal(bullc_strerror(code), text);                 \
    assert_string_equal(bullc_errname(code), "BULLC_E" #name);
    BULLC_ERRNO_MAP(XX)
#undef XX
    assert_string_equal(bullc_version(), BULLC_VERSION_STRING);
}

/* ---- buffer and JSON helpers ------------------------------------------------------------- */

static void buf_and_json(void **state)
{
    (void)state;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s-%d", "x", 42);
    bullc__buf_puts(&b, "!");
    char *s = bullc__buf_take(&b);
    assert_string_equal(s, "x-42!");
    free(s);
    assert_true(bullc__json_valid("null"));
    assert_true(bullc__json_valid(" {\"a\":[1,2,{}]} "));
    assert_true(bullc__json_valid("\"str\""));
    assert_false(bullc__json_valid("{\"a\":1} trailing"));
    assert_false(bullc__json_valid("undefined"));
    assert_false(bullc__json_valid(""));
    assert_false(bullc__json_valid(NULL));
    long long v;
    assert_int_equal(bullc__parse_ll("123", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(bullc__parse_ll("12a", 3, &v), -1);
    assert_int_equal(bullc__parse_ll("", 0, &v), -1);
}

static void json_scanner(void **state)
{
    (void)state;
    /* JSON.parse accepts lone surrogate escapes; so must result validation */
    assert_true(bullc__json_valid("\"lone \\ud800 high\""));
    assert_true(bullc__json_valid("[1e-7, -0.5, 0, 12345678901234567000, true, false, null, {}]"));
    assert_false(bullc__json_valid("[01]"));
    assert_false(bullc__json_valid("[1.]"));
    assert_false(bullc__json_valid("\"tab\there\""));
    assert_false(bullc__json_valid("\"bad \\x escape\""));
    assert_false(bullc__json_valid("{\"a\" 1}"));
    assert_false(bullc__json_valid("[1,]"));
    char deep[2100];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    assert_false(bullc__json_valid(deep)); /* nesting is bounded, never a stack overflow */

    const char *doc = "{ \"a\": 1, \"result\" : 1e-7 , \"s\":\"x\\\"y\", \"result\": [0.30000000000000004, {}] }";
    const char *v;
    size_t n;
    assert_int_equal(bullc_json_member_raw(doc, "result", &v, &n), 0);
    assert_int_equal(n, strlen("[0.30000000000000004, {}]")); /* last duplicate wins */
    assert_memory_equal(v, "[0.30000000000000004, {}]", n);
    assert_int_equal(bullc_json_member_raw(doc, "s", &v, &n), 0);
    assert_memory_equal(v, "\"x\\\"y\"", n);
    assert_int_equal(bullc_json_member_raw(doc, "zzz", &v, &n), BULLC_EINVAL);
    assert_int_equal(bullc_json_member_raw("[1]", "a", &v, &n), BULLC_EINVAL);
    assert_int_equal(bullc_json_member_raw("{\"a\":}", "a", &v, &n), BULLC_EJSON);

    char *f = bullc__json_fix_surrogates("[\"\\ud800x\", \"\\udc00\", \"\\ud83d\\ude00\", \"\\\\ud800\"]");
    assert_string_equal(f, "[\"\\ufffdx\", \"\\ufffd\", \"\\ud83d\\ude00\", \"\\\\ud800\"]");
    free(f);
}

static void backoff_bounds(void **state)
{
    (void)state;
    unsigned seed = 1;
    for (int f = 1; f < 20; f++) {
        int ms = bullc__backoff_ms(f, &seed);
        assert_true(ms >= 75 && ms <= 6250);
    }
    assert_true(bullc__backoff_ms(30, &seed) >= 3750);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_defaults),
        cmocka_unit_test(url_full),
        cmocka_unit_test(url_errors),
        cmocka_unit_test(url_tls_and_sentinel),
        cmocka_unit_test(keys_layout),
        cmocka_unit_test(base64_names),
        cmocka_unit_test(opts_defaults),
        cmocka_unit_test(abi_older_and_newer_structs),
        cmocka_unit_test(worker_new_validates),
        cmocka_unit_test(worker_new_names_bad_option),
        cmocka_unit_test(worker_run_unreachable),
        cmocka_unit_test(job_decode),
        cmocka_unit_test(job_decode_legacy_and_missing),
        cmocka_unit_test(job_decode_rejects),
        cmocka_unit_test(msgpack_scalars),
        cmocka_unit_test(msgpack_containers),
        cmocka_unit_test(error_table),
        cmocka_unit_test(buf_and_json),
        cmocka_unit_test(json_scanner),
        cmocka_unit_test(backoff_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
