/* handlers.c - the inventory events. Each job runs in one transaction that first claims the
 * job in processed_jobs (so a redelivered job returns its stored result and applies nothing
 * again), then applies its effects with atomic statements and stores the result. Races and
 * duplicates are settled by the database: unique keys and conditional updates, never a check
 * in C followed by a write. */
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
    inv_log(app, BULLC_LOG_INFO, "job %s (%s) rejected: %s", bullc_job_id(job),
            bullc_job_name(job), msg);
    return bullc_job_fail_unrecoverable(job, msg);
}

/* Ends the transaction (if the connection still works) and fails the job by the error's
 * class: transient and unexpected errors fail the attempt (the producer's attempts/backoff
 * retry it), permanent ones fail it for good. */
static int fail_db(bullc_job_t *job, const inv_app *app, PGconn *pg, const inv_dberr *e)
{
    if (pg && PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) != PQTRANS_IDLE)
        PQclear(PQexec(pg, "ROLLBACK"));
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
    inv_log(app, BULLC_LOG_WARN, "job %s (%s) attempt %ld failed: %s", bullc_job_id(job),
            bullc_job_name(job), bullc_job_attempts_made(job) + 1, msg);
    return bullc_job_fail(job, msg);
}

/* ---- the events ------------------------------------------------------------------------- */

typedef struct ctx {
    PGconn *pg;
    bullc_job_t *job;
    const inv_app *app;
    const payload *p;
    inv_dberr err;
    char reject[256]; /* a business rule refused the event (err unused then) */
    jw out;           /* the result JSON */
} ctx;

enum { APPLY_OK = 0, APPLY_DB = -1, APPLY_REJECT = -2, APPLY_NOMEM = -3 };

static int reject(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reject(ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reject, sizeof c->reject, fmt, ap);
    va_end(ap);
    return APPLY_REJECT;
}

/* A PostgreSQL text[] literal of ids (validated: no quoting needed, but quote anyway). */
static char *array_literal(const char *const *ids, size_t n)
{
    jw w = {0};
    jw_lit(&w, "{");
    for (size_t i = 0; i < n; i++) {
        jw_lit(&w, i ? ",\"" : "\"");
        for (const char *s = ids[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                jw_lit(&w, "\\");
            jw_raw(&w, s, 1);
        }
        jw_lit(&w, "\"");
    }
    jw_lit(&w, "}");
    if (w.oom) {
        jw_free(&w);
        return NULL;
    }
    return w.p;
}

static const char SQL_REWARD_CATALOGUE[] =
    "SELECT item_id, rewardable FROM items WHERE item_id = ANY($1::text[])";

/* Grants each requested item not yet granted to the user: the unique key of reward_grants
 * decides (ON CONFLICT DO NOTHING), so repeated and racing rewards grant once. */
static const char SQL_REWARD_GRANT[] =
    "WITH req AS (SELECT DISTINCT unnest($2::text[]) AS item_id),"
    " g AS (INSERT INTO reward_grants (user_id, item_id, job_id)"
    "       SELECT $1, item_id, $3 FROM req ORDER BY item_id"
    "       ON CONFLICT (user_id, item_id) DO NOTHING RETURNING item_id),"
    " inv AS (INSERT INTO inventory AS i (user_id, item_id, quantity)"
    "       SELECT $1, item_id, 1 FROM g ORDER BY item_id"
    "       ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = i.quantity + 1),"
    " aud AS (INSERT INTO inventory_events (job_id, action, user_id, item_id, delta)"
    "       SELECT $3, 'reward', $1, item_id, 1 FROM g ORDER BY item_id)"
    " SELECT item_id FROM g";

static int apply_reward(ctx *c)
{
    const payload *p = c->p;
    char *arr = array_literal(p->items, p->nitems);
    if (!arr)
        return APPLY_NOMEM;
    const char *cat_params[1] = {arr};
    PGresult *r = inv_exec(c->pg, SQL_REWARD_CATALOGUE, 1, cat_params, &c->err);
    if (!r) {
        free(arr);
        return APPLY_DB;
    }
    for (size_t i = 0; i < p->nitems; i++) {
        int row = -1;
        for (int k = 0; k < PQntuples(r); k++)
            if (!strcmp(PQgetvalue(r, k, 0), p->items[i]))
                row = k;
        int rc = APPLY_OK;
        if (row < 0)
            rc = reject(c, "unknown item: %s", p->items[i]);
        else if (strcmp(PQgetvalue(r, row, 1), "t") != 0)
            rc = reject(c, "item cannot be rewarded: %s", p->items[i]);
        if (rc) {
            PQclear(r);
            free(arr);
            return rc;
        }
    }
    PQclear(r);

    const char *params[3] = {p->user, arr, bullc_job_id(c->job)};
    r = inv_exec(c->pg, SQL_REWARD_GRANT, 3, params, &c->err);
    free(arr);
    if (!r)
        return APPLY_DB;
    for (int pass = 0; pass < 2; pass++) {
        jw_lit(&c->out, pass ? "],\"alreadyGranted\":[" : "{\"granted\":[");
        int first = 1;
        for (size_t i = 0; i < p->nitems; i++) {
            int granted = 0;
            for (int k = 0; k < PQntuples(r) && !granted; k++)
                granted = !strcmp(PQgetvalue(r, k, 0), p->items[i]);
            if (granted == !pass) {
                if (!first)
                    jw_lit(&c->out, ",");
                jw_str(&c->out, p->items[i]);
                first = 0;
            }
        }
    }
    jw_lit(&c->out, "]}");
    PQclear(r);
    return c->out.oom ? APPLY_NOMEM : APPLY_OK;
}

static const char SQL_USE_CATALOGUE[] = "SELECT usable FROM items WHERE item_id = $1";

/* Deducts only if enough is held, in one statement: parallel uses queue on the row lock and
 * each sees the quantity the previous one left, so it never goes below zero. */
static const char SQL_USE_DEDUCT[] =
    "WITH u AS (UPDATE inventory SET quantity = quantity - $3::int"
    "           WHERE user_id = $1 AND item_id = $2 AND quantity >= $3::int RETURNING quantity),"
    " a AS (INSERT INTO inventory_events (job_id, action, user_id, item_id, delta)"
    "       SELECT $4, 'use', $1, $2, -$3::int FROM u)"
    " SELECT quantity FROM u";

static const char SQL_USE_HELD[] =
    "SELECT coalesce((SELECT quantity FROM inventory WHERE user_id = $1 AND item_id = $2), 0)";

/* The item's effects, `quantity` times: added to the inventory and audited. */
static const char SQL_USE_EFFECTS[] =
    "WITH eff AS (SELECT grant_item_id AS item_id, quantity * $3::int AS delta"
    "             FROM item_effects WHERE item_id = $2),"
    " up AS (INSERT INTO inventory AS i (user_id, item_id, quantity)"
    "        SELECT $1, item_id, delta FROM eff ORDER BY item_id"
    "        ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = i.quantity + EXCLUDED.quantity),"
    " aud AS (INSERT INTO inventory_events (job_id, action, user_id, item_id, delta)"
    "        SELECT $4, 'effect', $1, item_id, delta FROM eff ORDER BY item_id)"
    " SELECT item_id, delta FROM eff ORDER BY item_id";

static int apply_use(ctx *c)
{
    const payload *p = c->p;
    char qty[24];
    snprintf(qty, sizeof qty, "%lld", p->quantity);
    const char *cat_params[1] = {p->item};
    PGresult *r = inv_exec(c->pg, SQL_USE_CATALOGUE, 1, cat_params, &c->err);
    if (!r)
        return APPLY_DB;
    int rc = APPLY_OK;
    if (PQntuples(r) != 1)
        rc = reject(c, "unknown item: %s", p->item);
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = reject(c, "item cannot be used: %s", p->item);
    PQclear(r);
    if (rc)
        return rc;

    const char *params[4] = {p->user, p->item, qty, bullc_job_id(c->job)};
    if (!(r = inv_exec(c->pg, SQL_USE_DEDUCT, 4, params, &c->err)))
        return APPLY_DB;
    if (PQntuples(r) != 1) {
        PQclear(r);
        if (!(r = inv_exec(c->pg, SQL_USE_HELD, 2, params, &c->err)))
            return APPLY_DB;
        rc = reject(c, "insufficient quantity: user %s has %s of %s, needs %lld", p->user,
                    PQgetvalue(r, 0, 0), p->item, p->quantity);
        PQclear(r);
        return rc;
    }
    jw_lit(&c->out, "{\"used\":");
    jw_int(&c->out, p->quantity);
    jw_lit(&c->out, ",\"remaining\":");
    jw_lit(&c->out, PQgetvalue(r, 0, 0));
    PQclear(r);

    if (!(r = inv_exec(c->pg, SQL_USE_EFFECTS, 4, params, &c->err)))
        return APPLY_DB;
    jw_lit(&c->out, ",\"granted\":{");
    for (int k = 0; k < PQntuples(r); k++) {
        if (k)
            jw_lit(&c->out, ",");
        jw_str(&c->out, PQgetvalue(r, k, 0));
        jw_lit(&c->out, ":");
        jw_lit(&c->out, PQgetvalue(r, k, 1));
    }
    jw_lit(&c->out, "}}");
    PQclear(r);
    return c->out.oom ? APPLY_NOMEM : APPLY_OK;
}

/* ---- the transaction around an event ---------------------------------------------------- */

static const char SQL_CLAIM[] =
    "INSERT INTO processed_jobs (queue, job_id, job_ts, name) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT DO NOTHING";
static const char SQL_STORED[] =
    "SELECT result FROM processed_jobs WHERE queue = $1 AND job_id = $2 AND job_ts = $3";
static const char SQL_STORE[] =
    "UPDATE processed_jobs SET result = $4 WHERE queue = $1 AND job_id = $2 AND job_ts = $3";

/* Test hook (BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT): dies between the commit and the
 * completion in Redis, the window exactly-once effects must survive. */
static void maybe_crash(const inv_app *app, bullc_job_t *job)
{
    const char *v = app->crash_after_commit;
    if (v && (!strcmp(v, "1") || !strcmp(v, bullc_job_id(job)))) {
        inv_log(app, BULLC_LOG_WARN, "test hook: exiting after the commit of job %s",
                bullc_job_id(job));
        _exit(86);
    }
}

/* The connection died during COMMIT: the transaction may or may not have committed, and
 * failing the attempt is not safe when it was the last one (the job would fail for good and go
 * to the DLQ with its effects applied). The processed_jobs row, written in that transaction,
 * settles it: present, the job completes with the stored result; absent (or the server still
 * out of reach), the attempt fails and a retry goes through the claim again, which waits for
 * any transaction still holding it. */
static int settle_lost_commit(bullc_job_t *job, const inv_app *app, inv_thread *t,
                              const char *const key[4], const inv_dberr *commit_err)
{
    inv_dberr e;
    PGconn *pg = inv_db(app, t, &e);
    PGresult *r = pg ? inv_exec(pg, SQL_STORED, 3, key, &e) : NULL;
    if (!r || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        inv_log(app, BULLC_LOG_WARN, "job %s (%s): the connection was lost during COMMIT; %s",
                bullc_job_id(job), bullc_job_name(job),
                pg && !e.msg[0] ? "no sign that it committed" : "its outcome is unknown for now");
        return fail_db(job, app, NULL, commit_err);
    }
    inv_log(app, BULLC_LOG_INFO, "job %s (%s): the connection was lost during COMMIT, which did "
            "commit; completing it with the stored result", bullc_job_id(job), bullc_job_name(job));
    int rc = bullc_job_set_result(job, PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static int run_event(bullc_job_t *job, const inv_app *app, const payload *p,
                     int (*apply)(ctx *))
{
    inv_thread *t = inv_thread_get(app);
    if (!t)
        return bullc_job_fail(job, "out of memory");
    ctx c;
    memset(&c, 0, sizeof c);
    c.job = job;
    c.app = app;
    c.p = p;
    if (!(c.pg = inv_db(app, t, &c.err)))
        return fail_db(job, app, NULL, &c.err);
    PGresult *r = inv_exec(c.pg, "BEGIN", 0, NULL, &c.err);
    if (!r && PQstatus(c.pg) != CONNECTION_OK) {
        /* the server went away while this connection was idle: nothing was done yet, so
         * reconnect once and start again */
        if (!(c.pg = inv_db(app, t, &c.err)))
            return fail_db(job, app, NULL, &c.err);
        r = inv_exec(c.pg, "BEGIN", 0, NULL, &c.err);
    }
    if (!r)
        return fail_db(job, app, c.pg, &c.err);
    PQclear(r);

    char ts[24];
    snprintf(ts, sizeof ts, "%lld", bullc_job_timestamp(job));
    const char *key[4] = {app->queue, bullc_job_id(job), ts, bullc_job_name(job)};
    /* the claim: a second delivery of a committed job conflicts here (and one racing with an
     * uncommitted first delivery waits for it) */
    if (!(r = inv_exec(c.pg, SQL_CLAIM, 4, key, &c.err)))
        return fail_db(job, app, c.pg, &c.err);
    int claimed = !strcmp(PQcmdTuples(r), "1");
    PQclear(r);
    if (!claimed) {
        if (!(r = inv_exec(c.pg, SQL_STORED, 3, key, &c.err)))
            return fail_db(job, app, c.pg, &c.err);
        PQclear(PQexec(c.pg, "ROLLBACK"));
        if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
            PQclear(r);
            return bullc_job_fail(job, "processed_jobs row without a result");
        }
        inv_log(app, BULLC_LOG_INFO, "job %s (%s) was already applied; completing it with the "
                "stored result", bullc_job_id(job), bullc_job_name(job));
        int rc = bullc_job_set_result(job, PQgetvalue(r, 0, 0));
        PQclear(r);
        return rc;
    }

    int rc = apply(&c);
    if (rc == APPLY_DB) {
        jw_free(&c.out);
        return fail_db(job, app, c.pg, &c.err);
    }
    if (rc != APPLY_OK) {
        jw_free(&c.out);
        PQclear(PQexec(c.pg, "ROLLBACK"));
        if (rc == APPLY_NOMEM)
            return bullc_job_fail(job, "out of memory");
        return fail_for_good(job, app, c.reject);
    }
    const char *store[4] = {key[0], key[1], key[2], c.out.p};
    if (!(r = inv_exec(c.pg, SQL_STORE, 4, store, &c.err))) {
        jw_free(&c.out);
        return fail_db(job, app, c.pg, &c.err);
    }
    PQclear(r);
    if (!(r = inv_exec(c.pg, "COMMIT", 0, NULL, &c.err))) {
        jw_free(&c.out);
        if (PQstatus(c.pg) == CONNECTION_OK)
            return fail_db(job, app, c.pg, &c.err); /* the server answered: not committed */
        return settle_lost_commit(job, app, t, key, &c.err);
    }
    PQclear(r);
    maybe_crash(app, job);
    inv_log(app, BULLC_LOG_DEBUG, "job %s (%s) applied: %s", bullc_job_id(job),
            bullc_job_name(job), c.out.p);
    rc = bullc_job_set_result(job, c.out.p);
    jw_free(&c.out);
    return rc;
}

int inv_handle_reward(bullc_job_t *job, void *user_data)
{
    const inv_app *app = user_data;
    payload *p = calloc(1, sizeof *p);
    if (!p)
        return bullc_job_fail(job, "out of memory");
    int rc = parse_reward(job, p) ? fail_for_good(job, app, p->msg)
                                  : run_event(job, app, p, apply_reward);
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
    return run_event(job, app, &p, apply_use);
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
