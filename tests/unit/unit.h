/* unit.h - what the unit tests reach inside the library: its internal headers (tests are built
 * with the library's include paths), and replies built from protocol text. */
#ifndef BULLC_TESTS_UNIT_H
#define BULLC_TESTS_UNIT_H

#include "engine/engine.h"
#include "net/reply.h"
#include "net/url.h"
#include "proto/bullmq/bullmq.h"
#include "util/buf.h"
#include "util/cron.h"
#include "util/js.h"
#include "util/json.h"
#include "util/msgpack.h"
#include "util/sized.h"
#include "util/time.h"
#include "util/tz.h"

#include <stdio.h>
#include <string.h>

/* Appends one bulk string (or, for NULL, an integer 5) in the protocol's form. */
static inline void unit_resp_item(bullc__buf *b, const char *s)
{
    if (s)
        bullc__buf_printf(b, "$%zu\r\n%s\r\n", strlen(s), s);
    else
        bullc__buf_puts(b, ":5\r\n");
}

/* A flat array reply of n strings, parsed as a connection would parse it (NULL entries become
 * integers). Free with bullc__reply_free. */
static inline bullc__reply *unit_array_reply(const char *const *items, size_t n)
{
    bullc__buf b;
    bullc__buf_init(&b);
    bullc__buf_printf(&b, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        unit_resp_item(&b, items[i]);
    bullc__reply *r = NULL;
    if (b.oom || bullc__reply_parse(b.data, b.len, &r) != 0)
        r = NULL;
    bullc__buf_free(&b);
    return r;
}

#endif
