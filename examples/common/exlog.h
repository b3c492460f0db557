/* exlog.h - the example workers' log lines on stderr, as text ("prog: level: message") or, with
 * BULLC_LOG_FORMAT=json, one JSON object per line:
 *   {"time":"2026-01-02T03:04:05.678Z","level":"info","message":"...","job_id":"42","job_name":"x"}
 * job_id and job_name only on lines about a job (text lines name the job in their message). */
#ifndef EX_LOG_H
#define EX_LOG_H

#include <bullc.h>

typedef struct ex_log {
    const char *prog;  /* "echo_worker" */
    int json;          /* BULLC_LOG_FORMAT=json */
} ex_log;

/* Reads BULLC_LOG_FORMAT ("text", the default, or "json"): 0, or -1 after a message for any
 * other value. */
int ex_log_init(ex_log *l, const char *prog);
/* Writes one line (one fprintf, so lines of several threads never interleave). `job` may be
 * NULL. Thread-safe. */
void ex_log_write(const ex_log *l, bullc_log_level_t level, const bullc_job_t *job,
                  const char *message);
/* The same with a printf format. */
void ex_log_printf(const ex_log *l, bullc_log_level_t level, const bullc_job_t *job,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
