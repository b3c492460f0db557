/* fuzz.h - what the libFuzzer targets in tests/fuzz/ share: the library's internal headers (this
 * is the only place that names them, so moving a header changes this file alone), a check macro
 * that aborts (libFuzzer then saves the input), and, for fuzz_jobhash, the one function that
 * turns input bytes into a reply and decodes a job from it.
 *
 * A target defines FUZZ_WANT_URL, FUZZ_WANT_JOB or FUZZ_WANT_TRACE before including this file
 * when it needs those declarations. */
#ifndef BULLC_FUZZ_H
#define BULLC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bullc.h"
#include "util/buf.h"
#include "util/cron.h"
#include "util/json.h"
#include "util/msgpack.h"
#include "util/tz.h"

/* the URL parser */
#ifdef FUZZ_WANT_URL
#include "net/url.h"
#endif

/* W3C trace context and the `tm` carrier (libbullc/trace/) */
#ifdef FUZZ_WANT_TRACE
#include "trace/trace.h"
#endif

/* the job-hash decoder (BullMQ's, over the protocol-neutral job) and the replies it reads */
#ifdef FUZZ_WANT_JOB
#include "job/job.h"
#include "net/reply.h"
#include "proto/bullmq/bullmq.h"
#endif

/* ---- checks --------------------------------------------------------------------------------- */

static void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));
static void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s\n", file, line, what);
    abort(); /* libFuzzer reports a deadly signal and writes the input to its crash file */
}

/* Fails the run (and libFuzzer keeps the input) when `cond` is false. */
#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond))                                                                              \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                 \
    } while (0)

/* The input as a NUL-terminated string (cut at its first NUL byte); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* ---- fuzz_jobhash: input bytes -> reply -> job ---------------------------------------------- */

#ifdef FUZZ_WANT_JOB

/* What one element of the fuzzed reply is. */
typedef enum fuzz_kind {
    FUZZ_STRING, /* bulk string (what HGETALL returns) */
    FUZZ_INTEGER,
    FUZZ_NIL,
    FUZZ_STATUS,
    FUZZ_ERROR,
    FUZZ_ARRAY /* a nested array holding the bytes as one bulk string */
} fuzz_kind;

typedef struct fuzz_field {
    fuzz_kind kind;
    const uint8_t *p;
    size_t n;
} fuzz_field;

/* The reply an input describes. Input layout:
 *   byte 0        shape of the top-level reply: low 3 bits 6 = a bulk string, 7 = nil, else an
 *                 array of the fields below
 *   byte 1        id length L, then L bytes of job id
 *   then fields   a type byte T, a length (1 byte, or 2 bytes big-endian when T & 0x80), then
 *                 that many bytes (cut at the end of the input). T & 7: 0-3 bulk string,
 *                 4 integer (value from the bytes), 5 nil, 6 status, 7 error; T & 0x40 with a
 *                 string kind makes it a nested array instead. */
typedef struct fuzz_reply_spec {
    int top_array;       /* 1: array of fields; 0: see top_kind */
    fuzz_kind top_kind;  /* FUZZ_STRING or FUZZ_NIL when !top_array */
    const uint8_t *id;
    size_t idlen;
    fuzz_field *fields;  /* malloc'd */
    size_t nfields;
} fuzz_reply_spec;

static inline void fuzz_reply_spec_parse(const uint8_t *data, size_t size, fuzz_reply_spec *s)
{
    memset(s, 0, sizeof *s);
    s->fields = malloc((size / 2 + 1) * sizeof *s->fields);
    FUZZ_CHECK(s->fields != NULL);
    size_t i = 0;
    unsigned top = size > i ? data[i++] : 0;
    s->top_array = (top & 7) < 6;
    s->top_kind = (top & 7) == 6 ? FUZZ_STRING : FUZZ_NIL;
    size_t l = size > i ? data[i++] : 0;
    if (l > size - i)
        l = size - i;
    s->id = data + i;
    s->idlen = l;
    i += l;
    while (i < size) {
        unsigned t = data[i++];
        size_t n = 0;
        if (t & 0x80) {
            n = i < size ? (size_t)data[i++] << 8 : 0;
            n |= i < size ? data[i++] : 0;
        } else if (i < size) {
            n = data[i++];
        }
        if (n > size - i)
            n = size - i;
        static const fuzz_kind kinds[8] = {FUZZ_STRING,  FUZZ_STRING, FUZZ_STRING, FUZZ_STRING,
                                           FUZZ_INTEGER, FUZZ_NIL,    FUZZ_STATUS, FUZZ_ERROR};
        fuzz_kind k = kinds[t & 7];
        if (k == FUZZ_STRING && (t & 0x40))
            k = FUZZ_ARRAY;
        s->fields[s->nfields++] = (fuzz_field){k, data + i, n};
        i += n;
    }
}

static inline void fuzz_reply_spec_free(fuzz_reply_spec *s)
{
    free(s->fields);
    memset(s, 0, sizeof *s);
}

static inline void fuzz_resp_bulk(bullc__buf *b, const uint8_t *p, size_t n)
{
    bullc__buf_printf(b, "$%zu\r\n", n);
    bullc__buf_append(b, p, n);
    bullc__buf_puts(b, "\r\n");
}

/* One element in the Redis protocol. */
static inline void fuzz_resp_field(bullc__buf *b, const fuzz_field *f)
{
    switch (f->kind) {
    case FUZZ_STRING:
        fuzz_resp_bulk(b, f->p, f->n);
        break;
    case FUZZ_ARRAY:
        bullc__buf_puts(b, "*1\r\n");
        fuzz_resp_bulk(b, f->p, f->n);
        break;
    case FUZZ_INTEGER: {
        uint64_t v = 0;
        for (size_t k = 0; k < f->n && k < 8; k++)
            v = v << 8 | f->p[k];
        bullc__buf_printf(b, ":%lld\r\n", (long long)v);
        break;
    }
    case FUZZ_NIL:
        bullc__buf_puts(b, "$-1\r\n");
        break;
    case FUZZ_STATUS:
    case FUZZ_ERROR:
        bullc__buf_puts(b, f->kind == FUZZ_STATUS ? "+" : "-");
        for (size_t k = 0; k < f->n; k++) /* a line: no CR or LF inside */
            bullc__buf_append(b, f->p[k] == '\r' || f->p[k] == '\n' ? "_" : (const char *)f->p + k,
                              1);
        bullc__buf_puts(b, "\r\n");
        break;
    }
}

/* The reply `s` describes, in the Redis protocol. */
static inline void fuzz_reply_bytes(const fuzz_reply_spec *s, bullc__buf *resp)
{
    if (s->top_array) {
        bullc__buf_printf(resp, "*%zu\r\n", s->nfields);
        for (size_t i = 0; i < s->nfields; i++)
            fuzz_resp_field(resp, &s->fields[i]);
    } else if (s->top_kind == FUZZ_STRING) {
        fuzz_resp_bulk(resp, (const uint8_t *)"hash", 4);
    } else {
        bullc__buf_puts(resp, "*-1\r\n");
    }
    FUZZ_CHECK(!resp->oom);
}

/* Decodes a job from the reply `s` describes, as the worker does after HGETALL: parses the
 * protocol bytes into the library's reply (bullc__reply_parse), decodes the job with BullMQ's
 * decoder and frees the reply at once (the job owns a copy of what it needs). Returns what the
 * decoder returned, or BULLC_ENOMEM when the reply could not be built. This is the only
 * function that knows the reply type. */
static inline int fuzz_decode_job(const fuzz_reply_spec *s, bullc_job_t **out)
{
    *out = NULL;
    bullc__buf resp;
    bullc__buf_init(&resp);
    fuzz_reply_bytes(s, &resp);
    bullc__reply *reply = NULL;
    int rc = bullc__reply_parse(resp.data, resp.len, &reply);
    bullc__buf_free(&resp);
    if (rc == BULLC_ENOMEM)
        return rc;
    FUZZ_CHECK(rc == 0 && reply != NULL); /* the bytes are exactly one well-formed reply */
    rc = bullc__bmq_job_decode(reply, (const char *)s->id, s->idlen, out);
    bullc__reply_free(reply);
    return rc;
}

#endif /* FUZZ_WANT_JOB */

#endif
