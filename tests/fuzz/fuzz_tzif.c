/* fuzz_tzif - bullc__tz_from_tzif on raw bytes: 0 or BULLC_EINVAL (BULLC_ENOMEM under memory
 * pressure), never a crash; a zone it accepts answers bullc__tz_offset at instants across
 * JavaScript's Date range (the range the cron iterator works in) with offsets within +-26 hours,
 * the most a real zone has ever had being about +-15 hours (RFC 8536 bounds UT offsets to
 * [-89999, 93599] seconds). */
#include "fuzz.h"

#define JS_DATE_MAX 8640000000000000LL
#define MAX_OFFSET (26L * 3600)

static void check_at(const bullc__tz *z, long long ms)
{
    long off = bullc__tz_offset(z, ms);
    if (off < -MAX_OFFSET || off > MAX_OFFSET) {
        fprintf(stderr, "fuzz_tzif: offset %ld s at %lld ms\n", off, ms);
        FUZZ_CHECK(off >= -MAX_OFFSET && off <= MAX_OFFSET);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bullc__tz *z = NULL;
    int rc = bullc__tz_from_tzif(data, size, &z);
    FUZZ_CHECK(rc == 0 || rc == BULLC_EINVAL || rc == BULLC_ENOMEM);
    if (rc != 0) {
        FUZZ_CHECK(z == NULL);
        return 0;
    }
    FUZZ_CHECK(z != NULL);
    /* the ends of the Date range and the epoch */
    static const long long fixed[] = {-JS_DATE_MAX, -JS_DATE_MAX + 1, -1, 0, 1, JS_DATE_MAX - 1,
                                      JS_DATE_MAX, -2208988800000LL /* 1900 */,
                                      2147483647000LL /* 2038 */, 4102444800000LL /* 2100 */};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_at(z, fixed[i]);
    /* every 45 days or so from 1890 to 2110: the transition tables and the footer rule */
    for (long long ms = -2524521600000LL; ms < 4417977600000LL; ms += 3888000000LL)
        check_at(z, ms);
    /* 64 points across the whole Date range */
    for (int i = 0; i <= 64; i++)
        check_at(z, -JS_DATE_MAX + (JS_DATE_MAX / 32) * i);
    /* instants named by the input's last 8 bytes (a transition time, when the fuzzer finds one) */
    if (size >= 8) {
        uint64_t v = 0;
        for (size_t i = size - 8; i < size; i++)
            v = v << 8 | data[i];
        const long long max_s = JS_DATE_MAX / 1000;
        long long s = (long long)(v % (2 * (uint64_t)max_s + 1)) - max_s;
        check_at(z, s * 1000 - 1);
        check_at(z, s * 1000);
    }
    bullc__tz_free(z);
    return 0;
}
