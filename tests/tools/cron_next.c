/* cron_next - prints the next N times of a cron expression, for comparing with cron-parser.
 * Usage: cron_next PATTERN TZ|- START_MS N [END_MS|-] [START_DATE_MS|-] [HASH_SEED|-] [strict]
 * One line per time (epoch ms); "END <reason>" when the schedule ends; "ERROR <message>" and
 * exit 2 when the pattern or zone is invalid.
 * Batch mode: `cron_next --batch` reads one case per line from stdin, its arguments separated
 * by tabs, and writes one line per case: the times and END/ERROR, separated by spaces. */
#include "util/cron.h"
#include "util/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one case; writes the results space separated (batch) or one per line. */
static int run(int argc, char **argv, FILE *out, int batch)
{
    if (argc < 5) {
        fprintf(out, "ERROR usage: cron_next PATTERN TZ|- START_MS N [END_MS|-] [START_DATE_MS|-] "
                     "[SEED|-] [strict]%c", batch ? ' ' : '\n');
        return 64;
    }
    const char sep = batch ? ' ' : '\n';
    const char *tzname = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
    long long start = atoll(argv[3]);
    int n = atoi(argv[4]);
    long long endv = 0, sdv = 0;
    const long long *endp = NULL, *sdp = NULL;
    if (argc > 5 && strcmp(argv[5], "-") != 0) {
        endv = atoll(argv[5]);
        endp = &endv;
    }
    if (argc > 6 && strcmp(argv[6], "-") != 0) {
        sdv = atoll(argv[6]);
        sdp = &sdv;
    }
    const char *seed = argc > 7 && strcmp(argv[7], "-") != 0 ? argv[7] : NULL;
    int strict = argc > 8 && strcmp(argv[8], "strict") == 0;
    char err[256];
    bullc__tz *z = NULL;
    bullc__cron *c = NULL;
    bullc__cron_iter *it = NULL;
    int rc = bullc__cron_parse(argv[1], strict, seed, &c, err, sizeof err);
    if (rc == 0)
        rc = bullc__tz_load(tzname, &z, err, sizeof err);
    if (rc == 0 && (rc = bullc__cron_iter_new(c, z, start, sdp, endp, &it)) == BULLC_EINVAL)
        snprintf(err, sizeof err, "CronDate: unhandled timestamp: Invalid Date");
    if (rc != 0) {
        fprintf(out, "ERROR %s%c", rc == BULLC_ENOMEM ? "out of memory" : err, sep);
        bullc__cron_free(c);
        bullc__tz_free(z);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        long long t;
        if (bullc__cron_iter_next(it, &t, err, sizeof err) != 0) {
            fprintf(out, "END %s%c", err, sep);
            break;
        }
        fprintf(out, "%lld%c", t, sep);
    }
    bullc__cron_iter_free(it);
    bullc__cron_free(c);
    bullc__tz_free(z);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--batch") == 0) {
        char line[4096];
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\n")] = '\0';
            char *args[10] = {"cron_next"};
            int n = 1;
            char *p = line;
            while (n < 10) {
                args[n++] = p;
                char *tab = strchr(p, '\t');
                if (!tab)
                    break;
                *tab = '\0';
                p = tab + 1;
            }
            run(n, args, stdout, 1);
            fputc('\n', stdout);
        }
        return 0;
    }
    return run(argc, argv, stdout, 0);
}
