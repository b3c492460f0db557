/* bull_proto.c - a Bull queue's protocol state: its keys, opening it for a worker or a queue
 * handle, the server check, the client name getWorkers lists, and the blocking wait that moves
 * a job from wait to active itself (docs/bull.md §1, §4.1). */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bull_close(bullc__proto *p)
{
    if (!p)
        return;
    bullc__bull_keys_free(&p->keys);
    free(p->client_name);
    free(p->group_key);
    free(p);
}

static int bull_open_queue(bullc__proto **out, const char *prefix, const char *queue,
                           const bullc__logger *log, char *err, size_t errlen)
{
    bullc__proto *p = calloc(1, sizeof *p);
    if (!p)
        return BULLC_ENOMEM;
    int rc = bullc__bull_keys_init(&p->keys, prefix, queue);
    if (rc != 0) {
        bull_close(p);
        return bullc__proto_open_error(rc, err, errlen);
    }
    p->log = *log;
    p->block_floor_ms = 1000;
    bullc__proto_uuid(p->token); /* the worker's lock token (docs/bull.md §4.1) */
    *out = p;
    return 0;
}

/* Worker options Bull has no counterpart for are refused rather than ignored. */
static const char *unsupported(const bullc_worker_opts_t *o)
{
    if (o->max_started_attempts > 0)
        return "max_started_attempts does not exist in Bull";
    if (((o->limiter_group_key && *o->limiter_group_key) || o->limiter_bounce_back) &&
        o->limiter_max <= 0)
        return "limiter_group_key and limiter_bounce_back need limiter_max";
    return NULL;
}

static int bull_open_worker(bullc__proto **out, const bullc_worker_opts_t *o,
                            const bullc__logger *log, char *err, size_t errlen)
{
    const char *why = unsupported(o);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return BULLC_EINVAL;
    }
    bullc__proto *p = NULL;
    int rc = bull_open_queue(&p, o->prefix, o->queue, log, err, errlen);
    if (rc != 0)
        return rc;
    p->worker = 1;
    if (!(p->client_name = bullc__proto_client_name(o->prefix, o->queue, NULL))) {
        bull_close(p);
        return BULLC_ENOMEM;
    }
    bullc__proto_wopts_copy(&p->w, o);
    /* the group key itself is the producer's business: the worker reads groups from ids */
    p->limit_group = o->limiter_group_key && *o->limiter_group_key;
    p->bounce_back = o->limiter_bounce_back != 0;
    if (o->metrics_max_data_points > 0)
        snprintf(p->metrics_max, sizeof p->metrics_max, "%d", o->metrics_max_data_points);
    *out = p;
    return 0;
}

/* Bull needs Redis 2.8.18; fractional blocking timeouts need 6.0. */
static int bull_check_server(bullc__proto *p, const char *info, char *err, size_t errlen)
{
    int v[3];
    long ver = bullc__proto_redis_version(info, v);
    if (ver >= 0 && ver < 20818) {
        snprintf(err, errlen, "Redis %d.%d.%d is too old: Bull needs 2.8.18+", v[0], v[1], v[2]);
        return BULLC_ECONNECT;
    }
    p->block_floor_ms = ver >= 0 && ver < 60000 ? 1000 : 1;
    return 0;
}

static const char *bull_client_name(const bullc__proto *p) { return p->client_name; }

static const char *bull_key_base(const bullc__proto *p) { return p->keys.base; }

/* BRPOPLPUSH wait -> active: whole seconds when the timeout is (Node sends its drainDelay in
 * seconds), else with milliseconds. */
static void bull_block_cmd(bullc__proto *p, bullc__cmd *cmd, long long timeout_ms)
{
    if (timeout_ms < p->block_floor_ms)
        timeout_ms = p->block_floor_ms;
    if (p->block_floor_ms >= 1000 && timeout_ms % 1000)
        timeout_ms += 1000 - timeout_ms % 1000;
    char t[32];
    if (timeout_ms % 1000 == 0)
        snprintf(t, sizeof t, "%lld", timeout_ms / 1000);
    else
        snprintf(t, sizeof t, "%.3f", (double)timeout_ms / 1000.0);
    bullc__cmd_plain(cmd, 4, "BRPOPLPUSH", p->keys.k[BULLC__BULL_Q_WAIT],
                     p->keys.k[BULLC__BULL_Q_ACTIVE], t);
}

/* The reply is the id now in active (the next fetch claims it), or nil after the timeout: then
 * nothing is fetched (as Node Bull; a fetch would publish `drained` every drain delay), since
 * only a push into wait makes work, and that wakes the blocking pop. */
static void bull_block_reply(bullc__proto *p, const bullc__reply *r, bullc__wake *out)
{
    out->kind = r && r->type == BULLC__R_NIL ? BULLC__WAKE_LATER : BULLC__WAKE_TIMEOUT;
    out->due_ms = 0;
    out->job_id = NULL;
    if (!r || r->type != BULLC__R_STRING)
        return;
    if (!(out->job_id = bullc__strndup(r->str, r->len))) {
        /* the job stays in active without a lock: the stalled check puts it back */
        bullc__log(&p->log, BULLC_LOG_ERROR, "out of memory taking a job");
        return;
    }
    out->kind = BULLC__WAKE_JOB;
}

const bullc__proto_ops bullc__bull_ops = {
    .name = "bull",
    .open_worker = bull_open_worker,
    .open_queue = bull_open_queue,
    .close = bull_close,
    .key_base = bull_key_base,
    .check_server = bull_check_server,
    .client_name = bull_client_name,
    .block_cmd = bull_block_cmd,
    .block_reply = bull_block_reply,
    .start = bullc__bull_start,
    .settle_prepare = bullc__bull_settle_prepare,
    .settle_release = bullc__bull_settle_release,
    .xchg_build = bullc__bull_xchg_build,
    .xchg_decode = bullc__bull_xchg_decode,
    .xchg_free = bullc__bull_xchg_free,
    .extend_locks = bullc__bull_extend_locks,
    .check_stalled = bullc__bull_check_stalled,
    .tick = bullc__bull_tick,
    .tick_channels = bullc__bull_tick_channels,
    .tick_message = bullc__bull_tick_message,
    .update_progress = bullc__bull_update_progress,
    .add_log = bullc__bull_add_log,
    .update_data = bullc__bull_update_data,
    .move_to_delayed = bullc__bull_move_to_delayed,
    /* Bull has no worker-side rate-limit call, no flows, no ignored failures: BULLC_EMISUSE */
    .rate_limit = NULL,
    .wait_children = NULL,
    .children_values = NULL,
    .ignored_failures = NULL,
    .add = bullc__bull_add,
    .get_state = bullc__bull_get_state,
    .get_job_field = bullc__bull_get_job_field,
    .get_counts = bullc__bull_get_counts,
    .set_group_key = bullc__bull_set_group_key,
    .admin = bullc__bull_admin,
};
