/* url.h - Redis connection URLs. */
#ifndef BULLC_NET_URL_H
#define BULLC_NET_URL_H

#include "util/common.h"

typedef struct bullc__url {
    char *host;
    int port;
    char *user;     /* NULL when absent */
    char *password; /* NULL when absent */
    int db;
} bullc__url;

/* Parses redis://[[user]:password@]host[:port][/db]. On error returns BULLC_EURL (or
 * BULLC_ENOMEM) and writes a reason into err (if given); *out then holds nothing. */
int bullc__url_parse(const char *url, bullc__url *out, char *err, size_t errlen);
void bullc__url_free(bullc__url *u);

#endif
