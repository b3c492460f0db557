/* isolate_wire.c - the frames a worker and its handler processes exchange (engine/isolate.h). */
#include "engine/isolate.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { HEADER = 5 };

void bullc__iso_begin(bullc__buf *b, int type)
{
    bullc__buf_reset(b);
    unsigned char h[HEADER] = {0, 0, 0, 0, (unsigned char)type};
    bullc__buf_append(b, h, sizeof h);
}

void bullc__iso_put_i64(bullc__buf *b, long long v)
{
    int64_t x = v;
    bullc__buf_append(b, &x, sizeof x);
}

void bullc__iso_put_str(bullc__buf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
    bullc__buf_append(b, &n, sizeof n);
    if (s)
        bullc__buf_append(b, s, (size_t)n + 1);
}

int bullc__iso_send(int fd, bullc__buf *b)
{
    if (b->oom || b->len < HEADER || b->len - HEADER > BULLC__ISO_MAX_FRAME)
        return BULLC_ENOMEM;
    uint32_t n = (uint32_t)(b->len - HEADER);
    memcpy(b->data, &n, sizeof n);
    for (size_t off = 0; off < b->len;) {
        ssize_t k = send(fd, b->data + off, b->len - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return BULLC_EIO;
        off += (size_t)k;
    }
    return 0;
}

/* Reads exactly n bytes: 0, or BULLC_EIO at end of file or on an error. */
static int read_all(int fd, void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t k = read(fd, (char *)p + off, n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return BULLC_EIO;
        off += (size_t)k;
    }
    return 0;
}

int bullc__iso_recv(int fd, bullc__frame *f, int timeout_ms)
{
    memset(f, 0, sizeof *f);
    struct pollfd pfd = {fd, POLLIN, 0};
    int k;
    while ((k = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (k == 0)
        return 1;
    if (k < 0)
        return BULLC_EIO;
    unsigned char h[HEADER];
    if (read_all(fd, h, sizeof h) != 0)
        return BULLC_EIO;
    uint32_t n;
    memcpy(&n, h, sizeof n);
    if (n > BULLC__ISO_MAX_FRAME)
        return BULLC_EIO;
    f->data = malloc((size_t)n + 1);
    if (!f->data)
        return BULLC_ENOMEM;
    if (read_all(fd, f->data, n) != 0) {
        bullc__iso_frame_free(f);
        return BULLC_EIO;
    }
    f->data[n] = '\0';
    f->len = n;
    f->type = h[4];
    return 0;
}

void bullc__iso_frame_free(bullc__frame *f)
{
    free(f->data);
    f->data = NULL;
    f->len = 0;
}

void bullc__iso_rd_init(bullc__iso_rd *rd, bullc__frame *f)
{
    rd->p = f->data;
    rd->left = f->len;
    rd->bad = 0;
}

long long bullc__iso_get_i64(bullc__iso_rd *rd)
{
    int64_t x = 0;
    if (rd->left < sizeof x) {
        rd->bad = 1;
        return 0;
    }
    memcpy(&x, rd->p, sizeof x);
    rd->p += sizeof x;
    rd->left -= sizeof x;
    return x;
}

char *bullc__iso_get_str(bullc__iso_rd *rd)
{
    uint32_t n;
    if (rd->left < sizeof n) {
        rd->bad = 1;
        return NULL;
    }
    memcpy(&n, rd->p, sizeof n);
    rd->p += sizeof n;
    rd->left -= sizeof n;
    if (n == UINT32_MAX)
        return NULL;
    if (rd->left < (size_t)n + 1 || rd->p[n] != '\0') {
        rd->bad = 1;
        return NULL;
    }
    char *s = rd->p;
    rd->p += (size_t)n + 1;
    rd->left -= (size_t)n + 1;
    return s;
}
