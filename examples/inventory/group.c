/* group.c - group commit. The handler threads' calls of inventory_apply that are ready at the
 * same time go to PostgreSQL together, as one call of inventory_apply_batch (sql/schema.sql):
 * one round trip and one transaction, so one durable commit (one WAL flush) for all of them,
 * each job in a subtransaction of its own so that one job's error undoes only that job.
 *
 * Leaders and followers: a thread hands its call in; if fewer of the group's transactions run
 * than BULLC_INVENTORY_INFLIGHT (default 1), it leads one: it takes every call waiting (its own
 * included, up to the group's maximum) and runs them on its own connection, while the threads
 * that hand theirs in meanwhile wait and form the next batch. A leader that finds nobody to
 * share with makes the call of inventory_apply it always made, still as a leader (inv_call.lead,
 * inv_group_end): at concurrency 1 nothing changes. Each thread completes its own job in Redis
 * after inv_group_apply returns, so after the commit.
 *
 * A job that fails in the batch with a transient SQLSTATE (a deadlock, a serialization
 * failure...) is left to its thread too, which runs it alone: a retry, not a failure. Jobs are
 * sorted by user in the batch (stable, so one user's jobs keep their order): every job locks
 * only its user's rows (inventory, reward_grants), so two batches lock users in the same order
 * and cannot deadlock each other. When the batch call fails as a whole, every job is left to
 * its thread; when its connection broke, the batch may have committed, and each thread's own
 * call reads the job's processed_jobs row first (handlers.c run_event), as after any lost
 * connection. */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inv_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* a transaction of the group ended */
    inv_call *head, *tail;
    size_t max;         /* jobs per batch */
    int inflight;       /* transactions run at the same time, at most */
    int running;        /* leaders running a transaction (a batch, or a job alone) */
};

static const inv_stmt SQL_BATCH = {
    "inventory_apply_batch",
    "SELECT i, already_applied, result, err_state, err_message "
    "FROM inventory_apply_batch($1, $2::jsonb)",
    2u,
};

struct inv_group *inv_group_new(size_t max, int inflight)
{
    struct inv_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return NULL;
    }
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    g->max = max < 2 ? 2 : max > INV_BATCH_MAX ? INV_BATCH_MAX : max;
    g->inflight = inflight < 1 ? 1 : inflight;
    return g;
}

void inv_group_free(struct inv_group *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* The batch as inventory_apply_batch takes it: [{"id","ts","name","data"},...]; NULL when out
 * of memory. */
static char *batch_json(inv_call *const *v, size_t n)
{
    jw w = {0};
    jw_lit(&w, "[");
    for (size_t i = 0; i < n; i++) {
        jw_lit(&w, i ? ",{\"id\":" : "{\"id\":");
        jw_str(&w, v[i]->id);
        jw_lit(&w, ",\"ts\":");
        jw_int(&w, v[i]->ts);
        jw_lit(&w, ",\"name\":");
        jw_str(&w, v[i]->name);
        jw_lit(&w, ",\"data\":");
        jw_lit(&w, v[i]->data);
        jw_lit(&w, "}");
    }
    jw_lit(&w, "]");
    if (w.oom) {
        jw_free(&w);
        return NULL;
    }
    return w.p;
}

/* Row `k` of the batch's answer into its call. */
static void settle(PGresult *r, int k, inv_call *c)
{
    if (!PQgetisnull(r, k, 3)) {
        inv_dberr_set(&c->err, PQgetvalue(r, k, 3), PQgetvalue(r, k, 4));
        if (c->err.cls == INV_TRANSIENT) /* undone alone: the thread retries it alone */
            c->alone = 1;
        return;
    }
    c->already = !strcmp(PQgetvalue(r, k, 1), "t");
    if (!PQgetisnull(r, k, 2) && !(c->result = strdup(PQgetvalue(r, k, 2))))
        c->alone = 1; /* out of memory: the thread's own call reads the stored result */
}

/* Runs the batch v[0..n) on the thread's connection and settles every call in it. */
static void run_batch(const inv_app *app, inv_thread *t, inv_call **v, size_t n)
{
    for (size_t i = 1; i < n; i++) { /* stable sort by user: see the top comment */
        inv_call *c = v[i];
        size_t j = i;
        for (; j > 0 && strcmp(v[j - 1]->user, c->user) > 0; j--)
            v[j] = v[j - 1];
        v[j] = c;
    }
    for (size_t i = 0; i < n; i++)
        v[i]->alone = 1; /* until the answer says otherwise */
    char *jobs = batch_json(v, n);
    inv_dberr err;
    PGconn *pg = jobs ? inv_db(app, t, &err) : NULL;
    const char *params[2] = {app->queue, jobs};
    PGresult *r = pg ? inv_exec_prepared(t, &SQL_BATCH, 2, params, &err) : NULL;
    free(jobs);
    if (!r) {
        int lost = pg && PQstatus(pg) != CONNECTION_OK;
        for (size_t i = 0; i < n; i++)
            v[i]->lost = lost;
        if (pg)
            inv_log(app, BULLC_LOG_WARN, "a batch of %zu jobs failed (%s); each is applied alone",
                    n, err.msg);
        return;
    }
    for (int k = 0; k < PQntuples(r); k++) {
        long long i = strtoll(PQgetvalue(r, k, 0), NULL, 10);
        if (i >= 1 && (size_t)i <= n) {
            v[i - 1]->alone = 0;
            v[i - 1]->batch = n;
            v[i - 1]->sql = SQL_BATCH.sql;
            settle(r, k, v[i - 1]);
        }
    }
    PQclear(r);
    inv_log(app, BULLC_LOG_DEBUG, "applied a batch of %zu jobs in one transaction", n);
}

/* Takes up to g->max waiting calls into v (in the order handed in); returns how many. */
static size_t take(struct inv_group *g, inv_call **v)
{
    size_t n = 0;
    while (g->head && n < g->max) {
        g->head->taken = 1;
        v[n++] = g->head;
        g->head = g->head->next;
    }
    if (!g->head)
        g->tail = NULL;
    return n;
}

void inv_group_apply(const inv_app *app, inv_thread *t, inv_call *c)
{
    struct inv_group *g = app->group;
    c->done = c->taken = c->alone = c->lead = c->lost = c->already = 0;
    c->result = NULL;
    c->batch = 0;
    c->sql = NULL;
    c->next = NULL;
    memset(&c->err, 0, sizeof c->err);
    pthread_mutex_lock(&g->mu);
    if (g->tail)
        g->tail->next = c;
    else
        g->head = c;
    g->tail = c;
    while (!c->done) {
        /* only a thread whose call is still waiting may lead (so a batch holds its own call,
         * unless more than g->max wait before it) */
        if (c->taken || g->running >= g->inflight) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        inv_call *v[INV_BATCH_MAX];
        size_t n = take(g, v);
        g->running++;
        if (n == 1) {
            /* nobody to share a transaction with (v[0] is c: c was waiting, and alone). The
             * caller makes its own call as a leader, so the calls handed in meanwhile wait
             * and form the next batch: inv_group_end. */
            c->alone = c->lead = c->done = 1;
            break;
        }
        pthread_mutex_unlock(&g->mu);
        run_batch(app, t, v, n);
        pthread_mutex_lock(&g->mu);
        for (size_t i = 0; i < n; i++)
            v[i]->done = 1;
        g->running--;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
}

void inv_group_end(const inv_app *app)
{
    struct inv_group *g = app->group;
    pthread_mutex_lock(&g->mu);
    g->running--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}
