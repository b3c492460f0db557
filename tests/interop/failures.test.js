'use strict';
// Failure paths and retention through echo_worker, as Node sees them: job
// state, failedReason, attemptsMade, stacktrace, and the failed /
// retries-exhausted / delayed / waiting events; removeOnComplete and
// removeOnFail as true and as counts.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

async function setup(t, qname, workerArgs = []) {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const client = I.useClient(t, redis);
  const start = () => I.useWorker(t, redis, qname, ['--concurrency', '1', ...workerArgs]);
  return { redis, queue, ev, client, start };
}

async function finish(w) {
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
}

test('failures: fail, retry then succeed, retries exhausted, unrecoverable, backoff', { timeout: 60000 }, async (t) => {
  const { queue, ev, client, start } = await setup(t, 'failures');
  const jFail = await queue.add('fail', { fail: 'boom' });
  const jRetry = await queue.add('retry', { failAttempts: 2, result: 'third time' }, { attempts: 3 });
  const jExhaust = await queue.add('exhaust', { fail: 'always' }, { attempts: 2 });
  const jUnrec = await queue.add('unrec', { unrecoverable: 'no way' }, { attempts: 5 });
  const jBackoff = await queue.add('backoff', { failAttempts: 2 },
    { attempts: 3, backoff: { type: 'fixed', delay: 200 } });
  const w = start();

  await ev.waitFor('completed', jRetry.id);
  await ev.waitFor('completed', jBackoff.id);
  await ev.waitFor('failed', jFail.id);
  await ev.waitFor('failed', jExhaust.id);
  await ev.waitFor('failed', jUnrec.id);
  await I.waitCounts(queue, (c) => c.completed === 2 && c.failed === 3, '2 completed, 3 failed');

  // 1. A plain failure (attempts unset, i.e. 0): failed once; BullMQ emits
  //    retries-exhausted because atm (1) >= attempts (0).
  const f = await I.assertFailed(queue, jFail.id, 'boom', { attemptsMade: 1 });
  assert.equal(f.stacktrace.length, 1);
  assert.equal(f.returnvalue, null);
  assert.equal(ev.of('failed', jFail.id)[0].failedReason, 'boom');
  assert.equal(ev.of('failed', jFail.id)[0].prev, 'active');
  assert.equal(ev.of('retries-exhausted', jFail.id).length, 1);
  assert.equal(ev.of('retries-exhausted', jFail.id)[0].attemptsMade, '1');

  // 2. attempts 3 + failAttempts 2: two failed attempts, success on the 3rd.
  const r = await I.assertCompleted(queue, jRetry.id, 'third time', { attemptsMade: 3 });
  assert.equal(r.attemptsStarted, 3);
  assert.equal(r.stacktrace.length, 2, 'one stack per failed attempt');
  assert.equal(r.failedReason, 'attempt 2 failed', 'failedReason of the last failed attempt is kept');
  assert.equal(ev.of('failed', jRetry.id).length, 0, 'no failed event for a retried attempt');
  assert.equal(ev.of('active', jRetry.id).length, 3);
  assert.equal(ev.of('waiting', jRetry.id).filter((e) => e.prev === 'active').length, 2,
    'retried without backoff: back to waiting (prev active) twice');
  assert.deepEqual(ev.of('completed', jRetry.id)[0].returnvalue, 'third time');

  // 3. attempts 2, always failing: failed after 2, retries-exhausted.
  const x = await I.assertFailed(queue, jExhaust.id, 'always', { attemptsMade: 2 });
  assert.equal(x.attemptsStarted, 2);
  assert.equal(x.stacktrace.length, 2);
  assert.equal(ev.of('failed', jExhaust.id).length, 1);
  assert.equal(ev.of('retries-exhausted', jExhaust.id).length, 1);
  assert.equal(ev.of('retries-exhausted', jExhaust.id)[0].attemptsMade, '2');

  // 4. Unrecoverable with attempts 5: failed at once, no retries-exhausted.
  const u = await I.assertFailed(queue, jUnrec.id, 'no way', { attemptsMade: 1 });
  assert.equal(u.attemptsStarted, 1);
  assert.equal(ev.of('active', jUnrec.id).length, 1);
  assert.equal(ev.of('failed', jUnrec.id)[0].failedReason, 'no way');

  // 5. Fixed backoff: two delayed retries, then completed with the data.
  const b = await I.assertCompleted(queue, jBackoff.id, { failAttempts: 2 }, { attemptsMade: 3 });
  assert.ok(b.finishedOn - b.timestamp >= 400, 'two backoff delays of 200 ms were waited');
  const delayed = ev.of('delayed', jBackoff.id);
  assert.equal(delayed.length, 2);
  for (const d of delayed) assert.ok(d.delay > b.timestamp, 'delayed.delay is an absolute due time');
  assert.equal(ev.of('waiting', jBackoff.id).filter((e) => e.prev === 'delayed').length, 2);

  // The stream has no retries-exhausted for the unrecoverable or the
  // succeeded jobs (read directly, so nothing can be in flight).
  const all = await I.readStream(client, 'failures');
  const re = all.filter((e) => e.event === 'retries-exhausted').map((e) => e.jobId).sort();
  assert.deepEqual(re, [jExhaust.id, jFail.id].sort());
  await finish(w);
});

test('removeOnComplete / removeOnFail: true removes, a number keeps the last n', { timeout: 60000 }, async (t) => {
  const { queue, ev, client, start } = await setup(t, 'retention');
  const gone = await queue.add('gone', { v: 1, result: 'r' }, { removeOnComplete: true });
  const goneF = await queue.add('goneF', { fail: 'x' }, { removeOnFail: true });
  const kept = await queue.add('kept', { v: 2 }, { removeOnComplete: false, removeOnFail: true });
  // Then 6 completions keeping 3, and 5 failures keeping 2 (each sleeps a few
  // ms so finishing order, which decides who is kept, is unambiguous).
  const comp = [];
  const fail = [];
  for (let i = 0; i < 6; i++) {
    comp.push(await queue.add('c', { i, sleepMs: 3 }, { removeOnComplete: i < 3 ? 100 : 3 }));
    if (i < 5) fail.push(await queue.add('f', { i, sleepMs: 3, fail: `f${i}` }, { removeOnFail: i < 3 ? { count: 100 } : 2 }));
  }
  const w = start();
  await ev.waitFor('completed', comp[5].id);
  await ev.waitFor('failed', fail[4].id);
  await ev.waitFor('completed', kept.id);

  // true: the job hash is gone, its events still carry the outcome.
  assert.equal(await queue.getJob(gone.id), undefined, 'removeOnComplete:true job removed');
  assert.equal(await client.exists(`bull:retention:${gone.id}`), 0);
  assert.deepEqual(ev.of('completed', gone.id)[0].returnvalue, 'r');
  assert.equal(await queue.getJob(goneF.id), undefined, 'removeOnFail:true job removed');
  assert.equal(ev.of('failed', goneF.id)[0].failedReason, 'x');

  // number: only the last n of the set remain (the one that finished last
  // trims the whole set).
  const completedIds = (await queue.getCompleted(0, -1)).map((j) => j.id).sort();
  assert.deepEqual(completedIds, [comp[3].id, comp[4].id, comp[5].id].sort(), 'completed set keeps last 3');
  for (const j of comp.slice(0, 3)) {
    assert.equal(await client.exists(`bull:retention:${j.id}`), 0, `job ${j.id} hash removed`);
  }
  assert.equal(await client.exists(`bull:retention:${kept.id}`), 0, 'kept job trimmed by the later count');
  const failedIds = (await queue.getFailed(0, -1)).map((j) => j.id).sort();
  assert.deepEqual(failedIds, [fail[3].id, fail[4].id].sort(), 'failed set keeps last 2');
  for (const j of fail.slice(0, 3)) {
    assert.equal(await client.exists(`bull:retention:${j.id}`), 0, `job ${j.id} hash removed`);
  }
  for (const id of [comp[3].id, comp[4].id, comp[5].id]) {
    await I.assertCompleted(queue, id, (await queue.getJob(id)).data);
  }
  for (const j of [fail[3], fail[4]]) await I.assertFailed(queue, j.id, j.data.fail);
  assert.deepEqual(await queue.getJobCounts('completed', 'failed'), { completed: 3, failed: 2 });
  await finish(w);
});
