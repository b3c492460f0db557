'use strict';
// Retries decided by the worker, as Node sees them: attemptsMade and final
// state after fixed and exponential backoff (delays between attempts within
// the strategy's bounds, taken from the delayed events' due times and the
// jobs' timestamps), a custom backoff strategy (echo_worker --custom-backoff)
// including -1 = no retry, an unknown type without a strategy, and
// maxStartedAttempts (both the refusal to run and the refusal to retry).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

async function setup(t, qname, workerArgs = []) {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const start = () => I.useWorker(t, redis, qname, ['--concurrency', '2', ...workerArgs]);
  return { redis, queue, ev, start };
}

async function finish(w) {
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
}

// For each retry of a job: [time it was moved to delayed (stream id ms), due time].
function delays(ev, id) {
  return ev.of('delayed', id).map((e) => [Number(e.id.split('-')[0]), Number(e.delay)]);
}

// The stream id is Redis's clock when the event was written, a few ms after
// the worker's `now` the due time was computed from: due - at is the delay
// minus that gap.
const SLACK = 100;
function assertDelays(ev, id, expected, what) {
  const got = delays(ev, id).map(([at, due]) => due - at);
  assert.equal(got.length, expected.length, `${what}: ${got.length} delayed events`);
  got.forEach((d, i) => assert.ok(d <= expected[i] && d >= expected[i] - SLACK,
    `${what}: retry ${i + 1} delay ${d} ms, expected ${expected[i]} (within ${SLACK} ms)`));
}

test('fixed and exponential backoff: attempts, final state, delays within bounds', { timeout: 60000 }, async (t) => {
  const { queue, ev, start } = await setup(t, 'retries');
  const fixed = await queue.add('f', { failAttempts: 3, result: 'fixed ok' }, { attempts: 4, backoff: { type: 'fixed', delay: 300 } });
  const expo = await queue.add('e', { fail: 'always' }, { attempts: 4, backoff: { type: 'exponential', delay: 150 } });
  const num = await queue.add('n', { failAttempts: 1 }, { attempts: 2, backoff: 250 });
  const jit = await queue.add('j', { fail: 'j' }, { attempts: 3, backoff: { type: 'fixed', delay: 400, jitter: 0.5 } });
  // a strategy's -1 means "no retry", even from a built-in one
  const neg = await queue.add('m', { fail: 'minus one' }, { attempts: 3, backoff: { type: 'fixed', delay: -1 } });
  const w = start();
  await ev.waitFor('completed', fixed.id, 1, 30000);
  await ev.waitFor('failed', expo.id, 1, 30000);
  await ev.waitFor('completed', num.id, 1, 30000);
  await ev.waitFor('failed', jit.id, 1, 30000);
  await ev.waitFor('failed', neg.id, 1, 30000);
  await I.assertFailed(queue, neg.id, 'minus one', { attemptsMade: 1 });

  const f = await I.assertCompleted(queue, fixed.id, 'fixed ok', { attemptsMade: 4 });
  assert.equal(f.stacktrace.length, 3);
  assertDelays(ev, fixed.id, [300, 300, 300], 'fixed');

  const e = await I.assertFailed(queue, expo.id, 'always', { attemptsMade: 4 });
  assert.equal(e.attemptsStarted, 4);
  assertDelays(ev, expo.id, [150, 300, 600], 'exponential: delay * 2^(n-1)');
  assert.equal(ev.of('retries-exhausted', expo.id).length, 1);
  // the runs really waited: each start is at or after the due time
  const starts = ev.of('active', expo.id).map((x) => Number(x.id.split('-')[0]));
  const dues = delays(ev, expo.id).map(([, due]) => due);
  for (let i = 0; i < dues.length; i++) assert.ok(starts[i + 1] >= dues[i], `attempt ${i + 2} not before its due time`);

  await I.assertCompleted(queue, num.id, { failAttempts: 1 }, { attemptsMade: 2 });
  assertDelays(ev, num.id, [250], 'a number is a fixed delay');

  await I.assertFailed(queue, jit.id, 'j', { attemptsMade: 3 });
  for (const [at, due] of delays(ev, jit.id)) {
    assert.ok(due - at >= 200 - SLACK && due - at <= 400, `jitter 0.5 of 400: ${due - at} in [200, 400]`);
  }
  await finish(w);
});

test('custom backoff strategy: linear delays, -1 fails at once, unknown type without a strategy', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev } = await setup(t, 'custom');
  const lin = await queue.add('l', { failAttempts: 3, result: 'lin' }, { attempts: 5, backoff: { type: 'linear', delay: 200 } });
  const give = await queue.add('g', { fail: 'give up' }, { attempts: 5, backoff: { type: 'giveup' } });
  const now = await queue.add('z', { failAttempts: 1 }, { attempts: 3, backoff: { type: 'whatever', delay: 5000 } });
  const w = I.useWorker(t, redis, 'custom', ['--concurrency', '2', '--custom-backoff']);
  await ev.waitFor('completed', lin.id, 1, 30000);
  await ev.waitFor('failed', give.id, 1, 30000);
  await ev.waitFor('completed', now.id, 1, 30000);
  await I.assertCompleted(queue, lin.id, 'lin', { attemptsMade: 4 });
  assertDelays(ev, lin.id, [200, 400, 600], 'attemptsMade * delay');
  // -1: no retry, failed after one attempt although attempts = 5
  const g = await I.assertFailed(queue, give.id, 'give up', { attemptsMade: 1 });
  assert.equal(g.attemptsStarted, 1);
  assert.equal(ev.of('retries-exhausted', give.id).length, 0, 'atm 1 < attempts 5');
  // 0: retried at once (waiting prev active, no delayed event)
  await I.assertCompleted(queue, now.id, { failAttempts: 1 }, { attemptsMade: 2 });
  assert.equal(ev.of('delayed', now.id).length, 0);
  assert.equal(ev.of('waiting', now.id).filter((e) => e.prev === 'active').length, 1);
  await finish(w);

  // Without a strategy an unknown type cannot be retried: the job fails with
  // its own reason (Node would throw and leave it active until it stalls).
  const nostrat = await queue.add('n', { fail: 'no strategy' }, { attempts: 3, backoff: { type: 'linear', delay: 10 } });
  const w2 = I.useWorker(t, redis, 'custom', ['--concurrency', '1']);
  await ev.waitFor('failed', nostrat.id, 1, 20000);
  await I.assertFailed(queue, nostrat.id, 'no strategy', { attemptsMade: 1 });
  await finish(w2);
  assert.match(w2.stderrText(), /backoff type "linear" needs a custom strategy/);
});

test('maxStartedAttempts: no retry once reached, no run once exceeded', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev } = await setup(t, 'maxstarted');
  // Retries stop when attemptsStarted reaches 2, whatever attempts says.
  const a = await queue.add('a', { fail: 'nope' }, { attempts: 5 });
  // Moved to delayed by its handler twice (no attempt counted): the third
  // start exceeds 2 and fails without running.
  const b = await queue.add('b', { delayMs: 100, delayTimes: 5, result: 'never' }, { attempts: 3 });
  const w = I.useWorker(t, redis, 'maxstarted', ['--concurrency', '1', '--max-started-attempts', '2']);
  await ev.waitFor('failed', a.id, 1, 20000);
  await ev.waitFor('failed', b.id, 1, 20000);
  const ja = await I.assertFailed(queue, a.id, 'nope', { attemptsMade: 2 });
  assert.equal(ja.attemptsStarted, 2);
  assert.equal(ev.of('retries-exhausted', a.id).length, 0, 'atm 2 < attempts 5');
  const jb = await I.assertFailed(queue, b.id, 'job started more than allowable limit', { attemptsMade: 1 });
  assert.equal(jb.attemptsStarted, 3);
  assert.equal(ev.of('delayed', b.id).length, 2);
  assert.equal(jb.returnvalue, null);
  await finish(w);
});

// An exponential backoff at a high attempt count is past 2^63 ms: Node sends its number as is
// (String(delay)) and the job waits in delayed. Converting it to a long long was undefined and
// came out negative, so the job was retried at once, again and again.
test('exponential backoff beyond 2^63 ms: the job stays delayed, delay written as Node writes it', { timeout: 60000 }, async (t) => {
  const { redis, queue, ev, start } = await setup(t, 'hugebackoff');
  const c = I.useClient(t, redis);
  const job = await queue.add('h', { fail: 'again' }, { attempts: 100, backoff: { type: 'exponential', delay: 1000 } });
  await c.hset(`bull:hugebackoff:${job.id}`, 'atm', 60);
  const w = start();
  await ev.waitFor('delayed', job.id, 1, 20000);
  await finish(w);
  assert.equal(await queue.getJobState(job.id), 'delayed');
  const expected = 2 ** 60 * 1000;
  assert.deepEqual(await c.hmget(`bull:hugebackoff:${job.id}`, 'atm', 'delay'), ['61', String(expected)]);
  assert.equal(ev.of('delayed', job.id).length, 1, 'retried once, not at once again');
});
