/* shared_keys.c - a queue's key names and its jobs' (docs/bullmq.md §1, docs/bull.md §1): both
 * protocols name a key "<prefix>:<queue>:<suffix>" and a job "<prefix>:<queue>:<jobId>". */
#include "proto/shared/shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bullc__proto_keys_free(char **base, char **k, int n)
{
    free(*base);
    *base = NULL;
    for (int i = 0; i < n; i++) {
        free(k[i]);
        k[i] = NULL;
    }
}

int bullc__proto_keys_init(char **base, size_t *base_len, char **k, size_t *len, int n,
                           const char *const *suffix, const char *prefix, const char *queue)
{
    *base = NULL;
    *base_len = 0;
    memset(k, 0, (size_t)n * sizeof *k);
    memset(len, 0, (size_t)n * sizeof *len);
    if (!prefix || !queue || !*queue || strchr(queue, ':'))
        return BULLC_EINVAL;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s:%s:", prefix, queue);
    *base_len = b.len;
    if (!(*base = bullc__buf_take(&b)))
        return BULLC_ENOMEM;
    for (int i = 0; i < n; i++) {
        bullc__buf_init(&b);
        bullc__buf_append(&b, *base, *base_len);
        bullc__buf_puts(&b, suffix[i]);
        len[i] = b.len;
        if (!(k[i] = bullc__buf_take(&b))) {
            bullc__proto_keys_free(base, k, n);
            memset(len, 0, (size_t)n * sizeof *len);
            *base_len = 0;
            return BULLC_ENOMEM;
        }
    }
    return BULLC_OK;
}

char *bullc__proto_job_key(const char *base, size_t base_len, const char *job_id,
                           const char *suffix)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_append(&b, base, base_len);
    bullc__buf_puts(&b, job_id);
    if (suffix)
        bullc__buf_puts(&b, suffix);
    return bullc__buf_take(&b);
}

int bullc__proto_open_error(int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", rc == BULLC_EINVAL ? "queue must be a non-empty name without ':'"
                                                    : "out of memory");
    return rc;
}
