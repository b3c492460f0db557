'use strict';
// BullMQ 5.x producers (bullmq 5.81.5, installed as `bullmq5`) in front of
// echo_worker, alone and next to 6.7.0 producers on one queue
// (docs/bullmq.md §9). The danger checked throughout: a 5.x pause renames
// `wait` to `paused`, a 5.x resume renames `paused` back over `wait`, and
// 5.x code sends every job that becomes ready while paused to `paused`. A
// job the worker makes ready during such a pause (a retry, a delayed job
// coming due, a stalled job, a rate-limited job, a released parent) must be
// where the resume will find it: every job completes exactly once and no
// list keeps anything.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Packr } = require('msgpackr');
const { Queue: Queue5, FlowProducer: FlowProducer5 } = require('bullmq5');
const I = require('./lib/interop');
const { dumpState, maskState, diffStates } = require('./lib/state');
const { loadScript } = require('./lib/lua');

const FAST = ['--lock-duration', '1000', '--stalled-interval', '500'];

function useQueue5(t, redis, name) {
  const q = new Queue5(name, { connection: redis.connection });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  return q;
}

// The Queue constructors write meta.version when ready; wait for the one expected.
async function versionIs(client, name, prefix) {
  await I.waitFor(async () => ((await client.hget(`bull:${name}:meta`, 'version')) || '').startsWith(prefix),
    { what: `meta.version ${prefix}*` });
}

async function lists(client, name) {
  const k = (x) => `bull:${name}:${x}`;
  return {
    wait: await client.lrange(k('wait'), 0, -1),
    paused: await client.lrange(k('paused'), 0, -1),
    active: await client.lrange(k('active'), 0, -1),
    delayed: await client.zrange(k('delayed'), 0, -1),
    prioritized: await client.zrange(k('prioritized'), 0, -1),
  };
}

const sorted = (a) => [...a].sort();

// Polls until the list holds exactly `ids` (in any order).
async function listHolds(client, name, list, ids, what, timeout = 15000) {
  let last;
  try {
    await I.waitFor(async () => {
      last = await lists(client, name);
      return JSON.stringify(sorted(last[list])) === JSON.stringify(sorted(ids));
    }, { timeout, what, interval: 50 });
  } catch (e) {
    e.message += ` (last lists ${JSON.stringify(last)})`;
    throw e;
  }
  return last;
}

// Every list of the queue empty, every job completed once with the expected value.
async function allDone(client, queue, ev, name, expected) {
  assert.deepEqual(await lists(client, name),
    { wait: [], paused: [], active: [], delayed: [], prioritized: [] }, 'no list keeps anything');
  for (const [id, value, attemptsMade] of expected) {
    await I.assertCompleted(queue, id, value, { attemptsMade });
    assert.equal(ev.of('completed', id).length, 1, `job ${id} completed once`);
  }
  assert.equal(ev.of('failed').length, 0, 'no job failed for good');
}

async function finish(w) {
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
}

test('5.x producer: plain, LIFO, delayed, prioritized and retried jobs complete', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-plain';
  const q5 = useQueue5(t, redis, qn);
  const ev = await I.useEvents(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  const plain = await q5.add('p', { k: 1 });
  const lifo = await q5.add('l', { k: 2 }, { lifo: true });
  const delayed = await q5.add('d', { k: 3 }, { delay: 400 });
  const prio = await q5.add('h', { k: 4 }, { priority: 3 });
  const backoff = await q5.add('b', { failAttempts: 2, result: 'b ok' },
    { attempts: 3, backoff: { type: 'fixed', delay: 200 } });
  const now = await q5.add('n', { failAttempts: 1, result: 'n ok' }, { attempts: 2 });
  const w = I.useWorker(t, redis, qn, ['--concurrency', '2']);
  await I.waitCounts(q5, (c) => c.completed === 6, '6 completed', 30000);
  await allDone(client, q5, ev, qn, [
    [plain.id, { k: 1 }, 1], [lifo.id, { k: 2 }, 1], [delayed.id, { k: 3 }, 1],
    [prio.id, { k: 4 }, 1], [backoff.id, 'b ok', 3], [now.id, 'n ok', 2],
  ]);
  await finish(w);
});

test('5.x pause and resume with the worker running: what became ready meanwhile waits in `paused`, nothing is lost', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-pause';
  const q5 = useQueue5(t, redis, qn);
  const ev = await I.useEvents(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');

  // b1 is held by a worker that dies during the pause: the stalled check re-queues it.
  const b1 = await q5.add('b', { sleepMs: 4000, result: 'b1' });
  const doomed = I.useWorker(t, redis, qn, [...FAST, '--concurrency', '1', '--name', 'doomed']);
  await ev.waitFor('active', b1.id);
  // Running when the pause comes: an immediate retry, a retry with backoff, a rate limit.
  const w = I.useWorker(t, redis, qn, [...FAST, '--concurrency', '3', '--name', 'w']);
  const r1 = await q5.add('r', { sleepMs: 1500, failAttempts: 1, result: 'r1' }, { attempts: 2 });
  const r2 = await q5.add('r', { sleepMs: 1500, failAttempts: 1, result: 'r2' },
    { attempts: 2, backoff: { type: 'fixed', delay: 800 } });
  const rl = await q5.add('r', { sleepMs: 1500, rateLimitMs: 300, result: 'rl' });
  for (const j of [r1, r2, rl]) await ev.waitFor('active', j.id);
  // A backlog (every slot is busy) and a delayed job due during the pause.
  const b2 = await q5.add('b', { k: 2 });
  const b3 = await q5.add('b', { k: 3 });
  const d1 = await q5.add('d', { k: 'd1' }, { delay: 1200 });

  await q5.pause();
  assert.equal(await client.exists(`bull:${qn}:wait`), 0, '5.x pause renamed wait');
  doomed.kill('SIGKILL');
  await I.within(doomed.exited, 5000);
  // While paused, 5.x producers add to `paused`.
  const p1 = await q5.add('p', { k: 'p1' });
  const p2 = await q5.add('p', { k: 'p2' });
  const d2 = await q5.add('d', { k: 'd2' }, { delay: 300 });

  const ready = [b1, b2, b3, r1, r2, rl, d1, d2, p1, p2].map((j) => j.id);
  const held = await listHolds(client, qn, 'paused', ready, 'every ready job in paused');
  assert.deepEqual(held.wait, [], 'nothing pushed to wait while 5.x-paused');
  assert.deepEqual(held.active, [], 'nothing taken while paused');
  assert.equal(ev.of('stalled', b1.id).length, 1, 'b1 re-queued by the stalled check');
  assert.equal(ev.of('completed').length, 0);
  await I.sleep(600);
  assert.deepEqual((await lists(client, qn)).active, [], 'still nothing taken');

  await q5.resume();
  await I.waitCounts(q5, (c) => c.completed === ready.length, `${ready.length} completed`, 30000);
  await allDone(client, q5, ev, qn, [
    [b1.id, 'b1', 1], [b2.id, { k: 2 }, 1], [b3.id, { k: 3 }, 1], [r1.id, 'r1', 2], [r2.id, 'r2', 2],
    [rl.id, 'rl', 1], [d1.id, { k: 'd1' }, 1], [d2.id, { k: 'd2' }, 1], [p1.id, { k: 'p1' }, 1],
    [p2.id, { k: 'p2' }, 1],
  ]);
  await finish(w);
});

test('5.x flow: a parent released during a 5.x pause of its own queue waits in that queue\'s `paused`', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const [P, C] = ['v5-parents', 'v5-kids'];
  const qp = useQueue5(t, redis, P);
  const qc = useQueue5(t, redis, C);
  const evp = await I.useEvents(t, redis, P);
  await versionIs(client, P, 'bullmq:5.');
  const flow = new FlowProducer5({ connection: redis.connection });
  I.defer(t, () => flow.close().catch(() => {}));
  await flow.add({
    name: 'parent', queueName: P, data: { returnChildren: true }, opts: { jobId: 'parent' },
    children: [{ name: 'kid', queueName: C, data: { sleepMs: 1500, result: 'K' }, opts: { jobId: 'kid' } }],
  });
  const wp = I.useWorker(t, redis, P, ['--concurrency', '1']);
  const wc = I.useWorker(t, redis, C, ['--concurrency', '1']);
  await I.waitFor(async () => (await lists(client, C)).active.length === 1, { what: 'kid active' });
  await qp.pause();
  const other = await qp.add('o', { k: 'o' }); // makes `paused` exist, as 5.x adds do
  await listHolds(client, P, 'paused', ['parent', other.id], 'parent released into paused');
  assert.equal(await client.exists(`bull:${P}:wait`), 0);
  await qp.resume();
  await I.waitCounts(qp, (c) => c.completed === 2, 'parent and o completed', 20000);
  await allDone(client, qp, evp, P, [['parent', { [`bull:${C}:kid`]: 'K' }, 1], [other.id, { k: 'o' }, 1]]);
  await I.assertCompleted(qc, 'kid', 'K');
  await finish(wp);
  await finish(wc);
});

test('5.x and 6.x producers on one queue: a 5.x pause with a 6.x resume, a 6.x pause with a 5.x or a 6.x resume', { timeout: 120000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-mixed';
  const q5 = useQueue5(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  const q6 = I.useQueue(t, redis, qn);
  await versionIs(client, qn, 'bullmq:6.');
  const ev = await I.useEvents(t, redis, qn);
  const w = I.useWorker(t, redis, qn, [...FAST, '--concurrency', '2']);
  const expected = [];
  let total = 0;

  // Two jobs that keep the worker busy and come back during the pause.
  async function busy(tag) {
    const a = await q6.add('s', { sleepMs: 1200, failAttempts: 1, result: `${tag}a` }, { attempts: 2 });
    const b = await q5.add('s', { sleepMs: 1200, failAttempts: 1, result: `${tag}b` },
      { attempts: 2, backoff: { type: 'fixed', delay: 300 } });
    await ev.waitFor('active', a.id);
    await ev.waitFor('active', b.id);
    expected.push([a.id, `${tag}a`, 2], [b.id, `${tag}b`, 2]);
    return [a.id, b.id];
  }
  async function add(q, tag) {
    const j = await q.add('x', { tag });
    expected.push([j.id, { tag }, 1]);
    return j.id;
  }
  async function drained(what) {
    total = expected.length;
    await I.waitCounts(q6, (c) => c.completed === total, what, 30000);
    await allDone(client, q6, ev, qn, expected);
  }

  // A: 5.x pause (the backlog is renamed to paused), adds from both, the worker's
  // retries go to paused; the 6.x resume merges paused into wait.
  let run = await busy('A');
  const backlogA = await add(q6, 'A-backlog');
  await q5.pause();
  const a5 = await add(q5, 'A5');
  const a6 = await add(q6, 'A6'); // a 6.x add goes to wait
  let held = await listHolds(client, qn, 'paused', [backlogA, a5, ...run], 'A: paused');
  assert.deepEqual(held.wait, [a6]);
  await q6.resume();
  await drained('A: all completed');

  // B: 6.x pause leaving its backlog in wait, while meta.version says 5.x. The
  // worker's retries join wait: creating `paused` would let the 5.x resume
  // overwrite the backlog.
  const q5b = useQueue5(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  run = await busy('B');
  const backlogB = await add(q6, 'B-backlog');
  await q6.pause();
  const b6 = await add(q6, 'B6');
  held = await listHolds(client, qn, 'wait', [backlogB, b6, ...run], 'B: wait');
  assert.equal(await client.exists(`bull:${qn}:paused`), 0);
  await q5b.resume(); // renames nothing: no paused list
  await drained('B: all completed');

  // C: 6.x pause, then a 5.x add creates `paused`: the worker's retries follow it
  // there; the 6.x resume merges.
  run = await busy('C');
  const backlogC = await add(q6, 'C-backlog');
  await q6.pause();
  const c5 = await add(q5, 'C5');
  held = await listHolds(client, qn, 'paused', [c5, ...run], 'C: paused');
  assert.deepEqual(held.wait, [backlogC]);
  await q6.resume();
  await drained('C: all completed');
  await finish(w);
});

test('5.x legacy repeatable job: every iteration keeps the data, nrjid names the next one', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-repeat';
  const q5 = useQueue5(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  await q5.add('r', { keep: 'me' }, { repeat: { every: 400, limit: 3 } });
  const w = I.useWorker(t, redis, qn, ['--concurrency', '1']);
  await I.waitCounts(q5, (c) => c.completed === 3, '3 iterations completed', 20000);
  await I.sleep(300);
  const done = await q5.getCompleted();
  assert.equal(done.length, 3);
  for (const j of done) assert.deepEqual(j.returnvalue, { keep: 'me' }, `${j.id}: data kept`);
  const ids = done.map((j) => j.id).sort();
  const hashes = await Promise.all(ids.map((id) => client.hget(`bull:${qn}:${id}`, 'nrjid')));
  assert.deepEqual(hashes.slice(0, 2), ids.slice(1), 'nrjid names the next iteration');
  const [key] = await client.zrange(`bull:${qn}:repeat`, 0, -1);
  assert.equal(await client.hget(`bull:${qn}:repeat:${key}`, 'data'), '{"keep":"me"}', 'template stored');
  await finish(w);
});

test('5.x job scheduler: an iteration due during a 5.x pause waits in `paused`, the schedule goes on after resume', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-sched';
  const q5 = useQueue5(t, redis, qn);
  const ev = await I.useEvents(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  const w = I.useWorker(t, redis, qn, ['--concurrency', '1']);
  await q5.upsertJobScheduler('tick', { every: 500, limit: 4 }, { name: 'tick', data: { v: 1 } });
  await I.waitCounts(q5, (c) => c.completed === 1, 'first iteration completed', 10000);
  await q5.pause();
  const held = await I.waitFor(async () => {
    const l = await lists(client, qn);
    return l.paused.length === 1 ? l : null;
  }, { what: 'the next iteration promoted into paused', timeout: 10000 });
  assert.match(held.paused[0], /^repeat:tick:\d+$/);
  assert.deepEqual(held.wait, []);
  assert.equal((await q5.getJobCounts()).completed, 1, 'nothing run while paused');
  await q5.resume();
  await I.waitCounts(q5, (c) => c.completed === 4, '4 iterations completed', 20000);
  await I.sleep(700);
  const done = await q5.getCompleted();
  assert.equal(done.length, 4, 'the limit holds');
  for (const j of done) {
    assert.deepEqual(j.returnvalue, { v: 1 });
    assert.equal(ev.of('completed', j.id).length, 1);
  }
  await finish(w);
});

test('5.x keepLastIfActive: the job parked while its twin ran is created into `paused` when the twin finishes during a 5.x pause', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-dedup';
  const q5 = useQueue5(t, redis, qn);
  const ev = await I.useEvents(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  const de = { id: 'same', keepLastIfActive: true };
  const first = await q5.add('d', { sleepMs: 1500, result: 'first' }, { deduplication: de });
  const w = I.useWorker(t, redis, qn, ['--concurrency', '1']);
  await ev.waitFor('active', first.id);
  const backlog = await q5.add('b', { k: 'b' });
  await q5.pause(); // renames wait (the backlog) to paused
  await q5.add('d', { result: 'last' }, { deduplication: de }); // parked in dn:same
  assert.equal(await client.exists(`bull:${qn}:dn:same`), 1, 'parked');
  const held = await I.waitFor(async () => {
    const l = await lists(client, qn);
    return l.paused.length === 2 ? l : null;
  }, { what: 'the parked job created into paused', timeout: 15000 });
  assert.equal(held.paused[1], backlog.id);
  const lastId = held.paused[0];
  assert.deepEqual(held.wait, []);
  await q5.resume();
  await I.waitCounts(q5, (c) => c.completed === 3, '3 completed', 20000);
  await allDone(client, q5, ev, qn, [[first.id, 'first', 1], [backlog.id, { k: 'b' }, 1], [lastId, 'last', 1]]);
  await finish(w);
});

test('no meta.version (Node before 5.21): an empty queue paused by 5.x gets the 5.x rule', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const qn = 'v5-noversion';
  const q5 = useQueue5(t, redis, qn);
  const ev = await I.useEvents(t, redis, qn);
  await versionIs(client, qn, 'bullmq:5.');
  await client.hdel(`bull:${qn}:meta`, 'version');
  const w = I.useWorker(t, redis, qn, ['--concurrency', '1']);
  const r = await q5.add('r', { sleepMs: 1000, failAttempts: 1, result: 'r' }, { attempts: 2 });
  await ev.waitFor('active', r.id);
  await q5.pause(); // wait is empty: nothing renamed, no list exists
  await listHolds(client, qn, 'paused', [r.id], 'the retry in paused');
  const p = await q5.add('p', { k: 'p' });
  await q5.resume();
  await I.waitCounts(q5, (c) => c.completed === 2, '2 completed', 20000);
  await allDone(client, q5, ev, qn, [[r.id, 'r', 2], [p.id, { k: 'p' }, 1]]);
  await finish(w);
});

// ------------------------------------------------------------------------------------------
// Script level: each step runs 5.81.5's own script on server A and ours on server B, from the
// same state built by 5.x producers; replies and whole databases must be identical (as
// scripts.test.js does against 6.7.0). Upstream text is read from node_modules at test time.
const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const pack = (x) => packer.pack(x);
const V5_SCRIPTS = {
  moveToActive: 11, moveToFinished: 14, retryJob: 11, moveToDelayed: 12, moveStalledJobsToWait: 9,
  moveJobFromActiveToWait: 9, updateJobScheduler: 12,
};
function v5Text(name) {
  const file = path.join(path.dirname(require.resolve('bullmq5/package.json')),
    'dist', 'cjs', 'scripts', `${name}-${V5_SCRIPTS[name]}.js`);
  // eslint-disable-next-line global-require, import/no-dynamic-require
  return require(file)[name].content;
}

// Two servers, scripts loaded; `k`/`P` name keys of queue `qn`.
async function pair(t, qn) {
  const [A, B] = [await I.useRedis(t), await I.useRedis(t)];
  const ca = I.useClient(t, A);
  const cb = I.useClient(t, B);
  const sha = { A: {}, B: {} };
  for (const name of Object.keys(V5_SCRIPTS)) {
    sha.A[name] = await ca.script('LOAD', v5Text(name));
    sha.B[name] = await cb.script('LOAD', loadScript(name));
  }
  const k = (s, q = qn) => `bull:${q}:${s}`;
  const P = (q = qn) => `bull:${q}:`;
  const d = {
    A, B, ca, cb, k, P,
    async clone() {
      await cb.flushall();
      for (const key of await ca.keys('*')) {
        const [dump, pttl] = await Promise.all([ca.dumpBuffer(key), ca.pttl(key)]);
        if (dump) await cb.restore(key, pttl > 0 ? pttl : 0, dump, 'REPLACE');
      }
    },
    both: (fn) => Promise.all([fn(ca), fn(cb)]),
    // one script on both sides: [keysA, argsA] upstream, [keysB, argsB] ours
    async step(name, [ka, aa], [kb, ab] = [ka, aa]) {
      const call = (c, s, ks, as) => c.call('EVALSHA', s, ks.length, ...ks, ...as).then(
        (v) => ({ v }), (e) => ({ err: e.message }));
      const ra = await call(ca, sha.A[name], ka, aa);
      const rb = await call(cb, sha.B[name], kb, ab);
      assert.equal(ra.err, undefined, `upstream ${name} raised: ${ra.err}`);
      assert.equal(rb.err, undefined, `our ${name} raised: ${rb.err}`);
      assert.deepEqual(normReply(rb.v), normReply(ra.v), `${name} reply differs`);
      const [sa, sb] = await Promise.all([dumpState(ca), dumpState(cb)]);
      const raw = diffStates(sa, sb);
      assert.deepEqual(raw, [], `${name}: state differs:\n  ${raw.join('\n  ')}`);
      assert.deepEqual(diffStates(maskState(sa), maskState(sb)), []);
      return ra.v;
    },
  };
  return d;
}

// A job hash reply compared as a field map; a rate-limit TTL only as "> 0".
function normReply(r) {
  if (typeof r === 'number' && r > 0) return 'n>0';
  if (!Array.isArray(r) || r.length !== 4) return r;
  const out = [...r];
  if (Array.isArray(out[0])) {
    const pairs = [];
    for (let i = 0; i < out[0].length; i += 2) pairs.push([out[0][i], out[0][i + 1]]);
    out[0] = pairs.sort((x, y) => (x[0] < y[0] ? -1 : 1));
  }
  if (typeof out[2] === 'number' && out[2] > 0) out[2] = 'ttl>0';
  return out;
}

const QKEYS = ['wait', 'active', 'prioritized', 'events', 'stalled', 'limiter', 'delayed', 'paused', 'meta', 'pc'];
const wopts = (o = {}) => ({ token: 'tok', lockDuration: 30000, ...o });
const failFields = (msg) => pack(['failedReason', msg, 'stacktrace', JSON.stringify([`Error: ${msg}`])]);

function scriptsOf(d) {
  const { k, P } = d;
  return {
    moveToActive: (now, o = {}, q) => d.step('moveToActive',
      [[...QKEYS, 'marker'].map((s) => k(s, q)), [P(q), now, pack(wopts(o))]]),
    moveToFinished(id, now, o = {}, q) {
      const target = o.target || 'completed';
      const keys = [...QKEYS, target, id, `metrics:${target}`, 'marker'].map((s) => k(s, q));
      const opts = {
        token: o.token || 'tok', keepJobs: { count: -1 }, limiter: o.limiter, lockDuration: 30000,
        attempts: o.attempts || 0, maxMetricsSize: '', fpof: false, cpof: false, idof: false, rdof: false,
      };
      return d.step('moveToFinished', [keys, [id, now, target === 'completed' ? 'returnvalue' : 'failedReason',
        o.value || '"ok"', target, o.fetchNext ? 1 : 0, P(q), pack(opts), '']]);
    },
    retryJob: (id, now, o = {}) => d.step('retryJob', [['active', 'wait', 'paused', id, 'meta', 'events',
      'delayed', 'prioritized', 'pc', 'marker', 'stalled'].map((s) => k(s)),
    [P(), now, 'LPUSH', id, o.token || 'tok', failFields('r')]]),
    moveStalled: (now) => d.step('moveStalledJobsToWait', [['stalled', 'wait', 'active', 'stalled-check', 'meta',
      'paused', 'marker', 'events', 'repeat'].map((s) => k(s)), [1, P(), now, 30000]]),
    toWait: (id, token = 'tok') => d.step('moveJobFromActiveToWait', [['active', 'wait', 'stalled', 'paused', 'meta',
      'limiter', 'prioritized', 'marker', 'events'].map((s) => k(s)), [id, token, k(id)]]),
    moveToDelayed(id, now, delay, o = {}) {
      const v5 = ['marker', 'active', 'prioritized', 'delayed', id, 'events', 'meta', 'stalled', 'wait', 'limiter',
        'paused', 'pc'].map((s) => k(s));
      const args = [P(), now, id, 'tok', delay, '0', failFields('later'), o.fetchNext ? '1' : '0',
        o.fetchNext ? pack(wopts()) : ''];
      return d.step('moveToDelayed', [v5, args], [v5.filter((_, i) => i !== 10), args]);
    },
  };
}

test('script level, 5.x-paused queue: promotion, retry, stalled re-queue, rate-limit give-back, moveToDelayed and moveToFinished fetch-next leave what 5.81.5 leaves', { timeout: 60000 }, async (t) => {
  const qn = 'v5s';
  const d = await pair(t, qn);
  const s = scriptsOf(d);
  const T0 = Date.now();
  const q5 = new Queue5(qn, { connection: d.A.connection });
  try {
    for (let i = 1; i <= 6; i++) await q5.add('j', { i });
    await q5.add('d1', {}, { delay: 10, timestamp: T0 }); // 7
    await q5.add('d2', {}, { delay: 20, timestamp: T0 }); // 8
    await q5.add('d3', {}, { delay: 30, timestamp: T0 }); // 9
    await q5.add('h', {}, { priority: 2 }); // 10
    await I.sleep(100);
    await d.clone();
    for (let i = 1; i <= 5; i++) await s.moveToActive(T0 + i);
    await q5.pause(); // wait [6] renamed to paused
  } finally {
    await q5.close();
  }
  await d.clone();
  assert.deepEqual(await s.moveToActive(T0 + 15), [0, 0, 0, 0]); // promotes 7
  await s.retryJob('1', T0 + 16);
  await d.both((c) => c.del(d.k('2:lock')));
  await s.moveStalled(T0 + 17);
  await d.both((c) => c.del(d.k('stalled-check')));
  await s.moveStalled(T0 + 18); // 2 re-queued
  await s.toWait('3');
  await s.moveToDelayed('4', T0 + 25, 1000, { fetchNext: true }); // promotes 8
  await s.moveToFinished('5', T0 + 35, { fetchNext: true }); // promotes 9
  // LPUSHed on the left: 7, 1 (retry), 8, 9; RPUSHed on the right: 2 (stalled), 3 (rate limit)
  assert.deepEqual(await d.cb.lrange(d.k('paused'), 0, -1), ['9', '8', '1', '7', '6', '2', '3']);
  assert.equal(await d.cb.exists(d.k('wait')), 0);
});

test('script level: a parent released into its own 5.x-paused queue, as 5.81.5 does', { timeout: 60000 }, async (t) => {
  const [PQ, CQ] = ['v5sp', 'v5sc'];
  const d = await pair(t, CQ);
  const s = scriptsOf(d);
  const T0 = Date.now();
  const flow = new FlowProducer5({ connection: d.A.connection });
  const qp = new Queue5(PQ, { connection: d.A.connection });
  try {
    await qp.add('other', {});
    await flow.add({ name: 'p', queueName: PQ, data: {}, opts: { jobId: 'p' },
      children: [{ name: 'c', queueName: CQ, data: {}, opts: { jobId: 'c' } }] });
    await qp.pause(); // wait [1] renamed to paused
    await I.sleep(100);
  } finally {
    await flow.close();
    await qp.close();
  }
  await d.clone();
  await s.moveToActive(T0 + 1);
  await s.moveToFinished('c', T0 + 2, { fetchNext: true });
  assert.deepEqual(await d.cb.lrange(d.k('paused', PQ), 0, -1), ['1', 'p']);
});

test('script level: updateJobScheduler on a 5.x legacy repeatable keeps the data and writes nrjid, as 5.81.5 does', { timeout: 60000 }, async (t) => {
  const qn = 'v5sr';
  const d = await pair(t, qn);
  const { k, P } = d;
  const q5 = new Queue5(qn, { connection: d.A.connection });
  let first;
  try {
    first = await q5.add('r', { keep: 'me' }, { repeat: { every: 1000 } });
    await I.sleep(100);
  } finally {
    await q5.close();
  }
  await d.clone();
  const job = await d.ca.hgetall(k(first.id));
  const rjk = job.rjk;
  const current = Number(first.id.split(':').pop());
  const now = current + 10;
  const opts = { ...JSON.parse(job.opts), timestamp: now, repeatJobKey: rjk, jobId: `repeat:${rjk}:undefined` };
  opts.repeat = { ...opts.repeat, count: (opts.repeat.count || 0) + 1 };
  const packed = pack(opts);
  const ka = ['repeat', 'delayed', 'wait', 'paused', 'meta', 'prioritized', 'marker', 'id', 'events', 'pc']
    .map((x) => k(x));
  const r = await d.step('updateJobScheduler',
    [[...ka, k(first.id), k('active')], ['', rjk, job.data, packed, now, P(), first.id]],
    [[...ka, k('active')], ['', rjk, packed, now, P(), first.id]]);
  assert.equal(r, `repeat:${rjk}:${current + 1000}`);
  assert.equal(await d.cb.hget(k(r), 'data'), '{"keep":"me"}');
  assert.equal(await d.cb.hget(k(first.id), 'nrjid'), r);
});

test('script level: a 5.x queue counts jobs carrying defa against the rate limiter, as 5.81.5 does', { timeout: 60000 }, async (t) => {
  const qn = 'v5sl';
  const d = await pair(t, qn);
  const s = scriptsOf(d);
  const T0 = Date.now();
  const q5 = new Queue5(qn, { connection: d.A.connection });
  try {
    for (let i = 1; i <= 3; i++) await q5.add('j', { i });
    await I.sleep(100);
  } finally {
    await q5.close();
  }
  await d.ca.hset(d.k('1'), 'defa', 'job stalled more than allowable limit');
  await d.clone();
  const limiter = { max: 1, duration: 5000 };
  await s.moveToActive(T0 + 1, { limiter }); // the defa job, counted
  const r = await s.moveToActive(T0 + 2, { limiter });
  assert.ok(r[2] > 0, 'rate limited');
});

// bullc_enqueue next to a 5.x producer: on a 5.x-paused queue its adds land where 5.81.5's do.
for (const [label, withVersion, before] of [
  ['a 5.x-paused queue with a backlog', true, 1],
  ['an empty queue paused by 5.x code that wrote no meta.version', false, 0],
]) {
  test(`producer: bullc_enqueue adds to ${label} as bullmq 5.81.5 does`, { timeout: 60000 }, async (t) => {
    const qn = 'v5add';
    const d = await pair(t, qn);
    const q5 = new Queue5(qn, { connection: d.A.connection, skipMetasUpdate: !withVersion });
    const steps = [['a', {}, {}], ['p', {}, { priority: 2 }], ['l', {}, { lifo: true }], ['d', {}, { delay: 86400000 }]];
    try {
      for (let i = 0; i < before; i++) await q5.add('x', {});
      await q5.pause();
      await I.sleep(100);
      await d.clone();
      for (const [name, data, opts] of steps) await q5.add(name, data, opts);
    } finally {
      await q5.close();
    }
    for (const [name, data, opts] of steps) {
      const r = await I.enqueue(d.B, qn, [name, JSON.stringify(data), JSON.stringify(opts)]);
      assert.equal(r.code, 0, `bullc_enqueue: ${r.stderr}`);
    }
    const [sa, sb] = await Promise.all([dumpState(d.ca), dumpState(d.cb)]);
    assert.deepEqual(diffStates(maskState(sa), maskState(sb)), []);
    assert.equal(await d.cb.exists(d.k('wait')), 0);
    assert.equal(await d.cb.llen(d.k('paused')), before + 2);
  });
}
