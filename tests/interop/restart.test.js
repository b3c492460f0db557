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

test('Redis down longer than the lock: in-flight jobs are recovered as stalled, completed once', { timeout: 90000 }, async (t) => {
  // The jobs' locks (1 s, renewed every 0.5 s) expire while Redis is down for
  // 2.5 s, so Redis comes back without them. The worker's late results are
  // refused (lock lost); the stalled checker re-queues those jobs, and they
  // are run again and completed - exactly one completion each.
  const redis = await I.useRedis(t);
  const qname = 'restart-long';
  const queue = I.useQueue(t, redis, qname);
  const client = I.useClient(t, redis);
  const jobs = await queue.addBulk(
    Array.from({ length: 6 }, (_, k) => ({ name: 'l', data: { k, sleepMs: 1500 } })),
  );
  const w = I.useWorker(t, redis, qname,
    ['--concurrency', '2', '--lock-duration', '1000', '--stalled-interval', '500']);
  await I.waitCounts(queue, (c) => c.active === 2, 'two jobs active');
  await I.sleep(300);
  const inFlight = await queue.getActive();
  assert.equal(inFlight.length, 2);
  await redis.restart(2500);
  assert.equal(w.done, false, `worker alive after the restart; stderr:\n${I.tail(w)}`);

  await I.waitCounts(queue, (c) => c.completed === 6, '6 completed', 60000);
  for (const j of jobs) await I.assertCompleted(queue, j.id, j.data);
  const evs = await I.readStream(client, qname);
  const completed = new Map();
  for (const e of evs.filter((x) => x.event === 'completed')) completed.set(e.jobId, (completed.get(e.jobId) || 0) + 1);
  for (const j of jobs) assert.equal(completed.get(j.id), 1, `job ${j.id}: one completed event`);
  assert.equal(evs.filter((x) => x.event === 'failed').length, 0, 'nothing failed');
  for (const j of inFlight) {
    const d = await queue.getJob(j.id);
    assert.equal(d.stalledCounter, 1, `in-flight job ${j.id} was recovered as stalled`);
    assert.equal(d.attemptsStarted, 2, `in-flight job ${j.id} started twice`);
  }
  assert.ok(evs.filter((x) => x.event === 'stalled').length >= inFlight.length, 'stalled events');
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('SCRIPT FLUSH under a busy worker: its scripts are loaded again, every job completed once', { timeout: 90000 }, async (t) => {
  // The worker sends each script once per connection as EVAL and then as EVALSHA, with up to
  // two rounds of calls in flight; a flush makes the server answer NOSCRIPT in the middle.
  const redis = await I.useRedis(t);
  const qname = 'flush';
  const queue = I.useQueue(t, redis, qname);
  const client = I.useClient(t, redis);
  const N = 2000; // 4 events per job stay under the stream's 10,000
  const jobs = [];
  for (let i = 0; i < N; i += 500) {
    jobs.push(...await queue.addBulk(Array.from({ length: 500 }, (_, k) => ({ name: 'f', data: { k: i + k } }))));
  }
  const w = I.useWorker(t, redis, qname, ['--concurrency', '16']);
  for (let i = 0; i < 5; i++) {
    await I.waitCounts(queue, (c) => c.completed >= (i + 1) * 250, `${(i + 1) * 250} completed`);
    await client.script('FLUSH');
  }
  await I.waitCounts(queue, (c) => c.completed === N, `${N} completed`, 60000);
  const counts = await queue.getJobCounts();
  assert.deepEqual([counts.failed, counts.active, counts.waiting], [0, 0, 0]);
  const evs = await I.readStream(client, qname);
  const per = new Map();
  for (const e of evs.filter((x) => x.event === 'completed')) per.set(e.jobId, (per.get(e.jobId) || 0) + 1);
  assert.equal(per.size, N, 'one completed event per job');
  for (const [id, n] of per) assert.equal(n, 1, `job ${id}: completed events`);
  for (const j of jobs.slice(0, 50)) await I.assertCompleted(queue, j.id, j.data);
  assert.equal(w.done, false, `worker alive; stderr:\n${I.tail(w)}`);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});
