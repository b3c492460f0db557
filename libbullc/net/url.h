/* url.h - Redis connection URLs:
 *   redis://[[user]:password@]host[:port][/db]            one server (or any node of a cluster)
 *   rediss://...                                          the same over TLS
 *   redis-sentinel://[[user]:password@]h1[:p1],h2[:p2],...[/db]#master
 *   rediss-sentinel://...                                 the same over TLS
 * A host may be an [IPv6] literal. Ports default to 6379 (servers) and 26379 (sentinels); the
 * user and password are for the data nodes, never sent to sentinels. */
#ifndef BULLC_NET_URL_H
#define BULLC_NET_URL_H

#include "util/common.h"

typedef struct bullc__hostport {
    char *host;
    int port;
} bullc__hostport;

typedef struct bullc__url {
    int tls;                 /* rediss:// or rediss-sentinel:// */
    int sentinel;            /* redis-sentinel:// or rediss-sentinel:// */
    bullc__hostport *nodes;  /* the server, or the sentinels (at least one) */
    size_t nnodes;
    char *master;            /* the sentinel master name (after '#'); NULL otherwise */
    char *user;              /* NULL when absent */
    char *password;          /* NULL when absent */
    int db;
} bullc__url;

/* Parses a URL of the forms above. On error returns BULLC_EURL (or BULLC_ENOMEM) and writes a
 * reason into err (if given); *out then holds nothing. */
int bullc__url_parse(const char *url, bullc__url *out, char *err, size_t errlen);
void bullc__url_free(bullc__url *u);

#endif
