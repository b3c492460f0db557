'use strict';
// `make bench`, part 2: build/bin/inventory_worker on a mix of events against a private Redis
// and a private PostgreSQL (durable: fsync and synchronous commit on, PostgreSQL's defaults).
//
// For each concurrency, on a fresh Redis and a fresh database: Node adds BENCH_INV_JOBS events
// (default 10,000) in rounds over BENCH_INV_JOBS/5 users, so one user's events are far apart:
//   reward [welcome_chest, key]; use welcome_chest; use 2 keys; the same reward again; use 1 key
// then inventory_worker starts and drains the queue. Reported: jobs/s (from the worker's start
// until every job is completed or failed), and the PostgreSQL commits it made per second
// (pg_stat_database.xact_commit of the database, read after the worker exited so every backend
// has flushed its counters).
//
// Environment: BENCH_INV_JOBS (10000, a multiple of 5), BENCH_INV_CONCURRENCY (1,4,16),
// BENCH_INV_FAST=1 (fsync off), BENCH_TIMEOUT_S (per run, 300), BULLC_BIN_DIR.
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const NM = path.join(ROOT, 'tests', 'interop', 'node_modules');
const { Queue } = require(path.join(NM, 'bullmq'));
const H = require(path.join(ROOT, 'tests', 'interop', 'lib', 'harness'));
const { startPostgres } = require(path.join(ROOT, 'tests', 'interop', 'lib', 'pg'));

const JOBS = Number(process.env.BENCH_INV_JOBS || 10000);
const CONC = (process.env.BENCH_INV_CONCURRENCY || '1,4,16').split(',').map(Number);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S || 300) * 1000;
const WORKER = path.join(H.BIN, 'inventory_worker');
const QUEUE = 'events';

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

async function run(pg, concurrency) {
  const redis = await H.startRedis();
  const db = await pg.createDb();
  const queue = new Queue(QUEUE, { connection: redis.connection });
  let worker;
  try {
    const evs = events();
    for (let i = 0; i < evs.length; i += 1000) await queue.addBulk(evs.slice(i, i + 1000));
    const commits0 = Number(await pg.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = '${db.name}'`));
    const t0 = process.hrtime.bigint();
    worker = spawn(WORKER, [], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, REDIS_URL: redis.url, DATABASE_URL: db.url, BULLC_QUEUE: QUEUE,
        BULLC_CONCURRENCY: String(concurrency), BULLC_LOG_LEVEL: 'warn' },
    });
    let err = '';
    worker.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((r) => worker.once('close', (code) => r(code)));
    let counts;
    await H.waitFor(async () => {
      counts = await queue.getJobCounts('completed', 'failed');
      return counts.completed + counts.failed >= evs.length;
    }, { timeout: TIMEOUT_MS, interval: 50, what: `${evs.length} jobs finished` });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    worker.kill('SIGTERM');
    const code = await H.within(exited, 15000, 'timeout');
    if (code !== 0) throw new Error(`inventory_worker exit ${code}: ${err.slice(-2000)}`);
    const commits1 = Number(await pg.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = '${db.name}'`));
    const commits = commits1 - commits0 - 1; // minus the reading query's own
    return { concurrency, jobs: evs.length, ms, completed: counts.completed, failed: counts.failed, commits };
  } finally {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await queue.close().catch(() => {});
    await redis.cleanup();
  }
}

async function main() {
  const pg = await startPostgres({ durable: !process.env.BENCH_INV_FAST });
  const results = [];
  try {
    for (const c of CONC) {
      process.stderr.write(`inventory bench: concurrency ${c}...\n`);
      results.push(await run(pg, c));
    }
  } finally {
    await pg.cleanup();
  }
  const fmt = (n, w) => String(n).padStart(w);
  console.log(`\ninventory_worker: ${JOBS} events (reward, use chest, use 2 keys, repeated reward, use key, ` +
    `in rounds over ${Math.floor(JOBS / 5)} users); PostgreSQL ${process.env.BENCH_INV_FAST ? 'fsync off' : 'durable (fsync on)'}`);
  console.log('concurrency |  jobs/s | completed | failed | PG commits | PG commits/s');
  console.log('------------+---------+-----------+--------+------------+-------------');
  for (const r of results) {
    const s = r.ms / 1000;
    console.log(`${fmt(r.concurrency, 11)} | ${fmt(Math.round(r.jobs / s), 7)} | ${fmt(r.completed, 9)} | ` +
      `${fmt(r.failed, 6)} | ${fmt(r.commits, 10)} | ${fmt(Math.round(r.commits / s), 12)}`);
  }
}

main().catch((e) => { console.error(`inventory bench: ${e.stack || e.message}`); process.exit(1); });
