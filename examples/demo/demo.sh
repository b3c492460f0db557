#!/usr/bin/env bash
# `make demo`: the project's main job, end to end. Starts a private Redis and a private
# PostgreSQL (in a temporary folder, on free loopback ports; PostgreSQL as the `postgres` user
# when run as root), applies sql/schema.sql and sql/seed.sql, starts build/bin/inventory_worker,
# runs the Node producer's story (examples/demo/producer.js, bullmq 6.7.0), prints each job's
# outcome as Node sees it and the final user_inventory, then stops everything it started.
#
# BULLC_PROTOCOL=bull (`BULLC_PROTOCOL=bull make demo`): the same story on a legacy Bull 4 queue,
# told by a NestJS application on @nestjs/bull (examples/demo/producer-nest.js, bull 4.16.5), with
# the worker and its dead-letter queue in Bull mode. The default, bullmq, is the above.
#
# REDIS_URL / DATABASE_URL point it at existing servers instead (the schema is applied there:
# it is idempotent). BULLC_BIN_DIR (build/bin), PG_BIN (PostgreSQL's bin folder). The Node
# packages are those of tests/interop (installed from its lockfile by `make deps`, npm ci).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
BIN=${BULLC_BIN_DIR:-$root/build/bin}
export NODE_PATH="$root/tests/interop/node_modules"

say() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

BULLC_PROTOCOL=${BULLC_PROTOCOL:-bullmq}
case $BULLC_PROTOCOL in
bullmq) producer=examples/demo/producer.js packages="bullmq" ;;
bull) producer=examples/demo/producer-nest.js packages="bull @nestjs/bull @nestjs/core" ;;
*) die "BULLC_PROTOCOL must be bullmq or bull, not '$BULLC_PROTOCOL'" ;;
esac
export BULLC_PROTOCOL # the worker's and its dead-letter queue's protocol

[ -x "$BIN/inventory_worker" ] || die "$BIN/inventory_worker is not built (run make)"
for p in $packages; do
    [ -d "$NODE_PATH/$p" ] || die "$p is not installed (run make deps)"
done

# as root, PostgreSQL runs as `postgres`, which must be able to reach the folder: /tmp always is,
# a TMPDIR under /root is not
if [ "$(id -u)" -eq 0 ]; then tmp_parent=/tmp; else tmp_parent=${TMPDIR:-/tmp}; fi
tmp=$(mktemp -d "$tmp_parent/bullc-demo.XXXXXX")
redis_pid=""
pg_data=""
worker_pid=""
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
    chown postgres: "$tmp"
fi

cleanup() {
    set +e
    [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    [ -n "$pg_data" ] && "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_for() { # what command...
    local what=$1; shift
    for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    die "$what did not come up"
}

if [ -z "${REDIS_URL:-}" ]; then
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no \
        --logfile "$tmp/redis.log" &
    redis_pid=$!
    wait_for "redis-server" redis-cli -p "$port" ping
    REDIS_URL="redis://127.0.0.1:$port"
    say "private Redis on 127.0.0.1:$port"
else
    say "using Redis at $REDIS_URL"
fi

if [ -z "${DATABASE_URL:-}" ]; then
    if [ -z "${PG_BIN:-}" ]; then
        PG_BIN=$(pg_config --bindir 2>/dev/null || true)
        [ -x "$PG_BIN/initdb" ] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    fi
    [ -x "$PG_BIN/initdb" ] || die "PostgreSQL's initdb not found (set PG_BIN)"
    port=$(free_port)
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$tmp/pg" -U postgres --auth=trust -E UTF8 --locale=C \
        --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
    pg_data="$tmp/pg"
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pg_data" -l "$tmp/pg.log" -w -t 60 \
        -o "-p $port -k $tmp -c listen_addresses=127.0.0.1" start >/dev/null ||
        { cat "$tmp/pg.log" >&2; die "PostgreSQL did not start"; }
    DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    say "private PostgreSQL on 127.0.0.1:$port ($PG_BIN)"
else
    say "using PostgreSQL at $DATABASE_URL"
    # a database that may have seen the story before: fresh user ids for this run
    export DEMO_USER_SUFFIX="${DEMO_USER_SUFFIX:--$(date +%s)}"
fi
export REDIS_URL DATABASE_URL

psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f sql/schema.sql -f sql/seed.sql
echo "schema and seed applied"

"$BIN/inventory_worker" 2>"$tmp/worker.log" &
worker_pid=$!
say "inventory_worker started (pid $worker_pid, $BULLC_PROTOCOL queue); the story:"
echo
status=0
node "$producer" || status=$?

say "user_inventory"
psql -X -d "$DATABASE_URL" -c "SELECT * FROM user_inventory ORDER BY user_id, item_id"

kill "$worker_pid"
wait "$worker_pid" || status=$?
worker_pid=""
say "inventory_worker's log"
sed 's/^/  /' "$tmp/worker.log"
[ "$status" -eq 0 ] && say "demo done" || say "demo FAILED (status $status)"
exit "$status"
