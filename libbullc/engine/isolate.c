/* isolate.c - isolated handlers, the worker's side (docs/architecture.md §10). When run()
 * starts, before the worker has any thread, it forks a fork server (the zygote), which forks one
 * handler process per slot and hands the worker each one's socket (SCM_RIGHTS). A slot's thread
 * sends its job to its process and answers the calls the handler makes (and queues the spans it
 * ends for export) until the outcome comes back; when the process dies (or overruns
 * isolate_timeout_ms and is killed) the zygote reaps it and says how it ended, the job fails
 * with that reason, and a replacement is forked. The zygote reaps only when asked, so a pid the
 * worker names is never a recycled one. */
#include "engine/engine.h"
#include "engine/isolate.h"
#include "util/time.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a process that closed its socket may take to exit before it is killed, and how long
 * one may take over child_fini once the worker stops. */
enum { LOST_GRACE_MS = 2000, FINI_GRACE_MS = 10000 };

/* One slot's handler process. */
typedef struct iso_proc {
    pid_t pid;  /* 0: none */
    int fd;     /* its socket, -1 when none */
    int ready;  /* its READY came (child_init succeeded) */
    int memhit; /* it said it is dying after an allocation failed */
    bullc__buf out;
} iso_proc;

struct bullc__iso {
    pid_t zygote;
    int zfd;               /* SOCK_SEQPACKET to the zygote: one request, one answer */
    pthread_mutex_t zmu;   /* one request at a time */
    int nprocs;
    iso_proc *procs;
};

/* The zygote's requests and answers. */
enum { Z_SPAWN = 1, Z_END };
typedef struct zreq {
    int op;
    int slot;     /* Z_SPAWN */
    int pid;      /* Z_END: reap it, killing it (SIGKILL) if it is still alive after grace_ms */
    int grace_ms;
} zreq;
typedef struct zresp {
    int ok;
    int pid;
    int status;   /* Z_END: as waitpid */
    int err;      /* errno when not ok */
} zresp;

/* ---- the zygote (a single-threaded process: it forks safely) ------------------------------ */

static void close_from(int lowest)
{
    if (close_range((unsigned)lowest, ~0U, 0) == 0)
        return;
    long top = sysconf(_SC_OPEN_MAX);
    for (int fd = lowest; fd < (top > 0 ? top : 1024); fd++)
        close(fd);
}

/* The zygote's own process group (a terminal's ^C reaches the worker, which stops the
 * handlers itself), death with the worker, default signal handling (the program's handlers are
 * the worker's), nothing blocked. */
static void zygote_prepare(pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL); /* refused for the C library's own: harmless */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int zygote_spawn(bullc_worker_t *w, int slot, zresp *a)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        a->err = errno;
        return -1;
    }
    pid_t zygote = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* its socket replaces the zygote's on BULLC__ISO_FD; every other fd goes */
        if (dup2(sv[1], BULLC__ISO_FD) < 0)
            _exit(127);
        close_from(BULLC__ISO_FD + 1);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != zygote)
            _exit(0);
        bullc__iso_child_main(w, slot);
    }
    close(sv[1]);
    if (pid < 0) {
        a->err = errno;
        close(sv[0]);
        return -1;
    }
    a->ok = 1;
    a->pid = pid;
    return sv[0];
}

static void zygote_end(pid_t pid, int grace_ms, zresp *a)
{
    long long until = bullc__mono_ms() + grace_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            a->err = errno;
            return;
        }
        if (r == 0 && bullc__mono_ms() >= until) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        bullc__sleep_ms(1);
    }
    a->ok = 1;
    a->pid = pid;
    a->status = status;
}

/* The answer, with `fd` attached when >= 0. */
static void zygote_answer(int sock, zresp *a, int fd)
{
    struct iovec iov = {a, sizeof *a};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&u, 0, sizeof u);
        m.msg_control = u.buf;
        m.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

/* Serves the worker's requests until it closes the socket, then reaps what is left. */
__attribute__((noreturn)) static void zygote_main(bullc_worker_t *w, int zfd, pid_t parent)
{
    zygote_prepare(parent);
    if (zfd != BULLC__ISO_FD && dup2(zfd, BULLC__ISO_FD) < 0)
        _exit(127);
    close_from(BULLC__ISO_FD + 1);
    for (;;) {
        zreq q;
        ssize_t n = recv(BULLC__ISO_FD, &q, sizeof q, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof q)
            break;
        zresp a;
        memset(&a, 0, sizeof a);
        int fd = -1;
        if (q.op == Z_SPAWN)
            fd = zygote_spawn(w, q.slot, &a);
        else if (q.op == Z_END)
            zygote_end(q.pid, q.grace_ms, &a);
        zygote_answer(BULLC__ISO_FD, &a, fd);
        if (fd >= 0)
            close(fd);
    }
    int status;
    while (waitpid(-1, &status, 0) > 0 || errno == EINTR) {
    }
    _exit(0);
}

/* ---- talking to the zygote ------------------------------------------------------------------ */

/* One request and its answer (*fd_out: the fd it carried, or -1): 0, or BULLC_EIO when the
 * zygote is gone. */
static int zcall(struct bullc__iso *iso, const zreq *q, zresp *a, int *fd_out)
{
    *fd_out = -1;
    memset(a, 0, sizeof *a);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec iov = {a, sizeof *a};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    pthread_mutex_lock(&iso->zmu);
    ssize_t n;
    while ((n = send(iso->zfd, q, sizeof *q, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n == (ssize_t)sizeof *q)
        while ((n = recvmsg(iso->zfd, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
        }
    pthread_mutex_unlock(&iso->zmu);
    if (n != (ssize_t)sizeof *a)
        return BULLC_EIO;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd_out, CMSG_DATA(c), sizeof *fd_out);
    return 0;
}

/* Asks the zygote for slot's process (its child_init runs meanwhile). BULLC_ETHREAD. */
static int spawn(bullc_worker_t *w, int slot)
{
    iso_proc *p = &w->iso->procs[slot];
    zreq q = {Z_SPAWN, slot, 0, 0};
    zresp a;
    int fd;
    if (zcall(w->iso, &q, &a, &fd) != 0 || !a.ok || fd < 0) {
        if (fd >= 0)
            close(fd);
        bullc__log(&w->log, BULLC_LOG_ERROR, "cannot start a handler process for slot %d: %s",
                   slot, a.err ? strerror(a.err) : "the fork server is gone");
        return BULLC_ETHREAD;
    }
    p->pid = a.pid;
    p->fd = fd;
    p->ready = 0;
    p->memhit = 0;
    return 0;
}

/* Closes slot's socket and has the zygote reap its process, killing it after grace_ms; the
 * wait status, or -1 when the zygote could not say (it is gone, and its processes with it). */
static int end_proc(bullc_worker_t *w, int slot, int grace_ms)
{
    iso_proc *p = &w->iso->procs[slot];
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (!p->pid)
        return 0;
    zreq q = {Z_END, slot, p->pid, grace_ms};
    zresp a;
    int fd;
    int rc = zcall(w->iso, &q, &a, &fd);
    if (fd >= 0)
        close(fd);
    p->pid = 0;
    p->ready = 0;
    return rc == 0 && a.ok ? a.status : -1;
}

/* How a process ended, as a failure reason. */
static void describe(bullc_worker_t *w, int status, int memhit, char *out, size_t cap)
{
    char how[96];
    if (status == -1) {
        snprintf(how, sizeof how, "lost (the fork server is gone)");
    } else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        if (abbrev)
            snprintf(how, sizeof how, "killed by SIG%s", abbrev);
        else
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
    } else if (WIFEXITED(status)) {
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(how, sizeof how, "ended");
    }
    if (memhit)
        snprintf(out, cap, "handler process hit its memory limit (%d MB) and was %s",
                 w->o.isolate_memory_mb, how);
    else
        snprintf(out, cap, "handler process %s", how);
}

/* Waits for slot's READY: 0, or BULLC_ETHREAD with the reason in why (the process is gone). */
static int wait_ready(bullc_worker_t *w, int slot, char *why, size_t cap)
{
    iso_proc *p = &w->iso->procs[slot];
    bullc__frame f;
    int rc = bullc__iso_recv(p->fd, &f, -1);
    if (rc == 0 && f.type == BULLC__ISO_READY) {
        bullc__iso_rd rd;
        bullc__iso_rd_init(&rd, &f);
        long long init_rc = bullc__iso_get_i64(&rd);
        bullc__iso_frame_free(&f);
        if (!rd.bad && init_rc == 0) {
            p->ready = 1;
            return 0;
        }
        end_proc(w, slot, LOST_GRACE_MS);
        snprintf(why, cap, "handler process could not be started: child_init returned %lld",
                 init_rc);
        return BULLC_ETHREAD;
    }
    bullc__iso_frame_free(&f);
    char how[160];
    describe(w, end_proc(w, slot, LOST_GRACE_MS), 0, how, sizeof how);
    snprintf(why, cap, "handler process could not be started: %s", how);
    return BULLC_ETHREAD;
}

/* ---- one job -------------------------------------------------------------------------------- */

/* slot's process, started and ready: 0, or BULLC_ETHREAD with the reason in why. */
static int ready_proc(bullc_worker_t *w, int slot, char *why, size_t cap)
{
    iso_proc *p = &w->iso->procs[slot];
    if (!p->pid && spawn(w, slot) != 0) {
        snprintf(why, cap, "handler process could not be started (fork failed)");
        return BULLC_ETHREAD;
    }
    return p->ready ? 0 : wait_ready(w, slot, why, cap);
}

static int send_job(bullc__slot *s, iso_proc *p, const bullc_job_t *job,
                    const bullc__handler *h)
{
    bullc_worker_t *w = s->w;
    bullc__buf *b = &p->out;
    bullc__iso_begin(b, BULLC__ISO_JOB);
    bullc__iso_put_i64(b, h == &w->catchall ? -1 : (long long)(h - w->handlers));
    bullc__iso_put_i64(b, job->atm);
    bullc__iso_put_i64(b, job->ats);
    bullc__iso_put_i64(b, job->timestamp);
    bullc__iso_put_str(b, job->id);
    bullc__iso_put_str(b, job->name);
    bullc__iso_put_str(b, job->data);
    bullc__iso_put_str(b, job->opts);
    bullc__iso_put_i64(b, (long long)job->nfields);
    for (size_t i = 0; i < 2 * job->nfields; i++)
        bullc__iso_put_str(b, job->fields[i]);
    /* the process span's context, so the handler's spans are its children */
    bullc__iso_put_str(b, bullc__span_traceparent(s->span));
    bullc__iso_put_str(b, bullc__span_tracestate(s->span));
    return bullc__iso_send(p->fd, b);
}

/* Carries out a call the handler made (on this, its worker-side job) and answers it. */
static void answer_call(iso_proc *p, bullc_job_t *job, bullc__frame *f)
{
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, f);
    long long op = bullc__iso_get_i64(&rd), num = bullc__iso_get_i64(&rd);
    const char *text = bullc__iso_get_str(&rd);
    char *out = NULL;
    int rc = BULLC_EINVAL;
    switch (rd.bad ? 0 : op) {
    case BULLC__ISO_PROGRESS: rc = bullc_job_update_progress(job, text); break;
    case BULLC__ISO_LOG: rc = bullc_job_log(job, text); break;
    case BULLC__ISO_UPDATE_DATA: rc = bullc_job_update_data(job, text); break;
    case BULLC__ISO_MOVE_DELAYED: rc = bullc_job_move_to_delayed(job, num); break;
    case BULLC__ISO_RATE_LIMIT: rc = bullc_job_rate_limit(job, num); break;
    case BULLC__ISO_WAIT_CHILDREN: rc = bullc_job_move_to_waiting_children(job); break;
    case BULLC__ISO_CHILDREN_VALUES: rc = bullc_job_children_values(job, &out); break;
    case BULLC__ISO_IGNORED_FAILURES: rc = bullc_job_ignored_children_failures(job, &out); break;
    case BULLC__ISO_SHOULD_STOP: rc = bullc_job_should_stop(job); break;
    default: break;
    }
    bullc__iso_begin(&p->out, BULLC__ISO_ANSWER);
    bullc__iso_put_i64(&p->out, rc);
    bullc__iso_put_str(&p->out, out);
    bullc_free(out);
    bullc__iso_send(p->fd, &p->out); /* a process gone meanwhile is seen at the next read */
}

/* The handler's outcome from a DONE frame, onto the job: the handler's code. */
static int take_done(bullc_worker_t *w, bullc_job_t *job, bullc__frame *f)
{
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, f);
    int rc = (int)bullc__iso_get_i64(&rd);
    const char *result = bullc__iso_get_str(&rd);
    const char *fail = bullc__iso_get_str(&rd);
    int unrecoverable = bullc__iso_get_i64(&rd) != 0;
    if (rd.bad) {
        bullc__job_set_failure(job, "handler process sent a malformed outcome", 0);
        return BULLC_EJOBFAILED;
    }
    if (result && bullc_job_set_result(job, result) != 0 && rc == 0) {
        bullc__job_set_failure(job, "out of memory taking the handler's result", 0);
        return BULLC_EJOBFAILED;
    }
    if (fail)
        bullc__job_set_failure(job, fail, unrecoverable);
    else if (unrecoverable)
        job->unrecoverable = 1;
    if (rc == BULLC_ENOMEM && !fail && w->o.isolate_memory_mb > 0) {
        char why[128];
        snprintf(why, sizeof why, "handler process hit its memory limit (%d MB): %s",
                 w->o.isolate_memory_mb, bullc_strerror(rc));
        bullc__job_set_failure(job, why, 0);
    }
    return rc;
}

/* A span the handler ended in its process: queued for export as if made here. */
static void take_span(bullc_worker_t *w, bullc__frame *f)
{
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, f);
    const char *json = bullc__iso_get_str(&rd);
    if (w->tracer && !rd.bad && json)
        bullc__tracer_enqueue_foreign(w->tracer, json);
}

/* The slot's process is gone (or is killed now): fails the job with why, logs, and starts a
 * replacement. */
static int lost(bullc__slot *s, bullc_job_t *job, const char *why)
{
    bullc_worker_t *w = s->w;
    bullc__log_job(&w->log, job, BULLC_LOG_WARN, "%s: job %s: %s; starting a replacement",
                   s->label, job->id, why);
    bullc__job_set_failure(job, why, 0);
    spawn(w, s->idx); /* on failure the next job tries again */
    return BULLC_EJOBFAILED;
}

/* When the slot's wait for an outcome ends: the process's own limit (isolate_timeout_ms) or the
 * job's timeout (Bull's `timeout`, docs/bull.md §4.5.1), whichever comes first; 0 for none. */
static long long outcome_deadline(const bullc_worker_t *w, const bullc_job_t *job, int *by_job)
{
    long long now = bullc__mono_ms(), end = 0;
    *by_job = 0;
    if (w->o.isolate_timeout_ms > 0)
        end = now + w->o.isolate_timeout_ms;
    if (job->timeout_ms > 0 && job->timeout_reason && (!end || now + job->timeout_ms < end)) {
        end = now + job->timeout_ms;
        *by_job = 1;
    }
    return end;
}

/* The process ran past the deadline: it is killed and replaced, and the job fails with the
 * job's timeout reason (as Node's Bull fails it when its timer fires) or the process's. */
static int overran(bullc__slot *s, bullc_job_t *job, int by_job)
{
    bullc_worker_t *w = s->w;
    char why[224];
    end_proc(w, s->idx, 0);
    if (!by_job) {
        snprintf(why, sizeof why, "handler process timed out after %d ms (killed)",
                 w->o.isolate_timeout_ms);
        return lost(s, job, why);
    }
    bullc__log_job(&w->log, job, BULLC_LOG_INFO,
                   "%s: job %s: past its timeout; handler process killed, starting a replacement",
                   s->label, job->id);
    bullc__job_set_failure(job, job->timeout_reason, 0);
    spawn(w, s->idx);
    return BULLC_EJOBFAILED;
}

/* Reads the process's frames until its outcome, answering its calls. */
static int await_outcome(bullc__slot *s, bullc_job_t *job)
{
    bullc_worker_t *w = s->w;
    iso_proc *p = &w->iso->procs[s->idx];
    int by_job;
    long long end = outcome_deadline(w, job, &by_job);
    char why[224];
    for (;;) {
        long long left = end ? end - bullc__mono_ms() : -1;
        bullc__frame f;
        int rc = bullc__iso_recv(p->fd, &f, end ? (int)(left > 0 ? left : 0) : -1);
        if (rc == 1)
            return overran(s, job, by_job);
        if (rc != 0 || (f.type != BULLC__ISO_CALL && f.type != BULLC__ISO_MEMHIT &&
                        f.type != BULLC__ISO_DONE && f.type != BULLC__ISO_SPAN)) {
            int memhit = p->memhit;
            bullc__iso_frame_free(&f);
            describe(w, end_proc(w, s->idx, LOST_GRACE_MS), memhit, why, sizeof why);
            return lost(s, job, why);
        }
        if (f.type == BULLC__ISO_CALL)
            answer_call(p, job, &f);
        else if (f.type == BULLC__ISO_MEMHIT)
            p->memhit = 1;
        else if (f.type == BULLC__ISO_SPAN)
            take_span(w, &f);
        else
            rc = take_done(w, job, &f);
        bullc__iso_frame_free(&f);
        if (f.type == BULLC__ISO_DONE)
            return rc;
    }
}

int bullc__iso_run(bullc__slot *s, bullc_job_t *job, const bullc__handler *h)
{
    bullc_worker_t *w = s->w;
    iso_proc *p = &w->iso->procs[s->idx];
    char why[224];
    int rc = 0;
    /* a process that died while idle is replaced and the job sent again, once */
    for (int tries = 0; tries < 2; tries++) {
        if ((rc = ready_proc(w, s->idx, why, sizeof why)) != 0)
            return lost(s, job, why);
        if ((rc = send_job(s, p, job, h)) != BULLC_EIO)
            break;
        describe(w, end_proc(w, s->idx, LOST_GRACE_MS), 0, why, sizeof why);
        bullc__log_job(&w->log, job, BULLC_LOG_WARN, "%s: idle %s; starting a replacement",
                       s->label, why);
    }
    if (rc == BULLC_ENOMEM) {
        bullc__job_set_failure(job, "out of memory sending the job to its handler process", 0);
        return BULLC_EJOBFAILED;
    }
    if (rc != 0)
        return lost(s, job, why);
    return await_outcome(s, job);
}

/* ---- start and stop ------------------------------------------------------------------------- */

static int make_iso(bullc_worker_t *w)
{
    struct bullc__iso *iso = calloc(1, sizeof *iso);
    iso_proc *procs = iso ? calloc((size_t)w->o.concurrency, sizeof *procs) : NULL;
    if (!procs || pthread_mutex_init(&iso->zmu, NULL) != 0) {
        free(procs);
        free(iso);
        snprintf(w->errmsg, sizeof w->errmsg, "isolate: out of memory");
        return BULLC_ENOMEM;
    }
    iso->nprocs = w->o.concurrency;
    iso->procs = procs;
    iso->zfd = -1;
    for (int i = 0; i < iso->nprocs; i++) {
        procs[i].fd = -1;
        bullc__buf_init(&procs[i].out);
    }
    w->iso = iso;
    return 0;
}

/* Forks the zygote. */
static int fork_zygote(bullc_worker_t *w)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "isolate: socketpair: %s", strerror(errno));
        return BULLC_ETHREAD;
    }
    pid_t parent = getpid();
    fflush(NULL); /* nothing buffered is written twice by the processes */
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        zygote_main(w, sv[1], parent);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        snprintf(w->errmsg, sizeof w->errmsg, "isolate: fork: %s", strerror(errno));
        return BULLC_ETHREAD;
    }
    w->iso->zygote = pid;
    w->iso->zfd = sv[0];
    return 0;
}

int bullc__iso_start(bullc_worker_t *w)
{
    int rc = make_iso(w);
    if (rc == 0)
        rc = fork_zygote(w);
    for (int i = 0; rc == 0 && i < w->o.concurrency; i++)
        if ((rc = spawn(w, i)) != 0)
            snprintf(w->errmsg, sizeof w->errmsg, "cannot start handler process %d", i);
    /* their child_init calls run side by side */
    char why[224];
    for (int i = 0; rc == 0 && i < w->o.concurrency; i++)
        if ((rc = wait_ready(w, i, why, sizeof why)) != 0)
            snprintf(w->errmsg, sizeof w->errmsg, "slot %d: %s", i, why);
    if (rc == 0)
        bullc__log(&w->log, BULLC_LOG_INFO, "%d handler processes started (fork server %ld)",
                   w->o.concurrency, (long)w->iso->zygote);
    else
        bullc__iso_stop(w);
    return rc ? BULLC_ETHREAD : 0;
}

void bullc__iso_stop(bullc_worker_t *w)
{
    struct bullc__iso *iso = w->iso;
    if (!iso)
        return;
    /* closing a socket tells its idle process to run child_fini and exit: all at once */
    for (int i = 0; i < iso->nprocs; i++) {
        if (iso->procs[i].fd >= 0)
            close(iso->procs[i].fd);
        iso->procs[i].fd = -1;
    }
    for (int i = 0; i < iso->nprocs; i++)
        if (iso->procs[i].pid && iso->zfd >= 0)
            end_proc(w, i, FINI_GRACE_MS);
    if (iso->zfd >= 0)
        close(iso->zfd);
    if (iso->zygote > 0)
        while (waitpid(iso->zygote, NULL, 0) < 0 && errno == EINTR) {
        }
    for (int i = 0; i < iso->nprocs; i++)
        bullc__buf_free(&iso->procs[i].out);
    free(iso->procs);
    pthread_mutex_destroy(&iso->zmu);
    free(iso);
    w->iso = NULL;
}
