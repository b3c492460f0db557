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
// Node's Worker runs in a separate child process (this file with --node-worker) so
// its RSS is measured alone; it is created with autorun:false, reports "ready" once its
// connections are up, and the clock starts when the parent says "go". It counts its
// own 'completed' events and reports when the Nth one arrives. echo_worker is timed
// from spawn to exit (--max-jobs N), so its startup (connect, script loading) is
// included; the "span" rate (last finishedOn - first processedOn, read from Redis)
// excludes startup for both and is printed too.
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

const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { fork, spawn, spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const NODE_MODULES = path.join(ROOT, 'tests', 'interop', 'node_modules');
const QUEUE = 'bench';
const PREFIX = 'bull';

function loadBullmq() {
  try {
    return require(path.join(NODE_MODULES, 'bullmq'));
  } catch (e) {
    console.error(`bench: cannot load bullmq from ${NODE_MODULES} (run: cd tests/interop && npm ci --ignore-scripts): ${e.message}`);
    process.exit(2);
  }
}

function vmStatus(pid) {
  // Returns { rss, hwm } in kB, or null if the process is gone / a zombie.
  let txt;
  try { txt = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch (_) { return null; }
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(txt);
  const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(txt);
  if (!rss || !hwm) return null;
  return { rss: Number(rss[1]), hwm: Number(hwm[1]) };
}

// ---------------------------------------------------------------------------
// Child mode: a plain Node BullMQ Worker with a no-op async processor.
// ---------------------------------------------------------------------------
async function nodeWorkerChild() {
  const { Worker } = loadBullmq();
  const cfg = JSON.parse(process.env.BENCH_CHILD);
  // If the parent goes away, do not linger.
  process.on('disconnect', () => process.exit(3));
  let done = 0;
  let t0 = null;
  const worker = new Worker(cfg.queue, async () => {}, {
    connection: { host: '127.0.0.1', port: cfg.port, maxRetriesPerRequest: null },
    prefix: cfg.prefix,
    concurrency: cfg.concurrency,
    autorun: false,
  });
  worker.on('error', (err) => console.error('node worker error:', err && err.message));
  worker.on('completed', () => {
    done += 1;
    if (done === cfg.jobs) {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      process.send({ type: 'done', ms });
    }
  });
  process.on('message', async (m) => {
    if (m.type === 'go') {
      t0 = process.hrtime.bigint();
      worker.run().catch((err) => { console.error('node worker run:', err.message); process.exit(4); });
    } else if (m.type === 'quit') {
      try { await worker.close(); } catch (_) { /* ignore */ }
      const st = vmStatus(process.pid);
      const maxRSS = process.resourceUsage().maxRSS; // kB
      process.send({ type: 'rss', hwm: st ? st.hwm : null, maxRSS }, () => process.exit(0));
    }
  });
  await worker.waitUntilReady();
  process.send({ type: 'ready' });
}

// ---------------------------------------------------------------------------
// Parent mode
// ---------------------------------------------------------------------------
const children = new Set();  // ChildProcess objects we started and have not seen exit
const redises = new Set();   // harness redis handles not yet cleaned up

// Children spawned with detached:true lead their own process group: kill the group.
function killGroup(c) {
  if (c.exitCode !== null || c.signalCode !== null || !c.pid) return;
  try { if (c.pidIsGroup) process.kill(-c.pid, 'SIGKILL'); else c.kill('SIGKILL'); } catch (_) { /* gone */ }
}

function killEverythingSync() {
  for (const c of children) killGroup(c);
  children.clear();
  for (const r of redises) {
    if (r.proc) { try { r.proc.kill('SIGKILL'); } catch (_) { /* gone */ } }
    try { fs.rmSync(r.dir, { recursive: true, force: true }); } catch (_) { /* ignore */ }
  }
  redises.clear();
}

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function parseInfo(txt) {
  const out = {};
  for (const line of txt.split(/\r?\n/)) {
    if (!line || line[0] === '#') continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// Top-level commands a worker sends directly (never from inside Lua). Everything
// else in commandstats is taken to be a call made from inside a script.
const SCRIPT_CMDS = /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/;
const DIRECT_CMDS = /^(bzpopmin|bzpopmax|bzmpop|blpop|brpop|brpoplpush|blmove|blmpop|xread|xreadgroup|client|info|ping|hello|select|auth|script|config|command|multi|exec|watch|unwatch|discard|quit|cluster|memory|debug|readonly|wait)(\||$)/;

async function redisSnapshot(client) {
  const info = parseInfo(await client.info('everything'));
  const cpuUs = (Number(info.used_cpu_sys) + Number(info.used_cpu_user)) * 1e6;
  const mainUs = info.used_cpu_sys_main_thread !== undefined
    ? (Number(info.used_cpu_sys_main_thread) + Number(info.used_cpu_user_main_thread)) * 1e6 : null;
  const cmds = {};
  for (const [k, v] of Object.entries(info)) {
    if (!k.startsWith('cmdstat_')) continue;
    const calls = Number(/calls=(\d+)/.exec(v)[1]);
    const usec = Number(/usec=(\d+)/.exec(v)[1]);
    cmds[k.slice(8)] = { calls, usec };
  }
  return { cpuUs, mainUs, cmds, totalCommands: Number(info.total_commands_processed) };
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

async function addJobs(queue, n) {
  const CHUNK = 1000;
  for (let i = 0; i < n; i += CHUNK) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++) batch.push({ name: 'bench', data: { i: j } });
    await queue.addBulk(batch);
  }
}

// Rate from Redis' own timestamps: first processedOn .. last finishedOn.
async function redisSpan(client, n) {
  const first = await client.zrange(`${PREFIX}:${QUEUE}:completed`, 0, 0, 'WITHSCORES');
  const last = await client.zrange(`${PREFIX}:${QUEUE}:completed`, -1, -1, 'WITHSCORES');
  if (!first.length || !last.length) return null;
  const processedOn = Number(await client.hget(`${PREFIX}:${QUEUE}:${first[0]}`, 'processedOn'));
  const spanMs = Number(last[1]) - processedOn;
  return spanMs > 0 ? { spanMs, rate: n / (spanMs / 1000) } : null;
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms / 1000}s waiting for ${what}`)), ms); }),
  ]);
}

// Samples /proc/<pid>/status every 20 ms (pid, or a function returning it); stop()
// yields the largest VmRSS and VmHWM seen.
function rssSampler(pidOrFn) {
  let maxRss = 0;
  let maxHwm = 0;
  const tick = () => {
    const pid = typeof pidOrFn === 'function' ? pidOrFn() : pidOrFn;
    const st = pid ? vmStatus(pid) : null;
    if (st) { maxRss = Math.max(maxRss, st.rss); maxHwm = Math.max(maxHwm, st.hwm); }
  };
  tick();
  const timer = setInterval(tick, 20);
  return { tick, stop: () => { clearInterval(timer); return { maxRss, maxHwm }; } };
}

async function runNode(ctx) {
  const { redis, client, n, concurrency, timeoutMs } = ctx;
  const child = track(fork(__filename, ['--node-worker'], {
    env: { ...process.env, BENCH_CHILD: JSON.stringify({ queue: QUEUE, prefix: PREFIX, port: redis.port, concurrency, jobs: n }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  }));
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const nextMessage = (type) => new Promise((resolve, reject) => {
    const onMsg = (m) => { if (m.type === type) { cleanup(); resolve(m); } };
    const onExit = (code, signal) => { cleanup(); reject(new Error(`node worker exited (${code ?? signal}) before '${type}'`)); };
    const cleanup = () => { child.off('message', onMsg); child.off('exit', onExit); };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
  let sampler = null;
  try {
    await withTimeout(nextMessage('ready'), 30000, 'node worker ready');
    sampler = rssSampler(child.pid);
    const before = await redisSnapshot(client);
    const doneP = nextMessage('done');
    const t0 = process.hrtime.bigint();
    child.send({ type: 'go' });
    const done = await withTimeout(doneP, timeoutMs, 'node worker to drain');
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = await redisSnapshot(client);
    sampler.tick();
    const rssP = nextMessage('rss');
    child.send({ type: 'quit' });
    const rss = await withTimeout(rssP, 30000, 'node worker to close');
    await withTimeout(exited, 10000, 'node worker exit');
    const sampled = sampler.stop();
    return {
      ms: done.ms, wallMs,
      peakRssKb: Math.max(rss.hwm || 0, rss.maxRSS || 0, sampled.maxHwm),
      sampledMaxRssKb: sampled.maxRss,
      redis: redisDelta(before, after, n),
    };
  } finally {
    if (sampler) sampler.stop();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

// GNU time reports the exact peak RSS (ru_maxrss from wait4) of the process it runs;
// used when present, on top of /proc sampling.
let gnuTime;
function gnuTimePath() {
  if (gnuTime === undefined) {
    gnuTime = null;
    if (!process.env.BENCH_NO_GNU_TIME) {
      const r = spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' });
      if (r.status === 0 && /^\d+\s*$/m.test(r.stderr || '')) gnuTime = '/usr/bin/time';
    }
  }
  return gnuTime;
}

async function runC(ctx) {
  const { redis, client, n, concurrency, timeoutMs, echoWorker } = ctx;
  const before = await redisSnapshot(client);
  const args = ['--queue', QUEUE, '--redis', redis.url, '--prefix', PREFIX,
    '--concurrency', String(concurrency), '--max-jobs', String(n)];
  const GNU_TIME = gnuTimePath();
  const timeFile = GNU_TIME ? path.join(redis.dir, 'echo_worker.maxrss') : null;
  const argv = GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', timeFile, echoWorker, ...args]] : [echoWorker, args];
  const t0 = process.hrtime.bigint();
  // Own process group, so that a kill reaches echo_worker under GNU time as well.
  const child = track(spawn(argv[0], argv[1], { stdio: ['ignore', 'ignore', 'pipe'], detached: true }));
  child.pidIsGroup = true;
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 4000) stderr += d; });
  // Under GNU time, sample its child (echo_worker), found through /proc.
  let workerPid = GNU_TIME ? null : child.pid;
  const sampler = rssSampler(() => {
    if (workerPid === null && child.pid) {
      try {
        const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/);
        if (kids[0]) workerPid = Number(kids[0]);
      } catch (_) { /* not yet / gone */ }
    }
    return workerPid;
  });
  const exited = new Promise((res) => {
    child.once('exit', (code, signal) => res({ code, signal, t1: process.hrtime.bigint() }));
    child.once('error', (err) => res({ code: null, signal: null, error: err, t1: process.hrtime.bigint() }));
  });
  try {
    const ex = await withTimeout(exited, timeoutMs, 'echo_worker to drain and exit');
    const ms = Number(ex.t1 - t0) / 1e6;
    const sampled = sampler.stop();
    if (ex.error) throw new Error(`echo_worker: ${ex.error.message}`);
    if (ex.code !== 0) throw new Error(`echo_worker exited ${ex.code ?? ex.signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const after = await redisSnapshot(client);
    let exactKb = null;
    if (timeFile) {
      try {
        const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
        const v = Number(lines[lines.length - 1]);
        if (v > 0) exactKb = v;
      } catch (_) { /* no file */ }
    }
    return {
      ms, wallMs: ms,
      peakRssKb: Math.max(exactKb || 0, sampled.maxHwm),
      exactMaxRssKb: exactKb,
      sampledMaxRssKb: sampled.maxRss,
      redis: redisDelta(before, after, n),
    };
  } finally {
    sampler.stop();
    killGroup(child);
  }
}

async function oneRun(kind, concurrency, cfg) {
  const { startRedis } = require(path.join(ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  const { Queue } = loadBullmq();
  const IORedis = require(path.join(NODE_MODULES, 'ioredis'));
  const redis = await startRedis();
  redises.add(redis);
  const client = new IORedis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null, lazyConnect: false });
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: PREFIX });
  try {
    const ta = Date.now();
    await addJobs(queue, cfg.n);
    const addMs = Date.now() - ta;
    const waiting = await queue.getWaitingCount();
    if (waiting !== cfg.n) throw new Error(`expected ${cfg.n} waiting jobs, found ${waiting}`);
    const ctx = { redis, client, n: cfg.n, concurrency, timeoutMs: cfg.timeoutMs, echoWorker: cfg.echoWorker };
    let r;
    try {
      r = kind === 'node' ? await runNode(ctx) : await runC(ctx);
    } catch (e) {
      const got = await withTimeout(queue.getCompletedCount(), 5000, 'completed count').catch(() => '?');
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
    redises.delete(redis);
  }
}

function fmtInt(x) { return x === null || x === undefined || !isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'); }
function fmt1(x) { return x === null || x === undefined || !isFinite(x) ? '—' : x.toFixed(1); }
function fmt2(x) { return x === null || x === undefined || !isFinite(x) ? '—' : x.toFixed(2); }
function mib(kb) { return kb ? `${(kb / 1024).toFixed(1)} MiB` : '—'; }

function redisVersion() {
  const r = spawnSync(process.env.REDIS_SERVER || 'redis-server', ['--version'], { encoding: 'utf8' });
  const m = /v=(\S+)/.exec(r.stdout || '');
  return m ? m[1] : '?';
}

async function main() {
  const n = Number(process.env.BENCH_JOBS || 20000);
  const concs = (process.env.BENCH_CONCURRENCY || '1,10,100').split(',').map((s) => Number(s.trim())).filter((x) => x > 0);
  const kinds = (process.env.BENCH_WORKERS || 'node,c').split(',').map((s) => s.trim().toLowerCase());
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT || 3));
  const timeoutMs = Number(process.env.BENCH_TIMEOUT_S || 120) * 1000;
  const budgetS = Number(process.env.BENCH_BUDGET_S || 360);
  const started = Date.now();
  if (!(n > 0) || !concs.length) { console.error('bench: bad BENCH_JOBS / BENCH_CONCURRENCY'); process.exit(2); }

  const { ECHO_WORKER } = require(path.join(ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  let echoWorker = ECHO_WORKER;
  let cSkip = null;
  if (kinds.includes('c')) {
    try { fs.accessSync(echoWorker, fs.constants.X_OK); } catch (_) {
      cSkip = `${path.relative(ROOT, echoWorker)} not found or not executable (run \`make\` first)`;
      console.log(`bench: SKIPPING the C worker: ${cSkip}`);
    }
  }
  const bullmqVersion = require(path.join(NODE_MODULES, 'bullmq', 'package.json')).version;

  console.log(`# libbullc benchmark`);
  console.log('');
  console.log(`N=${n} jobs per run, concurrency ${concs.join(', ')}, ${repeat} runs each (medians; spread min–max); ` +
    `Node ${process.version}, bullmq ${bullmqVersion}, redis-server ${redisVersion()}, ` +
    `${os.cpus().length} CPUs, loadavg at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('');

  // Repeats are interleaved (node, c, node, c, ...) so a burst of load from other
  // users of the machine does not land on one worker kind only, and each C run is
  // compared with the Node run just before it.
  const results = {}; // results[c][kind] = [result, ...] | {error}
  for (const c of concs) {
    results[c] = {};
    for (let rep = 0; rep < repeat; rep++) {
      if (rep > 0 && (Date.now() - started) / 1000 > budgetS) {
        process.stderr.write(`bench: over the ${budgetS}s budget, no more repeats\n`);
        break;
      }
      for (const kind of ['node', 'c']) {
        if (!kinds.includes(kind)) continue;
        if (kind === 'c' && cSkip) { results[c][kind] = { error: 'skipped' }; continue; }
        if (results[c][kind] && results[c][kind].error) continue; // failed once: do not repeat
        const label = `${kind === 'node' ? 'node BullMQ Worker' : 'echo_worker'} c=${c}${repeat > 1 ? ` run ${rep + 1}/${repeat}` : ''}`;
        process.stderr.write(`bench: ${label} ... `);
        try {
          const r = await oneRun(kind, c, { n, timeoutMs, echoWorker });
          process.stderr.write(`${fmtInt(r.rate)} jobs/s in ${(r.ms / 1000).toFixed(2)}s, peak RSS ${mib(r.peakRssKb)}, ` +
            `redis ${fmt1(r.redis.cpuUsPerJob)} µs/job (adds took ${(r.addMs / 1000).toFixed(1)}s)\n`);
          results[c][kind] = [...(results[c][kind] || []), r];
        } catch (e) {
          process.stderr.write(`FAILED: ${e.message}\n`);
          if (!results[c][kind]) results[c][kind] = { error: e.message };
        }
      }
    }
  }

  // ---- tables ----
  const ok = (r) => Array.isArray(r) && r.length > 0;
  const median = (xs) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
  const spread = (xs, f) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
  // the run whose rate is the median one (for the per-job Redis figures)
  const medianRun = (runs) => [...runs].sort((a, b) => a.rate - b.rate)[(runs.length - 1) >> 1];
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
      `${ratio === null ? '—' : `${fmt2(ratio)}×`} | ≥${target(c)}× ${met === null ? '' : met ? '✅' : '❌'} | ` +
      `${cell(nr, (r) => spread(rates(r), fmtInt))} | ${cell(cr, (r) => spread(rates(r), fmtInt))} | ` +
      `${pairs.length ? spread(pairs, (x) => `${fmt2(x)}×`) : '—'} | ` +
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
      const d = medianRun(runs).redis;
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

if (process.argv.includes('--node-worker')) {
  nodeWorkerChild().catch((e) => { console.error('node worker child:', e); process.exit(5); });
} else {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { console.error(`bench: ${sig}, stopping`); killEverythingSync(); process.exit(130); });
  }
  process.on('exit', killEverythingSync);
  main().then((code) => { killEverythingSync(); process.exit(code); },
    (e) => { console.error('bench:', e && e.stack || e); killEverythingSync(); process.exit(1); });
}
