'use strict';
// Redis restarted (SHUTDOWN SAVE, down for a second, started again on the
// same port with the same data) while echo_worker runs with jobs in flight:
// the worker survives, reconnects (both connections: getWorkers() lists it
// again), finishes everything, none lost, none completed twice, and still
// stops cleanly.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

test('Redis restart with jobs in flight: nothing lost, nothing twice, worker survives', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const qname = 'restart';
  const queue = I.useQueue(t, redis, qname);
  const client = I.useClient(t, redis);
  const N1 = 60;
  const N2 = 20;
  const first = await queue.addBulk(
    Array.from({ length: N1 }, (_, k) => ({ name: 'r', data: { k, sleepMs: 100 } })),
  );
  // A lock short enough that a job whose lock is lost during the restart is
  // recovered as stalled within the test's time, long enough to survive a
  // one-second outage.
  const w = I.useWorker(t, redis, qname,
    ['--concurrency', '4', '--name', 'survivor', '--lock-duration', '5000', '--stalled-interval', '2000']);
  const wname = `bull:${I.b64(qname)}:w:survivor`;
  await I.waitFor(async () => (await I.workerNames(queue)).includes(wname),
    { timeout: 10000, what: 'worker listed' });

  await I.waitCounts(queue, (c) => c.completed >= 8 && c.active > 0, 'some completed, some active');
  await redis.restart(1000);
  assert.equal(w.done, false, `worker alive after the restart; stderr:\n${I.tail(w)}`);

  // New jobs after the restart are picked up too (the blocking connection
  // came back).
  const second = await queue.addBulk(
    Array.from({ length: N2 }, (_, k) => ({ name: 'r2', data: { k, after: true } })),
  );
  const all = [...first, ...second];
  await I.waitCounts(queue, (c) => c.completed === N1 + N2, `${N1 + N2} completed`, 60000);
  const counts = await queue.getJobCounts();
  assert.equal(counts.failed, 0);
  assert.equal(counts.active, 0);
  assert.equal(counts.waiting, 0);

  for (const j of all) await I.assertCompleted(queue, j.id, j.data);

  // Exactly one completed event per job (the stream survived the restart).
  const evs = await I.readStream(client, qname);
  const per = new Map();
  for (const e of evs.filter((x) => x.event === 'completed')) per.set(e.jobId, (per.get(e.jobId) || 0) + 1);
  for (const j of all) assert.equal(per.get(j.id), 1, `job ${j.id}: completed events`);
  assert.equal(per.size, all.length);
  assert.equal(evs.filter((x) => x.event === 'failed').length, 0);

  await I.waitFor(async () => (await I.workerNames(queue)).includes(wname),
    { timeout: 10000, what: 'worker listed again after the restart (CLIENT SETNAME on reconnect)' });
  assert.equal(w.done, false, `worker alive; stderr:\n${I.tail(w)}`);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});
