/* bmq_keys.c - the Redis key names of a BullMQ queue and its jobs (docs/bullmq.md §1), built by
 * proto/shared/ from BullMQ's suffixes. */
#include "bullmq.h"
#include "proto/shared/shared.h"

void bullc__bmq_keys_free(bullc__bmq_keys *k)
{
    if (!k)
        return;
    bullc__proto_keys_free(&k->base, k->k, BULLC__BMQ_Q_COUNT);
    k->base_len = 0;
}

int bullc__bmq_keys_init(bullc__bmq_keys *k, const char *prefix, const char *queue)
{
    return bullc__proto_keys_init(&k->base, &k->base_len, k->k, k->len, BULLC__BMQ_Q_COUNT,
                                  bullc__bmq_qkey_suffix, prefix, queue);
}

char *bullc__bmq_job_key(const bullc__bmq_keys *k, const char *job_id, const char *suffix)
{
    return bullc__proto_job_key(k->base, k->base_len, job_id, suffix);
}
