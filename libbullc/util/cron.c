/* cron.c - cron expressions as BullMQ's job schedulers read them (the syntax of cron-parser 5:
 * optional seconds, ranges, steps, lists, names, '?', 'L', '#', 'H' with a seed) and the next
 * time after a date, in a time zone, stepping the calendar the way cron-parser over luxon does,
 * so that DST gaps and repeated hours give the same times as Node. */
#include "util/cron.h"
#include "util/buf.h"
#include "util/time.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { F_SEC, F_MIN, F_HOUR, F_MONTH, F_DOM, F_DOW, F_COUNT };

static const struct {
    const char *name;
    int min, max;
    int has_l;     /* 'L' allowed */
    int has_hash;  /* '#' allowed */
} FIELD[F_COUNT] = {
    {"second", 0, 59, 0, 0},     {"minute", 0, 59, 0, 0}, {"hour", 0, 23, 0, 0},
    {"month", 1, 12, 0, 0},      {"dayOfMonth", 1, 31, 1, 0}, {"dayOfWeek", 0, 7, 1, 1},
};

#define MAX_FIELD_VALUES 256
#define MAX_EXPR_LEN 1024
#define LOOP_LIMIT 10000
/* The range of a JavaScript Date (ms): cron-parser cannot represent a time outside it. */
#define JS_DATE_MAX 8640000000000000LL

struct bullc__cron {
    uint64_t sec, min;
    uint32_t hour, dom;
    uint16_t month;
    uint8_t dow;      /* weekdays 0..6 (a 7 also sets 0) */
    uint8_t dow_last; /* weekdays matched in the last 7 days of a month ('5L') */
    int dom_last;     /* 'L' in day of month */
    int dow_has_last;
    int nth;          /* '#n', 0 = none */
    int dom_wild, dow_wild;
    int nhours;       /* number of hour values */
    int hour_min, min_min, sec_min;
};

/* ---- small string builder on the stack-free side ------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_num(sbuf *b, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    sb_puts(b, t);
}

/* ---- parse context ----------------------------------------------------------------------- */

typedef struct pctx {
    char *err;
    size_t errlen;
    int strict;
    uint32_t seed; /* mulberry32 state (mod 2^32) */
} pctx;

static int fail(pctx *c, const char *fmt, ...) BULLC__PRINTF(2, 3);
static int fail(pctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return BULLC_EINVAL;
}

/* The PRNG cron-parser seeds from `hashSeed` (FNV-1a of the UTF-16 units) for 'H'. */
static double next_rand(pctx *c)
{
    c->seed += 0x6d2b79f5u;
    uint32_t t = c->seed;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return (double)(t ^ (t >> 14)) / 4294967296.0;
}

static uint32_t seed_from(const char *s)
{
    uint32_t h = 2166136261u;
    /* UTF-8 -> UTF-16 code units */
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        if (*p < 0x80) {
            cp = *p++;
        } else if ((*p & 0xe0) == 0xc0 && p[1]) {
            cp = (uint32_t)(*p & 0x1f) << 6 | (p[1] & 0x3f);
            p += 2;
        } else if ((*p & 0xf0) == 0xe0 && p[1] && p[2]) {
            cp = (uint32_t)(*p & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            p += 3;
        } else if ((*p & 0xf8) == 0xf0 && p[1] && p[2] && p[3]) {
            cp = (uint32_t)(*p & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                 (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
            p += 4;
        } else {
            cp = 0xfffd;
            p++;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h ^= 0xd800 + (cp >> 10);
            h *= 16777619u;
            cp = 0xdc00 + (cp & 0x3ff);
        }
        h ^= cp;
        h *= 16777619u;
    }
    return h;
}

/* JS parseInt(s, 10) on our restricted alphabet: optional sign, digits. */
static int js_parseint(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i >= n || !isdigit((unsigned char)s[i]))
        return -1;
    long long v = 0;
    for (; i < n && isdigit((unsigned char)s[i]); i++)
        if (v < 1000000000000LL)
            v = v * 10 + (s[i] - '0');
    *out = neg ? -v : v;
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- one field --------------------------------------------------------------------------- */

typedef struct fval {
    int is_str;
    long long num;
    char str[8]; /* "5L", "L", "12L" */
} fval;

typedef struct fvals {
    fval v[MAX_FIELD_VALUES + 64];
    int n;
} fvals;

static int push_num(pctx *c, fvals *fv, long long v)
{
    if (fv->n >= (int)(sizeof fv->v / sizeof fv->v[0]))
        return fail(c, "too many values");
    fv->v[fv->n].is_str = 0;
    fv->v[fv->n++].num = v;
    return 0;
}

static int push_str(pctx *c, fvals *fv, const char *s, size_t n)
{
    if (fv->n >= (int)(sizeof fv->v / sizeof fv->v[0]))
        return fail(c, "too many values");
    if (n >= sizeof fv->v[0].str)
        return fail(c, "invalid value \"%.*s\"", (int)n, s);
    fv->v[fv->n].is_str = 1;
    memcpy(fv->v[fv->n].str, s, n);
    fv->v[fv->n++].str[n] = '\0';
    return 0;
}

/* "H(a-b)/s" | "H(a-b)" | "H/s" at s (which starts with 'H'); returns the matched length. */
static size_t match_hashed(const char *s, int *has_range, long long *a, long long *b, int *has_step,
                           long long *st)
{
    size_t i = 1;
    *has_range = *has_step = 0;
    if (s[i] == '(') {
        size_t j = i + 1, k;
        for (k = j; isdigit((unsigned char)s[k]); k++)
            ;
        if (k > j && s[k] == '-') {
            size_t l = k + 1, m;
            for (m = l; isdigit((unsigned char)s[m]); m++)
                ;
            if (m > l && s[m] == ')') {
                js_parseint(s + j, k - j, a);
                js_parseint(s + l, m - l, b);
                *has_range = 1;
                i = m + 1;
            }
        }
    }
    if (s[i] == '/') {
        size_t j = i + 1, k;
        for (k = j; isdigit((unsigned char)s[k]); k++)
            ;
        if (k > j) {
            js_parseint(s + j, k - j, st);
            *has_step = 1;
            i = k;
        }
    }
    return i;
}

static int valid_chars(int f, const char *s)
{
    int basic = *s != '\0';
    for (const char *p = s; *p && basic; p++) {
        if (isdigit((unsigned char)*p) || strchr("?,*H/-", *p))
            continue;
        if (*p == 'L' && FIELD[f].has_l)
            continue;
        if (*p == '#' && FIELD[f].has_hash)
            continue;
        basic = 0;
    }
    if (basic)
        return 1;
    for (const char *p = s; *p; p++) {
        if (*p != 'H')
            continue;
        int hr, hs;
        long long a, b, st;
        match_hashed(p, &hr, &a, &b, &hs, &st);
        if (hr || hs)
            return 1;
    }
    return 0;
}

static const char *field_label(int f)
{
    return FIELD[f].name;
}

/* Replaces every 'H' form by its values (one random draw per field, as cron-parser does). */
static int expand_hashed(pctx *c, int f, const char *in, sbuf *out)
{
    double r = next_rand(c);
    long long cmin = FIELD[f].min, cmax = FIELD[f].max;
    long long count = 0;
    for (const char *p = in; *p;) {
        if (*p != 'H') {
            sb_put(out, p, 1);
            p++;
            continue;
        }
        int hr, hs;
        long long a = 0, b = 0, st = 0;
        size_t len = match_hashed(p, &hr, &a, &b, &hs, &st);
        p += len;
        long long lo = cmin, hi = cmax;
        if (hr) {
            if (a > b)
                return fail(c, "Invalid range: %lld-%lld, min > max", a, b);
            if (c->strict && (a < cmin || b > cmax))
                return fail(c, "Invalid range: %lld-%lld, outside the %lld-%lld range of the %s field",
                            a, b, cmin, cmax, field_label(f));
            lo = a > cmin ? a : cmin;
            hi = b < cmax ? b : cmax;
            if (lo > hi)
                return fail(c, "Invalid range: %lld-%lld, no usable value in the %s field", a, b,
                            field_label(f));
        }
        if (!hs) {
            sb_num(out, (long long)floor(r * (double)(hi - lo + 1)) + lo);
            continue;
        }
        if (st <= 0)
            return fail(c, "Invalid step: %lld, must be positive", st);
        count += (hi - lo + 1 + st - 1) / st;
        if (count > MAX_FIELD_VALUES)
            return fail(c, "too many values in the %s field (at most %d)", field_label(f),
                        MAX_FIELD_VALUES);
        if (c->strict && st > hi - lo + 1)
            return fail(c, "Invalid step: %lld, wider than the %lld-%lld range of the %s field", st,
                        lo, hi, field_label(f));
        long long off = (long long)floor(r * (double)st);
        int any = 0;
        for (long long i = (long long)floor((double)lo / (double)st) * st + off; i <= hi; i += st) {
            if (i < lo)
                continue;
            if (any)
                sb_puts(out, ",");
            sb_num(out, i);
            any = 1;
        }
        if (!any)
            sb_num(out, (long long)floor(r * (double)(hi - lo + 1)) + lo);
    }
    return out->oom ? BULLC_ENOMEM : 0;
}

/* One list atom: "a", "a-b", "a-b/s", "a/s", "5L". */
static int parse_atom(pctx *c, int f, const char *s, size_t n, fvals *fv)
{
    long long cmin = FIELD[f].min, cmax = FIELD[f].max;
    const char *slash = memchr(s, '/', n);
    if (slash && memchr(slash + 1, '/', n - (size_t)(slash + 1 - s)))
        return fail(c, "Invalid repeat: %.*s", (int)n, s);
    const char *range = s;
    size_t rlen = slash ? (size_t)(slash - s) : n;
    long long step = 1;
    int step_ok = 1;
    char tmp[64];
    if (slash) {
        step_ok = js_parseint(slash + 1, n - (size_t)(slash + 1 - s), &step) == 0;
        if (!memchr(range, '-', rlen)) {
            if (rlen > 40)
                return fail(c, "invalid value in the %s field", field_label(f));
            snprintf(tmp, sizeof tmp, "%.*s-%lld", (int)rlen, range, cmax);
            range = tmp;
            rlen = strlen(tmp);
        }
    }
    const char *dash = memchr(range, '-', rlen);
    if (!dash) {
        /* a single value */
        if (all_digits(range, rlen)) {
            long long v;
            js_parseint(range, rlen, &v);
            if (v < cmin || v > cmax)
                return fail(c, "Constraint error, got value %.*s expected range %lld-%lld", (int)rlen,
                            range, cmin, cmax);
            return push_num(c, fv, f == F_DOW ? v % 7 : v);
        }
        if (FIELD[f].has_l && memchr(range, 'L', rlen))
            return push_str(c, fv, range, rlen);
        long long v;
        if (js_parseint(range, rlen, &v) != 0 || v < cmin || v > cmax)
            return fail(c, "Constraint error, got value %.*s expected range %lld-%lld", (int)rlen, range,
                        cmin, cmax);
        if (f == F_DOW)
            return push_num(c, fv, v % 7);
        return fail(c, "invalid value \"%.*s\" in the %s field", (int)rlen, range, field_label(f));
    }
    long long lo, hi;
    const char *second = dash + 1;
    const char *dash2 = memchr(second, '-', rlen - (size_t)(second - range));
    size_t slen = dash2 ? (size_t)(dash2 - second) : rlen - (size_t)(second - range);
    int lo_ok = js_parseint(range, (size_t)(dash - range), &lo) == 0;
    int hi_ok = js_parseint(second, slen, &hi) == 0;
    if (!lo_ok || !hi_ok || lo < cmin || hi > cmax)
        return fail(c, "Constraint error, got range %.*s expected range %lld-%lld", (int)rlen, range,
                    cmin, cmax);
    if (lo > hi)
        return fail(c, "Invalid range: %lld-%lld, min(%lld) > max(%lld)", lo, hi, lo, hi);
    if (!step_ok || step <= 0)
        return fail(c, "Constraint error, cannot repeat at every %.*s time.",
                    (int)(slash ? n - (size_t)(slash + 1 - s) : 0), slash ? slash + 1 : "");
    int start = fv->n;
    if (f == F_DOW && hi % 7 == 0 && (hi - lo) % step == 0) {
        int rc = push_num(c, fv, 0);
        if (rc)
            return rc;
    }
    for (long long i = lo; i <= hi; i += step) {
        int dup = 0;
        for (int k = start; k < fv->n; k++)
            if (!fv->v[k].is_str && fv->v[k].num == i)
                dup = 1;
        if (!dup) {
            int rc = push_num(c, fv, i);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int fval_eq(const fval *a, const fval *b)
{
    if (a->is_str != b->is_str)
        return 0;
    return a->is_str ? strcmp(a->str, b->str) == 0 : a->num == b->num;
}

/* Names: JAN..DEC and SUN..SAT, in either field (cron-parser looks both tables up). */
static int alias_value(const char *s)
{
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                        "sep", "oct", "nov", "dec", "sun", "mon", "tue", "wed",
                                        "thu", "fri", "sat"};
    char l[4] = {(char)tolower((unsigned char)s[0]), (char)tolower((unsigned char)s[1]),
                 (char)tolower((unsigned char)s[2]), 0};
    for (int i = 0; i < 19; i++)
        if (strcmp(l, names[i]) == 0)
            return i < 12 ? i + 1 : i - 12;
    return -1;
}

/* A field's step 1: month and weekday names (three letters) replaced by their numbers. */
static int replace_names(pctx *context, int field, const char *raw, sbuf *out)
{
    if (field != F_MONTH && field != F_DOW) {
        sb_puts(out, raw);
        return out->oom ? BULLC_ENOMEM : 0;
    }
    for (const char *at = raw; *at;) {
        if (isalpha((unsigned char)at[0]) && isalpha((unsigned char)at[1]) &&
            isalpha((unsigned char)at[2])) {
            int value = alias_value(at);
            if (value < 0)
                return fail(context, "Validation error, cannot resolve alias \"%c%c%c\"",
                            tolower((unsigned char)at[0]), tolower((unsigned char)at[1]),
                            tolower((unsigned char)at[2]));
            sb_num(out, value);
            at += 3;
        } else {
            sb_put(out, at, 1);
            at++;
        }
    }
    return out->oom ? BULLC_ENOMEM : 0;
}

/* A field's step 3: '*' and '?' replaced by the field's whole range. */
static int expand_wildcards(int field, const char *text, sbuf *out)
{
    for (const char *at = text; *at; at++) {
        if (*at == '*' || *at == '?') {
            sb_num(out, FIELD[field].min);
            sb_puts(out, "-");
            sb_num(out, FIELD[field].max);
        } else {
            sb_put(out, at, 1);
        }
    }
    return out->oom ? BULLC_ENOMEM : 0;
}

/* A field's step 5: the comma-separated list, atom by atom, into `values`. */
static int parse_list(pctx *context, int field, const char *text, fvals *values)
{
    values->n = 0;
    for (const char *atom = text;;) {
        if (values->n > MAX_FIELD_VALUES)
            return fail(context, "too many values in the %s field (at most %d)",
                        field_label(field), MAX_FIELD_VALUES);
        const char *comma = strchr(atom, ',');
        size_t len = comma ? (size_t)(comma - atom) : strlen(atom);
        if (len == 0)
            return fail(context, "Invalid list value format");
        int rc = parse_atom(context, field, atom, len, values);
        if (rc != 0)
            return rc;
        if (!comma)
            return 0;
        atom = comma + 1;
    }
}

/* Parses one field's text into values (unsorted, as listed): names, a check of the characters,
 * wildcards, 'H' forms, then the list. */
static int parse_field(pctx *context, int field, const char *raw, fvals *values)
{
    sbuf named = {0}, ranged = {0}, hashed = {0};
    int rc = replace_names(context, field, raw, &named);
    const char *text = named.p ? named.p : "";
    if (rc == 0 && !valid_chars(field, text))
        rc = fail(context, "Invalid characters, got value: %.100s", text);
    if (rc == 0)
        rc = expand_wildcards(field, text, &ranged);
    if (rc == 0)
        rc = expand_hashed(context, field, ranged.p ? ranged.p : "", &hashed);
    if (rc == 0)
        rc = parse_list(context, field, hashed.p ? hashed.p : "", values);
    free(named.p);
    free(ranged.p);
    free(hashed.p);
    return rc;
}

/* Checks a field's final values: strings must look like "\d{0,2}L", no duplicates. */
static int check_values(pctx *c, int f, const fvals *fv)
{
    if (fv->n == 0)
        return fail(c, "the %s field has no values", field_label(f));
    for (int i = 0; i < fv->n; i++) {
        const fval *v = &fv->v[i];
        if (v->is_str) {
            size_t l = strlen(v->str);
            int ok = FIELD[f].has_l && l >= 1 && l <= 3 && v->str[l - 1] == 'L';
            for (size_t k = 0; ok && k + 1 < l; k++)
                ok = isdigit((unsigned char)v->str[k]) != 0;
            if (!ok)
                return fail(c, "Validation error in the %s field, got value %s", field_label(f),
                            v->str);
        } else if (v->num < FIELD[f].min || v->num > FIELD[f].max) {
            return fail(c, "Validation error in the %s field, got value %lld expected range %d-%d",
                        field_label(f), v->num, FIELD[f].min, FIELD[f].max);
        }
        for (int k = 0; k < i; k++)
            if (fval_eq(&fv->v[k], v))
                return v->is_str ? fail(c, "duplicate values in the %s field: %s", field_label(f),
                                        v->str)
                                 : fail(c, "duplicate values in the %s field: %lld", field_label(f),
                                        v->num);
    }
    return 0;
}

static int is_js_space(const unsigned char *p, size_t *len)
{
    if (*p == ' ' || (*p >= 0x09 && *p <= 0x0d)) {
        *len = 1;
        return 1;
    }
    /* U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF */
    if (p[0] == 0xc2 && p[1] == 0xa0) {
        *len = 2;
        return 1;
    }
    if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) {
        *len = 3;
        return 1;
    }
    if (p[0] == 0xe2 && p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf)) {
        *len = 3;
        return 1;
    }
    if ((p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) || (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) ||
        (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)) {
        *len = 3;
        return 1;
    }
    return 0;
}

void bullc__cron_free(bullc__cron *c)
{
    free(c);
}

/* ---- the whole expression ---------------------------------------------------------------- */

/* The most days each month can have (February's in a leap year). */
static const int LONGEST_MONTH[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* The PRNG state for 'H': from the seed text, else from what differs between calls (the time,
 * the processor clock, the process, an address on the caller's stack), as cron-parser draws a
 * random seed when it has none. */
static uint32_t initial_seed(const char *hash_seed, const void *stack_address)
{
    if (hash_seed && *hash_seed)
        return seed_from(hash_seed);
    return (uint32_t)((uint64_t)bullc__now_ms() * 2654435761u ^ (uint64_t)clock() ^
                      (uint64_t)getpid() << 16 ^ (uint64_t)(uintptr_t)stack_address);
}

/* cron-parser's predefined expressions ("@daily", ...) as the fields they stand for; any other
 * text as it is. */
static const char *expand_predefined(const char *expr)
{
    static const struct {
        const char *name, *expr;
    } predefined[] = {
        {"@yearly", "0 0 0 1 1 *"},   {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
        {"@weekly", "0 0 0 * * 0"},   {"@daily", "0 0 0 * * *"},    {"@hourly", "0 0 * * * *"},
        {"@minutely", "0 * * * * *"}, {"@secondly", "* * * * * *"}, {"@weekdays", "0 0 0 * * 1-5"},
        {"@weekends", "0 0 0 * * 0,6"},
    };
    for (size_t index = 0; index < sizeof predefined / sizeof predefined[0]; index++)
        if (strcmp(expr, predefined[index].name) == 0)
            return predefined[index].expr;
    return expr;
}

/* Splits `text` (a writable copy of the expression) at JavaScript white space into at most 7
 * fields, as cron-parser's trim().split(/\s+/) does (an empty text is one empty field); returns
 * how many. A separator's first byte becomes the field's NUL. */
static int split_at_js_space(char *text, char *fields[7])
{
    unsigned char *at = (unsigned char *)text;
    size_t space_len;
    int count = 0;
    while (*at && is_js_space(at, &space_len))
        at += space_len;
    if (!*at) {
        fields[count++] = (char *)at; /* "".split -> [""] */
        return count;
    }
    while (*at && count < 7) {
        fields[count++] = (char *)at;
        while (*at && !is_js_space(at, &space_len))
            at++;
        if (!*at)
            break;
        *at = '\0';
        at += space_len;
        while (*at && is_js_space(at, &space_len))
            at += space_len;
    }
    return count;
}

/* Each field's text by field: five fields get second 0 first (fewer get the defaults of the
 * leading ones), and strict mode wants six and no day of month with a day of week. */
static int arrange_fields(pctx *context, char *const fields[], int count, const char *raw[F_COUNT])
{
    if (context->strict && count < 6)
        return fail(context, "Invalid cron expression, expected 6 fields");
    if (count > 6)
        return fail(context, "Invalid cron expression, too many fields");
    /* as written: second minute hour dayOfMonth month dayOfWeek */
    static const int written_order[6] = {F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW};
    static const char *const defaults[6] = {"0", "*", "*", "*", "*", "*"};
    int missing = 6 - count;
    for (int position = 0; position < 6; position++)
        raw[written_order[position]] =
            position < missing ? defaults[position] : fields[position - missing];
    if (context->strict && strcmp(raw[F_DOM], "*") != 0 && strcmp(raw[F_DOW], "*") != 0)
        return fail(context, "Cannot use both dayOfMonth and dayOfWeek together in strict mode!");
    return 0;
}

/* '#n' in the day of week ("5#3": the third Friday), checked as cron-parser does: `without` gets
 * the field's text before the '#', *nth the occurrence (99 for a fractional one, which is
 * accepted but never matches). Without a '#', `without` is the whole text and *nth unchanged. */
static int take_occurrence(pctx *context, const char *dow, char *without, size_t without_size,
                           int *nth)
{
    snprintf(without, without_size, "%s", dow);
    const char *hash = strchr(dow, '#');
    if (!hash)
        return 0;
    const char *incompatible = strpbrk(dow, ",-/");
    if (incompatible)
        return fail(context, "Constraint error, invalid dayOfWeek `#` and `%c` special characters "
                             "are incompatible", *incompatible);
    /* +atoms[last]: Number() of the text after the last '#' (Number("") = 0, refused below) */
    const char *last = strrchr(dow, '#');
    const char *number_text = last + 1;
    double occurrence = 0;
    int is_number = 1;
    if (*number_text) {
        char *number_end;
        occurrence = strtod(number_text, &number_end);
        is_number = *number_end == '\0' && !isspace((unsigned char)*number_text);
    }
    if (hash != last || !is_number || isnan(occurrence) || occurrence < 1 || occurrence > 5)
        return fail(context, "Constraint error, invalid dayOfWeek occurrence number (#)");
    *nth = occurrence == floor(occurrence) ? (int)occurrence : 99;
    without[hash - dow] = '\0';
    return 0;
}

/* Every field's values, in cron-parser's order (which is the order of the 'H' draws): the day
 * of week last, without its '#n' (*nth). */
static int parse_fields(pctx *context, const char *const raw[F_COUNT], fvals *values, int *nth)
{
    static const int order[5] = {F_SEC, F_MIN, F_HOUR, F_MONTH, F_DOM};
    for (int index = 0; index < 5; index++) {
        int rc = parse_field(context, order[index], raw[order[index]], &values[order[index]]);
        if (rc != 0)
            return rc;
    }
    char day_of_week[MAX_EXPR_LEN + 1];
    int rc = take_occurrence(context, raw[F_DOW], day_of_week, sizeof day_of_week, nth);
    if (rc == 0)
        rc = parse_field(context, F_DOW, day_of_week, &values[F_DOW]);
    return rc;
}

/* With a single month, the days of month it never has are dropped, unless that leaves none. */
static void drop_days_past_single_month(fvals *values)
{
    if (values[F_MONTH].n != 1)
        return;
    int longest = LONGEST_MONTH[values[F_MONTH].v[0].num - 1];
    fvals *days = &values[F_DOM];
    int kept = 0;
    for (int index = 0; index < days->n; index++)
        if (days->v[index].is_str || days->v[index].num <= longest)
            kept++;
    if (kept == 0)
        return;
    int next = 0;
    for (int index = 0; index < days->n; index++)
        if (days->v[index].is_str || days->v[index].num <= longest)
            days->v[next++] = days->v[index];
    days->n = next;
}

/* cron-parser's checks of the final values, in its order, then 'L' alone in the day of week. */
static int check_fields(pctx *context, const fvals *values)
{
    static const int check_order[F_COUNT] = {F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW};
    for (int index = 0; index < F_COUNT; index++) {
        int rc = check_values(context, check_order[index], &values[check_order[index]]);
        if (rc != 0)
            return rc;
    }
    const fvals *days_of_week = &values[F_DOW];
    for (int index = 0; index < days_of_week->n; index++)
        if (days_of_week->v[index].is_str && strcmp(days_of_week->v[index].str, "L") == 0)
            return fail(context, "CronDayOfWeek Validation error, unexpected standalone L");
    return 0;
}

/* A bit per value of a field that holds numbers only, and its smallest value. */
static uint64_t value_mask(const fvals *values, int *smallest)
{
    uint64_t mask = 0;
    *smallest = 99;
    for (int index = 0; index < values->n; index++) {
        long long value = values->v[index].num;
        mask |= 1ull << value;
        if (value < *smallest)
            *smallest = (int)value;
    }
    return mask;
}

/* Second, minute, hour and month masks, with the smallest second, minute and hour. */
static void set_time_masks(bullc__cron *cron, const fvals *values)
{
    int smallest_month;
    cron->sec = value_mask(&values[F_SEC], &cron->sec_min);
    cron->min = value_mask(&values[F_MIN], &cron->min_min);
    cron->hour = (uint32_t)value_mask(&values[F_HOUR], &cron->hour_min);
    cron->nhours = values[F_HOUR].n;
    cron->month = (uint16_t)value_mask(&values[F_MONTH], &smallest_month);
}

/* The day fields: wildcards, 'L' forms and masks. Returns the smallest day of month given as a
 * number (99 when none is). */
static int set_day_masks(bullc__cron *cron, const char *const raw[F_COUNT], const fvals *values)
{
    cron->dom_wild = strcmp(raw[F_DOM], "*") == 0 || strcmp(raw[F_DOM], "?") == 0;
    cron->dow_wild = strcmp(raw[F_DOW], "*") == 0 || strcmp(raw[F_DOW], "?") == 0;
    cron->dom_last = strchr(raw[F_DOM], 'L') != NULL;
    cron->dow_has_last = strchr(raw[F_DOW], 'L') != NULL;
    int first_day = 99;
    for (int index = 0; index < values[F_DOM].n; index++) {
        const fval *day = &values[F_DOM].v[index];
        if (day->is_str) {
            cron->dom_last = 1;
        } else {
            cron->dom |= 1u << day->num;
            if (day->num < first_day)
                first_day = (int)day->num;
        }
    }
    for (int index = 0; index < values[F_DOW].n; index++) {
        const fval *weekday = &values[F_DOW].v[index];
        if (weekday->is_str) {
            cron->dow_has_last = 1;
            if (isdigit((unsigned char)weekday->str[0]))
                cron->dow_last |= (uint8_t)(1u << ((weekday->str[0] - '0') % 7));
        } else {
            cron->dow |= (uint8_t)(1u << (weekday->num % 7));
            cron->dow_last |= (uint8_t)(1u << (weekday->num % 7));
        }
    }
    return first_day;
}

/* The cron the six fields' texts describe, in *out. */
static int build_cron(pctx *context, const char *const raw[F_COUNT], bullc__cron **out)
{
    bullc__cron *cron = calloc(1, sizeof *cron);
    fvals *values = malloc(sizeof *values * F_COUNT);
    int rc = !cron || !values ? BULLC_ENOMEM : parse_fields(context, raw, values, &cron->nth);
    if (rc == 0) {
        drop_days_past_single_month(values);
        rc = check_fields(context, values);
    }
    if (rc == 0) {
        set_time_masks(cron, values);
        int first_day = set_day_masks(cron, raw, values);
        /* an explicit day of month the single month never has */
        if (values[F_MONTH].n == 1 && !cron->dom_last && cron->dow_wild &&
            first_day > LONGEST_MONTH[values[F_MONTH].v[0].num - 1])
            rc = fail(context, "Invalid explicit day of month definition");
    }
    free(values);
    if (rc == 0)
        *out = cron;
    else
        free(cron);
    return rc;
}

int bullc__cron_parse(const char *expr, int strict, const char *hash_seed, bullc__cron **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    pctx context = {err, errlen, strict, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!expr)
        return fail(&context, "Invalid cron expression");
    context.seed = initial_seed(hash_seed, &context);
    expr = expand_predefined(expr);
    if (strict && !*expr)
        return fail(&context, "Invalid cron expression");
    if (!*expr)
        expr = "0 * * * * *";
    if (strlen(expr) > MAX_EXPR_LEN)
        return fail(&context, "Invalid cron expression, too long, expected at most %d characters",
                    MAX_EXPR_LEN);
    char *copy = bullc__strdup(expr);
    if (!copy)
        return BULLC_ENOMEM;
    char *fields[7];
    const char *raw[F_COUNT];
    int rc = arrange_fields(&context, fields, split_at_js_space(copy, fields), raw);
    if (rc == 0)
        rc = build_cron(&context, raw, out);
    free(copy);
    return rc;
}

/* ---- calendar arithmetic in a zone (luxon's DateTime, reduced to what cron needs) -------- */

typedef struct dt {
    long long ts; /* epoch ms */
    long off;     /* seconds east of UTC at ts */
    long long y;
    int mo, d, h, mi, s, ms;
} dt;

/* Date.UTC with JavaScript's overflow rules (month 13 is January of the next year, ...). */
static long long local_ts(long long y, long long mo, long long d, long long h, long long mi, long long s,
                          long long ms)
{
    long long m0 = mo - 1;
    long long yy = y + (m0 >= 0 ? m0 / 12 : -((-m0 + 11) / 12));
    long long mm = m0 - (yy - y) * 12;
    long long days = bullc__days_from_civil(yy, (int)mm + 1, 1) + d - 1;
    return days * 86400000LL + h * 3600000LL + mi * 60000LL + s * 1000LL + ms;
}

static void fill_fields(dt *t)
{
    long long l = t->ts + (long long)t->off * 1000;
    long long days = l >= 0 ? l / 86400000LL : -((-l + 86399999LL) / 86400000LL);
    long long rem = l - days * 86400000LL;
    bullc__civil_from_days(days, &t->y, &t->mo, &t->d);
    t->h = (int)(rem / 3600000);
    t->mi = (int)(rem / 60000 % 60);
    t->s = (int)(rem / 1000 % 60);
    t->ms = (int)(rem % 1000);
}

static dt dt_from_ms(const bullc__tz *z, long long ms)
{
    dt t;
    t.ts = ms;
    t.off = bullc__tz_offset(z, ms);
    fill_fields(&t);
    return t;
}

/* The UTC time of a local time, guessing with offset o first (luxon's fixOffset). */
static void fix_offset(const bullc__tz *z, long long lts, long o, long long *ts, long *off)
{
    long long guess = lts - (long long)o * 1000;
    long o2 = bullc__tz_offset(z, guess);
    if (o == o2) {
        *ts = guess;
        *off = o;
        return;
    }
    guess -= (long long)(o2 - o) * 1000;
    long o3 = bullc__tz_offset(z, guess);
    if (o2 == o3) {
        *ts = guess;
        *off = o2;
        return;
    }
    *ts = lts - (long long)(o2 < o3 ? o2 : o3) * 1000;
    *off = o2 > o3 ? o2 : o3;
}

static void dt_set_local(const bullc__tz *z, dt *t, long long y, long long mo, long long d, long long h,
                         long long mi, long long s, long long ms)
{
    fix_offset(z, local_ts(y, mo, d, h, mi, s, ms), t->off, &t->ts, &t->off);
    fill_fields(t);
}

/* set({field: v}) for hour, minute, second or millisecond (the day is clamped, as luxon does). */
enum { U_HOUR, U_MIN, U_SEC, U_MS };
static void dt_set(const bullc__tz *z, dt *t, int unit, int v)
{
    int h = t->h, mi = t->mi, s = t->s, ms = t->ms;
    switch (unit) {
    case U_HOUR: h = v; break;
    case U_MIN: mi = v; break;
    case U_SEC: s = v; break;
    default: ms = v; break;
    }
    int dim = bullc__days_in_month(t->y, t->mo);
    dt_set_local(z, t, t->y, t->mo, t->d < dim ? t->d : dim, h, mi, s, ms);
}

static void dt_plus_ms(const bullc__tz *z, dt *t, long long ms)
{
    long long ts;
    long off;
    fix_offset(z, local_ts(t->y, t->mo, t->d, t->h, t->mi, t->s, t->ms), t->off, &ts, &off);
    t->ts = ts + ms;
    t->off = bullc__tz_offset(z, t->ts);
    fill_fields(t);
}

/* plus({months}) / plus({days}): calendar fields, then the offset fixed up. */
static void dt_plus_cal(const bullc__tz *z, dt *t, int months, int days)
{
    long long mo = t->mo + months;
    long long y = t->y;
    long long m0 = mo - 1;
    long long yy = y + (m0 >= 0 ? m0 / 12 : -((-m0 + 11) / 12));
    int mm = (int)(m0 - (yy - y) * 12) + 1;
    int dim = bullc__days_in_month(yy, mm);
    long long d = (t->d < dim ? t->d : dim) + days;
    dt_set_local(z, t, y, mo, d, t->h, t->mi, t->s, t->ms);
}

enum { SO_MONTH, SO_DAY, SO_HOUR, SO_MINUTE };
static void dt_start_of(const bullc__tz *z, dt *t, int unit)
{
    long long d = t->d;
    int h = t->h, mi = t->mi;
    if (unit == SO_MONTH)
        d = 1;
    if (unit <= SO_DAY)
        h = 0;
    if (unit <= SO_HOUR)
        mi = 0;
    if (unit != SO_MONTH) {
        int dim = bullc__days_in_month(t->y, t->mo);
        if (d > dim)
            d = dim;
    }
    dt_set_local(z, t, t->y, t->mo, d, h, mi, 0, 0);
}

/* ---- the iterator (cron-parser's CronDate + CronExpression.next) ------------------------ */

struct bullc__cron_iter {
    const bullc__cron *c;
    const bullc__tz *z;
    dt cur;
    int dst_start, dst_landing, dst_end; /* -1 = none */
    int has_start, has_end;
    long long start_ms, end_ms;
};

/* ---- the step operations of CronDate --------------------------------------------------- */

enum { OP_MONTH, OP_DAY, OP_HOUR, OP_MINUTE, OP_SECOND };

static void apply_op(bullc__cron_iter *it, int op)
{
    const bullc__tz *z = it->z;
    dt *t = &it->cur;
    if (op == OP_MONTH) {
        dt_plus_cal(z, t, 1, 0);
        dt_start_of(z, t, SO_MONTH);
        return;
    }
    if (op == OP_DAY) {
        dt_plus_cal(z, t, 0, 1);
        dt_start_of(z, t, SO_DAY);
        return;
    }
    int prev_h = t->h;
    long prev_off = t->off;
    if (op == OP_HOUR) {
        dt_plus_ms(z, t, 3600000);
        dt_start_of(z, t, SO_HOUR);
    } else if (op == OP_MINUTE) {
        dt_plus_ms(z, t, 60000);
        dt_start_of(z, t, SO_MINUTE);
    } else {
        dt_plus_ms(z, t, 1000);
    }
    int advance = (t->h - prev_h + 24) % 24;
    if (t->off > prev_off && advance >= 2) {
        if (it->c->nhours != 24) {
            it->dst_start = (prev_h + 1) % 24;
            it->dst_landing = t->h;
        }
    } else if (advance == 0 && t->mi == 0 && t->s == 0) {
        if (it->c->nhours != 24)
            it->dst_end = t->h;
    }
}

static int is_leap_y(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int last_day(const dt *t)
{
    return t->mo == 2 ? 29 - (is_leap_y(t->y) ? 0 : 1) : LONGEST_MONTH[t->mo - 1];
}

static int weekday(const dt *t)
{
    long long days = bullc__days_from_civil(t->y, t->mo, t->d);
    return (int)(((days + 4) % 7 + 7) % 7);
}

static int match_day(const bullc__cron *c, const dt *t)
{
    int dom = (c->dom >> t->d) & 1u;
    int matched_dom = dom || (c->dom_last && t->d == last_day(t));
    int wd = weekday(t);
    int nth_ok = c->nth <= 0 || (t->d + 6) / 7 == c->nth;
    int matched_dow = (((c->dow >> wd) & 1u) && nth_ok) ||
                      (c->dow_has_last && t->d > last_day(t) - 7 && ((c->dow_last >> wd) & 1u));
    if (!c->dom_wild && !c->dow_wild && (matched_dom || matched_dow))
        return 1;
    if (matched_dom && c->dow_wild)
        return 1;
    if (c->dom_wild && !c->dow_wild && matched_dow)
        return 1;
    return 0;
}

/* Smallest set bit above v, or -1. */
static int next_bit(uint64_t mask, int v, int max)
{
    for (int i = v + 1; i <= max; i++)
        if ((mask >> i) & 1u)
            return i;
    return -1;
}

static int dst_day(const bullc__cron_iter *it)
{
    dt a = it->cur, b = it->cur;
    dt_start_of(it->z, &a, SO_DAY);
    /* endOf('day') = plus 1 day, startOf day, minus 1 ms */
    dt_plus_cal(it->z, &b, 0, 1);
    dt_start_of(it->z, &b, SO_DAY);
    dt_plus_ms(it->z, &b, -1);
    return a.off != b.off;
}

/* Returns 1 when the hour matches (cron-parser's matchHour, forward only). */
static int match_hour(bullc__cron_iter *it)
{
    const bullc__cron *c = it->c;
    dt *t = &it->cur;
    int h = t->h;
    int is_match = (c->hour >> h) & 1u;
    if (it->dst_start >= 0 && it->dst_landing == h) {
        for (int sk = it->dst_start; sk != h; sk = (sk + 1) % 24)
            if ((c->hour >> sk) & 1u)
                return 1;
    }
    if (it->dst_end == h) {
        it->dst_end = -1;
        apply_op(it, OP_HOUR);
        return 0;
    }
    if (is_match)
        return 1;
    it->dst_start = it->dst_landing = -1;
    int nh = next_bit(c->hour, h, 23);
    if (nh < 0) {
        apply_op(it, OP_DAY);
        return 0;
    }
    if (dst_day(it)) {
        int steps = nh - h;
        for (int i = 0; i < steps; i++) {
            apply_op(it, OP_HOUR);
            if (it->cur.h >= nh)
                break;
        }
    } else {
        dt_set(it->z, t, U_HOUR, nh);
    }
    dt_set(it->z, t, U_MIN, c->min_min);
    dt_set(it->z, t, U_SEC, c->sec_min);
    return 0;
}

int bullc__cron_iter_new(const bullc__cron *c, const bullc__tz *z, long long current_ms,
                         const long long *start_ms, const long long *end_ms, bullc__cron_iter **out)
{
    *out = NULL;
    /* cron-parser throws for an invalid Date; refusing here also keeps the calendar arithmetic
     * far from overflow */
    if (current_ms < -JS_DATE_MAX || current_ms > JS_DATE_MAX ||
        (start_ms && (*start_ms < -JS_DATE_MAX || *start_ms > JS_DATE_MAX)) ||
        (end_ms && (*end_ms < -JS_DATE_MAX || *end_ms > JS_DATE_MAX)))
        return BULLC_EINVAL;
    bullc__cron_iter *it = calloc(1, sizeof *it);
    if (!it)
        return BULLC_ENOMEM;
    it->c = c;
    it->z = z;
    it->dst_start = it->dst_landing = it->dst_end = -1;
    if (start_ms) {
        it->has_start = 1;
        it->start_ms = *start_ms;
    }
    if (end_ms) {
        it->has_end = 1;
        it->end_ms = *end_ms;
    }
    long long cur = current_ms;
    if (it->has_start && cur < it->start_ms)
        cur = it->start_ms;
    else if (it->has_end && cur > it->end_ms)
        cur = it->end_ms;
    it->cur = dt_from_ms(z, cur);
    *out = it;
    return 0;
}

void bullc__cron_iter_free(bullc__cron_iter *it)
{
    free(it);
}

int bullc__cron_iter_next(bullc__cron_iter *it, long long *out_ms, char *err, size_t errlen)
{
    const bullc__cron *c = it->c;
    bullc__cron_iter saved = *it;
    long long start = it->cur.ts;
    if (it->cur.ms > 0) {
        dt_set(it->z, &it->cur, U_MS, 0);
        apply_op(it, OP_SECOND);
    }
    int steps = 0;
    while (++steps < LOOP_LIMIT) {
        dt *t = &it->cur;
        if (t->ts > JS_DATE_MAX) {
            steps = LOOP_LIMIT; /* past the last Date: cron-parser loops until its limit */
            break;
        }
        if ((it->has_start && t->ts < it->start_ms) || (it->has_end && t->ts > it->end_ms)) {
            *it = saved;
            if (err && errlen)
                snprintf(err, errlen, "Out of the time span range");
            return 1;
        }
        if (!((c->month >> t->mo) & 1u)) {
            apply_op(it, OP_MONTH);
            continue;
        }
        if (!match_day(c, t)) {
            apply_op(it, OP_DAY);
            continue;
        }
        if (!match_hour(it))
            continue;
        if (!((c->min >> t->mi) & 1u)) {
            int nm = next_bit(c->min, t->mi, 59);
            if (nm >= 0) {
                dt_set(it->z, t, U_MIN, nm);
                dt_set(it->z, t, U_SEC, c->sec_min);
            } else {
                apply_op(it, OP_HOUR);
                dt_set(it->z, &it->cur, U_MIN, c->min_min);
                dt_set(it->z, &it->cur, U_SEC, c->sec_min);
            }
            continue;
        }
        if (!((c->sec >> t->s) & 1u)) {
            int ns = next_bit(c->sec, t->s, 59);
            if (ns >= 0) {
                dt_set(it->z, t, U_SEC, ns);
            } else {
                apply_op(it, OP_MINUTE);
                dt_set(it->z, &it->cur, U_SEC, c->sec_min);
            }
            continue;
        }
        if (start == t->ts) {
            apply_op(it, OP_SECOND);
            continue;
        }
        break;
    }
    if (steps >= LOOP_LIMIT) {
        *it = saved;
        if (err && errlen)
            snprintf(err, errlen, "Invalid expression, loop limit exceeded");
        return 1;
    }
    *out_ms = it->cur.ts;
    return 0;
}
