'use strict';
// The Node side of the benchmark parts bench.js, cluster.js and tls.js: one plain BullMQ
// Worker with a no-op async processor, in a process of its own so that its RSS is measured
// alone. Started by common.js forkNodeWorker() with the environment variable BENCH_CHILD, a
// JSON object:
//   queue, prefix, concurrency, jobs   what to run, and after how many 'completed' events to
//                                      report 'done'
//   cluster: [{ host, port }, ...]     connect with IORedis.Cluster to these startup nodes, or
//   host, port, caFile                 one server; caFile (a CA certificate file) turns TLS on
//   otlpUrl                            trace with bullmq-otel, exporting OTLP/HTTP JSON there
//                                      (batched, the SDK's defaults)
//   processorFile                      a file path: BullMQ's sandboxed processor (isolate.js)
// The Worker is made with autorun:false and says 'ready' once its connections are up; 'go'
// starts it (the clock starts there); 'done' { ms } goes back when the jobs-th 'completed'
// event arrives; 'quit' closes the worker and answers 'rss' { hwm, maxRSS } (kB) before
// exiting. It exits at once if the parent goes away.
const fs = require('node:fs');
const path = require('node:path');
const { vmStatus } = require('./common');

const NM = path.join(__dirname, '..', 'interop', 'node_modules');
const { Worker } = require(path.join(NM, 'bullmq'));
const IORedis = require(path.join(NM, 'ioredis'));

async function main() {
  const cfg = JSON.parse(process.env.BENCH_CHILD);
  process.on('disconnect', () => process.exit(3));
  let connection;
  let shared = null; // an IORedis.Cluster we made: bullmq does not close it, we do
  if (cfg.cluster) {
    shared = new IORedis.Cluster(cfg.cluster, { redisOptions: { maxRetriesPerRequest: null } });
    shared.on('error', (err) => console.error('node worker cluster connection:', err && err.message));
    connection = shared;
  } else {
    connection = { host: cfg.host, port: cfg.port, maxRetriesPerRequest: null };
    if (cfg.caFile) connection.tls = { ca: [fs.readFileSync(cfg.caFile)] };
  }
  let done = 0;
  let t0 = null;
  let telemetry;
  let provider = null;
  if (cfg.otlpUrl) {
    const { NodeTracerProvider } = require(path.join(NM, '@opentelemetry/sdk-trace-node'));
    const { BatchSpanProcessor } = require(path.join(NM, '@opentelemetry/sdk-trace-base'));
    const { OTLPTraceExporter } = require(path.join(NM, '@opentelemetry/exporter-trace-otlp-http'));
    const { resourceFromAttributes } = require(path.join(NM, '@opentelemetry/resources'));
    const { BullMQOtel } = require(path.join(NM, 'bullmq-otel'));
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'bench-node' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: cfg.otlpUrl }))],
    });
    provider.register();
    telemetry = new BullMQOtel();
  }
  // processorFile: a sandboxed processor (BullMQ runs it in child processes), else inline
  const worker = new Worker(cfg.queue, cfg.processorFile || (async () => {}), {
    telemetry,
    connection,
    prefix: cfg.prefix,
    concurrency: cfg.concurrency,
    autorun: false,
  });
  worker.on('error', (err) => console.error('node worker error:', err && err.message));
  worker.on('completed', () => {
    done += 1;
    if (done === cfg.jobs) {
      process.send({ type: 'done', ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    }
  });
  process.on('message', async (m) => {
    if (m.type === 'go') {
      t0 = process.hrtime.bigint();
      worker.run().catch((err) => { console.error('node worker run:', err.message); process.exit(4); });
    } else if (m.type === 'quit') {
      try { await worker.close(); } catch (_) { /* ignore */ }
      if (provider) await provider.shutdown().catch(() => {});
      if (shared) shared.disconnect();
      const maxRSS = process.resourceUsage().maxRSS; // kB
      process.send({ type: 'rss', hwm: (vmStatus(process.pid) || {}).hwm || null, maxRSS }, () => process.exit(0));
    }
  });
  await worker.waitUntilReady();
  process.send({ type: 'ready' });
}

main().catch((e) => { console.error('node worker child:', e); process.exit(5); });
