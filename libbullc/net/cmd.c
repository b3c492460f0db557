/* cmd.c - builds commands directly in the Redis protocol (bulk strings), so sending one is a
 * single write with no argument arrays in between. */
#include "net/cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bullc__cmd_init(bullc__cmd *c)
{
    memset(c, 0, sizeof *c);
    bullc__buf_init(&c->keys);
    bullc__buf_init(&c->args);
}

void bullc__cmd_free(bullc__cmd *c)
{
    bullc__buf_free(&c->keys);
    bullc__buf_free(&c->args);
    memset(c, 0, sizeof *c);
}

void bullc__cmd_reset(bullc__cmd *c, const bullc__script *script)
{
    c->script = script;
    c->nkeys = c->nargs = 0;
    bullc__buf_reset(&c->keys);
    bullc__buf_reset(&c->args);
}

/* Appends "<mark><n>\r\n" (the protocol's length headers), without printf. */
static void header(bullc__buf *b, char mark, size_t n)
{
    char t[24];
    size_t i = sizeof t;
    t[--i] = '\n';
    t[--i] = '\r';
    do {
        t[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    t[--i] = mark;
    bullc__buf_append(b, t + i, sizeof t - i);
}

static void bulk(bullc__buf *b, const void *s, size_t n)
{
    header(b, '$', n);
    bullc__buf_append(b, s, n);
    bullc__buf_append(b, "\r\n", 2);
}

void bullc__cmd_key(bullc__cmd *c, const char *s, size_t n)
{
    bulk(&c->keys, s, n);
    c->nkeys++;
}

void bullc__cmd_keystr(bullc__cmd *c, const char *s) { bullc__cmd_key(c, s, strlen(s)); }

void bullc__cmd_arg(bullc__cmd *c, const void *s, size_t n)
{
    bulk(&c->args, s ? s : "", s ? n : 0);
    c->nargs++;
}

void bullc__cmd_str(bullc__cmd *c, const char *s) { bullc__cmd_arg(c, s, s ? strlen(s) : 0); }

void bullc__cmd_ll(bullc__cmd *c, long long v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%lld", v);
    bullc__cmd_arg(c, t, (size_t)n);
}

void bullc__cmd_plain(bullc__cmd *c, int n, ...)
{
    bullc__cmd_reset(c, NULL);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        bullc__cmd_str(c, va_arg(ap, const char *));
    va_end(ap);
}

int bullc__cmd_oom(const bullc__cmd *c) { return c->keys.oom || c->args.oom; }

void bullc__cmd_write(const bullc__cmd *c, bullc__buf *out, int eval)
{
    if (!c->script) {
        header(out, '*', c->nargs);
        bullc__buf_append(out, c->args.data, c->args.len);
        return;
    }
    header(out, '*', 3 + c->nkeys + c->nargs);
    if (eval) {
        bulk(out, "EVAL", 4);
        bulk(out, c->script->text, c->script->len);
    } else {
        bulk(out, "EVALSHA", 7);
        bulk(out, c->script->sha1, 40);
    }
    char nk[24];
    int h = snprintf(nk, sizeof nk, "%zu", c->nkeys);
    bulk(out, nk, (size_t)h);
    bullc__buf_append(out, c->keys.data, c->keys.len);
    bullc__buf_append(out, c->args.data, c->args.len);
}

const char *bullc__cmd_name(const bullc__cmd *c, char *tmp, size_t n)
{
    if (c->script)
        return c->script->name;
    /* the first bulk string: "$<len>\r\n<name>\r\n" */
    const char *p = c->args.data ? memchr(c->args.data, '\n', c->args.len) : NULL;
    if (!p || n == 0)
        return "command";
    p++;
    size_t k = 0;
    while (k + 1 < n && (size_t)(p - c->args.data) + k < c->args.len && p[k] != '\r')
        k++;
    memcpy(tmp, p, k);
    tmp[k] = '\0';
    return tmp;
}
