/* server.h - where a handle's Redis is: the one server of a redis:// URL, the master the
 * sentinels name, or the Cluster node that owns the queue's hash slot. Shared by the handle's
 * connections (thread-safe); they ask it where to connect, let it check each new connection,
 * and tell it when a node failed or redirected them, so that the next connect goes to the
 * right place (docs/architecture.md, "Topologies").
 *
 * A Cluster is recognised on the first connection (INFO's cluster_enabled), whatever the URL
 * names: then every key of the queue must hash to one slot, which needs a hash tag ({...}) in
 * the key base; the node owning that slot serves the whole queue. */
#ifndef BULLC_NET_SERVER_H
#define BULLC_NET_SERVER_H

#include "net/sock.h"
#include "net/url.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>

/* bullc__server_check: this node is not the one; connect again (the target has changed). */
#define BULLC__REDIRECT 2

typedef enum bullc__topo {
    BULLC__TOPO_UNKNOWN,    /* redis:// not connected yet: a server or a Cluster node */
    BULLC__TOPO_STANDALONE,
    BULLC__TOPO_CLUSTER,
    BULLC__TOPO_SENTINEL,
} bullc__topo;

typedef struct bullc__server {
    pthread_mutex_t mu;
    bullc__url url;
    bullc__tls *tls;            /* NULL without TLS */
    const bullc__logger *log;
    int connect_timeout_ms;
    char *key_base;             /* every key of the queue starts with it */
    int slot;                   /* its hash slot */
    bullc__topo topo;
    char host[256];             /* where to connect; "" = to be found */
    int port;
    bullc__hostport *nodes;     /* Cluster: the nodes of the last slot map */
    size_t nnodes;
    size_t next_sentinel;       /* the sentinel asked first next time */
    atomic_uint silences;       /* counts connections that stopped answering (the watchdog) */
} bullc__server;

/* Parses the URL, makes the TLS context (rediss:// only), computes the key base's slot.
 * BULLC_EURL, BULLC_ETLS, BULLC_ENOMEM with the reason in err. Free with bullc__server_free
 * whatever the result. */
int bullc__server_init(bullc__server *s, const char *url, const bullc_tls_opts_t *tls,
                       const char *key_base, const bullc__logger *log, int connect_timeout_ms,
                       char *err, size_t errlen);
void bullc__server_free(bullc__server *s);

/* Where to connect now (asks the sentinels or the Cluster when it does not know). 0, or
 * BULLC_ECONNECT / BULLC_ENOMEM with the reason in err. */
int bullc__server_target(bullc__server *s, char *host, size_t hostlen, int *port, char *err,
                         size_t errlen);
/* Checks a connection just opened (and authenticated) to the target: learns the topology on
 * the first one, checks that a sentinel's master is one, that a Cluster node owns the slot.
 * 0: use it; BULLC__REDIRECT: close it and connect again; or BULLC_ECROSSSLOT, BULLC_ECONNECT,
 * BULLC_EIO, BULLC_ENOMEM (reason in err). */
int bullc__server_check(bullc__server *s, bullc__sock *sock, char *err, size_t errlen);
/* host:port failed, or said it is not the one (READONLY, CLUSTERDOWN): find the target again
 * before the next connect (sentinel and Cluster; nothing for a plain server). */
void bullc__server_lost(bullc__server *s, const char *host, int port);
/* The watchdog: a connection got no reply within its deadline. The path to Redis may be dead
 * without a reset (a failed router, a frozen VM): the handle's other connections are replaced
 * before their next use rather than each waiting out its own deadline. */
void bullc__server_silence(bullc__server *s);
static inline unsigned bullc__server_silences(bullc__server *s)
{
    return atomic_load_explicit(&s->silences, memory_order_relaxed);
}
/* A MOVED reply: the slot is now served by host:port. */
void bullc__server_moved(bullc__server *s, const char *host, int port);
/* The TLS context (NULL: plain TCP) and whether SELECT may be sent (not on a Cluster). */
bullc__tls *bullc__server_tls(const bullc__server *s);
int bullc__server_is_cluster(bullc__server *s);

/* The hash slot of a key (Redis Cluster's CRC16 over the hash tag, if any), and whether the
 * key has a hash tag. */
int bullc__key_slot(const char *key, size_t len);
int bullc__key_has_tag(const char *key, size_t len);

#endif
