/* fuzz_cron - cron expressions: bullc__cron_parse, then a few bullc__cron_iter_next steps in UTC,
 * Europe/Berlin and America/Santiago (zones from /usr/share/zoneinfo).
 *
 * Input: the expression, then optionally a NUL byte, the hash seed ('H' fields), another NUL
 * byte and binary parameters (missing bytes read as 0):
 *   flags (1 byte)  bit 0 strict; bit 1 a start bound; bit 2 an end bound; bits 3-4 how the
 *                   timestamp is read: 0 seconds around 2020-01-01, 1 milliseconds around it,
 *                   2 anywhere in JavaScript's Date range, 3 the raw value (may be out of range)
 *   timestamp (8 bytes, little-endian)
 *   start delta, end delta (4 bytes each, little-endian, seconds before / after the timestamp)
 *
 * Checks: parse returns 0 or BULLC_EINVAL with a reason; iterators start for every in-range
 * date; each time returned is strictly later than the one before (and than the start date),
 * within the Date range and within [start, end]; a refused step sets a reason. */
#include "fuzz.h"

#define JS_DATE_MAX 8640000000000000LL
#define ITERATIONS 5

static bullc__tz *zones[3];

static bullc__tz *load_zone(const char *name)
{
    bullc__tz *z = NULL;
    char err[256];
    if (bullc__tz_load(name, &z, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_cron: cannot load zone %s: %s (is tzdata installed?)\n", name, err);
        abort();
    }
    return z;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    zones[0] = load_zone("utc");
    zones[1] = load_zone("Europe/Berlin");
    zones[2] = load_zone("America/Santiago");
    return 0;
}

static uint64_t le(const uint8_t *p, size_t k)
{
    uint64_t v = 0;
    for (size_t i = k; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void iterate(const bullc__cron *c, const bullc__tz *z, long long ts, const long long *start,
                    const long long *end)
{
    bullc__cron_iter *it = NULL;
    int rc = bullc__cron_iter_new(c, z, ts, start, end, &it);
    int in_range = ts >= -JS_DATE_MAX && ts <= JS_DATE_MAX &&
                   (!start || (*start >= -JS_DATE_MAX && *start <= JS_DATE_MAX)) &&
                   (!end || (*end >= -JS_DATE_MAX && *end <= JS_DATE_MAX));
    if (!in_range) {
        FUZZ_CHECK(rc == BULLC_EINVAL && it == NULL);
        return;
    }
    FUZZ_CHECK(rc == 0 && it != NULL);
    /* the iterator's date: the timestamp moved into [start, end] */
    long long prev = ts;
    if (start && prev < *start)
        prev = *start;
    else if (end && prev > *end)
        prev = *end;
    for (int i = 0; i < ITERATIONS; i++) {
        long long t = 0;
        char err[128];
        err[0] = '\0';
        if (bullc__cron_iter_next(it, &t, err, sizeof err) != 0) {
            FUZZ_CHECK(err[0] != '\0');
            break;
        }
        FUZZ_CHECK(t > prev);
        FUZZ_CHECK(t >= -JS_DATE_MAX && t <= JS_DATE_MAX);
        FUZZ_CHECK(!start || t >= *start);
        FUZZ_CHECK(!end || t <= *end);
        prev = t;
    }
    bullc__cron_iter_free(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *expr = fuzz_cstr(data, size);
    size_t elen = strlen(expr);
    const char *seed = "fuzz"; /* a fixed default keeps runs repeatable ('H' is random without) */
    uint8_t params[17] = {0};
    if (elen < size) {
        const char *sd = expr + elen + 1; /* fuzz_cstr copied the whole input */
        size_t slen = strnlen(sd, size - elen - 1);
        if (slen)
            seed = sd;
        size_t at = elen + 1 + slen + 1;
        if (at < size)
            memcpy(params, data + at, size - at < sizeof params ? size - at : sizeof params);
    }
    /* fuzz_cstr's copy ends with a NUL, so the seed above is terminated */
    unsigned flags = params[0];
    uint64_t raw = le(params + 1, 8);
    long long ts;
    switch ((flags >> 3) & 3) {
    case 0: ts = 1577836800000LL + (long long)(int32_t)(uint32_t)raw * 1000; break;
    case 1: ts = 1577836800000LL + (long long)(int32_t)(uint32_t)raw; break;
    case 2: ts = (long long)(raw % (2 * (uint64_t)JS_DATE_MAX + 1)) - JS_DATE_MAX; break;
    default: ts = (long long)raw; break;
    }
    long long start = ts, end = ts;
    if (ts > INT64_MIN / 2 && ts < INT64_MAX / 2) { /* a raw timestamp may be anything */
        start = ts - (long long)le(params + 9, 4) * 1000;
        end = ts + (long long)le(params + 13, 4) * 1000;
    }

    bullc__cron *c = NULL;
    char err[256];
    memset(err, 0x55, sizeof err);
    int rc = bullc__cron_parse(expr, flags & 1, seed, &c, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == BULLC_EINVAL || rc == BULLC_ENOMEM);
    if (rc != 0) {
        FUZZ_CHECK(c == NULL);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        FUZZ_CHECK(rc == BULLC_ENOMEM || err[0] != '\0');
    } else {
        FUZZ_CHECK(c != NULL);
        for (size_t z = 0; z < sizeof zones / sizeof *zones; z++)
            iterate(c, zones[z], ts, flags & 2 ? &start : NULL, flags & 4 ? &end : NULL);
        bullc__cron_free(c);
    }
    free(expr);
    return 0;
}
