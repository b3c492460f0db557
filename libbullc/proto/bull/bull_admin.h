/* bull_admin.h - what bull_admin.c and bull_admin_read.c share (queue administration of Bull
 * queues, docs/bull.md §6). */
#ifndef BULLC_PROTO_BULL_ADMIN_H
#define BULLC_PROTO_BULL_ADMIN_H

#include "bull.h"

/* The readers: queues, jobs, job, logs, workers, and the refusal of events. */
int bullc__bull_admin_read(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                           size_t errlen);

#endif
