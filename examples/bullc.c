/* bullc - look at and administer BullMQ queues, or legacy Bull 4 queues with --protocol bull,
 * from the command line (README "The bullc tool").
 *
 *   bullc [--redis URL] [--prefix P] [--protocol bullmq|bull] [--json] [TLS flags] COMMAND ARGS...
 *
 * Every command is one call of the library's queue API (include/bullc.h, "Queue
 * administration"), so what it leaves in Redis is what Node's Queue and Job methods leave
 * (BullMQ's, or Bull 4.16.5's: docs/bull.md §6; Bull has no events stream, so `events` fails).
 * Exit status: 0 ok, 1 runtime error (one line on stderr, nothing on stdout), 2 usage error.
 */
#include <bullc.h>

#include "bullc_fmt.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "bullc"

static const char USAGE[] =
    "usage: " PROG " [--redis URL] [--prefix P] [--protocol bullmq|bull] [--json]\n"
    "            [--tls-ca FILE] [--tls-cert FILE] [--tls-key FILE] [--tls-server-name NAME]\n"
    "            [--tls-insecure] COMMAND ...\n"
    "  queues | counts Q | jobs Q STATE [--start N] [--end N] | job Q ID\n"
    "  add Q NAME [DATA_JSON] [--opts JSON] | retry Q (ID... | --all-failed)\n"
    "  promote Q (ID... | --all) | remove Q ID... | clean Q STATE --grace MS [--limit N]\n"
    "  pause Q | resume Q | drain Q [--delayed] | obliterate Q --force\n"
    "  events Q [--from ID] [--count N] [--follow] | workers Q | logs Q ID\n";

/* The eight states counts reports, in its order (jobs takes the same). */
static const char *const STATES[] = {"waiting",   "active", "delayed", "prioritized",
                                     "completed", "failed", "paused",  "waiting-children"};

typedef struct cli {
    bullc_queue_opts_t opts;
    int json;
    const char *cmd;
    int argc;          /* the command's words after its name */
    char **argv;
    /* the command's flags */
    const char *opts_json, *from;
    long long start, end, grace, limit, count;
    int have_grace, all, all_failed, delayed, force, follow;
    char **pos;        /* positional words */
    int npos;
    char why[512];     /* the first error the library logged (why a connection failed) */
} cli;

static int usage(const char *what)
{
    if (what)
        fprintf(stderr, PROG ": %s\n", what);
    fputs(USAGE, stderr);
    return 2;
}

/* Keeps the library's first error line: it is the reason a handle could not be made. */
static void keep_first_error(bullc_log_level_t level, const char *message, void *user_data)
{
    cli *c = user_data;
    if (level <= BULLC_LOG_WARN && !c->why[0])
        snprintf(c->why, sizeof c->why, "%s", message);
}

static int fail(bullc_queue_t *q, int rc, const char *what)
{
    if (what)
        fprintf(stderr, PROG ": %s: %s: %s\n", what, bullc_strerror(rc), bullc_queue_errmsg(q));
    else
        fprintf(stderr, PROG ": %s: %s\n", bullc_strerror(rc), bullc_queue_errmsg(q));
    return 1;
}

/* A global flag at argv[*i]: 1 taken, 0 not a global flag, 2 usage error (printed). */
static int global_flag(cli *c, int argc, char **argv, int *i)
{
    static const char *const valued[] = {"--redis", "--prefix", "--protocol", "--tls-ca",
                                         "--tls-cert", "--tls-key", "--tls-server-name"};
    const char *a = argv[*i];
    if (!strcmp(a, "--json"))
        return c->json = 1;
    if (!strcmp(a, "--tls-insecure"))
        return c->opts.tls.insecure = 1;
    const char **slot[] = {&c->opts.redis_url, &c->opts.prefix, &c->opts.protocol, &c->opts.tls.ca_file,
                           &c->opts.tls.cert_file, &c->opts.tls.key_file,
                           &c->opts.tls.server_name};
    for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) {
        if (strcmp(a, valued[k]))
            continue;
        if (*i + 1 >= argc) {
            fprintf(stderr, PROG ": %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++*i];
        if (slot[k] == &c->opts.protocol && strcmp(v, "bullmq") && strcmp(v, "bull")) {
            fprintf(stderr, PROG ": unknown protocol %s (bullmq or bull)\n", v);
            return 2;
        }
        *slot[k] = v;
        return 1;
    }
    return 0;
}

/* A command flag's numeric value. */
static int num_flag(const char *name, const char *v, long long *out)
{
    if (!v || bullc_fmt_ll(v, out) != 0) {
        fprintf(stderr, PROG ": %s wants an integer\n", name);
        return -1;
    }
    return 0;
}

/* Splits the command's words into flags and positional words. 0, or 2 (usage printed). */
static int command_flags(cli *c)
{
    c->start = 0;
    c->end = 99;
    for (int i = 0; i < c->argc; i++) {
        const char *a = c->argv[i], *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--opts") || !strcmp(a, "--from")) {
            if (!v)
                return usage("a flag needs a value");
            *(a[2] == 'o' ? &c->opts_json : &c->from) = v;
            i++;
        } else if (!strcmp(a, "--start") || !strcmp(a, "--end") || !strcmp(a, "--grace") ||
                   !strcmp(a, "--limit") || !strcmp(a, "--count")) {
            long long *dst = a[2] == 's' ? &c->start : a[2] == 'e' ? &c->end
                           : a[2] == 'g' ? &c->grace : a[2] == 'l' ? &c->limit : &c->count;
            if (!strcmp(a, "--limit") && v && !strcmp(v, "none"))
                c->limit = 0;
            else
                bad = num_flag(a, v, dst);
            c->have_grace |= a[2] == 'g';
            i++;
        } else if (!strcmp(a, "--all") || !strcmp(a, "--all-failed") || !strcmp(a, "--delayed") ||
                   !strcmp(a, "--force") || !strcmp(a, "--follow")) {
            int *dst = !strcmp(a, "--all") ? &c->all : !strcmp(a, "--all-failed") ? &c->all_failed
                     : !strcmp(a, "--delayed") ? &c->delayed : !strcmp(a, "--force") ? &c->force
                     : &c->follow;
            *dst = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, PROG ": unknown flag %s\n", a);
            bad = 1;
        } else {
            c->pos[c->npos++] = c->argv[i];
        }
        if (bad)
            return usage(NULL);
    }
    return 0;
}

/* ---- output helpers -------------------------------------------------------------------- */

static void print_strv(const cli *c, char **v, size_t n)
{
    if (!c->json) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", v[i]);
        return;
    }
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    char *s = cJSON_PrintUnformatted(a);
    printf("%s\n", s ? s : "[]");
    free(s);
    cJSON_Delete(a);
}

/* ---- commands ---------------------------------------------------------------------------- */

static int cmd_queues(cli *c, bullc_queue_t *q)
{
    char **names;
    size_t n;
    int rc = bullc_queue_list_queues(q, &names, &n);
    if (rc)
        return fail(q, rc, NULL);
    print_strv(c, names, n);
    bullc_strv_free(names);
    return 0;
}

static int cmd_counts(cli *c, bullc_queue_t *q)
{
    bullc_job_counts_t k;
    int rc = bullc_queue_get_counts(q, &k);
    if (rc)
        return fail(q, rc, NULL);
    long long v[] = {k.waiting,   k.active, k.delayed, k.prioritized,
                     k.completed, k.failed, k.paused,  k.waiting_children};
    if (c->json)
        printf("{");
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        if (c->json)
            printf("%s\"%s\":%lld", i ? "," : "", STATES[i], v[i]);
        else
            printf("%s %lld\n", STATES[i], v[i]);
    }
    if (c->json)
        printf("}\n");
    return 0;
}

static int known_state(const char *s)
{
    for (size_t i = 0; i < sizeof STATES / sizeof *STATES; i++)
        if (!strcmp(s, STATES[i]))
            return 1;
    return 0;
}

static int cmd_jobs(cli *c, bullc_queue_t *q)
{
    char **ids;
    size_t n;
    int rc = bullc_queue_get_jobs(q, c->pos[1], c->start, c->end, &ids, &n);
    if (rc)
        return fail(q, rc, NULL);
    if (!c->json) {
        print_strv(c, ids, n);
        bullc_strv_free(ids);
        return 0;
    }
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *name = NULL;
        rc = bullc_queue_get_job_field(q, ids[i], "name", &name);
        if (rc == BULLC_ENOJOB) /* removed since: Node's getJobs leaves it out */
            rc = 0;
        else if (rc == 0) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "id", cJSON_CreateString(ids[i]));
            cJSON_AddItemToObject(o, "name", name ? cJSON_CreateString(name) : cJSON_CreateNull());
            cJSON_AddItemToArray(a, o);
        }
        bullc_free(name);
    }
    char *s = rc ? NULL : cJSON_PrintUnformatted(a);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(a);
    bullc_strv_free(ids);
    return rc ? fail(q, rc, NULL) : 0;
}

static int cmd_job(cli *c, bullc_queue_t *q)
{
    char *json;
    int rc = bullc_queue_get_job_json(q, c->pos[1], &json);
    if (rc)
        return fail(q, rc, NULL);
    if (c->json) {
        printf("%s\n", json);
    } else { /* one "key value" line per key, values as JSON */
        cJSON *o = cJSON_Parse(json);
        for (cJSON *m = o ? o->child : NULL; m; m = m->next) {
            char *v = cJSON_PrintUnformatted(m);
            printf("%s %s\n", m->string, v ? v : "null");
            free(v);
        }
        cJSON_Delete(o);
    }
    bullc_free(json);
    return 0;
}

static int cmd_add(cli *c, bullc_queue_t *q)
{
    char *id = NULL;
    int rc = bullc_queue_add(q, c->pos[1], c->npos > 2 ? c->pos[2] : "{}", c->opts_json, &id);
    if (rc == BULLC_EJSON || rc == BULLC_EINVAL) { /* nothing was added */
        fprintf(stderr, PROG ": %s: %s\n", bullc_strerror(rc), bullc_queue_errmsg(q));
        return usage(NULL);
    }
    if (rc)
        return fail(q, rc, NULL);
    printf("%s\n", id);
    bullc_free(id);
    return 0;
}

/* retry, promote, remove: each id in turn; how many succeeded, one stderr line per failure. */
static int cmd_each(cli *c, bullc_queue_t *q)
{
    int (*one)(bullc_queue_t *, const char *) =
        c->cmd[0] == 'r' && c->cmd[2] == 't' ? bullc_queue_retry_job
        : c->cmd[0] == 'p'                   ? bullc_queue_promote_job
                                             : bullc_queue_remove_job;
    int (*all)(bullc_queue_t *, long long *) = NULL;
    if (one == bullc_queue_retry_job && c->all_failed)
        all = bullc_queue_retry_failed;
    else if (one == bullc_queue_promote_job && c->all)
        all = bullc_queue_promote_all;
    if (all) {
        long long n = 0;
        int rc = all(q, &n);
        if (rc)
            return fail(q, rc, NULL);
        printf("%lld\n", n);
        return 0;
    }
    long long ok = 0;
    int status = 0;
    for (int i = 1; i < c->npos; i++) {
        int rc = one(q, c->pos[i]);
        if (rc == 0)
            ok++;
        else if (rc == BULLC_EIO || rc == BULLC_ENOMEM)
            return fail(q, rc, NULL);
        else
            status = fail(q, rc, c->pos[i]);
    }
    printf("%lld\n", ok);
    return status;
}

static int cmd_clean(cli *c, bullc_queue_t *q)
{
    char **ids;
    size_t n;
    int rc = bullc_queue_clean(q, c->pos[1], c->grace, c->limit, &ids, &n);
    if (rc)
        return fail(q, rc, NULL);
    print_strv(c, ids, n);
    bullc_strv_free(ids);
    return 0;
}

static int cmd_control(cli *c, bullc_queue_t *q)
{
    int rc;
    if (!strcmp(c->cmd, "pause"))
        rc = bullc_queue_pause(q);
    else if (!strcmp(c->cmd, "resume"))
        rc = bullc_queue_resume(q);
    else if (!strcmp(c->cmd, "drain"))
        rc = bullc_queue_drain(q, c->delayed);
    else
        rc = bullc_queue_obliterate(q, 1);
    return rc ? fail(q, rc, NULL) : 0;
}

/* One event: "<id> <event> key=value..." or its JSON object. */
static void print_event(const cli *c, const cJSON *e)
{
    if (c->json) {
        char *s = cJSON_PrintUnformatted(e);
        printf("%s\n", s ? s : "{}");
        free(s);
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(e, "event");
    bullc_fmt_value(stdout, cJSON_GetStringValue(id));
    putchar(' ');
    bullc_fmt_value(stdout, ev ? cJSON_GetStringValue(ev) : "");
    for (const cJSON *m = e->child; m; m = m->next) {
        if (!strcmp(m->string, "id") || !strcmp(m->string, "event"))
            continue;
        printf(" %s=", m->string);
        bullc_fmt_value(stdout, cJSON_GetStringValue(m));
    }
    putchar('\n');
}

static int cmd_events(cli *c, bullc_queue_t *q)
{
    char after[128];
    snprintf(after, sizeof after, "%s", c->from ? c->from : "0");
    long long left = c->count > 0 ? c->count : -1;
    for (;;) {
        char *json;
        long long want = left > 0 && left < 1000 ? left : 1000;
        int rc = bullc_queue_read_events(q, after, want, c->follow ? 5000 : -1, &json);
        if (rc)
            return fail(q, rc, NULL);
        cJSON *a = cJSON_Parse(json);
        bullc_free(json);
        int n = cJSON_GetArraySize(a);
        for (int i = 0; i < n && left != 0; i++) {
            const cJSON *e = cJSON_GetArrayItem(a, i);
            print_event(c, e);
            snprintf(after, sizeof after, "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id")));
            if (left > 0)
                left--;
            if (c->follow)
                fflush(stdout);
        }
        cJSON_Delete(a);
        if (left == 0 || (!c->follow && n == 0))
            return 0;
    }
}

static int cmd_workers(cli *c, bullc_queue_t *q)
{
    char *json;
    int rc = bullc_queue_get_workers(q, &json);
    if (rc)
        return fail(q, rc, NULL);
    if (c->json) {
        printf("%s\n", json);
    } else {
        cJSON *a = cJSON_Parse(json);
        const cJSON *w;
        cJSON_ArrayForEach(w, a) {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "name"));
            const char *addr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "addr"));
            printf("%s %s\n", name ? name : "-", addr ? addr : "-");
        }
        cJSON_Delete(a);
    }
    bullc_free(json);
    return 0;
}

static int cmd_logs(cli *c, bullc_queue_t *q)
{
    char **lines;
    size_t n;
    int rc = bullc_queue_get_logs(q, c->pos[1], &lines, &n);
    if (rc)
        return fail(q, rc, NULL);
    print_strv(c, lines, n);
    bullc_strv_free(lines);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

typedef struct command {
    const char *name;
    int min, max; /* positional words, the queue included (-1: any number) */
    int (*run)(cli *c, bullc_queue_t *q);
} command;

static const command COMMANDS[] = {
    {"queues", 0, 0, cmd_queues},   {"counts", 1, 1, cmd_counts},   {"jobs", 2, 2, cmd_jobs},
    {"job", 2, 2, cmd_job},         {"add", 2, 3, cmd_add},         {"retry", 1, -1, cmd_each},
    {"promote", 1, -1, cmd_each},   {"remove", 2, -1, cmd_each},    {"clean", 2, 2, cmd_clean},
    {"pause", 1, 1, cmd_control},   {"resume", 1, 1, cmd_control},  {"drain", 1, 1, cmd_control},
    {"obliterate", 1, 1, cmd_control}, {"events", 1, 1, cmd_events}, {"workers", 1, 1, cmd_workers},
    {"logs", 2, 2, cmd_logs},
};

/* What the flags alone make a usage error, before anything is connected. */
static int check_command(cli *c, const command *k)
{
    if (c->npos < k->min || (k->max >= 0 && c->npos > k->max))
        return usage("wrong number of arguments");
    int listed = c->npos > 1;
    if (!strcmp(k->name, "retry") && listed == c->all_failed)
        return usage("retry wants ids or --all-failed");
    if (!strcmp(k->name, "promote") && listed == c->all)
        return usage("promote wants ids or --all");
    if (!strcmp(k->name, "jobs") && !known_state(c->pos[1]))
        return usage("unknown state");
    if (!strcmp(k->name, "clean") && !c->have_grace)
        return usage("clean needs --grace MS");
    if (!strcmp(k->name, "obliterate") && !c->force)
        return usage("obliterate deletes the whole queue: add --force");
    if (c->limit < 0 || c->grace < 0 || c->count < 0)
        return usage("negative value");
    return 0;
}

static int run(cli *c, const command *k)
{
    c->opts.queue = k->min > 0 ? c->pos[0] : "_"; /* queues: any name, only the prefix counts */
    c->opts.log_cb = keep_first_error;
    c->opts.log_user_data = c;
    c->opts.log_level = BULLC_LOG_WARN;
    bullc_queue_t *q = NULL;
    int rc = bullc_queue_new(&q, &c->opts);
    if (rc) {
        fprintf(stderr, PROG ": %s%s%s\n", bullc_strerror(rc), c->why[0] ? ": " : "", c->why);
        return rc == BULLC_EINVAL || rc == BULLC_EURL ? 2 : 1;
    }
    rc = k->run(c, q);
    bullc_queue_free(q);
    return rc;
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    bullc_queue_opts_init(&c.opts);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        int r = global_flag(&c, argc, argv, &i);
        if (r == 2)
            return usage(NULL);
        if (r == 0) {
            fprintf(stderr, PROG ": unknown flag %s\n", argv[i]);
            return usage(NULL);
        }
    }
    if (i >= argc)
        return usage(NULL);
    c.cmd = argv[i];
    c.argc = argc - i - 1;
    c.argv = argv + i + 1;
    char *pos[argc > 1 ? argc : 1];
    c.pos = pos;
    for (size_t k = 0; k < sizeof COMMANDS / sizeof *COMMANDS; k++) {
        if (strcmp(c.cmd, COMMANDS[k].name))
            continue;
        int rc = command_flags(&c);
        if (rc == 0)
            rc = check_command(&c, &COMMANDS[k]);
        return rc ? rc : run(&c, &COMMANDS[k]);
    }
    fprintf(stderr, PROG ": unknown command %s\n", c.cmd);
    return usage(NULL);
}
