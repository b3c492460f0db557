/* msgpack.c - the few msgpack encodings that script arguments need (decoded by cmsgpack in Lua). */
#include "util/msgpack.h"

#include <cjson/cJSON.h>
#include <math.h>

#include <string.h>

static void put_be(bullc__buf *b, uint8_t tag, uint64_t v, int bytes)
{
    unsigned char t[9];
    t[0] = tag;
    for (int i = 0; i < bytes; i++)
        t[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    bullc__buf_append(b, t, (size_t)bytes + 1);
}

void bullc__mp_nil(bullc__buf *b) { bullc__buf_append(b, "\xc0", 1); }

void bullc__mp_bool(bullc__buf *b, int v) { bullc__buf_append(b, v ? "\xc3" : "\xc2", 1); }

void bullc__mp_int(bullc__buf *b, long long v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u < 128) {
            unsigned char c = (unsigned char)u;
            bullc__buf_append(b, &c, 1);
        } else if (u <= 0xff) {
            put_be(b, 0xcc, u, 1);
        } else if (u <= 0xffff) {
            put_be(b, 0xcd, u, 2);
        } else if (u <= 0xffffffffu) {
            put_be(b, 0xce, u, 4);
        } else {
            put_be(b, 0xcf, u, 8);
        }
    } else if (v >= -32) {
        unsigned char c = (unsigned char)(int8_t)v;
        bullc__buf_append(b, &c, 1);
    } else if (v >= INT8_MIN) {
        put_be(b, 0xd0, (uint8_t)(int8_t)v, 1);
    } else if (v >= INT16_MIN) {
        put_be(b, 0xd1, (uint16_t)(int16_t)v, 2);
    } else if (v >= INT32_MIN) {
        put_be(b, 0xd2, (uint32_t)(int32_t)v, 4);
    } else {
        put_be(b, 0xd3, (uint64_t)v, 8);
    }
}

void bullc__mp_double(bullc__buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_be(b, 0xcb, u, 8);
}

void bullc__mp_str(bullc__buf *b, const char *s, size_t n)
{
    if (n < 32) {
        unsigned char c = (unsigned char)(0xa0 | n);
        bullc__buf_append(b, &c, 1);
    } else if (n <= 0xff) {
        put_be(b, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        put_be(b, 0xda, n, 2);
    } else if ((uint64_t)n <= 0xffffffffu) {
        put_be(b, 0xdb, n, 4);
    } else {
        b->oom = 1; /* cannot be encoded */
        return;
    }
    bullc__buf_append(b, s, n);
}

void bullc__mp_cstr(bullc__buf *b, const char *s) { bullc__mp_str(b, s, strlen(s)); }

void bullc__mp_array(bullc__buf *b, uint32_t n)
{
    if (n < 16) {
        unsigned char c = (unsigned char)(0x90 | n);
        bullc__buf_append(b, &c, 1);
    } else if (n <= 0xffff) {
        put_be(b, 0xdc, n, 2);
    } else {
        put_be(b, 0xdd, n, 4);
    }
}

void bullc__mp_map(bullc__buf *b, uint32_t n)
{
    if (n < 16) {
        unsigned char c = (unsigned char)(0x80 | n);
        bullc__buf_append(b, &c, 1);
    } else if (n <= 0xffff) {
        put_be(b, 0xde, n, 2);
    } else {
        put_be(b, 0xdf, n, 4);
    }
}

void bullc__mp_number(bullc__buf *b, double v)
{
    /* as msgpackr: integers within the 32-bit ranges (and -0) as ints, the rest as float64 */
    if (v == floor(v) && v >= -2147483648.0 && v <= 4294967295.0)
        bullc__mp_int(b, (long long)v);
    else
        bullc__mp_double(b, v);
}

int bullc__mp_cjson(bullc__buf *b, const cJSON *v, int depth)
{
    if (!v || depth > 64)
        return BULLC_EINVAL;
    if (cJSON_IsNull(v)) {
        bullc__mp_nil(b);
    } else if (cJSON_IsBool(v)) {
        bullc__mp_bool(b, cJSON_IsTrue(v));
    } else if (cJSON_IsNumber(v)) {
        bullc__mp_number(b, v->valuedouble);
    } else if (cJSON_IsString(v)) {
        bullc__mp_cstr(b, v->valuestring);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        uint32_t n = 0;
        for (const cJSON *m = v->child; m; m = m->next)
            n++;
        if (cJSON_IsArray(v))
            bullc__mp_array(b, n);
        else
            bullc__mp_map(b, n);
        for (const cJSON *m = v->child; m; m = m->next) {
            if (cJSON_IsObject(v))
                bullc__mp_cstr(b, m->string);
            int rc = bullc__mp_cjson(b, m, depth + 1);
            if (rc)
                return rc;
        }
    } else {
        return BULLC_EINVAL;
    }
    return 0;
}
