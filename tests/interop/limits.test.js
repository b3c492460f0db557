'use strict';
// Worker-side controls of echo_worker, as Node and Redis see them: the worker
// limiter (--limiter-max/--limiter-duration sent with every fetch), local
// pause/resume (SIGUSR1/SIGUSR2 -> bullc_worker_pause/resume), metrics
// (--metrics N, read back with Queue.getMetrics) and the wake-up of an idle
// worker when a delayed retry becomes due.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

async function setup(t, qname) {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const client = I.useClient(t, redis);
  return { redis, queue, ev, client };
}

async function finish(w) {
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
}

// Script calls Redis has run so far (EVALSHA + EVAL).
async function scriptCalls(client) {
  const info = await client.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) n += Number(m[2]);
  return n;
}

test('worker limiter: 5 jobs per second hold over 20 jobs, without spinning', { timeout: 60000 }, async (t) => {
  const { redis, queue, client } = await setup(t, 'limiter');
  const jobs = await queue.addBulk(Array.from({ length: 20 }, (_, k) => ({ name: 'l', data: { k } })));
  const calls0 = await scriptCalls(client);
  const w = I.useWorker(t, redis, 'limiter', ['--concurrency', '4', '--limiter-max', '5', '--limiter-duration', '1000']);
  await I.waitCounts(queue, (c) => c.completed === 20, '20 completed', 40000);
  const done = [];
  for (const j of jobs) done.push(await I.assertCompleted(queue, j.id, j.data));
  const fin = done.map((j) => j.finishedOn).sort((a, b) => a - b);
  const starts = done.map((j) => j.processedOn).sort((a, b) => a - b);
  // 20 jobs at 5 per window need 4 windows: 3 full windows between first and last.
  assert.ok(fin[19] - fin[0] >= 2900, `finishedOn span ${fin[19] - fin[0]} ms >= ~3 s`);
  for (let i = 5; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - 5] >= 950, `6 starts (${i - 5}..${i}) within ${starts[i] - starts[i - 5]} ms`);
  }
  // Waiting out the limit is a sleep, not a loop of fetches: a few calls per
  // job and window, not thousands.
  const calls = (await scriptCalls(client)) - calls0;
  assert.ok(calls < 150, `${calls} script calls for 20 rate-limited jobs`);
  await finish(w);
});

test('local pause: running jobs finish, nothing new is taken, resume carries on', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev, client } = await setup(t, 'lpause');
  const jobs = await queue.addBulk(Array.from({ length: 12 }, (_, k) => ({ name: 'p', data: { k, sleepMs: 250 } })));
  const w = I.useWorker(t, redis, 'lpause', ['--concurrency', '2']);
  await ev.waitFor('completed', undefined, 2);
  w.kill('SIGUSR1');
  // The jobs running at the pause finish; then the worker holds still.
  await I.waitCounts(queue, (c) => c.active === 0, 'no active job after pause', 10000);
  const held = await queue.getJobCounts('completed', 'waiting');
  assert.ok(held.waiting > 0 && held.completed < 12, `paused with work left ${JSON.stringify(held)}`);
  const calls0 = await scriptCalls(client);
  await I.sleep(1200);
  assert.deepEqual(await queue.getJobCounts('completed', 'waiting', 'active'), { ...held, active: 0 },
    'nothing taken while paused');
  assert.ok((await scriptCalls(client)) - calls0 <= 2, 'no polling while paused');
  // The queue itself is not paused: getWorkers still lists the worker.
  assert.equal(await queue.isPaused(), false);
  assert.equal((await I.workerNames(queue)).length, 1);
  w.kill('SIGUSR2');
  await I.waitCounts(queue, (c) => c.completed === 12, 'all completed after resume', 20000);
  for (const j of jobs) await I.assertCompleted(queue, j.id, j.data);
  await finish(w);
});

test('metrics: getMetrics counts final completions and failures only', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev } = await setup(t, 'metrics');
  const ok = await queue.addBulk(Array.from({ length: 6 }, (_, k) => ({ name: 'c', data: { k } })));
  const bad = await queue.addBulk(Array.from({ length: 3 }, (_, k) => ({ name: 'f', data: { fail: `f${k}` } })));
  const retried = await queue.add('r', { failAttempts: 2 }, { attempts: 3 });
  const w = I.useWorker(t, redis, 'metrics', ['--concurrency', '2', '--metrics', '10']);
  await I.waitCounts(queue, (c) => c.completed === 7 && c.failed === 3, '7 completed, 3 failed', 20000);
  await ev.waitFor('completed', retried.id);
  const mc = await queue.getMetrics('completed');
  const mf = await queue.getMetrics('failed');
  assert.equal(mc.meta.count, 7, 'completed count (retries not counted)');
  assert.equal(mf.meta.count, 3, 'failed count');
  assert.ok(mc.meta.prevTS > 0 && mf.meta.prevTS > 0, 'prevTS set');
  assert.ok(mc.data.length <= 10 && mc.count <= 10, 'at most maxDataPoints points');
  for (const x of mc.data) assert.ok(Number.isInteger(x) && x >= 0);
  for (const j of [...ok, ...bad]) assert.ok(await queue.getJob(j.id));
  await finish(w);
  // Without --metrics nothing is recorded.
  const redis2 = await I.useRedis(t);
  const q2 = I.useQueue(t, redis2, 'nometrics');
  await q2.add('x', { v: 1 });
  const w2 = I.useWorker(t, redis2, 'nometrics', ['--concurrency', '1']);
  await I.waitCounts(q2, (c) => c.completed === 1, '1 completed', 10000);
  assert.equal((await q2.getMetrics('completed')).meta.count, 0);
  await finish(w2);
});

test('an idle worker wakes when a delayed retry is due, not at its drain timeout', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev } = await setup(t, 'wake');
  const w = I.useWorker(t, redis, 'wake', ['--concurrency', '1']);
  await I.waitFor(async () => (await I.workerNames(queue)).length === 1, { what: 'worker up' });
  const j = await queue.add('w', { failAttempts: 1 }, { attempts: 2, backoff: { type: 'fixed', delay: 1500 } });
  await ev.waitFor('completed', j.id, 1, 20000);
  const due = Number(ev.of('delayed', j.id)[0].delay);
  const second = ev.of('active', j.id)[1];
  const started = Number(second.id.split('-')[0]);
  assert.ok(started >= due, 'not before the due time');
  // The drain timeout is 5 s: a worker that only polled would start ~5 s late.
  assert.ok(started - due < 2500, `started ${started - due} ms after the due time`);
  await finish(w);
});

// maximum_rate_limit_delay_ms (Node's maximumRateLimitDelay): a rate-limited worker waits at
// most that long before fetching again, and that fetch promotes delayed jobs that fell due.
// Before, a handler thread napped again and again until the whole limit was over.
test('rate limited longer than maximumRateLimitDelay: due delayed jobs are promoted meanwhile', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev, client } = await setup(t, 'maxlimit');
  const a = await queue.add('a', { k: 1 });
  const w = I.useWorker(t, redis, 'maxlimit', ['--concurrency', '1', '--limiter-max', '1',
    '--limiter-duration', '20000', '--max-rate-limit-delay', '300']);
  await ev.waitFor('completed', a.id, 1, 20000);
  const b = await queue.add('b', { k: 2 }, { delay: 200 });
  let state;
  for (let i = 0; i < 100; i++) {
    state = await queue.getJobState(b.id);
    if (state !== 'delayed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ttl = await client.pttl('bull:maxlimit:limiter');
  assert.equal(state, 'waiting', 'b promoted while the queue is rate limited');
  assert.ok(ttl > 0, `the 20 s limit is still on (pttl ${ttl})`);
  await finish(w);
});
