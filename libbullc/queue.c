/* queue.c - the producer handle: adds jobs (one, or many in one pipelined round trip) exactly as
 * Node's Queue.add/addBulk store them, and reads job state, fields and counts. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this a command is considered lost and the connection rebuilt. */
#define BULLC__QUEUE_COMMAND_TIMEOUT_MS 30000

enum { ADD_NKEYS = 10 };

struct bullc_queue {
    char *s_url;
    char *s_prefix;
    char *s_queue;
    bullc__url url;
    bullc__keys keys;
    bullc__logger log;
    bullc__conn conn;
    char errmsg[512];
};

static int set_err(bullc_queue_t *q, int code, const char *fmt, ...) BULLC__PRINTF(3, 4);
static int set_err(bullc_queue_t *q, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->errmsg, sizeof q->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

/* After a failed connection-layer call: keep its text. */
static int conn_err(bullc_queue_t *q, int code)
{
    return set_err(q, code, "%s", q->conn.errstr[0] ? q->conn.errstr : bullc_strerror(code));
}

void bullc_queue_opts_init(bullc_queue_opts_t *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->redis_url = "redis://127.0.0.1:6379";
    o->prefix = "bull";
    o->connect_timeout_ms = 5000;
    o->log_level = BULLC_LOG_INFO;
}

void bullc_queue_free(bullc_queue_t *q)
{
    if (!q)
        return;
    bullc__conn_free(&q->conn);
    bullc__keys_free(&q->keys);
    bullc__url_free(&q->url);
    free(q->s_url);
    free(q->s_prefix);
    free(q->s_queue);
    free(q);
}

int bullc_queue_new(bullc_queue_t **out, const bullc_queue_opts_t *opts)
{
    if (!out)
        return BULLC_EINVAL;
    *out = NULL;
    if (!opts || !opts->queue || !*opts->queue || strchr(opts->queue, ':') || !opts->prefix ||
        opts->connect_timeout_ms < 0)
        return BULLC_EINVAL;
    bullc_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return BULLC_ENOMEM;
    int rc = BULLC_ENOMEM;
    if (!(q->s_url = bullc__strdup(opts->redis_url ? opts->redis_url : "redis://127.0.0.1:6379")) ||
        !(q->s_prefix = bullc__strdup(opts->prefix)) || !(q->s_queue = bullc__strdup(opts->queue)))
        goto fail;
    q->log.cb = opts->log_cb;
    q->log.ud = opts->log_user_data;
    q->log.level = opts->log_level;
    if ((rc = bullc__url_parse(q->s_url, &q->url, q->errmsg, sizeof q->errmsg)) != 0)
        goto fail;
    if ((rc = bullc__keys_init(&q->keys, q->s_prefix, q->s_queue)) != 0)
        goto fail;
    bullc__conn_init(&q->conn, &(bullc__conn_cfg){&q->url, &q->log, "queue", NULL,
                                                  opts->connect_timeout_ms,
                                                  BULLC__QUEUE_COMMAND_TIMEOUT_MS});
    if ((rc = bullc__conn_ensure(&q->conn)) != 0) {
        bullc__log(&q->log, BULLC_LOG_ERROR, "queue %s: %s", q->s_queue, q->conn.errstr);
        goto fail;
    }
    *out = q;
    return BULLC_OK;
fail:
    bullc_queue_free(q);
    return rc;
}

const char *bullc_queue_errmsg(const bullc_queue_t *q)
{
    if (!q)
        return "no queue";
    return q->errmsg[0] ? q->errmsg : "no error";
}

/* ---- adding --------------------------------------------------------------------------------- */

/* One addJob call for `job`. */
static void add_cmd(const bullc_queue_t *q, const bullc__newjob *job, bullc__cmd *cmd)
{
    static const bullc__qkey order[ADD_NKEYS] = {
        BULLC__K_WAIT,   BULLC__K_PAUSED, BULLC__K_META,   BULLC__K_ID,          BULLC__K_DELAYED,
        BULLC__K_ACTIVE, BULLC__K_EVENTS, BULLC__K_MARKER, BULLC__K_PRIORITIZED, BULLC__K_PC,
    };
    bullc__cmd_reset(cmd, &bullc__scripts[BULLC__S_ADD_JOB]);
    for (int i = 0; i < ADD_NKEYS; i++)
        bullc__cmd_keystr(cmd, q->keys.k[order[i]]);
    bullc__cmd_arg(cmd, q->keys.base, q->keys.base_len);
    bullc__cmd_str(cmd, job->job_id);
    bullc__cmd_str(cmd, job->name);
    bullc__cmd_str(cmd, job->timestamp);
    bullc__cmd_str(cmd, job->data);
    bullc__cmd_arg(cmd, job->opts.data, job->opts.len);
}

/* The job id from an addJob reply. */
static int add_reply(bullc_queue_t *q, const bullc__reply *r, char **id_out)
{
    if (!r || r->type != BULLC__R_STRING || r->len == 0)
        return set_err(q, BULLC_EPROTO, "addJob: unexpected reply (type %d)", r ? (int)r->type : -1);
    if (id_out && !(*id_out = bullc__strndup(r->str, r->len)))
        return set_err(q, BULLC_ENOMEM, "out of memory");
    return 0;
}

/* Sends the addJob calls of `n` prepared jobs as one pipeline; ids_out[i] gets job i's id. */
static int add_prepared(bullc_queue_t *q, const bullc__newjob *jobs, size_t n, char **ids_out)
{
    bullc__cmd *cmds = calloc(n, sizeof *cmds);
    bullc__cmd **ptrs = calloc(n, sizeof *ptrs);
    bullc__reply **replies = calloc(n, sizeof *replies);
    int rc = 0;
    if (!cmds || !ptrs || !replies)
        rc = set_err(q, BULLC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        bullc__cmd_init(&cmds[i]);
        add_cmd(q, &jobs[i], &cmds[i]);
        ptrs[i] = &cmds[i];
        if (bullc__cmd_oom(&cmds[i]))
            rc = set_err(q, BULLC_ENOMEM, "out of memory");
    }
    if (!rc && (rc = bullc__conn_exec(&q->conn, ptrs, n, replies)) != 0)
        rc = conn_err(q, rc == BULLC_ECONNECT ? BULLC_EIO : rc);
    for (size_t i = 0; i < n && !rc; i++) {
        if (replies[i]->type == BULLC__R_ERROR)
            rc = n == 1 ? set_err(q, BULLC_ESCRIPT, "addJob: %s", replies[i]->str)
                        : set_err(q, BULLC_ESCRIPT, "job %zu: addJob: %s", i, replies[i]->str);
        else
            rc = add_reply(q, replies[i], ids_out ? &ids_out[i] : NULL);
    }
    for (size_t i = 0; cmds && i < n; i++) {
        bullc__cmd_free(&cmds[i]);
        if (replies)
            bullc__reply_free(replies[i]);
    }
    free(cmds);
    free(ptrs);
    free(replies);
    return rc;
}

int bullc_queue_add(bullc_queue_t *q, const char *name, const char *data_json,
                    const char *opts_json, char **id_out)
{
    if (id_out)
        *id_out = NULL;
    if (!q)
        return BULLC_EINVAL;
    bullc__newjob job;
    int rc = bullc__newjob_prepare(&job, name, data_json, opts_json, bullc__now_ms(), q->errmsg,
                                   sizeof q->errmsg);
    if (rc)
        return rc;
    rc = add_prepared(q, &job, 1, id_out);
    bullc__newjob_free(&job);
    return rc;
}

int bullc_queue_add_bulk(bullc_queue_t *q, const bullc_new_job_t *jobs, size_t n, char **ids_out)
{
    if (ids_out)
        for (size_t i = 0; i < n; i++)
            ids_out[i] = NULL;
    if (!q || (n && !jobs))
        return BULLC_EINVAL;
    if (n == 0)
        return 0;
    bullc__newjob *prep = calloc(n, sizeof *prep);
    if (!prep)
        return set_err(q, BULLC_ENOMEM, "out of memory");
    int rc = 0;
    long long now = bullc__now_ms();
    for (size_t i = 0; i < n && !rc; i++) {
        char why[400];
        rc = bullc__newjob_prepare(&prep[i], jobs[i].name, jobs[i].data_json, jobs[i].opts_json, now,
                                   why, sizeof why);
        if (rc)
            set_err(q, rc, "job %zu: %s", i, why);
    }
    if (!rc)
        rc = add_prepared(q, prep, n, ids_out);
    if (rc && ids_out)
        for (size_t i = 0; i < n; i++) {
            free(ids_out[i]);
            ids_out[i] = NULL;
        }
    for (size_t i = 0; i < n; i++)
        bullc__newjob_free(&prep[i]);
    free(prep);
    return rc;
}

/* ---- reading -------------------------------------------------------------------------------- */

int bullc_queue_get_state(bullc_queue_t *q, const char *job_id, const char **state_out)
{
    static const char *const states[] = {"completed", "failed",  "delayed",          "prioritized",
                                          "active",    "waiting", "waiting-children", "unknown"};
    if (state_out)
        *state_out = NULL;
    if (!q || !job_id || !state_out)
        return BULLC_EINVAL;
    const char *keys[8] = {
        q->keys.k[BULLC__K_COMPLETED],  q->keys.k[BULLC__K_FAILED], q->keys.k[BULLC__K_DELAYED],
        q->keys.k[BULLC__K_PRIORITIZED], q->keys.k[BULLC__K_ACTIVE], q->keys.k[BULLC__K_WAIT],
        q->keys.k[BULLC__K_PAUSED],     q->keys.k[BULLC__K_WAITING_CHILDREN],
    };
    const char *args[1] = {job_id};
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&q->conn, BULLC__S_GET_STATE, 8, keys, 1, args, NULL, &r);
    if (rc)
        return conn_err(q, rc);
    rc = set_err(q, BULLC_EPROTO, "getState: unexpected reply");
    if (r->type == BULLC__R_STRING || r->type == BULLC__R_STATUS)
        for (size_t i = 0; i < sizeof states / sizeof *states; i++)
            if (!strcmp(r->str, states[i])) {
                *state_out = states[i];
                q->errmsg[0] = '\0';
                rc = 0;
            }
    bullc__reply_free(r);
    return rc;
}

int bullc_queue_get_job_field(bullc_queue_t *q, const char *job_id, const char *field,
                              char **value_out)
{
    if (value_out)
        *value_out = NULL;
    if (!q || !job_id || !field || !value_out)
        return BULLC_EINVAL;
    char *key = bullc__job_key(&q->keys, job_id, NULL);
    if (!key)
        return set_err(q, BULLC_ENOMEM, "out of memory");
    const char *argv[3] = {"HGET", key, field};
    bullc__reply *r = NULL;
    int rc = bullc__conn_cmd(&q->conn, 3, argv, NULL, &r);
    if (rc) {
        rc = conn_err(q, rc);
    } else if (r->type == BULLC__R_STRING) {
        if (!(*value_out = bullc__strndup(r->str, r->len)))
            rc = set_err(q, BULLC_ENOMEM, "out of memory");
    } else if (r->type == BULLC__R_NIL) {
        /* no such field: tell a missing job apart */
        bullc__reply_free(r);
        r = NULL;
        argv[0] = "EXISTS";
        if ((rc = bullc__conn_cmd(&q->conn, 2, argv, NULL, &r)) != 0)
            rc = conn_err(q, rc);
        else if (r->type != BULLC__R_INTEGER)
            rc = set_err(q, BULLC_EPROTO, "EXISTS: unexpected reply");
        else if (r->integer == 0)
            rc = set_err(q, BULLC_ENOJOB, "job %s does not exist", job_id);
    } else {
        rc = set_err(q, BULLC_EPROTO, "HGET: unexpected reply");
    }
    bullc__reply_free(r);
    free(key);
    return rc;
}

int bullc_queue_get_counts(bullc_queue_t *q, bullc_job_counts_t *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!q || !out)
        return BULLC_EINVAL;
    const char *keys[8] = {
        q->keys.k[BULLC__K_WAIT],    q->keys.k[BULLC__K_PAUSED],     q->keys.k[BULLC__K_ACTIVE],
        q->keys.k[BULLC__K_COMPLETED], q->keys.k[BULLC__K_FAILED],   q->keys.k[BULLC__K_DELAYED],
        q->keys.k[BULLC__K_PRIORITIZED], q->keys.k[BULLC__K_WAITING_CHILDREN],
    };
    bullc__reply *r = NULL;
    int rc = bullc__conn_script(&q->conn, BULLC__S_GET_COUNTS, 8, keys, 0, NULL, NULL, &r);
    if (rc)
        return conn_err(q, rc);
    if (r->type != BULLC__R_ARRAY || r->elements != 8) {
        bullc__reply_free(r);
        return set_err(q, BULLC_EPROTO, "getCounts: unexpected reply");
    }
    long long v[8];
    for (size_t i = 0; i < 8; i++) {
        if (r->element[i]->type != BULLC__R_INTEGER) {
            bullc__reply_free(r);
            return set_err(q, BULLC_EPROTO, "getCounts: unexpected reply");
        }
        v[i] = r->element[i]->integer;
    }
    bullc__reply_free(r);
    out->waiting = v[0];
    out->paused = v[1];
    out->active = v[2];
    out->completed = v[3];
    out->failed = v[4];
    out->delayed = v[5];
    out->prioritized = v[6];
    out->waiting_children = v[7];
    return 0;
}
