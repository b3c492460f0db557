/* conn.c - a Redis connection: a socket to the node the server object names, set up on each
 * connect, pipelines with scripts loaded on demand, and the replies that send us elsewhere. */
#include "net/conn.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bullc__conn_init(bullc__conn *c, const bullc__conn_cfg *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    bullc__sock_init(&c->sock);
}

void bullc__conn_close(bullc__conn *c) { bullc__sock_close(&c->sock); }

void bullc__conn_free(bullc__conn *c) { bullc__sock_free(&c->sock); }

static int fail(bullc__conn *c, int code, const char *fmt, const char *detail)
{
    snprintf(c->errstr, sizeof c->errstr, fmt, detail);
    return code;
}

/* After a socket call: when it closed the socket (an I/O failure), the server hears that the
 * node failed, so that a sentinel or Cluster topology is looked up again. */
static int sock_rc(bullc__conn *c, int rc)
{
    if (rc != 0 && rc != BULLC__STOPPED && !bullc__sock_is_open(&c->sock)) {
        bullc__stats_down(c->stats);
        bullc__server_lost(c->cfg.server, c->sock.host, c->sock.port);
        if (c->sock.timed_out)
            bullc__server_silence(c->cfg.server);
    }
    return rc;
}

static long long io_deadline(const bullc__conn *c, long long extra_ms)
{
    if (c->cfg.io_timeout_ms <= 0)
        return 0;
    return bullc__mono_ms() + c->cfg.io_timeout_ms + extra_ms;
}

static int flush_out(bullc__conn *c, long long deadline)
{
    return sock_rc(c, bullc__sock_flush(&c->sock, deadline, c->errstr, sizeof c->errstr));
}

static int read_reply(bullc__conn *c, long long deadline, int stop_fd, bullc__reply **out)
{
    return sock_rc(c, bullc__sock_read(&c->sock, deadline, stop_fd, out, c->errstr,
                                       sizeof c->errstr));
}

/* One setup command on a fresh connection: 0, or err_code with errstr set. */
static int setup_cmd(bullc__conn *c, int err_code, int argc, const char *a0, const char *a1,
                     const char *a2)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, argc, a0, a1, a2);
    bullc__reply *r = NULL;
    int rc = sock_rc(c, bullc__sock_call(&c->sock, &cmd, io_deadline(c, 0), &r, c->errstr,
                                         sizeof c->errstr));
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(c->errstr, sizeof c->errstr, "%.200s:%d: %s: %s", c->sock.host, c->sock.port, a0,
                 r->str);
        rc = err_code;
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}

/* The first command after a TLS handshake got no answer: a server that wants a client
 * certificate checks it only now (TLS 1.3) and closes; say so, since the reset alone does not. */
static void tls_hint(bullc__conn *c)
{
    if (strstr(c->errstr, "TLS:")) /* the server's alert was read: it says it better */
        return;
    size_t n = strlen(c->errstr);
    snprintf(c->errstr + n, sizeof c->errstr - n, "%s",
             " (closed by the server right after the TLS handshake: does it require a client "
             "certificate?)");
}

/* Connects to where the server says and sets the connection up; the server may send us
 * elsewhere (a Cluster node that does not own the slot): then once more. */
static int connect_once(bullc__conn *c)
{
    bullc__server *srv = c->cfg.server;
    const bullc__url *u = &srv->url;
    char host[256];
    int port, rc;
    for (int hops = 0;; hops++) {
        if ((rc = bullc__server_target(srv, host, sizeof host, &port, c->errstr,
                                       sizeof c->errstr)) != 0)
            return rc;
        long long deadline =
            c->cfg.connect_timeout_ms > 0 ? bullc__mono_ms() + c->cfg.connect_timeout_ms : 0;
        rc = bullc__sock_open(&c->sock, host, port, bullc__server_tls(srv), deadline, c->errstr,
                              sizeof c->errstr);
        if (rc == BULLC_ECONNECT)
            bullc__server_lost(srv, host, port);
        if (rc == 0 && u->password)
            rc = u->user ? setup_cmd(c, BULLC_EAUTH, 3, "AUTH", u->user, u->password)
                         : setup_cmd(c, BULLC_EAUTH, 2, "AUTH", u->password, NULL);
        if (rc == 0)
            rc = sock_rc(c, bullc__server_check(srv, &c->sock, c->errstr, sizeof c->errstr));
        if (rc == BULLC_EIO && bullc__server_tls(srv))
            tls_hint(c);
        if (rc != BULLC__REDIRECT || hops == 3)
            break;
        bullc__sock_close(&c->sock);
    }
    if (rc == BULLC__REDIRECT)
        rc = fail(c, BULLC_ECONNECT, "%s", "the Cluster keeps redirecting; will retry");
    if (rc == 0 && u->db != 0 && !bullc__server_is_cluster(srv)) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        rc = setup_cmd(c, BULLC_ECONNECT, 2, "SELECT", db, NULL);
    }
    if (rc == 0 && c->cfg.client_name)
        rc = setup_cmd(c, BULLC_ECONNECT, 3, "CLIENT", "SETNAME", c->cfg.client_name);
    return rc;
}

int bullc__conn_ensure(bullc__conn *c)
{
    unsigned silences = bullc__server_silences(c->cfg.server);
    if (bullc__sock_is_open(&c->sock)) {
        if (silences == c->silences)
            return 0;
        /* another connection of the handle stopped hearing from Redis: this one, opened
         * before, probably goes the same dead way; replace it now rather than find out */
        bullc__log(c->cfg.log, BULLC_LOG_DEBUG, "%s: replaced after another went silent",
                   c->cfg.label ? c->cfg.label : "connection");
        bullc__sock_close(&c->sock);
    }
    c->silences = silences;
    int rc = connect_once(c);
    if (rc != 0) {
        if (rc == BULLC_EIO || rc == BULLC_EPROTO)
            rc = BULLC_ECONNECT;
        bullc__sock_close(&c->sock);
        c->failures++;
        bullc__stats_down(c->stats);
        return rc;
    }
    c->generation++;
    bullc__stats_connected(c->stats, c->generation > 1);
    c->nloaded = 0; /* a new connection may reach a server that lost its scripts */
    if (c->failures)
        bullc__log(c->cfg.log, BULLC_LOG_INFO, "%s: reconnected to Redis at %s:%d",
                   c->cfg.label ? c->cfg.label : "connection", c->sock.host, c->sock.port);
    c->failures = 0;
    return 0;
}

/* A MOVED reply ("MOVED slot host:port"; an empty host is the node that answered) tells the
 * server where the slot went. */
static void follow_moved(bullc__conn *c, const bullc__reply *r)
{
    const char *addr = strrchr(r->str, ' ');
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port <= 0 || port > 65535) {
        bullc__server_lost(c->cfg.server, c->sock.host, c->sock.port);
        return;
    }
    char host[256];
    if (colon == addr + 1)
        snprintf(host, sizeof host, "%s", c->sock.host);
    else
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr - 1), addr + 1);
    bullc__server_moved(c->cfg.server, host, (int)port);
}

/* Replies that say "not now" (LOADING, BUSY, MASTERDOWN, TRYAGAIN, ASK: a slot half migrated)
 * or "not here" (MOVED; READONLY, UNBLOCKED: a master turned replica; CLUSTERDOWN): BULLC_EIO
 * with errstr set, and "not here" also closes the connection and sends the next connect
 * elsewhere. 0 for any other reply. */
static int unusable_reply(bullc__conn *c, const bullc__reply *r)
{
    if (!r || r->type != BULLC__R_ERROR)
        return 0;
    static const char *const later[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "ASK"};
    static const char *const elsewhere[] = {"MOVED", "READONLY", "UNBLOCKED", "CLUSTERDOWN"};
    for (size_t i = 0; i < BULLC__COUNT(later); i++)
        if (bullc__reply_error_is(r, later[i]))
            return fail(c, BULLC_EIO, "%s", r->str);
    for (size_t i = 0; i < BULLC__COUNT(elsewhere); i++)
        if (bullc__reply_error_is(r, elsewhere[i])) {
            snprintf(c->errstr, sizeof c->errstr, "%.200s:%d: %s", c->sock.host, c->sock.port, r->str);
            if (i == 0)
                follow_moved(c, r);
            else
                bullc__server_lost(c->cfg.server, c->sock.host, c->sock.port);
            bullc__sock_close(&c->sock);
            return BULLC_EIO;
        }
    return 0;
}

/* 1 when this connection has sent `s` as EVAL (so the server has it); else remembers that it
 * is about to (when there is room to remember). */
static int script_known(bullc__conn *c, const bullc__script *s)
{
    for (int i = 0; i < c->nloaded; i++)
        if (c->loaded[i] == s)
            return 1;
    if (c->nloaded < (int)BULLC__COUNT(c->loaded))
        c->loaded[c->nloaded++] = s;
    return 0;
}

/* Writes cmds[i] for each i with todo[i] set (all when todo is NULL): a script as EVAL when
 * `eval` or the first time this connection sends it, else as EVALSHA. */
static int send_cmds(bullc__conn *c, bullc__cmd *const *cmds, size_t n, const char *todo, int eval)
{
    for (size_t i = 0; i < n; i++)
        if (!todo || todo[i])
            bullc__cmd_write(cmds[i], &c->sock.out,
                             cmds[i]->script && (!script_known(c, cmds[i]->script) || eval));
    if (c->sock.out.oom) {
        bullc__buf_reset(&c->sock.out);
        return fail(c, BULLC_ENOMEM, "%s", "out of memory");
    }
    return flush_out(c, io_deadline(c, 0));
}

static int read_replies(bullc__conn *c, size_t n, const char *todo, bullc__reply **replies)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!todo || todo[i])
            rc = read_reply(c, io_deadline(c, 0), -1, &replies[i]);
    return rc;
}

static void free_replies(bullc__reply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bullc__reply_free(replies[i]);
        replies[i] = NULL;
    }
}

int bullc__conn_send(bullc__conn *c, bullc__cmd *const *cmds, size_t n)
{
    int rc = bullc__conn_ensure(c);
    return rc ? rc : send_cmds(c, cmds, n, NULL, 0);
}

/* Scripts the server lost (restart, SCRIPT FLUSH) answer NOSCRIPT: sent again as EVAL, which
 * loads them. */
static int resend_lost_scripts(bullc__conn *c, bullc__cmd *const *cmds, size_t n,
                               bullc__reply **replies)
{
    char small[32];
    char *todo = n <= sizeof small ? small : malloc(n);
    if (!todo)
        return fail(c, BULLC_ENOMEM, "%s", "out of memory");
    size_t again = 0;
    for (size_t i = 0; i < n; i++) {
        todo[i] = cmds[i]->script && bullc__reply_error_is(replies[i], "NOSCRIPT");
        if (todo[i])
            c->nloaded = 0; /* SCRIPT FLUSH: every script is to be loaded again */
        if (todo[i]) {
            bullc__reply_free(replies[i]);
            replies[i] = NULL;
            again++;
        }
    }
    int rc = 0;
    if (again && (rc = send_cmds(c, cmds, n, todo, 1)) == 0)
        rc = read_replies(c, n, todo, replies);
    if (todo != small)
        free(todo);
    return rc;
}

/* With another pipeline sent after this one, commands cannot be sent again in between: a
 * script found missing fails its pipeline as a lost connection would (its senders retry), and
 * the next pipeline sent loads every script it uses. */
static int lost_scripts_behind(bullc__conn *c, bullc__cmd *const *cmds, size_t n,
                               bullc__reply **replies)
{
    for (size_t i = 0; i < n; i++)
        if (cmds[i]->script && bullc__reply_error_is(replies[i], "NOSCRIPT")) {
            c->nloaded = 0; /* the next sends load them again */
            return fail(c, BULLC_EIO, "%s", "the server lost our scripts; sending them again");
        }
    return 0;
}

int bullc__conn_recv(bullc__conn *c, bullc__cmd *const *cmds, size_t n, bullc__reply **replies,
                     int more_sent)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    int rc = read_replies(c, n, NULL, replies);
    if (rc == 0)
        rc = more_sent ? lost_scripts_behind(c, cmds, n, replies)
                       : resend_lost_scripts(c, cmds, n, replies);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = unusable_reply(c, replies[i]);
    if (rc != 0)
        free_replies(replies, n);
    if (rc == 0)
        bullc__stats_up(c->stats);
    return rc;
}

int bullc__conn_exec(bullc__conn *c, bullc__cmd *const *cmds, size_t n, bullc__reply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    int rc = bullc__conn_send(c, cmds, n);
    return rc ? rc : bullc__conn_recv(c, cmds, n, replies, 0);
}

int bullc__conn_wait(bullc__conn *c, int wake_fd)
{
    return bullc__sock_wait(&c->sock, io_deadline(c, 0), wake_fd);
}

int bullc__conn_block(bullc__conn *c, bullc__cmd *cmd, long long timeout_ms, int stop_fd,
                      bullc__reply **reply)
{
    *reply = NULL;
    int rc = bullc__conn_ensure(c);
    if (rc != 0)
        return rc;
    bullc__cmd_write(cmd, &c->sock.out, 0);
    if (c->sock.out.oom) {
        bullc__buf_reset(&c->sock.out);
        return fail(c, BULLC_ENOMEM, "%s", "out of memory");
    }
    /* the watchdog: a reply later than the command's own timeout plus the io timeout (or one
     * second without one, as Node) means the connection died without a reset */
    long long grace = c->cfg.io_timeout_ms > 0 ? c->cfg.io_timeout_ms : 1000;
    long long deadline = bullc__mono_ms() + timeout_ms + grace;
    if ((rc = flush_out(c, deadline)) != 0)
        return rc;
    rc = read_reply(c, deadline, stop_fd, reply);
    if (rc == BULLC__STOPPED)
        bullc__conn_close(c); /* the pending reply would be stale */
    if (rc == 0 && (rc = unusable_reply(c, *reply)) == 0 && (*reply)->type == BULLC__R_ERROR) {
        /* the wait itself was refused (NOPERM, WRONGTYPE): a failed wait, retried after a
         * backoff like a lost connection, never a wake-up that leads straight to a fetch */
        snprintf(c->errstr, sizeof c->errstr, "%.200s:%d: %s", c->sock.host, c->sock.port,
                 (*reply)->str);
        rc = BULLC_EPROTO;
    }
    if (rc != 0) {
        bullc__reply_free(*reply);
        *reply = NULL;
    }
    if (rc == 0)
        bullc__stats_up(c->stats);
    return rc;
}

int bullc__conn_read(bullc__conn *c, bullc__reply **reply)
{
    *reply = NULL;
    long long grace = c->cfg.io_timeout_ms > 0 ? c->cfg.io_timeout_ms : 5000;
    int rc = read_reply(c, bullc__mono_ms() + grace, -1, reply);
    if (rc == 0)
        bullc__stats_up(c->stats);
    return rc;
}

int bullc__backoff_ms(int failures, unsigned *seed)
{
    int base = 100;
    for (int i = 1; i < failures && base < 5000; i++)
        base *= 2;
    if (base > 5000)
        base = 5000;
    /* +-25% jitter so that many workers do not reconnect in lockstep */
    int span = base / 2;
    return base - span / 2 + (span ? (int)(rand_r(seed) % (unsigned)span) : 0);
}
