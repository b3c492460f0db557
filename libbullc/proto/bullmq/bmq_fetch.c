/* bmq_fetch.c - what a fetch sends: lock tokens "<uuid>:<n>" and the worker's fetch options
 * (docs/bullmq.md §5.2, §5.4). */
#include "bullmq.h"
#include "util/msgpack.h"

#include <stdio.h>

void bullc__bmq_new_token(bullc__proto *p, char *buf, size_t n)
{
    unsigned seq = atomic_fetch_add(&p->token_seq, 1) + 1;
    snprintf(buf, n, "%s:%u", p->uuid, seq);
}

void bullc__bmq_write_limiter(const bullc__proto *p, bullc__buf *mp)
{
    bullc__mp_cstr(mp, "limiter");
    bullc__mp_map(mp, 2);
    bullc__mp_cstr(mp, "max");
    bullc__mp_int(mp, p->w.limiter_max);
    bullc__mp_cstr(mp, "duration");
    bullc__mp_int(mp, p->w.limiter_duration_ms);
}

void bullc__bmq_fetch_opts(bullc__proto *p, bullc__buf *mp, const char *token,
                           char (*tokens)[BULLC__BMQ_TOKEN_LEN], int ntokens)
{
    int limiter = p->w.limiter_max > 0;
    bullc__buf_reset(mp);
    bullc__mp_map(mp, 2 + (p->name != NULL) + limiter);
    if (ntokens > 0) {
        bullc__mp_cstr(mp, "tokens");
        bullc__mp_array(mp, (uint32_t)ntokens);
        for (int i = 0; i < ntokens; i++)
            bullc__mp_cstr(mp, tokens[i]);
    } else {
        bullc__mp_cstr(mp, "token");
        bullc__mp_cstr(mp, token);
    }
    if (limiter)
        bullc__bmq_write_limiter(p, mp);
    bullc__mp_cstr(mp, "lockDuration");
    bullc__mp_int(mp, p->w.lock_duration_ms);
    if (p->name) {
        bullc__mp_cstr(mp, "name");
        bullc__mp_cstr(mp, p->name);
    }
}
