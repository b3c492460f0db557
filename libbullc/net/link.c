/* link.c - the link interface, and its simplest form: one connection. */
#include "net/link.h"

#include <stdio.h>

int bullc__link_call(bullc__link *l, bullc__cmd *cmd, bullc__reply **reply, char *err,
                     size_t errlen)
{
    return l->exec(l, &cmd, 1, reply, err, errlen);
}

static int conn_exec(bullc__link *self, bullc__cmd *const *cmds, size_t n,
                     bullc__reply **replies, char *err, size_t errlen)
{
    bullc__conn_link *l = (bullc__conn_link *)self;
    int rc = bullc__conn_exec(l->conn, cmds, n, replies);
    if (rc != 0 && err && errlen)
        snprintf(err, errlen, "%s", l->conn->errstr);
    return rc;
}

void bullc__conn_link_init(bullc__conn_link *l, bullc__conn *c)
{
    l->link.exec = conn_exec;
    l->conn = c;
}
