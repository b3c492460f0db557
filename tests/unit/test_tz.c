/* test_tz.c - the TZif reader on files built here: offsets outside what a zone can have are
 * refused (RFC 8536's range in the tables, POSIX's 24:59:59 in the footer rule), and offsets are
 * answered for any instant, however far. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

/* ---- building TZif files ------------------------------------------------------------------- */

/* One zone's contents: its local time types and the transitions between them. */
typedef struct zone_spec {
    int version;              /* 1, or 2 for a file with 64-bit data and a footer */
    const long *offsets;      /* utoff of each type, seconds east of UTC */
    size_t type_count;
    const long long *times;   /* transition times, seconds since the epoch */
    const unsigned char *types; /* the type each transition switches to */
    size_t transition_count;
    const char *footer;       /* the POSIX rule between the footer's newlines (version 2) */
} zone_spec;

static void put_be(bullc__buf *out, unsigned long long value, int bytes)
{
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
        unsigned char byte = (unsigned char)(value >> shift);
        bullc__buf_append(out, &byte, 1);
    }
}

/* A header and data block; time_bytes 4 (version 1 data) or 8. */
static void put_block(bullc__buf *out, const zone_spec *zone, int time_bytes)
{
    bullc__buf_append(out, "TZif", 4);
    bullc__buf_append(out, zone->version >= 2 ? "2" : "\0", 1);
    bullc__buf_append(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
    const unsigned long counts[6] = {0, 0, 0, zone->transition_count, zone->type_count, 4};
    for (int index = 0; index < 6; index++)
        put_be(out, counts[index], 4);
    for (size_t index = 0; index < zone->transition_count; index++)
        put_be(out, (unsigned long long)zone->times[index], time_bytes);
    bullc__buf_append(out, zone->types, zone->transition_count);
    for (size_t index = 0; index < zone->type_count; index++) {
        put_be(out, (unsigned long long)zone->offsets[index], 4);
        bullc__buf_append(out, "\0\0", 2); /* isdst, abbreviation index */
    }
    bullc__buf_append(out, "ZZZ", 4); /* the abbreviation, with its NUL */
}

static bullc__buf tzif_bytes(const zone_spec *zone)
{
    bullc__buf out;
    bullc__buf_init(&out);
    put_block(&out, zone, 4);
    if (zone->version >= 2) {
        put_block(&out, zone, 8);
        bullc__buf_printf(&out, "\n%s\n", zone->footer ? zone->footer : "");
    }
    assert_false(out.oom);
    return out;
}

/* bullc__tz_from_tzif's code for the file `zone` describes (the zone is freed). */
static int read_zone(const zone_spec *zone)
{
    bullc__buf bytes = tzif_bytes(zone);
    bullc__tz *tz = (bullc__tz *)&bytes; /* must be overwritten */
    int rc = bullc__tz_from_tzif((const unsigned char *)bytes.data, bytes.len, &tz);
    if (rc == BULLC_OK)
        assert_non_null(tz);
    else
        assert_null(tz);
    bullc__tz_free(tz);
    bullc__buf_free(&bytes);
    return rc;
}

/* A version 1 zone with one type of the given offset. */
static int read_fixed_zone(long offset)
{
    const zone_spec zone = {.version = 1, .offsets = &offset, .type_count = 1};
    return read_zone(&zone);
}

/* A version 2 zone with one type (UTC) and the given footer. */
static int read_footer(const char *footer)
{
    static const long utc = 0;
    const zone_spec zone = {.version = 2, .offsets = &utc, .type_count = 1, .footer = footer};
    return read_zone(&zone);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* RFC 8536 bounds a type's UT offset to [-89999, 93599] seconds; a fuzzer fed 0x7fffffff. */
static void table_offsets_within_rfc_8536(void **state)
{
    (void)state;
    assert_int_equal(read_fixed_zone(0), BULLC_OK);
    assert_int_equal(read_fixed_zone(-89999), BULLC_OK);
    assert_int_equal(read_fixed_zone(93599), BULLC_OK);
    assert_int_equal(read_fixed_zone(-90000), BULLC_EINVAL);
    assert_int_equal(read_fixed_zone(93600), BULLC_EINVAL);
    assert_int_equal(read_fixed_zone(0x7fffffffL), BULLC_EINVAL);
    assert_int_equal(read_fixed_zone(-0x7fffffffL - 1), BULLC_EINVAL);
    /* a type no transition uses is checked too */
    const long offsets[] = {3600, 0x7fffffffL};
    const long long times[] = {0};
    const unsigned char types[] = {0};
    const zone_spec unused_type = {.version = 1, .offsets = offsets, .type_count = 2,
                                   .times = times, .types = types, .transition_count = 1};
    assert_int_equal(read_zone(&unused_type), BULLC_EINVAL);
}

/* POSIX offsets in the footer go up to 24:59:59; a fuzzer wrote XXX-9999 (9999 hours). */
static void footer_offsets_within_posix(void **state)
{
    (void)state;
    assert_int_equal(read_footer("UTC0"), BULLC_OK);
    assert_int_equal(read_footer(""), BULLC_OK); /* no rule: the table goes on */
    assert_int_equal(read_footer("XXX-24:59:59"), BULLC_OK);
    assert_int_equal(read_footer("XXX+24:59:59YYY,M3.5.0,M10.5.0/3"), BULLC_OK);
    assert_int_equal(read_footer("<+1345>-13:45<+1445>,M9.5.0/2:45,M4.1.0/3:45"), BULLC_OK);
    /* rule times may reach 167 hours either way (RFC 8536 extends POSIX there) */
    assert_int_equal(read_footer("IST-2IDT,M3.4.4/26,M10.5.0"), BULLC_OK);
    assert_int_equal(read_footer("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1"), BULLC_OK);
    assert_int_equal(read_footer("XXX3YYY,M3.5.0/167,M10.5.0/-167"), BULLC_OK);

    assert_int_equal(read_footer("XXX-9999"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX-25"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX25"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX-24:60"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX-1:00:60"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX0YYY-25"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX0YYY,M3.5.0/168,M10.5.0"), BULLC_EINVAL);
    assert_int_equal(read_footer("XXX0YYY,M3.5.0,M10.5.0/-168"), BULLC_EINVAL);
    /* a footer that is there must be a rule */
    assert_int_equal(read_footer("not a rule"), BULLC_EINVAL);
}

/* Loading such a file by name fails like any malformed file: $TZ names it for the process's
 * zone, which then falls back to /etc/localtime or UTC as for a file that does not exist. */
static void load_falls_back_from_refused_file(void **state)
{
    (void)state;
    const long long instants[] = {-2208988800000LL, 0, 1700000000000LL, 4102444800000LL};
    char path[] = "/tmp/bullc-test-tz-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const long huge = 0x7fffffffL;
    const zone_spec zone = {.version = 2, .offsets = &huge, .type_count = 1, .footer = "XXX-9999"};
    bullc__buf bytes = tzif_bytes(&zone);
    assert_int_equal(write(fd, bytes.data, bytes.len), (ssize_t)bytes.len);
    close(fd);
    bullc__buf_free(&bytes);

    const char *saved = getenv("TZ");
    char *saved_copy = saved ? strdup(saved) : NULL;
    setenv("TZ", "/tmp/bullc-test-tz-does-not-exist", 1);
    bullc__tz *missing = NULL;
    char err[128] = "";
    assert_int_equal(bullc__tz_load("local", &missing, err, sizeof err), 0);
    setenv("TZ", path, 1);
    bullc__tz *refused = NULL;
    assert_int_equal(bullc__tz_load("local", &refused, err, sizeof err), 0);
    for (size_t index = 0; index < sizeof instants / sizeof *instants; index++)
        assert_int_equal(bullc__tz_offset(refused, instants[index]),
                         bullc__tz_offset(missing, instants[index]));
    bullc__tz_free(missing);
    bullc__tz_free(refused);
    if (saved_copy)
        setenv("TZ", saved_copy, 1);
    else
        unsetenv("TZ");
    free(saved_copy);
    unlink(path);
}

/* bullc__tz_offset takes any instant: before the first transition the first type holds (here
 * +1h; the second, +2h, from the epoch on). */
static void offset_at_any_instant(void **state)
{
    (void)state;
    const long offsets[] = {3600, 7200};
    const long long times[] = {0};
    const unsigned char types[] = {1};
    const zone_spec zone = {.version = 1, .offsets = offsets, .type_count = 2, .times = times,
                            .types = types, .transition_count = 1};
    bullc__buf bytes = tzif_bytes(&zone);
    bullc__tz *tz = NULL;
    assert_int_equal(bullc__tz_from_tzif((const unsigned char *)bytes.data, bytes.len, &tz), 0);
    bullc__buf_free(&bytes);
    assert_int_equal(bullc__tz_offset(tz, LLONG_MIN), 3600);
    assert_int_equal(bullc__tz_offset(tz, LLONG_MIN + 1), 3600);
    assert_int_equal(bullc__tz_offset(tz, LLONG_MIN + 999), 3600);
    assert_int_equal(bullc__tz_offset(tz, -1), 3600);
    assert_int_equal(bullc__tz_offset(tz, 0), 7200);
    assert_int_equal(bullc__tz_offset(tz, LLONG_MAX), 7200);
    bullc__tz_free(tz);

    /* and a rule: the footer's offsets at both ends */
    bullc__tz *rule = NULL;
    char err[128] = "";
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    assert_int_equal(bullc__tz_load("local", &rule, err, sizeof err), 0);
    unsetenv("TZ");
    long at_min = bullc__tz_offset(rule, LLONG_MIN), at_max = bullc__tz_offset(rule, LLONG_MAX);
    assert_true(at_min == 3600 || at_min == 7200);
    assert_true(at_max == 3600 || at_max == 7200);
    bullc__tz_free(rule);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_offsets_within_rfc_8536),
        cmocka_unit_test(footer_offsets_within_posix),
        cmocka_unit_test(load_falls_back_from_refused_file),
        cmocka_unit_test(offset_at_any_instant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
