/* test_cli_fmt.c - unit tests for the bullc tool's pure helpers (examples/bullc_fmt.h): when an
 * event value is printed bare, its JSON-string form otherwise, and integer arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/bullc_fmt.h"

/* What bullc_fmt_value writes for v. */
static char *shown(const char *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    bullc_fmt_value(f, v);
    fclose(f);
    return buf;
}

static void expect(const char *v, const char *want)
{
    char *got = shown(v);
    assert_string_equal(got, want);
    free(got);
}

static void bare_values(void **state)
{
    (void)state;
    expect("waiting", "waiting");
    expect("1796196803983-0", "1796196803983-0");
    expect("{x:1}", "{x:1}");
    expect("caf\xc3\xa9", "caf\xc3\xa9"); /* bytes above 0x7f stay bare */
    expect("a=b", "a=b");
}

static void quoted_values(void **state)
{
    (void)state;
    expect("", "\"\"");
    expect(NULL, "\"\"");
    expect("two words", "\"two words\"");
    expect("a\"b", "\"a\\\"b\"");
    expect("back\\slash", "\"back\\\\slash\"");
    expect("tab\there", "\"tab\\there\"");
    expect("line\nbreak\r", "\"line\\nbreak\\r\"");
    expect("\x01\x7f", "\"\\u0001\\u007f\"");
    expect("\b\f", "\"\\b\\f\"");
}

static void integers(void **state)
{
    (void)state;
    long long v = 0;
    assert_int_equal(bullc_fmt_ll("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(bullc_fmt_ll("-1", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(bullc_fmt_ll("86400000", &v), 0);
    assert_int_equal(v, 86400000);
    assert_int_equal(bullc_fmt_ll("", &v), -1);
    assert_int_equal(bullc_fmt_ll(NULL, &v), -1);
    assert_int_equal(bullc_fmt_ll("12x", &v), -1);
    assert_int_equal(bullc_fmt_ll(" 1", &v), -1);
    assert_int_equal(bullc_fmt_ll("+1", &v), -1);
    assert_int_equal(bullc_fmt_ll("99999999999999999999", &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bare_values),
        cmocka_unit_test(quoted_values),
        cmocka_unit_test(integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
