/* bmq_opts.c - a producer's job options: checked the way Node's Queue.add checks them and packed
 * into the msgpack map Node sends, so the stored `opts` JSON comes out byte-identical. */
#include "bullmq.h"
#include "util/js.h"
#include "util/json.h"
#include "util/msgpack.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULLC__PRIORITY_LIMIT 2097151 /* 2^21 - 1 */
#define BULLC__MAX_SAFE 9007199254740992.0 /* 2^53 */

typedef struct ctx {
    char *err;
    size_t errlen;
} ctx;

static int fail(ctx *c, int code, const char *fmt, ...) BULLC__PRINTF(3, 4);
static int fail(ctx *c, int code, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int is_int(double d) { return d == floor(d) && fabs(d) < BULLC__MAX_SAFE; }

/* A finite JSON number, else EINVAL naming the option. */
static int want_number(ctx *c, const cJSON *v, const char *what, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(c, BULLC_EINVAL, "option %s must be a finite number", what);
    *out = v->valuedouble;
    return 0;
}

static int want_int(ctx *c, const cJSON *v, const char *what, double min, double *out)
{
    double d = 0;
    int rc = want_number(c, v, what, &d);
    if (rc)
        return rc;
    if (!is_int(d) || d < min)
        return fail(c, BULLC_EINVAL, "option %s must be an integer >= %.0f", what, min);
    *out = d;
    return 0;
}

static int want_bool(ctx *c, const cJSON *v, const char *what)
{
    if (!cJSON_IsBool(v))
        return fail(c, BULLC_EINVAL, "option %s must be true or false", what);
    return 0;
}

/* Object members must be among `allowed` (NULL-terminated) and appear once. */
static int check_members(ctx *c, const cJSON *obj, const char *what, const char *const *allowed)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            known |= !strcmp(m->string, *a);
        if (!known)
            return fail(c, BULLC_EINVAL, "option %s has no member '%s'", what, m->string);
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (!strcmp(o->string, m->string))
                return fail(c, BULLC_EINVAL, "option %s has '%s' twice", what, m->string);
    }
    return 0;
}

/* removeOnComplete / removeOnFail: true, false, a count, or {age, count, limit}. */
static int check_keep(ctx *c, const cJSON *v, const char *what)
{
    double d = 0;
    if (cJSON_IsBool(v))
        return 0;
    if (cJSON_IsNumber(v))
        return want_int(c, v, what, -1, &d);
    if (!cJSON_IsObject(v))
        return fail(c, BULLC_EINVAL, "option %s must be true, false, a count or {age, count, limit}",
                    what);
    static const char *const members[] = {"age", "count", "limit", NULL};
    int rc = check_members(c, v, what, members);
    const cJSON *m = NULL;
    char sub[64];
    if (!rc && (m = cJSON_GetObjectItemCaseSensitive(v, "age"))) {
        snprintf(sub, sizeof sub, "%s.age", what);
        if (!(rc = want_number(c, m, sub, &d)) && d < 0)
            rc = fail(c, BULLC_EINVAL, "option %s must be >= 0", sub);
    }
    if (!rc && (m = cJSON_GetObjectItemCaseSensitive(v, "count"))) {
        snprintf(sub, sizeof sub, "%s.count", what);
        rc = want_int(c, m, sub, -1, &d);
    }
    if (!rc && (m = cJSON_GetObjectItemCaseSensitive(v, "limit"))) {
        snprintf(sub, sizeof sub, "%s.limit", what);
        rc = want_int(c, m, sub, 1, &d);
    }
    return rc;
}

static int check_backoff(ctx *c, const cJSON *v)
{
    double d = 0;
    if (cJSON_IsNumber(v)) {
        int rc = want_number(c, v, "backoff", &d);
        if (!rc && d < 0)
            rc = fail(c, BULLC_EINVAL, "option backoff must be >= 0");
        return rc;
    }
    if (!cJSON_IsObject(v))
        return fail(c, BULLC_EINVAL, "option backoff must be a number or {type, delay, jitter}");
    static const char *const members[] = {"type", "delay", "jitter", NULL};
    int rc = check_members(c, v, "backoff", members);
    if (rc)
        return rc;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (!cJSON_IsString(m))
        return fail(c, BULLC_EINVAL, "option backoff.type must be a string");
    if ((m = cJSON_GetObjectItemCaseSensitive(v, "delay"))) {
        if ((rc = want_number(c, m, "backoff.delay", &d)))
            return rc;
        if (d < 0)
            return fail(c, BULLC_EINVAL, "option backoff.delay must be >= 0");
    }
    if ((m = cJSON_GetObjectItemCaseSensitive(v, "jitter"))) {
        if ((rc = want_number(c, m, "backoff.jitter", &d)))
            return rc;
        if (d < 0 || d > 1)
            return fail(c, BULLC_EINVAL, "Jitter should be between 0 and 1");
    }
    return 0;
}

static int check_dedup(ctx *c, const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return fail(c, BULLC_EINVAL, "option deduplication must be {id, ttl, extend, replace}");
    static const char *const members[] = {"id", "ttl", "extend", "replace", NULL};
    for (const cJSON *m = v->child; m; m = m->next)
        if (!strcmp(m->string, "keepLastIfActive") || !strcmp(m->string, "reschedule"))
            return fail(c, BULLC_EINVAL, "option deduplication.%s is not supported", m->string);
    int rc = check_members(c, v, "deduplication", members);
    if (rc)
        return rc;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "id");
    if (!m || (cJSON_IsString(m) && !*m->valuestring))
        return fail(c, BULLC_EINVAL, "Deduplication id must be provided");
    if (!cJSON_IsString(m))
        return fail(c, BULLC_EINVAL, "option deduplication.id must be a string");
    double d = 0;
    if ((m = cJSON_GetObjectItemCaseSensitive(v, "ttl")) &&
        (rc = want_int(c, m, "deduplication.ttl", 0, &d)))
        return rc;
    if ((m = cJSON_GetObjectItemCaseSensitive(v, "extend")) &&
        (rc = want_bool(c, m, "deduplication.extend")))
        return rc;
    if ((m = cJSON_GetObjectItemCaseSensitive(v, "replace")) &&
        (rc = want_bool(c, m, "deduplication.replace")))
        return rc;
    return 0;
}

/* A JSON "\u0000" escape would be cut short by cJSON's NUL-terminated strings. */
static int has_nul_escape(const char *s)
{
    for (const char *p = s; (p = strstr(p, "\\u0000")); p += 6) {
        /* count the backslashes before it: an even run means the escape is real */
        size_t n = 0;
        while (p - n > s && p[-(ptrdiff_t)n - 1] == '\\')
            n++;
        if (n % 2 == 0)
            return 1;
    }
    return 0;
}

/* Option names BullMQ stores in short form (docs/bullmq.md §2.4). */
static const char *const NAMES[][2] = {
    {"deduplication", "de"},           {"failParentOnFailure", "fpof"},
    {"continueParentOnFailure", "cpof"}, {"ignoreDependencyOnFailure", "idof"},
    {"keepLogs", "kl"},                {"removeDependencyOnFailure", "rdof"},
};

const char *bullc__bmq_short_name(const char *name)
{
    for (size_t i = 0; i < BULLC__COUNT(NAMES); i++)
        if (strcmp(name, NAMES[i][0]) == 0)
            return NAMES[i][1];
    return name;
}

const char *bullc__bmq_long_name(const char *name)
{
    for (size_t i = 0; i < BULLC__COUNT(NAMES); i++)
        if (strcmp(name, NAMES[i][1]) == 0)
            return NAMES[i][0];
    return name;
}

void bullc__newjob_free(bullc__newjob *job)
{
    if (!job)
        return;
    free(job->job_id);
    bullc__buf_free(&job->opts);
    memset(job, 0, sizeof *job);
}

/* A W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>", lowercase, ids not all zero). */
static int traceparent_ok(const char *s)
{
    if (strlen(s) != 55 || strncmp(s, "00-", 3) != 0 || s[35] != '-' || s[52] != '-')
        return 0;
    int nonzero_trace = 0, nonzero_span = 0;
    for (int i = 3; i < 55; i++) {
        if (i == 35 || i == 52)
            continue;
        if (!strchr("0123456789abcdef", s[i]) || !s[i])
            return 0;
        if (s[i] != '0' && i < 35)
            nonzero_trace = 1;
        else if (s[i] != '0' && i < 52)
            nonzero_span = 1;
    }
    return nonzero_trace && nonzero_span;
}

/* traceparent and tracestate: the trace this job continues (docs/bullmq.md "Tracing"). */
static int check_trace_option(ctx *c, const cJSON *m)
{
    if (!cJSON_IsString(m))
        return fail(c, BULLC_EINVAL, "option %s must be a string", m->string);
    if (!strcmp(m->string, "traceparent") && !traceparent_ok(m->valuestring))
        return fail(c, BULLC_EINVAL, "option traceparent is not a W3C traceparent "
                    "(00-<32 hex>-<16 hex>-<2 hex>)");
    return 0;
}

static int check_option(ctx *c, const cJSON *m)
{
    const char *k = m->string;
    double d = 0;
    if (!strcmp(k, "jobId"))
        return cJSON_IsString(m) ? 0 : fail(c, BULLC_EINVAL, "option jobId must be a string");
    if (!strcmp(k, "delay") || !strcmp(k, "timestamp"))
        return want_number(c, m, k, &d);
    if (!strcmp(k, "priority")) {
        int rc = want_number(c, m, k, &d);
        if (rc)
            return rc;
        if (d != trunc(d))
            return fail(c, BULLC_EINVAL, "Priority should not be float");
        if (d < 0 || d > BULLC__PRIORITY_LIMIT)
            return fail(c, BULLC_EINVAL, "Priority should be between 0 and %d",
                        BULLC__PRIORITY_LIMIT);
        return 0;
    }
    if (!strcmp(k, "lifo"))
        return want_bool(c, m, k);
    if (!strcmp(k, "attempts") || !strcmp(k, "keepLogs") || !strcmp(k, "stackTraceLimit") ||
        !strcmp(k, "sizeLimit"))
        return want_int(c, m, k, 0, &d);
    if (!strcmp(k, "backoff"))
        return check_backoff(c, m);
    if (!strcmp(k, "removeOnComplete") || !strcmp(k, "removeOnFail"))
        return check_keep(c, m, k);
    if (!strcmp(k, "deduplication"))
        return check_dedup(c, m);
    if (!strcmp(k, "traceparent") || !strcmp(k, "tracestate"))
        return check_trace_option(c, m);
    if (!strcmp(k, "debounce"))
        return fail(c, BULLC_EINVAL,
                    "Debounce option has been removed. Use deduplication option instead");
    return fail(c, BULLC_EINVAL, "unknown or unsupported option '%s'", k);
}

/* The caller's options parsed (NULL for none), or an error. */
static int parse_opts(ctx *c, const char *opts_json, cJSON **out)
{
    *out = NULL;
    if (!opts_json)
        return 0;
    if (!bullc__json_valid(opts_json))
        return fail(c, BULLC_EJSON, "opts is not valid JSON");
    if (has_nul_escape(opts_json))
        return fail(c, BULLC_EINVAL, "opts must not contain \\u0000");
    cJSON *o = cJSON_ParseWithOpts(opts_json, NULL, 1);
    if (!o)
        return fail(c, BULLC_EJSON,
                    "opts could not be read (lone surrogate escape, overlong number, or out of "
                    "memory)");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return fail(c, BULLC_EINVAL, "opts must be a JSON object");
    }
    *out = o;
    return 0;
}

/* The options that shape the add, found while checking every option once. */
typedef struct found {
    const cJSON *attempts, *job_id, *timestamp, *size_limit;
    const cJSON *traceparent, *tracestate; /* stored together as `tm` */
    uint32_t nkeys; /* members of the stored opts (attempts always comes first) */
} found;

static int check_options(ctx *c, const cJSON *o, found *f)
{
    memset(f, 0, sizeof *f);
    f->nkeys = 1;
    for (const cJSON *m = o ? o->child : NULL; m; m = m->next) {
        for (const cJSON *p = o->child; p != m; p = p->next)
            if (!strcmp(p->string, m->string))
                return fail(c, BULLC_EINVAL, "option %s given twice", m->string);
        int rc = check_option(c, m);
        if (rc)
            return rc;
        if (!strcmp(m->string, "attempts"))
            f->attempts = m;
        else if (!strcmp(m->string, "tracestate"))
            f->tracestate = m; /* goes inside tm */
        else
            f->nkeys++;
        if (!strcmp(m->string, "traceparent"))
            f->traceparent = m;
        if (!strcmp(m->string, "jobId"))
            f->job_id = m;
        else if (!strcmp(m->string, "timestamp"))
            f->timestamp = m;
        else if (!strcmp(m->string, "sizeLimit"))
            f->size_limit = m;
    }
    if (f->tracestate && !f->traceparent)
        return fail(c, BULLC_EINVAL, "option tracestate needs traceparent");
    return 0;
}

/* The propagation carrier bullmq-otel stores as `tm`: the JSON text of
 * {"traceparent": ..., "tracestate": ...} (docs/bullmq.md "Tracing"). */
static void pack_tm(bullc__buf *b, const found *f)
{
    bullc__buf tm;
    bullc__buf_init(&tm);
    bullc__buf_puts(&tm, "{\"traceparent\":");
    bullc__json_append_string(&tm, f->traceparent->valuestring, strlen(f->traceparent->valuestring));
    if (f->tracestate) {
        bullc__buf_puts(&tm, ",\"tracestate\":");
        bullc__json_append_string(&tm, f->tracestate->valuestring,
                                  strlen(f->tracestate->valuestring));
    }
    bullc__buf_puts(&tm, "}");
    bullc__mp_cstr(b, "tm");
    if (tm.oom)
        b->oom = 1;
    else
        bullc__mp_cstr(b, tm.data);
    bullc__buf_free(&tm);
}

/* Node's own checks of an add, in its order. */
static int check_add(ctx *c, const char *name, const char *data, const found *f)
{
    const char *id = f->job_id ? f->job_id->valuestring : "";
    if (!strcmp(id, "0") || !strncmp(id, "0:", 2))
        return fail(c, BULLC_EINVAL, "JobId cannot be '0' or start with '0:'");
    if (f->size_limit && f->size_limit->valuedouble > 0 &&
        (double)strlen(data) > f->size_limit->valuedouble)
        return fail(c, BULLC_EINVAL, "The size of job %s exceeds the limit %.0f bytes", name,
                    f->size_limit->valuedouble);
    if (*id && bullc__js_integer_string(id))
        return fail(c, BULLC_EINVAL, "Custom Id cannot be integers");
    if (strchr(id, ':')) {
        int parts = 1;
        for (const char *p = id; *p; p++)
            parts += *p == ':';
        if (parts != 3)
            return fail(c, BULLC_EINVAL, "Custom Id cannot contain :");
    }
    return 0;
}

/* The stored opts: attempts first, then the caller's options in their order, short names. */
static void pack_opts(bullc__buf *b, const cJSON *o, const found *f)
{
    bullc__mp_map(b, f->nkeys);
    bullc__mp_cstr(b, "attempts");
    if (f->attempts)
        bullc__mp_cjson(b, f->attempts, 0);
    else
        bullc__mp_int(b, 0);
    for (const cJSON *m = o ? o->child : NULL; m; m = m->next) {
        if (m == f->attempts || m == f->tracestate)
            continue;
        if (m == f->traceparent) {
            pack_tm(b, f);
            continue;
        }
        bullc__mp_cstr(b, bullc__bmq_short_name(m->string));
        if (!strcmp(m->string, "backoff") && cJSON_IsNumber(m)) {
            /* a plain number means a fixed backoff */
            bullc__mp_map(b, 2);
            bullc__mp_cstr(b, "type");
            bullc__mp_cstr(b, "fixed");
            bullc__mp_cstr(b, "delay");
            bullc__mp_number(b, m->valuedouble);
        } else {
            bullc__mp_cjson(b, m, 0);
        }
    }
}

int bullc__newjob_prepare(bullc__newjob *job, const char *name, const char *data_json,
                          const char *opts_json, long long now_ms, char *err, size_t errlen)
{
    ctx c = {err, errlen};
    memset(job, 0, sizeof *job);
    if (err && errlen)
        err[0] = '\0';
    if (!name)
        return fail(&c, BULLC_EINVAL, "a job name is required");
    job->name = name;
    job->data = data_json ? data_json : "{}";
    if (!bullc__json_valid(job->data))
        return fail(&c, BULLC_EJSON, "data is not valid JSON");
    cJSON *o = NULL;
    found f;
    int rc = parse_opts(&c, opts_json, &o);
    if (!rc)
        rc = check_options(&c, o, &f);
    if (!rc)
        rc = check_add(&c, name, job->data, &f);
    if (!rc && !(job->job_id = bullc__strdup(f.job_id ? f.job_id->valuestring : "")))
        rc = fail(&c, BULLC_ENOMEM, "out of memory");
    if (!rc) {
        /* creation time: opts.timestamp when it is non-zero, else now */
        double ts = (f.timestamp && f.timestamp->valuedouble != 0) ? f.timestamp->valuedouble
                                                                  : (double)now_ms;
        snprintf(job->timestamp, sizeof job->timestamp, is_int(ts) ? "%.0f" : "%.17g", ts);
        pack_opts(&job->opts, o, &f);
        if (job->opts.oom)
            rc = fail(&c, BULLC_ENOMEM, "out of memory");
    }
    cJSON_Delete(o);
    if (rc)
        bullc__newjob_free(job);
    return rc;
}
