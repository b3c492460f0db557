'use strict';
// `make bench`, part `trace`: what OpenTelemetry tracing costs (README "Observability"), for
// build/bin/echo_worker and for Node BullMQ 6.7.0's Worker with bullmq-otel.
//
// One private redis-server and one OTLP/HTTP receiver in this process (node:http: it answers
// 200 at once and counts the `process` spans it gets). Each run: FLUSHALL, Node adds
// BENCH_TRACE_JOBS small jobs ({i}, no trace context: each job starts a trace), then one worker
// at concurrency BENCH_TRACE_CONCURRENCY drains them,
//   off  untraced;
//   on   C: OTEL_EXPORTER_OTLP_ENDPOINT (the defaults: batches of 512, a queue of 2048, 5 s);
//        Node: a NodeTracerProvider with a BatchSpanProcessor (the SDK's defaults) and an
//        OTLPTraceExporter to the receiver, the Worker made with telemetry: new BullMQOtel().
// jobs/s = N / (last finishedOn − first processedOn), from Redis' timestamps. The variants
// alternate (c off, c on, node off, node on, then reversed) BENCH_REPEAT times (default 3);
// the table gives medians and on/off of paired runs, and the spans received per job.
//
// Environment: BENCH_TRACE_JOBS (10000), BENCH_TRACE_CONCURRENCY (10), BENCH_TRACE_BUDGET_S
// (150: no further repeats after it), BENCH_TRACE_JSON (raw results; default BENCH_JSON with
// .trace), BENCH_REPEAT, BENCH_WORKERS (node,c), BENCH_TIMEOUT_S (120), BULLC_BIN_DIR.
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const C = require('./common');

const QUEUE = 'bench';
const LABEL = { node: 'Node Worker + bullmq-otel', c: 'echo_worker' };
const MODES = ['off', 'on'];

async function startReceiver() {
  const got = { requests: 0, process: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      got.requests += 1;
      got.process += Buffer.concat(chunks).toString('latin1').split('"name":"process ').length - 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { got, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

async function runNode(ctx, mode) {
  const { redis, n, concurrency, timeoutMs, rx } = ctx;
  const h = C.forkNodeWorker({
    queue: QUEUE, prefix: C.PREFIX, concurrency, jobs: n, host: '127.0.0.1', port: redis.port,
    otlpUrl: mode === 'on' ? `${rx.url}/v1/traces` : undefined,
  }, { label: `node worker (tracing ${mode})` });
  try {
    await h.ready();
    await C.withTimeout(h.go(), timeoutMs, 'the node worker to drain');
    await h.quit(); // flushes its spans
  } finally {
    h.kill();
  }
}

async function runC(ctx, mode) {
  const { redis, n, concurrency, timeoutMs, echoWorker, tmpDir, rx } = ctx;
  const env = mode === 'on'
    ? { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'bench-c' }
    : { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' };
  const w = C.startEchoWorker(echoWorker, ['--redis', redis.url, '--queue', QUEUE, '--prefix', C.PREFIX,
    '--concurrency', String(concurrency), '--max-jobs', String(n), '--quiet'],
  { tmpDir, timeoutMs, label: `echo_worker (tracing ${mode})`, env });
  try {
    await w.done;
  } finally {
    C.killChild(w.child);
  }
}

async function oneRun(kind, mode, ctx) {
  const { client, queue, n, rx } = ctx;
  await client.flushall('SYNC');
  await C.addJobs(queue, n);
  const before = rx.got.process;
  if (kind === 'node') await runNode(ctx, mode); else await runC(ctx, mode);
  const completed = await queue.getCompletedCount();
  if (completed !== n) throw new Error(`expected ${n} completed jobs, found ${completed}`);
  const s = await C.queueSpan(client, QUEUE);
  if (!s) throw new Error('no processedOn/finishedOn');
  const spanMs = Math.max(1, s.lastFinish - s.firstStart);
  return { kind, mode, spanMs, rate: n / (spanMs / 1000), processSpans: rx.got.process - before };
}

async function main() {
  const n = C.envNum('BENCH_TRACE_JOBS', 10000);
  const concurrency = C.envNum('BENCH_TRACE_CONCURRENCY', 10);
  const repeat = Math.max(1, C.envNum('BENCH_REPEAT', 3));
  const kinds = C.envList('BENCH_WORKERS', 'node,c');
  const timeoutMs = C.envNum('BENCH_TIMEOUT_S', 120) * 1000;
  const budgetS = C.envNum('BENCH_TRACE_BUDGET_S', 150);
  const started = Date.now();
  const echo = C.echoWorkerPath();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullc-bench-trace-'));
  C.onExitSync(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
  const { startRedis } = require(path.join(C.ROOT, 'tests', 'interop', 'lib', 'harness.js'));
  const IORedis = require(path.join(C.NODE_MODULES, 'ioredis'));
  const [redis, unregister] = await C.started(startRedis(), (r) => {
    C.killProcSync(r.proc);
    fs.rmSync(r.dir, { recursive: true, force: true });
  });
  const rx = await startReceiver();
  const client = new IORedis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });
  client.on('error', () => {});
  const { Queue } = C.loadBullmq();
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: C.PREFIX });
  queue.on('error', () => {});
  const results = { node: { off: [], on: [] }, c: { off: [], on: [] } };
  const errors = {};
  try {
    const ctx = { redis, client, queue, n, concurrency, timeoutMs, echoWorker: echo.path, tmpDir, rx };
    const forward = [];
    for (const kind of ['c', 'node']) for (const mode of MODES) if (kinds.includes(kind)) forward.push([kind, mode]);
    for (let rep = 0; rep < repeat; rep++) {
      if (rep > 0 && (Date.now() - started) / 1000 > budgetS) break;
      for (const [kind, mode] of rep % 2 ? [...forward].reverse() : forward) {
        const key = `${kind} ${mode}`;
        if (errors[key]) continue;
        if (kind === 'c' && echo.skip) { errors[key] = 'skipped'; continue; }
        process.stderr.write(`trace bench: ${LABEL[kind]} tracing ${mode} c=${concurrency} run ${rep + 1}/${repeat} ... `);
        try {
          const r = await oneRun(kind, mode, ctx);
          results[kind][mode].push(r);
          process.stderr.write(`${C.fmtInt(r.rate)} jobs/s, ${r.processSpans} process spans received\n`);
        } catch (e) {
          process.stderr.write(`FAILED: ${e.message}\n`);
          errors[key] = e.message;
        }
      }
    }
  } finally {
    await C.withTimeout(queue.close(), 10000, 'queue to close').catch(() => {});
    client.disconnect();
    await rx.close();
    await redis.cleanup();
    unregister();
  }
  report({ n, concurrency, repeat, kinds, results, errors, started });
  const jp = C.partJsonPath('BENCH_TRACE_JSON', 'trace');
  if (jp) fs.writeFileSync(jp, JSON.stringify({ part: 'trace', n, concurrency, results, errors }, null, 2));
  return Object.values(errors).some((e) => e !== 'skipped') ? 1 : 0;
}

function report({ n, concurrency, repeat, kinds, results, errors, started }) {
  const { median, spread, fmtInt, times } = C;
  console.log('');
  console.log('# libbullc tracing benchmark');
  console.log('');
  console.log(`N=${n} jobs per run, concurrency ${concurrency}, spans to a local OTLP/HTTP JSON receiver; ` +
    `${repeat} run(s) per variant, alternating (medians; spread min–max); ${C.environmentLine()}`);
  console.log('');
  console.log('| worker | tracing | jobs/s | min–max | process spans received / job |');
  console.log('|:---|:---|---:|---:|---:|');
  for (const k of ['c', 'node']) {
    if (!kinds.includes(k)) continue;
    for (const m of MODES) {
      const rs = results[k][m];
      const e = errors[`${k} ${m}`];
      if (!rs.length) { console.log(`| ${LABEL[k]} | ${m} | ${e === 'skipped' ? 'skipped' : 'FAILED'} | | |`); continue; }
      console.log(`| ${LABEL[k]} | ${m} | ${fmtInt(median(rs.map((r) => r.rate)))} | ${spread(rs.map((r) => r.rate), fmtInt)} | ` +
        `${(median(rs.map((r) => r.processSpans)) / n).toFixed(2)} |`);
    }
  }
  console.log('');
  for (const k of ['c', 'node']) {
    if (!kinds.includes(k)) continue;
    const on = results[k].on;
    const off = results[k].off;
    const p = on.slice(0, off.length).map((r, i) => r.rate / off[i].rate);
    console.log(`${LABEL[k]}: tracing on/off jobs/s (paired runs) ${p.length ? `${times(median(p))} (${spread(p, times)})` : '—'}.`);
  }
  console.log('');
  console.log('Spans beyond an export queue are dropped (both SDKs queue 2048 spans): "process spans received / job"');
  console.log('below 1 means the exporter did not keep up with the worker.');
  console.log(`Wall time of the trace part: ${((Date.now() - started) / 1000).toFixed(0)}s.`);
  const failed = Object.entries(errors).filter(([, e]) => e !== 'skipped');
  if (failed.length) { console.log(''); console.log('Failures:'); for (const [k, e] of failed) console.log(`- ${k}: ${e}`); }
}

C.runMain('trace bench', main);
