/* sock.h - one socket to a Redis node: a non-blocking TCP connection (TLS on top when asked),
 * writes and reads bounded by deadlines, hiredis's reader turning the bytes into our replies.
 * The layer below conn.h (pipelines, scripts, set-up) and server.h (sentinel and cluster
 * queries). Not thread-safe. */
#ifndef BULLC_NET_SOCK_H
#define BULLC_NET_SOCK_H

#include "net/cmd.h"
#include "net/reply.h"
#include "net/tls.h"
#include "util/buf.h"

/* Returned when the stop descriptor became readable. */
#define BULLC__STOPPED 1

typedef struct bullc__sock {
    int fd;              /* -1 when closed */
    bullc__tls_io *tls;  /* NULL for plain TCP */
    void *reader;        /* hiredis redisReader */
    bullc__buf out;      /* bytes not yet written */
    char host[256];      /* the node connected to */
    int port;
    int timed_out;       /* the last close was a read or write past its deadline */
} bullc__sock;

void bullc__sock_init(bullc__sock *s);
/* Connects to host:port (TLS when tls is not NULL) within the monotonic deadline (0 = none).
 * 0, or BULLC_ECONNECT, BULLC_ETLS, BULLC_ENOMEM with the reason in err. */
int bullc__sock_open(bullc__sock *s, const char *host, int port, bullc__tls *tls,
                     long long deadline, char *err, size_t errlen);
void bullc__sock_close(bullc__sock *s);
/* Frees the buffers too. */
void bullc__sock_free(bullc__sock *s);
static inline int bullc__sock_is_open(const bullc__sock *s) { return s->fd >= 0; }

/* Writes everything in s->out within the deadline. 0, or BULLC_EIO (closed; reason in err). */
int bullc__sock_flush(bullc__sock *s, long long deadline, char *err, size_t errlen);
/* Reads one reply within the deadline; stop_fd (or -1) may interrupt the wait
 * (BULLC__STOPPED). 0, BULLC_EIO (closed), BULLC_ENOMEM (closed); reason in err. */
int bullc__sock_read(bullc__sock *s, long long deadline, int stop_fd, bullc__reply **out,
                     char *err, size_t errlen);
/* One command and its reply (a Redis error is a reply). */
int bullc__sock_call(bullc__sock *s, bullc__cmd *cmd, long long deadline, bullc__reply **out,
                     char *err, size_t errlen);
/* Until a reply can be read (1; also when the socket failed or the deadline passed: the read
 * reports it) or wake_fd becomes readable (0). */
int bullc__sock_wait(bullc__sock *s, long long deadline, int wake_fd);
/* As bullc__sock_wait, but tells a passed deadline apart: 1 a reply can be read (or the socket
 * failed: the read reports it), 0 the deadline (0 = none) passed first, -1 wake_fd became
 * readable. The socket stays open in every case. */
int bullc__sock_poll(bullc__sock *s, long long deadline, int wake_fd);

#endif
