/* http.h - the example workers' HTTP endpoints (libmicrohttpd, on its own thread):
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

/* Serves the endpoints on `listen` ("HOST:PORT", e.g. 127.0.0.1:9464 or [::1]:9464) for
 * `worker`, whose queue `queue_opts` names (its Redis, prefix, queue and TLS; copied). 0, or -1
 * with `err` saying why (bad address, port in use). */
int ex_http_start(ex_http **out, const char *listen, bullc_worker_t *worker,
                  const bullc_queue_opts_t *queue_opts, char *err, size_t errlen);
/* Stops serving and frees. NULL is a no-op. */
void ex_http_stop(ex_http *h);

#endif
