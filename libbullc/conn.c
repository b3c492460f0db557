/* conn.c - script and command calls given as argument arrays, over one net/ connection. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static int run(bullc__conn *cn, bullc__cmd *cmd, bullc__reply **reply)
{
    if (bullc__cmd_oom(cmd)) {
        bullc__cmd_free(cmd);
        return BULLC_ENOMEM;
    }
    int rc = bullc__conn_call(cn, cmd, reply);
    bullc__cmd_free(cmd);
    if (rc == BULLC_ECONNECT)
        rc = BULLC_EIO;
    return rc;
}

int bullc__conn_cmd(bullc__conn *cn, int argc, const char **argv, const size_t *argvlen,
                    bullc__reply **reply)
{
    *reply = NULL;
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    for (int i = 0; i < argc; i++)
        bullc__cmd_arg(&cmd, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
    int rc = run(cn, &cmd, reply);
    if (rc == 0 && (*reply)->type == BULLC__R_ERROR) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s", (*reply)->str);
        return BULLC_ESCRIPT;
    }
    return rc;
}

int bullc__conn_script(bullc__conn *cn, bullc__script_id id, int nkeys, const char **keys,
                       int nargs, const char **args, const size_t *arglens, bullc__reply **reply)
{
    *reply = NULL;
    if (nkeys < 0 || nargs < 0)
        return BULLC_EINVAL;
    const bullc__script *s = &bullc__scripts[id];
    bullc__cmd cmd;
    bullc__cmd_init(&cmd);
    bullc__cmd_reset(&cmd, s);
    for (int i = 0; i < nkeys; i++)
        bullc__cmd_keystr(&cmd, keys[i]);
    for (int i = 0; i < nargs; i++)
        bullc__cmd_arg(&cmd, args[i], arglens ? arglens[i] : strlen(args[i]));
    int rc = run(cn, &cmd, reply);
    if (rc == 0 && (*reply)->type == BULLC__R_ERROR) {
        snprintf(cn->errstr, sizeof cn->errstr, "%s: %s", s->name, (*reply)->str);
        bullc__reply_free(*reply);
        *reply = NULL;
        return BULLC_ESCRIPT;
    }
    return rc;
}
