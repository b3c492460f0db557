/* test_cron.c - unit tests for the cron parser's errors, time zone offsets around DST and a few
 * next times that need no Node to check (the interop test compares hundreds with cron-parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void expect_error(const char *expr, const char *needle)
{
    bullc__cron *c = NULL;
    char err[256] = "";
    int rc = bullc__cron_parse(expr, 0, "seed", &c, err, sizeof err);
    if (rc != BULLC_EINVAL)
        fail_msg("\"%s\" was accepted (rc %d)", expr, rc);
    assert_null(c);
    assert_true(err[0] != '\0');
    if (needle && !strstr(err, needle))
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", expr, err, needle);
}

static void parser_errors(void **state)
{
    (void)state;
    expect_error("* * * * * * *", "too many fields");
    expect_error("60 * * * * *", "expected range 0-59");
    expect_error("0 60 * * * *", "expected range 0-59");
    expect_error("0 0 24 * * *", "expected range 0-23");
    expect_error("0 0 0 * *", "expected range 1-31");
    expect_error("0 0 1 13 *", "expected range 1-12");
    expect_error("0 0 * * 8", "expected range 0-7");
    expect_error("5-1 * * * *", "min(5) > max(1)");
    expect_error("*/0 * * * *", "cannot repeat");
    expect_error("1/2/3 * * * *", "Invalid repeat");
    expect_error(",1 * * * *", "Invalid list value format");
    expect_error("1,1 * * * *", "duplicate");
    expect_error("0 0 * * 0,7", "duplicate");
    expect_error("0 0 * FOO *", "cannot resolve alias");
    expect_error("0 0 * * MONDAY", "cannot resolve alias");
    expect_error("0 0 15W * *", "Invalid characters");
    expect_error("0 0 * * L", "standalone L");
    expect_error("0 0 * * 1#6", "occurrence number");
    expect_error("0 0 * * 1-5#2", "incompatible");
    expect_error("0 0 30 2 *", "explicit day of month");
    expect_error("L * * * *", NULL);
    expect_error("0 0 0 L-2 * *", NULL);
    expect_error("@reboot", NULL);
    expect_error("H(5-1) * * * *", "min > max");
    expect_error("H/0 * * * *", "must be positive");
    /* too long */
    char *big = malloc(1100);
    assert_non_null(big);
    memset(big, '1', 1099);
    big[1099] = '\0';
    expect_error(big, "too long");
    free(big);
    /* strict mode */
    bullc__cron *c = NULL;
    char err[256];
    assert_int_equal(bullc__cron_parse("0 0 * * *", 1, NULL, &c, err, sizeof err), BULLC_EINVAL);
    assert_int_equal(bullc__cron_parse("0 0 0 1 * 1", 1, NULL, &c, err, sizeof err), BULLC_EINVAL);
    assert_int_equal(bullc__cron_parse("0 0 0 1 * *", 1, NULL, &c, err, sizeof err), 0);
    bullc__cron_free(c);
    bullc__cron_free(NULL);
}

static long long next_after(const char *expr, const char *tz, long long from)
{
    bullc__cron *c = NULL;
    bullc__tz *z = NULL;
    bullc__cron_iter *it = NULL;
    char err[256];
    assert_int_equal(bullc__cron_parse(expr, 0, NULL, &c, err, sizeof err), 0);
    assert_int_equal(bullc__tz_load(tz, &z, err, sizeof err), 0);
    assert_int_equal(bullc__cron_iter_new(c, z, from, NULL, NULL, &it), 0);
    long long t = -1;
    assert_int_equal(bullc__cron_iter_next(it, &t, err, sizeof err), 0);
    bullc__cron_iter_free(it);
    bullc__tz_free(z);
    bullc__cron_free(c);
    return t;
}

static void zones_and_next(void **state)
{
    (void)state;
    bullc__tz *z = NULL;
    char err[128];
    assert_int_equal(bullc__tz_load("Mars/Olympus", &z, err, sizeof err), BULLC_EINVAL);
    assert_int_equal(bullc__tz_load("../../etc/passwd", &z, err, sizeof err), BULLC_EINVAL);
    assert_int_equal(bullc__tz_load("America/New_York", &z, err, sizeof err), 0);
    /* 2024-03-10T06:59:59Z is EST, 07:00:00Z EDT; far future dates use the footer rule */
    assert_int_equal(bullc__tz_offset(z, 1710053999000LL), -5 * 3600);
    assert_int_equal(bullc__tz_offset(z, 1710054000000LL), -4 * 3600);
    assert_int_equal(bullc__tz_offset(z, 4102444800000LL + 180LL * 86400000), -4 * 3600); /* 2100-06 */
    bullc__tz_free(z);
    assert_int_equal(bullc__tz_load("Australia/Lord_Howe", &z, err, sizeof err), 0);
    assert_int_equal(bullc__tz_offset(z, 1718000000000LL), 10 * 3600 + 1800); /* June: +10:30 */
    assert_int_equal(bullc__tz_offset(z, 1704067200000LL), 11 * 3600);        /* January: +11 */
    bullc__tz_free(z);
    assert_int_equal(bullc__tz_load("UTC-03:30", &z, err, sizeof err), 0);
    assert_int_equal(bullc__tz_offset(z, 0), -(3 * 3600 + 1800));
    bullc__tz_free(z);
    bullc__tz_free(NULL);

    /* 02:30 does not exist on 2024-03-10 in New York: cron-parser runs it at 03:30 EDT */
    assert_int_equal(next_after("0 30 2 * * *", "America/New_York", 1710043200000LL), 1710055800000LL);
    /* leap day */
    assert_int_equal(next_after("0 0 0 29 2 *", "UTC", 1704067200000LL), 1709164800000LL);
    /* last Friday of February 2024 = the 23rd */
    assert_int_equal(next_after("0 0 0 * 2 5L", "UTC", 1706745600000LL), 1708646400000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parser_errors),
        cmocka_unit_test(zones_and_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
