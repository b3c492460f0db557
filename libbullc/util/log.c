/* log.c - formats log lines and hands them to the user's callback (the library never prints). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static void vlog(const bullc__logger *lg, const bullc_job_t *job, bullc_log_level_t level,
                 const char *fmt, va_list ap)
{
    if (!lg || (!lg->cb && !lg->job_cb) || level > lg->level)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (lg->job_cb)
        lg->job_cb(level, line, job, lg->ud);
    else
        lg->cb(level, line, lg->ud);
}

void bullc__log(const bullc__logger *lg, bullc_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lg, NULL, level, fmt, ap);
    va_end(ap);
}

void bullc__log_job(const bullc__logger *lg, const bullc_job_t *job, bullc_log_level_t level,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lg, job, level, fmt, ap);
    va_end(ap);
}
