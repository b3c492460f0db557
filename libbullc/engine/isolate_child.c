/* isolate_child.c - a handler process (docs/architecture.md §10): forked by the zygote with its
 * socket on BULLC__ISO_FD, it runs child_init, then takes jobs from the worker, runs their
 * handler on a copy of the job, and sends back the outcome. The calls the handler makes on its
 * job (calls.c) come here and go to the worker, which carries them out on the real job; the
 * spans it ends go to the worker too, which exports them (docs/architecture.md §10, Tracing).
 * Its state hangs off the worker's copy in this process (fork), never a global. */
#include "engine/engine.h"
#include "engine/isolate.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The handler process's state. */
typedef struct bullc__iso_rt {
    bullc_worker_t *w;
    int slot;
    bullc__buf out;
    bullc__run run;
} bullc__iso_rt;

int bullc__iso_forward(bullc__run *r, int op, long long num, const char *text, char **text_out)
{
    bullc__iso_rt *rt = r->child;
    if (text_out)
        *text_out = NULL;
    bullc__iso_begin(&rt->out, BULLC__ISO_CALL);
    bullc__iso_put_i64(&rt->out, op);
    bullc__iso_put_i64(&rt->out, num);
    bullc__iso_put_str(&rt->out, text);
    int rc = bullc__iso_send(BULLC__ISO_FD, &rt->out);
    if (rc != 0)
        return rc;
    bullc__frame f;
    if ((rc = bullc__iso_recv(BULLC__ISO_FD, &f, -1)) != 0)
        return rc == BULLC_ENOMEM ? rc : BULLC_EIO;
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, &f);
    rc = (int)bullc__iso_get_i64(&rd);
    const char *answer = bullc__iso_get_str(&rd);
    if (rd.bad || f.type != BULLC__ISO_ANSWER)
        rc = BULLC_EIO;
    else if (text_out && answer && !(*text_out = bullc__strdup(answer)))
        rc = BULLC_ENOMEM;
    bullc__iso_frame_free(&f);
    return rc;
}

/* The sink of this process's tracer (bullc__tracer_forked): a span the handler ended goes to
 * the worker, which exports it. A worker gone meanwhile is seen at the next read. */
static void send_span(void *ud, char *span_json)
{
    bullc__iso_rt *rt = ud;
    bullc__iso_begin(&rt->out, BULLC__ISO_SPAN);
    bullc__iso_put_str(&rt->out, span_json);
    free(span_json);
    bullc__iso_send(BULLC__ISO_FD, &rt->out);
}

/* After a fatal signal: when the last call that failed ran out of memory (errno ENOMEM: an
 * allocation refused under the memory limit), says so to the worker first. Async-signal-safe:
 * errno, write and raise; the frame is constant. */
static void on_fatal(int sig)
{
    static const unsigned char memhit[5] = {0, 0, 0, 0, BULLC__ISO_MEMHIT};
    if (errno == ENOMEM) {
        ssize_t n = write(BULLC__ISO_FD, memhit, sizeof memhit);
        (void)n;
    }
    raise(sig); /* SA_RESETHAND: the default action now */
}

/* isolate_memory_mb: the address space may grow that much beyond its size now. */
static void limit_memory(bullc_worker_t *w)
{
    if (w->o.isolate_memory_mb <= 0)
        return;
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    rlim_t lim = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE)) +
                 (rlim_t)w->o.isolate_memory_mb * 1024 * 1024;
    struct rlimit rl = {lim, lim};
    setrlimit(RLIMIT_AS, &rl);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

/* The job a JOB frame carries, in one block (as bullc__job_from_hash makes them), its
 * handler's index and its process span's traceparent and tracestate (in the block, or NULL);
 * NULL when malformed or out of memory. */
static bullc_job_t *job_of(bullc__frame *f, long long *handler, const char *trace[2])
{
    bullc__iso_rd rd;
    bullc__iso_rd_init(&rd, f);
    for (int i = 0; i < 4; i++)
        bullc__iso_get_i64(&rd);
    for (int i = 0; i < 4; i++)
        bullc__iso_get_str(&rd);
    long long n = bullc__iso_get_i64(&rd);
    if (rd.bad || n < 0 || (unsigned long long)n > f->len)
        return NULL;
    size_t ptrs = 2 * (size_t)n * sizeof(char *);
    bullc_job_t *job = calloc(1, sizeof *job);
    char *block = job ? malloc(ptrs + f->len + 1) : NULL;
    if (!block) {
        free(job);
        return NULL;
    }
    memcpy(block + ptrs, f->data, f->len + 1);
    job->block = block;
    job->fields = (const char **)(void *)block;
    job->nfields = (size_t)n;
    bullc__iso_rd copy = {block + ptrs, f->len, 0};
    *handler = bullc__iso_get_i64(&copy);
    job->atm = (long)bullc__iso_get_i64(&copy);
    job->ats = (long)bullc__iso_get_i64(&copy);
    job->timestamp = bullc__iso_get_i64(&copy);
    job->id = bullc__iso_get_str(&copy);
    job->name = bullc__iso_get_str(&copy);
    job->data = bullc__iso_get_str(&copy);
    job->opts = bullc__iso_get_str(&copy);
    bullc__iso_get_i64(&copy);
    for (size_t i = 0; i < 2 * (size_t)n; i++) {
        const char *s = bullc__iso_get_str(&copy);
        job->fields[i] = s ? s : "";
    }
    trace[0] = bullc__iso_get_str(&copy);
    trace[1] = bullc__iso_get_str(&copy);
    if (copy.bad || !job->id || !job->name || !job->data || !job->opts) {
        bullc__job_free(job);
        return NULL;
    }
    return job;
}

/* A stand-in for the process span the worker made for this attempt (trace: its traceparent
 * and tracestate), parent of the spans the handler starts; NULL untraced (or out of memory:
 * the handler then runs without spans). */
static bullc__span *stand_in(bullc_worker_t *w, const char *trace[2])
{
    bullc__trace_ctx ctx = {0};
    if (!w->tracer || bullc__traceparent_parse(trace[0], &ctx) != 0)
        return NULL;
    ctx.tracestate = (char *)trace[1]; /* borrowed: adopt copies it */
    return bullc__span_adopt(w->tracer, &ctx);
}

/* Runs one job's handler and sends its outcome: 0, or BULLC_EIO when the worker is gone. */
static int run_job(bullc__iso_rt *rt, bullc__frame *f)
{
    bullc_worker_t *w = rt->w;
    long long index = -2;
    const char *trace[2] = {NULL, NULL};
    bullc_job_t *job = job_of(f, &index, trace);
    const bullc__handler *h = index == -1                                      ? &w->catchall
                              : index >= 0 && (size_t)index < w->nhandlers ? &w->handlers[index]
                                                                           : NULL;
    int rc;
    if (!job || !h || !h->fn) {
        rc = BULLC_ENOMEM;
    } else {
        job->run = &rt->run;
        rt->run.span = stand_in(w, trace);
        rc = h->fn(job, h->ud);
        bullc__span_discard(rt->run.span);
        rt->run.span = NULL;
        job->run = NULL;
    }
    bullc__buf *b = &rt->out;
    bullc__iso_begin(b, BULLC__ISO_DONE);
    bullc__iso_put_i64(b, rc);
    bullc__iso_put_str(b, job ? job->result : NULL);
    bullc__iso_put_str(b, job ? job->fail_message : NULL);
    bullc__iso_put_i64(b, job ? job->unrecoverable : 0);
    bullc__job_free(job);
    int sent = bullc__iso_send(BULLC__ISO_FD, b);
    if (sent == BULLC_ENOMEM) { /* the outcome did not fit in memory: fail it plainly */
        bullc__iso_begin(b, BULLC__ISO_DONE);
        bullc__iso_put_i64(b, BULLC_ENOMEM);
        bullc__iso_put_str(b, NULL);
        bullc__iso_put_str(b, NULL);
        bullc__iso_put_i64(b, 0);
        sent = bullc__iso_send(BULLC__ISO_FD, b);
    }
    return sent;
}

void bullc__iso_child_main(bullc_worker_t *w, int slot)
{
    bullc__iso_rt rt;
    memset(&rt, 0, sizeof rt);
    rt.w = w;
    rt.slot = slot;
    rt.run.w = w;
    rt.run.child = &rt;
    bullc__buf_init(&rt.out);
    /* its spans go to the worker: ids of its own, no export thread here */
    bullc__tracer_forked(w->tracer, send_span, &rt);
    int rc = w->o.child_init ? w->o.child_init(slot, w->o.child_user_data) : 0;
    if (rc == 0)
        limit_memory(w);
    bullc__iso_begin(&rt.out, BULLC__ISO_READY);
    bullc__iso_put_i64(&rt.out, rc);
    if (bullc__iso_send(BULLC__ISO_FD, &rt.out) != 0 || rc != 0) {
        fflush(NULL);
        _exit(1);
    }
    for (;;) {
        bullc__frame f;
        if (bullc__iso_recv(BULLC__ISO_FD, &f, -1) != 0)
            break; /* the worker closed the socket: it stops */
        int sent = f.type == BULLC__ISO_JOB ? run_job(&rt, &f) : 0;
        bullc__iso_frame_free(&f);
        if (sent != 0)
            break;
    }
    if (w->o.child_fini)
        w->o.child_fini(slot, w->o.child_user_data);
    bullc__buf_free(&rt.out);
    /* not exit(): the program's atexit handlers belong to the worker's process */
    fflush(NULL);
    _exit(0);
}
