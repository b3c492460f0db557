/* tz.h - UTC offsets of time zones (TZif files and POSIX rules) and civil-date arithmetic. */
#ifndef BULLC_UTIL_TZ_H
#define BULLC_UTIL_TZ_H

#include "util/common.h"

typedef struct bullc__tz bullc__tz;

/* Loads a zone the way luxon names them: an IANA name read from /usr/share/zoneinfo (matched
 * ignoring case), "utc"/"gmt"/"UTC+5:30" fixed offsets, or NULL/""/"local"/"system" for the
 * process's zone ($TZ, /etc/localtime, else UTC). BULLC_EINVAL with err set for unknown zones. */
int bullc__tz_load(const char *name, bullc__tz **out, char *err, size_t errlen);
void bullc__tz_free(bullc__tz *z);
/* Offset from UTC (seconds east) in force at epoch ms. */
long bullc__tz_offset(const bullc__tz *z, long long ms);
/* Parses a TZif file's bytes (for tests and fuzzing). 0, or BULLC_EINVAL when malformed. */
int bullc__tz_from_tzif(const unsigned char *b, size_t n, bullc__tz **out);

long long bullc__days_from_civil(long long y, int m, int d);
void bullc__civil_from_days(long long days, long long *y, int *m, int *d);
int bullc__days_in_month(long long y, int m);

#endif
