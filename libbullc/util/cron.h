/* cron.h - cron expressions with cron-parser 5's syntax and iteration, over time zones. */
#ifndef BULLC_UTIL_CRON_H
#define BULLC_UTIL_CRON_H

#include "util/tz.h"

typedef struct bullc__cron bullc__cron;
typedef struct bullc__cron_iter bullc__cron_iter;

/* Parses a cron expression with cron-parser 5's syntax and checks (5 or 6 fields, names, '?',
 * 'L', '#', 'H' seeded by hash_seed or random when NULL; strict = its `strict` option).
 * BULLC_EINVAL with err set when cron-parser would throw. */
int bullc__cron_parse(const char *expr, int strict, const char *hash_seed, bullc__cron **out,
                      char *err, size_t errlen);
void bullc__cron_free(bullc__cron *c);
/* An iterator at current_ms (moved into [start, end] like cron-parser's currentDate). The cron
 * and zone must outlive it. */
int bullc__cron_iter_new(const bullc__cron *c, const bullc__tz *z, long long current_ms,
                         const long long *start_ms, const long long *end_ms, bullc__cron_iter **out);
void bullc__cron_iter_free(bullc__cron_iter *it);
/* The next time (epoch ms) strictly after the iterator's date, which then moves there. Returns
 * 0, or 1 with err set when cron-parser's next() throws (past endDate, loop limit). */
int bullc__cron_iter_next(bullc__cron_iter *it, long long *out_ms, char *err, size_t errlen);

#endif
