/* shared_add.c - the producer's add as both protocols send it (docs/bullmq.md §7, docs/bull.md
 * §3): every job checked first, then one pipeline of add calls, each answering the job's id. */
#include "proto/shared/shared.h"
#include "util/sized.h"
#include "util/time.h"

#include <stdio.h>
#include <stdlib.h>

/* The job id from an add reply. */
static int add_reply(const bullc__reply *r, size_t i, size_t n, char **id, char *err,
                     size_t errlen)
{
    char where[32] = "";
    if (n > 1)
        snprintf(where, sizeof where, "job %zu: ", i);
    if (r->type == BULLC__R_ERROR) {
        snprintf(err, errlen, "%saddJob: %s", where, r->str);
        return BULLC_ESCRIPT;
    }
    if (r->type != BULLC__R_STRING || r->len == 0) {
        snprintf(err, errlen, "%saddJob: unexpected reply (type %d)", where, (int)r->type);
        return BULLC_EPROTO;
    }
    if (id && !(*id = bullc__strndup(r->str, r->len))) {
        snprintf(err, errlen, "out of memory");
        return BULLC_ENOMEM;
    }
    return 0;
}

/* Sends the add calls of n prepared jobs as one pipeline; ids[i] gets job i's id. */
static int add_prepared(bullc__proto *p, bullc__link *link, const bullc__adder *a,
                        const char *prep, size_t n, char **ids, char *err, size_t errlen)
{
    bullc__cmd *cmds = calloc(n, sizeof *cmds);
    bullc__cmd **ptrs = calloc(n, sizeof *ptrs);
    bullc__reply **replies = calloc(n, sizeof *replies);
    int rc = cmds && ptrs && replies ? 0 : BULLC_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        bullc__cmd_init(&cmds[i]);
        a->build(&cmds[i], p, prep + i * a->size);
        ptrs[i] = &cmds[i];
        if (bullc__cmd_oom(&cmds[i]))
            rc = BULLC_ENOMEM;
    }
    if (rc == BULLC_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (!rc)
        rc = link->exec(link, ptrs, n, replies, err, errlen);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    for (size_t i = 0; i < n && !rc; i++)
        rc = add_reply(replies[i], i, n, ids ? &ids[i] : NULL, err, errlen);
    for (size_t i = 0; cmds && i < n; i++) {
        bullc__cmd_free(&cmds[i]);
        if (replies)
            bullc__reply_free(replies[i]);
    }
    free(cmds);
    free(ptrs);
    free(replies);
    return rc;
}

int bullc__proto_add(bullc__proto *p, bullc__link *link, const bullc__adder *a,
                     const bullc_new_job_t *jobs, size_t n, size_t stride, char **ids, char *err,
                     size_t errlen)
{
    char *prep = calloc(n, a->size);
    if (!prep) {
        snprintf(err, errlen, "out of memory");
        return BULLC_ENOMEM;
    }
    int rc = 0;
    size_t made = 0;
    long long now = bullc__now_ms();
    for (size_t i = 0; i < n && !rc; i++) {
        bullc_new_job_t j = {0};
        char why[400] = "a field this library does not know is set";
        rc = bullc__sized_read(&j, sizeof j, (const char *)jobs + i * stride, stride) != 0
                 ? BULLC_EINVAL
                 : a->prepare(p, prep + i * a->size, &j, now, why, sizeof why);
        if (rc && n > 1)
            snprintf(err, errlen, "job %zu: %s", i, why);
        else if (rc)
            snprintf(err, errlen, "%s", why);
        else
            made++;
    }
    if (!rc)
        rc = add_prepared(p, link, a, prep, n, ids, err, errlen);
    if (rc && ids)
        for (size_t i = 0; i < n; i++) {
            free(ids[i]);
            ids[i] = NULL;
        }
    for (size_t i = 0; i < made; i++)
        a->release(prep + i * a->size);
    free(prep);
    return rc;
}
