/* fuzz_trace - the trace context a job's producer left (its `tm`: outside input): the carrier
 * parser and the traceparent parser on arbitrary text never crash and answer 0 or -1; an
 * accepted traceparent has non-zero ids and prints back (version 00) to its own lowercase text;
 * a rejected carrier leaves the context untouched. */
#define FUZZ_WANT_TRACE
#include "fuzz.h"

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    bullc__trace_ctx c;
    memset(&c, 0, sizeof c);
    int rc = bullc__traceparent_parse(s, &c);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(!all_zero(c.trace_id, 16) && !all_zero(c.span_id, 8));
        FUZZ_CHECK(strlen(s) >= 55 && s[2] == '-' && s[35] == '-' && s[52] == '-');
        if (s[0] == '0' && s[1] == '0') {
            char back[56];
            snprintf(back, sizeof back, "00-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x"
                     "%02x%02x-%02x%02x%02x%02x%02x%02x%02x%02x-%02x",
                     c.trace_id[0], c.trace_id[1], c.trace_id[2], c.trace_id[3], c.trace_id[4],
                     c.trace_id[5], c.trace_id[6], c.trace_id[7], c.trace_id[8], c.trace_id[9],
                     c.trace_id[10], c.trace_id[11], c.trace_id[12], c.trace_id[13],
                     c.trace_id[14], c.trace_id[15], c.span_id[0], c.span_id[1], c.span_id[2],
                     c.span_id[3], c.span_id[4], c.span_id[5], c.span_id[6], c.span_id[7],
                     c.flags);
            FUZZ_CHECK(strcmp(back, s) == 0);
        }
    }
    bullc__trace_ctx_clear(&c);
    memset(&c, 0, sizeof c);
    c.flags = 0x5a;
    rc = bullc__trace_carrier_parse(s, &c);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == -1)
        FUZZ_CHECK(c.flags == 0x5a && c.tracestate == NULL);
    else
        FUZZ_CHECK(!all_zero(c.trace_id, 16) && (!c.tracestate || strlen(c.tracestate) <= 512));
    bullc__trace_ctx_clear(&c);
    free(s);
    return 0;
}
