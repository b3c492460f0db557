/* calls.c - the calls a handler makes on its running job (bullc.h), carried out by the queue's
 * protocol through the combiner. Outside a running handler they return BULLC_EMISUSE. */
#include "engine/engine.h"
#include "engine/isolate.h"
#include "util/json.h"
#include "util/time.h"

/* The context of a job lent to a running handler, or NULL outside one. */
static bullc__run *running(const bullc_job_t *job) { return job ? job->run : NULL; }

/* Inside a handler process (isolate): each call goes to the worker, which makes it on the real
 * job (isolate_child.c). */
static int forwarded(const bullc__run *r) { return r && r->child; }

typedef int (*json_call)(bullc__proto *, bullc__link *, bullc_job_t *, const char *);

/* A call taking a JSON text: checked here, done by the protocol (NULL: not offered). */
static int call_json(bullc_job_t *job, const char *json, json_call fn)
{
    bullc__run *r = running(job);
    if (!r || !fn)
        return BULLC_EMISUSE;
    if (!json)
        return BULLC_EINVAL;
    if (!bullc__json_valid(json))
        return BULLC_EJSON;
    return fn(r->w->proto, r->link, job, json);
}

int bullc_job_update_progress(bullc_job_t *job, const char *json)
{
    bullc__run *r = running(job);
    if (forwarded(r))
        return bullc__iso_forward(r, BULLC__ISO_PROGRESS, 0, json, NULL);
    return call_json(job, json, r ? r->w->ops->update_progress : NULL);
}

int bullc_job_update_data(bullc_job_t *job, const char *json)
{
    bullc__run *r = running(job);
    if (forwarded(r)) { /* and this process's copy of the job takes the new data */
        int rc = bullc__iso_forward(r, BULLC__ISO_UPDATE_DATA, 0, json, NULL);
        if (rc != 0)
            return rc;
        char *copy = bullc__strdup(json);
        return copy ? bullc__job_swap_data(job, copy) : BULLC_ENOMEM;
    }
    return call_json(job, json, r ? r->w->ops->update_data : NULL);
}

int bullc_job_log(bullc_job_t *job, const char *text)
{
    bullc__run *r = running(job);
    if (forwarded(r))
        return bullc__iso_forward(r, BULLC__ISO_LOG, 0, text, NULL);
    if (!r || !r->w->ops->add_log)
        return BULLC_EMISUSE;
    if (!text)
        return BULLC_EINVAL;
    return r->w->ops->add_log(r->w->proto, r->link, job, text);
}

/* The job left active on the handler's call: record no outcome, stop renewing its lock. */
static void moved(bullc__run *r, bullc_job_t *job)
{
    job->moved = 1;
    bullc__slot_lock(r->slot, NULL);
}

int bullc_job_move_to_delayed(bullc_job_t *job, long long timestamp_ms)
{
    bullc__run *r = running(job);
    if (forwarded(r))
        return bullc__iso_forward(r, BULLC__ISO_MOVE_DELAYED, timestamp_ms, NULL, NULL);
    if (!r || job->moved || !r->w->ops->move_to_delayed)
        return BULLC_EMISUSE;
    int rc = r->w->ops->move_to_delayed(r->w->proto, r->link, job, timestamp_ms);
    if (rc == BULLC_EMOVED)
        moved(r, job);
    return rc;
}

int bullc_job_rate_limit(bullc_job_t *job, long long delay_ms)
{
    bullc__run *r = running(job);
    if (forwarded(r))
        return bullc__iso_forward(r, BULLC__ISO_RATE_LIMIT, delay_ms, NULL, NULL);
    if (!r || !r->w->ops->rate_limit)
        return BULLC_EMISUSE;
    if (delay_ms <= 0)
        return BULLC_EINVAL;
    if (job->moved)
        return BULLC_EMISUSE;
    long long limit_ms = 0;
    int rc = r->w->ops->rate_limit(r->w->proto, r->link, job, delay_ms, &limit_ms);
    if (rc == BULLC_ERATELIMITED) {
        moved(r, job);
        bullc__gate_note_limit(&r->w->gate, limit_ms);
    }
    return rc;
}

int bullc_job_move_to_waiting_children(bullc_job_t *job)
{
    bullc__run *r = running(job);
    if (forwarded(r))
        return bullc__iso_forward(r, BULLC__ISO_WAIT_CHILDREN, 0, NULL, NULL);
    if (!r || job->moved || !r->w->ops->wait_children)
        return BULLC_EMISUSE;
    int rc = r->w->ops->wait_children(r->w->proto, r->link, job);
    if (rc == BULLC_EMOVED)
        moved(r, job);
    return rc;
}

int bullc_job_children_values(bullc_job_t *job, char **json_out)
{
    if (json_out)
        *json_out = NULL;
    bullc__run *r = running(job);
    if (forwarded(r))
        return json_out ? bullc__iso_forward(r, BULLC__ISO_CHILDREN_VALUES, 0, NULL, json_out)
                        : BULLC_EINVAL;
    if (!r || !r->w->ops->children_values)
        return BULLC_EMISUSE;
    if (!json_out)
        return BULLC_EINVAL;
    return r->w->ops->children_values(r->w->proto, r->link, job, json_out);
}

int bullc_job_ignored_children_failures(bullc_job_t *job, char **json_out)
{
    if (json_out)
        *json_out = NULL;
    bullc__run *r = running(job);
    if (forwarded(r))
        return json_out ? bullc__iso_forward(r, BULLC__ISO_IGNORED_FAILURES, 0, NULL, json_out)
                        : BULLC_EINVAL;
    if (!r || !r->w->ops->ignored_failures)
        return BULLC_EMISUSE;
    if (!json_out)
        return BULLC_EINVAL;
    return r->w->ops->ignored_failures(r->w->proto, r->link, job, json_out);
}

int bullc_job_should_stop(const bullc_job_t *job)
{
    bullc__run *r = running(job);
    if (forwarded(r))
        return bullc__iso_forward(r, BULLC__ISO_SHOULD_STOP, 0, NULL, NULL);
    if (!r)
        return BULLC_EMISUSE;
    /* the clock is read only for a job with a timeout */
    return bullc__slot_stop_bits(r->slot, r->slot->deadline_ms > 0 ? bullc__mono_ms() : 0);
}
