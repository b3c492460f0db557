/* sock.c - a socket to one Redis node: non-blocking connect, keep-alive, TLS, deadline-bound
 * writes and reads, replies parsed by hiredis's reader into our arenas (see sock.h). */
#include "net/sock.h"
#include "util/time.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Keep-alive probes: first after 15 s idle, then every 5 s, 3 misses (plus our own deadlines). */
enum { KEEPIDLE_S = 15, KEEPINTVL_S = 5, KEEPCNT = 3 };

void bullc__sock_init(bullc__sock *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    bullc__buf_init(&s->out);
}

void bullc__sock_close(bullc__sock *s)
{
    bullc__tls_close(s->tls);
    s->tls = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->reader)
        redisReaderFree(s->reader);
    s->reader = NULL;
    bullc__buf_reset(&s->out);
}

void bullc__sock_free(bullc__sock *s)
{
    bullc__sock_close(s);
    bullc__buf_free(&s->out);
}

/* Closes the socket after an I/O failure; the reason (errno, or "connection closed") in err. */
static int lost(bullc__sock *s, const char *what, char *err, size_t errlen)
{
    int e = errno;
    const char *tls_why = s->tls ? bullc__tls_why(s->tls) : "";
    if (tls_why[0])
        snprintf(err, errlen, "%s: TLS: %s", what, tls_why);
    else
        snprintf(err, errlen, "%s: %s", what, e ? strerror(e) : "connection closed");
    bullc__sock_close(s);
    s->timed_out = e == ETIMEDOUT;
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

static int tcp_connect(bullc__sock *s, long long deadline, char *err, size_t errlen)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(s->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "%.200s:%d: %s", s->host, s->port, gai_strerror(gai));
        return BULLC_ECONNECT;
    }
    int e = 0;
    for (const struct addrinfo *ai = res; ai && s->fd < 0; ai = ai->ai_next) {
        s->fd = connect_addr(ai, deadline);
        e = errno;
    }
    freeaddrinfo(res);
    if (s->fd < 0) {
        snprintf(err, errlen, "%.200s:%d: %s", s->host, s->port,
                 e == ETIMEDOUT ? "connection timed out" : strerror(e));
        return BULLC_ECONNECT;
    }
    return 0;
}

int bullc__sock_open(bullc__sock *s, const char *host, int port, bullc__tls *tls,
                     long long deadline, char *err, size_t errlen)
{
    bullc__sock_close(s);
    s->timed_out = 0;
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    int rc = tcp_connect(s, deadline, err, errlen);
    if (rc == 0 && tls) {
        char why[200] = "";
        rc = bullc__tls_connect(tls, s->fd, host, deadline, &s->tls, why, sizeof why);
        if (rc)
            snprintf(err, errlen, "%.200s:%d: %s", host, port, why);
    }
    if (rc == 0 && !(s->reader = redisReaderCreateWithFunctions(bullc__reply_functions()))) {
        snprintf(err, errlen, "out of memory");
        rc = BULLC_ENOMEM;
    }
    if (rc)
        bullc__sock_close(s);
    return rc;
}

/* send()/recv() through TLS when there is a session: bytes, 0 (closed, reads only) or -1 with
 * errno; *want says which readiness to wait for after EAGAIN. */
static ssize_t io_write(bullc__sock *s, const void *p, size_t n, short *want)
{
    *want = POLLOUT;
    return s->tls ? bullc__tls_write(s->tls, p, n, want) : send(s->fd, p, n, MSG_NOSIGNAL);
}

static ssize_t io_read(bullc__sock *s, void *p, size_t n, short *want)
{
    *want = POLLIN;
    return s->tls ? bullc__tls_read(s->tls, p, n, want) : recv(s->fd, p, n, 0);
}

int bullc__sock_flush(bullc__sock *s, long long deadline, char *err, size_t errlen)
{
    size_t off = 0;
    while (off < s->out.len) {
        short want;
        ssize_t n = io_write(s, s->out.data + off, s->out.len - off, &want);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(s->fd, want, deadline, -1) == 0)
            continue;
        return lost(s, "write", err, errlen);
    }
    bullc__buf_reset(&s->out);
    return 0;
}

int bullc__sock_read(bullc__sock *s, long long deadline, int stop_fd, bullc__reply **out,
                     char *err, size_t errlen)
{
    if (s->fd < 0) {
        snprintf(err, errlen, "not connected");
        return BULLC_EIO;
    }
    redisReader *r = s->reader;
    for (;;) {
        void *obj = NULL;
        if (redisReaderGetReply(r, &obj) != REDIS_OK) {
            snprintf(err, errlen, "protocol error: %s", r->errstr);
            int rc = r->err == REDIS_ERR_OOM ? BULLC_ENOMEM : BULLC_EIO;
            bullc__sock_close(s);
            return rc;
        }
        if (obj) {
            *out = obj;
            return 0;
        }
        char buf[16384];
        short want;
        ssize_t n = io_read(s, buf, sizeof buf, &want);
        if (n > 0) {
            if (redisReaderFeed(r, buf, (size_t)n) != REDIS_OK) {
                bullc__sock_close(s);
                snprintf(err, errlen, "out of memory");
                return BULLC_ENOMEM;
            }
            continue;
        }
        if (n == 0) {
            errno = 0;
            return lost(s, "read", err, errlen);
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return lost(s, "read", err, errlen);
        int w = wait_fd(s->fd, want, deadline, stop_fd);
        if (w == BULLC__STOPPED)
            return w;
        if (w != 0)
            return lost(s, errno == ETIMEDOUT ? "no reply in time" : "read", err, errlen);
    }
}

int bullc__sock_call(bullc__sock *s, bullc__cmd *cmd, long long deadline, bullc__reply **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    bullc__cmd_write(cmd, &s->out, 0);
    if (s->out.oom || bullc__cmd_oom(cmd)) {
        bullc__buf_reset(&s->out);
        snprintf(err, errlen, "out of memory");
        return BULLC_ENOMEM;
    }
    int rc = bullc__sock_flush(s, deadline, err, errlen);
    return rc ? rc : bullc__sock_read(s, deadline, -1, out, err, errlen);
}

int bullc__sock_wait(bullc__sock *s, long long deadline, int wake_fd)
{
    redisReader *r = s->reader;
    if (s->fd < 0 || (r && r->pos < r->len) || (s->tls && bullc__tls_pending(s->tls)))
        return 1; /* a reply (or an error) is there to be read */
    int w = wait_fd(s->fd, POLLIN, deadline, wake_fd);
    return w == BULLC__STOPPED ? 0 : 1; /* ready, or a failure the read will report */
}

int bullc__sock_poll(bullc__sock *s, long long deadline, int wake_fd)
{
    redisReader *r = s->reader;
    if (s->fd < 0 || (r && r->pos < r->len) || (s->tls && bullc__tls_pending(s->tls)))
        return 1;
    int w = wait_fd(s->fd, POLLIN, deadline, wake_fd);
    if (w == BULLC__STOPPED)
        return -1;
    return w == 0 || errno != ETIMEDOUT ? 1 : 0;
}
