/* bullc_enqueue - add jobs to a BullMQ queue from the command line, and read job state.
 *
 *   bullc_enqueue --queue Q [--redis URL] [--prefix P] [--protocol bullmq|bull]
 *                 NAME [DATA_JSON [OPTS_JSON]]
 *       adds one job (as Node's queue.add) and prints its id
 *   bullc_enqueue --queue Q ... --bulk FILE|-
 *       reads lines {"name":..,"data":..,"opts":..} and adds them in one round trip (addBulk),
 *       printing one id per line
 *   bullc_enqueue --queue Q ... --state ID        prints the job's state
 *   bullc_enqueue --queue Q ... --field ID FIELD  prints one raw field of the job hash (nothing
 *                                                  when the field is absent)
 *   bullc_enqueue --queue Q ... --counts          prints the job counts as JSON
 *
 * Exit status: 0 ok, 1 Redis error (or no such job), 2 bad argument or option.
 */
#include <bullc.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "bullc_enqueue"

static int usage(void)
{
    fprintf(stderr,
            "usage: " PROG " --queue Q [--redis URL] [--prefix P] [--protocol bullmq|bull]\n"
            "           [--limiter-group-key K]  (Bull: ids \"<jobId|uuid>:<data at K>\")\n"
            "           (NAME [DATA_JSON [OPTS_JSON]] | --bulk FILE|- | --state ID |\n"
            "            --field ID FIELD | --counts)\n"
            "  URL: redis://, rediss:// (TLS), redis-sentinel://h:p,h:p#master, rediss-sentinel://,\n"
            "       or any Cluster node's URL\n"
            "  TLS (environment): REDIS_TLS_CA, REDIS_TLS_CERT, REDIS_TLS_KEY, REDIS_TLS_SERVER_NAME,\n"
            "       REDIS_TLS_INSECURE=1\n");
    return 2;
}

/* The library's warnings and errors (why a connection failed) on stderr. */
static void log_to_stderr(bullc_log_level_t level, const char *message, void *user_data)
{
    (void)user_data;
    if (level <= BULLC_LOG_WARN)
        fprintf(stderr, PROG ": %s\n", message);
}

/* Exit status for a library error code. */
static int status_of(int rc)
{
    return (rc == BULLC_EINVAL || rc == BULLC_EJSON || rc == BULLC_EURL) ? 2 : 1;
}

static int report(bullc_queue_t *q, int rc)
{
    fprintf(stderr, PROG ": %s: %s\n", bullc_strerror(rc), q ? bullc_queue_errmsg(q) : "");
    return status_of(rc);
}

/* A member's raw JSON text as a new string, or NULL when absent (or null). */
static char *raw_member(const char *line, const char *key, int *oom)
{
    const char *v;
    size_t n;
    if (bullc_json_member_raw(line, key, &v, &n) != 0 || (n == 4 && !memcmp(v, "null", 4)))
        return NULL;
    char *s = malloc(n + 1);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, v, n);
    s[n] = '\0';
    return s;
}

typedef struct bulk {
    bullc_new_job_t *jobs;
    char **owned; /* 3 strings per job */
    size_t n, cap;
} bulk;

static void bulk_free(bulk *b)
{
    for (size_t i = 0; i < 3 * b->n; i++)
        free(b->owned[i]);
    free(b->owned);
    free(b->jobs);
}

/* Parses one input line into the next job; returns 0, or 2 with a message. */
static int bulk_line(bulk *b, const char *line, size_t lineno)
{
    cJSON *o = cJSON_Parse(line);
    const cJSON *name = o ? cJSON_GetObjectItemCaseSensitive(o, "name") : NULL;
    if (!cJSON_IsString(name)) {
        fprintf(stderr, PROG ": line %zu: want {\"name\": string, \"data\": .., \"opts\": {..}}\n",
                lineno);
        cJSON_Delete(o);
        return 2;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        bullc_new_job_t *j = realloc(b->jobs, cap * sizeof *j);
        if (j)
            b->jobs = j;
        char **s = j ? realloc(b->owned, 3 * cap * sizeof *s) : NULL;
        if (!s) {
            cJSON_Delete(o);
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
        b->owned = s;
        b->cap = cap;
    }
    int oom = 0;
    char **own = &b->owned[3 * b->n];
    own[0] = strdup(name->valuestring);
    own[1] = raw_member(line, "data", &oom);
    own[2] = raw_member(line, "opts", &oom);
    cJSON_Delete(o);
    b->jobs[b->n] = (bullc_new_job_t){own[0], own[1], own[2]};
    b->n++;
    if (!own[0] || oom) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    return 0;
}

static int run_bulk(bullc_queue_t *q, const char *file)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        perror(file);
        return 2;
    }
    bulk b = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int status = 0;
    while (!status && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        status = bulk_line(&b, line, lineno);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    char **ids = NULL;
    if (!status && b.n) {
        if (!(ids = calloc(b.n, sizeof *ids))) {
            fprintf(stderr, PROG ": out of memory\n");
            status = 1;
        } else {
            int rc = bullc_queue_add_bulk(q, b.jobs, b.n, ids);
            if (rc)
                status = report(q, rc);
            for (size_t i = 0; i < b.n; i++) {
                if (!rc)
                    printf("%s\n", ids[i]);
                bullc_free(ids[i]);
            }
        }
    }
    free(ids);
    bulk_free(&b);
    return status;
}

static int print_counts(bullc_queue_t *q)
{
    bullc_job_counts_t c;
    int rc = bullc_queue_get_counts(q, &c);
    if (rc)
        return report(q, rc);
    printf("{\"active\":%lld,\"completed\":%lld,\"delayed\":%lld,\"failed\":%lld,"
           "\"prioritized\":%lld,\"waiting\":%lld,\"waiting-children\":%lld,\"paused\":%lld}\n",
           c.active, c.completed, c.delayed, c.failed, c.prioritized, c.waiting,
           c.waiting_children, c.paused);
    return 0;
}

int main(int argc, char **argv)
{
    bullc_queue_opts_t o;
    bullc_queue_opts_init(&o);
    const char *bulk_file = NULL, *state_id = NULL, *field_id = NULL, *field = NULL;
    int counts = 0, npos = 0;
    const char *pos[3] = {NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--redis") && more)
            o.redis_url = argv[++i];
        else if (!strcmp(a, "--queue") && more)
            o.queue = argv[++i];
        else if (!strcmp(a, "--prefix") && more)
            o.prefix = argv[++i];
        else if (!strcmp(a, "--protocol") && more)
            o.protocol = argv[++i];
        else if (!strcmp(a, "--limiter-group-key") && more)
            o.limiter_group_key = argv[++i];
        else if (!strcmp(a, "--bulk") && more)
            bulk_file = argv[++i];
        else if (!strcmp(a, "--state") && more)
            state_id = argv[++i];
        else if (!strcmp(a, "--field") && i + 2 < argc) {
            field_id = argv[++i];
            field = argv[++i];
        } else if (!strcmp(a, "--counts"))
            counts = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage();
        else if (!strncmp(a, "--", 2) || npos == 3)
            return usage();
        else
            pos[npos++] = a;
    }
    int modes = (npos > 0) + (bulk_file != NULL) + (state_id != NULL) + (field_id != NULL) + counts;
    if (!o.queue || modes != 1)
        return usage();

    /* TLS settings for rediss:// URLs, from the environment as inventory_worker takes them */
    o.tls.ca_file = getenv("REDIS_TLS_CA");
    o.tls.cert_file = getenv("REDIS_TLS_CERT");
    o.tls.key_file = getenv("REDIS_TLS_KEY");
    o.tls.server_name = getenv("REDIS_TLS_SERVER_NAME");
    o.tls.insecure = getenv("REDIS_TLS_INSECURE") && !strcmp(getenv("REDIS_TLS_INSECURE"), "1");
    o.log_cb = log_to_stderr;
    bullc_queue_t *q = NULL;
    int rc = bullc_queue_new(&q, &o);
    if (rc) {
        fprintf(stderr, PROG ": %s\n", bullc_strerror(rc));
        return status_of(rc);
    }
    int status = 0;
    if (bulk_file) {
        status = run_bulk(q, bulk_file);
    } else if (state_id) {
        const char *state;
        if ((rc = bullc_queue_get_state(q, state_id, &state)) != 0)
            status = report(q, rc);
        else
            printf("%s\n", state);
    } else if (field_id) {
        char *value = NULL;
        if ((rc = bullc_queue_get_job_field(q, field_id, field, &value)) != 0)
            status = report(q, rc);
        else if (value)
            printf("%s\n", value);
        bullc_free(value);
    } else if (counts) {
        status = print_counts(q);
    } else {
        char *id = NULL;
        if ((rc = bullc_queue_add(q, pos[0], pos[1], pos[2], &id)) != 0)
            status = report(q, rc);
        else
            printf("%s\n", id);
        bullc_free(id);
    }
    bullc_queue_free(q);
    return status;
}
