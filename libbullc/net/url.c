/* url.c - parses Redis connection URLs (the forms are listed in url.h). */
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
        int h = i + 2 < n ? bullc__hex_digit((unsigned char)s[i + 1]) : -1;
        int l = i + 2 < n ? bullc__hex_digit((unsigned char)s[i + 2]) : -1;
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
    for (size_t i = 0; i < u->nnodes; i++)
        free(u->nodes[i].host);
    free(u->nodes);
    free(u->master);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof *u);
}

/* One host[:port] or [v6][:port] from s[0..n) into a new node of u. 0, BULLC_EURL (reason in
 * err) or BULLC_ENOMEM. */
static int parse_node(bullc__url *u, const char *s, size_t n, int default_port, char *err,
                      size_t errlen)
{
    const char *end = s + n, *hs = s, *he, *p;
    if (n && *s == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return set_err(err, errlen, "unterminated [ in host");
        hs = s + 1;
        he = rb;
        p = rb + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        he = colon ? colon : end;
        p = he;
    }
    if (he == hs)
        return set_err(err, errlen, "missing host");
    int port = default_port;
    if (p < end && (*p != ':' || parse_int_range(p + 1, (size_t)(end - p - 1), 1, 65535, &port) != 0))
        return set_err(err, errlen, "port must be a number from 1 to 65535");
    bullc__hostport *nodes = realloc(u->nodes, (u->nnodes + 1) * sizeof *nodes);
    if (!nodes)
        return BULLC_ENOMEM;
    u->nodes = nodes;
    if (!(nodes[u->nnodes].host = bullc__strndup(hs, (size_t)(he - hs))))
        return BULLC_ENOMEM;
    nodes[u->nnodes++].port = port;
    return 0;
}

/* user:password@ (or a bare password@, as ioredis reads it) from s[0..n). */
static int parse_userinfo(bullc__url *u, const char *s, size_t n, char *err, size_t errlen)
{
    int bad = 0;
    const char *colon = memchr(s, ':', n);
    if (colon) {
        if (colon > s && !(u->user = pct_decode(s, (size_t)(colon - s), &bad)))
            goto fail;
        if (!(u->password = pct_decode(colon + 1, (size_t)(s + n - colon - 1), &bad)))
            goto fail;
    } else if (n > 0 && !(u->password = pct_decode(s, n, &bad))) {
        goto fail;
    }
    return 0;
fail:
    return bad ? set_err(err, errlen, "bad %-escape in user or password") : BULLC_ENOMEM;
}

static const struct {
    const char *prefix;
    int tls, sentinel;
} schemes[] = {
    {"redis://", 0, 0},
    {"rediss://", 1, 0},
    {"redis-sentinel://", 0, 1},
    {"rediss-sentinel://", 1, 1},
};

/* The scheme, and the #master of a sentinel URL; *end is where the rest stops. */
static int parse_scheme(bullc__url *u, const char *url, const char **rest, const char **end,
                        char *err, size_t errlen)
{
    size_t i = 0;
    while (i < BULLC__COUNT(schemes) &&
           strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) != 0)
        i++;
    if (i == BULLC__COUNT(schemes))
        return set_err(err, errlen, "URL must start with redis://, rediss://, "
                                    "redis-sentinel:// or rediss-sentinel://");
    u->tls = schemes[i].tls;
    u->sentinel = schemes[i].sentinel;
    *rest = url + strlen(schemes[i].prefix);
    const char *hash = strchr(*rest, '#');
    *end = hash ? hash : *rest + strlen(*rest);
    if (!u->sentinel)
        return hash ? set_err(err, errlen, "'#' names a sentinel master: only in "
                                           "redis-sentinel:// URLs")
                    : 0;
    if (!hash || !hash[1])
        return set_err(err, errlen, "a sentinel URL ends with #master-name");
    int bad = 0;
    if (!(u->master = pct_decode(hash + 1, strlen(hash + 1), &bad)))
        return bad ? set_err(err, errlen, "bad %-escape in the master name") : BULLC_ENOMEM;
    return 0;
}

static int parse_all(bullc__url *u, const char *url, char *err, size_t errlen)
{
    const char *p = url, *end = url; /* set by parse_scheme (initialised for -O1 warnings) */
    int rc = parse_scheme(u, url, &p, &end, err, errlen);
    if (rc)
        return rc;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash ? slash : end;
    const char *at = NULL; /* the last '@' of the authority: a password may contain '@' */
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    if (at && (rc = parse_userinfo(u, p, (size_t)(at - p), err, errlen)) != 0)
        return rc;
    if (at)
        p = at + 1;
    for (;;) { /* host[:port], comma-separated for sentinels */
        const char *comma = memchr(p, ',', (size_t)(auth_end - p));
        const char *node_end = comma ? comma : auth_end;
        if (comma && !u->sentinel)
            return set_err(err, errlen, "several hosts: only in redis-sentinel:// URLs");
        if ((rc = parse_node(u, p, (size_t)(node_end - p), u->sentinel ? 26379 : 6379, err,
                             errlen)) != 0)
            return rc;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (slash && slash + 1 < end &&
        parse_int_range(slash + 1, (size_t)(end - slash - 1), 0, 1000000, &u->db) != 0)
        return set_err(err, errlen, "database must be a non-negative number");
    return 0;
}

int bullc__url_parse(const char *url, bullc__url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = url ? parse_all(out, url, err, errlen) : set_err(err, errlen, "no URL given");
    if (rc != 0)
        bullc__url_free(out);
    return rc;
}
