/* keys.c - Redis key names of a queue and its jobs (BullMQ's layout), and base64 for names. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const suffixes[BULLC__K_COUNT] = {
    [BULLC__K_WAIT] = "wait",
    [BULLC__K_ACTIVE] = "active",
    [BULLC__K_PRIORITIZED] = "prioritized",
    [BULLC__K_EVENTS] = "events",
    [BULLC__K_STALLED] = "stalled",
    [BULLC__K_LIMITER] = "limiter",
    [BULLC__K_DELAYED] = "delayed",
    [BULLC__K_PAUSED] = "paused",
    [BULLC__K_META] = "meta",
    [BULLC__K_PC] = "pc",
    [BULLC__K_MARKER] = "marker",
    [BULLC__K_COMPLETED] = "completed",
    [BULLC__K_FAILED] = "failed",
    [BULLC__K_METRICS_COMPLETED] = "metrics:completed",
    [BULLC__K_METRICS_FAILED] = "metrics:failed",
    [BULLC__K_STALLED_CHECK] = "stalled-check",
    [BULLC__K_REPEAT] = "repeat",
    [BULLC__K_ID] = "id",
    [BULLC__K_WAITING_CHILDREN] = "waiting-children",
};

const char *bullc__qkey_suffix(bullc__qkey k)
{
    return (k >= 0 && k < BULLC__K_COUNT) ? suffixes[k] : "";
}

void bullc__keys_free(bullc__keys *keys)
{
    if (!keys)
        return;
    free(keys->base);
    for (int i = 0; i < BULLC__K_COUNT; i++)
        free(keys->k[i]);
    memset(keys, 0, sizeof *keys);
}

int bullc__keys_init(bullc__keys *keys, const char *prefix, const char *queue)
{
    memset(keys, 0, sizeof *keys);
    if (!prefix || !queue || !*queue || strchr(queue, ':'))
        return BULLC_EINVAL;
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "%s:%s:", prefix, queue);
    keys->base_len = b.len;
    if (!(keys->base = bullc__buf_take(&b)))
        return BULLC_ENOMEM;
    for (int i = 0; i < BULLC__K_COUNT; i++) {
        bullc__buf_init(&b);
        bullc__buf_append(&b, keys->base, keys->base_len);
        bullc__buf_puts(&b, suffixes[i]);
        if (!(keys->k[i] = bullc__buf_take(&b))) {
            bullc__keys_free(keys);
            return BULLC_ENOMEM;
        }
    }
    return BULLC_OK;
}

char *bullc__job_key(const bullc__keys *keys, const char *job_id, const char *suffix)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_append(&b, keys->base, keys->base_len);
    bullc__buf_puts(&b, job_id);
    if (suffix)
        bullc__buf_puts(&b, suffix);
    return bullc__buf_take(&b);
}
