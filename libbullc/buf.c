/* buf.c - growable byte buffer with sticky out-of-memory flag, and string helpers. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bullc__buf_init(bullc__buf *b) { memset(b, 0, sizeof *b); }

void bullc__buf_free(bullc__buf *b)
{
    free(b->data);
    bullc__buf_init(b);
}

void bullc__buf_reset(bullc__buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int buf_reserve(bullc__buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void bullc__buf_append(bullc__buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void bullc__buf_puts(bullc__buf *b, const char *s) { bullc__buf_append(b, s, strlen(s)); }

void bullc__buf_printf(bullc__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
        if (n < 0)
            b->oom = 1;
        va_end(ap2);
        return;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

char *bullc__buf_take(bullc__buf *b)
{
    char *p = NULL;
    if (!b->oom) {
        if (!b->data)
            p = bullc__strdup("");
        else
            p = b->data, b->data = NULL;
    }
    bullc__buf_free(b);
    return p;
}

char *bullc__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *bullc__strdup(const char *s) { return s ? bullc__strndup(s, strlen(s)) : NULL; }

long long bullc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bullc__parse_ll(const char *s, size_t n, long long *out)
{
    char tmp[32];
    if (!s || n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end || end == tmp)
        return -1;
    *out = v;
    return 0;
}
