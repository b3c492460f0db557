/* bmq_admin.h - what bmq_admin.c and bmq_admin_read.c share (queue administration). */
#ifndef BULLC_PROTO_BULLMQ_ADMIN_H
#define BULLC_PROTO_BULLMQ_ADMIN_H

#include "bullmq.h"

/* The readers: queues, jobs, job, logs, workers, events. */
int bullc__bmq_admin_read(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                          size_t errlen);

#endif
