/* url.c - parses redis://[[user]:password@]host[:port][/db] connection URLs. */
#include "net/url.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return BULLC_EURL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; on a malformed escape sets *bad, returns NULL. */
static char *pct_decode(const char *s, size_t n, int *bad)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[j++] = s[i];
            continue;
        }
        int h = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int l = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (h < 0 || l < 0 || (h == 0 && l == 0)) { /* %00 would cut the C string short */
            *bad = 1;
            free(out);
            return NULL;
        }
        out[j++] = (char)(h * 16 + l);
        i += 2;
    }
    out[j] = '\0';
    return out;
}

static int parse_int_range(const char *s, size_t n, long lo, long hi, int *out)
{
    long long v;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    if (bullc__parse_ll(s, n, &v) != 0 || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

void bullc__url_free(bullc__url *u)
{
    if (!u)
        return;
    free(u->host);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof *u);
}

int bullc__url_parse(const char *url, bullc__url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url)
        return set_err(err, errlen, "no URL given");
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return set_err(err, errlen, "URL must start with redis://");
    const char *p = url + sizeof scheme - 1;
    const char *end = p + strlen(p);

    /* authority ends at the first '/', or the end */
    const char *slash = strchr(p, '/');
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q; /* last '@' wins: passwords may contain '@' only when escaped, be lenient */

    int bad = 0;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (colon > p && !(out->user = pct_decode(p, (size_t)(colon - p), &bad)))
                goto fail_mem;
            if (!(out->password = pct_decode(colon + 1, (size_t)(at - colon - 1), &bad)))
                goto fail_mem;
        } else if (at > p) {
            /* "redis://secret@host": a bare userinfo is the password, as ioredis reads it */
            if (!(out->password = pct_decode(p, (size_t)(at - p), &bad)))
                goto fail_mem;
        }
        p = at + 1;
    }

    const char *host_end = auth_end;
    const char *hs = p, *he;
    if (*p == '[') { /* [ipv6] */
        const char *rb = memchr(p, ']', (size_t)(auth_end - p));
        if (!rb) {
            bullc__url_free(out);
            return set_err(err, errlen, "unterminated [ in host");
        }
        hs = p + 1;
        he = rb;
        p = rb + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        he = colon ? colon : host_end;
        p = he;
    }
    if (he == hs) {
        bullc__url_free(out);
        return set_err(err, errlen, "missing host");
    }
    if (!(out->host = bullc__strndup(hs, (size_t)(he - hs))))
        goto fail_mem;
    if (p < auth_end) {
        if (*p != ':' ||
            parse_int_range(p + 1, (size_t)(auth_end - p - 1), 1, 65535, &out->port) != 0) {
            bullc__url_free(out);
            return set_err(err, errlen, "port must be a number from 1 to 65535");
        }
    }
    if (slash && slash + 1 < end) {
        if (parse_int_range(slash + 1, (size_t)(end - slash - 1), 0, 1000000, &out->db) != 0) {
            bullc__url_free(out);
            return set_err(err, errlen, "database must be a non-negative number");
        }
    }
    return BULLC_OK;

fail_mem:
    bullc__url_free(out);
    if (bad)
        return set_err(err, errlen, "bad %-escape in user or password");
    return BULLC_ENOMEM;
}
