/* bull_keys.c - a Bull queue's key names and job keys (docs/bull.md §1), which every other
 * file of the protocol uses and which use nothing of theirs. */
#include "bull.h"
#include "proto/shared/shared.h"

void bullc__bull_keys_free(bullc__bull_keys *k)
{
    if (!k)
        return;
    bullc__proto_keys_free(&k->base, k->k, BULLC__BULL_Q_COUNT);
    k->base_len = 0;
}

int bullc__bull_keys_init(bullc__bull_keys *k, const char *prefix, const char *queue)
{
    return bullc__proto_keys_init(&k->base, &k->base_len, k->k, k->len, BULLC__BULL_Q_COUNT,
                                  bullc__bull_qkey_suffix, prefix, queue);
}

char *bullc__bull_job_key(const bullc__bull_keys *k, const char *job_id)
{
    return bullc__proto_job_key(k->base, k->base_len, job_id, NULL);
}
