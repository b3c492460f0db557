'use strict';
// A worker killed with SIGKILL in the middle of a job: with a short lock and
// stalled interval, a second echo_worker detects the stall, re-queues the job
// and completes it. Node sees the stalled event, stc/attemptsStarted counting
// both starts, and a normal completion.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

const FAST = ['--lock-duration', '1000', '--stalled-interval', '500'];

test('SIGKILL mid-job: a second worker recovers the stalled job and completes it', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const qname = 'stall';
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const client = I.useClient(t, redis);
  const job = await queue.add('slow', { sleepMs: 2500, result: 'recovered' });

  const w1 = I.useWorker(t, redis, qname, [...FAST, '--name', 'first']);
  await ev.waitFor('active', job.id);
  assert.equal(await (await queue.getJob(job.id)).getState(), 'active');
  const j1 = await queue.getJob(job.id);
  assert.equal(j1.processedBy, 'first', 'pb = worker name');
  assert.equal(await client.exists(`bull:${qname}:${job.id}:lock`), 1, 'first worker holds the lock');
  // Give the first worker the time to renew its lock once (renewal every
  // lockDuration/2), so the stall comes from the kill, not from a missed renewal.
  await I.sleep(700);
  assert.equal(await client.exists(`bull:${qname}:${job.id}:lock`), 1, 'lock renewed past its first expiry window');
  w1.kill('SIGKILL');
  const r1 = await I.within(w1.exited, 5000, null);
  assert.deepEqual(r1, { code: null, signal: 'SIGKILL' });
  assert.equal(await (await queue.getJob(job.id)).getState(), 'active', 'still active after the kill');

  const w2 = I.useWorker(t, redis, qname, [...FAST, '--name', 'second']);
  await ev.waitFor('stalled', job.id, 1, 15000);
  await ev.waitFor('completed', job.id, 1, 15000);

  const j = await I.assertCompleted(queue, job.id, 'recovered', { attemptsMade: 1 });
  assert.equal(j.stalledCounter, 1, 'stc counts the stall');
  assert.equal(j.attemptsStarted, 2, 'ats counts both starts');
  assert.equal(j.processedBy, 'second');
  assert.ok(j.finishedOn - j.processedOn >= 2500, 'the second run did the whole job');
  // Event order (as BullMQ writes it): waiting (add), active (first worker),
  // waiting (prev active) + stalled (re-queued), active (second), completed.
  const order = ev.log.filter((e) => e.jobId === job.id && e.event !== 'added').map((e) => e.event);
  assert.deepEqual(order, ['waiting', 'active', 'waiting', 'stalled', 'active', 'completed']);
  assert.equal(ev.of('waiting', job.id)[1].prev, 'active');
  assert.equal(ev.of('failed', job.id).length, 0);
  assert.equal(await client.exists(`bull:${qname}:${job.id}:lock`), 0, 'lock released');
  assert.equal(await client.sismember(`bull:${qname}:stalled`, job.id), 0, 'not left in the stalled set');
  assert.deepEqual(await I.workerNames(queue), [`bull:${I.b64(qname)}:w:second`]);

  const r2 = await I.stopWorker(w2);
  assert.deepEqual(r2, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w2)}`);
});

test('stalled beyond --max-stalled-count: the job fails', { timeout: 60000 }, async (t) => {
  // maxStalledCount 0: the first stall already exceeds it, so the stalled
  // checker marks the job for deferred failure (defa) and the worker that
  // picks it up fails it ("job stalled more than allowable limit") without
  // running the handler.
  const redis = await I.useRedis(t);
  const qname = 'stall-limit';
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const job = await queue.add('slow', { sleepMs: 3000 });
  const w1 = I.useWorker(t, redis, qname, [...FAST, '--max-stalled-count', '0']);
  await ev.waitFor('active', job.id);
  w1.kill('SIGKILL');
  await I.within(w1.exited, 5000);

  const w2 = I.useWorker(t, redis, qname, [...FAST, '--max-stalled-count', '0']);
  await ev.waitFor('failed', job.id, 1, 15000);
  const j = await queue.getJob(job.id);
  assert.equal(await j.getState(), 'failed');
  assert.equal(j.failedReason, 'job stalled more than allowable limit');
  assert.equal(j.stalledCounter, 1);
  assert.equal(j.attemptsMade, 1);
  assert.equal(j.attemptsStarted, 2);
  assert.ok(j.finishedOn - j.processedOn < 3000, 'failed without running the 3 s handler again');
  assert.equal(j.deferredFailure, undefined, 'defa cleared when failed');
  const order = ev.log.filter((e) => e.jobId === job.id && e.event !== 'added').map((e) => e.event);
  assert.deepEqual(order, ['waiting', 'active', 'waiting', 'stalled', 'active', 'failed', 'retries-exhausted']);
  assert.equal(ev.of('failed', job.id)[0].failedReason, 'job stalled more than allowable limit');
  I.assertTimes(j);
  const r2 = await I.stopWorker(w2);
  assert.deepEqual(r2, { code: 0, signal: null });
});

test('lock renewal: jobs much longer than --lock-duration never stall', { timeout: 40000 }, async (t) => {
  // Four jobs of 2.5 s with a 1 s lock, checked for stalls every 0.5 s by a
  // second worker too (which must find nothing to recover).
  const redis = await I.useRedis(t);
  const qname = 'renew';
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const jobs = await queue.addBulk(Array.from({ length: 4 }, (_, k) => ({ name: 'long', data: { k, sleepMs: 2500 } })));
  const w = I.useWorker(t, redis, qname, [...FAST, '--concurrency', '4']);
  await ev.waitFor('active', undefined, 4);
  const watcher = I.useWorker(t, redis, qname, [...FAST, '--concurrency', '1']);
  await I.waitCounts(queue, (c) => c.completed === 4, '4 completed', 20000);
  for (const j of jobs) {
    const done = await I.assertCompleted(queue, j.id, j.data);
    assert.equal(done.stalledCounter, 0, `job ${j.id} never stalled`);
    assert.equal(done.attemptsStarted, 1);
  }
  assert.equal(ev.of('stalled').length, 0, 'no stalled event');
  assert.equal(ev.of('active').length, 4, 'each job started once');
  for (const x of [w, watcher]) {
    const r = await I.stopWorker(x);
    assert.deepEqual(r, { code: 0, signal: null });
  }
});
