/* isolate.h - isolated handlers (docs/architecture.md §10), shared by the engine's isolate files:
 *   isolate.c        the worker's side: the fork server ("zygote"), one handler process per
 *                    slot, running a job through it, replacing it when it dies
 *   isolate_child.c  the handler process's side: its loop, and the calls a handler makes on its
 *                    job, forwarded to the worker
 *   isolate_wire.c   the frames both sides exchange on a slot's socket
 * A frame is a 4-byte payload length and a 1-byte type (host order: both ends are on the same
 * machine), then the payload: 8-byte integers and strings (a 4-byte length, the bytes and a NUL;
 * length 0xffffffff for NULL), in an order each type fixes. */
#ifndef BULLC_ENGINE_ISOLATE_H
#define BULLC_ENGINE_ISOLATE_H

#include "util/buf.h"

#include <sys/types.h>

/* The fd a handler process keeps its socket on, so that its signal handler finds it. */
#define BULLC__ISO_FD 3
/* The largest frame payload taken (a job's data is stored in Redis, so far below this). */
#define BULLC__ISO_MAX_FRAME (512u * 1024 * 1024)

typedef enum bullc__iso_type {
    /* worker -> handler process */
    BULLC__ISO_JOB = 1,   /* handler index (-1: catch-all), atm, ats, timestamp, id, name, data,
                             opts, number of fields, then each field and value, then the
                             attempt's process span: traceparent, tracestate (NULL, NULL when
                             the worker does not trace) */
    BULLC__ISO_ANSWER,    /* a call's code, its text (or NULL) */
    /* handler process -> worker */
    BULLC__ISO_READY,     /* child_init's code (the process exits after a non-zero one) */
    BULLC__ISO_CALL,      /* op (bullc__iso_op), a number, a text (or NULL) */
    BULLC__ISO_DONE,      /* the handler's code, result, failure reason, unrecoverable flag */
    BULLC__ISO_MEMHIT,    /* no payload: dying after an allocation failed (memory limit) */
    BULLC__ISO_SPAN       /* a span the handler ended: its OTLP JSON text (no answer) */
} bullc__iso_type;

/* The calls a handler makes on its job, carried by BULLC__ISO_CALL. */
typedef enum bullc__iso_op {
    BULLC__ISO_PROGRESS = 1,
    BULLC__ISO_LOG,
    BULLC__ISO_UPDATE_DATA,
    BULLC__ISO_MOVE_DELAYED,
    BULLC__ISO_RATE_LIMIT,
    BULLC__ISO_WAIT_CHILDREN,
    BULLC__ISO_CHILDREN_VALUES,
    BULLC__ISO_IGNORED_FAILURES,
    BULLC__ISO_SHOULD_STOP
} bullc__iso_op;

/* A received frame: `data` (malloc'd, NUL-ended) holds `len` payload bytes. */
typedef struct bullc__frame {
    int type;
    char *data;
    size_t len;
} bullc__frame;

/* Reads a payload in order; `bad` is set once something was missing. */
typedef struct bullc__iso_rd {
    char *p;
    size_t left;
    int bad;
} bullc__iso_rd;

/* Starts a frame of `type` in b (reset first). */
void bullc__iso_begin(bullc__buf *b, int type);
void bullc__iso_put_i64(bullc__buf *b, long long v);
void bullc__iso_put_str(bullc__buf *b, const char *s);
/* Fills in the length and writes the frame whole: 0, BULLC_ENOMEM (the buffer ran out of
 * memory) or BULLC_EIO (the peer is gone). */
int bullc__iso_send(int fd, bullc__buf *b);
/* Waits up to timeout_ms (< 0: no limit) for a frame and reads it whole: 0, 1 on timeout,
 * BULLC_EIO when the peer is gone or sent garbage, BULLC_ENOMEM. */
int bullc__iso_recv(int fd, bullc__frame *f, int timeout_ms);
void bullc__iso_frame_free(bullc__frame *f);
void bullc__iso_rd_init(bullc__iso_rd *rd, bullc__frame *f);
long long bullc__iso_get_i64(bullc__iso_rd *rd);
/* A string of the payload, in place (NUL-ended), or NULL (also when it was NULL). */
char *bullc__iso_get_str(bullc__iso_rd *rd);

struct bullc_worker;
struct bullc__run;

/* The handler process's main, after the zygote forked it with its socket on BULLC__ISO_FD:
 * runs child_init, then jobs until the socket closes. Never returns. */
void bullc__iso_child_main(struct bullc_worker *w, int slot) __attribute__((noreturn));
/* A call a handler made on its job inside a handler process, carried out by the worker:
 * returns its code; *text_out (when not NULL) gets a malloc'd text the worker answered. */
int bullc__iso_forward(struct bullc__run *r, int op, long long num, const char *text,
                       char **text_out);

#endif
