#!/usr/bin/env bash
# `make bench`: Node BullMQ 6.7.0 Worker vs build/bin/echo_worker (see bench.js), then
# build/bin/inventory_worker against PostgreSQL (see inventory.js), then Node vs echo_worker on a
# local Redis Cluster, several queues at once (see cluster.js), then plain TCP vs TLS (see tls.js),
# then isolated handlers (see isolate.js), then tracing on vs off (see trace.js), then legacy
# Bull 4: Node Bull's worker vs echo_worker --protocol bull (see bull.js).
# Run from the repository root. Environment overrides: BENCH_JOBS (20000),
# BENCH_CONCURRENCY (1,10,100), BENCH_WORKERS (node,c), BENCH_REPEAT (3),
# BENCH_TIMEOUT_S (120), BENCH_BUDGET_S (360), BENCH_JSON (path for raw results; the cluster
# and tls parts write next to it, with .cluster / .tls before the extension);
# BENCH_PARTS (echo,inventory,cluster,tls,isolate,trace,bull) and the BENCH_INV_* variables of inventory.js;
# cluster: BENCH_CLUSTER_JOBS (5000 per queue), BENCH_CLUSTER_QUEUES (4),
# BENCH_CLUSTER_CONCURRENCY (10), BENCH_CLUSTER_MASTERS (3), BENCH_CLUSTER_REPLICAS (0),
# BENCH_CLUSTER_BUDGET_S (170), BENCH_CLUSTER_JSON;
# tls: BENCH_TLS_JOBS (20000), BENCH_TLS_CONCURRENCY (10), BENCH_TLS_BUDGET_S (170), BENCH_TLS_JSON;
# isolate (echo_worker --isolate vs inline vs Node's sandboxed processors, see isolate.js):
# BENCH_ISOLATE_JOBS (5000), BENCH_ISOLATE_CONCURRENCY (10), BENCH_ISOLATE_JSON.
# trace: BENCH_TRACE_JOBS (10000), BENCH_TRACE_CONCURRENCY (10), BENCH_TRACE_BUDGET_S (150),
# BENCH_TRACE_JSON.
# bull: BENCH_JOBS and BENCH_CONCURRENCY as for echo, BENCH_BULL_BUDGET_S (360), BENCH_BULL_JSON.
# BENCH_WORKERS, BENCH_REPEAT and BENCH_TIMEOUT_S apply to the cluster, tls and bull parts too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

for tool in node redis-server redis-cli; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool not found in PATH" >&2; exit 2; }
done
if [ ! -d tests/interop/node_modules/bullmq ] || [ ! -d tests/interop/node_modules/ioredis ]; then
  echo "bench: tests/interop/node_modules is missing bullmq/ioredis; run: (cd tests/interop && npm ci --ignore-scripts)" >&2
  exit 2
fi
if [ ! -x build/bin/echo_worker ] && [ -z "${BULLC_BIN_DIR:-}" ]; then
  echo "bench: build/bin/echo_worker not built; the C worker will be skipped (run \`make\` first)" >&2
fi

parts=",${BENCH_PARTS:-echo,inventory,cluster,tls,isolate,trace,bull},"
if [[ $parts == *,tls,* ]] && ! command -v "${OPENSSL:-openssl}" >/dev/null 2>&1; then
  echo "bench: openssl not found in PATH (the tls part makes its test certificates with it)" >&2; exit 2
fi
status=0
if [[ $parts == *,echo,* ]]; then
  node tests/bench/bench.js || status=$?
fi
if [[ $parts == *,inventory,* ]]; then
  node tests/bench/inventory.js || status=$?
fi
if [[ $parts == *,cluster,* ]]; then
  node tests/bench/cluster.js || status=$?
fi
if [[ $parts == *,tls,* ]]; then
  node tests/bench/tls.js || status=$?
fi
if [[ $parts == *,isolate,* ]]; then
  node tests/bench/isolate.js || status=$?
fi
if [[ $parts == *,trace,* ]]; then
  node tests/bench/trace.js || status=$?
fi
if [[ $parts == *,bull,* ]]; then
  node tests/bench/bull.js || status=$?
fi
exit "$status"
