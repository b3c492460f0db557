/* json.c - JSON text with JSON.parse/JSON.stringify rules, and the read-only parsed view handed
 * to handlers (a thin layer over cJSON). */
#include "util/json.h"
#include "util/js.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CJ(v) ((const cJSON *)(const void *)(v))
#define BJ(v) ((const bullc_json_t *)(const void *)(v))

/* ---- a syntax scanner with JSON.parse's rules (lone surrogate escapes are accepted) ---- */

#define BULLC__JSON_MAX_DEPTH 512

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p at the opening quote; returns the position after the closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (++p >= end)
                return NULL;
            switch (*p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                break;
            case 'u':
                if (end - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]))
                    return NULL;
                p += 4;
                break;
            default:
                return NULL;
            }
        }
    }
    return NULL;
}

static const char *scan_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

/* Scans one value at p (no leading whitespace); returns its end, or NULL. */
static const char *scan_value(const char *p, const char *end, int depth)
{
    if (p >= end || depth > BULLC__JSON_MAX_DEPTH)
        return NULL;
    switch (*p) {
    case '"':
        return scan_string(p, end);
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = skip_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                if (p >= end || *p != '"' || !(p = scan_string(p, end)))
                    return NULL;
                p = skip_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p = skip_ws(p + 1, end);
            }
            if (!(p = scan_value(p, end, depth + 1)))
                return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            return (p < end && *p == close) ? p + 1 : NULL;
        }
    }
    case 't':
        return (end - p >= 4 && !memcmp(p, "true", 4)) ? p + 4 : NULL;
    case 'f':
        return (end - p >= 5 && !memcmp(p, "false", 5)) ? p + 5 : NULL;
    case 'n':
        return (end - p >= 4 && !memcmp(p, "null", 4)) ? p + 4 : NULL;
    default:
        return scan_number(p, end);
    }
}

int bullc__json_valid(const char *s)
{
    if (!s)
        return 0;
    const char *end = s + strlen(s);
    const char *p = scan_value(skip_ws(s, end), end, 0);
    return p && skip_ws(p, end) == end;
}

int bullc_json_member_raw(const char *json, const char *key, const char **value, size_t *len)
{
    if (!json || !key || !value || !len)
        return BULLC_EINVAL;
    const char *end = json + strlen(json);
    const char *p = skip_ws(json, end);
    size_t klen = strlen(key);
    int found = 0;
    if (p >= end || *p != '{')
        return BULLC_EINVAL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return skip_ws(p + 1, end) == end ? BULLC_EINVAL : BULLC_EJSON;
    for (;;) {
        const char *ks = p;
        if (p >= end || *p != '"' || !(p = scan_string(p, end)))
            return BULLC_EJSON;
        int match = (size_t)(p - ks) == klen + 2 && !memcmp(ks + 1, key, klen);
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return BULLC_EJSON;
        p = skip_ws(p + 1, end);
        const char *vs = p;
        if (!(p = scan_value(p, end, 1)))
            return BULLC_EJSON;
        if (match) { /* the last duplicate wins, as in JSON.parse */
            *value = vs;
            *len = (size_t)(p - vs);
            found = 1;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p >= end || *p != '}' || skip_ws(p + 1, end) != end) /* nothing may follow */
            return BULLC_EJSON;
        return found ? BULLC_OK : BULLC_EINVAL;
    }
}

/* Value of 4 hex digits (anything else counts as 0, which is no surrogate). */
static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v * 16 + (unsigned)d;
    }
    return v;
}

/* A copy of JSON text where each \u escape of a lone UTF-16 surrogate (which JSON.parse
 * accepts but cJSON refuses) is replaced by \ufffd, the character Node writes for it. NULL on
 * OOM. */
char *bullc__json_fix_surrogates(const char *s)
{
    char *out = bullc__strdup(s);
    if (!out)
        return NULL;
    size_t n = strlen(out);
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '"') {
            in_str = !in_str;
            continue;
        }
        if (!in_str || out[i] != '\\' || i + 1 >= n)
            continue;
        if (out[i + 1] != 'u' || i + 5 >= n) {
            i++; /* skip the escaped character */
            continue;
        }
        unsigned v = hex4(out + i + 2);
        if (v >= 0xd800 && v <= 0xdbff) {
            unsigned lo = 0;
            if (i + 11 < n && out[i + 6] == '\\' && out[i + 7] == 'u')
                lo = hex4(out + i + 8);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                i += 11; /* a proper pair */
                continue;
            }
            memcpy(out + i + 2, "fffd", 4);
        } else if (v >= 0xdc00 && v <= 0xdfff) {
            memcpy(out + i + 2, "fffd", 4);
        }
        i += 5;
    }
    return out;
}

void *bullc__json_parse(const char *s)
{
    /* cJSON_Parse takes more than JSON.parse: trailing text, "01", "1.", raw control bytes, ... */
    if (!bullc__json_valid(s))
        return NULL;
    char *fixed = bullc__json_fix_surrogates(s);
    cJSON *v = fixed ? cJSON_Parse(fixed) : NULL;
    free(fixed);
    return v;
}


bullc_json_type_t bullc_json_type(const bullc_json_t *v)
{
    const cJSON *j = CJ(v);
    if (!j)
        return BULLC_JSON_NONE;
    switch (j->type & 0xff) {
    case cJSON_NULL:
        return BULLC_JSON_NULL;
    case cJSON_False:
        return BULLC_JSON_FALSE;
    case cJSON_True:
        return BULLC_JSON_TRUE;
    case cJSON_Number:
        return BULLC_JSON_NUMBER;
    case cJSON_String:
        return BULLC_JSON_STRING;
    case cJSON_Array:
        return BULLC_JSON_ARRAY;
    case cJSON_Object:
        return BULLC_JSON_OBJECT;
    default:
        return BULLC_JSON_NONE;
    }
}

const bullc_json_t *bullc_json_get(const bullc_json_t *obj, const char *key)
{
    if (!obj || !key || !cJSON_IsObject(CJ(obj)))
        return NULL;
    /* JSON keys are case-sensitive, and JSON.parse keeps the last of duplicate keys */
    return BJ(bullc__json_member(CJ(obj), key));
}

size_t bullc_json_size(const bullc_json_t *v)
{
    const cJSON *j = CJ(v);
    if (!j || !(cJSON_IsArray(j) || cJSON_IsObject(j)))
        return 0;
    return (size_t)cJSON_GetArraySize(j);
}

const bullc_json_t *bullc_json_at(const bullc_json_t *v, size_t i)
{
    const cJSON *j = CJ(v);
    if (!j || !(cJSON_IsArray(j) || cJSON_IsObject(j)))
        return NULL;
    const cJSON *c = j->child;
    while (c && i--)
        c = c->next;
    return BJ(c);
}

const char *bullc_json_key(const bullc_json_t *v) { return v ? CJ(v)->string : NULL; }

const char *bullc_json_string(const bullc_json_t *v)
{
    return (v && cJSON_IsString(CJ(v))) ? CJ(v)->valuestring : NULL;
}

int bullc_json_number(const bullc_json_t *v, double *out)
{
    if (!v || !out || !cJSON_IsNumber(CJ(v)))
        return BULLC_EINVAL;
    *out = CJ(v)->valuedouble;
    return BULLC_OK;
}

int bullc_json_int(const bullc_json_t *v, long long *out)
{
    double d;
    if (bullc_json_number(v, &d) != 0 || !isfinite(d) || d != floor(d) || d < -9.2e18 ||
        d > 9.2e18)
        return BULLC_EINVAL;
    *out = (long long)d;
    return BULLC_OK;
}

/* ---- printing with JSON.stringify's rules ------------------------------------------------- */

const cJSON *bullc__json_member(const cJSON *obj, const char *key)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    const cJSON *found = NULL;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && bullc__js_key_compare(c->string, key) == 0)
            found = c;
    return found;
}

static void print_value(bullc__buf *b, const cJSON *j, int depth);

/* An object as JSON.stringify(JSON.parse(text)) writes it, in O(n log n). */
static void print_object(bullc__buf *b, const cJSON *obj, int depth)
{
    bullc__js_prop *p = NULL;
    size_t n = 0;
    if (bullc__js_props(obj, &p, &n) != 0) {
        b->oom = 1;
        return;
    }
    bullc__buf_puts(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            bullc__buf_puts(b, ",");
        bullc__json_append_string(b, p[i].key, strlen(p[i].key));
        bullc__buf_puts(b, ":");
        print_value(b, p[i].value, depth + 1);
    }
    bullc__buf_puts(b, "}");
    free(p);
}

static void print_value(bullc__buf *b, const cJSON *j, int depth)
{
    if (depth > BULLC__JSON_MAX_DEPTH) {
        b->oom = 1; /* cannot happen for parsed input; refuse rather than recurse forever */
        return;
    }
    switch (j->type & 0xff) {
    case cJSON_NULL: bullc__buf_puts(b, "null"); break;
    case cJSON_False: bullc__buf_puts(b, "false"); break;
    case cJSON_True: bullc__buf_puts(b, "true"); break;
    case cJSON_Number: bullc__js_number(b, j->valuedouble); break;
    case cJSON_String:
        bullc__json_append_string(b, j->valuestring ? j->valuestring : "",
                                  j->valuestring ? strlen(j->valuestring) : 0);
        break;
    case cJSON_Array:
        bullc__buf_puts(b, "[");
        for (const cJSON *c = j->child; c; c = c->next) {
            if (c != j->child)
                bullc__buf_puts(b, ",");
            print_value(b, c, depth + 1);
        }
        bullc__buf_puts(b, "]");
        break;
    case cJSON_Object: print_object(b, j, depth); break;
    default: bullc__buf_puts(b, "null"); break;
    }
}

char *bullc_json_print(const bullc_json_t *v)
{
    if (!v)
        return NULL;
    bullc__buf b;
    bullc__buf_init(&b);
    print_value(&b, CJ(v), 0);
    if (b.oom) {
        bullc__buf_free(&b);
        return NULL;
    }
    return bullc__buf_take(&b);
}

void bullc__json_append_string(bullc__buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    bullc__buf_append(b, "\"", 1);
    while (p < end) {
        unsigned c = *p;
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            bullc__buf_puts(b, esc);
            p++;
        } else if (c < 0x20) {
            bullc__buf_printf(b, "\\u%04x", c);
            p++;
        } else {
            size_t k = bullc__js_utf8_len(p, (size_t)(end - p));
            if (k == 0) {
                bullc__buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD, what a UTF-8 decoder reads there */
                p++;
            } else {
                bullc__buf_append(b, p, k);
                p += k;
            }
        }
    }
    bullc__buf_append(b, "\"", 1);
}
