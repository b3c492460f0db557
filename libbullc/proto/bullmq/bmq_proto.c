/* bmq_proto.c - BullMQ 6 as a bullc__proto_ops: opening a queue's protocol state, the server
 * check, the blocking wait on the marker, lock tokens and fetch options. */
#include "bullmq.h"
#include "util/msgpack.h"
#include "util/time.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void make_uuid(char out[37])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* fall back to time and address entropy; uniqueness, not secrecy, is what counts */
        unsigned long long t = (unsigned long long)bullc__now_ms() ^ (unsigned long long)(uintptr_t)out;
        for (int i = 0; i < 16; i++)
            r[i] = (unsigned char)((t >> ((i % 8) * 8)) ^ (unsigned)(i * 37 + (int)bullc__mono_ms()));
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static void bmq_close(bullc__proto *p)
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
        snprintf(err, errlen, "%s", rc == BULLC_EINVAL ? "queue must be a non-empty name without ':'"
                                                        : "out of memory");
        bmq_close(p);
        return rc;
    }
    p->log = *log;
    p->block_floor_ms = 2;
    *out = p;
    return 0;
}

static int bmq_open_queue(bullc__proto **out, const char *prefix, const char *queue,
                          const bullc__logger *log, char *err, size_t errlen)
{
    return open_common(out, prefix, queue, log, err, errlen);
}

/* "<prefix>:<base64(queue)>[:w:<name>]": what Node's getWorkers() matches (docs/bullmq.md §5.13). */
static char *make_client_name(const char *prefix, const char *queue, const char *name)
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

static int bmq_open_worker(bullc__proto **out, const bullc_worker_opts_t *o,
                           const bullc__logger *log, char *err, size_t errlen)
{
    bullc__proto *p = NULL;
    int rc = open_common(&p, o->prefix, o->queue, log, err, errlen);
    if (rc != 0)
        return rc;
    p->worker = 1;
    if ((o->name && !(p->name = bullc__strdup(o->name))) ||
        !(p->client_name = make_client_name(o->prefix, o->queue, o->name))) {
        bmq_close(p);
        return BULLC_ENOMEM;
    }
    p->lock_duration_ms = o->lock_duration_ms;
    p->limiter_max = o->limiter_max;
    p->limiter_duration_ms = o->limiter_duration_ms;
    p->remove_on_complete = o->remove_on_complete;
    p->remove_on_fail = o->remove_on_fail;
    p->metrics_max_data_points = o->metrics_max_data_points;
    p->max_started_attempts = o->max_started_attempts;
    p->max_stalled_count = o->max_stalled_count;
    p->stalled_interval_ms = o->stalled_interval_ms;
    p->backoff_fn = o->backoff_fn;
    p->backoff_user_data = o->backoff_user_data;
    make_uuid(p->uuid);
    *out = p;
    return 0;
}

/* Refuses servers BullMQ refuses; the shortest block timeout depends on the version. */
static int bmq_check_server(bullc__proto *p, const char *info, char *err, size_t errlen)
{
    int maj = 0, min = 0, patch = 0;
    const char *v = info ? strstr(info, "redis_version:") : NULL;
    if (v)
        sscanf(v + 14, "%d.%d.%d", &maj, &min, &patch);
    long ver = maj * 10000L + min * 100L + patch;
    if (v && ver < 50000) {
        snprintf(err, errlen, "Redis %d.%d.%d is too old: BullMQ needs 5.0.0+", maj, min, patch);
        return BULLC_ECONNECT;
    }
    if (v && ver < 60200)
        bullc__log(&p->log, BULLC_LOG_WARN, "Redis %d.%d.%d: 6.2.0 or newer is recommended", maj,
                   min, patch);
    p->block_floor_ms = ver >= 70008 ? 1 : 2;
    return 0;
}

static const char *bmq_client_name(const bullc__proto *p) { return p->client_name; }

static long long bmq_block_floor_ms(const bullc__proto *p) { return p->block_floor_ms; }

static void bmq_block_cmd(bullc__proto *p, bullc__cmd *cmd, long long timeout_ms)
{
    if (timeout_ms < p->block_floor_ms)
        timeout_ms = p->block_floor_ms;
    char t[32];
    snprintf(t, sizeof t, "%.3f", (double)timeout_ms / 1000.0);
    bullc__cmd_plain(cmd, 3, "BZPOPMIN", p->keys.k[BULLC__BMQ_Q_MARKER], t);
}

/* A marker ([key, member, score]): score 0 or past means "fetch now"; a future score is the
 * next delayed job's due time (docs/bullmq.md §3). */
static void bmq_block_reply(bullc__proto *p, const bullc__reply *r, bullc__wake *out)
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
    bullc__mp_int(mp, p->limiter_max);
    bullc__mp_cstr(mp, "duration");
    bullc__mp_int(mp, p->limiter_duration_ms);
}

void bullc__bmq_fetch_opts(bullc__proto *p, bullc__buf *mp, const char *token,
                           char (*tokens)[BULLC__BMQ_TOKEN_LEN], int ntokens)
{
    int limiter = p->limiter_max > 0;
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
    bullc__mp_int(mp, p->lock_duration_ms);
    if (p->name) {
        bullc__mp_cstr(mp, "name");
        bullc__mp_cstr(mp, p->name);
    }
}

const bullc__proto_ops bullc__bullmq_ops = {
    .name = "bullmq",
    .open_worker = bmq_open_worker,
    .open_queue = bmq_open_queue,
    .close = bmq_close,
    .check_server = bmq_check_server,
    .client_name = bmq_client_name,
    .block_cmd = bmq_block_cmd,
    .block_reply = bmq_block_reply,
    .block_floor_ms = bmq_block_floor_ms,
    .start = bullc__bmq_start,
    .settle_prepare = bullc__bmq_settle_prepare,
    .settle_release = bullc__bmq_settle_release,
    .xchg_build = bullc__bmq_xchg_build,
    .xchg_decode = bullc__bmq_xchg_decode,
    .xchg_free = bullc__bmq_xchg_free,
    .extend_locks = bullc__bmq_extend_locks,
    .check_stalled = bullc__bmq_check_stalled,
    .tick = NULL,
    .update_progress = bullc__bmq_update_progress,
    .add_log = bullc__bmq_add_log,
    .update_data = bullc__bmq_update_data,
    .move_to_delayed = bullc__bmq_move_to_delayed,
    .rate_limit = bullc__bmq_rate_limit,
    .wait_children = bullc__bmq_wait_children,
    .children_values = bullc__bmq_children_values,
    .ignored_failures = bullc__bmq_ignored_failures,
    .add = bullc__bmq_add,
    .get_state = bullc__bmq_get_state,
    .get_job_field = bullc__bmq_get_job_field,
    .get_counts = bullc__bmq_get_counts,
};
