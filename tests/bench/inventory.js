'use strict';
// `make bench`, part 2: the inventory worker against a private Redis and a private PostgreSQL
// (durable: fsync and synchronous_commit on, PostgreSQL's defaults), next to a Node baseline.
//
// Two workers do the same work on the same SQL contract, inventory_apply() (sql/schema.sql):
//   c     build/bin/inventory_worker (libbullc + libpq, a connection per handler thread; jobs
//         ready at the same time share a transaction, one call of inventory_apply_batch(), which
//         applies each as inventory_apply() does: group commit, so fewer PG commits than jobs)
//   node  tests/bench/inventory_node_worker.js (BullMQ 6.7.0 Worker + pg.Pool)
// For each concurrency, BENCH_INV_REPEAT runs of each, interleaved (node, c, c, node, ...), each
// on a fresh Redis and a fresh database: Node adds BENCH_INV_JOBS events (default 10,000) in
// rounds over BENCH_INV_JOBS/5 users, so one user's events are far apart:
//   reward [welcome_chest, key]; use welcome_chest; use 2 keys; the same reward again; use 1 key
// then the worker starts and drains the queue. Every run must complete every job and leave the
// same inventory as every other run.
//
// jobs/s: jobs over the span from the first job's processedOn to the last job's finishedOn (as
// Redis recorded them), so neither worker's start-up counts. PG commits/s: the transactions
// committed in the run's database over the same span (pg_stat_database.xact_commit less one per
// session, the transaction every new connection commits while it starts; read once the worker
// and its connections are gone, so every backend has flushed its counters). The table gives the
// median run, and the spread (min-max) over runs; the C/Node spread pairs the runs in order.
// Each run starts after a CHECKPOINT and a sync, so it pays nothing for the writes of the setup
// or of the run before. Before each run, the fdatasync latency of an 8 kB write next to the
// cluster is measured (what every durable commit waits for; it varies a lot on shared machines)
// and printed with the run. A second table splits the CPU time per job between the worker,
// PostgreSQL and Redis (Linux: read from /proc).
//
// Environment: BENCH_INV_JOBS (10000, a multiple of 5), BENCH_INV_CONCURRENCY (1,4,16),
// BENCH_INV_REPEAT (3), BENCH_INV_WORKERS (node,c), BENCH_INV_FAST=1 (fsync off),
// BENCH_TIMEOUT_S (per run, 300), BULLC_BIN_DIR.
// Paths, environment parsing and number formats come from common.js.
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const C = require('./common');

const NM = C.NODE_MODULES;
const { Queue } = C.loadBullmq();
const IORedis = require(path.join(NM, 'ioredis'));
const H = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'harness'));
const { startPostgres } = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'pg'));

const JOBS = C.envNum('BENCH_INV_JOBS', 10000);
const CONC = C.envList('BENCH_INV_CONCURRENCY', '1,4,16').map(Number);
const REPEAT = Math.max(1, C.envNum('BENCH_INV_REPEAT', 3));
const KINDS = C.envList('BENCH_INV_WORKERS', 'node,c');
const TIMEOUT_MS = C.envNum('BENCH_TIMEOUT_S', 300) * 1000;
const QUEUE = 'events';
const COMMAND = {
  c: [path.join(H.BIN, 'inventory_worker'), []],
  node: [process.execPath, [path.join(__dirname, 'inventory_node_worker.js')]],
};
const LABEL = { c: 'C', node: 'Node' };
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

function events() {
  const users = Math.max(1, Math.floor(JOBS / 5));
  const rounds = [
    (u) => ['reward_inventory_item', { userId: u, items: ['welcome_chest', 'key'] }],
    (u) => ['use_item', { userId: u, itemId: 'welcome_chest' }],
    (u) => ['use_item', { userId: u, itemId: 'key', quantity: 2 }],
    (u) => ['reward_inventory_item', { userId: u, items: ['welcome_chest', 'key'] }],
    (u) => ['use_item', { userId: u, itemId: 'key' }],
  ];
  const out = [];
  for (const r of rounds) for (let i = 0; i < users && out.length < JOBS; i++) {
    const [name, data] = r(`user${i}`);
    out.push({ name, data });
  }
  return out;
}

// fdatasync latency (ms) of an 8 kB write in `dir`, over n writes, as pg_test_fsync measures it.
function fsyncMs(dir, n = 50) {
  const file = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(8192, 1);
  const t0 = process.hrtime.bigint();
  try {
    for (let i = 0; i < n; i++) {
      fs.writeSync(fd, block, 0, block.length, 0);
      fs.fdatasyncSync(fd);
    }
  } finally {
    fs.closeSync(fd);
    fs.unlinkSync(file);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

// CPU time (ms, user + system) of a process, with its exited children when `reaped`; null off Linux.
function cpuMs(pid, reaped = false) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks * 1000) / CLK_TCK;
  } catch (_) {
    return null;
  }
}

// The CPU used so far by the worker, the whole PostgreSQL cluster (postmaster, its live children
// and those it reaped: backends, WAL writer, checkpointer...) and redis-server.
function cpuSample(pg, redis, worker) {
  let postgres = null;
  try {
    const master = Number(fs.readFileSync(path.join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    postgres = cpuMs(master, true);
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      if (Number(stat[1]) === master) postgres += cpuMs(pid) || 0;
    }
  } catch (_) { /* not Linux, or a process went away while read: no figure */ }
  return { worker: cpuMs(worker.pid), postgres, redis: cpuMs(redis.proc.pid) };
}

// The database's counters once no backend is left in it (each flushes its counters as it exits).
async function dbCounters(pg, db) {
  await H.waitFor(async () => (await pg.query(
    `SELECT count(*) FROM pg_stat_activity WHERE datname = '${db}'`)) === '0',
  { timeout: 15000, interval: 50, what: `no backend left in ${db}` });
  const [commits, sessions] = (await pg.query(
    `SELECT xact_commit, sessions FROM pg_stat_database WHERE datname = '${db}'`)).split('|').map(Number);
  return { commits, sessions };
}

// First processedOn and last finishedOn of jobs 1..n (a fresh queue numbers them from 1): all
// of them, not common.js queueSpan's estimate from the first finished jobs.
async function span(redis, n) {
  const client = new IORedis({ ...redis.connection, lazyConnect: false });
  try {
    const pipe = client.pipeline();
    for (let id = 1; id <= n; id++) pipe.hmget(`bull:${QUEUE}:${id}`, 'processedOn', 'finishedOn');
    let first = Infinity;
    let last = -Infinity;
    for (const [err, [p, f]] of await pipe.exec()) {
      if (err || !p || !f) throw new Error(`job without processedOn/finishedOn: ${err || ''}`);
      first = Math.min(first, Number(p));
      last = Math.max(last, Number(f));
    }
    return Math.max(1, last - first);
  } finally {
    client.disconnect();
  }
}

async function run(pg, kind, concurrency) {
  const redis = await H.startRedis();
  const db = await pg.createDb();
  const queue = new Queue(QUEUE, { connection: redis.connection });
  let worker;
  try {
    const evs = events();
    for (let i = 0; i < evs.length; i += 1000) await queue.addBulk(evs.slice(i, i + 1000));
    // every run starts from the same state: nothing of the setup (or of the run before) left to
    // write back, in PostgreSQL or in the page cache
    await pg.query('CHECKPOINT');
    spawnSync('sync');
    const before = await dbCounters(pg, db.name);
    const fsync = fsyncMs(pg.dir);
    const [cmd, args] = COMMAND[kind];
    worker = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, REDIS_URL: redis.url, DATABASE_URL: db.url, BULLC_QUEUE: QUEUE,
        BULLC_CONCURRENCY: String(concurrency), BULLC_LOG_LEVEL: 'warn' },
    });
    let err = '';
    worker.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((r) => worker.once('close', (code) => r(code)));
    let counts;
    let cpu0; // from the first finished job on, so the worker's start-up does not count
    await H.waitFor(async () => {
      counts = await queue.getJobCounts('completed', 'failed');
      const n = counts.completed + counts.failed;
      if (!cpu0 && n > 0) cpu0 = { n, ...cpuSample(pg, redis, worker) };
      return n >= evs.length || worker.exitCode !== null;
    }, { timeout: TIMEOUT_MS, interval: 100, what: `${evs.length} jobs finished by ${kind}` });
    const cpu1 = cpuSample(pg, redis, worker);
    const cpu = {};
    for (const k of ['worker', 'postgres', 'redis']) {
      const ok = cpu0 && cpu0[k] !== null && cpu1[k] !== null && evs.length > cpu0.n;
      cpu[k] = ok ? ((cpu1[k] - cpu0[k]) * 1000) / (evs.length - cpu0.n) : NaN;
    }
    worker.kill('SIGTERM');
    const code = await H.within(exited, 15000, 'timeout');
    if (code !== 0) throw new Error(`${kind} worker exit ${code}: ${err.slice(-2000)}`);
    if (counts.completed !== evs.length) {
      throw new Error(`${kind}: ${counts.completed} of ${evs.length} jobs completed, ${counts.failed} failed: ${err.slice(-2000)}`);
    }
    const ms = await span(redis, evs.length);
    const after = await dbCounters(pg, db.name);
    const commits = (after.commits - before.commits) - (after.sessions - before.sessions);
    const state = await pg.query('SELECT md5(string_agg(concat_ws(\':\', user_id, item_id, quantity), \',\' ' +
      'ORDER BY user_id, item_id)) FROM inventory', db.name);
    return { kind, concurrency, jobs: evs.length, ms, commits, state, fsync, cpu };
  } finally {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await queue.close().catch(() => {});
    await redis.cleanup();
    await pg.query(`DROP DATABASE IF EXISTS ${db.name}`).catch(() => {});
  }
}

const rate = (r) => (r.jobs * 1000) / r.ms;
// The lower middle value for an even count (a figure some run had), unlike common.js median.
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const { fmtInt: int, spread: range, times } = C;

function table(results) {
  const has = (k) => KINDS.includes(k);
  console.log(`\ninventory: ${JOBS} events per run (reward, use chest, use 2 keys, repeated reward, use key, ` +
    `in rounds over ${Math.floor(JOBS / 5)} users), ${REPEAT} run(s) per worker, interleaved, each on a fresh ` +
    `Redis and database; PostgreSQL ${process.env.BENCH_INV_FAST ? 'fsync off' : 'durable (fsync and synchronous_commit on)'}`);
  console.log('\n| concurrency | Node jobs/s | C jobs/s | C/Node | Node PG commits/s | C PG commits/s ' +
    '| Node jobs/s min–max | C jobs/s min–max | C/Node min–max |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const c of CONC) {
    const of = (k) => results.filter((r) => r.concurrency === c && r.kind === k);
    const n = of('node');
    const x = of('c');
    const med = (rs, f) => (rs.length ? median(rs.map(f)) : NaN);
    const cell = (rs, f, fmt) => (rs.length ? fmt(med(rs, f)) : '–');
    const commitRate = (r) => (r.commits * 1000) / r.ms;
    const pairs = has('node') && has('c') ? x.map((r, i) => rate(r) / rate(n[i])).filter((v) => v > 0) : [];
    console.log(`| ${c} | ${cell(n, rate, int)} | ${cell(x, rate, int)} | ` +
      `${pairs.length ? times(med(x, rate) / med(n, rate)) : '–'} | ${cell(n, commitRate, int)} | ` +
      `${cell(x, commitRate, int)} | ${n.length ? range(n.map(rate), int) : '–'} | ` +
      `${x.length ? range(x.map(rate), int) : '–'} | ${pairs.length ? range(pairs, times) : '–'} |`);
  }
  console.log('\nCPU per job in µs (median over runs; user + system time from /proc, from the first finished ' +
    'job on; PostgreSQL: the whole cluster):\n');
  console.log('| concurrency | Node: worker | Node: PostgreSQL | Node: Redis | C: worker | C: PostgreSQL | C: Redis |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of CONC) {
    const cells = [];
    for (const k of ['node', 'c']) {
      const rs = results.filter((r) => r.concurrency === c && r.kind === k);
      for (const part of ['worker', 'postgres', 'redis']) {
        const v = rs.length ? median(rs.map((r) => r.cpu[part])) : NaN;
        cells.push(Number.isFinite(v) ? int(v) : '–');
      }
    }
    console.log(`| ${c} | ${cells.join(' | ')} |`);
  }
  // C's group commit puts several jobs in one transaction: commits per job below 1
  const perJob = KINDS.map((k) => {
    const rs = results.filter((r) => r.kind === k);
    return `${LABEL[k]} ${rs.length ? range(rs.map((r) => r.commits / r.jobs), (v) => v.toFixed(3)) : '–'}`;
  }).join(', ');
  const fsync = results.map((r) => r.fsync);
  console.log(`\nPostgreSQL commits per job over all runs: ${perJob}; ` +
    `fdatasync of 8 kB before each run: median ${median(fsync).toFixed(2)} ms, ${range(fsync, (v) => v.toFixed(2))} ms`);
}

async function main() {
  for (const k of KINDS) if (!COMMAND[k]) throw new Error(`BENCH_INV_WORKERS: unknown worker '${k}' (node, c)`);
  if (KINDS.includes('node') && !fs.existsSync(path.join(NM, 'pg'))) {
    throw new Error('tests/interop/node_modules has no pg (the Node baseline needs it): run tests/deps.sh');
  }
  const pg = await startPostgres({ durable: !process.env.BENCH_INV_FAST });
  const results = [];
  let state;
  try {
    for (const c of CONC) {
      for (let rep = 0; rep < REPEAT; rep++) {
        const order = rep % 2 ? [...KINDS].reverse() : KINDS;
        for (const kind of order) {
          const r = await run(pg, kind, c);
          process.stderr.write(`inventory bench: concurrency ${c}, run ${rep + 1}/${REPEAT}, ${LABEL[kind]}: ` +
            `${int(rate(r))} jobs/s, ${r.commits} commits (fdatasync ${r.fsync.toFixed(2)} ms)\n`);
          if (state !== undefined && r.state !== state) {
            throw new Error(`${kind} at concurrency ${c} left another inventory than the first run`);
          }
          state = r.state;
          results.push(r);
        }
      }
    }
  } finally {
    await pg.cleanup();
  }
  table(results);
}

main().catch((e) => { console.error(`inventory bench: ${e.stack || e.message}`); process.exit(1); });
