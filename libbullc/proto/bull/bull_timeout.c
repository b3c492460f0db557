/* bull_timeout.c - Bull's `timeout` job option (docs/bull.md §4.8): Node's Bull races the
 * handler's promise against a timer of opts.timeout ms when the option is truthy, and fails the
 * attempt with the timer's error. Here the protocol reads the option before the handler runs
 * and the engine enforces it (bullc_job_should_stop, BULLC_STOP_TIMEOUT). */
#include "bull.h"
#include "util/js.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int bullc__bull_timeout_of(const cJSON *opts, long long *ms, char **reason)
{
    *ms = 0;
    *reason = NULL;
    const cJSON *t = cJSON_IsObject(opts) ? cJSON_GetObjectItemCaseSensitive(opts, "timeout") : NULL;
    if (!t || !bullc__js_truthy(t) || cJSON_IsArray(t))
        return 0;
    bullc__buf b;
    bullc__buf_init(&b);
    double d = cJSON_IsNumber(t) ? t->valuedouble : 0;
    if (cJSON_IsNumber(t) && d > 0) {
        /* as Node's setTimeout: past 2^31 - 1 ms the timer fires after 1 ms */
        *ms = d > 2147483647.0 ? 1 : (long long)ceil(d);
        bullc__buf_printf(&b, "Promise timed out after ");
        bullc__js_number(&b, d);
        bullc__buf_printf(&b, " milliseconds");
    } else {
        /* p-timeout refuses anything but a positive number: the attempt fails at once */
        *ms = 1;
        bullc__buf_printf(&b, "Expected `milliseconds` to be a positive number, got `");
        bullc__js_string(&b, t);
        bullc__buf_printf(&b, "`");
    }
    *reason = bullc__buf_take(&b);
    if (!*reason) {
        *ms = 0;
        return BULLC_ENOMEM;
    }
    return 0;
}
