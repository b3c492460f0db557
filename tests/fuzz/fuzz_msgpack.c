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

/* The formats held in the first byte: positive and negative fixint, fixstr (with its bytes),
 * fixarray, fixmap. 1 when `first` is one of them, with *result 0 (or -1 when the string's
 * bytes are missing); 0 when it is not. */
static int read_fix_format(reader *r, unsigned first, mval *v, int *result)
{
    *result = 0;
    if (first <= 0x7f) {
        v->t = M_UINT;
        v->u = first;
    } else if (first >= 0xe0) {
        v->t = M_INT;
        v->i = (int8_t)first;
    } else if (first >= 0xa0 && first <= 0xbf) {
        v->t = M_STR;
        v->n = first & 0x1f;
        *result = take(r, (size_t)v->n, &v->s);
    } else if (first >= 0x90 && first <= 0x9f) {
        v->t = M_ARRAY;
        v->n = first & 0x0f;
    } else if (first >= 0x80 && first <= 0x8f) {
        v->t = M_MAP;
        v->n = first & 0x0f;
    } else {
        return 0;
    }
    return 1;
}

/* uint 8/16/32/64 (0xcc..0xcf), each holding only values the next smaller format cannot. */
static int read_unsigned(reader *r, unsigned first, mval *v)
{
    static const uint64_t smallest[4] = {0x80, 0x100, 0x10000, 0x100000000ULL};
    uint64_t value;
    if (be(r, (size_t)1 << (first - 0xcc), &value) || value < smallest[first - 0xcc])
        return -1;
    v->t = M_UINT;
    v->u = value;
    return 0;
}

/* int 8/16/32/64 (0xd0..0xd3): negatives only, each below the next smaller format's range. */
static int read_signed(reader *r, unsigned first, mval *v)
{
    static const int64_t lowest_smaller[4] = {-32, INT8_MIN, INT16_MIN, INT32_MIN};
    size_t width = (size_t)1 << (first - 0xd0);
    uint64_t bits;
    if (be(r, width, &bits))
        return -1;
    int64_t value;
    if (width == 1)
        value = (int8_t)bits;
    else if (width == 2)
        value = (int16_t)bits;
    else if (width == 4)
        value = (int32_t)bits;
    else
        memcpy(&value, &bits, sizeof value);
    if (value >= lowest_smaller[first - 0xd0])
        return -1;
    v->t = M_INT;
    v->i = value;
    return 0;
}

/* str 8/16/32 (0xd9..0xdb) with its bytes, each only for lengths the smaller formats cannot. */
static int read_long_string(reader *r, unsigned first, mval *v)
{
    static const uint64_t shortest[3] = {32, 0x100, 0x10000};
    uint64_t length;
    if (be(r, (size_t)1 << (first - 0xd9), &length) || length < shortest[first - 0xd9])
        return -1;
    v->t = M_STR;
    v->n = length;
    return take(r, (size_t)length, &v->s);
}

/* array 16/32 (0xdc, 0xdd) and map 16/32 (0xde, 0xdf), each only for counts the smaller
 * formats cannot hold. */
static int read_long_container(reader *r, unsigned first, mval *v)
{
    int is_16 = first == 0xdc || first == 0xde;
    uint64_t count;
    if (be(r, is_16 ? 2 : 4, &count) || count < (is_16 ? 16u : 0x10000u))
        return -1;
    v->t = (first == 0xdc || first == 0xdd) ? M_ARRAY : M_MAP;
    v->n = count;
    return 0;
}

/* Reads one header (and a string's bytes), refusing formats the encoder never writes and any
 * that is not the shortest for its value. */
static int read_header(reader *r, mval *v)
{
    const unsigned char *b;
    if (take(r, 1, &b))
        return -1;
    unsigned first = b[0];
    memset(v, 0, sizeof *v);
    int result;
    if (read_fix_format(r, first, v, &result))
        return result;
    switch (first) {
    case 0xc0: v->t = M_NIL; return 0;
    case 0xc2: v->t = M_FALSE; return 0;
    case 0xc3: v->t = M_TRUE; return 0;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return read_unsigned(r, first, v);
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: return read_signed(r, first, v);
    case 0xcb: {
        uint64_t bits;
        if (be(r, 8, &bits))
            return -1;
        v->t = M_F64;
        memcpy(&v->d, &bits, sizeof v->d);
        return 0;
    }
    case 0xd9: case 0xda: case 0xdb: return read_long_string(r, first, v);
    case 0xdc: case 0xdd: case 0xde: case 0xdf: return read_long_container(r, first, v);
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
