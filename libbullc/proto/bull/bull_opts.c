/* bull_opts.c - a new job as Node Bull's Queue.add stores it (docs/bull.md §3): the options
 * completed with Bull's defaults and written back in JavaScript's key order and number format,
 * and the values the addJob script takes. */
#include "bull.h"
#include "util/js.h"
#include "util/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends v as JSON.stringify writes it. 0, or BULLC_ENOMEM. */
static int stringify(bullc__buf *b, const cJSON *v, int depth)
{
    if (depth > 64)
        return BULLC_EINVAL;
    if (cJSON_IsObject(v)) {
        bullc__js_prop *props;
        size_t n;
        if (bullc__js_props(v, &props, &n) != 0)
            return BULLC_ENOMEM;
        bullc__buf_puts(b, "{");
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i)
                bullc__buf_puts(b, ",");
            bullc__json_append_string(b, props[i].key, strlen(props[i].key));
            bullc__buf_puts(b, ":");
            rc = stringify(b, props[i].value, depth + 1);
        }
        free(props);
        bullc__buf_puts(b, "}");
        return rc;
    }
    if (cJSON_IsArray(v)) {
        bullc__buf_puts(b, "[");
        int rc = 0;
        for (const cJSON *c = v->child; c && rc == 0; c = c->next) {
            rc = stringify(b, c, depth + 1);
            if (c->next)
                bullc__buf_puts(b, ",");
        }
        bullc__buf_puts(b, "]");
        return rc;
    }
    if (cJSON_IsString(v))
        bullc__json_append_string(b, v->valuestring, strlen(v->valuestring));
    else if (cJSON_IsNumber(v))
        bullc__js_number(b, v->valuedouble);
    else
        bullc__buf_puts(b, cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
    return 0;
}

/* Number(v) for the JSON values an option may hold. */
static double js_to_number(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            return 0;
        char *end;
        double d = strtod(s, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
            end++;
        return *end || end == s ? NAN : d;
    }
    return NAN;
}

/* parseInt(v): the leading decimal integer of v's text, NaN when none. */
static double js_parse_int(const cJSON *v)
{
    char buf[64];
    const char *s = buf;
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return NAN;
        if (fabs(v->valuedouble) >= 1e21 || (v->valuedouble != 0 && fabs(v->valuedouble) < 1e-6))
            return NAN; /* its text is in exponent form; not worth copying JS here */
        return trunc(v->valuedouble);
    }
    if (cJSON_IsString(v))
        s = v->valuestring;
    else
        return NAN;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    char *end;
    double d = strtod(s, &end); /* only its integer part counts */
    if (end == s || !isfinite(d))
        return NAN;
    return trunc(d);
}

/* A number as JSON.stringify writes it (NaN as null). */
static void put_number(bullc__buf *b, double d) { bullc__js_number(b, d); }

/* The member `key` of the stored opts: the caller's value with Bull's treatment. */
static void put_member(bullc__buf *b, const char *key, const cJSON *v)
{
    if (strcmp(key, "attempts") == 0) {
        put_number(b, js_parse_int(v));
    } else if (strcmp(key, "delay") == 0) {
        put_number(b, js_to_number(v));
    } else if (strcmp(key, "backoff") == 0 && cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        bullc__buf_puts(b, "{\"type\":\"fixed\",\"delay\":");
        put_number(b, v->valuedouble);
        bullc__buf_puts(b, "}");
    } else {
        stringify(b, v, 1);
    }
}

/* Writes the stored opts: the caller's members in JavaScript order, then the defaults Bull
 * appends (attempts 1, delay 0, the creation time). */
static int write_opts(bullc__buf *out, const cJSON *o, const char *now_text)
{
    bullc__js_prop *props;
    size_t n;
    if (bullc__js_props(o, &props, &n) != 0)
        return BULLC_ENOMEM;
    int has_attempts = 0, has_delay = 0, has_ts = 0, first = 1;
    bullc__buf_puts(out, "{");
    for (size_t i = 0; i < n; i++) {
        const char *k = props[i].key;
        const cJSON *v = props[i].value;
        if (strcmp(k, "backoff") == 0 && !cJSON_IsNumber(v) && !bullc__js_truthy(v))
            continue; /* Bull leaves it undefined: not written */
        has_attempts |= strcmp(k, "attempts") == 0;
        has_delay |= strcmp(k, "delay") == 0;
        has_ts |= strcmp(k, "timestamp") == 0;
        bullc__buf_puts(out, first ? "" : ",");
        first = 0;
        bullc__json_append_string(out, k, strlen(k));
        bullc__buf_puts(out, ":");
        put_member(out, k, v);
    }
    free(props);
    bullc__buf_printf(out, "%s%s%s%s%s%s%s", has_attempts ? "" : first ? "" : ",",
                      has_attempts ? "" : "\"attempts\":1", has_delay ? "" : ",",
                      has_delay ? "" : "\"delay\":0", has_ts ? "" : ",",
                      has_ts ? "" : "\"timestamp\":", has_ts ? "" : now_text);
    bullc__buf_puts(out, "}");
    return out->oom ? BULLC_ENOMEM : 0;
}

/* A JS number's text into a fixed buffer. */
static void number_text(char *dst, size_t n, double d)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__js_number(&b, d);
    snprintf(dst, n, "%s", b.data && !b.oom ? b.data : "0");
    bullc__buf_free(&b);
}

/* debounce {id, ttl?}: the id as JavaScript prints it, the TTL in ms ("" when absent). */
static int read_debounce(bullc__bull_newjob *job, const cJSON *d)
{
    const cJSON *id = cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "id") : NULL;
    const cJSON *ttl = cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "ttl") : NULL;
    char text[40] = "";
    if (cJSON_IsNumber(id) && id->valuedouble != 0)
        number_text(text, sizeof text, id->valuedouble);
    job->deid = bullc__strdup(cJSON_IsString(id) ? id->valuestring : text);
    job->de_ttl[0] = '\0';
    if (cJSON_IsNumber(ttl))
        number_text(job->de_ttl, sizeof job->de_ttl, ttl->valuedouble);
    return job->deid ? 0 : BULLC_ENOMEM;
}

/* The values the addJob script takes besides the opts text. */
static int read_values(bullc__bull_newjob *job, const cJSON *o, long long now, char *err,
                       size_t errlen)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(o, "delay");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "priority");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "jobId");
    if ((ts && !cJSON_IsNumber(ts)) || (pr && !cJSON_IsNumber(pr) && bullc__js_truthy(pr)) ||
        (id && !cJSON_IsString(id) && !cJSON_IsNumber(id))) {
        snprintf(err, errlen, "timestamp and priority must be numbers, jobId a string or number");
        return BULLC_EINVAL;
    }
    double t = ts ? ts->valuedouble : (double)now;
    double d = dl ? js_to_number(dl) : 0;
    if (isnan(d)) {
        snprintf(err, errlen, "delay must be a number");
        return BULLC_EINVAL;
    }
    d = d < 0 ? 0 : d;
    number_text(job->timestamp, sizeof job->timestamp, t);
    number_text(job->delay, sizeof job->delay, d);
    number_text(job->due, sizeof job->due, d != 0 ? t + d : 0);
    number_text(job->priority, sizeof job->priority, cJSON_IsNumber(pr) ? pr->valuedouble : 0);
    if (cJSON_IsNumber(pr) && pr->valuedouble == 0)
        snprintf(job->priority, sizeof job->priority, "0"); /* -0 || 0 is 0 */
    if (cJSON_IsString(id)) {
        job->custom_id = bullc__strdup(id->valuestring);
    } else {
        char text[40] = "";
        if (id)
            number_text(text, sizeof text, id->valuedouble);
        job->custom_id = bullc__strdup(text);
    }
    job->push = bullc__js_truthy(cJSON_GetObjectItemCaseSensitive(o, "lifo")) ? "RPUSH" : "LPUSH";
    return job->custom_id ? read_debounce(job, cJSON_GetObjectItemCaseSensitive(o, "debounce"))
                          : BULLC_ENOMEM;
}

int bullc__bull_newjob_from(bullc__bull_newjob *job, const char *name, const char *data_json,
                            const cJSON *opts, long long now_ms, char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    bullc__buf_init(&job->opts);
    job->name = name ? name : "__default__";
    job->data = data_json ? data_json : "{}";
    if (!bullc__json_valid(job->data)) {
        snprintf(err, errlen, "data is not valid JSON");
        return BULLC_EJSON;
    }
    int rc = read_values(job, opts, now_ms, err, errlen);
    if (rc == 0 && (rc = write_opts(&job->opts, opts, job->timestamp)) != 0)
        snprintf(err, errlen, "out of memory");
    if (rc != 0)
        bullc__bull_newjob_free(job);
    return rc;
}

void bullc__bull_newjob_free(bullc__bull_newjob *job)
{
    free(job->custom_id);
    free(job->deid);
    free(job->repeat_key);
    job->custom_id = job->deid = job->repeat_key = NULL;
    bullc__buf_free(&job->opts);
}
