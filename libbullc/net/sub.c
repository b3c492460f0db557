/* sub.c - a connection in SUBSCRIBE mode (see sub.h). */
#include "net/sub.h"
#include "util/buf.h"
#include "util/time.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bullc__sub_init(bullc__sub *s, const bullc__conn_cfg *cfg, const char *const *channels,
                    size_t n)
{
    memset(s, 0, sizeof *s);
    bullc__conn_init(&s->conn, cfg);
    s->seed = (unsigned)bullc__mono_ms();
    if (!(s->channels = calloc(n ? n : 1, sizeof *s->channels)))
        return BULLC_ENOMEM;
    for (size_t i = 0; i < n; i++, s->nchannels++)
        if (!(s->channels[i] = bullc__strdup(channels[i])))
            return BULLC_ENOMEM; /* bullc__sub_free releases what was copied */
    return 0;
}

void bullc__sub_free(bullc__sub *s)
{
    bullc__conn_free(&s->conn);
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i]);
    free(s->channels);
    s->channels = NULL;
    s->nchannels = 0;
}

void bullc__sub_msg_free(bullc__sub_msg *msg)
{
    bullc__reply_free(msg->reply);
    memset(msg, 0, sizeof *msg);
}

/* An array reply whose first element is the text `kind` ("message", "subscribe"), with n
 * elements. */
static int is_push(const bullc__reply *r, const char *kind, size_t n)
{
    return r && r->type == BULLC__R_ARRAY && r->elements == n &&
           r->element[0]->type == BULLC__R_STRING && strcmp(r->element[0]->str, kind) == 0;
}

/* SUBSCRIBE to every channel on a fresh connection, and read the confirmations (messages
 * arriving in between are dropped: the caller is told to look again anyway). */
static int subscribe(bullc__sub *s)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_str(&cmd, "SUBSCRIBE");
    for (size_t i = 0; i < s->nchannels; i++)
        bullc__cmd_str(&cmd, s->channels[i]);
    bullc__cmd *one = &cmd;
    int rc = bullc__cmd_oom(&cmd) ? BULLC_ENOMEM : bullc__conn_send(&s->conn, &one, 1);
    bullc__cmd_free(&cmd);
    for (size_t confirmed = 0; rc == 0 && confirmed < s->nchannels;) {
        bullc__reply *r = NULL;
        if ((rc = bullc__conn_read(&s->conn, &r)) != 0)
            break;
        if (r->type == BULLC__R_ERROR) {
            snprintf(s->conn.errstr, sizeof s->conn.errstr, "SUBSCRIBE: %s", r->str);
            rc = BULLC_EPROTO;
        } else if (is_push(r, "subscribe", 3)) {
            confirmed++;
        }
        bullc__reply_free(r);
    }
    return rc;
}

/* Not subscribed: (re)connects and subscribes unless the backoff says wait. 1 subscribed now,
 * 0 not (logged once per outage). */
static int resubscribe(bullc__sub *s)
{
    if (bullc__mono_ms() < s->retry_at)
        return 0;
    int rc = subscribe(s);
    if (rc == 0) {
        if (s->failures)
            bullc__log(s->conn.cfg.log, BULLC_LOG_INFO, "%s: subscribed again", s->conn.cfg.label);
        s->failures = 0;
        s->subscribed = 1;
        return 1;
    }
    bullc__conn_close(&s->conn);
    if (s->failures++ == 0)
        bullc__log(s->conn.cfg.log, BULLC_LOG_WARN, "%s: %s; reconnecting", s->conn.cfg.label,
                   s->conn.errstr);
    s->retry_at = bullc__mono_ms() + bullc__backoff_ms(s->failures, &s->seed);
    return 0;
}

/* Waits on wake_fd alone until the deadline or the next reconnect attempt. */
static int wait_retry(bullc__sub *s, long long deadline, int wake_fd)
{
    long long until = s->retry_at < deadline ? s->retry_at : deadline;
    long long left = until - bullc__mono_ms();
    if (left <= 0)
        return BULLC__SUB_IDLE;
    struct pollfd p = {wake_fd, POLLIN, 0};
    int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
    return n > 0 && p.revents ? BULLC__STOPPED : BULLC__SUB_IDLE;
}

int bullc__sub_read(bullc__sub *s, long long deadline, int wake_fd, bullc__sub_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    for (;;) {
        if (!s->subscribed || !bullc__sock_is_open(&s->conn.sock)) {
            s->subscribed = 0;
            if (resubscribe(s))
                return BULLC__SUB_FRESH;
            int w = wait_retry(s, deadline, wake_fd);
            if (w == BULLC__STOPPED || bullc__mono_ms() >= deadline)
                return w;
            continue;
        }
        int ready = bullc__sock_poll(&s->conn.sock, deadline, wake_fd);
        if (ready != 1)
            return ready < 0 ? BULLC__STOPPED : BULLC__SUB_IDLE;
        bullc__reply *r = NULL;
        if (bullc__conn_read(&s->conn, &r) != 0) {
            /* closed: the next round reconnects (and says so once it has) */
            bullc__log(s->conn.cfg.log, BULLC_LOG_WARN, "%s: %s; reconnecting",
                       s->conn.cfg.label, s->conn.errstr);
            s->subscribed = 0;
            s->failures = 1;
            continue;
        }
        if (is_push(r, "message", 3) && r->element[1]->type == BULLC__R_STRING &&
            r->element[2]->type == BULLC__R_STRING) {
            *msg = (bullc__sub_msg){r, r->element[1]->str, r->element[2]->str,
                                    r->element[2]->len};
            return BULLC__SUB_MESSAGE;
        }
        bullc__reply_free(r); /* a confirmation or anything else pushed: not a message */
    }
}
