/* queue.c - the public queue handle: a producer and reader over one connection, speaking the
 * queue's protocol (proto/proto.h). */
#include "proto/proto.h"
#include "util/sized.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this a command is considered lost and the connection rebuilt. */
#define BULLC__QUEUE_COMMAND_TIMEOUT_MS 30000

struct bullc_queue {
    char *s_url;
    char *s_queue;
    bullc__server server;
    int made;                  /* server and connection were initialised (free them) */
    bullc__logger log;
    bullc__conn conn;
    bullc__conn_link link;
    const bullc__proto_ops *ops;
    bullc__proto *proto;
    char errmsg[512];
};

static void defaults(bullc_queue_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->redis_url = "redis://127.0.0.1:6379";
    o->prefix = "bull";
    o->connect_timeout_ms = 5000;
    o->log_level = BULLC_LOG_INFO;
}

void bullc_queue_opts_init_sized(bullc_queue_opts_t *o, size_t size)
{
    if (!o)
        return;
    bullc_queue_opts_t d;
    defaults(&d);
    bullc__sized_write(o, size, &d, sizeof d);
}

void bullc_queue_free(bullc_queue_t *q)
{
    if (!q)
        return;
    if (q->ops)
        q->ops->close(q->proto);
    if (q->made) {
        bullc__conn_free(&q->conn);
        bullc__server_free(&q->server);
    }
    free(q->s_url);
    free(q->s_queue);
    free(q);
}

/* The caller's options over the defaults (README "ABI policy"); 0, or BULLC_EINVAL. */
static int read_opts(bullc_queue_opts_t *out, const bullc_queue_opts_t *in, size_t size)
{
    defaults(out);
    if (!in)
        return BULLC_EINVAL;
    if (bullc__sized_read(out, sizeof *out, in, size) != 0)
        return BULLC_EINVAL;
    if (!out->queue || !*out->queue || strchr(out->queue, ':') || !out->prefix ||
        out->connect_timeout_ms < 0)
        return BULLC_EINVAL;
    return 0;
}

int bullc_queue_new_sized(bullc_queue_t **out, const bullc_queue_opts_t *opts, size_t size)
{
    if (!out)
        return BULLC_EINVAL;
    *out = NULL;
    bullc_queue_opts_t o;
    if (read_opts(&o, opts, size) != 0)
        return BULLC_EINVAL;
    bullc_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return BULLC_ENOMEM;
    int rc = BULLC_ENOMEM;
    q->log = (bullc__logger){o.log_cb, o.log_user_data, o.log_level, NULL};
    if (!(q->s_url = bullc__strdup(o.redis_url ? o.redis_url : "redis://127.0.0.1:6379")) ||
        !(q->s_queue = bullc__strdup(o.queue)))
        goto fail;
    if (!(q->ops = bullc__proto_find(o.protocol))) {
        bullc__log(&q->log, BULLC_LOG_ERROR, "bullc_queue_new: invalid option: protocol must be "
                   "\"bullmq\" (or NULL) or \"bull\"");
        bullc_queue_free(q);
        return BULLC_EINVAL;
    }
    if ((rc = q->ops->open_queue(&q->proto, o.prefix, o.queue, &q->log, q->errmsg,
                                 sizeof q->errmsg)) != 0)
        goto fail;
    if (o.limiter_group_key && *o.limiter_group_key && !q->ops->set_group_key) {
        snprintf(q->errmsg, sizeof q->errmsg, "invalid option: limiter_group_key is a Bull 4 "
                 "option (protocol \"bull\")");
        rc = BULLC_EINVAL;
        goto fail;
    }
    if (q->ops->set_group_key && (rc = q->ops->set_group_key(q->proto, o.limiter_group_key)) != 0)
        goto fail;
    q->made = 1;
    bullc__conn_init(&q->conn, &(bullc__conn_cfg){&q->server, &q->log, "queue", NULL,
                                                  o.connect_timeout_ms,
                                                  BULLC__QUEUE_COMMAND_TIMEOUT_MS});
    if ((rc = bullc__server_init(&q->server, q->s_url, &o.tls, q->ops->key_base(q->proto),
                                 &q->log, o.connect_timeout_ms, q->errmsg,
                                 sizeof q->errmsg)) != 0)
        goto fail;
    bullc__conn_link_init(&q->link, &q->conn);
    if ((rc = bullc__conn_ensure(&q->conn)) != 0) {
        snprintf(q->errmsg, sizeof q->errmsg, "%s", q->conn.errstr);
        goto fail;
    }
    *out = q;
    return BULLC_OK;
fail:
    if (q->errmsg[0])
        bullc__log(&q->log, BULLC_LOG_ERROR, "queue %s: %s", o.queue, q->errmsg);
    bullc_queue_free(q);
    return rc;
}

const char *bullc_queue_errmsg(const bullc_queue_t *q)
{
    if (!q)
        return "no queue";
    return q->errmsg[0] ? q->errmsg : "no error";
}

/* A call the queue's protocol does not offer: BULLC_EMISUSE, with the reason in errmsg. */
static int not_offered(bullc_queue_t *q, const char *what)
{
    snprintf(q->errmsg, sizeof q->errmsg, "%s is not offered for %s queues", what, q->ops->name);
    return BULLC_EMISUSE;
}

int bullc_queue_add(bullc_queue_t *q, const char *name, const char *data_json,
                    const char *opts_json, char **id_out)
{
    if (id_out)
        *id_out = NULL;
    if (!q)
        return BULLC_EINVAL;
    if (!q->ops->add)
        return not_offered(q, "adding jobs");
    bullc_new_job_t job = {name, data_json, opts_json};
    char *id = NULL;
    int rc = q->ops->add(q->proto, &q->link.link, &job, 1, sizeof job, &id, q->errmsg,
                         sizeof q->errmsg);
    if (id_out)
        *id_out = id;
    else
        free(id);
    return rc;
}

int bullc_queue_add_bulk_sized(bullc_queue_t *q, const bullc_new_job_t *jobs, size_t n,
                               size_t size, char **ids_out)
{
    if (ids_out)
        for (size_t i = 0; i < n; i++)
            ids_out[i] = NULL;
    if (!q || (n && !jobs) || size == 0)
        return BULLC_EINVAL;
    if (!q->ops->add)
        return not_offered(q, "adding jobs");
    if (n == 0)
        return 0;
    return q->ops->add(q->proto, &q->link.link, jobs, n, size, ids_out, q->errmsg,
                       sizeof q->errmsg);
}

int bullc_queue_get_state(bullc_queue_t *q, const char *job_id, const char **state_out)
{
    if (state_out)
        *state_out = NULL;
    if (!q || !job_id || !state_out)
        return BULLC_EINVAL;
    if (!q->ops->get_state)
        return not_offered(q, "reading a job's state");
    return q->ops->get_state(q->proto, &q->link.link, job_id, state_out, q->errmsg,
                             sizeof q->errmsg);
}

int bullc_queue_get_job_field(bullc_queue_t *q, const char *job_id, const char *field,
                              char **value_out)
{
    if (value_out)
        *value_out = NULL;
    if (!q || !job_id || !field || !value_out)
        return BULLC_EINVAL;
    if (!q->ops->get_job_field)
        return not_offered(q, "reading a job's field");
    return q->ops->get_job_field(q->proto, &q->link.link, job_id, field, value_out, q->errmsg,
                                 sizeof q->errmsg);
}

int bullc_queue_get_counts_sized(bullc_queue_t *q, bullc_job_counts_t *out, size_t size)
{
    if (out)
        memset(out, 0, size); /* nothing is left unset, whatever the program's size */
    if (!q || !out)
        return BULLC_EINVAL;
    if (!q->ops->get_counts)
        return not_offered(q, "counting jobs");
    return q->ops->get_counts(q->proto, &q->link.link, out, size, q->errmsg, sizeof q->errmsg);
}

/* ---- queue administration: one protocol request per call (proto/proto.h) ------------------ */

void bullc_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int admin(bullc_queue_t *q, bullc__admin *req)
{
    if (!q)
        return BULLC_EINVAL;
    if (!q->ops->admin)
        return not_offered(q, "queue administration");
    q->errmsg[0] = '\0';
    int rc = q->ops->admin(q->proto, &q->link.link, req, q->errmsg, sizeof q->errmsg);
    if (rc) {
        bullc_strv_free(req->items);
        free(req->json);
        req->items = NULL;
        req->json = NULL;
        req->nitems = 0;
    }
    return rc;
}

/* Runs req and hands its list of strings out (an empty list is an array holding NULL). */
static int admin_list(bullc_queue_t *q, bullc__admin *req, char ***out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    int rc = admin(q, req);
    if (rc == 0 && !req->items && !(req->items = calloc(1, sizeof *req->items)))
        rc = BULLC_ENOMEM;
    if (rc == 0 && out) {
        *out = req->items;
        req->items = NULL;
    }
    if (rc == 0 && n)
        *n = req->nitems;
    bullc_strv_free(req->items);
    return rc;
}

static int admin_json(bullc_queue_t *q, bullc__admin *req, char **out)
{
    if (!out)
        return BULLC_EINVAL;
    *out = NULL;
    int rc = admin(q, req);
    if (rc == 0)
        *out = req->json;
    return rc;
}

static int admin_count(bullc_queue_t *q, bullc__admin *req, long long *count)
{
    int rc = admin(q, req);
    if (count)
        *count = rc == 0 ? req->count : 0;
    return rc;
}

int bullc_queue_list_queues(bullc_queue_t *q, char ***names, size_t *n)
{
    return admin_list(q, &(bullc__admin){.op = BULLC__ADM_QUEUES}, names, n);
}

int bullc_queue_get_jobs(bullc_queue_t *q, const char *state, long long start, long long end,
                         char ***ids, size_t *n)
{
    bullc__admin req = {.op = BULLC__ADM_JOBS, .state = state, .a = start, .b = end};
    return admin_list(q, &req, ids, n);
}

int bullc_queue_get_job_json(bullc_queue_t *q, const char *id, char **json)
{
    return admin_json(q, &(bullc__admin){.op = BULLC__ADM_JOB, .id = id}, json);
}

int bullc_queue_retry_job(bullc_queue_t *q, const char *id)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_RETRY, .id = id});
}

int bullc_queue_retry_failed(bullc_queue_t *q, long long *count)
{
    return admin_count(q, &(bullc__admin){.op = BULLC__ADM_RETRY_ALL}, count);
}

int bullc_queue_promote_job(bullc_queue_t *q, const char *id)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_PROMOTE, .id = id});
}

int bullc_queue_promote_all(bullc_queue_t *q, long long *count)
{
    return admin_count(q, &(bullc__admin){.op = BULLC__ADM_PROMOTE_ALL}, count);
}

int bullc_queue_remove_job(bullc_queue_t *q, const char *id)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_REMOVE, .id = id});
}

int bullc_queue_clean(bullc_queue_t *q, const char *state, long long grace_ms, long long limit,
                      char ***ids, size_t *n)
{
    bullc__admin req = {.op = BULLC__ADM_CLEAN, .state = state, .a = grace_ms, .b = limit};
    return admin_list(q, &req, ids, n);
}

int bullc_queue_pause(bullc_queue_t *q)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_PAUSE, .flag = 1});
}

int bullc_queue_resume(bullc_queue_t *q)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_PAUSE, .flag = 0});
}

int bullc_queue_drain(bullc_queue_t *q, int delayed)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_DRAIN, .flag = delayed});
}

int bullc_queue_obliterate(bullc_queue_t *q, int force)
{
    return admin(q, &(bullc__admin){.op = BULLC__ADM_OBLITERATE, .flag = force});
}

int bullc_queue_get_logs(bullc_queue_t *q, const char *id, char ***lines, size_t *n)
{
    return admin_list(q, &(bullc__admin){.op = BULLC__ADM_LOGS, .id = id}, lines, n);
}

int bullc_queue_get_workers(bullc_queue_t *q, char **json)
{
    return admin_json(q, &(bullc__admin){.op = BULLC__ADM_WORKERS}, json);
}

int bullc_queue_read_events(bullc_queue_t *q, const char *after_id, long long count,
                            long long block_ms, char **json)
{
    bullc__admin req = {.op = BULLC__ADM_EVENTS, .id = after_id, .a = count, .b = block_ms};
    return admin_json(q, &req, json);
}
