/* fuzz_msgpack - the msgpack encoder (bullc__mp_cjson) on JSON parsed from the input, checked by
 * a small strict decoder written here: decoding the packed bytes must give back the same value
 * (types, member order, strings byte for byte, numbers by msgpackr's rule: integral values in
 * [-2^31, 2^32-1] as the smallest integer format, everything else as float64 with the same
 * bits), every format must be the shortest one, and every byte must be consumed. */
#include "fuzz.h"

#include <cjson/cJSON.h>
#include <math.h>

typedef struct reader {
    const unsigned char *p;
    size_t n, at;
} reader;

static int take(reader *r, size_t k, const unsigned char **out)
{
    if (r->n - r->at < k)
        return -1;
    *out = r->p + r->at;
    r->at += k;
    return 0;
}

/* Big-endian unsigned integer of k bytes. */
static int be(reader *r, size_t k, uint64_t *out)
{
    const unsigned char *b;
    if (take(r, k, &b))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = v << 8 | b[i];
    *out = v;
    return 0;
}

/* One decoded header. */
typedef enum mtype { M_NIL, M_FALSE, M_TRUE, M_UINT, M_INT, M_F64, M_STR, M_ARRAY, M_MAP } mtype;

typedef struct mval {
    mtype t;
    uint64_t u;      /* M_UINT */
    int64_t i;       /* M_INT (negative) */
    double d;        /* M_F64 */
    uint64_t n;      /* length of M_STR, count of M_ARRAY / M_MAP */
    const unsigned char *s; /* M_STR bytes */
} mval;

/* Reads one header (and a string's bytes), refusing formats the encoder never writes and any
 * that is not the shortest for its value. */
static int read_header(reader *r, mval *v)
{
    const unsigned char *b;
    uint64_t x;
    if (take(r, 1, &b))
        return -1;
    unsigned c = b[0];
    memset(v, 0, sizeof *v);
    if (c <= 0x7f) {
        v->t = M_UINT;
        v->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        v->t = M_INT;
        v->i = (int8_t)c;
        return 0;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        v->t = M_STR;
        v->n = c & 0x1f;
        return take(r, (size_t)v->n, &v->s);
    }
    if (c >= 0x90 && c <= 0x9f) {
        v->t = M_ARRAY;
        v->n = c & 0x0f;
        return 0;
    }
    if (c >= 0x80 && c <= 0x8f) {
        v->t = M_MAP;
        v->n = c & 0x0f;
        return 0;
    }
    switch (c) {
    case 0xc0: v->t = M_NIL; return 0;
    case 0xc2: v->t = M_FALSE; return 0;
    case 0xc3: v->t = M_TRUE; return 0;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        static const uint64_t min[4] = {0x80, 0x100, 0x10000, 0x100000000ULL};
        size_t k = (size_t)1 << (c - 0xcc);
        if (be(r, k, &x) || x < min[c - 0xcc])
            return -1;
        v->t = M_UINT;
        v->u = x;
        return 0;
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        size_t k = (size_t)1 << (c - 0xd0);
        if (be(r, k, &x))
            return -1;
        int64_t i;
        if (k == 1)
            i = (int8_t)x;
        else if (k == 2)
            i = (int16_t)x;
        else if (k == 4)
            i = (int32_t)x;
        else
            memcpy(&i, &x, sizeof i);
        /* signed formats hold negatives only, each below the next smaller format's range */
        static const int64_t lowest_smaller[4] = {-32, INT8_MIN, INT16_MIN, INT32_MIN};
        if (i >= lowest_smaller[c - 0xd0])
            return -1;
        v->t = M_INT;
        v->i = i;
        return 0;
    }
    case 0xcb:
        if (be(r, 8, &x))
            return -1;
        v->t = M_F64;
        memcpy(&v->d, &x, sizeof v->d);
        return 0;
    case 0xd9: case 0xda: case 0xdb: {
        static const uint64_t min[3] = {32, 0x100, 0x10000};
        size_t k = (size_t)1 << (c - 0xd9);
        if (be(r, k, &x) || x < min[c - 0xd9])
            return -1;
        v->t = M_STR;
        v->n = x;
        return take(r, (size_t)x, &v->s);
    }
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
        size_t k = (c == 0xdc || c == 0xde) ? 2 : 4;
        if (be(r, k, &x) || x < (k == 2 ? 16u : 0x10000u))
            return -1;
        v->t = (c == 0xdc || c == 0xdd) ? M_ARRAY : M_MAP;
        v->n = x;
        return 0;
    }
    default:
        return -1; /* bin, ext, float32, never-used 0xc1 */
    }
}

static int str_equal(const mval *v, const char *s)
{
    size_t n = strlen(s);
    return v->t == M_STR && v->n == n && memcmp(v->s, s, n) == 0;
}

/* msgpackr's choice for a number: integral and within [-2^31, 2^32-1] packs as an integer. */
static int packs_as_int(double d)
{
    return d == floor(d) && d >= -2147483648.0 && d <= 4294967295.0;
}

/* Decodes one value and compares it with `j`; 0 when equal. */
static int decode_compare(reader *r, const cJSON *j)
{
    mval v;
    if (read_header(r, &v))
        return -1;
    if (cJSON_IsNull(j))
        return v.t == M_NIL ? 0 : -1;
    if (cJSON_IsFalse(j))
        return v.t == M_FALSE ? 0 : -1;
    if (cJSON_IsTrue(j))
        return v.t == M_TRUE ? 0 : -1;
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (packs_as_int(d))
            return (v.t == M_UINT && (double)v.u == d && d >= 0) ||
                           (v.t == M_INT && (double)v.i == d && d < 0)
                       ? 0
                       : -1;
        return v.t == M_F64 && memcmp(&v.d, &d, sizeof d) == 0 ? 0 : -1;
    }
    if (cJSON_IsString(j))
        return str_equal(&v, j->valuestring) ? 0 : -1;
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        int obj = cJSON_IsObject(j);
        if (v.t != (obj ? M_MAP : M_ARRAY))
            return -1;
        uint64_t n = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            n++;
        if (v.n != n)
            return -1;
        for (const cJSON *c = j->child; c; c = c->next) {
            if (obj) {
                mval k;
                if (read_header(r, &k) || !str_equal(&k, c->string))
                    return -1;
            }
            if (decode_compare(r, c))
                return -1;
        }
        return 0;
    }
    return -1;
}

static int max_depth(const cJSON *j)
{
    int d = 0;
    for (const cJSON *c = j->child; c; c = c->next) {
        int k = max_depth(c) + 1;
        if (k > d)
            d = k;
    }
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    cJSON *j = bullc__json_parse(s);
    free(s);
    if (!j)
        return 0;
    bullc__buf b;
    bullc__buf_init(&b);
    int rc = bullc__mp_cjson(&b, j, 0);
    if (max_depth(j) > 64) {
        FUZZ_CHECK(rc == BULLC_EINVAL); /* refused past depth 64 */
    } else {
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(!b.oom);
        reader r = {(const unsigned char *)b.data, b.len, 0};
        FUZZ_CHECK(decode_compare(&r, j) == 0);
        FUZZ_CHECK(r.at == r.n); /* every byte consumed */
    }
    bullc__buf_free(&b);
    cJSON_Delete(j);
    return 0;
}
