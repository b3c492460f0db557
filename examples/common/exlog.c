/* exlog.c - text or JSON log lines for the example workers (exlog.h). */
#include "exlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int ex_log_init(ex_log *l, const char *prog)
{
    const char *format = getenv("BULLC_LOG_FORMAT");
    l->prog = prog;
    l->json = format && strcmp(format, "json") == 0;
    if (format && *format && !l->json && strcmp(format, "text") != 0) {
        fprintf(stderr, "%s: BULLC_LOG_FORMAT must be text or json\n", prog);
        return -1;
    }
    return 0;
}

/* Appends `s` as a JSON string (quoted; ", \ and control characters escaped) to buf. */
static size_t put_json_string(char *buf, size_t at, size_t cap, const char *s)
{
    if (at < cap)
        buf[at] = '"';
    at++;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char esc[8];
        size_t n = 1;
        if (*p == '"' || *p == '\\')
            n = (size_t)snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20)
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        else
            esc[0] = (char)*p;
        for (size_t i = 0; i < n; i++, at++)
            if (at < cap)
                buf[at] = esc[i];
    }
    if (at < cap)
        buf[at] = '"';
    return at + 1;
}

/* "2026-01-02T03:04:05.678Z" */
static void iso_now(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
}

static void write_json(bullc_log_level_t level, const bullc_job_t *job, const char *message)
{
    char line[8192], when[40];
    size_t cap = sizeof line - 3, at = 0; /* room for "}\n" and the NUL */
    iso_now(when, sizeof when);
    at += (size_t)snprintf(line, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"message\":", when,
                           level_names[level <= BULLC_LOG_DEBUG ? level : BULLC_LOG_DEBUG]);
    at = put_json_string(line, at, cap, message);
    if (job) {
        at += (size_t)snprintf(line + (at < cap ? at : cap), at < cap ? cap - at : 0, ",\"job_id\":");
        at = put_json_string(line, at, cap, bullc_job_id(job));
        at += (size_t)snprintf(line + (at < cap ? at : cap), at < cap ? cap - at : 0, ",\"job_name\":");
        at = put_json_string(line, at, cap, bullc_job_name(job));
    }
    if (at >= cap) { /* too long: the message is cut, the line stays one valid object */
        at = (size_t)snprintf(line, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"message\":", when,
                              level_names[level <= BULLC_LOG_DEBUG ? level : BULLC_LOG_DEBUG]);
        char cut[1000];
        snprintf(cut, sizeof cut, "%s", message);
        at = put_json_string(line, at, cap, cut);
    }
    line[at] = '}';
    line[at + 1] = '\0';
    fprintf(stderr, "%s\n", line);
}

void ex_log_write(const ex_log *l, bullc_log_level_t level, const bullc_job_t *job,
                  const char *message)
{
    if (l->json) {
        write_json(level, job, message);
        return;
    }
    /* text lines stay as they always were: the message names its job when it has one */
    fprintf(stderr, "%s: %s: %s\n", l->prog,
            level_names[level <= BULLC_LOG_DEBUG ? level : BULLC_LOG_DEBUG], message);
}

void ex_log_printf(const ex_log *l, bullc_log_level_t level, const bullc_job_t *job,
                   const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ex_log_write(l, level, job, line);
}
