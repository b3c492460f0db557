'use strict';
// The Node side of the `bull` part of `make bench` (bull.js): legacy Bull 4's own worker,
// queue.process(concurrency, fn) with a no-op async handler, in a process of its own so that
// its RSS is measured alone. Speaks node_worker_child.js's messages (common.js
// forkNodeWorker): BENCH_CHILD = { queue, prefix, host, port, concurrency, jobs }; 'ready' once
// the queue's connections are up, 'go' starts processing (the clock starts there), 'done' { ms }
// at the jobs-th local 'completed' event, 'quit' closes the queue and answers 'rss' { hwm,
// maxRSS } (kB). It exits at once if the parent goes away.
const path = require('node:path');
const { vmStatus } = require('./common');

const Bull = require(path.join(__dirname, '..', 'interop', 'node_modules', 'bull'));

async function main() {
  const cfg = JSON.parse(process.env.BENCH_CHILD);
  process.on('disconnect', () => process.exit(3));
  const queue = new Bull(cfg.queue, { prefix: cfg.prefix, redis: { host: cfg.host, port: cfg.port } });
  queue.on('error', (err) => console.error('node bull worker error:', err && err.message));
  let done = 0;
  let t0 = null;
  queue.on('completed', () => {
    done += 1;
    if (done === cfg.jobs) process.send({ type: 'done', ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  });
  process.on('message', async (m) => {
    if (m.type === 'go') {
      t0 = process.hrtime.bigint();
      queue.process(cfg.concurrency, async () => {}).catch((err) => {
        console.error('node bull worker process:', err.message);
        process.exit(4);
      });
    } else if (m.type === 'quit') {
      try { await queue.close(); } catch (_) { /* ignore */ }
      const maxRSS = process.resourceUsage().maxRSS; // kB
      process.send({ type: 'rss', hwm: (vmStatus(process.pid) || {}).hwm || null, maxRSS }, () => process.exit(0));
    }
  });
  await queue.isReady();
  process.send({ type: 'ready' });
}

main().catch((e) => { console.error('node bull worker child:', e); process.exit(5); });
