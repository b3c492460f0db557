/* server.c - finds the node a handle's connections go to: the URL's server, the master named
 * by the sentinels, or the Cluster node owning the queue's slot (see server.h). */
#include "net/server.h"
#include "util/buf.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest wait for one sentinel or Cluster query (connect excluded). */
#define BULLC__QUERY_TIMEOUT_MS 3000

/* ---- hash slots --------------------------------------------------------------------------- */

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum Redis Cluster uses. */
static unsigned crc16(const char *p, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)(unsigned char)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
    }
    return crc;
}

/* The hash tag of a key: what is between the first '{' and the first '}' after it, when that
 * is not empty. */
static int hash_tag(const char *key, size_t len, size_t *from, size_t *n)
{
    const char *open = memchr(key, '{', len);
    if (!open)
        return 0;
    size_t at = (size_t)(open - key) + 1;
    const char *close = memchr(key + at, '}', len - at);
    if (!close || close == key + at)
        return 0;
    *from = at;
    *n = (size_t)(close - (key + at));
    return 1;
}

int bullc__key_has_tag(const char *key, size_t len)
{
    size_t from, n;
    return hash_tag(key, len, &from, &n);
}

int bullc__key_slot(const char *key, size_t len)
{
    size_t from = 0, n = len;
    hash_tag(key, len, &from, &n);
    return (int)(crc16(key + from, n) & 16383);
}

/* ---- life --------------------------------------------------------------------------------- */

int bullc__server_init(bullc__server *s, const char *url, const bullc_tls_opts_t *tls,
                       const char *key_base, const bullc__logger *log, int connect_timeout_ms,
                       char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return BULLC_ENOMEM;
    s->log = log;
    s->connect_timeout_ms = connect_timeout_ms;
    if (!(s->key_base = bullc__strdup(key_base)))
        return BULLC_ENOMEM;
    s->slot = bullc__key_slot(key_base, strlen(key_base));
    int rc = bullc__url_parse(url, &s->url, err, errlen);
    if (rc)
        return rc;
    s->topo = s->url.sentinel ? BULLC__TOPO_SENTINEL : BULLC__TOPO_UNKNOWN;
    if (s->url.tls) {
        bullc_tls_opts_t none = {0};
        if ((rc = bullc__tls_new(&s->tls, tls ? tls : &none, err, errlen)) != 0)
            return rc;
    }
    return 0;
}

static void forget_nodes(bullc__server *s)
{
    for (size_t i = 0; i < s->nnodes; i++)
        free(s->nodes[i].host);
    free(s->nodes);
    s->nodes = NULL;
    s->nnodes = 0;
}

void bullc__server_free(bullc__server *s)
{
    forget_nodes(s);
    bullc__tls_free(s->tls);
    bullc__url_free(&s->url);
    free(s->key_base);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

bullc__tls *bullc__server_tls(const bullc__server *s) { return s->tls; }

int bullc__server_is_cluster(bullc__server *s)
{
    pthread_mutex_lock(&s->mu);
    int yes = s->topo == BULLC__TOPO_CLUSTER;
    pthread_mutex_unlock(&s->mu);
    return yes;
}

static void set_target(bullc__server *s, const char *host, int port)
{
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
}

void bullc__server_lost(bullc__server *s, const char *host, int port)
{
    pthread_mutex_lock(&s->mu);
    if ((s->topo == BULLC__TOPO_SENTINEL || s->topo == BULLC__TOPO_CLUSTER) && s->port == port &&
        strcmp(s->host, host) == 0)
        s->host[0] = '\0';
    pthread_mutex_unlock(&s->mu);
}

void bullc__server_silence(bullc__server *s)
{
    atomic_fetch_add_explicit(&s->silences, 1, memory_order_relaxed);
}

void bullc__server_moved(bullc__server *s, const char *host, int port)
{
    pthread_mutex_lock(&s->mu);
    if (s->topo == BULLC__TOPO_UNKNOWN)
        s->topo = BULLC__TOPO_CLUSTER; /* only a Cluster redirects */
    set_target(s, host, port);
    pthread_mutex_unlock(&s->mu);
}

/* ---- queries ------------------------------------------------------------------------------ */

/* Opens a side socket to host:port for one query; `auth`: log in as the URL's user first (a
 * Cluster node; sentinels are asked without the data nodes' credentials). */
static int side_open(bullc__server *s, bullc__sock *k, const char *host, int port, int auth,
                     char *err, size_t errlen)
{
    long long now = bullc__mono_ms();
    long long deadline = s->connect_timeout_ms > 0 ? now + s->connect_timeout_ms : 0;
    int rc = bullc__sock_open(k, host, port, s->tls, deadline, err, errlen);
    if (rc || !auth || !s->url.password)
        return rc;
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    if (s->url.user)
        bullc__cmd_plain(&cmd, 3, "AUTH", s->url.user, s->url.password);
    else
        bullc__cmd_plain(&cmd, 2, "AUTH", s->url.password);
    bullc__reply *r = NULL;
    rc = bullc__sock_call(k, &cmd, now + BULLC__QUERY_TIMEOUT_MS, &r, err, errlen);
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%.200s:%d: AUTH: %s", host, port, r->str);
        rc = BULLC_EAUTH;
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}

/* One plain command on a socket, e.g. (k, reply, 2, "INFO", "cluster"). */
static int query(bullc__sock *k, bullc__reply **r, char *err, size_t errlen, int n,
                 const char *a0, const char *a1, const char *a2)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, n, a0, a1, a2);
    int rc = bullc__sock_call(k, &cmd, bullc__mono_ms() + BULLC__QUERY_TIMEOUT_MS, r, err, errlen);
    bullc__cmd_free(&cmd);
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%s %s: %s", a0, a1 ? a1 : "", (*r)->str);
        bullc__reply_free(*r);
        *r = NULL;
        rc = BULLC_EPROTO;
    }
    return rc;
}

/* "field:value" of an INFO text (value up to the end of its line). */
static int info_field(const bullc__reply *r, const char *field, char *out, size_t outlen)
{
    if (!r || (r->type != BULLC__R_STRING && r->type != BULLC__R_STATUS))
        return -1;
    size_t fl = strlen(field);
    for (const char *p = r->str; p && *p;) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t n = strcspn(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)n, v);
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

/* ---- sentinel ----------------------------------------------------------------------------- */

/* Asks one sentinel for the master's address. */
static int ask_sentinel(bullc__server *s, const bullc__hostport *at, char *err, size_t errlen)
{
    bullc__sock k;
    bullc__sock_init(&k);
    bullc__reply *r = NULL;
    int rc = side_open(s, &k, at->host, at->port, 0, err, errlen);
    if (rc == 0)
        rc = query(&k, &r, err, errlen, 3, "SENTINEL", "get-master-addr-by-name", s->url.master);
    if (rc == 0) {
        long long port;
        if (r->type == BULLC__R_ARRAY && r->elements == 2 &&
            r->element[0]->type == BULLC__R_STRING && bullc__reply_ll(r->element[1], &port) == 0 &&
            port > 0 && port < 65536) {
            set_target(s, r->element[0]->str, (int)port);
        } else {
            snprintf(err, errlen, "sentinel %s:%d does not know a master named \"%s\"", at->host,
                     at->port, s->url.master);
            rc = BULLC_ECONNECT;
        }
    }
    bullc__reply_free(r);
    bullc__sock_free(&k);
    return rc;
}

static int find_master(bullc__server *s, char *err, size_t errlen)
{
    char last[256] = "";
    size_t n = s->url.nnodes;
    for (size_t i = 0; i < n; i++) {
        size_t at = (s->next_sentinel + i) % n;
        if (ask_sentinel(s, &s->url.nodes[at], last, sizeof last) == 0) {
            s->next_sentinel = at; /* it answered: ask it first next time */
            return 0;
        }
    }
    snprintf(err, errlen, "no sentinel named the master \"%s\" (last: %s)", s->url.master, last);
    return BULLC_ECONNECT;
}

/* ---- cluster ------------------------------------------------------------------------------ */

static int add_node(bullc__hostport **nodes, size_t *n, const char *host, int port)
{
    for (size_t i = 0; i < *n; i++)
        if ((*nodes)[i].port == port && strcmp((*nodes)[i].host, host) == 0)
            return 0;
    bullc__hostport *grown = realloc(*nodes, (*n + 1) * sizeof *grown);
    if (!grown)
        return BULLC_ENOMEM;
    *nodes = grown;
    if (!(grown[*n].host = bullc__strdup(host)))
        return BULLC_ENOMEM;
    grown[(*n)++].port = port;
    return 0;
}

/* A node entry of CLUSTER SLOTS ([host, port, id, ...]); an empty host means "the node you
 * asked" (Redis 7 with an unknown endpoint). */
static int node_of(const bullc__reply *e, const bullc__sock *asked, const char **host, int *port)
{
    long long p;
    if (e->type != BULLC__R_ARRAY || e->elements < 2 || e->element[0]->type != BULLC__R_STRING ||
        bullc__reply_ll(e->element[1], &p) != 0 || p <= 0 || p > 65535)
        return -1;
    *host = e->element[0]->len ? e->element[0]->str : asked->host;
    *port = (int)p;
    return 0;
}

/* Reads a CLUSTER SLOTS reply: every node into the node list, the slot's master into the
 * target. */
static int read_slot_map(bullc__server *s, const bullc__reply *r, const bullc__sock *asked,
                         char *err, size_t errlen)
{
    bullc__hostport *nodes = NULL;
    size_t n = 0;
    int rc = 0, found = 0;
    for (size_t i = 0; rc == 0 && r->type == BULLC__R_ARRAY && i < r->elements; i++) {
        const bullc__reply *range = r->element[i];
        long long lo, hi;
        if (range->type != BULLC__R_ARRAY || range->elements < 3 ||
            bullc__reply_ll(range->element[0], &lo) != 0 ||
            bullc__reply_ll(range->element[1], &hi) != 0)
            continue;
        for (size_t k = 2; rc == 0 && k < range->elements; k++) {
            const char *host;
            int port;
            if (node_of(range->element[k], asked, &host, &port) != 0)
                continue;
            rc = add_node(&nodes, &n, host, port);
            if (k == 2 && s->slot >= lo && s->slot <= hi) {
                set_target(s, host, port);
                found = 1;
            }
        }
    }
    if (rc == 0 && !found) {
        snprintf(err, errlen, "no Cluster node serves slot %d (of \"%s\") yet", s->slot,
                 s->key_base);
        rc = BULLC_ECONNECT;
    }
    if (rc == 0) {
        forget_nodes(s);
        s->nodes = nodes;
        s->nnodes = n;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        free(nodes[i].host);
    free(nodes);
    return rc;
}

static int slot_map_from(bullc__server *s, bullc__sock *k, char *err, size_t errlen)
{
    bullc__reply *r = NULL;
    int rc = query(k, &r, err, errlen, 2, "CLUSTER", "SLOTS", NULL);
    if (rc == 0)
        rc = read_slot_map(s, r, k, err, errlen);
    bullc__reply_free(r);
    return rc;
}

/* Asks the known nodes (then the URL's) for the slot map until one answers. */
static int refresh_slot_map(bullc__server *s, char *err, size_t errlen)
{
    char last[256] = "";
    size_t n = s->nnodes;
    for (size_t i = 0; i <= n; i++) {
        const bullc__hostport *at = i < n ? &s->nodes[i] : &s->url.nodes[0];
        bullc__sock k;
        bullc__sock_init(&k);
        int rc = side_open(s, &k, at->host, at->port, 1, last, sizeof last);
        if (rc == 0)
            rc = slot_map_from(s, &k, last, sizeof last);
        bullc__sock_free(&k);
        if (rc == 0 || rc == BULLC_ENOMEM || rc == BULLC_EAUTH) {
            if (rc)
                snprintf(err, errlen, "%s", last);
            return rc;
        }
    }
    snprintf(err, errlen, "no Cluster node gave the slot map (last: %s)", last);
    return BULLC_ECONNECT;
}

/* ---- the two questions -------------------------------------------------------------------- */

int bullc__server_target(bullc__server *s, char *host, size_t hostlen, int *port, char *err,
                         size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (!s->host[0]) {
        if (s->topo == BULLC__TOPO_SENTINEL)
            rc = find_master(s, err, errlen);
        else if (s->topo == BULLC__TOPO_CLUSTER)
            rc = refresh_slot_map(s, err, errlen);
        else
            set_target(s, s->url.nodes[0].host, s->url.nodes[0].port);
    }
    if (rc == 0) {
        snprintf(host, hostlen, "%s", s->host);
        *port = s->port;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* First connection of a redis:// URL: a Cluster node or a plain server? */
static int learn_topology(bullc__server *s, bullc__sock *k, char *err, size_t errlen)
{
    bullc__reply *r = NULL;
    char enabled[8] = "0";
    int rc = query(k, &r, err, errlen, 2, "INFO", "cluster", NULL);
    if (rc == 0)
        info_field(r, "cluster_enabled", enabled, sizeof enabled);
    bullc__reply_free(r);
    if (rc)
        return rc;
    if (strcmp(enabled, "1") != 0) {
        s->topo = BULLC__TOPO_STANDALONE;
        return 0;
    }
    if (!bullc__key_has_tag(s->key_base, strlen(s->key_base))) {
        snprintf(err, errlen,
                 "Redis is a Cluster and the queue's keys (\"%s...\") have no hash tag, so they "
                 "would span slots: use a hash tag in the queue name or prefix, such as {events}",
                 s->key_base);
        return BULLC_ECROSSSLOT;
    }
    s->topo = BULLC__TOPO_CLUSTER;
    if ((rc = slot_map_from(s, k, err, errlen)) != 0)
        return rc;
    bullc__log(s->log, BULLC_LOG_INFO, "Redis Cluster: slot %d (\"%s\") is served by %s:%d",
               s->slot, s->key_base, s->host, s->port);
    return s->port == k->port && strcmp(s->host, k->host) == 0 ? 0 : BULLC__REDIRECT;
}

/* A sentinel's master must say it is one (it may have been demoted since the sentinels
 * answered). */
static int check_master(bullc__server *s, bullc__sock *k, char *err, size_t errlen)
{
    bullc__reply *r = NULL;
    char role[32] = "";
    int rc = query(k, &r, err, errlen, 2, "INFO", "replication", NULL);
    if (rc == 0)
        info_field(r, "role", role, sizeof role);
    bullc__reply_free(r);
    if (rc == 0 && strcmp(role, "master") != 0) {
        snprintf(err, errlen, "%.200s:%d is not a master (role: %s); asking the sentinels again",
                 k->host, k->port, role[0] ? role : "unknown");
        s->host[0] = '\0';
        rc = BULLC_ECONNECT;
    }
    return rc;
}

int bullc__server_check(bullc__server *s, bullc__sock *sock, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->topo == BULLC__TOPO_UNKNOWN)
        rc = learn_topology(s, sock, err, errlen);
    else if (s->topo == BULLC__TOPO_SENTINEL)
        rc = check_master(s, sock, err, errlen);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
