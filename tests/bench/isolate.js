'use strict';
// `make bench` part `isolate`: what isolated handlers cost. On a fresh private redis-server per
// run, N no-op jobs drained at concurrency C by
//   inline     echo_worker (handlers on the worker's threads)
//   isolated   echo_worker --isolate (each handler in a handler process, README "Isolated
//              handlers")
//   sandboxed  Node BullMQ's Worker with a sandboxed processor (a file path: BullMQ runs it in
//              child processes), its counterpart
// interleaved, BENCH_REPEAT times; medians and paired ratios. Goals: isolated >= 0.5x inline
// and >= 4x sandboxed. echo_worker is timed from spawn to exit (--max-jobs N: its handler
// processes' start included), Node from 'go' to the Nth completed event.
//
// Environment: BENCH_ISOLATE_JOBS (5000), BENCH_ISOLATE_CONCURRENCY (10), BENCH_REPEAT (3),
// BENCH_TIMEOUT_S (120), BENCH_ISOLATE_JSON (or BENCH_JSON with .isolate) for the raw results.
const fs = require('node:fs');
const path = require('node:path');
const C = require('./common');

const QUEUE = 'bench';
const KINDS = ['inline', 'isolated', 'sandboxed'];

async function drain(kind, ctx) {
  const { redis, n, concurrency, timeoutMs, echoWorker } = ctx;
  if (kind === 'sandboxed') {
    const h = C.forkNodeWorker({
      queue: QUEUE, prefix: C.PREFIX, host: '127.0.0.1', port: redis.port, concurrency, jobs: n,
      processorFile: path.join(__dirname, 'sandboxed_processor.js'),
    }, { label: 'node sandboxed worker' });
    try {
      await h.ready();
      const done = await C.withTimeout(h.go(), timeoutMs, 'node sandboxed worker to drain');
      await h.quit();
      return done.ms;
    } finally {
      h.kill();
    }
  }
  const args = ['--queue', QUEUE, '--redis', redis.url, '--prefix', C.PREFIX, '--quiet',
    '--concurrency', String(concurrency), '--max-jobs', String(n)];
  if (kind === 'isolated') args.push('--isolate');
  const w = C.startEchoWorker(echoWorker, args, { tmpDir: redis.dir, timeoutMs, label: `echo_worker (${kind})` });
  return (await w.done).ms;
}

async function oneRun(kind, cfg) {
  const { startRedis } = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  const { Queue } = C.loadBullmq();
  const [redis, unregister] = await C.started(startRedis(), (r) => {
    C.killProcSync(r.proc);
    fs.rmSync(r.dir, { recursive: true, force: true });
  });
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: C.PREFIX });
  try {
    await C.addJobs(queue, cfg.n);
    const ms = await drain(kind, { ...cfg, redis });
    const completed = await queue.getCompletedCount();
    if (completed !== cfg.n) throw new Error(`${kind}: expected ${cfg.n} completed jobs, found ${completed}`);
    return { ms, rate: cfg.n / (ms / 1000) };
  } finally {
    await queue.close().catch(() => {});
    await redis.cleanup();
    unregister();
  }
}

async function main() {
  const n = C.envNum('BENCH_ISOLATE_JOBS', 5000);
  const concurrency = C.envNum('BENCH_ISOLATE_CONCURRENCY', 10);
  const repeat = Math.max(1, C.envNum('BENCH_REPEAT', 3));
  const timeoutMs = C.envNum('BENCH_TIMEOUT_S', 120) * 1000;
  const echo = C.echoWorkerPath();
  if (echo.skip) { console.log(`bench isolate: SKIPPED: ${echo.skip}`); return 0; }
  console.log('# isolated handlers');
  console.log('');
  console.log(`N=${n} no-op jobs per run, concurrency ${concurrency}, ${repeat} runs each, interleaved; ${C.environmentLine()}`);
  console.log('');
  const runs = Object.fromEntries(KINDS.map((k) => [k, []]));
  for (let i = 0; i < repeat; i++) {
    for (const kind of KINDS) {
      const r = await oneRun(kind, { n, concurrency, timeoutMs, echoWorker: echo.path });
      runs[kind].push(r);
      console.error(`bench isolate: run ${i + 1} ${kind}: ${C.fmtInt(r.rate)} jobs/s`);
    }
  }
  const rates = (k) => runs[k].map((r) => r.rate);
  const paired = (a, b) => runs[a].map((r, i) => r.rate / runs[b][i].rate);
  console.log('| worker | jobs/s (median, min–max) |');
  console.log('|---|---:|');
  for (const k of KINDS) console.log(`| ${k} | ${C.fmtInt(C.median(rates(k)))} (${C.spread(rates(k), C.fmtInt)}) |`);
  console.log('');
  const vsInline = paired('isolated', 'inline');
  const vsNode = paired('isolated', 'sandboxed');
  console.log(`isolated / inline:    ${C.times(C.median(vsInline))} (paired ${C.spread(vsInline, C.times)}), goal >= 0.5×`);
  console.log(`isolated / sandboxed: ${C.times(C.median(vsNode))} (paired ${C.spread(vsNode, C.times)}), goal >= 4×`);
  const out = C.partJsonPath('BENCH_ISOLATE_JSON', 'isolate');
  if (out) fs.writeFileSync(out, JSON.stringify({ n, concurrency, runs }, null, 2));
  return 0;
}

C.runMain('bench isolate', main);
