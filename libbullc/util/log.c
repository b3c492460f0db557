/* log.c - formats log lines and hands them to the user's callback (the library never prints). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

/* The job this thread works on, for bullc_log_job_cb: per thread, never shared. */
static _Thread_local const bullc_job_t *t_job;

void bullc__log_set_job(const bullc_job_t *job) { t_job = job; }

void bullc__log(const bullc__logger *lg, bullc_log_level_t level, const char *fmt, ...)
{
    if (!lg || (!lg->cb && !lg->job_cb) || level > lg->level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (lg->job_cb)
        lg->job_cb(level, line, t_job, lg->ud);
    else
        lg->cb(level, line, lg->ud);
}
