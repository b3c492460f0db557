/* log.c - formats log lines and hands them to the user's callback (the library never prints). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

void bullc__log(const bullc__logger *lg, bullc_log_level_t level, const char *fmt, ...)
{
    if (!lg || !lg->cb || level > lg->level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lg->cb(level, line, lg->ud);
}
