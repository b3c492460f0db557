/* bull_calls.c - what a handler may do to its running job under Bull (docs/bull.md §4.8):
 * report progress, add log lines, replace its data, move itself to delayed. Each runs one
 * script and writes what Node Bull's Job methods write. Bull has no flows, no
 * ignored-failure lists and no worker-side rate-limit call: those stay NULL in the table. */
#include "bull.h"
#include "proto/shared/shared.h"
#include "util/js.h"
#include "util/json.h"
#include "util/time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a script whose reply is an integer; -1 and the lock codes become BULLC_E* codes. */
static int int_call(bullc__proto *p, bullc__link *link, bullc__cmd *cmd, long long *out)
{
    int rc = bullc__proto_int_call(&p->log, link, cmd, out);
    return rc == 0 && *out < 0 ? bullc__bull_code(*out) : rc;
}

int bullc__bull_update_progress(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                                const char *json)
{
    char *job_key = bullc__bull_job_key(&p->keys, job->id);
    bullc__buf ev;
    bullc__buf_init(&ev);
    bullc__buf_puts(&ev, "{\"jobId\":");
    bullc__json_append_string(&ev, job->id, strlen(job->id));
    bullc__buf_printf(&ev, ",\"progress\":%s}", json);
    int rc = BULLC_ENOMEM;
    if (job_key && !ev.oom) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bull_updateProgress(&cmd, &p->keys, job_key, json, ev.data);
        long long code = 0;
        rc = int_call(p, link, &cmd, &code);
    }
    bullc__buf_free(&ev);
    free(job_key);
    return rc;
}

int bullc__bull_add_log(bullc__proto *p, bullc__link *link, bullc_job_t *job, const char *text)
{
    char *job_key = bullc__bull_job_key(&p->keys, job->id);
    bullc__buf logs;
    bullc__buf_init(&logs);
    bullc__buf_printf(&logs, "%s:logs", job_key ? job_key : "");
    int rc = BULLC_ENOMEM;
    if (job_key && !logs.oom) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bull_addLog(&cmd, job_key, logs.data, text);
        long long lines = 0;
        rc = int_call(p, link, &cmd, &lines);
    }
    bullc__buf_free(&logs);
    free(job_key);
    return rc;
}

int bullc__bull_update_data(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                            const char *json)
{
    /* copy first, so that a success in Redis is always mirrored in the job */
    char *copy = bullc__strdup(json);
    char *job_key = bullc__bull_job_key(&p->keys, job->id);
    int rc = BULLC_ENOMEM;
    if (copy && job_key) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bull_updateData(&cmd, job_key, json);
        long long code = 0;
        rc = int_call(p, link, &cmd, &code);
    }
    free(job_key);
    if (rc != 0) {
        free(copy);
        return rc;
    }
    return bullc__job_swap_data(job, copy);
}

/* Node Bull's job.moveToDelayed(ts): no attempt counted; a time not after 0 means "due now". */
int bullc__bull_move_to_delayed(bullc__proto *p, bullc__link *link, bullc_job_t *job,
                                long long ts_ms)
{
    char *job_key = bullc__bull_job_key(&p->keys, job->id);
    bullc__buf score;
    bullc__buf_init(&score);
    double ts = ts_ms > 0 ? (double)ts_ms : 0;
    bullc__js_number(&score, ts > 0 ? ts * 4096.0 + bullc__bull_id_low_bits(job->id) : 0);
    int rc = BULLC_ENOMEM;
    if (job_key && !score.oom) {
        bullc__cmd cmd;
        bullc__cmd_init(&cmd);
        bullc__bull_moveToDelayed(&cmd, &p->keys, job_key, score.data, job->id, p->token, "", 0);
        long long code = 0;
        rc = int_call(p, link, &cmd, &code);
    }
    bullc__buf_free(&score);
    free(job_key);
    if (rc == 0)
        bullc__bull_note_due(p, ts_ms);
    return rc == 0 ? BULLC_EMOVED : rc;
}
