/* http.h - the example workers' HTTP endpoints (libmicrohttpd, loaded at run time by
 * ex_http_start only, on its own thread):
 *   GET /metrics   the worker's statistics (bullc_worker_stats_prometheus) and the queue's job
 *                  counts (bullc_queue_jobs{queue,state}, read with a bullc_queue_t of our own
 *                  every EX_HTTP_COUNTS_MS, never per scrape), text format 0.0.4
 *   GET /healthz   200 "ok" while the worker runs and Redis answers; else 503 and one line
 *                  saying why (worker not running, Redis unreachable, blocking loop stalled)
 *   anything else  404 (405 for another method on those two paths) */
#ifndef EX_HTTP_H
#define EX_HTTP_H

#include <bullc.h>
#include <stddef.h>

/* How often the queue's counts are read, and the Redis probe that /healthz also uses. */
#define EX_HTTP_COUNTS_MS 2000

typedef struct ex_http ex_http;

/* ex_http_start's answer when the program's setup is at fault (exit status 2): `listen` is not
 * a HOST:PORT that resolves, or libmicrohttpd cannot be loaded. */
#define EX_HTTP_ESETUP (-2)

/* Serves the endpoints on `listen` ("HOST:PORT", e.g. 127.0.0.1:9464 or [::1]:9464) for
 * `worker`, whose queue `queue_opts` names (its Redis, prefix, queue and TLS; copied); loads
 * libmicrohttpd (dlopen) first. 0; EX_HTTP_ESETUP or -1 (port in use, out of memory) with `err`
 * saying why in one line. */
int ex_http_start(ex_http **out, const char *listen, bullc_worker_t *worker,
                  const bullc_queue_opts_t *queue_opts, char *err, size_t errlen);
/* Stops serving, unloads libmicrohttpd and frees. NULL is a no-op. */
void ex_http_stop(ex_http *h);

#endif
