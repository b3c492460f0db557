/* js.c - JavaScript's number printing, key order, truthiness and integer-string test, so that
 * the JSON and option values libbullc writes come out as Node's would. */
#include "util/js.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bullc__js_number(bullc__buf *b, double d)
{
    if (!isfinite(d)) {
        bullc__buf_puts(b, "null"); /* JSON.stringify(NaN) */
        return;
    }
    if (d == 0) {
        bullc__buf_puts(b, "0"); /* also -0 */
        return;
    }
    char tmp[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp is [-]D[.DDD]e[+-]XX */
    const char *p = tmp;
    if (*p == '-') {
        bullc__buf_puts(b, "-");
        p++;
    }
    char digits[24];
    int k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && k < (int)sizeof digits - 1)
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    int n = (*p == 'e' ? atoi(p + 1) : 0) + 1; /* value = 0.DIGITS * 10^n */
    if (k <= n && n <= 21) {
        bullc__buf_append(b, digits, (size_t)k);
        for (int i = k; i < n; i++)
            bullc__buf_puts(b, "0");
    } else if (0 < n && n <= 21) {
        bullc__buf_append(b, digits, (size_t)n);
        bullc__buf_puts(b, ".");
        bullc__buf_append(b, digits + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        bullc__buf_puts(b, "0.");
        for (int i = n; i < 0; i++)
            bullc__buf_puts(b, "0");
        bullc__buf_append(b, digits, (size_t)k);
    } else {
        bullc__buf_append(b, digits, 1);
        if (k > 1) {
            bullc__buf_puts(b, ".");
            bullc__buf_append(b, digits + 1, (size_t)(k - 1));
        }
        bullc__buf_printf(b, "e%c%d", n - 1 >= 0 ? '+' : '-', n - 1 >= 0 ? n - 1 : 1 - n);
    }
}

int bullc__js_index_key(const char *k, unsigned long long *out)
{
    if (!k || !*k || (k[0] == '0' && k[1]) || strlen(k) > 10)
        return 0;
    unsigned long long v = 0;
    for (const char *p = k; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    if (v >= 4294967295ULL)
        return 0;
    *out = v;
    return 1;
}

size_t bullc__js_utf8_len(const unsigned char *p, size_t left)
{
    unsigned lead = p[0];
    size_t len;
    unsigned smallest;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xc2 && lead <= 0xdf)
        len = 2, smallest = 0x80;
    else if (lead >= 0xe0 && lead <= 0xef)
        len = 3, smallest = 0x800;
    else if (lead >= 0xf0 && lead <= 0xf4)
        len = 4, smallest = 0x10000;
    else
        return 0;
    if (left < len)
        return 0;
    unsigned code_point = lead & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        code_point = (code_point << 6) | (p[i] & 0x3f);
    }
    if (code_point < smallest || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff))
        return 0;
    return len;
}

/* A key's bytes as a UTF-8 decoder reads them: one character at a time, U+FFFD for a byte that
 * is not part of valid UTF-8. */
typedef struct key_reader {
    const unsigned char *at, *end;
} key_reader;

/* The next character's UTF-8 bytes (*len of them), or NULL at the end of the key. */
static const unsigned char *next_character(key_reader *reader, size_t *len)
{
    static const unsigned char replacement[] = {0xef, 0xbf, 0xbd};
    if (reader->at >= reader->end)
        return NULL;
    const unsigned char *start = reader->at;
    size_t valid = bullc__js_utf8_len(start, (size_t)(reader->end - start));
    if (valid == 0) {
        reader->at++;
        *len = sizeof replacement;
        return replacement;
    }
    reader->at += valid;
    *len = valid;
    return start;
}

int bullc__js_key_compare(const char *a, const char *b)
{
    key_reader left = {(const unsigned char *)a, (const unsigned char *)a + strlen(a)};
    key_reader right = {(const unsigned char *)b, (const unsigned char *)b + strlen(b)};
    for (;;) {
        size_t left_len = 0, right_len = 0;
        const unsigned char *left_char = next_character(&left, &left_len);
        const unsigned char *right_char = next_character(&right, &right_len);
        if (!left_char || !right_char)
            return (left_char != NULL) - (right_char != NULL);
        int order = memcmp(left_char, right_char, left_len < right_len ? left_len : right_len);
        if (order == 0)
            order = (left_len > right_len) - (left_len < right_len);
        if (order != 0)
            return order;
    }
}

/* A member while sorting: its position, and whether (and which) index key it is. */
typedef struct member {
    const cJSON *first, *last;
    size_t pos;
    int is_index;
    unsigned long long iv;
} member;

static int by_key_then_pos(const void *pa, const void *pb)
{
    const member *x = pa, *y = pb;
    int c = bullc__js_key_compare(x->first->string, y->first->string);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int by_js_order(const void *pa, const void *pb)
{
    const member *x = pa, *y = pb;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index)
        return x->iv < y->iv ? -1 : x->iv > y->iv;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int bullc__js_props(const cJSON *obj, bullc__js_prop **props, size_t *count)
{
    *props = NULL;
    *count = 0;
    if (!cJSON_IsObject(obj))
        return BULLC_EINVAL;
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n += c->string != NULL;
    member *m = malloc((n ? n : 1) * sizeof *m);
    bullc__js_prop *out = malloc((n ? n : 1) * sizeof *out);
    if (!m || !out) {
        free(m);
        free(out);
        return BULLC_ENOMEM;
    }
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string)
            continue;
        m[i].first = m[i].last = c;
        m[i].pos = i;
        m[i].is_index = bullc__js_index_key(c->string, &m[i].iv);
        i++;
    }
    /* one property per key: the first member's place, the last member's value */
    qsort(m, n, sizeof *m, by_key_then_pos);
    size_t k = 0;
    for (i = 0; i < n; i++) {
        if (k > 0 && bullc__js_key_compare(m[k - 1].first->string, m[i].first->string) == 0)
            m[k - 1].last = m[i].first;
        else
            m[k++] = m[i];
    }
    qsort(m, k, sizeof *m, by_js_order);
    for (i = 0; i < k; i++) {
        out[i].key = m[i].first->string;
        out[i].value = m[i].last;
    }
    free(m);
    *props = out;
    *count = k;
    return BULLC_OK;
}

int bullc__js_truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
        return 0;
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0 && !isnan(v->valuedouble);
    if (cJSON_IsString(v))
        return v->valuestring[0] != '\0';
    return 1;
}

int bullc__js_integer_string(const char *s)
{
    const char *p = s + (*s == '-');
    size_t nd = strlen(p);
    if (nd == 0 || (p[0] == '0' && nd > 1) || !strcmp(s, "-0"))
        return 0;
    for (size_t i = 0; i < nd; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    if (nd <= 15)
        return 1;
    /* JavaScript prints the shortest round-trip digits, padded with zeros, below 1e21 */
    double d = strtod(s, NULL);
    if (fabs(d) >= 1e21)
        return 0;
    char digits[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec - 1, fabs(d));
        if (strtod(digits, NULL) != fabs(d))
            continue;
        /* digits = "D.DDDe+XX": rebuild the integer text */
        char mant[24];
        size_t m = 0;
        const char *e = strchr(digits, 'e');
        for (const char *q = digits; q < e; q++)
            if (*q != '.')
                mant[m++] = *q;
        int exp10 = atoi(e + 1);
        if (exp10 + 1 != (int)nd || (size_t)exp10 + 1 < m)
            return 0;
        for (size_t i = 0; i < nd; i++)
            if (p[i] != (i < m ? mant[i] : '0'))
                return 0;
        return 1;
    }
    return 0;
}

/* String(v); in_array: v is an element of an array being joined (null and undefined empty). */
static void string_of(bullc__buf *b, const cJSON *v, int in_array)
{
    if (!v)
        bullc__buf_puts(b, in_array ? "" : "undefined");
    else if (cJSON_IsString(v))
        bullc__buf_puts(b, v->valuestring);
    else if (cJSON_IsNumber(v))
        bullc__js_number(b, v->valuedouble);
    else if (cJSON_IsBool(v))
        bullc__buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        bullc__buf_puts(b, in_array ? "" : "null");
    else if (cJSON_IsArray(v))
        for (const cJSON *c = v->child; c; c = c->next) {
            string_of(b, c, 1);
            if (c->next)
                bullc__buf_puts(b, ",");
        }
    else
        bullc__buf_puts(b, "[object Object]");
}

void bullc__js_string(bullc__buf *b, const cJSON *v)
{
    string_of(b, v, 0);
}
