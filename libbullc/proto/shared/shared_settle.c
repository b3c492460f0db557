/* shared_settle.c - the parts of settling a job and of one exchange that do not depend on a
 * data model: the stacktrace a failure stores, the first checks of a settle's reply, a failed
 * round trip, and the command array an exchange sends. */
#include "proto/shared/shared.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bullc__proto_stacktrace(bullc_job_t *job, const char *entry, long long limit)
{
    const char *prev = bullc_job_field(job, "stacktrace");
    cJSON *arr = prev ? cJSON_Parse(prev) : NULL;
    if (arr && !cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        arr = NULL;
    }
    if (!arr && !(arr = cJSON_CreateArray()))
        return NULL;
    cJSON *s = cJSON_CreateString(entry);
    if (!s) {
        cJSON_Delete(arr);
        return NULL;
    }
    cJSON_AddItemToArray(arr, s);
    if (limit >= 0)
        while (cJSON_GetArraySize(arr) > limit)
            cJSON_DeleteItemFromArray(arr, 0);
    char *out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}

void *bullc__proto_settle_begin(bullc__settle *s, size_t size, const char *key_base,
                                size_t base_len)
{
    bullc__settle_base *b = s->priv;
    if (!b) {
        if (!(b = calloc(1, size)))
            return NULL;
        bullc__cmd_init(&b->cmd);
        bullc__buf_init(&b->opts);
        bullc__buf_init(&b->fields);
        s->priv = b;
    }
    free(b->job_key);
    free(b->reason);
    free(b->stack);
    b->job_key = b->reason = b->stack = NULL;
    bullc__cmd_reset(&b->cmd, NULL);
    bullc__buf_reset(&b->opts);
    bullc__buf_reset(&b->fields);
    s->rc = 0;
    s->next = NULL;
    memset(&s->hints, 0, sizeof s->hints);
    b->job_key = bullc__proto_job_key(key_base, base_len, s->job->id, NULL);
    return b->job_key ? b : NULL;
}

void bullc__proto_settle_free(bullc__settle *s)
{
    bullc__settle_base *b = s->priv;
    if (!b)
        return;
    bullc__cmd_free(&b->cmd);
    bullc__buf_free(&b->opts);
    bullc__buf_free(&b->fields);
    free(b->job_key);
    free(b->reason);
    free(b->stack);
    free(b);
    s->priv = NULL;
}

int bullc__proto_settle_failure(bullc__settle_base *b, bullc_job_t *job, const char *kind,
                                const char *reason, long long limit)
{
    bullc__buf entry;
    bullc__buf_init(&entry);
    bullc__buf_printf(&entry, "%s: %s", kind, reason);
    char *e = bullc__buf_take(&entry);
    b->stack = e ? bullc__proto_stacktrace(job, e, limit) : NULL;
    free(e);
    b->reason = bullc__strdup(reason);
    if (!b->stack || !b->reason)
        return BULLC_ENOMEM;
    b->value = b->reason;
    return 0;
}

int bullc__proto_settle_oom(const bullc__settle_base *b)
{
    return bullc__cmd_oom(&b->cmd) || b->opts.oom || b->fields.oom;
}

int bullc__proto_settle_failed(bullc__settle *s, const char *call, const bullc__reply *r)
{
    s->rc = 0;
    s->errstr[0] = '\0'; /* not an earlier attempt's transport failure */
    if (!r) {
        s->rc = BULLC_EPROTO;
        snprintf(s->errstr, sizeof s->errstr, "%s: no reply", call);
    } else if (r->type == BULLC__R_ERROR) {
        s->rc = BULLC_ESCRIPT;
        snprintf(s->errstr, sizeof s->errstr, "%s: %s", call, r->str);
    }
    return s->rc != 0;
}

int bullc__proto_xchg_failed(bullc__xchg *x, int rc, const char *err)
{
    x->nfetched = 0;
    x->rc = 0;
    x->err[0] = '\0';
    memset(&x->hints, 0, sizeof x->hints);
    if (rc == 0)
        return 0;
    for (size_t i = 0; i < x->nsettles; i++) {
        x->settles[i]->rc = rc;
        snprintf(x->settles[i]->errstr, sizeof x->settles[i]->errstr, "%s", err ? err : "");
    }
    x->rc = rc;
    return 1;
}

int bullc__proto_cmds_reserve(bullc__cmd ***cmds, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    bullc__cmd **c = realloc(*cmds, n * sizeof *c);
    if (!c)
        return BULLC_ENOMEM;
    *cmds = c;
    *cap = n;
    return 0;
}
