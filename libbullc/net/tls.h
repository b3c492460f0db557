/* tls.h - TLS for our connections, with OpenSSL: one context per handle (CA, client
 * certificate, verification), one session per connection on its non-blocking socket. The
 * server is verified by default: its certificate chain against the CA file (or the system's
 * store) and its name (a DNS name against the certificate's DNS names, an IP address against
 * its IP addresses). */
#ifndef BULLC_NET_TLS_H
#define BULLC_NET_TLS_H

#include "util/common.h"

#include <sys/types.h>

typedef struct bullc__tls bullc__tls;     /* a context, shared by a handle's connections */
typedef struct bullc__tls_io bullc__tls_io; /* one connection's session */

/* A context from the options (bullc.h's bullc_tls_opts_t; files are read now). BULLC_ETLS with the reason in err, or
 * BULLC_ENOMEM. Thread-safe once made. */
int bullc__tls_new(bullc__tls **out, const bullc_tls_opts_t *o, char *err, size_t errlen);
void bullc__tls_free(bullc__tls *t);

/* Runs the handshake on connected socket fd (non-blocking) to `host`, within the monotonic
 * deadline (0 = none). BULLC_ETLS (verification or handshake failed: err says why),
 * BULLC_ECONNECT (the socket failed or timed out), BULLC_ENOMEM. */
int bullc__tls_connect(bullc__tls *t, int fd, const char *host, long long deadline,
                       bullc__tls_io **out, char *err, size_t errlen);
/* Like recv/send: bytes moved, 0 when the peer closed (read), or -1 with errno (EAGAIN:
 * wait for *want, POLLIN or POLLOUT, then call again with the same arguments). */
ssize_t bullc__tls_read(bullc__tls_io *io, void *buf, size_t n, short *want);
ssize_t bullc__tls_write(bullc__tls_io *io, const void *buf, size_t n, short *want);
/* Decrypted bytes waiting to be read without touching the socket. */
int bullc__tls_pending(const bullc__tls_io *io);
/* OpenSSL's words for the last TLS-level failure of a read or write (an alert), or "". */
const char *bullc__tls_why(const bullc__tls_io *io);
/* Frees the session (the socket is the caller's to close). */
void bullc__tls_close(bullc__tls_io *io);

#endif
