/* bmq_keys.c - the Redis key names of a BullMQ queue and its jobs (docs/bullmq.md §1). */
#include "bullmq.h"

#include <stdlib.h>
#include <string.h>

void bullc__bmq_keys_free(bullc__bmq_keys *k)
{
    if (!k)
        return;
    free(k->base);
    for (int i = 0; i < BULLC__BMQ_Q_COUNT; i++)
        free(k->k[i]);
    memset(k, 0, sizeof *k);
}

int bullc__bmq_keys_init(bullc__bmq_keys *k, const char *prefix, const char *queue)
{
    memset(k, 0, sizeof *k);
    if (!prefix || !queue || !*queue || strchr(queue, ':'))
        return BULLC_EINVAL;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s:%s:", prefix, queue);
    k->base_len = b.len;
    if (!(k->base = bullc__buf_take(&b)))
        return BULLC_ENOMEM;
    for (int i = 0; i < BULLC__BMQ_Q_COUNT; i++) {
        bullc__buf_init(&b);
        bullc__buf_append(&b, k->base, k->base_len);
        bullc__buf_puts(&b, bullc__bmq_qkey_suffix[i]);
        k->len[i] = b.len;
        if (!(k->k[i] = bullc__buf_take(&b))) {
            bullc__bmq_keys_free(k);
            return BULLC_ENOMEM;
        }
    }
    return BULLC_OK;
}

char *bullc__bmq_job_key(const bullc__bmq_keys *k, const char *job_id, const char *suffix)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_append(&b, k->base, k->base_len);
    bullc__buf_puts(&b, job_id);
    if (suffix)
        bullc__buf_puts(&b, suffix);
    return bullc__buf_take(&b);
}
