'use strict';
// libbullc benchmark (`make bench`): Node BullMQ 6.7.0 Worker vs build/bin/echo_worker.
//
// For every concurrency C and both worker kinds, on a fresh private redis-server:
//   1. Node adds N small jobs ({i}) with queue.addBulk in chunks, default job options
//      (so every job is kept in `completed`).
//   2. The worker starts and drains the queue; we measure the time until all N jobs
//      are completed, the worker's peak RSS, and Redis' CPU and command counts
//      (INFO cpu / INFO commandstats deltas over the drain only, not the adds).
//
// Node's Worker runs in a separate child process (node_worker_child.js) so its RSS is
// measured alone; it is created with autorun:false, reports "ready" once its
// connections are up, and the clock starts when the parent says "go". It counts its
// own 'completed' events and reports when the Nth one arrives. echo_worker is timed
// from spawn to exit (--max-jobs N), so its startup (connect, script loading) is
// included; the "span" rate (last finishedOn - first processedOn, read from Redis)
// excludes startup for both and goes to BENCH_JSON. Process bookkeeping, RSS sampling,
// the worker runs and the number formats are common.js'.
//
// Environment:
//   BENCH_JOBS         jobs per run (default 20000)
//   BENCH_CONCURRENCY  comma list (default 1,10,100)
//   BENCH_WORKERS      comma list of node,c (default node,c)
//   BENCH_REPEAT       runs per (worker, concurrency), interleaved (default 3); medians, the spread
//                      (min-max) and the spread of the paired ratios (run i of C / run i of Node) are reported
//   BENCH_TIMEOUT_S    per-run drain timeout in seconds (default 120); a failed or timed-out
//                      (worker, concurrency) is not repeated
//   BENCH_BUDGET_S     no further repeats start once this many seconds have passed (default 360);
//                      every (worker, concurrency) still gets its first run
//   BENCH_JSON         if set, also write all raw results as JSON to this path
//   BENCH_NO_GNU_TIME  if set, do not run echo_worker under /usr/bin/time (sampling only)
//   BULLC_BIN_DIR      where echo_worker lives (default build/bin), via harness.js
//   REDIS_SERVER       redis-server binary (default redis-server), via harness.js

const fs = require('node:fs');
const path = require('node:path');
const C = require('./common');

const QUEUE = 'bench';

// Top-level commands a worker sends directly (never from inside Lua). Everything
// else in commandstats is taken to be a call made from inside a script.
const SCRIPT_CMDS = /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/;
const DIRECT_CMDS = /^(bzpopmin|bzpopmax|bzmpop|blpop|brpop|brpoplpush|blmove|blmpop|xread|xreadgroup|client|info|ping|hello|select|auth|script|config|command|multi|exec|watch|unwatch|discard|quit|cluster|memory|debug|readonly|wait)(\||$)/;

async function redisSnapshot(client) {
  const text = await client.info('everything');
  const info = C.parseInfo(text);
  const mainUs = info.used_cpu_sys_main_thread !== undefined
    ? (Number(info.used_cpu_sys_main_thread) + Number(info.used_cpu_user_main_thread)) * 1e6 : null;
  const cmds = {};
  for (const [k, v] of Object.entries(info)) {
    if (!k.startsWith('cmdstat_')) continue;
    const calls = Number(/calls=(\d+)/.exec(v)[1]);
    const usec = Number(/usec=(\d+)/.exec(v)[1]);
    cmds[k.slice(8)] = { calls, usec };
  }
  return { cpuUs: C.cpuUsOf(text), mainUs, cmds, totalCommands: Number(info.total_commands_processed) };
}

function redisDelta(a, b, n) {
  const d = { script: { calls: 0, usec: 0 }, direct: { calls: 0, usec: 0 }, inner: { calls: 0, usec: 0 }, byCmd: {} };
  for (const [name, s] of Object.entries(b.cmds)) {
    const p = a.cmds[name] || { calls: 0, usec: 0 };
    const calls = s.calls - p.calls;
    const usec = s.usec - p.usec;
    if (calls === 0 && usec === 0) continue;
    d.byCmd[name] = { calls, usec };
    const cat = SCRIPT_CMDS.test(name) ? 'script' : DIRECT_CMDS.test(name) ? 'direct' : 'inner';
    d[cat].calls += calls;
    d[cat].usec += usec;
  }
  // The "before" INFO itself lands in the delta; drop it.
  if (d.byCmd.info) { d.direct.calls -= 1; d.byCmd.info.calls -= 1; }
  const roundTrips = d.script.calls + d.direct.calls;
  return {
    cpuUsPerJob: (b.cpuUs - a.cpuUs) / n,
    mainCpuUsPerJob: a.mainUs === null ? null : (b.mainUs - a.mainUs) / n,
    // Top-level command time: scripts (their usec includes the calls they make)
    // plus direct commands. Calls inside scripts are not added again.
    cmdUsPerJob: (d.script.usec + d.direct.usec) / n,
    roundTripsPerJob: roundTrips / n,
    scriptCallsPerJob: d.script.calls / n,
    innerCallsPerJob: d.inner.calls / n,
    allCallsPerJob: (roundTrips + d.inner.calls) / n,
    byCmd: d.byCmd,
  };
}

// Rate from Redis' own timestamps: first processedOn .. last finishedOn.
async function redisSpan(client, n) {
  const s = await C.queueSpan(client, QUEUE);
  const spanMs = s ? s.lastFinish - s.firstStart : 0;
  return spanMs > 0 ? { spanMs, rate: n / (spanMs / 1000) } : null;
}

async function runNode(ctx) {
  const { redis, client, n, concurrency, timeoutMs } = ctx;
  const h = C.forkNodeWorker({ queue: QUEUE, prefix: C.PREFIX, host: '127.0.0.1', port: redis.port, concurrency, jobs: n });
  let sampler = null;
  try {
    await h.ready();
    sampler = C.rssSampler(h.pid);
    const before = await redisSnapshot(client);
    const t0 = process.hrtime.bigint();
    const done = await C.withTimeout(h.go(), timeoutMs, 'node worker to drain');
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = await redisSnapshot(client);
    sampler.tick();
    const rss = await h.quit();
    const sampled = sampler.stop();
    return {
      ms: done.ms, wallMs,
      peakRssKb: Math.max(rss.hwm || 0, rss.maxRSS || 0, sampled.maxHwm),
      sampledMaxRssKb: sampled.maxRss,
      redis: redisDelta(before, after, n),
    };
  } finally {
    if (sampler) sampler.stop();
    h.kill();
  }
}

async function runC(ctx) {
  const { redis, client, n, concurrency, timeoutMs, echoWorker } = ctx;
  const before = await redisSnapshot(client);
  const w = C.startEchoWorker(echoWorker, ['--queue', QUEUE, '--redis', redis.url, '--prefix', C.PREFIX,
    '--concurrency', String(concurrency), '--max-jobs', String(n)], { tmpDir: redis.dir, timeoutMs });
  const r = await w.done;
  const after = await redisSnapshot(client);
  return {
    ms: r.ms, wallMs: r.ms,
    peakRssKb: r.peakRssKb,
    exactMaxRssKb: r.exactMaxRssKb,
    sampledMaxRssKb: r.sampledMaxRssKb,
    redis: redisDelta(before, after, n),
  };
}

async function oneRun(kind, concurrency, cfg) {
  const { startRedis } = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  const { Queue } = C.loadBullmq();
  const IORedis = require(path.join(C.NODE_MODULES, 'ioredis'));
  const [redis, unregister] = await C.started(startRedis(), (r) => {
    C.killProcSync(r.proc);
    fs.rmSync(r.dir, { recursive: true, force: true });
  });
  const client = new IORedis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null, lazyConnect: false });
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: C.PREFIX });
  try {
    const ta = Date.now();
    await C.addJobs(queue, cfg.n);
    const addMs = Date.now() - ta;
    const waiting = await queue.getWaitingCount();
    if (waiting !== cfg.n) throw new Error(`expected ${cfg.n} waiting jobs, found ${waiting}`);
    const ctx = { redis, client, n: cfg.n, concurrency, timeoutMs: cfg.timeoutMs, echoWorker: cfg.echoWorker };
    let r;
    try {
      r = kind === 'node' ? await runNode(ctx) : await runC(ctx);
    } catch (e) {
      const got = await C.withTimeout(queue.getCompletedCount(), 5000, 'completed count').catch(() => '?');
      e.message += ` (${got}/${cfg.n} jobs completed)`;
      throw e;
    }
    const completed = await queue.getCompletedCount();
    const failed = await queue.getFailedCount();
    if (completed !== cfg.n) throw new Error(`expected ${cfg.n} completed jobs, found ${completed} (failed: ${failed})`);
    r.span = await redisSpan(client, cfg.n);
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

async function main() {
  const { fmtInt, fmt1, fmt2, times, mib, median, spread, medianRun } = C;
  const n = C.envNum('BENCH_JOBS', 20000);
  const concs = C.envList('BENCH_CONCURRENCY', '1,10,100').map(Number).filter((x) => x > 0);
  const kinds = C.envList('BENCH_WORKERS', 'node,c');
  const repeat = Math.max(1, C.envNum('BENCH_REPEAT', 3));
  const timeoutMs = C.envNum('BENCH_TIMEOUT_S', 120) * 1000;
  const budgetS = C.envNum('BENCH_BUDGET_S', 360);
  const started = Date.now();
  if (!(n > 0) || !concs.length) { console.error('bench: bad BENCH_JOBS / BENCH_CONCURRENCY'); return 2; }

  const echo = C.echoWorkerPath();
  const echoWorker = echo.path;
  const cSkip = kinds.includes('c') ? echo.skip : null;
  if (cSkip) console.log(`bench: SKIPPING the C worker: ${cSkip}`);

  console.log(`# libbullc benchmark`);
  console.log('');
  console.log(`N=${n} jobs per run, concurrency ${concs.join(', ')}, ${repeat} runs each (medians; spread min–max); ` +
    C.environmentLine());
  console.log('');

  const results = await C.interleavedRuns({
    concs, kinds, repeat, budgetS, started, cSkip,
    label: (kind, c) => `${kind === 'node' ? 'node BullMQ Worker' : 'echo_worker'} c=${c}`,
    run: (kind, c) => oneRun(kind, c, { n, timeoutMs, echoWorker }),
    describe: (r) => `${fmtInt(r.rate)} jobs/s in ${(r.ms / 1000).toFixed(2)}s, peak RSS ${mib(r.peakRssKb)}, ` +
      `redis ${fmt1(r.redis.cpuUsPerJob)} µs/job (adds took ${(r.addMs / 1000).toFixed(1)}s)`,
  });

  // ---- tables ----
  const ok = (r) => Array.isArray(r) && r.length > 0;
  const target = (c) => (c === 1 ? 1.4 : 2);
  const RSS_LIMIT_KB = 10 * 1024;
  const REDIS_US_LIMIT = 35; // per job, at concurrency 100
  console.log('## Throughput and memory');
  console.log('');
  console.log('| concurrency | Node jobs/s | C jobs/s | C/Node | target | Node jobs/s min–max | C jobs/s min–max | C/Node min–max (paired runs) | Node peak RSS | C peak RSS (target <10 MiB) |');
  console.log('|---:|---:|---:|---:|:---|---:|---:|---:|---:|---:|');
  let allMet = true;
  for (const c of concs) {
    const nr = results[c].node;
    const cr = results[c].c;
    const pairs = ok(nr) && ok(cr) ? cr.slice(0, nr.length).map((r, i) => r.rate / nr[i].rate) : [];
    const ratio = pairs.length ? median(pairs) : null;
    const met = ratio === null ? null : ratio >= target(c);
    const peak = (runs) => Math.max(...runs.map((r) => r.peakRssKb || 0));
    const rssMet = ok(cr) ? peak(cr) < RSS_LIMIT_KB : null;
    if (met === false || rssMet === false || !ok(cr) || !ok(nr)) allMet = false;
    const cell = (r, f) => (r ? (r.error ? (r.error === 'skipped' ? 'skipped' : 'FAILED') : f(r)) : 'n/a');
    const rates = (runs) => runs.map((r) => r.rate);
    console.log(`| ${c} | ${cell(nr, (r) => fmtInt(median(rates(r))))} | ${cell(cr, (r) => fmtInt(median(rates(r))))} | ` +
      `${ratio === null ? '—' : times(ratio)} | ≥${target(c)}× ${met === null ? '' : met ? '✅' : '❌'} | ` +
      `${cell(nr, (r) => spread(rates(r), fmtInt))} | ${cell(cr, (r) => spread(rates(r), fmtInt))} | ` +
      `${pairs.length ? spread(pairs, times) : '—'} | ` +
      `${cell(nr, (r) => mib(peak(r)))} | ${cell(cr, (r) => `${mib(peak(r))} ${rssMet ? '✅' : '❌'}`)} |`);
  }
  console.log('');
  console.log('## Redis cost per job');
  console.log('');
  console.log('Median run of each; CPU µs/job min–max over all runs.');
  console.log('');
  console.log('| concurrency | worker | CPU µs/job (INFO cpu) | CPU µs/job min–max | cmd µs/job (commandstats) | round trips/job | EVALSHA+EVAL/job | calls inside Lua/job | all calls/job |');
  console.log('|---:|:---|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of concs) {
    for (const kind of ['node', 'c']) {
      const runs = results[c][kind];
      if (!runs) continue;
      const name = kind === 'node' ? 'Node Worker' : 'echo_worker';
      if (runs.error) { console.log(`| ${c} | ${name} | ${runs.error === 'skipped' ? 'skipped' : 'FAILED'} | | | | | | |`); continue; }
      const d = medianRun(runs).redis; // the run whose rate is the median one
      if (kind === 'c' && c === 100 && d.cpuUsPerJob > REDIS_US_LIMIT) allMet = false;
      console.log(`| ${c} | ${name} | ${fmt1(d.cpuUsPerJob)} | ${spread(runs.map((r) => r.redis.cpuUsPerJob), fmt1)} | ` +
        `${fmt1(d.cmdUsPerJob)} | ${fmt2(d.roundTripsPerJob)} | ` +
        `${fmt2(d.scriptCallsPerJob)} | ${fmt2(d.innerCallsPerJob)} | ${fmt2(d.allCallsPerJob)} |`);
    }
  }
  console.log('');
  console.log(`Targets: echo_worker ≥1.4× Node at concurrency 1, ≥2× at 10 and 100; Redis CPU ≤${REDIS_US_LIMIT} µs per job at concurrency 100; peak RSS under 10 MiB.`);
  console.log('Notes: jobs/s = N / drain time; Node is timed from "go" (worker already connected) to its Nth');
  console.log('\'completed\' event, echo_worker from spawn to exit (--max-jobs N, startup included). "span" =');
  console.log('N / (last finishedOn − first processedOn) from Redis. Peak RSS = VmHWM (Node: read by the child');
  console.log('itself before exit; echo_worker: GNU time %M if installed, else /proc sampled every 20 ms). CPU µs = used_cpu_sys+user delta over');
  console.log('the drain; cmd µs = commandstats usec of top-level commands (scripts incl. their inner calls, plus');
  console.log('direct commands such as BZPOPMIN); "calls inside Lua" = every other commandstats call.');
  console.log(`Wall time of the whole benchmark: ${((Date.now() - started) / 1000).toFixed(0)}s.`);
  const errors = [];
  for (const c of concs) for (const kind of ['node', 'c']) {
    const r = results[c][kind];
    if (r && r.error && r.error !== 'skipped') errors.push(`c=${c} ${kind}: ${r.error}`);
  }
  if (errors.length) { console.log(''); console.log('Failures:'); for (const e of errors) console.log(`- ${e}`); }
  if (cSkip) { console.log(''); console.log(`C worker skipped: ${cSkip}.`); }
  else if (kinds.includes('c') && kinds.includes('node')) console.log(`\nAll targets met: ${allMet ? 'yes' : 'no'}`);

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify({ n, concurrency: concs, results }, null, 2));
  }
  return errors.length ? 1 : 0;
}

C.runMain('bench', main);
