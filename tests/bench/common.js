'use strict';
// Helpers shared by the parts of `make bench` (bench.js, cluster.js, tls.js; inventory.js uses
// the paths, environment parsing and number formats): the bookkeeping of every process they
// start (so that an error or Ctrl-C stops all of them), peak RSS sampling, INFO parsing, job
// adding and Redis' first-start/last-finish span of a queue, echo_worker runs (under GNU time
// when installed) and Node worker children (node_worker_child.js), the number formats and the
// environment line of the reports.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork, spawn, spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const NODE_MODULES = path.join(ROOT, 'tests', 'interop', 'node_modules');
const PREFIX = 'bull';

function loadBullmq() {
  try {
    return require(path.join(NODE_MODULES, 'bullmq'));
  } catch (e) {
    console.error(`bench: cannot load bullmq from ${NODE_MODULES} (run: cd tests/interop && npm ci --ignore-scripts): ${e.message}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------
// Every process started here, and what to undo synchronously on the way out.

const children = new Set(); // ChildProcess objects not yet seen exiting
const syncCleanups = new Set(); // functions: kill servers, remove folders (no awaiting)

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

// Children spawned with detached:true lead their own process group: kill the group.
function killChild(c) {
  if (c.exitCode !== null || c.signalCode !== null || !c.pid) return;
  try { if (c.pidIsGroup) process.kill(-c.pid, 'SIGKILL'); else c.kill('SIGKILL'); } catch (_) { /* gone */ }
}

function onExitSync(fn) {
  syncCleanups.add(fn);
  return () => syncCleanups.delete(fn);
}

function killEverythingSync() {
  for (const c of children) killChild(c);
  children.clear();
  for (const fn of syncCleanups) { try { fn(); } catch (_) { /* best effort */ } }
  syncCleanups.clear();
}

// Servers being started (a start function of topology.js has not resolved yet, so there is
// no handle to stop them with): a signal meanwhile waits for the start to end, then stops them.
const pendingStarts = new Set();
let stopping = false;

// Awaits promise (a topology.js start), then registers killSync(result) to run on the way
// out; resolves [result, unregister].
async function started(promise, killSync) {
  const entry = { promise, killSync };
  pendingStarts.add(entry);
  let v;
  try {
    v = await promise;
  } finally {
    pendingStarts.delete(entry);
  }
  const unregister = onExitSync(() => killSync(v));
  if (stopping) { killSync(v); throw new Error('stopping'); }
  return [v, unregister];
}

// Runs main() as a benchmark script: SIGINT/SIGTERM/SIGHUP and any error stop every child
// and server first; the exit status is main()'s.
function runMain(name, main) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      console.error(`${name}: ${sig}, stopping`);
      killEverythingSync();
      if (!pendingStarts.size) process.exit(130);
      const waits = [...pendingStarts].map((e) => e.promise.then((v) => e.killSync(v), () => {}));
      const t = setTimeout(() => process.exit(130), 40000);
      Promise.allSettled(waits).then(() => { clearTimeout(t); killEverythingSync(); process.exit(130); });
    });
  }
  process.on('exit', killEverythingSync);
  main().then((code) => { killEverythingSync(); process.exit(code || 0); },
    (e) => {
      if (stopping) return; // the signal handler exits
      console.error(`${name}:`, (e && e.stack) || e);
      killEverythingSync();
      process.exit(1);
    });
}

// A redis-server process started by tests/interop/lib/topology.js: SIGKILL on the way out.
function killProcSync(proc) {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    try { proc.kill('SIGKILL'); } catch (_) { /* gone */ }
  }
}

// ---------------------------------------------------------------------------
// Measuring

function vmStatus(pid) {
  // { rss, hwm } in kB, or null if the process is gone / a zombie.
  let txt;
  try { txt = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch (_) { return null; }
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(txt);
  const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(txt);
  if (!rss || !hwm) return null;
  return { rss: Number(rss[1]), hwm: Number(hwm[1]) };
}

// Samples /proc/<pid>/status every 20 ms (pid, or a function returning it); stop() yields
// the largest VmRSS and VmHWM seen.
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

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms / 1000}s waiting for ${what}`)), ms); }),
  ]);
}

function parseInfo(txt) {
  const out = {};
  for (const line of String(txt).split(/\r?\n/)) {
    if (!line || line[0] === '#') continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// used_cpu_sys + used_cpu_user of a Redis INFO text, in µs.
function cpuUsOf(infoText) {
  const info = parseInfo(infoText);
  return (Number(info.used_cpu_sys) + Number(info.used_cpu_user)) * 1e6;
}

// Adds n small jobs ({i}, default job options) to a bullmq Queue, addBulk in chunks of 1000.
async function addJobs(queue, n) {
  const CHUNK = 1000;
  for (let i = 0; i < n; i += CHUNK) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++) batch.push({ name: 'bench', data: { i: j } });
    await queue.addBulk(batch);
  }
}

// First processedOn .. last finishedOn of a queue's completed jobs, from Redis' own
// timestamps. The completed set is scored by finishedOn; the earliest start is looked for
// among the first 50 finished jobs (with concurrency c, the first job started is among the
// first c to finish, give or take).
async function queueSpan(client, queue, prefix = PREFIX) {
  const key = `${prefix}:${queue}:completed`;
  const first = await client.zrange(key, 0, 49);
  const last = await client.zrange(key, -1, -1, 'WITHSCORES');
  if (!first.length || !last.length) return null;
  const starts = await Promise.all(first.map((id) => client.hget(`${prefix}:${queue}:${id}`, 'processedOn')));
  const firstStart = Math.min(...starts.map(Number).filter((x) => x > 0));
  return { firstStart, lastFinish: Number(last[1]) };
}

// ---------------------------------------------------------------------------
// Workers

// GNU time reports the exact peak RSS (ru_maxrss from wait4) of the process it runs.
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

function echoWorkerPath() {
  const { ECHO_WORKER } = require(path.join(ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  try {
    fs.accessSync(ECHO_WORKER, fs.constants.X_OK);
    return { path: ECHO_WORKER, skip: null };
  } catch (_) {
    return { path: ECHO_WORKER, skip: `${path.relative(ROOT, ECHO_WORKER)} not found or not executable (run \`make\` first)` };
  }
}

// Starts echo_worker with args (which should include --max-jobs, so that it exits by itself).
// Returns { pid, done }: done resolves { ms (spawn to exit), peakRssKb, exactMaxRssKb,
// sampledMaxRssKb } once it exited 0, and rejects on another exit or after timeoutMs.
// tmpDir receives the GNU time output; env (optional) is added to ours.
function startEchoWorker(echoWorker, args, { tmpDir, timeoutMs, label = 'echo_worker', env = null }) {
  const GNU_TIME = gnuTimePath();
  const timeFile = GNU_TIME ? path.join(fs.mkdtempSync(path.join(tmpDir, 'time-')), 'maxrss') : null;
  const argv = GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', timeFile, echoWorker, ...args]] : [echoWorker, args];
  const t0 = process.hrtime.bigint();
  // Own process group, so that a kill reaches echo_worker under GNU time as well.
  const child = track(spawn(argv[0], argv[1], {
    stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: env ? { ...process.env, ...env } : process.env,
  }));
  child.pidIsGroup = true;
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 4000) stderr += d; });
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
  const done = (async () => {
    try {
      const ex = await withTimeout(exited, timeoutMs, `${label} to drain and exit`);
      const sampled = sampler.stop();
      if (ex.error) throw new Error(`${label}: ${ex.error.message}`);
      if (ex.code !== 0) {
        throw new Error(`${label} exited ${ex.code ?? ex.signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      let exactKb = null;
      if (timeFile) {
        try {
          const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
          const v = Number(lines[lines.length - 1]);
          if (v > 0) exactKb = v;
        } catch (_) { /* no file */ }
      }
      return {
        ms: Number(ex.t1 - t0) / 1e6,
        peakRssKb: Math.max(exactKb || 0, sampled.maxHwm),
        exactMaxRssKb: exactKb,
        sampledMaxRssKb: sampled.maxRss,
        stderr: stderr.trim(),
      };
    } finally {
      sampler.stop();
      killChild(child);
    }
  })();
  done.catch(() => {}); // the caller awaits it; no unhandled rejection meanwhile
  return { child, done };
}

// Forks node_worker_child.js (or `script`, a child speaking the same messages:
// bull_worker_child.js) with cfg (see that file). The handle's ready() resolves once
// its connections are up; go() starts it and returns a promise of its 'done' message ({ ms
// from go to the cfg.jobs-th completed event }); quit() closes it and resolves its peak RSS
// ({ hwm, maxRSS } in kB, read by the child itself); kill() ends it at once.
function forkNodeWorker(cfg, { label = 'node worker', script = 'node_worker_child.js' } = {}) {
  const child = track(fork(path.join(__dirname, script), [], {
    env: { ...process.env, BENCH_CHILD: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  }));
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const nextMessage = (type) => new Promise((resolve, reject) => {
    const onMsg = (m) => { if (m.type === type) { cleanup(); resolve(m); } };
    const onExit = (code, signal) => { cleanup(); reject(new Error(`${label} exited (${code ?? signal}) before '${type}'`)); };
    const cleanup = () => { child.off('message', onMsg); child.off('exit', onExit); };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
  const readyP = nextMessage('ready');
  readyP.catch(() => {});
  return {
    child,
    pid: child.pid,
    ready: (ms = 30000) => withTimeout(readyP, ms, `${label} ready`),
    go() {
      const p = nextMessage('done');
      p.catch(() => {});
      child.send({ type: 'go' });
      return p;
    },
    async quit(ms = 30000) {
      const p = nextMessage('rss');
      child.send({ type: 'quit' });
      const rss = await withTimeout(p, ms, `${label} to close`);
      await withTimeout(exited, 10000, `${label} exit`);
      return rss;
    },
    kill: () => killChild(child),
  };
}

// ---------------------------------------------------------------------------
// Figures

const median = (xs) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
const spread = (xs, f) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
// the run (an object with .rate) whose rate is the median one; the lower middle of an even count
const medianRun = (runs) => [...runs].sort((a, b) => a.rate - b.rate)[(runs.length - 1) >> 1];
function fmtInt(x) { return x === null || x === undefined || !isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'); }
function fmt1(x) { return x === null || x === undefined || !isFinite(x) ? '—' : x.toFixed(1); }
function fmt2(x) { return x === null || x === undefined || !isFinite(x) ? '—' : x.toFixed(2); }
function times(x) { return x === null || x === undefined || !isFinite(x) ? '—' : `${x.toFixed(2)}×`; }
function mib(kb) { return kb ? `${(kb / 1024).toFixed(1)} MiB` : '—'; }

function redisVersion() {
  const r = spawnSync(process.env.REDIS_SERVER || 'redis-server', ['--version'], { encoding: 'utf8' });
  const m = /v=(\S+)/.exec(r.stdout || '');
  return m ? m[1] : '?';
}

function environmentLine() {
  const bullmqVersion = require(path.join(NODE_MODULES, 'bullmq', 'package.json')).version;
  return `Node ${process.version}, bullmq ${bullmqVersion}, redis-server ${redisVersion()}, ` +
    `${os.cpus().length} CPUs, loadavg at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`;
}

// Where a part writes its raw results: $<ownVar>, else $BENCH_JSON with .<tag> before its
// extension, else nowhere (null).
function partJsonPath(ownVar, tag) {
  if (process.env[ownVar]) return process.env[ownVar];
  const j = process.env.BENCH_JSON;
  if (!j) return null;
  const ext = path.extname(j);
  return ext ? `${j.slice(0, -ext.length)}.${tag}${ext}` : `${j}.${tag}.json`;
}

function envList(name, dflt) {
  return (process.env[name] || dflt).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

function envNum(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) { console.error(`bench: ${name}=${v} is not a number`); process.exit(2); }
  return n;
}

// The runs of a part with a Node and a C worker per concurrency: for each concurrency, `repeat`
// rounds of one run per kind (node, c, node, c, ...: a burst of load from other users of the
// machine then does not land on one kind only, and each C run is paired with the Node run just
// before it), no new round once `budgetS` have passed since `started`. run(kind, c) resolves a
// result; label(kind, c, rep) names it on stderr and describe(r) says how it went. A kind that
// failed once is not run again; cSkip (a reason, or null) skips the C worker.
// Returns results[c][kind] = [result, ...] | { error }.
async function interleavedRuns({ concs, kinds, repeat, budgetS, started, cSkip, label, run, describe }) {
  const results = {};
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
        if (results[c][kind] && results[c][kind].error) continue;
        process.stderr.write(`bench: ${label(kind, c)}${repeat > 1 ? ` run ${rep + 1}/${repeat}` : ''} ... `);
        try {
          const r = await run(kind, c);
          process.stderr.write(`${describe(r)}\n`);
          results[c][kind] = [...(results[c][kind] || []), r];
        } catch (e) {
          process.stderr.write(`FAILED: ${e.message}\n`);
          if (!results[c][kind]) results[c][kind] = { error: e.message };
        }
      }
    }
  }
  return results;
}

module.exports = {
  ROOT, NODE_MODULES, PREFIX, loadBullmq,
  track, killChild, onExitSync, killEverythingSync, runMain, started, killProcSync,
  vmStatus, rssSampler, withTimeout, parseInfo, cpuUsOf, addJobs, queueSpan,
  gnuTimePath, echoWorkerPath, startEchoWorker, forkNodeWorker,
  median, spread, medianRun, fmtInt, fmt1, fmt2, times, mib, redisVersion, environmentLine,
  partJsonPath, envList, envNum, interleavedRuns,
};
