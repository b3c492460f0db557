/* conn.c - one Redis connection: connect/auth/select/setname, commands, scripts via EVALSHA
 * with a NOSCRIPT fallback, and the reconnect backoff. */
#include "internal.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void bullc__reply_free(struct redisReply *r)
{
    if (r)
        freeReplyObject(r);
}

void bullc__conn_init(bullc__conn *cn, const bullc__url *url, const bullc__logger *log,
                      const char *label, int connect_timeout_ms, int command_timeout_ms)
{
    memset(cn, 0, sizeof *cn);
    cn->url = url;
    cn->log = log;
    cn->label = label;
    cn->connect_timeout_ms = connect_timeout_ms;
    cn->command_timeout_ms = command_timeout_ms;
}

void bullc__conn_close(bullc__conn *cn)
{
    if (cn->c) {
        redisFree(cn->c);
        cn->c = NULL;
    }
}

int bullc__conn_fd(const bullc__conn *cn) { return cn->c ? cn->c->fd : -1; }

static struct timeval ms_tv(int ms)
{
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* Runs one setup command; returns 0 or an error code with errstr set. */
static int setup_cmd(bullc__conn *cn, int err_code, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(cn->c, argc, argv, NULL);
    if (!r) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s", cn->c->errstr);
        return BULLC_EIO;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s: %s", argv[0], r->str);
        rc = err_code;
    }
    freeReplyObject(r);
    return rc;
}

int bullc__conn_ensure(bullc__conn *cn)
{
    if (cn->c)
        return 0;
    const bullc__url *u = cn->url;
    redisContext *c = cn->connect_timeout_ms > 0
                          ? redisConnectWithTimeout(u->host, u->port, ms_tv(cn->connect_timeout_ms))
                          : redisConnect(u->host, u->port); /* 0 = the OS's own timeout */
    if (!c) {
        snprintf(cn->errstr, sizeof cn->errstr, "out of memory");
        return BULLC_ENOMEM;
    }
    if (c->err) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s:%d: %s", u->host, u->port, c->errstr);
        redisFree(c);
        cn->failures++;
        return BULLC_ECONNECT;
    }
    cn->c = c;
    redisEnableKeepAlive(c);
    if (cn->command_timeout_ms > 0)
        redisSetTimeout(c, ms_tv(cn->command_timeout_ms));
    int rc = 0;
    if (u->password) {
        const char *argv[3] = {"AUTH", u->user ? u->user : u->password, u->password};
        rc = setup_cmd(cn, BULLC_EAUTH, u->user ? 3 : 2, argv);
    }
    if (rc == 0 && u->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        rc = setup_cmd(cn, BULLC_ECONNECT, 2, argv);
    }
    if (rc == 0 && cn->client_name) {
        const char *argv[3] = {"CLIENT", "SETNAME", cn->client_name};
        rc = setup_cmd(cn, BULLC_ECONNECT, 3, argv);
    }
    if (rc != 0) {
        bullc__conn_close(cn);
        cn->failures++;
        return rc;
    }
    if (cn->failures)
        bullc__log(cn->log, BULLC_LOG_INFO, "%s: reconnected to Redis at %s:%d", cn->label,
                   u->host, u->port);
    cn->failures = 0;
    return 0;
}

int bullc__conn_cmd(bullc__conn *cn, int argc, const char **argv, const size_t *argvlen,
                    struct redisReply **reply)
{
    *reply = NULL;
    int rc = bullc__conn_ensure(cn);
    if (rc != 0)
        return rc == BULLC_ECONNECT ? BULLC_EIO : rc;
    redisReply *r = redisCommandArgv(cn->c, argc, argv, argvlen);
    if (!r) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s", cn->c->err ? cn->c->errstr : "no reply");
        int oom = cn->c->err == REDIS_ERR_OOM;
        bullc__conn_close(cn);
        cn->failures++;
        return oom ? BULLC_ENOMEM : BULLC_EIO;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s", r->str);
        /* a server that is starting or busy will answer later: report it like a lost link */
        if (!strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "BUSY", 4) ||
            !strncmp(r->str, "TRYAGAIN", 8) || !strncmp(r->str, "MASTERDOWN", 10)) {
            freeReplyObject(r);
            return BULLC_EIO;
        }
        *reply = r;
        return BULLC_ESCRIPT;
    }
    *reply = r;
    return 0;
}

int bullc__conn_script(bullc__conn *cn, bullc__script_id id, int nkeys, const char **keys,
                       int nargs, const char **args, const size_t *arglens,
                       struct redisReply **reply)
{
    const bullc__script *s = &bullc__scripts[id];
    enum { SMALL = 32 };
    const char *argv_small[3 + SMALL];
    size_t len_small[3 + SMALL];
    const char **argv = argv_small;
    size_t *argvlen = len_small;
    char nk[12];
    *reply = NULL;
    if (nkeys < 0 || nargs < 0)
        return BULLC_EINVAL;
    if (nkeys + nargs > SMALL) { /* a batch: arrays on the heap */
        size_t n = 3 + (size_t)nkeys + (size_t)nargs;
        argv = malloc(n * sizeof *argv);
        argvlen = malloc(n * sizeof *argvlen);
        if (!argv || !argvlen) {
            free(argv);
            free(argvlen);
            return BULLC_ENOMEM;
        }
    }
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argvlen[0] = 7;
    argv[1] = s->sha1;
    argvlen[1] = 40;
    argv[2] = nk;
    argvlen[2] = strlen(nk);
    int n = 3;
    for (int i = 0; i < nkeys; i++, n++) {
        argv[n] = keys[i];
        argvlen[n] = strlen(keys[i]);
    }
    for (int i = 0; i < nargs; i++, n++) {
        argv[n] = args[i];
        argvlen[n] = arglens ? arglens[i] : strlen(args[i]);
    }
    int rc = bullc__conn_cmd(cn, n, argv, argvlen, reply);
    if (rc == BULLC_ESCRIPT && *reply && strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
        bullc__reply_free(*reply);
        argv[0] = "EVAL";
        argvlen[0] = 4;
        argv[1] = s->text;
        argvlen[1] = s->len;
        rc = bullc__conn_cmd(cn, n, argv, argvlen, reply);
    }
    if (rc == BULLC_ESCRIPT) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s: %s", s->name, (*reply)->str);
        bullc__reply_free(*reply);
        *reply = NULL;
    }
    if (argv != argv_small) {
        free(argv);
        free(argvlen);
    }
    return rc;
}

int bullc__backoff_ms(int failures, unsigned *seed)
{
    int base = 100;
    for (int i = 1; i < failures && base < 5000; i++)
        base *= 2;
    if (base > 5000)
        base = 5000;
    /* +-25% jitter so that many workers do not reconnect in lockstep */
    int span = base / 2;
    return base - span / 2 + (span ? (int)(rand_r(seed) % (unsigned)span) : 0);
}
