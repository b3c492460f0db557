/* link.h - "run these commands and give me their replies": the one interface through which
 * code above the net layer talks to Redis. A link is either one connection used directly (a
 * queue handle) or something that shares connections between threads (the worker's combiner,
 * which merges the commands of many threads into one round trip). */
#ifndef BULLC_NET_LINK_H
#define BULLC_NET_LINK_H

#include "net/conn.h"

typedef struct bullc__link bullc__link;

struct bullc__link {
    /* Runs cmds[0..n) in order, as one round trip where possible, with the semantics of
     * bullc__conn_exec; `err` receives the detail of a failure. Safe to call from any thread
     * the link's owner allows. */
    int (*exec)(bullc__link *self, bullc__cmd *const *cmds, size_t n, bullc__reply **replies,
                char *err, size_t errlen);
};

/* One command through a link. */
int bullc__link_call(bullc__link *l, bullc__cmd *cmd, bullc__reply **reply, char *err,
                     size_t errlen);

/* A link over one connection, used by one thread at a time. */
typedef struct bullc__conn_link {
    bullc__link link;
    bullc__conn *conn;
} bullc__conn_link;

void bullc__conn_link_init(bullc__conn_link *l, bullc__conn *c);

#endif
