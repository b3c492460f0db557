'use strict';
// `make bench`, part `tls`: what TLS costs, for Node BullMQ 6.7.0's Worker and for
// build/bin/echo_worker.
//
// One private redis-server for the whole part (tests/interop/lib/topology.js startRedisTls with
// test certificates from makeCerts() and plainPort: true) listens on a plain port and on a TLS
// port (server certificate for IP:127.0.0.1, no client certificate asked). Each run, on that
// server:
//   1. FLUSHALL, then Node adds BENCH_TLS_JOBS small jobs ({i}) with Queue.addBulk in chunks of
//      1000 over the plain port (the same data for every run); default job options.
//   2. One worker at concurrency BENCH_TLS_CONCURRENCY (default 10) drains the queue, over
//        plain  redis://127.0.0.1:<plain port>
//        TLS    rediss://127.0.0.1:<TLS port>, trusting the test CA: echo_worker --tls-ca ca.crt;
//               Node: connection { tls: { ca } } (as topology.js tlsClientOptions)
//      c = echo_worker --max-jobs N --quiet, timed from spawn to exit; node =
//      tests/bench/node_worker_child.js (autorun:false, timed from "go" to the Nth 'completed').
//   3. jobs/s = N / (last finishedOn − first processedOn) from Redis' timestamps (no start-up);
//      "incl. start-up" as said in 2; peak RSS (VmHWM; echo_worker: GNU time %M when
//      installed); Redis CPU per job (INFO cpu used_cpu_sys+used_cpu_user delta over the drain,
//      which includes the server's TLS work).
// The four variants run BENCH_REPEAT times each (default 3), alternating
// node plain, c plain, node TLS, c TLS, then the reverse order, and so on. The table gives
// medians and min–max; TLS/plain pairs run i over TLS with run i over plain of the same worker.
//
// Environment:
//   BENCH_TLS_JOBS         jobs per run (default 20000)
//   BENCH_TLS_CONCURRENCY  worker concurrency (default 10)
//   BENCH_TLS_BUDGET_S     no further repeats start after this many seconds (default 170);
//                          every variant still gets its first run
//   BENCH_TLS_JSON         raw results as JSON to this path (default: BENCH_JSON with .tls inserted
//                          before its extension, when BENCH_JSON is set)
//   BENCH_REPEAT, BENCH_WORKERS (node,c), BENCH_TIMEOUT_S (per-run drain timeout, 120),
//   BENCH_NO_GNU_TIME, BULLC_BIN_DIR, REDIS_SERVER, OPENSSL: as for bench.js / topology.js.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const C = require('./common');

const T = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'topology.js'));
const IORedis = require(path.join(C.NODE_MODULES, 'ioredis'));

const HOST = '127.0.0.1';
const QUEUE = 'bench';
const LABEL = { node: 'Node Worker', c: 'echo_worker' };
const MODES = ['plain', 'tls'];
const MODE_LABEL = { plain: 'plain', tls: 'TLS' };

async function cpuUs(client) {
  return C.cpuUsOf(await client.info('cpu'));
}

async function runNode(ctx, mode) {
  const { redis, certs, client, n, concurrency, timeoutMs } = ctx;
  const cfg = mode === 'tls'
    ? { host: HOST, port: redis.port, caFile: certs.ca }
    : { host: HOST, port: redis.plainPort };
  const h = C.forkNodeWorker({ queue: QUEUE, prefix: C.PREFIX, concurrency, jobs: n, ...cfg },
    { label: `node worker (${MODE_LABEL[mode]})` });
  let sampler = null;
  try {
    await h.ready();
    sampler = C.rssSampler(h.pid);
    const before = await cpuUs(client);
    const t0 = process.hrtime.bigint();
    await C.withTimeout(h.go(), timeoutMs, 'the node worker to drain');
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = await cpuUs(client);
    sampler.tick();
    const rss = await h.quit();
    const peak = Math.max(rss.hwm || 0, rss.maxRSS || 0, sampler.stop().maxHwm);
    return { wallMs, peakRssKb: peak, cpuUs: after - before };
  } finally {
    if (sampler) sampler.stop();
    h.kill();
  }
}

async function runC(ctx, mode) {
  const { redis, certs, client, n, concurrency, timeoutMs, echoWorker, tmpDir } = ctx;
  const conn = mode === 'tls'
    ? ['--redis', `rediss://${HOST}:${redis.port}`, '--tls-ca', certs.ca]
    : ['--redis', `redis://${HOST}:${redis.plainPort}`];
  const before = await cpuUs(client);
  const w = C.startEchoWorker(echoWorker, [...conn, '--queue', QUEUE, '--prefix', C.PREFIX,
    '--concurrency', String(concurrency), '--max-jobs', String(n), '--quiet'],
  { tmpDir, timeoutMs, label: `echo_worker (${MODE_LABEL[mode]})` });
  try {
    const r = await w.done;
    const after = await cpuUs(client);
    if (r.stderr) process.stderr.write(`\n  echo_worker said: ${r.stderr.split('\n').slice(-3).join(' | ')}\n`);
    return { wallMs: r.ms, peakRssKb: r.peakRssKb, exactMaxRssKb: r.exactMaxRssKb, cpuUs: after - before };
  } finally {
    C.killChild(w.child);
  }
}

async function oneRun(kind, mode, ctx) {
  const { client, queue, n } = ctx;
  await client.flushall('SYNC');
  const ta = Date.now();
  await C.addJobs(queue, n);
  const addMs = Date.now() - ta;
  const waiting = await queue.getWaitingCount();
  if (waiting !== n) throw new Error(`expected ${n} waiting jobs, found ${waiting}`);
  let r;
  try {
    r = kind === 'node' ? await runNode(ctx, mode) : await runC(ctx, mode);
  } catch (e) {
    const got = await C.withTimeout(queue.getCompletedCount(), 5000, 'completed count').catch(() => '?');
    e.message += ` (${got}/${n} jobs completed)`;
    throw e;
  }
  const completed = await queue.getCompletedCount();
  const failed = await queue.getFailedCount();
  if (completed !== n) throw new Error(`expected ${n} completed jobs, found ${completed} (failed: ${failed})`);
  const s = await C.queueSpan(client, QUEUE);
  if (!s) throw new Error('no processedOn/finishedOn');
  const spanMs = Math.max(1, s.lastFinish - s.firstStart);
  return {
    kind, mode, addMs, spanMs, rate: n / (spanMs / 1000), wallMs: r.wallMs, wallRate: n / (r.wallMs / 1000),
    peakRssKb: r.peakRssKb, exactMaxRssKb: r.exactMaxRssKb || null,
    redisCpuUsPerJob: r.cpuUs / n, redisBusy: r.cpuUs / (r.wallMs * 1000),
  };
}

async function main() {
  const n = C.envNum('BENCH_TLS_JOBS', 20000);
  const concurrency = C.envNum('BENCH_TLS_CONCURRENCY', 10);
  const repeat = Math.max(1, C.envNum('BENCH_REPEAT', 3));
  const kinds = C.envList('BENCH_WORKERS', 'node,c');
  const timeoutMs = C.envNum('BENCH_TIMEOUT_S', 120) * 1000;
  const budgetS = C.envNum('BENCH_TLS_BUDGET_S', 170);
  if (!(n > 0) || !(concurrency > 0)) { console.error('tls bench: bad BENCH_TLS_JOBS / BENCH_TLS_CONCURRENCY'); return 2; }
  const started = Date.now();
  const echo = C.echoWorkerPath();
  if (kinds.includes('c') && echo.skip) console.log(`tls bench: SKIPPING the C worker: ${echo.skip}`);

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullc-bench-tls-'));
  C.onExitSync(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
  const certs = T.makeCerts(path.join(tmpDir, 'certs'));
  const [redis, unregister] = await C.started(T.startRedisTls({ certs, plainPort: true }), (r) => {
    C.killProcSync(r.proc);
    fs.rmSync(r.dir, { recursive: true, force: true });
  });
  const client = new IORedis({ host: HOST, port: redis.plainPort, maxRetriesPerRequest: null });
  client.on('error', () => {});
  const { Queue } = C.loadBullmq();
  const queue = new Queue(QUEUE, { connection: { host: HOST, port: redis.plainPort, maxRetriesPerRequest: null }, prefix: C.PREFIX });
  queue.on('error', () => {});
  const results = {}; // results[kind][mode] = [run, ...]
  const errors = {}; // errors[`${kind} ${mode}`] = message | 'skipped'
  for (const k of ['node', 'c']) results[k] = { plain: [], tls: [] };
  process.stderr.write(`tls bench: redis-server plain :${redis.plainPort}, TLS :${redis.port}\n`);
  try {
    const ctx = { redis, certs, client, queue, n, concurrency, timeoutMs, echoWorker: echo.path, tmpDir };
    const forward = [];
    for (const mode of MODES) for (const kind of ['node', 'c']) if (kinds.includes(kind)) forward.push([kind, mode]);
    for (let rep = 0; rep < repeat; rep++) {
      if (rep > 0 && (Date.now() - started) / 1000 > budgetS) {
        process.stderr.write(`tls bench: over the ${budgetS}s budget, no more repeats\n`);
        break;
      }
      for (const [kind, mode] of rep % 2 ? [...forward].reverse() : forward) {
        const key = `${kind} ${mode}`;
        if (errors[key]) continue;
        if (kind === 'c' && echo.skip) { errors[key] = 'skipped'; continue; }
        process.stderr.write(`tls bench: ${LABEL[kind]} ${MODE_LABEL[mode]} c=${concurrency}` +
          `${repeat > 1 ? ` run ${rep + 1}/${repeat}` : ''} ... `);
        try {
          const r = await oneRun(kind, mode, ctx);
          results[kind][mode].push(r);
          process.stderr.write(`${C.fmtInt(r.rate)} jobs/s (span ${(r.spanMs / 1000).toFixed(2)}s, ` +
            `${C.fmtInt(r.wallRate)} incl. start-up), peak RSS ${C.mib(r.peakRssKb)}, ` +
            `redis ${C.fmt1(r.redisCpuUsPerJob)} µs/job (adds took ${(r.addMs / 1000).toFixed(1)}s)\n`);
        } catch (e) {
          process.stderr.write(`FAILED: ${e.message}\n`);
          errors[key] = e.message;
        }
      }
    }
  } finally {
    await C.withTimeout(queue.close(), 10000, 'queue to close').catch(() => {});
    client.disconnect();
    await redis.cleanup();
    unregister();
    certs.cleanup();
  }

  report({ n, concurrency, repeat, kinds, results, errors, started });
  const jp = C.partJsonPath('BENCH_TLS_JSON', 'tls');
  if (jp) fs.writeFileSync(jp, JSON.stringify({ part: 'tls', n, concurrency, results, errors }, null, 2));
  return Object.values(errors).some((e) => e !== 'skipped') ? 1 : 0;
}

function report({ n, concurrency, repeat, kinds, results, errors, started }) {
  const { median, spread, fmtInt, fmt1, times, mib } = C;
  const runs = (k, m) => results[k][m];
  const ok = (k, m) => runs(k, m).length > 0;
  const cell = (k, m, f) => {
    if (ok(k, m)) return f(runs(k, m));
    const e = errors[`${k} ${m}`];
    return e === 'skipped' ? 'skipped' : e ? 'FAILED' : 'n/a';
  };
  const rates = (rs) => rs.map((r) => r.rate);
  // run i over TLS / run i over plain
  const paired = (k, f = (r) => r.rate) => (ok(k, 'plain') && ok(k, 'tls')
    ? runs(k, 'tls').slice(0, runs(k, 'plain').length).map((r, i) => f(r) / f(runs(k, 'plain')[i])) : []);
  console.log('');
  console.log('# libbullc TLS benchmark');
  console.log('');
  console.log(`One redis-server with a plain and a TLS port (EC P-256 test certificate, no client certificate); ` +
    `N=${n} jobs per run, concurrency ${concurrency}; ${repeat} run(s) per variant, alternating ` +
    `(medians; spread min–max); ${C.environmentLine()}`);
  console.log('');
  console.log('## Throughput, plain TCP vs TLS');
  console.log('');
  console.log('| worker | connection | jobs/s | jobs/s min–max | jobs/s incl. start-up | peak RSS | Redis CPU µs/job | Redis busy |');
  console.log('|:---|:---|---:|---:|---:|---:|---:|---:|');
  for (const k of ['c', 'node']) {
    if (!kinds.includes(k)) continue;
    for (const m of MODES) {
      console.log(`| ${LABEL[k]} | ${MODE_LABEL[m]} | ${cell(k, m, (rs) => fmtInt(median(rates(rs))))} | ` +
        `${cell(k, m, (rs) => spread(rates(rs), fmtInt))} | ${cell(k, m, (rs) => fmtInt(median(rs.map((r) => r.wallRate))))} | ` +
        `${cell(k, m, (rs) => mib(Math.max(...rs.map((r) => r.peakRssKb))))} | ` +
        `${cell(k, m, (rs) => fmt1(median(rs.map((r) => r.redisCpuUsPerJob))))} | ` +
        `${cell(k, m, (rs) => `${(100 * median(rs.map((r) => r.redisBusy))).toFixed(0)}%`)} |`);
    }
  }
  console.log('');
  console.log('## TLS / plain (paired runs)');
  console.log('');
  console.log('| worker | TLS/plain jobs/s | min–max | TLS/plain Redis CPU µs/job | min–max |');
  console.log('|:---|---:|---:|---:|---:|');
  for (const k of ['c', 'node']) {
    if (!kinds.includes(k)) continue;
    const p = paired(k);
    const q = paired(k, (r) => r.redisCpuUsPerJob);
    console.log(`| ${LABEL[k]} | ${p.length ? times(median(p)) : '—'} | ${p.length ? spread(p, times) : '—'} | ` +
      `${q.length ? times(median(q)) : '—'} | ${q.length ? spread(q, times) : '—'} |`);
  }
  if (kinds.includes('c') && kinds.includes('node')) {
    console.log('');
    const cn = MODES.map((m) => {
      const a = runs('c', m);
      const b = runs('node', m);
      const p = a.length && b.length ? a.slice(0, b.length).map((r, i) => r.rate / b[i].rate) : [];
      return `${MODE_LABEL[m]} ${p.length ? `${times(median(p))} (${spread(p, times)})` : '—'}`;
    });
    console.log(`C/Node jobs/s (paired runs): ${cn.join('; ')}.`);
  }
  console.log('');
  console.log('Notes: jobs/s = N / (last finishedOn − first processedOn) from Redis\' own timestamps (no start-up);');
  console.log('"incl. start-up": Node from "go" (already connected) to its Nth \'completed\' event, echo_worker from');
  console.log('spawn to exit (--max-jobs N, so the TLS handshakes count). Peak RSS = VmHWM (Node: read by the child');
  console.log('itself; echo_worker: GNU time %M if installed, else /proc sampled every 20 ms), largest over runs.');
  console.log('Redis CPU = INFO cpu used_cpu_sys+used_cpu_user delta over the drain (includes the server\'s TLS work);');
  console.log('busy = that CPU time / drain time (100% = one core).');
  console.log(`Wall time of the TLS part: ${((Date.now() - started) / 1000).toFixed(0)}s.`);
  const failed = Object.entries(errors).filter(([, e]) => e !== 'skipped');
  if (failed.length) { console.log(''); console.log('Failures:'); for (const [k, e] of failed) console.log(`- ${k}: ${e}`); }
  if (Object.values(errors).includes('skipped')) { console.log(''); console.log('C worker skipped: build/bin/echo_worker not built.'); }
}

C.runMain('tls bench', main);
