/* sub.h - a subscriber: one connection (conn.h: same server, TLS, Sentinel and Cluster handling
 * as the others) in SUBSCRIBE mode on a fixed set of channels, read with a deadline and a stop
 * descriptor. A lost connection is replaced (after the reconnect backoff) and subscribed again;
 * the caller hears of it, since whatever was published meanwhile is gone. Not thread-safe. */
#ifndef BULLC_NET_SUB_H
#define BULLC_NET_SUB_H

#include "net/conn.h"

typedef struct bullc__sub {
    bullc__conn conn;
    char **channels;
    size_t nchannels;
    int subscribed;      /* the current connection has confirmed every SUBSCRIBE */
    int failures;        /* consecutive failed (re)subscriptions */
    long long retry_at;  /* monotonic ms before which no reconnect is tried */
    unsigned seed;       /* for the backoff's jitter */
} bullc__sub;

/* One message: `channel` and `payload` point into `reply` (free with bullc__sub_msg_free). */
typedef struct bullc__sub_msg {
    bullc__reply *reply;
    const char *channel;
    const char *payload;
    size_t len;
} bullc__sub_msg;

/* What bullc__sub_read saw. */
enum {
    BULLC__SUB_IDLE = 0,   /* the deadline passed (also while Redis cannot be reached) */
    BULLC__SUB_MESSAGE = 2, /* *msg holds a message */
    BULLC__SUB_FRESH = 3    /* (re)subscribed just now: messages sent before were not seen */
};

/* Copies the channel names (and cfg). 0 or BULLC_ENOMEM. Connects on the first read. */
int bullc__sub_init(bullc__sub *s, const bullc__conn_cfg *cfg, const char *const *channels,
                    size_t n);
void bullc__sub_free(bullc__sub *s);
/* Waits for the next message until the monotonic `deadline` or until wake_fd becomes readable
 * (BULLC__STOPPED; the subscription stays). Subscribes first when needed. Returns
 * BULLC__SUB_MESSAGE, BULLC__SUB_FRESH, BULLC__SUB_IDLE or BULLC__STOPPED; connection failures
 * are logged once per outage and retried, never returned. */
int bullc__sub_read(bullc__sub *s, long long deadline, int wake_fd, bullc__sub_msg *msg);
void bullc__sub_msg_free(bullc__sub_msg *msg);

#endif
