/* log.h - log lines handed to the user's callback (the library never prints). */
#ifndef BULLC_UTIL_LOG_H
#define BULLC_UTIL_LOG_H

#include "util/common.h"

typedef struct bullc__logger {
    bullc_log_cb cb;
    void *ud;
    bullc_log_level_t level;
    bullc_log_job_cb job_cb; /* when set, called instead of cb, with the thread's job */
} bullc__logger;

/* Formats one line (at most 1 KiB) and passes it to the callback if `level` is enabled. */
void bullc__log(const bullc__logger *lg, bullc_log_level_t level, const char *fmt, ...)
    BULLC__PRINTF(3, 4);

/* The job the calling thread works on (NULL: none), which lines it logs meanwhile carry to a
 * bullc_log_job_cb. Kept per thread (a handler thread holds one job at a time), so it is never
 * shared between threads or workers. */
void bullc__log_set_job(const bullc_job_t *job);

#endif
