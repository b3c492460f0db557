/* shared_admin.c - what both protocols' queue administration (proto/bullmq/bmq_admin*.c,
 * proto/bull/bull_admin*.c) shares: error text, one call with its error reply turned into a
 * code, string-list replies, CLIENT LIST fields. */
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
