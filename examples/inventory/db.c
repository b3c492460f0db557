/* db.c - the inventory worker's PostgreSQL side: one connection per handler thread, rebuilt
 * when it breaks, and errors sorted by SQLSTATE into transient, permanent and refused ones. */
#include "inventory.h"

#include <stdio.h>
#include <string.h>

/* Copies libpq's message without its trailing newline. */
static void set_msg(inv_dberr *err, const char *m)
{
    snprintf(err->msg, sizeof err->msg, "%s", m && *m ? m : "no answer from the server");
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
        err->msg[--n] = '\0';
    /* libpq messages may span lines (DETAIL, hints): one line, single spaces */
    char *out = err->msg;
    for (const char *p = err->msg; *p; p++) {
        char c = (*p == '\n' || *p == '\t') ? ' ' : *p;
        if (c != ' ' || (out > err->msg && out[-1] != ' '))
            *out++ = c;
    }
    *out = '\0';
}

inv_errclass inv_classify(const char *st)
{
    if (!st || strlen(st) != 5)
        return INV_TRANSIENT; /* no SQLSTATE: the connection itself failed */
    if (!strcmp(st, "IV001"))         /* inventory_apply refused the event (sql/schema.sql) */
        return INV_REJECTED;
    if (!strncmp(st, "08", 2) ||      /* connection exception */
        !strcmp(st, "40001") ||       /* serialization failure */
        !strcmp(st, "40P01") ||       /* deadlock detected */
        !strncmp(st, "53", 2) ||      /* insufficient resources (too many connections, ...) */
        !strcmp(st, "57P01") ||       /* admin shutdown */
        !strcmp(st, "57P02") ||       /* crash shutdown */
        !strcmp(st, "57P03") ||       /* cannot connect now (starting up, shutting down) */
        !strcmp(st, "57014") ||       /* query canceled (statement timeout) */
        !strcmp(st, "55P03") ||       /* lock not available (lock timeout) */
        !strcmp(st, "58030"))         /* I/O error */
        return INV_TRANSIENT;
    if (!strncmp(st, "23", 2) ||      /* integrity constraint violation */
        !strcmp(st, "22003"))         /* numeric value out of range */
        return INV_PERMANENT;
    return INV_UNEXPECTED;
}

PGconn *inv_db(const inv_app *app, inv_thread *t, inv_dberr *err)
{
    memset(err, 0, sizeof *err);
    if (t->pg && PQstatus(t->pg) == CONNECTION_OK)
        return t->pg;
    if (t->pg) {
        PQreset(t->pg);
    } else {
        /* connect_timeout comes before the URL, so a timeout in DATABASE_URL wins */
        const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
        const char *const vals[] = {"5", "inventory_worker", app->database_url, NULL};
        t->pg = PQconnectdbParams(keys, vals, 1);
        if (!t->pg) {
            err->cls = INV_TRANSIENT;
            set_msg(err, "out of memory");
            return NULL;
        }
    }
    if (PQstatus(t->pg) != CONNECTION_OK) {
        err->cls = INV_TRANSIENT;
        set_msg(err, PQerrorMessage(t->pg));
        return NULL;
    }
    if (t->pg_was_up)
        inv_log(app, BULLC_LOG_INFO, "reconnected to PostgreSQL");
    t->pg_was_up = 1;
    t->prepared = 0; /* a new session */
    return t->pg;
}

/* `r` when it succeeded; else NULL (and `r` freed) with `err` filled and classified. */
static PGresult *checked(PGconn *pg, PGresult *r, inv_dberr *err)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state)
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state);
    err->cls = PQstatus(pg) == CONNECTION_OK ? inv_classify(state) : INV_TRANSIENT;
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    set_msg(err, m ? m : PQerrorMessage(pg));
    PQclear(r);
    return NULL;
}

PGresult *inv_exec_prepared(inv_thread *t, const inv_stmt *st, int nparams,
                            const char *const *params, inv_dberr *err)
{
    memset(err, 0, sizeof *err);
    if (!(t->prepared & st->bit)) {
        PGresult *r = checked(t->pg, PQprepare(t->pg, st->name, st->sql, nparams, NULL), err);
        if (!r)
            return NULL;
        PQclear(r);
        t->prepared |= st->bit;
    }
    return checked(t->pg, PQexecPrepared(t->pg, st->name, nparams, params, NULL, NULL, 0), err);
}

void inv_dberr_set(inv_dberr *err, const char *sqlstate, const char *msg)
{
    memset(err, 0, sizeof *err);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate ? sqlstate : "");
    err->cls = inv_classify(sqlstate);
    set_msg(err, msg);
}
