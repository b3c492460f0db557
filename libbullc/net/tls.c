/* tls.c - TLS sessions with OpenSSL on our non-blocking sockets (see tls.h). OpenSSL 1.1 and
 * later initialise themselves and are thread-safe for contexts shared between threads, so
 * nothing here is global. */
#include "net/tls.h"
#include "util/buf.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bullc__tls {
    SSL_CTX *ctx;
    char *server_name; /* NULL: the host connected to */
    int insecure;
};

struct bullc__tls_io {
    SSL *ssl;
    char why[160]; /* OpenSSL's reason for the last TLS-level failure (an alert), or "" */
};

/* OpenSSL's reason for the last failure (its error queue, emptied), after `what`. */
static int tls_err(char *err, size_t errlen, int code, const char *what, const char *detail)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s%s%s", what, detail ? " " : "", detail ? detail : "",
                 reason[0] ? ": " : "", reason);
    return code;
}

void bullc__tls_free(bullc__tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->server_name);
    free(t);
}

/* The files of the options into the context. */
static int load_files(bullc__tls *t, const bullc_tls_opts_t *o, char *err, size_t errlen)
{
    if (o->ca_file) {
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1)
            return tls_err(err, errlen, BULLC_ETLS, "cannot load the CA file", o->ca_file);
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        return tls_err(err, errlen, BULLC_ETLS, "cannot load the system's CA store", NULL);
    }
    if (!o->cert_file && o->key_file)
        return tls_err(err, errlen, BULLC_ETLS, "a client key needs its certificate", NULL);
    if (o->cert_file) {
        const char *key = o->key_file ? o->key_file : o->cert_file;
        if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1)
            return tls_err(err, errlen, BULLC_ETLS, "cannot load the client certificate",
                           o->cert_file);
        if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1)
            return tls_err(err, errlen, BULLC_ETLS, "cannot load the client key", key);
        if (SSL_CTX_check_private_key(t->ctx) != 1)
            return tls_err(err, errlen, BULLC_ETLS, "the client key does not match its certificate",
                           NULL);
    }
    return 0;
}

int bullc__tls_new(bullc__tls **out, const bullc_tls_opts_t *o, char *err, size_t errlen)
{
    *out = NULL;
    bullc__tls *t = calloc(1, sizeof *t);
    if (!t)
        return BULLC_ENOMEM;
    int rc = BULLC_ENOMEM;
    if (o->server_name && !(t->server_name = bullc__strdup(o->server_name)))
        goto fail;
    t->insecure = o->insecure;
    if (!(t->ctx = SSL_CTX_new(TLS_client_method()))) {
        rc = tls_err(err, errlen, BULLC_ENOMEM, "cannot make a TLS context", NULL);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(t->ctx, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if ((rc = load_files(t, o, err, errlen)) != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    bullc__tls_free(t);
    return rc;
}

static int is_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The name to verify: an IP address is checked against the certificate's IP addresses and
 * sends no SNI (RFC 6066 allows host names only); a DNS name is both sent and checked. */
static int set_name(const bullc__tls *t, SSL *ssl, const char *host)
{
    const char *name = t->server_name ? t->server_name : host;
    if (is_ip(name)) {
        if (!t->insecure && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
            return -1;
        return 0;
    }
    if (SSL_set_tlsext_host_name(ssl, name) != 1)
        return -1;
    if (!t->insecure) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(ssl, name) != 1)
            return -1;
    }
    return 0;
}

static int wait_io(int fd, short events, long long deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline > 0) {
            long long left = deadline - bullc__mono_ms();
            if (left <= 0)
                return -1;
            timeout = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, timeout);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Why the handshake failed: the verification result when there is one. */
static int handshake_failed(SSL *ssl, int ret, char *err, size_t errlen)
{
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
        ERR_clear_error();
        snprintf(err, errlen, "TLS: the server's certificate does not verify: %s",
                 X509_verify_cert_error_string(v));
        return BULLC_ETLS;
    }
    if (SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(err, errlen, "TLS handshake: %s",
                 errno ? strerror(errno) : "the server closed the connection");
        return BULLC_ETLS;
    }
    return tls_err(err, errlen, BULLC_ETLS, "TLS handshake failed", NULL);
}

int bullc__tls_connect(bullc__tls *t, int fd, const char *host, long long deadline,
                       bullc__tls_io **out, char *err, size_t errlen)
{
    *out = NULL;
    bullc__tls_io *io = calloc(1, sizeof *io);
    if (!io || !(io->ssl = SSL_new(t->ctx))) {
        free(io);
        return tls_err(err, errlen, BULLC_ENOMEM, "out of memory", NULL);
    }
    if (SSL_set_fd(io->ssl, fd) != 1 || set_name(t, io->ssl, host) != 0) {
        bullc__tls_close(io);
        return tls_err(err, errlen, BULLC_ETLS, "cannot set up TLS for", host);
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int ret = SSL_connect(io->ssl);
        if (ret == 1)
            break;
        int e = SSL_get_error(io->ssl, ret);
        short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (want && wait_io(fd, want, deadline) == 0)
            continue;
        int rc = want ? BULLC_ECONNECT : handshake_failed(io->ssl, ret, err, errlen);
        if (want)
            snprintf(err, errlen, "TLS handshake: %s",
                     errno && errno != EINTR ? strerror(errno) : "timed out");
        bullc__tls_close(io);
        return rc;
    }
    *out = io;
    return 0;
}

/* After a failed SSL_read/SSL_write: 0 when the peer closed, else -1 with errno (EAGAIN and
 * *want when TLS needs the socket ready first). */
static ssize_t io_failed(bullc__tls_io *io, int ret, short *want)
{
    int e = SSL_get_error(io->ssl, ret);
    int sys = errno;
    *want = 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        errno = EAGAIN;
        return -1;
    }
    int closed = e == SSL_ERROR_ZERO_RETURN ||
                 (e == SSL_ERROR_SYSCALL && sys == 0 && ERR_peek_error() == 0);
    unsigned long code = ERR_peek_error();
    if (e == SSL_ERROR_SSL && code) /* e.g. the server's "certificate required" alert */
        ERR_error_string_n(code, io->why, sizeof io->why);
    ERR_clear_error();
    if (closed)
        return 0;
    /* a TLS-level failure leaves the connection of no further use */
    errno = e == SSL_ERROR_SYSCALL && sys ? sys : ECONNRESET;
    return -1;
}

ssize_t bullc__tls_read(bullc__tls_io *io, void *buf, size_t n, short *want)
{
    ERR_clear_error();
    errno = 0;
    int ret = SSL_read(io->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return ret > 0 ? ret : io_failed(io, ret, want);
}

ssize_t bullc__tls_write(bullc__tls_io *io, const void *buf, size_t n, short *want)
{
    ERR_clear_error();
    errno = 0;
    int ret = SSL_write(io->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (ret > 0)
        return ret;
    ssize_t r = io_failed(io, ret, want);
    if (r == 0) {
        errno = EPIPE;
        r = -1;
    }
    return r;
}

int bullc__tls_pending(const bullc__tls_io *io) { return SSL_pending(io->ssl) > 0; }

const char *bullc__tls_why(const bullc__tls_io *io) { return io->why; }

void bullc__tls_close(bullc__tls_io *io)
{
    if (!io)
        return;
    SSL_free(io->ssl); /* no close_notify: the socket is closed next, replies are not awaited */
    free(io);
}
