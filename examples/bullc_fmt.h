/* bullc_fmt.h - the pure helpers of the bullc tool (examples/bullc.c): how an event's value is
 * printed and how numeric arguments are read. Header-only, so tests/unit can test them alone. */
#ifndef BULLC_FMT_H
#define BULLC_FMT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value may be printed bare when it is not empty and made only of bytes above 0x20 other than
 * '"', '\' and 0x7f; otherwise it is printed as a JSON string. */
static inline int bullc_fmt_is_bare(const char *v)
{
    if (!v || !*v)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
            return 0;
    return 1;
}

/* Writes v as a JSON string (quotes included) to f: '"', '\', and control bytes escaped. */
static inline void bullc_fmt_json_string(FILE *f, const char *v)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* An event value as the `events` command prints it. */
static inline void bullc_fmt_value(FILE *f, const char *v)
{
    if (bullc_fmt_is_bare(v))
        fputs(v, f);
    else
        bullc_fmt_json_string(f, v ? v : "");
}

/* A whole decimal integer (optional '-') into *out: 0, or -1 when s is not one. */
static inline int bullc_fmt_ll(const char *s, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    *out = v;
    return 0;
}

#endif
