/* shared_open.c - what a worker says about itself and learns of its server, alike in both
 * protocols: the options it keeps, the uuid its lock tokens carry, the client name Node's
 * getWorkers() lists, and the server's version. */
#include "proto/shared/shared.h"
#include "util/time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void bullc__proto_wopts_copy(bullc__proto_wopts *w, const bullc_worker_opts_t *o)
{
    w->lock_duration_ms = o->lock_duration_ms;
    w->limiter_max = o->limiter_max;
    w->limiter_duration_ms = o->limiter_duration_ms;
    w->max_stalled_count = o->max_stalled_count;
    w->stalled_interval_ms = o->stalled_interval_ms;
    w->remove_on_complete = o->remove_on_complete;
    w->remove_on_fail = o->remove_on_fail;
    w->backoff_fn = o->backoff_fn;
    w->backoff_user_data = o->backoff_user_data;
}

void bullc__proto_uuid(char out[37])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* uniqueness among workers is what counts, not secrecy */
        unsigned long long t = (unsigned long long)bullc__now_ms() * 2654435761ULL ^
                               (unsigned long long)bullc__mono_ms() ^ (uintptr_t)out;
        for (int i = 0; i < 16; i++)
            r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 73);
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[o] = '\0';
}

char *bullc__proto_client_name(const char *prefix, const char *queue, const char *name)
{
    char *b64 = bullc__base64(queue, strlen(queue));
    if (!b64)
        return NULL;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s:%s", prefix, b64);
    if (name)
        bullc__buf_printf(&b, ":w:%s", name);
    free(b64);
    return bullc__buf_take(&b);
}

long bullc__proto_redis_version(const char *info, int v[3])
{
    v[0] = v[1] = v[2] = 0;
    const char *s = info ? strstr(info, "redis_version:") : NULL;
    if (!s)
        return -1;
    sscanf(s + 14, "%d.%d.%d", &v[0], &v[1], &v[2]);
    return v[0] * 10000L + v[1] * 100L + v[2];
}
