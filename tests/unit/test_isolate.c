/* test_isolate.c - isolated handlers without Redis: the frames a worker and its handler
 * processes exchange (engine/isolate.h), the options checked, and a child_init that refuses
 * making bullc_worker_run fail with its reason and no process left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "engine/isolate.h"

static void frames_round_trip(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__iso_begin(&b, BULLC__ISO_CALL);
    bullc__iso_put_i64(&b, -42);
    bullc__iso_put_str(&b, "héllo");
    bullc__iso_put_str(&b, NULL);
    bullc__iso_put_str(&b, "");
    assert_int_equal(bullc__iso_send(sv[0], &b), 0);
    bullc__frame f;
    assert_int_equal(bullc__iso_recv(sv[1], &f, 1000), 0);
    assert_int_equal(f.type, BULLC__ISO_CALL);
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, &f);
    assert_int_equal(bullc__iso_get_i64(&rd), -42);
    assert_string_equal(bullc__iso_get_str(&rd), "héllo");
    assert_null(bullc__iso_get_str(&rd));
    assert_string_equal(bullc__iso_get_str(&rd), "");
    assert_int_equal(rd.bad, 0);
    /* reading past the end marks the reader bad */
    assert_int_equal(bullc__iso_get_i64(&rd), 0);
    assert_int_equal(rd.bad, 1);
    bullc__iso_frame_free(&f);
    /* nothing sent: a timeout; the peer gone: BULLC_EIO */
    assert_int_equal(bullc__iso_recv(sv[1], &f, 10), 1);
    close(sv[0]);
    assert_int_equal(bullc__iso_recv(sv[1], &f, 1000), BULLC_EIO);
    close(sv[1]);
    bullc__buf_free(&b);
}

static void malformed_frames(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* a length beyond the limit is refused before anything is allocated */
    unsigned char huge[5] = {0xff, 0xff, 0xff, 0x7f, BULLC__ISO_DONE};
    assert_int_equal(write(sv[0], huge, sizeof huge), 5);
    bullc__frame f;
    assert_int_equal(bullc__iso_recv(sv[1], &f, 1000), BULLC_EIO);
    close(sv[0]);
    close(sv[1]);
    /* a string whose length runs past the payload */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__iso_begin(&b, BULLC__ISO_ANSWER);
    uint32_t n = 100;
    bullc__buf_append(&b, &n, sizeof n);
    bullc__buf_append(&b, "abc", 4);
    assert_int_equal(bullc__iso_send(sv[0], &b), 0);
    assert_int_equal(bullc__iso_recv(sv[1], &f, 1000), 0);
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, &f);
    assert_null(bullc__iso_get_str(&rd));
    assert_int_equal(rd.bad, 1);
    bullc__iso_frame_free(&f);
    bullc__buf_free(&b);
    close(sv[0]);
    close(sv[1]);
}

static void negative_options_refused(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    bullc_worker_opts_init(&o);
    o.queue = "q";
    o.isolate = 1;
    o.isolate_timeout_ms = -1;
    bullc_worker_t *w = NULL;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    o.isolate_timeout_ms = 0;
    o.isolate_memory_mb = -5;
    assert_int_equal(bullc_worker_new(&w, &o), BULLC_EINVAL);
    assert_null(w);
}

static int refuse(int slot, void *ud)
{
    (void)ud;
    return slot == 1 ? 7 : 0;
}

static int never(bullc_job_t *job, void *ud)
{
    (void)job;
    (void)ud;
    return 0;
}

static void refused_init_fails_run(void **state)
{
    (void)state;
    bullc_worker_opts_t o;
    bullc_worker_opts_init(&o);
    o.queue = "q";
    o.redis_url = "redis://127.0.0.1:1"; /* never reached: the handler processes come first */
    o.isolate = 1;
    o.concurrency = 3;
    o.child_init = refuse;
    bullc_worker_t *w = NULL;
    assert_int_equal(bullc_worker_new(&w, &o), 0);
    assert_int_equal(bullc_worker_on(w, NULL, never, NULL), 0);
    assert_int_equal(bullc_worker_run(w), BULLC_ETHREAD);
    assert_non_null(strstr(bullc_worker_errmsg(w), "slot 1: handler process could not be "
                                                   "started: child_init returned 7"));
    /* the fork server and every handler process were reaped */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    bullc_worker_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frames_round_trip),
        cmocka_unit_test(malformed_frames),
        cmocka_unit_test(negative_options_refused),
        cmocka_unit_test(refused_init_fails_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
