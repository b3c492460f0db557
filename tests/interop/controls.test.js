'use strict';
// Queue-level controls set from Node and enforced inside the worker's fetch
// (moveToActive): global pause/resume, global concurrency, global rate limit,
// delayed jobs promoted when due, priorities.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

async function setup(t, qname) {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  return { redis, queue, ev };
}

async function finish(w) {
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
}

test('paused queue: nothing is taken until resume, then everything completes', { timeout: 40000 }, async (t) => {
  const { redis, queue, ev } = await setup(t, 'paused');
  await queue.pause();
  const jobs = await queue.addBulk(Array.from({ length: 10 }, (_, k) => ({ name: 'p', data: { k } })));
  const w = I.useWorker(t, redis, 'paused', ['--concurrency', '4']);
  await I.waitFor(async () => (await I.workerNames(queue)).length === 1, { what: 'worker up' });
  await I.sleep(1200);
  const c = await queue.getJobCounts('waiting', 'active', 'completed');
  assert.deepEqual(c, { waiting: 10, active: 0, completed: 0 }, 'nothing taken while paused');
  assert.equal(ev.of('active').length, 0);
  await queue.resume();
  await I.waitCounts(queue, (x) => x.completed === 10, '10 completed after resume', 20000);
  for (const j of jobs) await I.assertCompleted(queue, j.id, j.data);
  await finish(w);
});

test('global concurrency: never more active than meta.concurrency, whatever --concurrency', { timeout: 40000 }, async (t) => {
  const { redis, queue } = await setup(t, 'gconc');
  await queue.setGlobalConcurrency(2);
  const jobs = await queue.addBulk(Array.from({ length: 12 }, (_, k) => ({ name: 'g', data: { k, sleepMs: 150 } })));
  const w = I.useWorker(t, redis, 'gconc', ['--concurrency', '6']);
  let max = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) { max = Math.max(max, await queue.getActiveCount()); await I.sleep(10); }
  })();
  try {
    await I.waitCounts(queue, (x) => x.completed === 12, '12 completed', 30000);
  } finally { done = true; await sampler; }
  assert.ok(max <= 2, `active never above 2 (sampled ${max})`);
  const all = [];
  for (const j of jobs) all.push(await I.assertCompleted(queue, j.id, j.data));
  const pts = all.flatMap((j) => [[j.processedOn, 1], [j.finishedOn, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0; let peak = 0;
  for (const [, d] of pts) { cur += d; peak = Math.max(peak, cur); }
  assert.ok(peak <= 2, `overlap ${peak} <= 2`);
  await finish(w);
});

test('global rate limit: at most max jobs start per duration', { timeout: 40000 }, async (t) => {
  const { redis, queue } = await setup(t, 'rate');
  await queue.setGlobalRateLimit(3, 1000);
  const jobs = await queue.addBulk(Array.from({ length: 9 }, (_, k) => ({ name: 'r', data: { k } })));
  const t0 = Date.now();
  const w = I.useWorker(t, redis, 'rate', ['--concurrency', '4']);
  await I.waitCounts(queue, (x) => x.completed === 9, '9 completed', 30000);
  const all = [];
  for (const j of jobs) all.push(await I.assertCompleted(queue, j.id, j.data));
  const starts = all.map((j) => j.processedOn).sort((a, b) => a - b);
  // 9 jobs at 3 per second need at least two full windows after the first.
  assert.ok(starts[8] - starts[0] >= 1900, `9 starts spread over >= 2 windows (${starts[8] - starts[0]} ms)`);
  // No 4 starts within less than one window.
  for (let i = 3; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - 3] >= 900, `starts ${i - 3}..${i} within ${starts[i] - starts[i - 3]} ms`);
  }
  assert.ok(Date.now() - t0 < 25000);
  await finish(w);
});

test('delayed and prioritized jobs: promoted when due, lowest priority number first', { timeout: 40000 }, async (t) => {
  const { redis, queue, ev } = await setup(t, 'delayprio');
  const w = I.useWorker(t, redis, 'delayprio', ['--concurrency', '1']);
  await I.waitFor(async () => (await I.workerNames(queue)).length === 1, { what: 'worker up' });
  await I.sleep(300); // idle: blocked on the marker
  const d = await queue.add('late', { v: 'late' }, { delay: 800 });
  const added = Date.now();
  await ev.waitFor('completed', d.id, 1, 10000);
  const dj = await I.assertCompleted(queue, d.id, { v: 'late' });
  assert.ok(dj.processedOn >= dj.timestamp + 800, 'not before its delay');
  assert.ok(Date.now() - added < 8000, 'an idle worker wakes for a due delayed job');
  assert.deepEqual(ev.log.filter((e) => e.jobId === d.id).map((e) => e.event),
    ['added', 'delayed', 'waiting', 'active', 'completed']);

  // Prioritized: stop the worker, add, restart: order by priority then FIFO.
  await finish(w);
  const p = [];
  for (const [k, prio] of [[0, 3], [1, 1], [2, 2], [3, 1], [4, 0]]) p.push(await queue.add('p', { k }, { priority: prio }));
  const w2 = I.useWorker(t, redis, 'delayprio', ['--concurrency', '1']);
  await I.waitCounts(queue, (x) => x.completed === 6, 'all completed', 15000);
  for (const j of p) await I.assertCompleted(queue, j.id, j.data);
  // The order of the active events (timestamps may tie at 1 ms resolution):
  // non-prioritized (k=4) first, then priority 1 (k=1, k=3), 2 (k=2), 3 (k=0).
  await ev.waitFor('completed', p[0].id);
  const byId = new Map(p.map((j) => [j.id, j.data.k]));
  const order = ev.of('active').filter((e) => byId.has(e.jobId)).map((e) => byId.get(e.jobId));
  assert.deepEqual(order, [4, 1, 3, 2, 0]);
  await finish(w2);
});
