/* listen.c - the maintenance loop's wait when the protocol announces its ticks on pub/sub
 * channels (proto.h tick_channels; Bull's `delayed` channel, docs/bull.md §4.7): instead of
 * sleeping until its next deadline, the loop reads those channels on a subscriber connection
 * of its own (net/sub.h), so that a due time another client publishes brings the tick forward.
 * The stop pipe and the tick eventfd still wake it: both are watched through one epoll
 * descriptor, handed to the subscriber as its wake descriptor. */
#include "engine/engine.h"
#include "util/time.h"

#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int bullc__listener_open(bullc__listener *l, bullc_worker_t *w)
{
    memset(l, 0, sizeof *l);
    l->epfd = -1;
    const char *const *names = NULL;
    size_t n = w->ops->tick_channels && w->ops->tick_message && w->ops->tick
                   ? w->ops->tick_channels(w->proto, &names)
                   : 0;
    if (n == 0)
        return 0;
    bullc__conn_cfg cfg = {&w->server, &w->log, "subscriber connection", NULL,
                           w->o.connect_timeout_ms, 0};
    int rc = bullc__sub_init(&l->sub, &cfg, names, n);
    l->made = 1;
    if (rc == 0 && (l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        rc = BULLC_ETHREAD;
    int fds[2] = {w->gate.stop_pipe[0], w->tick_fd};
    for (int i = 0; rc == 0 && i < 2; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fds[i], &ev) != 0)
            rc = BULLC_ETHREAD;
    }
    if (rc != 0) {
        bullc__log(&w->log, BULLC_LOG_WARN, "cannot listen for due times (%s): delayed jobs "
                   "are promoted on the periodic tick only", bullc_strerror(rc));
        bullc__listener_close(l);
        return rc;
    }
    l->on = 1;
    return 0;
}

void bullc__listener_close(bullc__listener *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
    if (l->made)
        bullc__sub_free(&l->sub);
    l->made = 0;
    l->on = 0;
}

long long bullc__listener_wait(bullc__listener *l, bullc_worker_t *w, long long wake,
                               long long next_tick)
{
    bullc__sub_msg msg;
    int rc = bullc__sub_read(&l->sub, wake, l->epfd, &msg);
    long long mono = bullc__mono_ms();
    if (rc == BULLC__SUB_FRESH)
        return mono; /* due times published while we were not listening were missed */
    if (rc != BULLC__SUB_MESSAGE)
        return next_tick;
    long long due = w->ops->tick_message(w->proto, msg.channel, msg.payload, msg.len);
    bullc__sub_msg_free(&msg);
    if (due <= 0)
        return next_tick;
    long long at = mono + (due - bullc__now_ms());
    return at < next_tick ? at : next_tick;
}
