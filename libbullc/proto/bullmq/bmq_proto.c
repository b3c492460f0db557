/* bmq_proto.c - a BullMQ queue's protocol state: opening it for a worker or a queue handle,
 * the server check, the client name getWorkers lists, and the blocking wait on the marker. */
#include "bullmq.h"
#include "proto/shared/shared.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bullc__bmq_close(bullc__proto *p)
{
    if (!p)
        return;
    bullc__bmq_keys_free(&p->keys);
    free(p->name);
    free(p->client_name);
    free(p);
}

static int open_common(bullc__proto **out, const char *prefix, const char *queue,
                       const bullc__logger *log, char *err, size_t errlen)
{
    bullc__proto *p = calloc(1, sizeof *p);
    if (!p)
        return BULLC_ENOMEM;
    int rc = bullc__bmq_keys_init(&p->keys, prefix, queue);
    if (rc != 0) {
        bullc__bmq_close(p);
        return bullc__proto_open_error(rc, err, errlen);
    }
    p->log = *log;
    p->block_floor_ms = 2;
    *out = p;
    return 0;
}

int bullc__bmq_open_queue(bullc__proto **out, const char *prefix, const char *queue,
                          const bullc__logger *log, char *err, size_t errlen)
{
    return open_common(out, prefix, queue, log, err, errlen);
}

int bullc__bmq_open_worker(bullc__proto **out, const bullc_worker_opts_t *o,
                           const bullc__logger *log, char *err, size_t errlen)
{
    if ((o->limiter_group_key && *o->limiter_group_key) || o->limiter_bounce_back) {
        snprintf(err, errlen, "limiter_group_key and limiter_bounce_back are Bull 4 options "
                              "(protocol \"bull\"): BullMQ has no such limiter");
        return BULLC_EINVAL;
    }
    bullc__proto *p = NULL;
    int rc = open_common(&p, o->prefix, o->queue, log, err, errlen);
    if (rc != 0)
        return rc;
    p->worker = 1;
    if ((o->name && !(p->name = bullc__strdup(o->name))) ||
        !(p->client_name = bullc__proto_client_name(o->prefix, o->queue, o->name))) {
        bullc__bmq_close(p);
        return BULLC_ENOMEM;
    }
    bullc__proto_wopts_copy(&p->w, o);
    p->metrics_max_data_points = o->metrics_max_data_points;
    p->max_started_attempts = o->max_started_attempts;
    bullc__proto_uuid(p->uuid);
    *out = p;
    return 0;
}

/* Refuses servers BullMQ refuses; the shortest block timeout depends on the version. */
int bullc__bmq_check_server(bullc__proto *p, const char *info, char *err, size_t errlen)
{
    int v[3];
    long ver = bullc__proto_redis_version(info, v);
    if (ver >= 0 && ver < 50000) {
        snprintf(err, errlen, "Redis %d.%d.%d is too old: BullMQ needs 5.0.0+", v[0], v[1], v[2]);
        return BULLC_ECONNECT;
    }
    if (ver >= 0 && ver < 60200)
        bullc__log(&p->log, BULLC_LOG_WARN, "Redis %d.%d.%d: 6.2.0 or newer is recommended", v[0],
                   v[1], v[2]);
    p->block_floor_ms = ver >= 70008 ? 1 : 2;
    return 0;
}

const char *bullc__bmq_client_name(const bullc__proto *p) { return p->client_name; }

const char *bullc__bmq_key_base(const bullc__proto *p) { return p->keys.base; }

void bullc__bmq_block_cmd(bullc__proto *p, bullc__cmd *cmd, long long timeout_ms)
{
    if (timeout_ms < p->block_floor_ms)
        timeout_ms = p->block_floor_ms;
    char t[32];
    snprintf(t, sizeof t, "%.3f", (double)timeout_ms / 1000.0);
    bullc__cmd_plain(cmd, 3, "BZPOPMIN", p->keys.k[BULLC__BMQ_Q_MARKER], t);
}

/* A marker ([key, member, score]): score 0 or past means "fetch now"; a future score is the
 * next delayed job's due time (docs/bullmq.md §3). */
void bullc__bmq_block_reply(bullc__proto *p, const bullc__reply *r, bullc__wake *out)
{
    (void)p;
    out->kind = BULLC__WAKE_TIMEOUT;
    out->due_ms = 0;
    if (!r || r->type != BULLC__R_ARRAY || r->elements != 3 || !r->element[2] ||
        r->element[2]->type != BULLC__R_STRING)
        return;
    out->kind = BULLC__WAKE_READY;
    double score = strtod(r->element[2]->str, NULL);
    if (score > (double)bullc__now_ms()) { /* false for nan */
        /* a score past what a long long holds ("inf" included) is kept as the latest time */
        out->kind = BULLC__WAKE_LATER;
        out->due_ms = score < 9.2e18 ? (long long)score : LLONG_MAX;
    }
}
