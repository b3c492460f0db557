/* shared_admin.c - what both protocols' queue administration (proto/bullmq/bmq_admin*.c,
 * proto/bull/bull_admin*.c) shares: error text, one call with its error reply turned into a
 * code, string-list replies, CLIENT LIST fields, reading a job's hash and its logs. */
#include "shared.h"

#include <cjson/cJSON.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bullc__adm_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

int bullc__adm_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                    size_t errlen)
{
    *r = NULL;
    int rc = bullc__cmd_oom(cmd) ? bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory")
                                 : bullc__link_call(link, cmd, r, err, errlen);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    if (rc == 0 && (*r)->type == BULLC__R_ERROR) {
        char tmp[64];
        rc = bullc__adm_err(err, errlen, BULLC_ESCRIPT, "%s: %s",
                            bullc__cmd_name(cmd, tmp, sizeof tmp), (*r)->str);
        bullc__reply_free(*r);
        *r = NULL;
    }
    bullc__cmd_free(cmd);
    return rc;
}

int bullc__adm_int(bullc__link *link, bullc__cmd *cmd, long long *out, char *err, size_t errlen)
{
    bullc__reply *r;
    int rc = bullc__adm_call(link, cmd, &r, err, errlen);
    if (rc == 0 && r->type != BULLC__R_INTEGER)
        rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply");
    if (rc == 0)
        *out = r->integer;
    bullc__reply_free(r);
    return rc;
}

int bullc__adm_strings(const bullc__reply *r, bullc__admin *req, char *err, size_t errlen)
{
    if (r->type != BULLC__R_ARRAY)
        return bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply");
    req->items = calloc(r->elements + 1, sizeof *req->items);
    if (!req->items)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->elements; i++) {
        const bullc__reply *e = r->element[i];
        if (e->type != BULLC__R_STRING)
            return bullc__adm_err(err, errlen, BULLC_EPROTO, "unexpected reply");
        if (!(req->items[req->nitems++] = bullc__strndup(e->str, e->len)))
            return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    }
    return 0;
}

void bullc__adm_free_items(bullc__admin *req)
{
    for (size_t i = 0; req->items && i < req->nitems; i++)
        free(req->items[i]);
    free(req->items);
    req->items = NULL;
    req->nitems = 0;
}

int bullc__adm_append(bullc__admin *dst, bullc__admin *src, char *err, size_t errlen)
{
    char **v = realloc(dst->items, (dst->nitems + src->nitems + 1) * sizeof *v);
    if (!v)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    dst->items = v;
    for (size_t i = 0; i < src->nitems; i++)
        v[dst->nitems++] = src->items[i];
    v[dst->nitems] = NULL;
    src->nitems = 0;
    return 0;
}

cJSON *bullc__adm_client_field(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n < len; i++) {
        if ((i == 0 || line[i - 1] == ' ') && !strncmp(line + i, name, n) && line[i + n] == '=') {
            const char *v = line + i + n + 1, *end = memchr(v, ' ', len - (i + n + 1));
            size_t vlen = end ? (size_t)(end - v) : len - (i + n + 1);
            char *s = bullc__strndup(v, vlen);
            cJSON *j = s ? cJSON_CreateString(s) : NULL;
            free(s);
            return j;
        }
    }
    return cJSON_CreateString("");
}

int bullc__adm_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bullc__adm_split_base(const char *base, size_t base_len, size_t *plen, const char **queue,
                           size_t *qlen)
{
    size_t end = base_len - 1, start = end;
    while (start > 0 && base[start - 1] != ':')
        start--;
    *queue = base + start;
    *qlen = end - start;
    *plen = start ? start - 1 : 0;
}

int bullc__adm_push_name(bullc__admin *req, const char *s, size_t n)
{
    char *c = bullc__strndup(s, n);
    char **a = c ? realloc(req->items, (req->nitems + 2) * sizeof *a) : NULL;
    if (!a) {
        free(c);
        return BULLC_ENOMEM;
    }
    req->items = a;
    a[req->nitems++] = c;
    a[req->nitems] = NULL;
    return 0;
}

void bullc__adm_sort_unique(bullc__admin *req)
{
    if (!req->nitems)
        return;
    qsort(req->items, req->nitems, sizeof *req->items, bullc__adm_cmp_str);
    size_t n = 1;
    for (size_t i = 1; i < req->nitems; i++) {
        if (strcmp(req->items[i], req->items[n - 1]))
            req->items[n++] = req->items[i];
        else
            free(req->items[i]);
    }
    req->nitems = n;
    req->items[n] = NULL;
}

/* One SCAN page's keys to fn. */
static int visit_keys(const bullc__reply *keys, size_t plen, bullc__adm_key_fn fn, void *ctx)
{
    for (size_t i = 0; i < keys->elements; i++) {
        const bullc__reply *k = keys->element[i];
        if (k->len <= plen + 1)
            continue;
        const char *name = k->str + plen + 1, *end = k->str + k->len;
        const char *colon = memchr(name, ':', (size_t)(end - name));
        if (colon && colon != name && fn(ctx, name, (size_t)(colon - name), colon) != 0)
            return BULLC_ENOMEM;
    }
    return 0;
}

int bullc__adm_scan_keys(bullc__link *link, const char *base, size_t plen, bullc__adm_key_fn fn,
                         void *ctx, char *err, size_t errlen)
{
    bullc__buf pat;
    bullc__buf_init(&pat);
    for (size_t i = 0; i < plen; i++) { /* the prefix literally, then any queue */
        if (strchr("*?[]\\", base[i]))
            bullc__buf_append(&pat, "\\", 1);
        bullc__buf_append(&pat, &base[i], 1);
    }
    bullc__buf_puts(&pat, ":*");
    char cursor[32] = "0";
    int rc = pat.oom ? bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory") : 0;
    do {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__cmd_plain(&cmd, 6, "SCAN", cursor, "MATCH", pat.data, "COUNT", "1000");
        bullc__reply *r = NULL;
        if (rc || (rc = bullc__adm_call(link, &cmd, &r, err, errlen)) != 0)
            break;
        if (r->type != BULLC__R_ARRAY || r->elements != 2 || r->element[0]->len >= sizeof cursor ||
            r->element[1]->type != BULLC__R_ARRAY)
            rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "SCAN: unexpected reply");
        else if (visit_keys(r->element[1], plen, fn, ctx) != 0)
            rc = bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
        if (rc == 0)
            memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
        bullc__reply_free(r);
    } while (rc == 0 && strcmp(cursor, "0"));
    bullc__buf_free(&pat);
    return rc;
}

int bullc__adm_job_hash(bullc__link *link, const char *key, const char *id, bullc__reply **h,
                        char *err, size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_plain(&cmd, 2, "HGETALL", key);
    int rc = bullc__adm_call(link, &cmd, h, err, errlen);
    if (rc)
        return rc;
    if ((*h)->type != BULLC__R_ARRAY)
        rc = bullc__adm_err(err, errlen, BULLC_EPROTO, "HGETALL: unexpected reply");
    else if ((*h)->elements == 0)
        rc = bullc__adm_err(err, errlen, BULLC_ENOJOB, "job %s does not exist", id);
    if (rc) {
        bullc__reply_free(*h);
        *h = NULL;
    }
    return rc;
}

int bullc__adm_read_job(bullc__proto *p, bullc__link *link, char *key, bullc__admin *req,
                        int (*get_state)(bullc__proto *p, bullc__link *link, const char *id,
                                         const char **state, char *err, size_t errlen),
                        int (*to_json)(const bullc__reply *h, const char *id, const char *state,
                                       char **out),
                        char *err, size_t errlen)
{
    if (!key)
        return bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__reply *h;
    int rc = bullc__adm_job_hash(link, key, req->id, &h, err, errlen);
    free(key);
    if (rc)
        return rc;
    const char *state = NULL;
    rc = get_state(p, link, req->id, &state, err, errlen);
    if (rc == 0 && to_json(h, req->id, state, &req->json) != 0)
        rc = bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    bullc__reply_free(h);
    return rc;
}

const char *bullc__adm_field(const bullc__reply *h, const char *name)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (!strcmp(h->element[i]->str, name))
            return h->element[i + 1]->str;
    return NULL;
}

cJSON *bullc__adm_json_or(const char *text, cJSON *dflt)
{
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    if (v) {
        cJSON_Delete(dflt);
        return v;
    }
    return dflt;
}

cJSON *bullc__adm_int_or_null(const char *text)
{
    char *end;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || end == text)
        return cJSON_CreateNull();
    return cJSON_CreateNumber((double)v);
}

int bullc__adm_job_logs(bullc__link *link, const char *key, const char *logs_key,
                        bullc__admin *req, char *err, size_t errlen)
{
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__reply *r = NULL;
    int rc = key && logs_key ? 0 : bullc__adm_err(err, errlen, BULLC_ENOMEM, "out of memory");
    if (rc == 0) {
        bullc__cmd_plain(&cmd, 2, "EXISTS", key);
        rc = bullc__adm_call(link, &cmd, &r, err, errlen);
    }
    if (rc == 0 && (r->type != BULLC__R_INTEGER || r->integer == 0))
        rc = bullc__adm_err(err, errlen, BULLC_ENOJOB, "job %s does not exist", req->id);
    bullc__reply_free(r);
    r = NULL;
    if (rc == 0) {
        bullc__cmd_init(&cmd);
        bullc__cmd_plain(&cmd, 4, "LRANGE", logs_key, "0", "-1");
        if ((rc = bullc__adm_call(link, &cmd, &r, err, errlen)) == 0)
            rc = bullc__adm_strings(r, req, err, errlen);
    }
    bullc__reply_free(r);
    bullc__cmd_free(&cmd);
    return rc;
}
