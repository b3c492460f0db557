'use strict';
// A Node BullMQ Worker and echo_worker on the same queue at the same time:
// every job completed exactly once, by one of them, with the right value;
// both take part; getWorkers() lists both.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('bullmq');
const I = require('./lib/interop');
const { echoProcessor } = require('./lib/echo');

test('Node Worker and echo_worker on one queue: all jobs completed exactly once', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const qname = 'mixed';
  const queue = I.useQueue(t, redis, qname);
  const client = I.useClient(t, redis);
  const ranInNode = new Map();
  const nodeWorker = new Worker(qname, async (job) => {
    ranInNode.set(job.id, (ranInNode.get(job.id) || 0) + 1);
    return echoProcessor(job);
  }, { connection: redis.connection, concurrency: 2, name: 'node' });
  nodeWorker.on('error', () => {});
  I.defer(t, () => nodeWorker.close(true).catch(() => {}));
  const w = I.useWorker(t, redis, qname, ['--concurrency', '2', '--name', 'c']);

  const b = I.b64(qname);
  await I.waitFor(async () => {
    const names = await I.workerNames(queue);
    return names.includes(`bull:${b}:w:node`) && names.includes(`bull:${b}:w:c`);
  }, { timeout: 10000, what: 'both workers listed by getWorkers()' });

  const N = 200;
  const jobs = await queue.addBulk(Array.from({ length: N }, (_, k) => ({
    name: 'mix', data: k % 4 === 0 ? { k, sleepMs: 10, result: `r${k}` } : { k, sleepMs: 5 },
  })));
  await I.waitCounts(queue, (c) => c.completed === N, `${N} completed`, 40000);
  await I.sleep(200);

  const by = { node: 0, c: 0 };
  for (let k = 0; k < N; k++) {
    const want = k % 4 === 0 ? `r${k}` : jobs[k].data;
    const j = await I.assertCompleted(queue, jobs[k].id, want);
    assert.equal(j.attemptsStarted, 1, `job ${j.id} started once`);
    assert.ok(j.processedBy === 'node' || j.processedBy === 'c', `job ${j.id} processedBy ${j.processedBy}`);
    by[j.processedBy]++;
    const inNode = ranInNode.get(j.id) || 0;
    assert.equal(inNode, j.processedBy === 'node' ? 1 : 0, `job ${j.id}: ran in Node ${inNode} time(s), pb ${j.processedBy}`);
  }
  assert.ok(by.node > 0 && by.c > 0, `both workers took jobs: ${JSON.stringify(by)}`);

  const evs = await I.readStream(client, qname);
  const per = new Map();
  for (const e of evs.filter((x) => x.event === 'completed')) per.set(e.jobId, (per.get(e.jobId) || 0) + 1);
  assert.equal(per.size, N);
  for (const [id, n] of per) assert.equal(n, 1, `job ${id}: completed events`);
  assert.equal(evs.filter((x) => x.event === 'active').length, N);
  assert.equal(evs.filter((x) => x.event === 'failed' || x.event === 'stalled').length, 0);

  await nodeWorker.close();
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});
