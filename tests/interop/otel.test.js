'use strict';
// OpenTelemetry traces (README "Observability"): the C worker's spans against Node's Worker with
// bullmq-otel, seen by a tiny OTLP/HTTP JSON receiver (node:http) that records what it gets.
//   - differential: the same jobs (completed, failed after retries, retried after a backoff,
//     no `tm`, a `tm` that does not parse) give the same span trees, names, kinds, attributes
//     and events (ids and times aside), each `process` span a child of the producer's span;
//   - echoTraceparent: the handler sees its process span's traceparent (inline, and with
//     --isolate in its handler process);
//   - a silent collector, an unreachable one, a full export queue (dropped spans in /metrics);
//   - a job a C producer added with a traceparent continues that trace in Node's Worker.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { Worker } = require('bullmq');
const { BullMQOtel } = require('bullmq-otel');
const { trace, context } = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const I = require('./lib/interop');
const { useReceiver, attrsOf } = require('./lib/otlp');
const { echoProcessor } = require('./lib/echo');

// ---- Node's tracing (one provider for the whole file) ----------------------------------------

let nodeExporterUrl = null; // where the Node SDK sends: the current receiver
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'node' }),
  spanProcessors: [new SimpleSpanProcessor({
    export(spans, done) {
      if (!nodeExporterUrl) return done({ code: 0 });
      new OTLPTraceExporter({ url: `${nodeExporterUrl}/v1/traces` }).export(spans, done);
    },
    shutdown: async () => {},
    forceFlush: async () => {},
  })],
});
provider.register();
const tracer = trace.getTracer('otel-test');

// ---- scenarios --------------------------------------------------------------------------------

const SCENARIOS = [
  { key: 'completed', name: 'ok', data: { result: { ok: 1, text: 'done' } }, opts: {} },
  { key: 'failed', name: 'bad', data: { fail: 'boom' }, opts: { attempts: 2 } },
  { key: 'retried', name: 'flaky', data: { failAttempts: 1, result: 7 },
    opts: { attempts: 2, backoff: { type: 'fixed', delay: 100 } } },
  { key: 'no-tm', name: 'plain', data: { result: 'x' }, opts: {}, untraced: true },
  { key: 'bad-tm', name: 'odd', data: { result: 'y' },
    opts: { telemetry: { metadata: '{"traceparent":"00-not-a-trace-id-01"}' } }, untraced: true },
];

// Adds each scenario's job (one at a time, each settled before the next) and returns their ids.
async function runScenarios(redis, queueName, traced, untraced, events) {
  const ids = {};
  for (const sc of SCENARIOS) {
    const q = sc.untraced ? untraced : traced;
    const job = await q.add(sc.name, sc.data, { jobId: `job-${sc.key}`, ...sc.opts });
    ids[sc.key] = job.id;
    await I.waitFor(async () => ['completed', 'failed'].includes(await job.getState()),
      { timeout: 20000, what: `job ${sc.key} to finish` });
  }
  return ids;
}

// The spans of one job's attempts, as a tree with ids and times replaced by what they mean.
function treeOf(spans, queueName, jobId, producerSpans) {
  const ours = spans.filter((s) => attrsOf(s.attributes)['bullmq.job.id'] === jobId &&
    /^(process|complete|retry|delay|fail) /.test(s.name));
  const procs = ours.filter((s) => s.name.startsWith('process ')).sort((a, b) =>
    BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1);
  return procs.map((p) => {
    const producer = producerSpans.find((s) => s.spanId === p.parentSpanId);
    let parent = 'none';
    if (p.parentSpanId) parent = producer && producer.traceId === p.traceId ? `producer:${producer.name}` : 'other';
    const children = ours.filter((c) => c.parentSpanId === p.spanId);
    for (const c of children) assert.equal(c.traceId, p.traceId, 'a child span is in its parent\'s trace');
    return {
      name: p.name, kind: p.kind, parent, attributes: maskAttrs(attrsOf(p.attributes)),
      events: (p.events || []).map((e) => ({ name: e.name, attributes: attrsOf(e.attributes) })),
      children: children.map((c) => ({ name: c.name, kind: c.kind, attributes: maskAttrs(attrsOf(c.attributes)) })),
    };
  });
}

function maskAttrs(a) {
  const o = { ...a };
  for (const k of ['bullmq.worker.id']) if (k in o) o[k] = typeof o[k] === 'string' && o[k].length > 0 ? '<id>' : o[k];
  for (const k of ['bullmq.job.attempt_finished_timestamp', 'bullmq.job.processed.timestamp']) {
    if (k in o) o[k] = Number.isInteger(o[k]) && o[k] > 1.6e12 ? '<ms>' : o[k];
  }
  return o;
}

const otelEnv = (url, extra = {}) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_SERVICE_NAME: 'c-worker', OTEL_BSP_SCHEDULE_DELAY: '200', ...extra,
});

async function traceOf(kind, t) {
  const redis = await I.useRedis(t);
  const rx = await useReceiver(t);
  nodeExporterUrl = rx.url;
  const queueName = `otel-${kind}`;
  const traced = I.useQueue(t, redis, queueName, { telemetry: new BullMQOtel() });
  const untraced = I.useQueue(t, redis, queueName);
  let stop;
  if (kind === 'c') {
    const w = I.useWorker(t, redis, queueName, ['--name', 'w1'], otelEnv(rx.url));
    stop = async () => {
      const r = await I.stopWorker(w);
      assert.equal(r.code, 0, I.tail(w));
    };
  } else {
    const w = new Worker(queueName, echoProcessor, {
      connection: redis.connection, name: 'w1', telemetry: new BullMQOtel(),
    });
    w.on('error', () => {});
    stop = () => w.close();
  }
  const ids = await runScenarios(redis, queueName, traced, untraced);
  await stop();
  const service = kind === 'c' ? 'c-worker' : 'node';
  const workerSpans = rx.spans.filter((s) => s.service === service);
  const producerSpans = rx.spans.filter((s) => s.service === 'node' && s.name.startsWith('add '));
  // a failure records the context of the span that recorded it as the job's `tm` field
  const tm = JSON.parse(await I.useClient(t, redis).hget(`bull:${queueName}:job-failed`, 'tm'));
  const failSpan = workerSpans.find((s) => s.name === `fail ${queueName}`);
  const tmNamesFailSpan = tm.traceparent === `00-${failSpan.traceId}-${failSpan.spanId}-01`;
  const trees = {};
  for (const sc of SCENARIOS) trees[sc.key] = treeOf(workerSpans, queueName.replace(kind, 'X'), ids[sc.key], producerSpans);
  nodeExporterUrl = null;
  return { trees: JSON.parse(JSON.stringify(trees).replaceAll(queueName, 'otel-Q')), rx, tmNamesFailSpan };
}

test('differential: the C worker\'s spans are Node\'s Worker with bullmq-otel', async (t) => {
  const c = await traceOf('c', t);
  if (process.env.OTEL_DEBUG) console.error(JSON.stringify(c.trees));
  const node = await traceOf('node', t);
  if (process.env.OTEL_DEBUG) console.error(JSON.stringify(node.trees));
  // what both must show (not only that they agree)
  const done = c.trees.completed;
  assert.equal(done.length, 1);
  assert.equal(done[0].name, 'process otel-Q');
  assert.equal(done[0].kind, 5, 'CONSUMER');
  assert.equal(done[0].parent, 'producer:add otel-Q.ok');
  assert.deepEqual(done[0].children.map((x) => [x.name, x.kind]), [['complete otel-Q', 1]]);
  assert.deepEqual(done[0].events, [{ name: 'job completed', attributes: { 'bullmq.job.result': '{"ok":1,"text":"done"}' } }]);
  assert.equal(done[0].attributes['bullmq.job.attempts.made'], 1);
  assert.deepEqual(c.trees.failed.map((a) => a.children.map((x) => x.name)), [['retry otel-Q'], ['fail otel-Q']]);
  assert.deepEqual(c.trees.retried.map((a) => a.children.map((x) => x.name)), [['delay otel-Q'], ['complete otel-Q']]);
  assert.equal(c.trees['no-tm'][0].parent, 'none');
  assert.equal(c.trees['bad-tm'][0].parent, 'none');
  for (const sc of SCENARIOS) {
    assert.deepEqual(c.trees[sc.key], node.trees[sc.key], `scenario ${sc.key}: C (actual) vs Node (expected)`);
  }
  assert.ok(node.tmNamesFailSpan, 'Node writes the fail span\'s context as tm');
  assert.ok(c.tmNamesFailSpan, 'so does the C worker');
  assert.ok(c.rx.requests.every((r) => r.url === '/v1/traces' && r.type === 'application/json'));
});

// Inline, and in a handler process (--isolate: the traceparent comes with the job from the worker).
for (const isolate of [false, true]) {
  const title = isolate ? 'isolated (--isolate): a handler in its handler process passes on the worker\'s process span\'s traceparent'
    : 'a handler passes on its process span\'s traceparent; headers, resource and a root span for a tm that is not JSON';
  test(title, async (t) => {
    const redis = await I.useRedis(t);
    const rx = await useReceiver(t);
    nodeExporterUrl = rx.url;
    t.after(() => { nodeExporterUrl = null; });
    const q = I.useQueue(t, redis, 'tp', { telemetry: new BullMQOtel() });
    const plain = I.useQueue(t, redis, 'tp');
    const w = I.useWorker(t, redis, 'tp', isolate ? ['--isolate', '--concurrency', '2'] : [], otelEnv(rx.url, {
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    }));
    const parent = tracer.startSpan('request');
    const job = await context.with(trace.setSpan(context.active(), parent), () => q.add('tp', { echoTraceparent: true }));
    parent.end();
    const bad = await plain.add('junk', { result: 1 }, { telemetry: { metadata: 'not json at all' } });
    await I.waitFor(async () => (await job.getState()) === 'completed' && (await bad.getState()) === 'completed',
      { timeout: 15000, what: 'both jobs completed' });
    const { returnvalue } = await q.getJob(job.id);
    const r = await I.stopWorker(w);
    assert.equal(r.code, 0, I.tail(w));
    const proc = rx.spans.find((s) => s.service === 'c-worker' && s.name === 'process tp' &&
      attrsOf(s.attributes)['bullmq.job.id'] === job.id);
    assert.ok(proc, 'the process span was exported');
    assert.equal(returnvalue.traceparent, `00-${proc.traceId}-${proc.spanId}-01`);
    assert.equal(proc.traceId, parent.spanContext().traceId, 'the job continues the request\'s trace');
    const junk = rx.spans.find((s) => s.name === 'process tp' && attrsOf(s.attributes)['bullmq.job.id'] === bad.id);
    assert.ok(junk && !junk.parentSpanId, 'a tm that is not JSON: a root span, and the job completed');
    assert.ok(rx.requests.some((r) => r.auth === 'Bearer abc'), 'OTEL_EXPORTER_OTLP_HEADERS sent');
  });
}

// A TCP server that accepts and never answers.
async function useSilentCollector(t) {
  const sockets = new Set();
  const server = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); s.resume(); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  I.defer(t, () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); });
  return `http://127.0.0.1:${server.address().port}`;
}

async function metrics(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const m = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return m;
}

for (const kind of ['silent', 'unreachable']) {
  test(`a ${kind} collector: jobs all complete, few log lines, SIGTERM stops within 15 s`, async (t) => {
    const redis = await I.useRedis(t);
    const url = kind === 'silent' ? await useSilentCollector(t) : `http://127.0.0.1:${await I.freePort()}`;
    const port = await I.freePort();
    const w = I.useWorker(t, redis, 'down', ['--concurrency', '4', '--http', `127.0.0.1:${port}`],
      otelEnv(url, { OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '8' }));
    const q = I.useQueue(t, redis, 'down');
    await q.addBulk(Array.from({ length: 40 }, (_, i) => ({ name: 'j', data: { i, sleepMs: 20 } })));
    await I.waitCounts(q, (c) => c.completed === 40, 'all 40 jobs completed', 30000);
    const m = await metrics(port);
    const r = await I.stopWorker(w, 'SIGTERM', 15000);
    assert.equal(r.code, 0);
    const warnings = w.stderrText().split('\n').filter((l) => l.includes('cannot export spans'));
    assert.ok(warnings.length >= 1 && warnings.length <= 3, `export failures logged now and then:\n${warnings.join('\n')}`);
    if (kind === 'unreachable') assert.ok(m['bullc_trace_spans_dropped_total{queue="down"}'] > 0, 'failed exports count as dropped');
  });
}

test('a full export queue drops spans and counts them in /metrics', async (t) => {
  const redis = await I.useRedis(t);
  // the export thread is held by a collector that never answers: the queue (6 spans) fills
  const url = await useSilentCollector(t);
  const port = await I.freePort();
  const w = I.useWorker(t, redis, 'full', ['--concurrency', '4', '--http', `127.0.0.1:${port}`],
    otelEnv(url, { OTEL_BSP_MAX_QUEUE_SIZE: '6', OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_EXPORTER_OTLP_TIMEOUT: '30000' }));
  const q = I.useQueue(t, redis, 'full');
  await q.addBulk(Array.from({ length: 30 }, (_, i) => ({ name: 'j', data: { i } })));
  await I.waitCounts(q, (c) => c.completed === 30, 'all 30 jobs completed');
  // 60 spans: one batch of 6 in flight, 6 queued, the rest dropped
  const m = await I.waitFor(async () => {
    const x = await metrics(port);
    return x['bullc_trace_spans_dropped_total{queue="full"}'] >= 48 ? x : null;
  }, { timeout: 10000, what: '48 dropped spans in /metrics' });
  assert.ok(m['bullc_trace_spans_dropped_total{queue="full"}'] <= 54);
  assert.equal(m['bullc_trace_spans_exported_total{queue="full"}'], 0);
  const r = await I.stopWorker(w, 'SIGTERM', 15000);
  assert.equal(r.code, 0, 'the stop gives up on the silent collector at its deadline');
});

test('C producer: a job added with a traceparent continues that trace in Node\'s Worker with bullmq-otel', async (t) => {
  const redis = await I.useRedis(t);
  const rx = await useReceiver(t);
  nodeExporterUrl = rx.url;
  t.after(() => { nodeExporterUrl = null; });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const spanId = '00f067aa0ba902b7';
  const opts = { traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'k=v' };
  const enq = spawn(path.join(I.BIN, 'bullc_enqueue'), ['--redis', redis.url, '--queue', 'cprod', 'from-c',
    JSON.stringify({ result: 3 }), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  enq.stdout.on('data', (d) => { out += d; });
  enq.stderr.on('data', (d) => { out += d; });
  const code = await new Promise((r) => enq.once('close', r));
  assert.equal(code, 0, out);
  const q = I.useQueue(t, redis, 'cprod');
  const [id] = await q.getJobs(['wait']).then((js) => js.map((j) => j.id));
  const stored = await q.getJob(id);
  assert.equal(stored.opts.telemetry.metadata, JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'k=v' }));
  const w = new Worker('cprod', echoProcessor, { connection: redis.connection, telemetry: new BullMQOtel() });
  w.on('error', () => {});
  await I.waitFor(async () => (await stored.getState()) === 'completed', { timeout: 15000, what: 'job completed' });
  await w.close();
  const proc = await I.waitFor(() => rx.spans.find((s) => s.name === 'process cprod'), { timeout: 5000, what: 'process span' });
  assert.equal(proc.traceId, traceId);
  assert.equal(proc.parentSpanId, spanId);
  assert.equal(proc.traceState, 'k=v');
});
