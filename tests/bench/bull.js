'use strict';
// The `bull` part of `make bench`: legacy Bull 4 (npm bull 4.16.5), Node Bull's own worker vs
// build/bin/echo_worker --protocol bull (docs/bull.md).
//
// For every concurrency C and both worker kinds, on a fresh private redis-server:
//   1. A Node Bull Queue adds N small jobs ({i}, default name and options, so every job is kept
//      in `completed`) with addBulk in chunks.
//   2. The worker drains the queue; we measure the time until all N jobs are completed, the
//      worker's peak RSS and Redis' CPU (INFO cpu delta over the drain only).
// Node's worker is queue.process(C, async () => {}) in a child process (bull_worker_child.js),
// timed from "go" (connections already up) to its Nth local 'completed' event; echo_worker is
// timed from spawn to exit (--max-jobs N: startup included). Runs are interleaved (node, c,
// node, c, ...) and each C run is compared with the Node run just before it. Process
// bookkeeping, RSS sampling and the number formats are common.js'.
//
// Environment: BENCH_JOBS (20000), BENCH_CONCURRENCY (1,10,100), BENCH_WORKERS (node,c),
// BENCH_REPEAT (3), BENCH_TIMEOUT_S (120), BENCH_BULL_BUDGET_S (360: no further repeats start
// after it), BENCH_BULL_JSON (raw results; else BENCH_JSON with .bull before its extension).

const fs = require('node:fs');
const path = require('node:path');
const C = require('./common');

const QUEUE = 'bench';

function loadBull() {
  try {
    return require(path.join(C.NODE_MODULES, 'bull'));
  } catch (e) {
    console.error(`bench: cannot load bull from ${C.NODE_MODULES} (run: cd tests/interop && npm ci --ignore-scripts): ${e.message}`);
    process.exit(2);
  }
}

async function redisCpuUs(client) {
  return C.cpuUsOf(await client.info('cpu'));
}

async function addBullJobs(queue, n) {
  const CHUNK = 1000;
  for (let i = 0; i < n; i += CHUNK) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++) batch.push({ data: { i: j } });
    await queue.addBulk(batch);
  }
}

async function runNode(ctx) {
  const { redis, client, n, concurrency, timeoutMs } = ctx;
  const h = C.forkNodeWorker({ queue: QUEUE, prefix: C.PREFIX, host: '127.0.0.1', port: redis.port, concurrency, jobs: n },
    { label: 'node bull worker', script: 'bull_worker_child.js' });
  let sampler = null;
  try {
    await h.ready();
    sampler = C.rssSampler(h.pid);
    const before = await redisCpuUs(client);
    const done = await C.withTimeout(h.go(), timeoutMs, 'node bull worker to drain');
    const after = await redisCpuUs(client);
    sampler.tick();
    const rss = await h.quit();
    const sampled = sampler.stop();
    return { ms: done.ms, peakRssKb: Math.max(rss.hwm || 0, rss.maxRSS || 0, sampled.maxHwm), redisUsPerJob: (after - before) / n };
  } finally {
    if (sampler) sampler.stop();
    h.kill();
  }
}

async function runC(ctx) {
  const { redis, client, n, concurrency, timeoutMs, echoWorker } = ctx;
  const before = await redisCpuUs(client);
  const w = C.startEchoWorker(echoWorker, ['--protocol', 'bull', '--queue', QUEUE, '--redis', redis.url,
    '--prefix', C.PREFIX, '--concurrency', String(concurrency), '--max-jobs', String(n), '--quiet'],
  { tmpDir: redis.dir, timeoutMs, label: 'echo_worker --protocol bull' });
  const r = await w.done;
  const after = await redisCpuUs(client);
  return { ms: r.ms, peakRssKb: r.peakRssKb, redisUsPerJob: (after - before) / n };
}

async function oneRun(kind, concurrency, cfg) {
  const { startRedis } = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  const Bull = loadBull();
  const IORedis = require(path.join(C.NODE_MODULES, 'ioredis'));
  const [redis, unregister] = await C.started(startRedis(), (r) => {
    C.killProcSync(r.proc);
    fs.rmSync(r.dir, { recursive: true, force: true });
  });
  const client = new IORedis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });
  const queue = new Bull(QUEUE, { prefix: C.PREFIX, redis: { host: '127.0.0.1', port: redis.port } });
  queue.on('error', () => {});
  try {
    const ta = Date.now();
    await addBullJobs(queue, cfg.n);
    const addMs = Date.now() - ta;
    const waiting = await queue.getWaitingCount();
    if (waiting !== cfg.n) throw new Error(`expected ${cfg.n} waiting jobs, found ${waiting}`);
    const ctx = { redis, client, n: cfg.n, concurrency, timeoutMs: cfg.timeoutMs, echoWorker: cfg.echoWorker };
    const r = kind === 'node' ? await runNode(ctx) : await runC(ctx);
    const completed = await queue.getCompletedCount();
    if (completed !== cfg.n) throw new Error(`expected ${cfg.n} completed jobs, found ${completed}`);
    const s = await C.queueSpan(client, QUEUE);
    r.spanRate = s && s.lastFinish > s.firstStart ? cfg.n / ((s.lastFinish - s.firstStart) / 1000) : null;
    r.rate = cfg.n / (r.ms / 1000);
    r.addMs = addMs;
    return r;
  } finally {
    await queue.close().catch(() => {});
    client.disconnect();
    await redis.cleanup();
    unregister();
  }
}

function report(concs, results) {
  const { fmtInt, fmt1, times, mib, median, spread } = C;
  const ok = (r) => Array.isArray(r) && r.length > 0;
  const cell = (r, f) => (r ? (r.error ? (r.error === 'skipped' ? 'skipped' : 'FAILED') : f(r)) : 'n/a');
  const peak = (runs) => Math.max(...runs.map((r) => r.peakRssKb || 0));
  const rates = (runs) => runs.map((r) => r.rate);
  const us = (runs) => runs.map((r) => r.redisUsPerJob);
  console.log('| concurrency | Node Bull jobs/s | C jobs/s | C/Node | Node jobs/s min–max | C jobs/s min–max | C/Node min–max (paired runs) | Node peak RSS | C peak RSS | Redis CPU µs/job Node | Redis CPU µs/job C |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of concs) {
    const nr = results[c].node;
    const cr = results[c].c;
    const pairs = ok(nr) && ok(cr) ? cr.slice(0, nr.length).map((r, i) => r.rate / nr[i].rate) : [];
    const usCell = (r) => cell(r, (x) => `${fmt1(median(us(x)))} (${spread(us(x), fmt1)})`);
    console.log(`| ${c} | ${cell(nr, (r) => fmtInt(median(rates(r))))} | ${cell(cr, (r) => fmtInt(median(rates(r))))} | ` +
      `${pairs.length ? times(median(pairs)) : '—'} | ${cell(nr, (r) => spread(rates(r), fmtInt))} | ` +
      `${cell(cr, (r) => spread(rates(r), fmtInt))} | ${pairs.length ? spread(pairs, times) : '—'} | ` +
      `${cell(nr, (r) => mib(peak(r)))} | ${cell(cr, (r) => mib(peak(r)))} | ${usCell(nr)} | ${usCell(cr)} |`);
  }
}

async function main() {
  const n = C.envNum('BENCH_JOBS', 20000);
  const concs = C.envList('BENCH_CONCURRENCY', '1,10,100').map(Number).filter((x) => x > 0);
  const kinds = C.envList('BENCH_WORKERS', 'node,c');
  const repeat = Math.max(1, C.envNum('BENCH_REPEAT', 3));
  const timeoutMs = C.envNum('BENCH_TIMEOUT_S', 120) * 1000;
  const budgetS = C.envNum('BENCH_BULL_BUDGET_S', 360);
  const started = Date.now();
  if (!(n > 0) || !concs.length) { console.error('bench: bad BENCH_JOBS / BENCH_CONCURRENCY'); return 2; }
  const echo = C.echoWorkerPath();
  const cSkip = kinds.includes('c') ? echo.skip : null;
  if (cSkip) console.log(`bench: SKIPPING the C worker: ${cSkip}`);
  const bullVersion = require(path.join(C.NODE_MODULES, 'bull', 'package.json')).version;

  console.log('# libbullc benchmark: legacy Bull 4');
  console.log('');
  console.log(`N=${n} jobs per run, concurrency ${concs.join(', ')}, ${repeat} runs each (medians; spread min–max); ` +
    `bull ${bullVersion}; ${C.environmentLine()}`);
  console.log('');
  const cfg = { n, timeoutMs, echoWorker: echo.path };
  const results = await C.interleavedRuns({
    concs, kinds, repeat, budgetS, started, cSkip,
    label: (kind, c) => `${kind === 'node' ? 'node Bull worker' : 'echo_worker --protocol bull'} c=${c}`,
    run: (kind, c) => oneRun(kind, c, cfg),
    describe: (r) => `${C.fmtInt(r.rate)} jobs/s in ${(r.ms / 1000).toFixed(2)}s, peak RSS ${C.mib(r.peakRssKb)}, ` +
      `redis ${C.fmt1(r.redisUsPerJob)} µs/job (adds took ${(r.addMs / 1000).toFixed(1)}s)`,
  });
  report(concs, results);
  console.log('');
  console.log('Notes: jobs/s = N / drain time; Node Bull (queue.process(C, async () => {})) is timed from "go"');
  console.log('(connections up) to its Nth \'completed\' event, echo_worker --protocol bull from spawn to exit');
  console.log('(--max-jobs N, startup included). Peak RSS = VmHWM (Node: read by the child before exit;');
  console.log('echo_worker: GNU time %M if installed, else /proc sampled). Redis CPU µs/job = INFO');
  console.log('used_cpu_sys+user delta over the drain / N: median (min–max).');
  console.log(`Wall time of this part: ${((Date.now() - started) / 1000).toFixed(0)}s.`);
  const errors = [];
  for (const c of concs) for (const kind of ['node', 'c']) {
    const r = results[c][kind];
    if (r && r.error && r.error !== 'skipped') errors.push(`c=${c} ${kind}: ${r.error}`);
  }
  if (errors.length) { console.log(''); console.log('Failures:'); for (const e of errors) console.log(`- ${e}`); }
  const json = C.partJsonPath('BENCH_BULL_JSON', 'bull');
  if (json) fs.writeFileSync(json, JSON.stringify({ n, concurrency: concs, results }, null, 2));
  return errors.length ? 1 : 0;
}

C.runMain('bench-bull', main);
