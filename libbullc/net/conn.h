/* conn.h - one connection to Redis: a socket (sock.h) to the node the handle's server says
 * (server.h), AUTH/SELECT/CLIENT SETNAME on each connect, pipelines of commands with scripts
 * loaded on demand, blocking commands that a stop descriptor can interrupt, and the replies
 * that mean "go elsewhere" or "later" (MOVED, READONLY, CLUSTERDOWN, TRYAGAIN, ...). Not
 * thread-safe: one thread uses a connection at a time. */
#ifndef BULLC_NET_CONN_H
#define BULLC_NET_CONN_H

#include "net/server.h"
#include "util/stats.h"

typedef struct bullc__conn_cfg {
    bullc__server *server;   /* where to connect (shared by the handle's connections) */
    const bullc__logger *log;
    const char *label;       /* for log lines, e.g. "blocking connection" */
    const char *client_name; /* CLIENT SETNAME on each connect, or NULL */
    int connect_timeout_ms;  /* 0 = the operating system's */
    int io_timeout_ms;       /* longest wait for a reply (beyond a blocking command's own
                                timeout) before the connection counts as dead; 0 = none */
} bullc__conn_cfg;

typedef struct bullc__conn {
    bullc__conn_cfg cfg;
    bullc__sock sock;
    int failures;      /* consecutive failed connects */
    const bullc__script *loaded[32]; /* scripts this connection has sent as EVAL since it
                                        connected: sent as EVALSHA from then on */
    int nloaded;
    unsigned generation; /* counts connects: a pipeline sent on an earlier one has no replies */
    unsigned silences;   /* the server's count of silent connections when this one connected */
    char errstr[256];  /* detail of the last failure */
    bullc__stats *stats; /* a worker's: connects and failures are counted there; or NULL (set
                            after bullc__conn_init) */
} bullc__conn;

void bullc__conn_init(bullc__conn *c, const bullc__conn_cfg *cfg);
/* Connects (and authenticates, selects, names) unless connected. 0, or BULLC_ECONNECT,
 * BULLC_EAUTH, BULLC_ETLS, BULLC_ECROSSSLOT, BULLC_ENOMEM with errstr set. */
int bullc__conn_ensure(bullc__conn *c);
void bullc__conn_close(bullc__conn *c);
/* Frees the connection's memory (closing it). */
void bullc__conn_free(bullc__conn *c);

/* Sends `n` commands as one pipeline and reads one reply per command into replies[] (free each
 * with bullc__reply_free). Scripts go as EVALSHA; those the server does not have are sent again
 * as EVAL. A Redis error is a reply like any other (type BULLC__R_ERROR), except those that
 * mean "try later" (LOADING, BUSY, MASTERDOWN, TRYAGAIN, ASK) or "not here" (MOVED, READONLY,
 * CLUSTERDOWN; the connection is then closed and the server told): then no reply is kept and
 * BULLC_EIO is returned. Connects first if needed. Returns 0, BULLC_EIO (the connection was lost or timed
 * out, and is closed), BULLC_ECONNECT/BULLC_EAUTH, or BULLC_ENOMEM; errstr has the detail. */
int bullc__conn_exec(bullc__conn *c, bullc__cmd *const *cmds, size_t n, bullc__reply **replies);
/* bullc__conn_exec in two halves, so that several pipelines can be in flight: send writes the
 * commands (connecting first if needed); recv reads the replies of the oldest pipeline sent.
 * A script goes as EVAL the first time a connection sends it, as EVALSHA after that. Pass
 * more_sent when another pipeline was sent after this one: then a script the server lost since
 * (SCRIPT FLUSH) cannot be sent again in between, and recv fails with BULLC_EIO instead (the
 * next sends load the scripts again). On failure of either half the connection is closed;
 * pipelines still in flight then fail too. */
int bullc__conn_send(bullc__conn *c, bullc__cmd *const *cmds, size_t n);
int bullc__conn_recv(bullc__conn *c, bullc__cmd *const *cmds, size_t n, bullc__reply **replies,
                     int more_sent);
/* Waits until a reply can be read (1; also when the connection failed: recv reports it) or
 * `wake_fd` becomes readable (0). */
int bullc__conn_wait(bullc__conn *c, int wake_fd);
/* Sends a blocking command (BZPOPMIN ... timeout) and waits for its reply: at most timeout_ms
 * plus the io timeout (a later reply means a dead connection: BULLC_EIO), and only until
 * `stop_fd` becomes readable (BULLC__STOPPED; the connection is then closed, since a reply is
 * still pending). An error reply (NOPERM, WRONGTYPE) is a failure too: BULLC_EPROTO, its text
 * in errstr. */
int bullc__conn_block(bullc__conn *c, bullc__cmd *cmd, long long timeout_ms, int stop_fd,
                      bullc__reply **reply);

/* Reads one reply the server sends unasked (a pub/sub message), once bullc__sock_poll said one
 * is there: within the io timeout (5 s without one). 0, BULLC_EIO (lost, closed; the server is
 * told as for any lost connection) or BULLC_ENOMEM, errstr set. */
int bullc__conn_read(bullc__conn *c, bullc__reply **reply);

/* Delay before reconnect attempt number `failures`: capped exponential backoff with jitter. */
int bullc__backoff_ms(int failures, unsigned *seed);

#endif
