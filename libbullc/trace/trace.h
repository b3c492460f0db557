/* trace.h - OpenTelemetry traces of a worker's jobs (libbullc/trace/README.md): the
 * configuration (OTEL_* variables and bullc_trace_opts_t), W3C trace context, spans, and their
 * export as OTLP/HTTP JSON from one background thread with a bounded queue. */
#ifndef BULLC_TRACE_H
#define BULLC_TRACE_H

#include "util/buf.h"
#include "util/log.h"

/* OTLP span kinds (the numbers OTLP's JSON carries). */
enum { BULLC__SPAN_INTERNAL = 1, BULLC__SPAN_SERVER, BULLC__SPAN_CLIENT, BULLC__SPAN_PRODUCER,
       BULLC__SPAN_CONSUMER };

typedef struct bullc__tracer bullc__tracer;

/* A W3C trace context: a traceparent's fields and the tracestate that came with it. */
typedef struct bullc__trace_ctx {
    unsigned char trace_id[16];
    unsigned char span_id[8];
    unsigned char flags;   /* bit 0: sampled */
    char *tracestate;      /* owned, or NULL */
} bullc__trace_ctx;

/* Parses a traceparent header (version 00 form: 00-<32 hex>-<16 hex>-<2 hex>; a later version
 * may carry more after a '-'). 0, or -1 when it does not parse or has all-zero ids. */
int bullc__traceparent_parse(const char *s, bullc__trace_ctx *out);
/* Parses a propagation carrier as BullMQ stores it in a job's `tm` option: the JSON text of an
 * object with "traceparent" and, optionally, "tracestate". 0, or -1 (out untouched). */
int bullc__trace_carrier_parse(const char *json, bullc__trace_ctx *out);
void bullc__trace_ctx_clear(bullc__trace_ctx *c);

/* The tracer of a worker, from the user's options over the environment. *out is NULL when
 * tracing is off (nothing configured, OTEL_SDK_DISABLED; a refused protocol or libcurl.so.4 not
 * loadable: then logged), which is no error.
 * BULLC_ENOMEM. `resource_extra` (may be NULL): none yet. No thread yet. */
int bullc__tracer_new(bullc__tracer **out, const bullc_trace_opts_t *opts, const bullc__logger *log);
/* Starts the export thread. BULLC_ETHREAD. */
int bullc__tracer_start(bullc__tracer *t);
/* Exports what is queued within the shutdown deadline, then stops the export thread. */
void bullc__tracer_stop(bullc__tracer *t);
void bullc__tracer_free(bullc__tracer *t);
/* Spans dropped (queue full, out of memory, export refused or failed) and exported so far. */
unsigned long long bullc__tracer_dropped(const bullc__tracer *t);
unsigned long long bullc__tracer_exported(const bullc__tracer *t);
/* `n` random bytes from the tracer's generator (seeded from getrandom). Thread-safe. */
void bullc__tracer_random(bullc__tracer *t, unsigned char *out, size_t n);

/* Takes one finished span's OTLP JSON text (malloc'd; the sink owns it). */
typedef void (*bullc__span_sink)(void *ud, char *span_json);
/* Makes t, a fork's copy of a tracer that never started, the tracer of a process that does not
 * export (an isolated handler process, docs/architecture.md §10): reseeds its id generator from
 * getrandom (the copy would repeat the ids of its parent and of its sibling copies) and hands
 * each finished, sampled span to `sink` instead of queuing it. Its export thread must never be
 * started. */
void bullc__tracer_forked(bullc__tracer *t, bullc__span_sink sink, void *ud);
/* Queues (a copy of) a span another process finished and sent as its JSON text, as a sink got
 * it, once it proved to be one OTLP span object with ids; else it is dropped and counted. */
void bullc__tracer_enqueue_foreign(bullc__tracer *t, const char *span_json);

/* ---- spans -------------------------------------------------------------------------------- */

typedef struct bullc__span bullc__span;

/* Starts a span named `name` of `kind`, child of `parent` (a span of this tracer), or else of
 * the remote context `remote` (valid), or a root span in a new trace. The sampler decides
 * whether it is recorded; an unrecorded span still has ids (for traceparent). NULL on OOM. */
bullc__span *bullc__span_start(bullc__tracer *t, const char *name, int kind,
                               const bullc__span *parent, const bullc__trace_ctx *remote);
void bullc__span_attr_str(bullc__span *s, const char *key, const char *value);
void bullc__span_attr_int(bullc__span *s, const char *key, long long value);
/* An event now, with at most one string attribute (key NULL: none). */
void bullc__span_event(bullc__span *s, const char *name, const char *key, const char *value);
/* Status ERROR with `message`. */
void bullc__span_error(bullc__span *s, const char *message);
/* Renames the span (its name is decided after it started). */
void bullc__span_rename(bullc__span *s, const char *name);
/* The span's traceparent ("00-<trace>-<span>-<flags>"), valid while the span lives. */
const char *bullc__span_traceparent(const bullc__span *s);
/* The span's tracestate (inherited), or NULL. */
const char *bullc__span_tracestate(const bullc__span *s);
/* A stand-in, in another process, for a span `ctx` names (its traceparent and tracestate): the
 * spans started with it as parent join its trace as its children and follow its sampled flag,
 * as children of the real span would. It is never exported: end or discard it alike. NULL on
 * OOM. */
bullc__span *bullc__span_adopt(bullc__tracer *t, const bullc__trace_ctx *ctx);
/* The carrier BullMQ writes as `tm` for this span: {"traceparent":"..."[,"tracestate":"..."]}
 * (malloc'd, NULL on OOM). */
char *bullc__span_carrier(const bullc__span *s);
/* Ends the span and queues it for export (when recorded); frees it. NULL: nothing. */
void bullc__span_end(bullc__span *s);
/* Frees the span without exporting it. */
void bullc__span_discard(bullc__span *s);

/* ---- internals shared by span.c and export.c ---------------------------------------------- */

/* Queues one finished span's JSON text (taken over); dropped and counted when the queue is
 * full or the tracer stopped. */
void bullc__tracer_enqueue(bullc__tracer *t, char *span_json);
/* The sampler's verdict for a new span: 1 record, 0 not. */
int bullc__tracer_sample(bullc__tracer *t, const unsigned char trace_id[16], int has_parent,
                         int parent_sampled);

#endif
