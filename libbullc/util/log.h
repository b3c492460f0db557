/* log.h - log lines handed to the user's callback (the library never prints). */
#ifndef BULLC_UTIL_LOG_H
#define BULLC_UTIL_LOG_H

#include "util/common.h"

typedef struct bullc__logger {
    bullc_log_cb cb;
    void *ud;
    bullc_log_level_t level;
    bullc_log_job_cb job_cb; /* when set, called instead of cb, with the line's job */
} bullc__logger;

/* Formats one line (at most 1 KiB) and passes it to the callback if `level` is enabled. */
void bullc__log(const bullc__logger *lg, bullc_log_level_t level, const char *fmt, ...)
    BULLC__PRINTF(3, 4);

/* The same, for a line about `job`, which a bullc_log_job_cb receives with it. */
void bullc__log_job(const bullc__logger *lg, const bullc_job_t *job, bullc_log_level_t level,
                    const char *fmt, ...) BULLC__PRINTF(4, 5);

#endif
