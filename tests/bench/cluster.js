'use strict';
// `make bench`, part `cluster`: Node BullMQ 6.7.0 Workers vs build/bin/echo_worker on a Redis
// Cluster, several queues at once.
//
// A private Redis Cluster (tests/interop/lib/topology.js startCluster: BENCH_CLUSTER_MASTERS
// masters, default 3, with BENCH_CLUSTER_REPLICAS replicas each, default 0) runs on free
// 127.0.0.1 ports for the whole part. BENCH_CLUSTER_QUEUES queues (default 4) with hash-tagged
// names ({qN}: every key of a queue in one slot) are picked so that they spread over the
// masters round-robin (slotOf / masterOfSlot). Each run:
//   1. FLUSHALL on every master, then Node adds BENCH_CLUSTER_JOBS small jobs ({i}) to every
//      queue with bullmq's Queue.addBulk (chunks of 1000, all queues in parallel) over one
//      IORedis.Cluster; default job options, so every job is kept in `completed`.
//   2. One worker process per queue, all at the same time, concurrency BENCH_CLUSTER_CONCURRENCY
//      (default 10) each, drains its queue:
//        c     build/bin/echo_worker --redis redis://127.0.0.1:<a node> --queue '{qN}'
//              --max-jobs N --quiet (the workers are given different nodes' URLs, round-robin;
//              each finds the cluster from it), timed from spawn to exit
//        node  tests/bench/node_worker_child.js: a BullMQ Worker over an IORedis.Cluster, made
//              with autorun:false; timed from "go" (connected) to its Nth 'completed' event
//   3. jobs/s = all jobs / (last finishedOn - first processedOn over all queues, as Redis
//      recorded them), so neither kind's start-up counts; "incl. start-up" = all jobs / time
//      from starting the workers to the last one done. Peak RSS of every worker process
//      (VmHWM; echo_worker: GNU time %M when installed). Redis CPU per node: INFO cpu
//      used_cpu_sys + used_cpu_user delta from just before the workers start to just after the
//      last is done, per job of the queues on that master, and as a share of one core.
// Runs alternate node, c, c, node, ... (BENCH_REPEAT of each, default 3); the table gives
// medians and the spread (min–max); the C/Node spread pairs run i of each.
//
// Environment:
//   BENCH_CLUSTER_JOBS         jobs per queue per run (default 5000)
//   BENCH_CLUSTER_QUEUES       queues, one worker process each (default 4)
//   BENCH_CLUSTER_CONCURRENCY  concurrency of every worker (default 10)
//   BENCH_CLUSTER_MASTERS      masters (default 3)
//   BENCH_CLUSTER_REPLICAS     replicas per master (default 0; their CPU is reported too)
//   BENCH_CLUSTER_BUDGET_S     no further repeats start after this many seconds (default 170);
//                              each kind still gets its first run
//   BENCH_CLUSTER_JSON         raw results as JSON to this path (default: BENCH_JSON with
//                              .cluster inserted before its extension, when BENCH_JSON is set)
//   BENCH_REPEAT, BENCH_WORKERS (node,c), BENCH_TIMEOUT_S (per-run drain timeout, 120),
//   BENCH_NO_GNU_TIME, BULLC_BIN_DIR, REDIS_SERVER, REDIS_CLI: as for bench.js / topology.js.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const C = require('./common');

const T = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'topology.js'));
const IORedis = require(path.join(C.NODE_MODULES, 'ioredis'));

const HOST = '127.0.0.1';
const LABEL = { node: 'Node Worker', c: 'echo_worker' };

// count hash-tagged queue names {qJ}, the i-th on masters[i % masters.length] (the first
// unused J whose slot that master owns): [{ name, slot, master: {port, id} }].
async function pickQueues(cluster, count, masters) {
  const owner = new Map(); // name -> master
  const used = new Set();
  const picked = [];
  for (let i = 0; i < count; i++) {
    const want = masters[i % masters.length];
    for (let j = 1; ; j++) {
      if (j > 5000) throw new Error(`no queue name {qJ} found on master :${want}`);
      const name = `{q${j}}`;
      if (used.has(name)) continue;
      const slot = T.slotOf(name);
      if (!owner.has(name)) owner.set(name, await cluster.masterOfSlot(slot));
      if (owner.get(name).port !== want) continue;
      used.add(name);
      picked.push({ name, slot, master: owner.get(name) });
      break;
    }
  }
  return picked.sort((a, b) => Number(a.name.slice(2, -1)) - Number(b.name.slice(2, -1)));
}

async function roles(cluster) {
  const out = {};
  for (const n of cluster.nodes) {
    const info = C.parseInfo(await cluster.nodeCommand(n.port, 'INFO', 'replication'));
    out[n.port] = info.role === 'master' ? { role: 'master' } : { role: 'replica', of: Number(info.master_port) };
  }
  return out;
}

async function cpuSnapshot(cluster) {
  const texts = await Promise.all(cluster.nodes.map((n) => cluster.nodeCommand(n.port, 'INFO', 'cpu')));
  const out = {};
  cluster.nodes.forEach((n, i) => { out[n.port] = C.cpuUsOf(texts[i]); });
  return out;
}

async function runNode(ctx) {
  const { cluster, picked, n, concurrency, timeoutMs } = ctx;
  const handles = picked.map((q) => C.forkNodeWorker({
    queue: q.name, prefix: C.PREFIX, concurrency, jobs: n, cluster: cluster.startupNodes,
  }, { label: `node worker ${q.name}` }));
  const samplers = [];
  try {
    await Promise.all(handles.map((h) => h.ready()));
    for (const h of handles) samplers.push(C.rssSampler(h.pid));
    const before = await cpuSnapshot(cluster);
    const t0 = process.hrtime.bigint();
    const dones = handles.map((h) => h.go());
    await C.withTimeout(Promise.all(dones), timeoutMs, 'the node workers to drain');
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = await cpuSnapshot(cluster);
    for (const s of samplers) s.tick();
    const rss = await Promise.all(handles.map((h) => h.quit()));
    const peaks = rss.map((r, i) => Math.max(r.hwm || 0, r.maxRSS || 0, samplers[i].stop().maxHwm));
    return { wallMs, peaks, before, after };
  } finally {
    for (const s of samplers) s.stop();
    for (const h of handles) h.kill();
  }
}

async function runC(ctx) {
  const { cluster, picked, n, concurrency, timeoutMs, echoWorker, tmpDir } = ctx;
  const before = await cpuSnapshot(cluster);
  const t0 = process.hrtime.bigint();
  const ws = picked.map((q, i) => C.startEchoWorker(echoWorker, [
    '--queue', q.name, '--redis', `redis://${HOST}:${cluster.nodes[i % cluster.nodes.length].port}`,
    '--prefix', C.PREFIX, '--concurrency', String(concurrency), '--max-jobs', String(n), '--quiet',
  ], { tmpDir, timeoutMs, label: `echo_worker ${q.name}` }));
  try {
    const res = await Promise.all(ws.map((w) => w.done));
    const wallMs = Math.max(...res.map((r) => r.ms));
    const after = await cpuSnapshot(cluster);
    for (const r of res) if (r.stderr) process.stderr.write(`\n  echo_worker said: ${r.stderr.split('\n').slice(-3).join(' | ')}\n`);
    return { wallMs, peaks: res.map((r) => r.peakRssKb), exact: res.map((r) => r.exactMaxRssKb), before, after };
  } finally {
    for (const w of ws) C.killChild(w.child);
  }
}

async function oneRun(kind, ctx) {
  const { cluster, picked, queues, client, n, masters } = ctx;
  for (const port of masters) await cluster.nodeCommand(port, 'FLUSHALL', 'SYNC');
  if (ctx.replicas) await cluster.waitReplicated(20000);
  const ta = Date.now();
  await Promise.all(queues.map((q) => C.addJobs(q, n)));
  const addMs = Date.now() - ta;
  const waiting = await Promise.all(queues.map((q) => q.getWaitingCount()));
  waiting.forEach((w, i) => { if (w !== n) throw new Error(`${picked[i].name}: expected ${n} waiting jobs, found ${w}`); });
  if (ctx.replicas) await cluster.waitReplicated(20000);
  let r;
  try {
    r = kind === 'node' ? await runNode(ctx) : await runC(ctx);
  } catch (e) {
    const got = await C.withTimeout(Promise.all(queues.map((q) => q.getCompletedCount())), 5000, 'completed counts')
      .then((xs) => xs.join('+'), () => '?');
    e.message += ` (${got} of ${queues.length}×${n} jobs completed)`;
    throw e;
  }
  const perQueue = [];
  for (let i = 0; i < queues.length; i++) {
    const completed = await queues[i].getCompletedCount();
    const failed = await queues[i].getFailedCount();
    if (completed !== n) throw new Error(`${picked[i].name}: expected ${n} completed jobs, found ${completed} (failed: ${failed})`);
    const s = await C.queueSpan(client, picked[i].name);
    if (!s) throw new Error(`${picked[i].name}: no processedOn/finishedOn`);
    perQueue.push({ queue: picked[i].name, ...s, rate: n / (Math.max(1, s.lastFinish - s.firstStart) / 1000) });
  }
  const spanMs = Math.max(1, Math.max(...perQueue.map((q) => q.lastFinish)) - Math.min(...perQueue.map((q) => q.firstStart)));
  const total = n * queues.length;
  const cpu = {};
  for (const node of cluster.nodes) {
    const us = r.after[node.port] - r.before[node.port];
    cpu[node.port] = { us, busy: us / (r.wallMs * 1000) };
  }
  return {
    kind, total, addMs,
    spanMs, rate: total / (spanMs / 1000),
    wallMs: r.wallMs, wallRate: total / (r.wallMs / 1000),
    perQueue,
    peakRssKb: r.peaks, exactMaxRssKb: r.exact || null,
    peakRssMaxKb: Math.max(...r.peaks), peakRssSumKb: r.peaks.reduce((a, b) => a + b, 0),
    cpu,
  };
}

async function main() {
  const n = C.envNum('BENCH_CLUSTER_JOBS', 5000);
  const nQueues = C.envNum('BENCH_CLUSTER_QUEUES', 4);
  const concurrency = C.envNum('BENCH_CLUSTER_CONCURRENCY', 10);
  const nMasters = C.envNum('BENCH_CLUSTER_MASTERS', 3);
  const replicas = C.envNum('BENCH_CLUSTER_REPLICAS', 0);
  const repeat = Math.max(1, C.envNum('BENCH_REPEAT', 3));
  const kinds = C.envList('BENCH_WORKERS', 'node,c');
  const timeoutMs = C.envNum('BENCH_TIMEOUT_S', 120) * 1000;
  const budgetS = C.envNum('BENCH_CLUSTER_BUDGET_S', 170);
  if (!(n > 0) || !(nQueues > 0) || !(concurrency > 0) || !(nMasters >= 3) || !(replicas >= 0)) {
    console.error('cluster bench: bad BENCH_CLUSTER_* (jobs, queues, concurrency > 0; masters ≥ 3; replicas ≥ 0)');
    return 2;
  }
  const started = Date.now();
  const echo = C.echoWorkerPath();
  if (kinds.includes('c') && echo.skip) console.log(`cluster bench: SKIPPING the C worker: ${echo.skip}`);

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullc-bench-cluster-'));
  C.onExitSync(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

  process.stderr.write(`cluster bench: starting a ${nMasters}-master cluster (${replicas} replica(s) each) ... `);
  const tc = Date.now();
  const [cluster, unregister] = await C.started(T.startCluster({ masters: nMasters, replicasPer: replicas }), (c) => {
    for (const node of c.nodes) C.killProcSync(node.proc);
    fs.rmSync(c.dir, { recursive: true, force: true });
  });
  process.stderr.write(`up in ${((Date.now() - tc) / 1000).toFixed(1)}s\n`);
  const conn = cluster.connection();
  conn.on('error', () => {});
  const client = conn; // reads (spans) go through the same IORedis.Cluster
  const { Queue } = C.loadBullmq();
  let queues = [];
  const results = { node: [], c: [] };
  const errors = {};
  let picked;
  let nodeRoles;
  try {
    nodeRoles = await roles(cluster);
    const masters = cluster.nodes.filter((x) => nodeRoles[x.port].role === 'master').map((x) => x.port);
    picked = await pickQueues(cluster, nQueues, masters);
    queues = picked.map((q) => new Queue(q.name, { connection: conn, prefix: C.PREFIX }));
    for (const q of queues) q.on('error', () => {});
    const ctx = {
      cluster, picked, queues, client, n, concurrency, timeoutMs, echoWorker: echo.path, tmpDir, masters, replicas,
    };
    process.stderr.write(`cluster bench: queues ${picked.map((q) => `${q.name}→:${q.master.port}`).join(', ')}\n`);
    for (let rep = 0; rep < repeat; rep++) {
      if (rep > 0 && (Date.now() - started) / 1000 > budgetS) {
        process.stderr.write(`cluster bench: over the ${budgetS}s budget, no more repeats\n`);
        break;
      }
      const order = rep % 2 ? ['c', 'node'] : ['node', 'c'];
      for (const kind of order) {
        if (!kinds.includes(kind) || errors[kind]) continue;
        if (kind === 'c' && echo.skip) { errors.c = 'skipped'; continue; }
        process.stderr.write(`cluster bench: ${LABEL[kind]} ×${nQueues}${repeat > 1 ? ` run ${rep + 1}/${repeat}` : ''} ... `);
        try {
          const r = await oneRun(kind, ctx);
          results[kind].push(r);
          process.stderr.write(`${C.fmtInt(r.rate)} jobs/s (span ${(r.spanMs / 1000).toFixed(2)}s, ` +
            `${C.fmtInt(r.wallRate)} incl. start-up), peak RSS ${C.mib(r.peakRssMaxKb)} max / ${C.mib(r.peakRssSumKb)} sum, ` +
            `redis ${masters.map((p) => `:${p} ${C.fmt1(r.cpu[p].us / (n * picked.filter((q) => q.master.port === p).length || NaN))}`).join(' ')} µs/job ` +
            `(adds took ${(r.addMs / 1000).toFixed(1)}s)\n`);
        } catch (e) {
          process.stderr.write(`FAILED: ${e.message}\n`);
          errors[kind] = e.message;
        }
      }
    }
  } finally {
    await C.withTimeout(Promise.allSettled(queues.map((q) => q.close())), 10000, 'queues to close').catch(() => {});
    conn.disconnect();
    await cluster.cleanup();
    unregister();
  }

  report({ n, nQueues, concurrency, nMasters, replicas, repeat, picked, nodeRoles, cluster, results, errors, kinds, started });
  const jp = C.partJsonPath('BENCH_CLUSTER_JSON', 'cluster');
  if (jp) {
    fs.writeFileSync(jp, JSON.stringify({
      part: 'cluster', jobsPerQueue: n, queues: picked.map((q) => ({ name: q.name, slot: q.slot, master: q.master.port })),
      concurrency, masters: nMasters, replicas, nodes: nodeRoles, results, errors,
    }, null, 2));
  }
  return Object.values(errors).some((e) => e !== 'skipped') ? 1 : 0;
}

function report({ n, nQueues, concurrency, nMasters, replicas, repeat, picked, nodeRoles, cluster, results, errors, kinds, started }) {
  const { median, spread, medianRun, fmtInt, fmt1, times, mib } = C;
  const ok = (k) => results[k].length > 0;
  const cell = (k, f) => (ok(k) ? f(results[k]) : errors[k] === 'skipped' ? 'skipped' : errors[k] ? 'FAILED' : 'n/a');
  console.log('');
  console.log('# libbullc cluster benchmark');
  console.log('');
  console.log(`${nMasters}-master Redis Cluster (${replicas} replica(s) per master) on 127.0.0.1; ${nQueues} queues × ` +
    `${n} jobs, one worker process per queue at concurrency ${concurrency}, all at once; ${repeat} run(s) each, ` +
    `alternating (medians; spread min–max); ${C.environmentLine()}`);
  console.log('');
  const onMaster = (port) => picked.filter((q) => q.master.port === port);
  console.log(`Queues: ${picked.map((q) => `${q.name} (slot ${q.slot}) → :${q.master.port}`).join(', ')}`);
  console.log('');
  console.log(`## Throughput and memory (${nQueues} queues together)`);
  console.log('');
  console.log('| worker | jobs/s | jobs/s min–max | C/Node (median of paired runs) | C/Node min–max | jobs/s incl. start-up | ' +
    'per-queue jobs/s min–max (median run) | peak RSS per worker (largest) | peak RSS all workers (sum) |');
  console.log('|:---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const pairs = ok('node') && ok('c')
    ? results.c.slice(0, results.node.length).map((r, i) => r.rate / results.node[i].rate) : [];
  for (const k of ['node', 'c']) {
    if (!kinds.includes(k)) continue;
    const isC = k === 'c';
    console.log(`| ${LABEL[k]} ×${nQueues} | ${cell(k, (rs) => fmtInt(median(rs.map((r) => r.rate))))} | ` +
      `${cell(k, (rs) => spread(rs.map((r) => r.rate), fmtInt))} | ` +
      `${isC && pairs.length ? times(median(pairs)) : ''} | ` +
      `${isC && pairs.length ? spread(pairs, times) : ''} | ` +
      `${cell(k, (rs) => fmtInt(median(rs.map((r) => r.wallRate))))} | ` +
      `${cell(k, (rs) => spread(medianRun(rs).perQueue.map((q) => q.rate), fmtInt))} | ` +
      `${cell(k, (rs) => mib(Math.max(...rs.map((r) => r.peakRssMaxKb))))} | ` +
      `${cell(k, (rs) => mib(median(rs.map((r) => r.peakRssSumKb))))} |`);
  }
  console.log('');
  console.log('## Redis CPU per node');
  console.log('');
  console.log('INFO cpu used_cpu_sys+used_cpu_user, delta over the drain: µs per job of the queues on that master ' +
    '(median; min–max), and busy = CPU time / drain time (100% = one core).');
  console.log('');
  const cols = kinds.filter((k) => k === 'node' || k === 'c');
  console.log(`| node | role | queues | jobs/run | ${cols.map((k) => `${LABEL[k]} µs/job | min–max | busy`).join(' | ')} |`);
  console.log(`|:---|:---|:---|---:|${cols.map(() => '---:|---:|---:').join('|')}|`);
  const rows = [];
  for (const node of cluster.nodes) {
    const role = nodeRoles[node.port];
    const masterPort = role.role === 'master' ? node.port : role.of;
    rows.push({ port: node.port, role, masterPort, qs: onMaster(masterPort) });
  }
  rows.sort((a, b) => a.masterPort - b.masterPort || (a.role.role === 'master' ? -1 : 1));
  const line = (label, roleText, qsText, jobs, usOf, busyOf) => {
    const cells = cols.map((k) => cell(k, (rs) => {
      const us = rs.map((r) => usOf(r) / jobs);
      return `${fmt1(median(us))} | ${spread(us, fmt1)} | ${median(rs.map(busyOf)).toFixed(0)}%`;
    }) + (ok(k) ? '' : ' | | '));
    console.log(`| ${label} | ${roleText} | ${qsText} | ${fmtInt(jobs)} | ${cells.join(' | ')} |`);
  };
  for (const row of rows) {
    const jobs = n * row.qs.length;
    line(`:${row.port}`, row.role.role === 'master' ? 'master' : `replica of :${row.role.of}`,
      row.qs.map((q) => q.name).join(', ') || '—', jobs || NaN,
      (r) => r.cpu[row.port].us, (r) => 100 * r.cpu[row.port].busy);
  }
  line('all nodes', '', `${nQueues} queues`, n * nQueues,
    (r) => Object.values(r.cpu).reduce((a, x) => a + x.us, 0),
    (r) => 100 * Object.values(r.cpu).reduce((a, x) => a + x.busy, 0));
  console.log('');
  console.log('Notes: jobs/s = all jobs / (last finishedOn − first processedOn over all queues), from Redis\' own');
  console.log('timestamps, so start-up does not count; "incl. start-up" = all jobs / time from starting the workers');
  console.log('(Node: already connected, told "go"; echo_worker: spawned, --max-jobs N) to the last one done.');
  console.log('Peak RSS = VmHWM of each worker process (Node: read by the child itself before exit; echo_worker:');
  console.log('GNU time %M if installed, else /proc sampled every 20 ms); "sum" = the sum over the worker processes');
  console.log('of a run, median over runs. Redis CPU covers the drain only (the adds come before the first');
  console.log('snapshot); for echo_worker it includes the workers\' start-up (cluster discovery, script loading).');
  console.log(`Wall time of the cluster part: ${((Date.now() - started) / 1000).toFixed(0)}s.`);
  const failed = Object.entries(errors).filter(([, e]) => e !== 'skipped');
  if (failed.length) { console.log(''); console.log('Failures:'); for (const [k, e] of failed) console.log(`- ${k}: ${e}`); }
  if (errors.c === 'skipped') { console.log(''); console.log('C worker skipped: build/bin/echo_worker not built.'); }
}

C.runMain('cluster bench', main);
