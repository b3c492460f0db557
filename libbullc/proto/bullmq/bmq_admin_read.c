/* bmq_admin_read.c - the readers of queue administration for BullMQ queues: queues under a
 * prefix, jobs of a state, a whole job, logs, connected workers and the events stream, each as
 * Node's Queue getter of the same meaning answers (docs/bullmq.md "Admin operations"). */
#include "bmq_admin.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key "<prefix>:<name>:meta" or "<prefix>:<name>:id" names a queue; adds <name>. */
static int add_queue_of(void *ctx, const char *name, size_t n, const char *suffix)
{
    if (strcmp(suffix, ":meta") && strcmp(suffix, ":id"))
        return 0;
    return bullc__adm_push_name(ctx, name, n);
}

/* Every queue under the handle's prefix: SCAN for their meta and id keys, sorted, once each. */
static int list_queues(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                       size_t errlen)
{
    size_t plen, qlen;
    const char *queue;
    bullc__adm_split_base(p->keys.base, p->keys.base_len, &plen, &queue, &qlen);
    int rc = bullc__adm_scan_keys(link, p->keys.base, plen, add_queue_of, req, err, errlen);
    if (rc == 0)
        bullc__adm_sort_unique(req);
    return rc;
}

/* Ids of one state from a to b: lists from the head (newest first), sets highest score first. */
static int list_jobs(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                     size_t errlen)
{
    static const char *const lists[] = {"wait", "paused", "active"};
    static const char *const sets[] = {"completed", "failed", "delayed", "prioritized",
                                       "waiting-children"};
    const char *st = req->state && !strcmp(req->state, "waiting") ? "wait" : req->state;
    const char *verb = NULL;
    for (size_t i = 0; st && i < BULLC__COUNT(lists); i++)
        verb = !strcmp(st, lists[i]) ? "LRANGE" : verb;
    for (size_t i = 0; st && i < BULLC__COUNT(sets); i++)
        verb = !strcmp(st, sets[i]) ? "ZREVRANGE" : verb;
    if (!verb)
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "unknown state %s", st ? st : "(none)");
    char *key = bullc__bmq_job_key(&p->keys, st, NULL), a[32], b[32];
    if (!key)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    snprintf(a, sizeof a, "%lld", req->a);
    snprintf(b, sizeof b, "%lld", req->b);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 4, verb, key, a, b);
    free(key);
    bullc__reply *r;
    int rc = bullc__adm_call(link, &cmd, &r, err, errlen);
    if (rc == 0)
        rc = bullc__adm_strings(r, req, err, errlen);
    bullc__reply_free(r);
    size_t n = 0; /* pre-v5 "0:<n>" markers are no jobs */
    for (size_t i = 0; rc == 0 && i < req->nitems; i++) {
        if (!strncmp(req->items[i], "0:", 2))
            free(req->items[i]);
        else
            req->items[n++] = req->items[i];
    }
    if (rc == 0) {
        req->nitems = n;
        req->items[n] = NULL;
    }
    return rc;
}

/* Stored `tm` and `omc` become telemetry.metadata and telemetry.omitContext, as Node shows them. */
static void telemetry_opts(cJSON *o)
{
    static const char *const pairs[][2] = {{"tm", "metadata"}, {"omc", "omitContext"}};
    for (size_t i = 0; i < BULLC__COUNT(pairs); i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, pairs[i][0]);
        if (!v)
            continue;
        cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "telemetry");
        if (!cJSON_IsObject(t)) {
            cJSON_DeleteItemFromObjectCaseSensitive(o, "telemetry");
            cJSON_AddItemToObject(o, "telemetry", t = cJSON_CreateObject());
        }
        if (!t || (!cJSON_ReplaceItemInObjectCaseSensitive(t, pairs[i][1], v) &&
                   !cJSON_AddItemToObject(t, pairs[i][1], v)))
            cJSON_Delete(v);
    }
}

/* The stored options with Node's long names (de -> deduplication, kl -> keepLogs, ...). */
static cJSON *long_opts(const char *text)
{
    cJSON *o = bullc__adm_json_or(text ? text : "{}", cJSON_CreateObject());
    if (cJSON_IsObject(o))
        telemetry_opts(o);
    for (cJSON *m = o ? o->child : NULL; m; m = m->next) {
        const char *l = m->string ? bullc__bmq_long_name(m->string) : NULL;
        char *s = l && strcmp(l, m->string) ? bullc__strdup(l) : NULL;
        if (s) {
            if (!(m->type & cJSON_StringIsConst))
                cJSON_free(m->string);
            m->string = s;
            m->type &= ~cJSON_StringIsConst;
        }
    }
    return o;
}

/* The job object: every key, null when the job has none (Node's defaults otherwise). */
static int job_json(const bullc__reply *h, const char *id, const char *state, char **out)
{
    cJSON *o = cJSON_CreateObject();
    const char *name = bullc__adm_field(h, "name"), *reason = bullc__adm_field(h, "failedReason");
    cJSON_AddItemToObject(o, "id", cJSON_CreateString(id));
    cJSON_AddItemToObject(o, "name", name ? cJSON_CreateString(name) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "data", bullc__adm_json_or(bullc__adm_field(h, "data"), cJSON_CreateObject()));
    cJSON_AddItemToObject(o, "opts", long_opts(bullc__adm_field(h, "opts")));
    cJSON_AddItemToObject(o, "progress", bullc__adm_json_or(bullc__adm_field(h, "progress"), cJSON_CreateNumber(0)));
    const char *atm = bullc__adm_field(h, "atm"), *ats = bullc__adm_field(h, "ats");
    cJSON_AddItemToObject(o, "attemptsMade", bullc__adm_int_or_null(atm ? atm : "0"));
    cJSON_AddItemToObject(o, "attemptsStarted", bullc__adm_int_or_null(ats ? ats : "0"));
    cJSON_AddItemToObject(o, "timestamp", bullc__adm_int_or_null(bullc__adm_field(h, "timestamp")));
    cJSON_AddItemToObject(o, "processedOn", bullc__adm_int_or_null(bullc__adm_field(h, "processedOn")));
    cJSON_AddItemToObject(o, "finishedOn", bullc__adm_int_or_null(bullc__adm_field(h, "finishedOn")));
    cJSON_AddItemToObject(o, "returnvalue", bullc__adm_json_or(bullc__adm_field(h, "returnvalue"), cJSON_CreateNull()));
    cJSON_AddItemToObject(o, "failedReason",
                          reason ? cJSON_CreateString(reason) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "stacktrace", bullc__adm_json_or(bullc__adm_field(h, "stacktrace"), cJSON_CreateArray()));
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
    return bullc__adm_read_job(p, link, bullc__bmq_job_key(&p->keys, req->id, NULL), req,
                               bullc__bmq_get_state, job_json, err, errlen);
}

/* A job's log lines, oldest first (Node's getJobLogs). */
static int read_logs(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                     size_t errlen)
{
    char *key = bullc__bmq_job_key(&p->keys, req->id, NULL);
    char *logs = bullc__bmq_job_key(&p->keys, req->id, ":logs");
    int rc = bullc__adm_job_logs(link, key, logs, req, err, errlen);
    free(key);
    free(logs);
    return rc;
}

/* The connections named as this queue's workers (Node's getWorkers): "<prefix>:<base64(queue)>"
 * or that followed by ":w:<name>". */
static int read_workers(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                        size_t errlen)
{
    size_t qlen = 0;
    while (qlen + 1 < p->keys.base_len && p->keys.base[p->keys.base_len - 2 - qlen] != ':')
        qlen++;
    const char *queue = p->keys.base + p->keys.base_len - 1 - qlen;
    char *b64 = bullc__base64(queue, qlen);
    bullc__buf want;
    bullc__buf_init(&want);
    bullc__buf_append(&want, p->keys.base, p->keys.base_len - 1 - qlen);
    bullc__buf_puts(&want, b64 ? b64 : "");
    free(b64);
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 2, "CLIENT", "LIST");
    bullc__reply *r = NULL;
    int rc = want.oom || !b64 ? bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory")
                              : bullc__adm_call(link, &cmd, &r, err, errlen);
    if (rc == 0 && r->type != BULLC__R_STRING && r->type != BULLC__R_STATUS)
        rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "CLIENT LIST: unexpected reply");
    cJSON *arr = cJSON_CreateArray();
    for (const char *line = rc ? NULL : r->str; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        cJSON *raw = bullc__adm_client_field(line, len, "name");
        const char *rn = cJSON_GetStringValue(raw);
        if (rn && !strncmp(rn, want.data, want.len) &&
            (rn[want.len] == '\0' || !strncmp(rn + want.len, ":w:", 3))) {
            cJSON *w = cJSON_CreateObject();
            cJSON_AddItemToObject(w, "name", rn[want.len] ? cJSON_CreateString(rn + want.len + 3)
                                                          : cJSON_CreateNull());
            cJSON_AddItemToObject(w, "addr", bullc__adm_client_field(line, len, "addr"));
            cJSON_AddItemToObject(w, "rawname", raw);
            cJSON_AddItemToArray(arr, w);
        } else {
            cJSON_Delete(raw);
        }
        line = nl ? nl + 1 : NULL;
    }
    if (rc == 0 && !(req->json = cJSON_PrintUnformatted(arr)))
        rc = bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    cJSON_Delete(arr);
    bullc__reply_free(r);
    bullc__buf_free(&want);
    return rc;
}

/* One stream entry [id, [field, value, ...]] as {"id", field: value...} (values as strings). */
static cJSON *event_json(const bullc__reply *e)
{
    if (e->type != BULLC__R_ARRAY || e->elements != 2 || e->element[1]->type != BULLC__R_ARRAY)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", cJSON_CreateString(e->element[0]->str));
    const bullc__reply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        cJSON_AddItemToObject(o, f->element[i]->str, cJSON_CreateString(f->element[i + 1]->str));
    return o;
}

/* Entries after req->id (XREAD: exclusive), at most req->a, waiting req->b ms for the first. */
static int read_events(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                       size_t errlen)
{
    char *key = bullc__bmq_job_key(&p->keys, "events", NULL), count[32], block[32];
    if (!key)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    snprintf(count, sizeof count, "%lld", req->a > 0 ? req->a : 1000);
    snprintf(block, sizeof block, "%lld", req->b);
    const char *after = req->id && *req->id ? req->id : "0";
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    if (req->b >= 0)
        bullc__cmd_plain(&cmd, 8, "XREAD", "COUNT", count, "BLOCK", block, "STREAMS", key, after);
    else
        bullc__cmd_plain(&cmd, 6, "XREAD", "COUNT", count, "STREAMS", key, after);
    free(key);
    bullc__reply *r;
    int rc = bullc__adm_call(link, &cmd, &r, err, errlen);
    if (rc)
        return rc;
    cJSON *arr = cJSON_CreateArray();
    const bullc__reply *entries = NULL;
    if (r->type == BULLC__R_ARRAY && r->elements == 1 && r->element[0]->type == BULLC__R_ARRAY &&
        r->element[0]->elements == 2)
        entries = r->element[0]->element[1];
    else if (r->type != BULLC__R_NIL)
        rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "XREAD: unexpected reply");
    for (size_t i = 0; rc == 0 && entries && i < entries->elements; i++) {
        cJSON *e = event_json(entries->element[i]);
        if (!e)
            rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "XREAD: unexpected entry");
        cJSON_AddItemToArray(arr, e);
    }
    if (rc == 0 && !(req->json = cJSON_PrintUnformatted(arr)))
        rc = bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    cJSON_Delete(arr);
    bullc__reply_free(r);
    return rc;
}

int bullc__bmq_admin_read(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
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
        return read_events(p, link, req, err, errlen);
    case BULLC__ADM_JOB:
    case BULLC__ADM_LOGS:
        if (!req->id)
            return bullc__adm_err(err, errlen, BULLC_EINVAL, "no job id");
        return req->op == BULLC__ADM_JOB ? read_job(p, link, req, err, errlen)
                                         : read_logs(p, link, req, err, errlen);
    default:
        return bullc__adm_err(err, errlen, BULLC_EINVAL, "unknown admin request %d", (int)req->op);
    }
}
