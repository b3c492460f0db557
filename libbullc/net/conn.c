/* conn.c - a Redis connection on our own non-blocking socket: connect with a deadline, write
 * and read with deadlines, hiredis's reader for the protocol, scripts loaded on demand. */
#include "net/conn.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Keep-alive probes: first after 15 s idle, then every 5 s, 3 misses (plus our own deadlines). */
enum { KEEPIDLE_S = 15, KEEPINTVL_S = 5, KEEPCNT = 3 };

void bullc__conn_init(bullc__conn *c, const bullc__conn_cfg *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->fd = -1;
    bullc__buf_init(&c->out);
}

void bullc__conn_close(bullc__conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->reader)
        redisReaderFree(c->reader);
    c->reader = NULL;
    bullc__buf_reset(&c->out);
}

void bullc__conn_free(bullc__conn *c)
{
    bullc__conn_close(c);
    bullc__buf_free(&c->out);
}

static int fail(bullc__conn *c, int code, const char *fmt, const char *detail)
{
    snprintf(c->errstr, sizeof c->errstr, fmt, detail);
    return code;
}

/* Closes the connection after an I/O failure. */
static int lost(bullc__conn *c, const char *what)
{
    int e = errno;
    snprintf(c->errstr, sizeof c->errstr, "%s: %s", what, e ? strerror(e) : "connection closed");
    bullc__conn_close(c);
    return BULLC_EIO;
}

/* Waits until fd is ready for `events`, the monotonic `deadline` (0 = none) passes, or stop_fd
 * is readable. 0 ready, BULLC__STOPPED, or -1 timed out (errno ETIMEDOUT) / failed. */
static int wait_fd(int fd, short events, long long deadline, int stop_fd)
{
    for (;;) {
        struct pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
        int timeout = -1;
        if (deadline > 0) {
            long long left = deadline - bullc__mono_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            timeout = left > 60000 ? 60000 : (int)left;
        }
        int n = poll(p, stop_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (stop_fd >= 0 && p[1].revents)
            return BULLC__STOPPED;
        if (p[0].revents)
            return 0;
    }
}

static void set_keepalive(int fd)
{
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
#ifdef TCP_KEEPIDLE
    int idle = KEEPIDLE_S, intvl = KEEPINTVL_S, cnt = KEEPCNT;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
#endif
}

/* A non-blocking connect to one address, finished within the deadline. fd or -1 (errno). */
static int connect_addr(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline, -1) != 0)
            goto fail;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            errno = err ? err : errno;
            goto fail;
        }
    }
    set_keepalive(fd);
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static int open_socket(bullc__conn *c)
{
    const bullc__url *u = c->cfg.url;
    char port[16];
    snprintf(port, sizeof port, "%d", u->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(u->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(c->errstr, sizeof c->errstr, "%s:%d: %s", u->host, u->port, gai_strerror(gai));
        return BULLC_ECONNECT;
    }
    long long deadline =
        c->cfg.connect_timeout_ms > 0 ? bullc__mono_ms() + c->cfg.connect_timeout_ms : 0;
    int e = 0;
    for (const struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) {
        c->fd = connect_addr(ai, deadline);
        e = errno;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        snprintf(c->errstr, sizeof c->errstr, "%s:%d: %s", u->host, u->port,
                 e == ETIMEDOUT ? "connection timed out" : strerror(e));
        return BULLC_ECONNECT;
    }
    redisReader *r = redisReaderCreateWithFunctions(bullc__reply_functions());
    if (!r) {
        bullc__conn_close(c);
        return fail(c, BULLC_ENOMEM, "%s", "out of memory");
    }
    c->reader = r;
    return 0;
}

/* Writes everything buffered, within the deadline. */
static int flush_out(bullc__conn *c, long long deadline)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(c->fd, POLLOUT, deadline, -1) == 0)
            continue;
        return lost(c, "write");
    }
    bullc__buf_reset(&c->out);
    return 0;
}

/* Reads one reply, within the deadline; stop_fd (or -1) may interrupt the wait. */
static int read_reply(bullc__conn *c, long long deadline, int stop_fd, bullc__reply **out)
{
    redisReader *r = c->reader;
    for (;;) {
        void *obj = NULL;
        if (redisReaderGetReply(r, &obj) != REDIS_OK) {
            snprintf(c->errstr, sizeof c->errstr, "protocol error: %s", r->errstr);
            bullc__conn_close(c);
            return r->err == REDIS_ERR_OOM ? BULLC_ENOMEM : BULLC_EIO;
        }
        if (obj) {
            *out = obj;
            return 0;
        }
        char buf[16384];
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (redisReaderFeed(r, buf, (size_t)n) != REDIS_OK) {
                bullc__conn_close(c);
                return fail(c, BULLC_ENOMEM, "%s", "out of memory");
            }
            continue;
        }
        if (n == 0) {
            errno = 0;
            return lost(c, "read");
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return lost(c, "read");
        int w = wait_fd(c->fd, POLLIN, deadline, stop_fd);
        if (w == BULLC__STOPPED)
            return w;
        if (w != 0)
            return lost(c, errno == ETIMEDOUT ? "no reply in time" : "read");
    }
}

static long long io_deadline(const bullc__conn *c, long long extra_ms)
{
    if (c->cfg.io_timeout_ms <= 0)
        return 0;
    return bullc__mono_ms() + c->cfg.io_timeout_ms + extra_ms;
}

/* One setup command on a fresh connection: 0, or err_code with errstr set. */
static int setup_cmd(bullc__conn *c, int err_code, int argc, const char *a0, const char *a1,
                     const char *a2)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, argc, a0, a1, a2);
    bullc__reply *r = NULL;
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : 0;
    if (rc == 0) {
        bullc__cmd_write(&cmd, &c->out, 0);
        rc = c->out.oom ? BULLC_ENOMEM : flush_out(c, io_deadline(c, 0));
    }
    if (rc == 0)
        rc = read_reply(c, io_deadline(c, 0), -1, &r);
    if (rc == 0 && r->type == BULLC__R_ERROR) {
        snprintf(c->errstr, sizeof c->errstr, "%s: %s", a0, r->str);
        rc = err_code;
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}

int bullc__conn_ensure(bullc__conn *c)
{
    if (c->fd >= 0)
        return 0;
    const bullc__url *u = c->cfg.url;
    int rc = open_socket(c);
    if (rc == 0 && u->password)
        rc = u->user ? setup_cmd(c, BULLC_EAUTH, 3, "AUTH", u->user, u->password)
                     : setup_cmd(c, BULLC_EAUTH, 2, "AUTH", u->password, NULL);
    if (rc == 0 && u->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        rc = setup_cmd(c, BULLC_ECONNECT, 2, "SELECT", db, NULL);
    }
    if (rc == 0 && c->cfg.client_name)
        rc = setup_cmd(c, BULLC_ECONNECT, 3, "CLIENT", "SETNAME", c->cfg.client_name);
    if (rc != 0) {
        if (rc == BULLC_EIO)
            rc = BULLC_ECONNECT;
        bullc__conn_close(c);
        c->failures++;
        return rc;
    }
    c->generation++;
    c->nloaded = 0; /* a new connection may reach a server that lost its scripts */
    if (c->failures)
        bullc__log(c->cfg.log, BULLC_LOG_INFO, "%s: reconnected to Redis at %s:%d",
                   c->cfg.label ? c->cfg.label : "connection", u->host, u->port);
    c->failures = 0;
    return 0;
}

/* Errors that mean "the server cannot answer now; ask again later". */
static int transient_error(const bullc__reply *r)
{
    return bullc__reply_error_is(r, "LOADING") || bullc__reply_error_is(r, "BUSY") ||
           bullc__reply_error_is(r, "TRYAGAIN") || bullc__reply_error_is(r, "MASTERDOWN");
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
            bullc__cmd_write(cmds[i], &c->out,
                             cmds[i]->script && (!script_known(c, cmds[i]->script) || eval));
    if (c->out.oom) {
        bullc__buf_reset(&c->out);
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
    int rc = c->fd < 0 ? fail(c, BULLC_EIO, "%s", "not connected") : read_replies(c, n, NULL, replies);
    if (rc == 0)
        rc = more_sent ? lost_scripts_behind(c, cmds, n, replies)
                       : resend_lost_scripts(c, cmds, n, replies);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (transient_error(replies[i])) {
            snprintf(c->errstr, sizeof c->errstr, "%s", replies[i]->str);
            rc = BULLC_EIO;
        }
    if (rc != 0)
        free_replies(replies, n);
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
    redisReader *r = c->reader;
    if (c->fd < 0 || (r && r->pos < r->len))
        return 1; /* a reply (or an error) is there to be read */
    long long deadline = io_deadline(c, 0);
    int w = wait_fd(c->fd, POLLIN, deadline, wake_fd);
    return w == BULLC__STOPPED ? 0 : 1; /* ready, or a failure recv will report */
}

int bullc__conn_block(bullc__conn *c, bullc__cmd *cmd, long long timeout_ms, int stop_fd,
                      bullc__reply **reply)
{
    *reply = NULL;
    int rc = bullc__conn_ensure(c);
    if (rc != 0)
        return rc;
    bullc__cmd_write(cmd, &c->out, 0);
    if (c->out.oom) {
        bullc__buf_reset(&c->out);
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
