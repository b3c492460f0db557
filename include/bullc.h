/*
 * bullc.h - libbullc: process BullMQ 6 jobs from C, wire-compatible with Node's BullMQ.
 *
 * A bullc_worker_t takes jobs that Node (or any BullMQ) producers put into a queue in Redis,
 * runs a C handler for each, and completes or fails them exactly as a Node BullMQ Worker would,
 * so Node's Queue, QueueEvents, getWorkers() and dashboards keep working.
 *
 * Conventions
 *   - Every call returns 0 (BULLC_OK) on success or a negative BULLC_E* code.
 *   - Strings passed in are copied. `const char *` results are borrowed: a job's strings stay
 *     valid until its handler returns. Memory the library hands out goes back via bullc_free().
 *   - Every _new has a _free, and _free(NULL) does nothing.
 *   - The library never aborts and never prints; it reports through an optional log callback.
 *   - Nothing is thread-safe unless its comment says so. Callbacks say on which threads they
 *     run; those that may run on several threads at once (log, event, backoff) must be
 *     thread-safe.
 *   - Structs the program allocates (options, bulk jobs, counts) cross the API with their size:
 *     the calls taking them are macros that pass sizeof for you. The library reads only the
 *     fields the program's struct has (missing ones keep their defaults), refuses non-zero bytes
 *     past the fields it knows (BULLC_EINVAL: the program needs a newer library), and writes no
 *     more of an output struct than the program has. Fields are only ever appended, so a
 *     program built against an older header keeps working with a newer library. Incompatible
 *     changes bump the SONAME (libbullc.so.0.<minor> while the version is 0.x).
 *
 * Copyright (c) 2026 the libbullc authors. MIT License, see LICENSE.
 */
#ifndef BULLC_H
#define BULLC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define BULLC_API __attribute__((visibility("default")))
#else
#define BULLC_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */

#define BULLC_VERSION_MAJOR 0
#define BULLC_VERSION_MINOR 3
#define BULLC_VERSION_PATCH 0
#define BULLC_VERSION_STRING "0.3.0"

/* The BullMQ release whose Redis data model this library writes. */
#define BULLC_BULLMQ_VERSION "6.7.0"

/* The library's version string, e.g. "0.2.0". */
BULLC_API const char *bullc_version(void);

/* ---------------------------------------------------------------------------------------------
 * Errors
 *
 * One table generates the codes, bullc_strerror() and bullc_errname(). Codes are only ever
 * appended, never renumbered.
 * ------------------------------------------------------------------------------------------- */

#define BULLC_ERRNO_MAP(XX)                                                                   \
    XX(NOMEM, -1, "out of memory")                                                            \
    XX(INVAL, -2, "invalid argument")                                                         \
    XX(URL, -3, "invalid Redis URL")                                                          \
    XX(CONNECT, -4, "cannot connect to Redis")                                                \
    XX(IO, -5, "Redis connection lost")                                                       \
    XX(PROTO, -6, "unexpected reply from Redis")                                              \
    XX(SCRIPT, -7, "Redis script error")                                                      \
    XX(AUTH, -8, "Redis authentication failed")                                               \
    XX(MISUSE, -9, "call made in the wrong state")                                            \
    XX(THREAD, -10, "cannot start a thread")                                                  \
    XX(JSON, -11, "invalid JSON")                                                             \
    XX(BADJOB, -12, "malformed job in Redis")                                                 \
    XX(NOJOB, -13, "job does not exist")                                                      \
    XX(LOCKMISSING, -14, "job lock is missing (it expired)")                                  \
    XX(NOTINSTATE, -15, "job is not in the expected state")                                   \
    XX(PENDINGCHILDREN, -16, "job has pending children")                                      \
    XX(NOPARENT, -17, "parent job does not exist")                                            \
    XX(LOCKMISMATCH, -18, "job lock is held by another worker")                               \
    XX(FAILEDCHILDREN, -19, "job has failed children")                                        \
    XX(JOBFAILED, -20, "job failed")                                                          \
    XX(UNRECOVERABLE, -21, "job failed (unrecoverable)")                                      \
    XX(NOHANDLER, -22, "no handler for this job name")                                        \
    XX(MOVED, -23, "job was moved by its handler; no outcome recorded")                       \
    XX(RATELIMITED, -24, "queue is rate limited; job returned to wait")                       \
    XX(EXISTS, -25, "a job with this id already exists")                                      \
    XX(TLS, -26, "TLS failed (handshake or certificate verification)")                       \
    XX(CROSSSLOT, -27, "the queue's keys would span Redis Cluster hash slots")

typedef enum bullc_error {
    BULLC_OK = 0,
#define BULLC__ERR_ENUM(name, code, text) BULLC_E##name = (code),
    BULLC_ERRNO_MAP(BULLC__ERR_ENUM)
#undef BULLC__ERR_ENUM
} bullc_error_t;

/* A static description of a code ("out of memory"). Never NULL. */
BULLC_API const char *bullc_strerror(int code);
/* The code's name ("BULLC_ENOMEM"). Never NULL. */
BULLC_API const char *bullc_errname(int code);

/* Frees memory the library handed out (bullc_json_print, ...). NULL is a no-op. */
BULLC_API void bullc_free(void *ptr);

/* ---------------------------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------------------------- */

typedef enum bullc_log_level {
    BULLC_LOG_ERROR = 0,
    BULLC_LOG_WARN = 1,
    BULLC_LOG_INFO = 2,
    BULLC_LOG_DEBUG = 3
} bullc_log_level_t;

/* Receives one line of log text (no trailing newline). May be called from any of the worker's
 * threads, concurrently: make it thread-safe. */
typedef void (*bullc_log_cb)(bullc_log_level_t level, const char *message, void *user_data);

typedef struct bullc_job bullc_job_t;

/* Like bullc_log_cb, with the job the line is about (one being taken, or whose outcome could
 * not be recorded), or NULL for lines about no job. The job is valid
 * only during the call; read it with bullc_job_id()/bullc_job_name() (and the other getters).
 * Set as bullc_worker_opts_t.log_job_cb; same threads and thread-safety as bullc_log_cb. */
typedef void (*bullc_log_job_cb)(bullc_log_level_t level, const char *message,
                                 const bullc_job_t *job, void *user_data);

/* ---------------------------------------------------------------------------------------------
 * Parsed JSON (read-only view of a job's data)
 * ------------------------------------------------------------------------------------------- */

typedef struct bullc_json bullc_json_t;

typedef enum bullc_json_type {
    BULLC_JSON_NONE = 0, /* NULL pointer: missing key, index out of range */
    BULLC_JSON_NULL,
    BULLC_JSON_FALSE,
    BULLC_JSON_TRUE,
    BULLC_JSON_NUMBER,
    BULLC_JSON_STRING,
    BULLC_JSON_ARRAY,
    BULLC_JSON_OBJECT
} bullc_json_type_t;

/* Type of a value; BULLC_JSON_NONE for NULL. */
BULLC_API bullc_json_type_t bullc_json_type(const bullc_json_t *v);
/* Member `key` of an object, or NULL (not an object, or no such key). */
BULLC_API const bullc_json_t *bullc_json_get(const bullc_json_t *obj, const char *key);
/* Number of elements of an array or members of an object; 0 otherwise. */
BULLC_API size_t bullc_json_size(const bullc_json_t *v);
/* Element `i` of an array (or member i of an object), or NULL. */
BULLC_API const bullc_json_t *bullc_json_at(const bullc_json_t *v, size_t i);
/* The key of an object member returned by bullc_json_at, else NULL. */
BULLC_API const char *bullc_json_key(const bullc_json_t *v);
/* A string's text (borrowed), or NULL if `v` is not a string. */
BULLC_API const char *bullc_json_string(const bullc_json_t *v);
/* Stores a number's value in *out. BULLC_EINVAL if `v` is not a number. */
BULLC_API int bullc_json_number(const bullc_json_t *v, double *out);
/* Stores an integral number in *out. BULLC_EINVAL if `v` is not a number or not an integer
 * that fits in a long long. */
BULLC_API int bullc_json_int(const bullc_json_t *v, long long *out);
/* Finds member `key` of the JSON object text `json` and points *value at its raw value text
 * (*len bytes, not NUL-terminated) inside `json`: exactly what the producer wrote, so numbers and
 * strings keep their original spelling. Keys are compared as written (escapes are not decoded);
 * the last duplicate wins, as in JSON.parse. BULLC_EINVAL if `json` is not an object or has no
 * such member, BULLC_EJSON if it is malformed. */
BULLC_API int bullc_json_member_raw(const char *json, const char *key, const char **value,
                                    size_t *len);
/* Compact JSON text of `v`; free it with bullc_free(). NULL on allocation failure or NULL v. */
BULLC_API char *bullc_json_print(const bullc_json_t *v);

/* ---------------------------------------------------------------------------------------------
 * Jobs (lent to handlers)
 *
 * A bullc_job_t belongs to the worker. It is valid only inside the handler it is passed to, and
 * only on that handler's thread.
 * ------------------------------------------------------------------------------------------- */

typedef struct bullc_job bullc_job_t;

/* Job id, e.g. "42" or a custom id. */
BULLC_API const char *bullc_job_id(const bullc_job_t *job);
/* Job name as given to Queue.add(name, ...). */
BULLC_API const char *bullc_job_name(const bullc_job_t *job);
/* The job's data as raw JSON text, exactly as the producer stored it. Never NULL. */
BULLC_API const char *bullc_job_data(const bullc_job_t *job);
/* The job's data parsed (lazily, once; also usable on the const job an event callback gets).
 * NULL if it is not valid JSON (or out of memory). A string containing \u0000 reads as cut
 * short at the NUL: use bullc_json_member_raw to see such values whole. */
BULLC_API const bullc_json_t *bullc_job_data_json(const bullc_job_t *job);
/* The job's stored options as raw JSON text ("{}" when absent). */
BULLC_API const char *bullc_job_opts(const bullc_job_t *job);
/* The job's stored options, parsed. NULL if invalid. */
BULLC_API const bullc_json_t *bullc_job_opts_json(const bullc_job_t *job);
/* Attempts made before this one (BullMQ attemptsMade, hash field `atm`). */
BULLC_API long bullc_job_attempts_made(const bullc_job_t *job);
/* Attempts started, including this one (attemptsStarted, `ats`). */
BULLC_API long bullc_job_attempts_started(const bullc_job_t *job);
/* Creation time in ms since the epoch. */
BULLC_API long long bullc_job_timestamp(const bullc_job_t *job);
/* Any raw field of the job hash (e.g. "parentKey"), or NULL if absent. */
BULLC_API const char *bullc_job_field(const bullc_job_t *job, const char *field);

/* Sets the job's result: `json` must be valid JSON text (it is stored as the job's
 * returnvalue). It is copied. Without a result a completed job returns null.
 * BULLC_EJSON if `json` is not valid JSON. */
BULLC_API int bullc_job_set_result(bullc_job_t *job, const char *json);

/* Records `message` as the failure reason and returns BULLC_EJOBFAILED, so a handler can write
 * `return bullc_job_fail(job, "out of stock");`. The job is retried if its `attempts` allow. */
BULLC_API int bullc_job_fail(bullc_job_t *job, const char *message);

/* Like bullc_job_fail, but the job is never retried (BullMQ's UnrecoverableError). Returns
 * BULLC_EUNRECOVERABLE. */
BULLC_API int bullc_job_fail_unrecoverable(bullc_job_t *job, const char *message);

/* ---- Calls a handler may make on its job (only from the handler's own thread) --------------
 * Each runs one script on the handler thread's own connection. Besides the codes listed, they
 * return BULLC_EMISUSE outside a handler, BULLC_ENOJOB if the job no longer exists, and
 * BULLC_EIO when Redis cannot be reached (the call is not retried). */

/* Reports progress: `json` is any JSON value (a number like "42" or an object). Stored in the
 * job's `progress` field and emitted as a `progress` event, as Node's job.updateProgress(). */
BULLC_API int bullc_job_update_progress(bullc_job_t *job, const char *json);

/* Appends one line to the job's log (Queue.getJobLogs). Honours the job's `keepLogs` option
 * (only the newest keepLogs lines are kept). `text` is any string; stored as is. */
BULLC_API int bullc_job_log(bullc_job_t *job, const char *text);

/* Replaces the job's data with `json` (valid JSON text), as Node's job.updateData(). Later calls
 * to bullc_job_data(), bullc_job_data_json() and bullc_job_field(job, "data") return the new
 * data; strings and views obtained before stay valid until the handler returns. */
BULLC_API int bullc_job_update_data(bullc_job_t *job, const char *json);

/* Moves the active job to delayed until `timestamp_ms` (ms since the epoch; a past time means
 * now) without counting an attempt, as Node's job.moveToDelayed() followed by throwing
 * DelayedError. On success returns BULLC_EMOVED: the handler must return that value (the worker
 * then records no outcome). BULLC_ELOCKMISSING/BULLC_ELOCKMISMATCH if the job's lock was lost. */
BULLC_API int bullc_job_move_to_delayed(bullc_job_t *job, long long timestamp_ms);

/* If the job has unfinished children, moves it to waiting-children and returns BULLC_EMOVED
 * (return it from the handler; the job runs again once its children are done). Returns 0 when
 * there are no pending children: the handler goes on and completes the job. On a failure from
 * Redis (e.g. BULLC_EFAILEDCHILDREN when a failParentOnFailure child failed) the job's failure
 * reason is set to Node's message for it, so returning the code fails the job as Node would. */
BULLC_API int bullc_job_move_to_waiting_children(bullc_job_t *job);

/* The return values of this job's processed children, as a JSON object text mapping each
 * child's key ("bull:queue:id") to its returnvalue, exactly as Node's job.getChildrenValues().
 * *json_out must be freed with bullc_free(). "{}" when there are none. */
BULLC_API int bullc_job_children_values(bullc_job_t *job, char **json_out);

/* The failures this job chose to tolerate: a JSON object text mapping the key of each child
 * that failed with ignoreDependencyOnFailure or continueParentOnFailure to its failedReason (a
 * string), as Node's job.getIgnoredChildrenFailures(). Free *json_out with bullc_free(). */
BULLC_API int bullc_job_ignored_children_failures(bullc_job_t *job, char **json_out);

/* Rate-limits the whole queue for `delay_ms` (> 0) and puts this job back at the front of wait
 * without counting an attempt (Node's worker.rateLimit(ms) + throw Worker.RateLimitError()).
 * This worker then fetches nothing until the limit expires. Returns BULLC_ERATELIMITED: the
 * handler must return that value. */
BULLC_API int bullc_job_rate_limit(bullc_job_t *job, long long delay_ms);

/* ---- Tracing (README "Observability") -------------------------------------------------------
 * When the worker traces (bullc_trace_opts_t), each attempt of a job has a `process <queue>`
 * span (kind CONSUMER) continuing the producer's trace from the job's `tm` option. */

/* The running attempt's process span as a W3C traceparent ("00-<trace id>-<span id>-<flags>"),
 * to pass on to the services the handler calls; NULL when the worker does not trace (or outside
 * a handler). Valid until the handler returns. In a handler process (isolate) it is the same:
 * the worker sends it with the job. */
BULLC_API const char *bullc_job_traceparent(const bullc_job_t *job);

typedef struct bullc_span bullc_span_t;

/* Span kinds, as OTLP numbers them. */
typedef enum bullc_span_kind {
    BULLC_SPAN_INTERNAL = 1,
    BULLC_SPAN_SERVER = 2,
    BULLC_SPAN_CLIENT = 3,
    BULLC_SPAN_PRODUCER = 4,
    BULLC_SPAN_CONSUMER = 5
} bullc_span_kind_t;

/* Starts a span named `name` (copied), child of the job's process span (or of `parent`, a span
 * started this way, when not NULL). NULL when the worker does not trace, outside a handler, or
 * out of memory: every bullc_span_* call takes NULL and then does nothing, so a handler needs no
 * test. Call from the handler's thread; end it with bullc_span_end() before the handler returns.
 * In a handler process (isolate) the span is built there and, once ended, sent to the worker,
 * which exports it as its own (one the process did not end before dying is lost). */
BULLC_API bullc_span_t *bullc_job_span_start(bullc_job_t *job, const char *name,
                                             bullc_span_kind_t kind, bullc_span_t *parent);
/* Sets an attribute (key and value copied). */
BULLC_API void bullc_span_set_str(bullc_span_t *span, const char *key, const char *value);
BULLC_API void bullc_span_set_int(bullc_span_t *span, const char *key, long long value);
/* Adds an event now, with one string attribute (key NULL: none). */
BULLC_API void bullc_span_add_event(bullc_span_t *span, const char *name, const char *key,
                                    const char *value);
/* Marks the span failed (status ERROR) with `message`. */
BULLC_API void bullc_span_set_error(bullc_span_t *span, const char *message);
/* The span's traceparent, valid until bullc_span_end(); NULL for NULL. */
BULLC_API const char *bullc_span_traceparent(const bullc_span_t *span);
/* Ends the span (it is exported in the next batch) and frees it. */
BULLC_API void bullc_span_end(bullc_span_t *span);

/* ---- Cancellation ----------------------------------------------------------------------------
 * C handlers cannot be cut short: the worker asks them to stop, and they poll. */

/* Why a running handler should stop (the bits bullc_job_should_stop() answers with). */
typedef enum bullc_stop_reason {
    BULLC_STOP_LOCK_LOST = 1, /* lock renewal found the job's lock gone or another worker's:
                                 someone else may run it now. The outcome the handler returns
                                 is still offered to Redis, which refuses it while the lock is
                                 not ours (BULLC_EVENT_LOCK_LOST), as Node's would be (a Bull
                                 job's refused failure still counts its attempt, as Node's
                                 Bull does: docs/bull.md §4.5) */
    BULLC_STOP_TIMEOUT = 2,   /* the job's `timeout` option (Bull 4) passed: whatever the
                                 handler returns, the attempt fails with Bull's reason
                                 "Promise timed out after N milliseconds" (retried and backed
                                 off as any failure); its result is discarded */
    BULLC_STOP_WORKER = 4     /* the worker is stopping and the deadline given to
                                 bullc_worker_stop_within() passed: a completion the handler
                                 still returns is recorded; a failure is not (the job stays
                                 active, its lock expires, and a stalled check requeues it,
                                 counting a stall rather than a failed attempt, as after
                                 Node's worker.close(true)) */
} bullc_stop_reason_t;

/* Whether the running handler should give up its job: 0 to go on, else the bits of
 * bullc_stop_reason_t that apply (once set they stay set for this run). Cheap (an atomic load;
 * a clock read for a job with a timeout): poll it every few ms in long work and return soon
 * after it says so (any code: see each reason for what is recorded). Call it only from the
 * handler's own thread while the handler runs; BULLC_EMISUSE otherwise (e.g. from an event
 * callback). Lock loss is seen at the worker's next lock renewal (every lock_renew_ms / 2, so
 * within about half the renew period of it happening), a timeout at once. */
BULLC_API int bullc_job_should_stop(const bullc_job_t *job);

/* ---------------------------------------------------------------------------------------------
 * Workers
 * ------------------------------------------------------------------------------------------- */

typedef struct bullc_worker bullc_worker_t;

/* A handler processes one job. Return 0 to complete it (with the result set by
 * bullc_job_set_result, or null), BULLC_EUNRECOVERABLE to fail it without retry, and any other
 * negative code to fail it (retried while the job's `attempts` allow). The failure reason is the
 * message given to bullc_job_fail*, else bullc_strerror(code).
 * Handlers run on the worker's handler threads, up to `concurrency` at once; with
 * bullc_worker_opts_t.isolate, each in the handler process of its slot instead, where every
 * bullc_job_* call works the same (it is carried out by the worker). */
typedef int (*bullc_handler_fn)(bullc_job_t *job, void *user_data);

/* How many finished jobs to keep (BullMQ's removeOnComplete / removeOnFail as KeepJobs).
 * count: -1 keeps all, 0 removes at once, n keeps the newest n.
 * age_s: when > 0, also removes jobs finished more than age_s seconds ago (at most `limit`
 * per finish, 0 = BullMQ's default of 1000). */
typedef struct bullc_keep_jobs {
    long count;
    long age_s;
    long limit;
} bullc_keep_jobs_t;

typedef enum bullc_event {
    BULLC_EVENT_COMPLETED = 1, /* job completed; detail = returnvalue JSON */
    BULLC_EVENT_FAILED,        /* job failed for good; detail = failedReason */
    BULLC_EVENT_RETRYING,      /* job failed, will be retried; detail = failedReason */
    BULLC_EVENT_LOCK_LOST,     /* finishing was refused: another worker owns the job now */
    BULLC_EVENT_DRAINED        /* the queue looked empty; job = NULL */
} bullc_event_t;

/* Called after Redis has recorded the outcome, on the handler thread that ran the job (or, for
 * BULLC_EVENT_DRAINED, on whichever worker thread saw the queue empty): up to `concurrency`
 * calls may run at once, so it must be thread-safe. */
typedef void (*bullc_event_cb)(bullc_event_t event, const bullc_job_t *job, const char *detail,
                               void *user_data);

/* A custom backoff strategy, for jobs whose `backoff.type` is neither "fixed" nor "exponential"
 * (Node's settings.backoffStrategy). Called on the handler thread (several may call it at once:
 * make it thread-safe) with the attempts made so far
 * including the one that just failed, the type ("" when the job's backoff names none), the
 * failure reason and the job. Returns the delay in ms before the retry (0 = retry at once) or -1
 * to fail the job for good. Without a strategy such a job is failed for good with its own reason
 * and a warning is logged (Node would throw and leave it active until the stalled check). */
typedef long long (*bullc_backoff_fn)(long attempts_made, const char *type, const char *reason,
                                      const bullc_job_t *job, void *user_data);

/* Called in each handler process of an isolated worker (bullc_worker_opts_t.isolate) once,
 * before its first job, with the process's slot (0 .. concurrency-1) and child_user_data.
 * The process is a fork of the program taken when bullc_worker_run() started: what init
 * writes to memory is that process's own, so it may fill in the structures the handlers'
 * user_data points to (open a database connection, load a model). Return 0, or anything else
 * to refuse: the process exits, bullc_worker_run() then returns BULLC_ETHREAD (at start) or
 * the job the replacement was for fails. */
typedef int (*bullc_child_init_fn)(int slot, void *user_data);
/* Called in a handler process that exits because the worker stops (not after a crash). */
typedef void (*bullc_child_fini_fn)(int slot, void *user_data);

/* TLS settings for rediss:// and rediss-sentinel:// URLs (ignored by the others). The server is
 * verified unless `insecure`: its certificate against `ca_file` (or the system's store), and
 * its name: the host connected to, or `server_name`. An IP address is checked against the
 * certificate's IP addresses, a name against its DNS names. Files are read when the handle is
 * made; the strings are copied. Its size is fixed, since the option structs embed it: later
 * TLS settings would be appended to those. */
typedef struct bullc_tls_opts {
    const char *ca_file;       /* PEM CA certificates; NULL = the system's store */
    const char *cert_file;     /* PEM client certificate for mutual TLS; NULL = none */
    const char *key_file;      /* its PEM private key; NULL = in cert_file */
    const char *server_name;   /* SNI and the name verified; NULL = the host connected to */
    int insecure;              /* 1 = do not verify the server (tests only); 0 */
} bullc_tls_opts_t;

/* OpenTelemetry tracing of a worker's jobs (README "Observability"). Every field left at its
 * zero value takes the standard environment variable named beside it, then the default; a worker
 * whose options have no `trace` reads the environment alone. Tracing is on when an endpoint is
 * known (or `enabled` is 1) and OTEL_SDK_DISABLED is not "true"; off, it costs nothing (no
 * thread, no allocation per job). Strings are copied by bullc_worker_new(). The struct carries
 * its own size (set by bullc_trace_opts_init), so fields can be appended to it. */
typedef struct bullc_trace_opts {
    size_t size;                     /* set by bullc_trace_opts_init(); do not change */
    int enabled;                     /* 0: as the environment says; 1: on (endpoint default
                                        http://localhost:4318); -1: off */
    const char *endpoint;            /* OTEL_EXPORTER_OTLP_ENDPOINT: spans go to
                                        <endpoint>/v1/traces */
    const char *traces_endpoint;     /* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the URL, as is */
    const char *protocol;            /* OTEL_EXPORTER_OTLP_PROTOCOL: only "http/json" (others
                                        are refused with a log line: no tracing) */
    const char *headers;             /* OTEL_EXPORTER_OTLP_HEADERS: "k=v,k2=v2" (URL-encoded) */
    const char *service_name;        /* OTEL_SERVICE_NAME, else "unknown_service" */
    const char *resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2" */
    const char *sampler;             /* OTEL_TRACES_SAMPLER: parentbased_always_on (default),
                                        always_on, always_off, traceidratio,
                                        parentbased_always_off, parentbased_traceidratio */
    const char *sampler_arg;         /* OTEL_TRACES_SAMPLER_ARG: the ratio, 1.0 */
    int max_queue_size;              /* OTEL_BSP_MAX_QUEUE_SIZE, 2048 spans: more are dropped and
                                        counted (bullc_worker_stats_t.trace_spans_dropped) */
    int max_export_batch_size;       /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512 */
    int schedule_delay_ms;           /* OTEL_BSP_SCHEDULE_DELAY, 5000: longest wait before a
                                        partial batch is sent */
    int export_timeout_ms;           /* OTEL_EXPORTER_OTLP_TIMEOUT, 10000: one request's limit */
    int shutdown_timeout_ms;         /* 3000: how long the end of bullc_worker_run() spends
                                        sending what is queued */
} bullc_trace_opts_t;

/* Fills `opts` with zeros (every setting from the environment) and its size. */
#define bullc_trace_opts_init(opts) bullc_trace_opts_init_sized((opts), sizeof(bullc_trace_opts_t))
BULLC_API void bullc_trace_opts_init_sized(bullc_trace_opts_t *opts, size_t size);

/* Worker options. Always start from bullc_worker_opts_init(), which sets BullMQ's defaults;
 * bullc_worker_new() copies everything. */
typedef struct bullc_worker_opts {
    const char *redis_url;     /* "redis://127.0.0.1:6379"; every form is in the README
                                  ("Connecting to Redis"): redis://, rediss:// (TLS),
                                  redis-sentinel://, rediss-sentinel://; a Cluster is found
                                  from any node's redis:// or rediss:// URL */
    const char *prefix;        /* key prefix, "bull" */
    const char *queue;         /* queue name (required, no ':') */
    const char *name;          /* worker name (stored as `pb`, shown by getWorkers), NULL = none */
    int concurrency;           /* handlers running at once, 1 */
    int lock_duration_ms;      /* 30000 */
    int lock_renew_ms;         /* 0 = lock_duration_ms / 2 */
    int stalled_interval_ms;   /* 30000 */
    int max_stalled_count;     /* 1 */
    int drain_delay_ms;        /* longest wait on an empty queue before polling again, 5000 */
    int skip_stalled_check;    /* 0 */
    int skip_lock_renewal;     /* 0 */
    bullc_keep_jobs_t remove_on_complete; /* used when a job has no removeOnComplete; keep all */
    bullc_keep_jobs_t remove_on_fail;     /* likewise for removeOnFail; keep all */
    int connect_timeout_ms;    /* 5000; 0 = no limit of ours (the OS decides) */
    bullc_log_cb log_cb;       /* NULL = silent */
    void *log_user_data;
    bullc_log_level_t log_level; /* BULLC_LOG_INFO */
    bullc_event_cb event_cb;   /* NULL = none */
    void *event_user_data;
    int limiter_max;           /* worker-side rate limit: at most limiter_max jobs ... */
    int limiter_duration_ms;   /* ... per limiter_duration_ms for the whole queue; 0 = none
                                  (set both or neither); the queue's meta.max wins over
                                  limiter_max, as in Node */
    int metrics_max_data_points; /* > 0 records per-minute completed/failed counts for
                                    Queue.getMetrics(), keeping this many points; 0 = off */
    int max_started_attempts;  /* > 0: a job started more often than this fails unrecoverably
                                  ("job started more than allowable limit") without running, and
                                  one started this often is not retried; 0 = no limit */
    bullc_backoff_fn backoff_fn; /* custom backoff strategy, NULL = none */
    void *backoff_user_data;
    int maximum_rate_limit_delay_ms; /* longest idle wait while the queue is rate limited before
                                        fetching again (Node's maximumRateLimitDelay), 30000 */
    bullc_tls_opts_t tls;      /* for rediss:// URLs */
    const char *protocol;      /* the queue's wire protocol: "bullmq" (BullMQ 6, the default;
                                  NULL means it) or "bull" (legacy Bull 4, as @nestjs/bull
                                  uses; docs/bull.md). Any other name: BULLC_EINVAL */
    bullc_log_job_cb log_job_cb; /* NULL = none; when set, log lines go to it (with their job)
                                    instead of log_cb, with log_user_data and log_level */
    /* Isolated handlers (README "Isolated handlers", docs/architecture.md §10): with `isolate`
     * set, handlers run in child processes, one per concurrency slot, so that a handler that
     * crashes fails its job instead of taking the worker down: at once, as an ordinary failure
     * (retried per `attempts`), with the reason "handler process killed by SIGSEGV" or
     * "handler process exited with status N"; a replacement process is forked. The processes
     * are forked by a fork server that bullc_worker_run() forks before the worker starts any
     * thread (threads the program started before are not in it; glibc's malloc and stdio are
     * fork-safe, other locks such a thread held at that instant would stay held). Each is a
     * copy of the program at that moment with only stdin, stdout and stderr open, default
     * signal handling and its own process group, and dies with the worker. The Redis
     * connections, locks, events and callbacks other than child_init/child_fini stay in the
     * worker's process. bullc_worker_stop() lets running jobs finish (or tells them through
     * bullc_job_should_stop), then every process runs child_fini and exits; run() reaps them
     * all before it returns. */
    int isolate;               /* 0; 1 = run handlers in handler processes */
    int isolate_timeout_ms;    /* 0 = none; > 0 (isolate only): a handler process running one
                                  job longer is killed (SIGKILL) and the job fails with
                                  "handler process timed out after N ms" (retried as any
                                  failure) */
    int isolate_memory_mb;     /* 0 = none; > 0 (isolate only): each handler process's address
                                  space may grow at most this many MB beyond its size once
                                  child_init returned (RLIMIT_AS); a handler that dies after an
                                  allocation failed, or returns BULLC_ENOMEM, fails its job
                                  with "handler process hit its memory limit (N MB) ..." */
    bullc_child_init_fn child_init; /* NULL = none; isolate only: run once in each handler
                                       process before its first job */
    bullc_child_fini_fn child_fini; /* NULL = none; isolate only: run in a handler process
                                       that exits cleanly (the worker stopping) */
    void *child_user_data;     /* passed to child_init and child_fini */
    const bullc_trace_opts_t *trace; /* NULL = tracing from the OTEL_* environment alone;
                                        read (and copied) by bullc_worker_new() */
    const char *limiter_group_key; /* Bull only (protocol "bull"), with limiter_max: the rate
                                      limit counts per group, as Bull's limiter `groupKey`: a
                                      job's group is the text after the last ':' of its id
                                      (the ids a producer with the same group key forms,
                                      docs/bull.md §3, §4.11). Any non-empty text turns it on
                                      (Bull reads the group from the id, not from the data).
                                      NULL or "" = one limit for the queue. Copied. */
    int limiter_bounce_back;       /* Bull only, with limiter_max: 1 = a job over the limit goes
                                      back to wait (Bull's `bounceBack`) instead of delayed,
                                      and this worker takes nothing until the window ends;
                                      0 = to delayed. BullMQ workers refuse both options
                                      (BULLC_EINVAL, with a log line). */
} bullc_worker_opts_t;

/* Fills `opts` with the defaults listed above. */
#define bullc_worker_opts_init(opts) bullc_worker_opts_init_sized((opts), sizeof(bullc_worker_opts_t))
BULLC_API void bullc_worker_opts_init_sized(bullc_worker_opts_t *opts, size_t size);

/* Creates a worker. Checks the options (BULLC_EINVAL, BULLC_EURL; BULLC_ETLS when a TLS file
 * cannot be read; what was refused goes to the options' log callback) but does not connect yet. BULLC_ENOMEM, or BULLC_ETHREAD when
 * the stop pipe cannot be made. On error *out is NULL. */
#define bullc_worker_new(out, opts) bullc_worker_new_sized((out), (opts), sizeof(bullc_worker_opts_t))
BULLC_API int bullc_worker_new_sized(bullc_worker_t **out, const bullc_worker_opts_t *opts,
                                     size_t size);

/* Frees a worker that is not running. NULL is a no-op. */
BULLC_API void bullc_worker_free(bullc_worker_t *worker);

/* Registers `fn` for jobs named `job_name`, or as the catch-all when `job_name` is NULL.
 * Call before bullc_worker_run(). A job with no matching handler and no catch-all fails with
 * "no handler for job name ...". BULLC_EMISUSE once running. */
BULLC_API int bullc_worker_on(bullc_worker_t *worker, const char *job_name, bullc_handler_fn fn,
                              void *user_data);

/* Connects and processes jobs until bullc_worker_stop() is called; then stops taking jobs, lets
 * running handlers finish, records their outcomes, and returns 0. Runs lock renewal and stalled
 * checks on the calling thread; handlers run on `concurrency` threads the worker creates.
 * Returns an error (BULLC_ECONNECT, BULLC_EAUTH, ...) if the first connection fails, and
 * BULLC_ETHREAD if a thread could not be started (the threads that did are stopped and joined
 * first) or, with `isolate`, a handler process could not be (a child_init refused: see
 * bullc_worker_errmsg); later connection losses are logged and retried with backoff. BULLC_EMISUSE if it is
 * already running. A stopped worker stays stopped: calling run() again returns 0 at once. */
BULLC_API int bullc_worker_run(bullc_worker_t *worker);

/* Asks a running worker to stop. Safe from any thread and from a signal handler
 * (async-signal-safe). Calling it before run() makes run() return at once. */
BULLC_API void bullc_worker_stop(bullc_worker_t *worker);

/* Like bullc_worker_stop(), and once `deadline_ms` (>= 0) more ms have passed while handlers
 * still run, tells them to stop (bullc_job_should_stop() answers BULLC_STOP_WORKER; 0 = at
 * once). run() still returns only when every handler has returned: one that never polls keeps
 * it waiting. Several calls keep the earliest deadline; bullc_worker_stop() keeps any deadline
 * given. Safe from any thread and from a signal handler (async-signal-safe). A negative
 * deadline is taken as 0. */
BULLC_API void bullc_worker_stop_within(bullc_worker_t *worker, long long deadline_ms);

/* Stops taking new jobs until bullc_worker_resume(); running handlers finish normally (their
 * outcome is recorded without fetching a next job). Local to this worker, like Node's
 * worker.pause(true) (the queue stays unpaused for others); stalled checks pause too, lock
 * renewal goes on. Thread-safe (not async-signal-safe); may be called before run(). */
BULLC_API void bullc_worker_pause(bullc_worker_t *worker);
/* Undoes bullc_worker_pause(). Thread-safe. */
BULLC_API void bullc_worker_resume(bullc_worker_t *worker);

/* Detail of the last error from bullc_worker_run() (Redis's or the OS's text). Never NULL. */
BULLC_API const char *bullc_worker_errmsg(const bullc_worker_t *worker);

/* ---------------------------------------------------------------------------------------------
 * Worker statistics and health
 *
 * bullc_worker_stats() copies a running (or stopped) worker's counters: cheap enough to call on
 * every scrape. Counters are kept with atomic increments on the job path (no lock); each field
 * is read atomically, but fields read together may be a job apart while jobs are finishing.
 * ------------------------------------------------------------------------------------------- */

/* Buckets of the handler run-time histogram (upper bounds in duration_le, Prometheus's default
 * 5 ms ... 10 s; runs above the last bound count only in duration_count). */
#define BULLC_STATS_BUCKETS 11

typedef struct bullc_worker_stats {
    const char *queue;                  /* the queue's name, borrowed from the worker */
    /* Outcomes Redis recorded (an outcome that could not be recorded, e.g. a lost lock, counts
     * nowhere; nor does a job its handler moved: delayed, rate limited, waiting-children). */
    unsigned long long completed;       /* completed */
    unsigned long long failed;          /* failed for good: attempts used up, unrecoverable,
                                           no handler, deferred failure, ... */
    unsigned long long retried;         /* failed attempts that will run again */
    /* The handler run-time histogram: one observation per outcome counted above, its value the
     * wall time of the handler call that led to it (0 when the job failed without running: no
     * handler, deferred failure, too many starts). So duration_count = completed + failed +
     * retried, up to jobs finishing while the snapshot is taken. */
    unsigned long long duration_count;
    double duration_sum_s;
    double duration_le[BULLC_STATS_BUCKETS];             /* bucket upper bounds, seconds */
    unsigned long long duration_buckets[BULLC_STATS_BUCKETS]; /* cumulative: runs <= le[i] */
    long long active;                   /* jobs handler threads hold now (<= concurrency) */
    int concurrency;                    /* the worker's concurrency option */
    int running;                        /* 1 between bullc_worker_run()'s start and return */
    int redis_up;                       /* 1 when the last connect or exchange on the worker's
                                           connections worked; 0 after one failed (a dead
                                           connection is seen within the drain delay plus a
                                           second while idle, or the command timeout) */
    unsigned long long reconnects;      /* connects of the worker's two connections after their
                                           first: lost connections replaced, failovers */
    int loop_parked;                    /* 1 while the blocking loop has nothing to wait for
                                           (every handler thread busy, paused, not running) */
    long long loop_age_ms;              /* ms since the blocking loop last came round; 0 when
                                           parked or never started */
    long long loop_last_unix_ms;        /* when it last came round, ms since the epoch; 0 never */
    int loop_stalled;                   /* 1 when it runs and has not come round for longer than
                                           a healthy round takes: max(drain_delay_ms, 10 s) plus
                                           any rate-limit wait in progress, plus 10 s */
    unsigned long long trace_spans_dropped;  /* spans not exported: the export queue was full,
                                                or an export failed (0 when not tracing) */
    unsigned long long trace_spans_exported; /* spans a collector accepted */
} bullc_worker_stats_t;

/* Fills `out` with the worker's counters. Thread-safe (any thread, while run() runs or not);
 * not async-signal-safe. BULLC_EINVAL for NULL arguments. */
#define bullc_worker_stats(worker, out) \
    bullc_worker_stats_sized((worker), (out), sizeof(bullc_worker_stats_t))
BULLC_API int bullc_worker_stats_sized(const bullc_worker_t *worker, bullc_worker_stats_t *out,
                                       size_t size);

/* Renders `stats` in the Prometheus text exposition format 0.0.4 (serve it with
 * "Content-Type: text/plain; version=0.0.4"), every series labelled queue="<queue>":
 *   bullc_jobs_total{outcome="completed"|"failed"|"retried"}  counter
 *   bullc_job_duration_seconds                                histogram (_bucket, _sum, _count)
 *   bullc_jobs_active, bullc_concurrency, bullc_worker_running, bullc_redis_up,
 *   bullc_blocking_loop_age_seconds, bullc_blocking_loop_stalled  gauges
 *   bullc_redis_reconnects_total                             counter
 *   bullc_trace_spans_dropped_total, bullc_trace_spans_exported_total  counters
 * each with its # HELP and # TYPE lines. *text_out is a NUL-terminated string the caller frees
 * with bullc_free(); NULL on error. BULLC_EINVAL, BULLC_ENOMEM. Thread-safe. */
#define bullc_worker_stats_prometheus(stats, text_out) \
    bullc_worker_stats_prometheus_sized((stats), sizeof(bullc_worker_stats_t), (text_out))
BULLC_API int bullc_worker_stats_prometheus_sized(const bullc_worker_stats_t *stats, size_t size,
                                                  char **text_out);


/* ---------------------------------------------------------------------------------------------
 * Queues (producer side)
 *
 * A bullc_queue_t adds jobs that any BullMQ worker (Node's or ours) consumes, and reads job
 * state. It owns one Redis connection and is not thread-safe: use one per thread.
 * ------------------------------------------------------------------------------------------- */

typedef struct bullc_queue bullc_queue_t;

typedef struct bullc_queue_opts {
    const char *redis_url;     /* "redis://127.0.0.1:6379" */
    const char *prefix;        /* "bull" */
    const char *queue;         /* queue name (required, no ':') */
    int connect_timeout_ms;    /* 5000; 0 = no limit of ours (the OS decides) */
    bullc_log_cb log_cb;       /* NULL = silent */
    void *log_user_data;
    bullc_log_level_t log_level;
    bullc_tls_opts_t tls;      /* for rediss:// URLs */
    const char *protocol;      /* "bullmq" (NULL: the default) or "bull", as for workers */
    const char *limiter_group_key; /* Bull only: job ids are formed as a Node Bull Queue whose
                                      limiter has this `groupKey` forms them, "<jobId, or a new
                                      uuid>:<the data's value at this path>", so that workers
                                      with limiter_group_key limit each group (docs/bull.md
                                      §4.11). NULL or "" = plain ids. BullMQ: BULLC_EINVAL. */
} bullc_queue_opts_t;

/* Fills `opts` with the defaults listed above. */
#define bullc_queue_opts_init(opts) bullc_queue_opts_init_sized((opts), sizeof(bullc_queue_opts_t))
BULLC_API void bullc_queue_opts_init_sized(bullc_queue_opts_t *opts, size_t size);
/* Creates a queue handle and connects (BULLC_ECONNECT, BULLC_EAUTH, BULLC_EURL, BULLC_EINVAL,
 * BULLC_ETLS, BULLC_ECROSSSLOT; bullc_queue_errmsg() is not available then: the reason goes to
 * the options' log callback).
 * On error *out is NULL. */
#define bullc_queue_new(out, opts) bullc_queue_new_sized((out), (opts), sizeof(bullc_queue_opts_t))
BULLC_API int bullc_queue_new_sized(bullc_queue_t **out, const bullc_queue_opts_t *opts,
                                    size_t size);
/* Closes the connection and frees. NULL is a no-op. */
BULLC_API void bullc_queue_free(bullc_queue_t *queue);
/* Detail of the last error on this queue (Redis's text or which option was refused). */
BULLC_API const char *bullc_queue_errmsg(const bullc_queue_t *queue);

/* Adds a job, as Node's queue.add(name, data, opts). `data_json` is the job's data as JSON text
 * (NULL = "{}"); `opts_json` is a JSON object with the same options Node takes (NULL = none):
 * jobId, delay, priority, lifo, attempts, backoff (number or {type, delay, jitter}),
 * removeOnComplete/removeOnFail (true, false, n or {age, count, limit}), keepLogs,
 * stackTraceLimit, timestamp, deduplication {id, ttl, extend, replace}, sizeLimit; and, for
 * tracing (README "Observability"), traceparent (a W3C traceparent, e.g. a span of the caller's)
 * with optional tracestate: stored as the job's `tm` option the way bullmq-otel stores a
 * producer's span, so the consuming worker's `process` span continues that trace. Unknown or
 * ill-typed options (null included), and those this producer does not offer (parent and the
 * other flow options, repeat, telemetry, deduplication keepLastIfActive/reschedule), give
 * BULLC_EINVAL; so do the values Node's Queue.add refuses, with Node's message (see
 * bullc_queue_errmsg). BULLC_EJSON when data_json or opts_json is not JSON; data_json is stored
 * verbatim. Nothing is written when an add is refused. The job is stored exactly as Node would
 * store it. If `id_out` is not NULL it receives the job id (free with bullc_free()); when the
 * id already exists, or the job was deduplicated, it is the existing job's id, as in Node. */
BULLC_API int bullc_queue_add(bullc_queue_t *queue, const char *name, const char *data_json,
                              const char *opts_json, char **id_out);

typedef struct bullc_new_job {
    const char *name;
    const char *data_json; /* NULL = "{}" */
    const char *opts_json; /* NULL = none */
} bullc_new_job_t;

/* Adds `n` jobs in one pipelined round trip, as Node's queue.addBulk(). On success, if `ids_out`
 * is not NULL, ids_out[i] receives the id of jobs[i] (each freed with bullc_free()). Options are
 * all checked before anything is sent: when one is refused nothing was added. An error from
 * Redis (BULLC_EIO, BULLC_ESCRIPT for one job) can come after some jobs were added, as with
 * Node's addBulk; ids_out then holds nothing. */
#define bullc_queue_add_bulk(queue, jobs, n, ids_out) \
    bullc_queue_add_bulk_sized((queue), (jobs), (n), sizeof(bullc_new_job_t), (ids_out))
BULLC_API int bullc_queue_add_bulk_sized(bullc_queue_t *queue, const bullc_new_job_t *jobs,
                                         size_t n, size_t size, char **ids_out);

/* The job's state as Node's job.getState() names it: "completed", "failed", "delayed",
 * "active", "waiting", "waiting-children", "prioritized" or "unknown" (protocol "bull": also
 * "paused" and "stuck", as Bull names them). *state_out is a static string (do not free). */
BULLC_API int bullc_queue_get_state(bullc_queue_t *queue, const char *job_id,
                                    const char **state_out);

/* One raw field of the job hash ("returnvalue", "failedReason", "atm", "data", ...).
 * *value_out is NULL when the field is absent; BULLC_ENOJOB when the job does not exist.
 * Free *value_out with bullc_free(). */
BULLC_API int bullc_queue_get_job_field(bullc_queue_t *queue, const char *job_id,
                                        const char *field, char **value_out);

typedef struct bullc_job_counts {
    long long waiting, active, delayed, prioritized, completed, failed, paused,
        waiting_children;
} bullc_job_counts_t;

/* Job counts per state in one round trip, as Node's queue.getJobCounts(). `paused` counts the
 * legacy v5 `paused` list, which Node 6 leaves out of its counts. */
#define bullc_queue_get_counts(queue, out) \
    bullc_queue_get_counts_sized((queue), (out), sizeof(bullc_job_counts_t))
BULLC_API int bullc_queue_get_counts_sized(bullc_queue_t *queue, bullc_job_counts_t *out,
                                           size_t size);

/* ---- Queue administration -------------------------------------------------------------------
 * What Node's Queue and Job methods of the same meaning do, leaving Redis (events included) as
 * they would: BullMQ's for protocol "bullmq", Bull 4.16.5's for protocol "bull" (docs/bull.md
 * §6 says where Bull differs). Lists come back as NULL-terminated arrays of `*n` strings: free them with
 * bullc_strv_free(). BULLC_EIO when Redis cannot be reached; detail in bullc_queue_errmsg(). */

/* Frees an array of strings the library returned (each string and the array). NULL is a no-op. */
BULLC_API void bullc_strv_free(char **strv);

/* The queues under this handle's prefix (a queue exists while its `meta` or `id` key does;
 * Bull: its `id` or `meta-paused` key, without BullMQ's `events` or `marker`), sorted (byte
 * order). Scans the keys: on a Cluster, only the node of this handle's queue. */
BULLC_API int bullc_queue_list_queues(bullc_queue_t *queue, char ***names_out, size_t *n_out);
/* Ids of the jobs in `state` ("waiting" (or "wait"), "active", "paused", "delayed",
 * "prioritized", "completed", "failed", "waiting-children") from index start to end (inclusive;
 * -1 = the last), in the order of Node's queue.getJobs(state, start, end): newest first.
 * Bull: the order of Bull's getWaiting (wait then paused), getActive, getDelayed (oldest first),
 * getCompleted, getFailed (newest first); no prioritized or waiting-children.
 * BULLC_EINVAL for another state. */
BULLC_API int bullc_queue_get_jobs(bullc_queue_t *queue, const char *state, long long start,
                                   long long end, char ***ids_out, size_t *n_out);
/* The whole job as a JSON object text, every key present: id, name, data, opts (with Node's
 * long option names), progress, attemptsMade, attemptsStarted, timestamp, processedOn,
 * finishedOn, returnvalue, failedReason, stacktrace, delay, priority, state; null when the job
 * has no such field (attemptsStarted always for Bull, which counts no starts). BULLC_ENOJOB. Free *json_out with bullc_free(). */
BULLC_API int bullc_queue_get_job_json(bullc_queue_t *queue, const char *job_id, char **json_out);
/* A failed job back to wait (Node's job.retry()): BULLC_ENOJOB, BULLC_ENOTINSTATE if not failed. */
BULLC_API int bullc_queue_retry_job(bullc_queue_t *queue, const char *job_id);
/* Every failed job back to wait (Node's queue.retryJobs()); *count_out (may be NULL) how many. */
BULLC_API int bullc_queue_retry_failed(bullc_queue_t *queue, long long *count_out);
/* A delayed job made ready now (job.promote()): BULLC_ENOTINSTATE if it is not delayed. */
BULLC_API int bullc_queue_promote_job(bullc_queue_t *queue, const char *job_id);
/* Every delayed job to wait (queue.promoteJobs(); Bull: job.promote() of each, earliest
 * first); *count_out (may be NULL) how many. */
BULLC_API int bullc_queue_promote_all(bullc_queue_t *queue, long long *count_out);
/* Removes a job and its children (queue.remove(id); Bull: job.remove()). Refused while it or a
 * child it waits for is locked by a worker (BULLC_ELOCKMISMATCH); BULLC_ENOJOB when there was
 * no such job. */
BULLC_API int bullc_queue_remove_job(bullc_queue_t *queue, const char *job_id);
/* Removes the jobs of `state` ("completed", "failed", "delayed", "prioritized", "wait" or
 * "waiting", "paused", "active") older than grace_ms, at most `limit` (0 = no limit), as Node's
 * queue.clean(grace, limit, state); Bull: queue.clean(grace, state, limit), no "prioritized").
 * *ids_out (may be NULL) gets the ids removed. */
BULLC_API int bullc_queue_clean(bullc_queue_t *queue, const char *state, long long grace_ms,
                                long long limit, char ***ids_out, size_t *n_out);
/* Global pause and resume (queue.pause() / queue.resume()): no worker takes jobs meanwhile. */
BULLC_API int bullc_queue_pause(bullc_queue_t *queue);
BULLC_API int bullc_queue_resume(bullc_queue_t *queue);
/* Removes every job not yet taken, and the delayed ones if `delayed` (queue.drain(); Bull:
 * queue.empty(), which drops the delayed set whatever `delayed` says). */
BULLC_API int bullc_queue_drain(bullc_queue_t *queue, int delayed);
/* Deletes the queue, its jobs and keys (queue.obliterate({force})): it is paused first; with
 * active jobs and no `force`, BULLC_EMISUSE (the queue stays paused, as in Node). */
BULLC_API int bullc_queue_obliterate(bullc_queue_t *queue, int force);
/* A job's log lines, oldest first (queue.getJobLogs()). BULLC_ENOJOB. */
BULLC_API int bullc_queue_get_logs(bullc_queue_t *queue, const char *job_id, char ***lines_out,
                                   size_t *n_out);
/* The connected workers of this queue (queue.getWorkers(), from CLIENT LIST) as a JSON array
 * text of {"name": worker name or null (Bull: the queue's name), "addr", "rawname"}. Free with bullc_free(). */
BULLC_API int bullc_queue_get_workers(bullc_queue_t *queue, char **json_out);
/* Entries of the queue's events stream after `after_id` (exclusive, as XREAD; NULL or "0" =
 * from the start, "$" = only new ones), at most `count` (0 = up to 1000), waiting up to
 * block_ms for the first when there is none (block_ms < 0: no wait; keep it under 30000).
 * *json_out: a JSON array text of {"id", "event", field: value...}, values as strings; "[]"
 * when none came. Free with bullc_free(). Bull queues have no events stream: BULLC_EMISUSE. */
BULLC_API int bullc_queue_read_events(bullc_queue_t *queue, const char *after_id,
                                      long long count, long long block_ms, char **json_out);

#ifdef __cplusplus
}
#endif

#endif /* BULLC_H */
