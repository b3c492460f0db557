/* cmd.h - a Redis command ready to send: a plain command (arguments) or a script call (keys and
 * arguments of a script), encoded straight into the protocol's bulk strings. */
#ifndef BULLC_NET_CMD_H
#define BULLC_NET_CMD_H

#include "util/buf.h"

/* A Lua script the library ships: sent as EVALSHA, and as EVAL when the server lacks it. */
typedef struct bullc__script {
    const char *name;
    const char *sha1; /* 40 hex characters */
    const char *text;
    size_t len;
} bullc__script;

typedef struct bullc__cmd {
    const bullc__script *script; /* NULL: a plain command */
    size_t nkeys, nargs;
    bullc__buf keys; /* bulk strings of the script's KEYS */
    bullc__buf args; /* bulk strings of the script's ARGV, or of a plain command (name first) */
} bullc__cmd;

/* An empty plain command. bullc__cmd_free releases it. */
void bullc__cmd_init(bullc__cmd *c);
void bullc__cmd_free(bullc__cmd *c);
/* Empties the command (keeping its memory) as a call of `script`, or a plain command (NULL). */
void bullc__cmd_reset(bullc__cmd *c, const bullc__script *script);
void bullc__cmd_key(bullc__cmd *c, const char *s, size_t n);
void bullc__cmd_keystr(bullc__cmd *c, const char *s);
void bullc__cmd_arg(bullc__cmd *c, const void *s, size_t n);
void bullc__cmd_str(bullc__cmd *c, const char *s);
void bullc__cmd_ll(bullc__cmd *c, long long v);
/* A plain command of n NUL-terminated arguments in one call, e.g. (c, 3, "HGET", key, f). */
void bullc__cmd_plain(bullc__cmd *c, int n, ...);
/* 1 when building the command ran out of memory. */
int bullc__cmd_oom(const bullc__cmd *c);
/* Appends the command in the wire protocol; a script call as EVALSHA, or as EVAL carrying the
 * script's text when `eval` is set. */
void bullc__cmd_write(const bullc__cmd *c, bullc__buf *out, int eval);
/* The command's name for messages: the script's name, or the first argument. */
const char *bullc__cmd_name(const bullc__cmd *c, char *tmp, size_t n);

#endif
