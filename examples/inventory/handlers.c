/* handlers.c - the inventory events. The payload is checked here, against the JSON text as
 * JSON.parse reads it (so the reasons are readable and nothing odd reaches the database); then
 * one call of inventory_apply() (sql/schema.sql), one statement in autocommit mode, applies the
 * job in one transaction: it claims the job in processed_jobs (a redelivered job returns its
 * stored result and applies nothing again), applies its effects with their audit rows and stores
 * the result. Races and duplicates are settled by the database: unique keys and conditional
 * updates, never a check in C followed by a write. */
#include "inventory.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ITEMS 100
#define MAX_QUANTITY 1000
#define ID_RULE "1 to 64 characters from A-Z a-z 0-9 _ . : -"

/* ---- validation ------------------------------------------------------------------------- */

typedef struct payload {
    const char *user;
    const char *item;               /* use_item */
    long long quantity;             /* use_item */
    const char *items[MAX_ITEMS];   /* reward: distinct, in the order given */
    size_t nitems;
    char msg[256];                  /* why it is invalid */
} payload;

static int invalid(payload *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(payload *p, const char *fmt, ...)
{
    int n = snprintf(p->msg, sizeof p->msg, "invalid payload: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg + n, sizeof p->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The member's raw text has no escapes. Ids never need one, and refusing them keeps what we
 * read identical to what JSON.parse reads (an escaped NUL would cut a C string short). */
static int raw_unescaped(const char *data, const char *key)
{
    const char *v;
    size_t len;
    if (bullc_json_member_raw(data, key, &v, &len) != 0)
        return 0;
    return memchr(v, '\\', len) == NULL;
}

/* Common checks: an object, no duplicated known key (bullc_json_get would take the first,
 * JSON.parse takes the last), a matching optional "type", a valid userId. */
static int check_common(bullc_job_t *job, payload *p, const char *const *keys)
{
    const bullc_json_t *d = bullc_job_data_json(job);
    if (bullc_json_type(d) != BULLC_JSON_OBJECT)
        return invalid(p, "data must be a JSON object");
    for (const char *const *k = keys; *k; k++) {
        int seen = 0;
        for (size_t i = 0; i < bullc_json_size(d); i++) {
            const char *key = bullc_json_key(bullc_json_at(d, i));
            if (key && !strcmp(key, *k) && ++seen > 1)
                return invalid(p, "duplicate key %s", *k);
        }
    }
    const bullc_json_t *ty = bullc_json_get(d, "type");
    if (ty && (!bullc_json_string(ty) || strcmp(bullc_json_string(ty), bullc_job_name(job)) != 0 ||
               !raw_unescaped(bullc_job_data(job), "type")))
        return invalid(p, "type must be \"%s\" when given", bullc_job_name(job));
    p->user = bullc_json_string(bullc_json_get(d, "userId"));
    if (!inv_valid_id(p->user) || !raw_unescaped(bullc_job_data(job), "userId"))
        return invalid(p, "userId must be a string of " ID_RULE);
    return 0;
}

static int parse_reward(bullc_job_t *job, payload *p)
{
    static const char *const keys[] = {"type", "userId", "items", NULL};
    if (check_common(job, p, keys))
        return -1;
    const bullc_json_t *items = bullc_json_get(bullc_job_data_json(job), "items");
    size_t n = bullc_json_size(items);
    if (bullc_json_type(items) != BULLC_JSON_ARRAY || n < 1 || n > MAX_ITEMS)
        return invalid(p, "items must be an array of 1 to %d item ids", MAX_ITEMS);
    for (size_t i = 0; i < n; i++) {
        const char *id = bullc_json_string(bullc_json_at(items, i));
        if (!inv_valid_id(id))
            return invalid(p, "items[%zu] must be an item id (" ID_RULE ")", i);
        size_t j = 0;
        while (j < p->nitems && strcmp(p->items[j], id) != 0)
            j++;
        if (j == p->nitems)
            p->items[p->nitems++] = id; /* duplicates count once */
    }
    if (!raw_unescaped(bullc_job_data(job), "items"))
        return invalid(p, "items must be item ids written without escapes");
    return 0;
}

static int parse_use(bullc_job_t *job, payload *p)
{
    static const char *const keys[] = {"type", "userId", "itemId", "quantity", NULL};
    if (check_common(job, p, keys))
        return -1;
    const bullc_json_t *d = bullc_job_data_json(job);
    p->item = bullc_json_string(bullc_json_get(d, "itemId"));
    if (!inv_valid_id(p->item) || !raw_unescaped(bullc_job_data(job), "itemId"))
        return invalid(p, "itemId must be an item id (" ID_RULE ")");
    const bullc_json_t *q = bullc_json_get(d, "quantity");
    p->quantity = 1;
    if (q && (bullc_json_int(q, &p->quantity) != 0 || p->quantity < 1 ||
              p->quantity > MAX_QUANTITY))
        return invalid(p, "quantity must be an integer from 1 to %d", MAX_QUANTITY);
    return 0;
}

/* ---- outcomes --------------------------------------------------------------------------- */

static int fail_for_good(bullc_job_t *job, const inv_app *app, const char *msg)
{
    inv_log_job(app, job, BULLC_LOG_INFO, "job %s (%s) rejected: %s", bullc_job_id(job),
            bullc_job_name(job), msg);
    return bullc_job_fail_unrecoverable(job, msg);
}

/* Fails the job by the error's class: an event the database refused (its message is the
 * reason) and permanent errors fail it for good; transient and unexpected errors fail the
 * attempt (the producer's attempts/backoff retry it). */
static int fail_db(bullc_job_t *job, const inv_app *app, const inv_dberr *e)
{
    if (e->cls == INV_REJECTED)
        return fail_for_good(job, app, e->msg);
    char msg[512];
    if (!e->sqlstate[0])
        snprintf(msg, sizeof msg, "database unavailable: %s", e->msg);
    else if (e->cls == INV_TRANSIENT)
        snprintf(msg, sizeof msg, "transient database error (SQLSTATE %s): %s", e->sqlstate,
                 e->msg);
    else if (e->cls == INV_PERMANENT)
        snprintf(msg, sizeof msg, "rejected by the database (SQLSTATE %s): %s", e->sqlstate,
                 e->msg);
    else
        snprintf(msg, sizeof msg, "database error (SQLSTATE %s): %s", e->sqlstate, e->msg);
    if (e->cls == INV_PERMANENT)
        return fail_for_good(job, app, msg);
    inv_log_job(app, job, BULLC_LOG_WARN, "job %s (%s) attempt %ld failed: %s", bullc_job_id(job),
            bullc_job_name(job), bullc_job_attempts_made(job) + 1, msg);
    return bullc_job_fail(job, msg);
}

/* ---- the call --------------------------------------------------------------------------- */

/* One job, one statement, one transaction: see inventory_apply in sql/schema.sql. Prepared
 * once per connection under this name. (Jobs ready at the same time share a transaction
 * instead: group.c.) */
static const inv_stmt SQL_APPLY = {
    "inventory_apply",
    "SELECT already_applied, result FROM inventory_apply($1, $2, $3, $4, $5)",
    1u,
};

/* The payload as inventory_apply takes it, written from the checked fields alone (items
 * without duplicates), so the database reads exactly what was checked here. */
static char *payload_json(const payload *p)
{
    jw w = {0};
    jw_lit(&w, "{\"userId\":");
    jw_str(&w, p->user);
    if (p->item) { /* use_item */
        jw_lit(&w, ",\"itemId\":");
        jw_str(&w, p->item);
        jw_lit(&w, ",\"quantity\":");
        jw_int(&w, p->quantity);
    } else {
        jw_lit(&w, ",\"items\":[");
        for (size_t i = 0; i < p->nitems; i++) {
            if (i)
                jw_lit(&w, ",");
            jw_str(&w, p->items[i]);
        }
        jw_lit(&w, "]");
    }
    jw_lit(&w, "}");
    if (w.oom) {
        jw_free(&w);
        return NULL;
    }
    return w.p;
}

/* Test hook (BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT): dies between the commit and the
 * completion in Redis, the window exactly-once effects must survive. */
static void maybe_crash(const inv_app *app, bullc_job_t *job)
{
    const char *v = app->crash_after_commit;
    if (v && (!strcmp(v, "1") || !strcmp(v, bullc_job_id(job)))) {
        inv_log_job(app, job, BULLC_LOG_WARN, "test hook: exiting after the commit of job %s",
                bullc_job_id(job));
        _exit(86);
    }
}

/* Completes the job with the call's answer (already_applied, result; NULL: none stored). */
static int complete_with(bullc_job_t *job, const inv_app *app, int already, const char *result,
                         int lost)
{
    int rc;
    if (!result) {
        rc = bullc_job_fail(job, "processed_jobs row without a result");
    } else {
        if (!already) {
            maybe_crash(app, job);
            inv_log_job(app, job, BULLC_LOG_DEBUG, "job %s (%s) applied: %s", bullc_job_id(job),
                    bullc_job_name(job), result);
        } else if (lost) {
            inv_log_job(app, job, BULLC_LOG_INFO, "job %s (%s): the connection was lost during COMMIT, "
                    "which did commit; completing it with the stored result", bullc_job_id(job),
                    bullc_job_name(job));
        } else {
            inv_log_job(app, job, BULLC_LOG_INFO, "job %s (%s) was already applied; completing it with "
                    "the stored result", bullc_job_id(job), bullc_job_name(job));
        }
        rc = bullc_job_set_result(job, result);
    }
    return rc;
}

/* complete_with for the answer of inventory_apply; frees `r`. */
static int complete(bullc_job_t *job, const inv_app *app, PGresult *r, int lost)
{
    int one = PQntuples(r) == 1;
    int rc = complete_with(job, app, one && !strcmp(PQgetvalue(r, 0, 0), "t"),
                           one && !PQgetisnull(r, 0, 1) ? PQgetvalue(r, 0, 1) : NULL, lost);
    PQclear(r);
    return rc;
}

/* The job id can go into the batch's JSON text unchanged (jw_str would replace bytes that are
 * not UTF-8, so such ids, and control characters, take the path of their own). */
static int batchable_id(const char *id)
{
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return 0;
    return 1;
}

/* The job through group commit (group.c): 1 when the batch settled it (the job is finished,
 * *rc says how), 0 when the caller makes its own call (*lost: the batch's connection broke;
 * *lead: inv_group_end after the call). */
static int run_grouped(bullc_job_t *job, const inv_app *app, inv_thread *t, const payload *p,
                       const char *data, bullc_span_t *span, int *lost, int *lead, int *rc)
{
    inv_call c;
    memset(&c, 0, sizeof c);
    c.id = bullc_job_id(job);
    c.name = bullc_job_name(job);
    c.user = p->user;
    c.data = data;
    c.ts = bullc_job_timestamp(job);
    inv_group_apply(app, t, &c);
    *lost = c.lost;
    *lead = c.lead;
    if (c.alone) {
        free(c.result);
        return 0;
    }
    /* the span covers the batch's transaction, which applied this job with the others */
    bullc_span_set_str(span, "db.query.text", c.sql);
    bullc_span_set_int(span, "db.operation.batch.size", (long long)c.batch);
    if (c.err.cls != INV_OK)
        bullc_span_set_error(span, c.err.msg);
    *rc = c.err.cls != INV_OK ? fail_db(job, app, &c.err)
                              : complete_with(job, app, c.already, c.result, 0);
    free(c.result);
    return 1;
}

/* Applies the job with one call (or as part of a batch: run_grouped; a job the batch leaves to
 * its thread is applied here as before). When the connection breaks, the call may have committed (its
 * answer was lost) or never reached the server (the connection had died while idle): the same
 * call on a new connection settles it through the processed_jobs row, which it reads first.
 * Present, the job completes with the stored result; held by a transaction still running, the
 * call waits for it; absent, the job is applied now. So nothing is applied twice, and a job
 * whose effects committed is not failed (unless the server stays out of reach: that attempt
 * fails, and a retry settles it the same way). */
static int run_event(bullc_job_t *job, const inv_app *app, const payload *p, bullc_span_t *span)
{
    inv_thread *t = inv_thread_get(app);
    char *data = t ? payload_json(p) : NULL;
    if (!data)
        return bullc_job_fail(job, "out of memory");
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", bullc_job_timestamp(job));
    int rc, lost = 0, lead = 0;
    if (app->group && batchable_id(bullc_job_id(job)) &&
        run_grouped(job, app, t, p, data, span, &lost, &lead, &rc)) {
        free(data);
        return rc;
    }
    bullc_span_set_str(span, "db.query.text", SQL_APPLY.sql);
    const char *params[5] = {app->queue, bullc_job_id(job), ts, bullc_job_name(job), data};
    inv_dberr err;
    PGconn *pg = inv_db(app, t, &err);
    PGresult *r = pg ? inv_exec_prepared(t, &SQL_APPLY, 5, params, &err) : NULL;
    int cut = pg && !r && PQstatus(pg) != CONNECTION_OK;
    if (cut && (pg = inv_db(app, t, &err)))
        r = inv_exec_prepared(t, &SQL_APPLY, 5, params, &err);
    lost |= cut;
    if (lead)
        inv_group_end(app);
    free(data);
    if (!r) {
        if (lost && err.cls == INV_TRANSIENT)
            inv_log_job(app, job, BULLC_LOG_WARN, "job %s (%s): the connection was lost during the call "
                    "and the server is out of reach; whether it committed is unknown for now",
                    bullc_job_id(job), bullc_job_name(job));
        bullc_span_set_error(span, err.msg);
        return fail_db(job, app, &err);
    }
    if (lost)
        bullc_span_add_event(span, "connection lost during the call", NULL, NULL);
    return complete(job, app, r, lost);
}

/* The job's PostgreSQL transaction as a child span of its `process` span (README
 * "Observability"; a client span named as the database conventions name one): nothing when
 * the worker does not trace. */
static int traced_event(bullc_job_t *job, const inv_app *app, const payload *p)
{
    bullc_span_t *span = bullc_job_span_start(job, "SELECT inventory_apply", BULLC_SPAN_CLIENT, NULL);
    bullc_span_set_str(span, "db.system.name", "postgresql");
    bullc_span_set_str(span, "db.operation.name", "SELECT");
    bullc_span_set_str(span, "db.stored_procedure.name", "inventory_apply");
    int rc = run_event(job, app, p, span);
    bullc_span_end(span);
    return rc;
}

int inv_handle_reward(bullc_job_t *job, void *user_data)
{
    const inv_app *app = user_data;
    payload *p = calloc(1, sizeof *p);
    if (!p)
        return bullc_job_fail(job, "out of memory");
    int rc = parse_reward(job, p) ? fail_for_good(job, app, p->msg) : traced_event(job, app, p);
    free(p);
    return rc;
}

int inv_handle_use(bullc_job_t *job, void *user_data)
{
    const inv_app *app = user_data;
    payload p;
    memset(&p, 0, sizeof p);
    if (parse_use(job, &p))
        return fail_for_good(job, app, p.msg);
    return traced_event(job, app, &p);
}

int inv_handle_unknown(bullc_job_t *job, void *user_data)
{
    const inv_app *app = user_data;
    jw w = {0};
    jw_lit(&w, "unknown event type: ");
    jw_lit(&w, bullc_job_name(job));
    int rc = fail_for_good(job, app, w.oom ? "unknown event type" : w.p);
    jw_free(&w);
    return rc;
}
