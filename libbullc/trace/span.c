/* span.c - W3C trace context and spans: ids, attributes, events, and each finished span's OTLP
 * JSON text (libbullc/trace/README.md), queued for export by export.c. */
#include "trace/trace.h"
#include "util/json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bullc__span {
    bullc__tracer *t;
    unsigned char trace_id[16], span_id[8], parent_id[8];
    int has_parent;
    int sampled;
    int kind;
    int error;
    int stand_in; /* bullc__span_adopt's: never exported */
    char *name;
    char *tracestate;
    char *status_msg;
    long long start_ns;
    bullc__buf attrs;  /* the attribute objects, comma-separated */
    bullc__buf events; /* the event objects, comma-separated */
    char traceparent[56];
};

static const char hexdig[] = "0123456789abcdef";

static void to_hex(char *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* W3C: lowercase only */
}

static int from_hex(unsigned char *out, const char *s, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
        any |= out[i];
    }
    return any ? 0 : -1; /* all-zero ids are invalid */
}

void bullc__trace_ctx_clear(bullc__trace_ctx *c)
{
    free(c->tracestate);
    memset(c, 0, sizeof *c);
}

int bullc__traceparent_parse(const char *s, bullc__trace_ctx *out)
{
    /* version-traceid-spanid-flags: 2+1+32+1+16+1+2 = 55 characters */
    if (!s || strlen(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return -1;
    int v1 = hexval(s[0]), v2 = hexval(s[1]);
    if (v1 < 0 || v2 < 0 || (v1 == 15 && v2 == 15))
        return -1;
    /* version 00 is exactly 55 characters; a later version may append "-..." */
    if ((v1 == 0 && v2 == 0 && s[55] != '\0') || (s[55] != '\0' && s[55] != '-'))
        return -1;
    bullc__trace_ctx c;
    memset(&c, 0, sizeof c);
    unsigned char fl;
    if (from_hex(c.trace_id, s + 3, 16) || from_hex(c.span_id, s + 36, 8))
        return -1;
    int f1 = hexval(s[53]), f2 = hexval(s[54]);
    if (f1 < 0 || f2 < 0)
        return -1;
    fl = (unsigned char)(f1 << 4 | f2);
    c.flags = fl;
    free(out->tracestate);
    *out = c;
    return 0;
}

int bullc__trace_carrier_parse(const char *json, bullc__trace_ctx *out)
{
    if (!json)
        return -1;
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return -1;
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(o, "traceparent");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "tracestate");
    bullc__trace_ctx c;
    memset(&c, 0, sizeof c);
    int rc = -1;
    if (cJSON_IsString(tp) && bullc__traceparent_parse(tp->valuestring, &c) == 0) {
        rc = 0;
        if (cJSON_IsString(ts) && ts->valuestring[0] && strlen(ts->valuestring) <= 512)
            c.tracestate = bullc__strdup(ts->valuestring); /* NULL on OOM: dropped */
        bullc__trace_ctx_clear(out);
        *out = c;
    }
    cJSON_Delete(o);
    return rc;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void set_traceparent(bullc__span *s)
{
    char tid[33], sid[17];
    to_hex(tid, s->trace_id, 16);
    to_hex(sid, s->span_id, 8);
    memcpy(s->traceparent, "00-", 3);
    memcpy(s->traceparent + 3, tid, 32);
    s->traceparent[35] = '-';
    memcpy(s->traceparent + 36, sid, 16);
    s->traceparent[52] = '-';
    s->traceparent[53] = '0';
    s->traceparent[54] = s->sampled ? '1' : '0';
    s->traceparent[55] = '\0';
}

bullc__span *bullc__span_start(bullc__tracer *t, const char *name, int kind,
                               const bullc__span *parent, const bullc__trace_ctx *remote)
{
    bullc__span *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->kind = kind;
    s->start_ns = now_ns();
    bullc__buf_init(&s->attrs);
    bullc__buf_init(&s->events);
    const char *state = NULL;
    if (parent) {
        memcpy(s->trace_id, parent->trace_id, 16);
        memcpy(s->parent_id, parent->span_id, 8);
        s->has_parent = 1;
        state = parent->tracestate;
        s->sampled = parent->sampled; /* a local parent decided for its trace */
    } else if (remote) {
        memcpy(s->trace_id, remote->trace_id, 16);
        memcpy(s->parent_id, remote->span_id, 8);
        s->has_parent = 1;
        state = remote->tracestate;
        s->sampled = bullc__tracer_sample(t, s->trace_id, 1, remote->flags & 1);
    } else {
        bullc__tracer_random(t, s->trace_id, 16);
        s->sampled = bullc__tracer_sample(t, s->trace_id, 0, 0);
    }
    bullc__tracer_random(t, s->span_id, 8);
    s->name = bullc__strdup(name);
    s->tracestate = state ? bullc__strdup(state) : NULL;
    if (!s->name || (state && !s->tracestate)) {
        bullc__span_discard(s);
        return NULL;
    }
    set_traceparent(s);
    return s;
}

bullc__span *bullc__span_adopt(bullc__tracer *t, const bullc__trace_ctx *ctx)
{
    bullc__span *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->stand_in = 1;
    s->kind = BULLC__SPAN_INTERNAL;
    memcpy(s->trace_id, ctx->trace_id, 16);
    memcpy(s->span_id, ctx->span_id, 8);
    s->sampled = ctx->flags & 1;
    bullc__buf_init(&s->attrs);
    bullc__buf_init(&s->events);
    s->name = bullc__strdup("");
    s->tracestate = ctx->tracestate ? bullc__strdup(ctx->tracestate) : NULL;
    if (!s->name || (ctx->tracestate && !s->tracestate)) {
        bullc__span_discard(s);
        return NULL;
    }
    set_traceparent(s);
    return s;
}

/* One attribute object, after a comma when `comma`. */
static void attr_head(bullc__buf *b, const char *key, int comma)
{
    if (comma)
        bullc__buf_puts(b, ",");
    bullc__buf_puts(b, "{\"key\":");
    bullc__json_append_string(b, key, strlen(key));
    bullc__buf_puts(b, ",\"value\":");
}

static void put_str_attr(bullc__buf *b, const char *key, const char *value, int comma)
{
    attr_head(b, key, comma);
    bullc__buf_puts(b, "{\"stringValue\":");
    bullc__json_append_string(b, value, strlen(value));
    bullc__buf_puts(b, "}}");
}

void bullc__span_attr_str(bullc__span *s, const char *key, const char *value)
{
    if (s && s->sampled && key && value)
        put_str_attr(&s->attrs, key, value, s->attrs.len > 0);
}

void bullc__span_attr_int(bullc__span *s, const char *key, long long value)
{
    if (!s || !s->sampled || !key)
        return;
    attr_head(&s->attrs, key, s->attrs.len > 0);
    bullc__buf_printf(&s->attrs, "{\"intValue\":\"%lld\"}}", value);
}

void bullc__span_event(bullc__span *s, const char *name, const char *key, const char *value)
{
    if (!s || !s->sampled || !name)
        return;
    bullc__buf *b = &s->events;
    if (b->len)
        bullc__buf_puts(b, ",");
    bullc__buf_printf(b, "{\"timeUnixNano\":\"%lld\",\"name\":", now_ns());
    bullc__json_append_string(b, name, strlen(name));
    bullc__buf_puts(b, ",\"attributes\":[");
    if (key && value)
        put_str_attr(b, key, value, 0);
    bullc__buf_puts(b, "]}");
}

void bullc__span_error(bullc__span *s, const char *message)
{
    if (!s || !s->sampled)
        return;
    s->error = 1;
    free(s->status_msg);
    s->status_msg = bullc__strdup(message ? message : "");
}

void bullc__span_rename(bullc__span *s, const char *name)
{
    char *n = s ? bullc__strdup(name) : NULL;
    if (!n)
        return; /* keeps the old name */
    free(s->name);
    s->name = n;
}

const char *bullc__span_traceparent(const bullc__span *s) { return s ? s->traceparent : NULL; }

const char *bullc__span_tracestate(const bullc__span *s) { return s ? s->tracestate : NULL; }

char *bullc__span_carrier(const bullc__span *s)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "{\"traceparent\":\"%s\"", s->traceparent);
    if (s->tracestate) {
        bullc__buf_puts(&b, ",\"tracestate\":");
        bullc__json_append_string(&b, s->tracestate, strlen(s->tracestate));
    }
    bullc__buf_puts(&b, "}");
    return bullc__buf_take(&b);
}

/* The span as one OTLP JSON span object. */
static char *span_json(const bullc__span *s, long long end_ns)
{
    char tid[33], sid[17], pid[17];
    to_hex(tid, s->trace_id, 16);
    to_hex(sid, s->span_id, 8);
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "{\"traceId\":\"%s\",\"spanId\":\"%s\",", tid, sid);
    if (s->has_parent) {
        to_hex(pid, s->parent_id, 8);
        bullc__buf_printf(&b, "\"parentSpanId\":\"%s\",", pid);
    }
    if (s->tracestate) {
        bullc__buf_puts(&b, "\"traceState\":");
        bullc__json_append_string(&b, s->tracestate, strlen(s->tracestate));
        bullc__buf_puts(&b, ",");
    }
    bullc__buf_puts(&b, "\"name\":");
    bullc__json_append_string(&b, s->name, strlen(s->name));
    bullc__buf_printf(&b, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\","
                      "\"attributes\":[%s],\"events\":[%s],\"status\":{",
                      s->kind, s->start_ns, end_ns, s->attrs.data ? s->attrs.data : "",
                      s->events.data ? s->events.data : "");
    if (s->error) {
        bullc__buf_puts(&b, "\"code\":2,\"message\":");
        bullc__json_append_string(&b, s->status_msg ? s->status_msg : "",
                                  s->status_msg ? strlen(s->status_msg) : 0);
    }
    bullc__buf_puts(&b, "}}");
    if (s->attrs.oom || s->events.oom)
        b.oom = 1;
    return bullc__buf_take(&b);
}

void bullc__span_end(bullc__span *s)
{
    if (!s)
        return;
    if (s->sampled && !s->stand_in) {
        long long end = now_ns();
        char *json = span_json(s, end < s->start_ns ? s->start_ns : end);
        bullc__tracer_enqueue(s->t, json); /* NULL (OOM) is counted as dropped */
    }
    bullc__span_discard(s);
}

void bullc__span_discard(bullc__span *s)
{
    if (!s)
        return;
    bullc__buf_free(&s->attrs);
    bullc__buf_free(&s->events);
    free(s->name);
    free(s->tracestate);
    free(s->status_msg);
    free(s);
}
