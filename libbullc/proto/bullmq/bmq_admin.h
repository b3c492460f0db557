/* bmq_admin.h - what bmq_admin.c and bmq_admin_read.c share (queue administration). */
#ifndef BULLC_PROTO_BULLMQ_ADMIN_H
#define BULLC_PROTO_BULLMQ_ADMIN_H

#include "bullmq.h"

/* Formats err and returns code. */
int bullc__adm_err(char *err, size_t errlen, int code, const char *fmt, ...) BULLC__PRINTF(4, 5);
/* Runs one command (freed); an error reply becomes BULLC_ESCRIPT with its text. */
int bullc__adm_call(bullc__link *link, bullc__cmd *cmd, bullc__reply **r, char *err,
                    size_t errlen);
/* An array of strings into req->items (NULL-terminated). */
int bullc__adm_strings(const bullc__reply *r, bullc__admin *req, char *err, size_t errlen);
/* Moves src's items to the end of dst's. */
int bullc__adm_append(bullc__admin *dst, bullc__admin *src, char *err, size_t errlen);
void bullc__adm_free_items(bullc__admin *req);
/* The readers: queues, jobs, job, logs, workers, events. */
int bullc__bmq_admin_read(bullc__proto *p, bullc__link *link, bullc__admin *req, char *err,
                          size_t errlen);

#endif
