'use strict';
// Cancellation (bullc_job_should_stop): echo_worker's `spinMs` handler polls it
// every 5 ms and fails "stopped: <why>" when told. The three reasons:
//   - lock lost: the lock key is overwritten (BullMQ) or deleted (Bull) while
//     the handler spins; the handler is told at the next renewal, and Redis
//     refuses its outcome, so the job is left as Node's worker leaves it
//     (active for a stalled check; Bull alone counts the attempt first);
//   - the worker's stop deadline (--stop-timeout): handlers spinning "forever"
//     are told to stop, the worker exits, and their jobs are left active for a
//     stalled check, which requeues them (a Node worker then completes them);
//   - Bull's `timeout` option: the attempt fails with Bull's exact reason,
//     retried with its backoff, exactly as Node Bull's own worker leaves it
//     (differential against queue.process on a second redis-server).
// Bounds on time are generous: they check that the handler stopped early (it
// was asked to spin for minutes), not how fast.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const Bull = require('bull');
const { Worker } = require('bullmq');
const I = require('./lib/interop');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const FOREVER = 600000;

function bull(redis, name) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port } });
  q.on('error', () => {});
  return q;
}

async function waitState(getState, want, what, timeout = 20000) {
  let last;
  try {
    await I.waitFor(async () => (last = await getState()) === want, { timeout, interval: 25, what });
  } catch (e) {
    e.message += ` (last state ${last})`;
    throw e;
  }
}

test('BullMQ: a lock taken over by another token stops the handler; nothing is recorded twice', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const queue = I.useQueue(t, redis, 'cxlock');
  const events = await I.useEvents(t, redis, 'cxlock');
  const w = I.useWorker(t, redis, 'cxlock', ['--lock-duration', '2000']);
  const job = await queue.add('spin', { spinMs: FOREVER }, { attempts: 3 });
  await waitState(() => job.getState(), 'active', 'job active');
  await I.waitFor(async () => (await client.get(`bull:cxlock:${job.id}:lock`)) !== null, { what: 'lock set' });
  // another worker's token now holds the lock
  await client.set(`bull:cxlock:${job.id}:lock`, 'another-worker-token', 'PX', 60000);
  const t0 = Date.now();
  await I.waitFor(() => /could not record the outcome of job/.test(w.stderrText()),
    { timeout: 15000, what: `handler told to stop; stderr:\n${I.tail(w)}` });
  assert.ok(Date.now() - t0 < 15000);
  assert.match(w.stderrText(), new RegExp(`lock of job ${job.id} could not be renewed`));
  assert.match(w.stderrText(), /Lock mismatch|lock is held by another worker/);
  // as Node's worker would leave it: still active under the other token, no attempt recorded
  const j = await queue.getJob(job.id);
  assert.equal(await j.getState(), 'active');
  assert.equal(j.attemptsMade, 0);
  assert.equal(j.failedReason, undefined);
  assert.equal(j.finishedOn, undefined);
  assert.equal(await client.get(`bull:cxlock:${job.id}:lock`), 'another-worker-token');
  assert.equal(events.of('completed').length + events.of('failed').length, 0);
  // the worker goes on taking jobs
  const next = await queue.add('next', { v: 1 });
  await I.waitFor(async () => (await next.getState()) === 'completed', { what: 'next job completed' });
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  assert.equal(await (await queue.getJob(job.id)).getState(), 'active');
});

test('Bull: a deleted lock stops the handler; the job is left active for the stalled check', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const q = bull(redis, 'cxblock');
  I.defer(t, () => q.close().catch(() => {}));
  const w = I.useWorker(t, redis, 'cxblock', ['--protocol', 'bull', '--lock-duration', '2000']);
  const job = await q.add({ spinMs: FOREVER }, { attempts: 2 });
  await waitState(() => job.getState(), 'active', 'job active');
  await I.waitFor(async () => (await client.get(`bull:cxblock:${job.id}:lock`)) !== null, { what: 'lock set' });
  await client.del(`bull:cxblock:${job.id}:lock`);
  await I.waitFor(() => /could not record the outcome of job/.test(w.stderrText()),
    { timeout: 15000, what: `handler told to stop; stderr:\n${I.tail(w)}` });
  assert.match(w.stderrText(), new RegExp(`lock of job ${job.id} could not be renewed`));
  // as Node Bull's worker leaves it: its moveToFailed MULTI saves the attempt (attemptsMade,
  // failedReason, stacktrace) before the script that checks the lock refuses the move, so the
  // job stays active with the attempt counted, for a stalled check
  const j = await q.getJob(job.id);
  assert.equal(await j.getState(), 'active');
  assert.equal(j.attemptsMade, 1);
  assert.equal(j.failedReason, 'stopped: lock lost');
  assert.ok(!j.finishedOn);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  assert.equal(await (await q.getJob(job.id)).getState(), 'active');
});

test('stop with a deadline: spinning handlers are told to stop; their jobs are left for the stalled check', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'cxstop');
  const events = await I.useEvents(t, redis, 'cxstop');
  const w = I.useWorker(t, redis, 'cxstop',
    ['--concurrency', '2', '--lock-duration', '3000', '--stop-timeout', '1000']);
  const a = await queue.add('spin', { spinMs: FOREVER }, { attempts: 2 });
  const b = await queue.add('spin', { spinMs: FOREVER }, { attempts: 2 });
  await I.waitCounts(queue, (c) => c.active === 2, 'both active');
  await sleep(200);
  const t0 = Date.now();
  // exits within the deadline plus a generous bound (a handler that never polls would hang it)
  assert.deepEqual(await I.stopWorker(w, 'SIGTERM', 15000), { code: 0, signal: null });
  assert.ok(Date.now() - t0 >= 900, 'handlers were given their deadline');
  assert.match(w.stderrText(), /stop deadline passed/);
  for (const job of [a, b]) {
    const j = await queue.getJob(job.id);
    assert.equal(await j.getState(), 'active', `job ${job.id} left active`);
    assert.equal(j.attemptsMade, 0);
    assert.equal(j.failedReason, undefined);
  }
  assert.equal(events.of('failed').length, 0);
  // once the lock expires, a Node worker's stalled check requeues them and completes them
  const node = new Worker('cxstop', async () => 'done by node',
    { connection: redis.connection, stalledInterval: 500, lockDuration: 5000 });
  node.on('error', () => {});
  I.defer(t, () => node.close().catch(() => {}));
  await I.waitCounts(queue, (c) => c.completed === 2, 'requeued and completed', 40000);
  for (const job of [a, b]) await I.assertCompleted(queue, job.id, 'done by node');
  await events.waitFor('stalled', a.id);
  await events.waitFor('stalled', b.id);
});

test('stop with a deadline: a handler that finishes before it completes its job as usual', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'cxstop2');
  const w = I.useWorker(t, redis, 'cxstop2', ['--stop-timeout', '20000']);
  const job = await queue.add('short', { spinMs: 1500, result: 'finished' });
  await waitState(() => job.getState(), 'active', 'job active');
  assert.deepEqual(await I.stopWorker(w, 'SIGTERM', 30000), { code: 0, signal: null });
  await I.assertCompleted(queue, job.id, 'finished');
});

// The Bull `timeout` scenario, run by Node Bull's worker or by echo_worker.
const TIMEOUT_JOBS = [
  ['spin-retried', { spinMs: 5000 }, { timeout: 300, attempts: 2, backoff: 400 }],
  ['spin-once', { spinMs: 5000 }, { timeout: 250 }],
  ['in-time', { spinMs: 20, result: 'ok' }, { timeout: 3000 }],
];

// echo_worker's spinMs as a Bull processor: Node's Bull does not stop it, it
// only stops waiting for it.
async function nodeSpin(job) {
  if (job.data.spinMs) await sleep(job.data.spinMs);
  return job.data.result !== undefined ? job.data.result : job.data;
}

async function timeoutRun(t, kind) {
  const redis = await I.useRedis(t);
  const q = bull(redis, 'cxtime');
  I.defer(t, () => q.close().catch(() => {}));
  const ids = [];
  for (const [name, data, opts] of TIMEOUT_JOBS) ids.push((await q.add(name, data, opts)).id);
  let stop;
  if (kind === 'node') {
    const worker = bull(redis, 'cxtime');
    worker.process('*', 3, nodeSpin);
    stop = () => worker.close(true);
  } else {
    const w = I.useWorker(t, redis, 'cxtime', ['--protocol', 'bull', '--concurrency', '3']);
    stop = async () => assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  }
  await I.waitFor(async () => {
    const c = await q.getJobCounts();
    return c.completed + c.failed === ids.length;
  }, { timeout: 30000, interval: 50, what: 'all jobs finished' });
  await stop();
  const out = {};
  for (const id of ids) {
    const j = await q.getJob(id);
    out[j.name] = {
      state: await j.getState(),
      failedReason: j.failedReason,
      attemptsMade: j.attemptsMade,
      returnvalue: j.returnvalue,
      stacktrace: j.stacktrace.length,
      delay: j.delay,
      opts: { ...j.opts, timestamp: undefined },
    };
  }
  return out;
}

test('Bull timeout: the attempt fails with Bull\'s reason, retried with backoff, as Node Bull leaves it', { timeout: 120000 }, async (t) => {
  const ours = await timeoutRun(t, 'bullc');
  const node = await timeoutRun(t, 'node');
  assert.deepEqual(ours, node);
  assert.deepEqual(ours['spin-retried'], {
    ...ours['spin-retried'],
    state: 'failed', failedReason: 'Promise timed out after 300 milliseconds', attemptsMade: 2, stacktrace: 2,
  });
  assert.equal(ours['spin-once'].failedReason, 'Promise timed out after 250 milliseconds');
  assert.equal(ours['spin-once'].attemptsMade, 1);
  assert.equal(ours['in-time'].state, 'completed');
  assert.equal(ours['in-time'].returnvalue, 'ok');
});

test('Bull timeout: the handler is told to stop (its late result is discarded)', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const q = bull(redis, 'cxtold');
  I.defer(t, () => q.close().catch(() => {}));
  const w = I.useWorker(t, redis, 'cxtold', ['--protocol', 'bull', '--log-level', 'debug']);
  const t0 = Date.now();
  const job = await q.add({ spinMs: FOREVER, result: 'late' }, { timeout: 200 });
  await I.waitFor(async () => (await job.getState()) === 'failed', { timeout: 20000, what: 'timed out' });
  assert.ok(Date.now() - t0 < 20000);
  const j = await q.getJob(job.id);
  assert.equal(j.failedReason, 'Promise timed out after 200 milliseconds');
  assert.equal(j.returnvalue, null);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
});
