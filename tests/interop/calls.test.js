'use strict';
// Handler calls made through echo_worker's data keys, as Node sees them:
// progress events parsed by QueueEvents, getJobLogs() with keepLogs, the data
// replaced by updateData, a handler moving its job to delayed (no attempt
// counted) and a handler signalling a rate limit (job back to wait, the queue
// limited, the job run again after the window).
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

test('progress, logs and updateData: what QueueEvents, getJobLogs and getJob see', { timeout: 60000 }, async (t) => {
  const { queue, ev, start } = await setup(t, 'calls');
  const progress = [0, 12.5, { step: 2, of: [1, 'x'], s: 'caf\u00e9' }, 'text', true, null, [1, 2], 100];
  const jp = await queue.add('p', { progress, result: 'ok' });
  const jl = await queue.add('l', { logs: ['one', 'two \u2603', 'three', 'four'] }, { keepLogs: 2 });
  const jl2 = await queue.add('l2', { logs: ['a', 'b', 'c'] });
  const ju = await queue.add('u', { updateData: { replaced: [1, { deep: 'yes' }], n: 0.1 }, keep: 'no' });
  const w = start();
  for (const j of [jp, jl, jl2, ju]) await ev.waitFor('completed', j.id);

  // Progress: every value in order, JSON-parsed by QueueEvents, before completed;
  // the job's progress field holds the last one.
  const seen = ev.of('progress', jp.id).map((e) => e.data);
  assert.deepEqual(seen, progress);
  const order = ev.log.filter((e) => e.jobId === jp.id).map((e) => e.event);
  assert.equal(order.lastIndexOf('progress'), order.indexOf('completed') - 1, `events ${order}`);
  const p = await I.assertCompleted(queue, jp.id, 'ok');
  assert.deepEqual(p.progress, 100);

  // Logs: keepLogs 2 keeps the newest two; without keepLogs all are kept.
  assert.deepEqual(await queue.getJobLogs(jl.id), { logs: ['three', 'four'], count: 2 });
  assert.deepEqual(await queue.getJobLogs(jl2.id), { logs: ['a', 'b', 'c'], count: 3 });
  assert.deepEqual(await queue.getJobLogs(jl.id, 0, 0, false), { logs: ['four'], count: 2 });

  // updateData: Node reads the new data; echo returns the (replaced) data.
  const u = await I.assertCompleted(queue, ju.id, { replaced: [1, { deep: 'yes' }], n: 0.1 });
  assert.deepEqual(u.data, { replaced: [1, { deep: 'yes' }], n: 0.1 });
  await finish(w);
});

test('moveToDelayed from a handler: delayed without an attempt, run again when due', { timeout: 60000 }, async (t) => {
  const { queue, ev, start } = await setup(t, 'calls-delay');
  const j = await queue.add('d', { delayMs: 700, delayTimes: 2, result: 'late' });
  const plain = await queue.add('x', { v: 1 });
  const w = start();
  await ev.waitFor('completed', j.id, 1, 20000);
  await ev.waitFor('completed', plain.id);
  const done = await I.assertCompleted(queue, j.id, 'late', { attemptsMade: 1 });
  assert.equal(done.attemptsStarted, 3, 'started 3 times: moved twice, then ran');
  assert.equal(done.stacktrace.length, 0, 'a move is not a failure');
  assert.equal(ev.of('failed', j.id).length, 0);
  // active, delayed, (promotion) waiting, active, delayed, waiting, active, completed
  const mine = ev.log.filter((e) => e.jobId === j.id).map((e) => (e.event === 'waiting' ? `waiting:${e.prev || ''}` : e.event));
  assert.deepEqual(mine, ['added', 'waiting:', 'active', 'delayed', 'waiting:delayed', 'active', 'delayed',
    'waiting:delayed', 'active', 'completed']);
  // each delayed event names a due time >= 700 ms after the start of that run
  const delayed = ev.of('delayed', j.id).map((e) => Number(e.delay));
  assert.equal(delayed.length, 2);
  assert.ok(delayed[1] - delayed[0] >= 700, `second due ${delayed[1] - delayed[0]} ms after the first`);
  assert.ok(done.processedOn >= delayed[1], 'last run not before its due time');
  // the plain job was not held up by the delayed one
  const pj = await I.assertCompleted(queue, plain.id, { v: 1 });
  assert.ok(pj.finishedOn < done.processedOn);
  await finish(w);
});

test('rate limit signalled by a handler: job back to wait, queue limited, then run', { timeout: 60000 }, async (t) => {
  const { queue, ev, client, start } = await setup(t, 'calls-rl');
  const j = await queue.add('r', { rateLimitMs: 1200, result: 'after limit' });
  const others = await queue.addBulk([1, 2, 3].map((k) => ({ name: 'o', data: { k } })));
  const w = start();
  await ev.waitFor('waiting', j.id, 2);
  // The limiter key is set as Node's worker.rateLimit sets it.
  const ttl = await client.pttl('bull:calls-rl:limiter');
  const val = await client.get('bull:calls-rl:limiter');
  assert.equal(val, '9007199254740991');
  assert.ok(ttl > 0 && ttl <= 1200, `limiter ttl ${ttl}`);
  await ev.waitFor('completed', j.id, 1, 20000);
  for (const o of others) await ev.waitFor('completed', o.id);
  const done = await I.assertCompleted(queue, j.id, 'after limit', { attemptsMade: 1 });
  assert.equal(done.attemptsStarted, 2, 'taken twice');
  const back = ev.of('waiting', j.id).filter((e) => e.prev === 'active');
  assert.equal(back.length, 1, 'waiting (prev active) once');
  // The job went to the front of wait: it runs first after the window, and
  // nothing started during the window.
  const firstActive = ev.of('active', j.id)[0];
  const all = [done, ...(await Promise.all(others.map((o) => queue.getJob(o.id))))];
  const starts = all.map((x) => x.processedOn).sort((a, b) => a - b);
  assert.equal(starts[0], done.processedOn, 'the limited job runs first after the window');
  for (const o of all.slice(1)) assert.ok(o.processedOn - Number(firstActive.id.split('-')[0]) >= 1000, 'others waited for the window');
  await finish(w);
});
