/* bull_admin_read.c - the readers of queue administration for Bull queues: queues under a
 * prefix, jobs of a state, a whole job, logs and connected workers, each as Node Bull
 * 4.16.5's getter of the same meaning answers (docs/bull.md §6). Bull has no events stream. */
#include "bull_admin.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both lists of queue names (list_queues). */
typedef struct names {
    bullc__admin *bull, *bullmq;
} names;

/* A key "<prefix>:<name><suffix>": <name> joins `bull` for the suffixes every Bull queue has
 * (id, meta-paused), `bullmq` for BullMQ's own (events, marker). */
static int sort_key(void *ctx, const char *name, size_t n, const char *suffix)
{
    names *v = ctx;
    if (!strcmp(suffix, ":id") || !strcmp(suffix, ":meta-paused"))
        return bullc__adm_push_name(v->bull, name, n);
    if (!strcmp(suffix, ":events") || !strcmp(suffix, ":marker"))
        return bullc__adm_push_name(v->bullmq, name, n);
    return 0;
}

/* The Bull queues under the prefix: names with an `id` or `meta-paused` key and neither an
 * `events` stream nor a `marker` (those make it a BullMQ queue), sorted, once each. */
static int list_queues(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                       size_t errlen)
{
    bullc__admin bullmq = {0};
    size_t plen, qlen;
    const char *queue;
    bullc__adm_split_base(p->keys.base, p->keys.base_len, &plen, &queue, &qlen);
    names v = {req, &bullmq};
    int rc = bullc__adm_scan_keys(link, p->keys.base, plen, sort_key, &v, err, errlen);
    bullc__adm_sort_unique(req);
    bullc__adm_sort_unique(&bullmq);
    size_t n = 0, j = 0;
    for (size_t i = 0; rc == 0 && i < req->nitems; i++) {
        while (j < bullmq.nitems && strcmp(bullmq.items[j], req->items[i]) < 0)
            j++;
        if (j < bullmq.nitems && !strcmp(bullmq.items[j], req->items[i]))
            free(req->items[i]);
        else
            req->items[n++] = req->items[i];
    }
    if (rc == 0 && req->items) {
        req->nitems = n;
        req->items[n] = NULL;
    }
    bullc__adm_free_items(&bullmq);
    return rc;
}

/* One range of a state's key, appended to req->items in Node Bull's getRanges order: asc lists
 * are read from the right end (LRANGE -(end+1) -(start+1), reversed), desc sets with ZREVRANGE. */
static int one_range(bullc__proto *p, bullc__link *link, bullc__admin *req, const char *state,
                     const char *verb, int asc_list, char *err, size_t errlen)
{
    char *key = bullc__bull_job_key(&p->keys, state), a[32], b[32];
    if (!key)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    snprintf(a, sizeof a, "%lld", asc_list ? -(req->b + 1) : req->a);
    snprintf(b, sizeof b, "%lld", asc_list ? -(req->a + 1) : req->b);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 4, verb, key, a, b);
    free(key);
    bullc__reply *r;
    bullc__admin part = {0};
    int rc = bullc__adm_call(link, &cmd, &r, err, errlen);
    if (rc == 0)
        rc = bullc__adm_strings(r, &part, err, errlen);
    bullc__reply_free(r);
    for (size_t i = 0; rc == 0 && asc_list && i < part.nitems / 2; i++) {
        char *t = part.items[i];
        part.items[i] = part.items[part.nitems - 1 - i];
        part.items[part.nitems - 1 - i] = t;
    }
    if (rc == 0)
        rc = bullc__adm_append(req, &part, err, errlen);
    bullc__adm_free_items(&part);
    return rc;
}

/* Ids of one state from a to b, in the order of Node Bull's named getter: getWaiting (wait then
 * paused), getActive, getDelayed ascending (oldest / earliest first), getCompleted and getFailed
 * descending (newest first); `paused` alone ascending too. */
static int list_jobs(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                     size_t errlen)
{
    const char *st = req->state && !strcmp(req->state, "wait") ? "waiting" : req->state;
    int rc;
    if (!st)
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "no state");
    if (!strcmp(st, "waiting")) {
        rc = one_range(p, link, req, "wait", "LRANGE", 1, err, errlen);
        return rc ? rc : one_range(p, link, req, "paused", "LRANGE", 1, err, errlen);
    }
    if (!strcmp(st, "active") || !strcmp(st, "paused"))
        rc = one_range(p, link, req, st, "LRANGE", 1, err, errlen);
    else if (!strcmp(st, "delayed"))
        rc = one_range(p, link, req, st, "ZRANGE", 0, err, errlen);
    else if (!strcmp(st, "completed") || !strcmp(st, "failed"))
        rc = one_range(p, link, req, st, "ZREVRANGE", 0, err, errlen);
    else
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "bull queues have no state %s", st);
    if (rc == 0 && !req->items && !(req->items = calloc(1, sizeof *req->items)))
        rc = bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    return rc;
}

/* The job object from its hash, as Node Bull's Job.fromJSON reads the fields; attemptsStarted
 * is null (Bull counts no starts). */
int bullc__bull_job_json(const bullc__reply *h, const char *id, const char *state, char **out)
{
    cJSON *o = cJSON_CreateObject(), *opts = bullc__adm_json_or(bullc__adm_field(h, "opts"), cJSON_CreateObject());
    const char *name = bullc__adm_field(h, "name"), *reason = bullc__adm_field(h, "failedReason"),
               *data = bullc__adm_field(h, "data"), *atm = bullc__adm_field(h, "attemptsMade");
    cJSON *stack = bullc__adm_json_or(bullc__adm_field(h, "stacktrace"), cJSON_CreateArray());
    if (!cJSON_IsArray(stack)) {
        cJSON_Delete(stack);
        stack = cJSON_CreateArray();
    }
    cJSON_AddItemToObject(o, "id", cJSON_CreateString(id));
    cJSON_AddItemToObject(o, "name", cJSON_CreateString(name && *name ? name : "__default__"));
    cJSON_AddItemToObject(o, "data", cJSON_IsTrue(cJSON_GetObjectItem(opts, "preventParsingData"))
                                         ? cJSON_CreateString(data ? data : "")
                                         : bullc__adm_json_or(data, cJSON_CreateObject()));
    cJSON_AddItemToObject(o, "opts", opts);
    cJSON_AddItemToObject(o, "progress", bullc__adm_json_or(bullc__adm_field(h, "progress"), cJSON_CreateNumber(0)));
    cJSON_AddItemToObject(o, "attemptsMade", bullc__adm_int_or_null(atm && *atm ? atm : "0"));
    cJSON_AddItemToObject(o, "attemptsStarted", cJSON_CreateNull());
    cJSON_AddItemToObject(o, "timestamp", bullc__adm_int_or_null(bullc__adm_field(h, "timestamp")));
    cJSON_AddItemToObject(o, "processedOn", bullc__adm_int_or_null(bullc__adm_field(h, "processedOn")));
    cJSON_AddItemToObject(o, "finishedOn", bullc__adm_int_or_null(bullc__adm_field(h, "finishedOn")));
    cJSON_AddItemToObject(o, "returnvalue", bullc__adm_json_or(bullc__adm_field(h, "returnvalue"), cJSON_CreateNull()));
    cJSON_AddItemToObject(o, "failedReason",
                          reason ? cJSON_CreateString(reason) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "stacktrace", stack);
    cJSON_AddItemToObject(o, "delay", bullc__adm_int_or_null(bullc__adm_field(h, "delay")));
    cJSON_AddItemToObject(o, "priority", bullc__adm_int_or_null(bullc__adm_field(h, "priority")));
    cJSON_AddItemToObject(o, "state", cJSON_CreateString(state));
    *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *out ? 0 : BULLC_ENOMEM;
}

static int read_job(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                    size_t errlen)
{
    return bullc__adm_read_job(p, link, bullc__bull_job_key(&p->keys, req->id), req,
                               bullc__bull_get_state, bullc__bull_job_json, err, errlen);
}

/* A job's log lines, oldest first (Node Bull's getJobLogs(id).logs); BULLC_ENOJOB for a job
 * that does not exist (Node answers an empty list). */
static int read_logs(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                     size_t errlen)
{
    char *key = bullc__bull_job_key(&p->keys, req->id);
    char *logs = bullc__proto_job_key(p->keys.base, p->keys.base_len, req->id, ":logs");
    int rc = bullc__adm_job_logs(link, key, logs, req, err, errlen);
    free(key);
    free(logs);
    return rc;
}

/* The CLIENT LIST lines whose name starts with "<prefix>:<base64(queue)>", as Node Bull's
 * getWorkers() matches them: {"name": the queue's name (what Node reports), "addr",
 * "rawname"}. */
int bullc__bull_workers_json(const char *list, const char *want, const char *queue, size_t qlen,
                             char **out)
{
    cJSON *arr = cJSON_CreateArray();
    size_t wlen = strlen(want);
    for (const char *line = list; arr && line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        cJSON *raw = bullc__adm_client_field(line, len, "name");
        const char *rn = cJSON_GetStringValue(raw);
        if (rn && !strncmp(rn, want, wlen)) {
            char *q = bullc__strndup(queue, qlen);
            cJSON *w = cJSON_CreateObject();
            cJSON_AddItemToObject(w, "name", q ? cJSON_CreateString(q) : NULL);
            cJSON_AddItemToObject(w, "addr", bullc__adm_client_field(line, len, "addr"));
            cJSON_AddItemToObject(w, "rawname", raw);
            cJSON_AddItemToArray(arr, w);
            free(q);
        } else {
            cJSON_Delete(raw);
        }
        line = nl ? nl + 1 : NULL;
    }
    *out = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return *out ? 0 : BULLC_ENOMEM;
}

static int read_workers(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                        size_t errlen)
{
    size_t plen, qlen;
    const char *queue;
    bullc__adm_split_base(p->keys.base, p->keys.base_len, &plen, &queue, &qlen);
    char *prefix = bullc__strndup(p->keys.base, plen), *q = bullc__strndup(queue, qlen);
    char *want = prefix && q ? bullc__proto_client_name(prefix, q, NULL) : NULL;
    free(prefix);
    free(q);
    if (!want)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 2, "CLIENT", "LIST");
    bullc__reply *r = NULL;
    int rc = bullc__adm_call(link, &cmd, &r, err, errlen);
    if (rc == 0 && r->type != BULLC__R_STRING && r->type != BULLC__R_STATUS)
        rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "CLIENT LIST: unexpected reply");
    if (rc == 0 && bullc__bull_workers_json(r->str, want, queue, qlen, &req->json) != 0)
        rc = bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__reply_free(r);
    free(want);
    return rc;
}

int bullc__bull_admin_read(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                           size_t errlen)
{
    switch (req->op) {
    case BULLC__ADM_QUEUES:
        return list_queues(p, link, req, err, errlen);
    case BULLC__ADM_JOBS:
        return list_jobs(p, link, req, err, errlen);
    case BULLC__ADM_WORKERS:
        return read_workers(p, link, req, err, errlen);
    case BULLC__ADM_EVENTS:
        return bullc__adm_err(err, errlen, BULLC_EMISUSE,
                              "bull queues have no event stream; Bull publishes its events on "
                              "pub/sub channels (docs/bull.md §5)");
    case BULLC__ADM_JOB:
    case BULLC__ADM_LOGS:
        if (!req->id || !*req->id)
            return bullc__adm_err(err, errlen, BULLC_EINVAL, "no job id");
        return req->op == BULLC__ADM_JOB ? read_job(p, link, req, err, errlen)
                                         : read_logs(p, link, req, err, errlen);
    default:
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "unknown admin request %d", (int)req->op);
    }
}
