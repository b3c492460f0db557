/* bull_admin.h - what bull_admin.c and bull_admin_read.c share (queue administration of Bull
 * queues, docs/bull.md §6). */
#ifndef BULLC_PROTO_BULL_ADMIN_H
#define BULLC_PROTO_BULL_ADMIN_H

#include "bull.h"

/* The readers: queues, jobs, job, logs, workers, and the refusal of events. */
int bullc__bull_admin_read(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                           size_t errlen);

/* Pure parts, unit-tested (tests/unit/test_bull_admin.c). */

/* The job object `job --json` prints, from an HGETALL reply of its hash (Node Bull's
 * Job.fromJSON reading; attemptsStarted null). 0 or BULLC_ENOMEM. */
int bullc__bull_job_json(const bullc__reply *hash, const char *id, const char *state,
                         char **out);
/* The workers of a CLIENT LIST text: the lines whose name starts with `client_name`, as
 * [{"name": queue, "addr", "rawname"}]. 0 or BULLC_ENOMEM. */
int bullc__bull_workers_json(const char *list, const char *client_name, const char *queue,
                             size_t qlen, char **out);

#endif
