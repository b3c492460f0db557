'use strict';
// Legacy Bull 4 (npm bull 4.16.5, what @nestjs/bull drives): echo_worker
// --protocol bull works jobs that a Node Bull Queue added, and Node's Bull
// Queue must see exactly what its own worker would have left: job fields
// (returnvalue, failedReason, stacktrace, attemptsMade), states and counts,
// the global events its listeners hear, getWorkers(). docs/bull.md says what
// the C side writes.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const Bull = require('bull');
const I = require('./lib/interop');

const BULL = ['--protocol', 'bull'];
const GLOBAL_EVENTS = ['active', 'completed', 'failed', 'stalled', 'waiting', 'paused', 'resumed'];

// A Node Bull Queue (producer and reader), closed when the test ends.
function useBull(t, redis, name, opts = {}) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port }, ...opts });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  return q;
}

// Records the global:* events a Node listener sees, once subscribed.
async function recordGlobal(q) {
  const log = [];
  for (const ev of GLOBAL_EVENTS) {
    q.on(`global:${ev}`, (id, val) => log.push(val === undefined ? [ev, id] : [ev, id, val]));
  }
  await q.isReady();
  await I.waitFor(() => q.registeredEvents && Object.keys(q.registeredEvents).length >= GLOBAL_EVENTS.length,
    { what: 'bull subscriptions' });
  await Promise.all(Object.values(q.registeredEvents));
  log.of = (ev) => log.filter((e) => e[0] === ev);
  return log;
}

async function waitBullCounts(q, pred, what, timeout = 30000) {
  let last;
  try {
    return await I.waitFor(async () => {
      last = await q.getJobCounts();
      return pred(last) ? last : null;
    }, { timeout, what, interval: 50 });
  } catch (e) {
    e.message += ` (last counts ${JSON.stringify(last)})`;
    throw e;
  }
}

const done = (n) => (c) => c.completed + c.failed === n && c.active === 0 && c.waiting === 0 && c.delayed === 0;

test('bull: a job completes as Node Bull records it, with its events and the worker listed', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq1');
  const ev = await recordGlobal(q);
  const w = I.useWorker(t, redis, 'bq1', BULL);
  await I.waitFor(async () => ((await q.getWorkers()) || []).length === 1, { what: 'getWorkers lists the C worker' });
  const workers = await q.getWorkers();
  assert.equal(workers[0].name, 'bq1');

  const j1 = await q.add({ a: 1, s: 'x' });
  const j2 = await q.add('named', { result: { ok: true, n: [1, 2] } });
  const j3 = await q.add({ result: 'text' });
  await waitBullCounts(q, done(3), 'three completions');

  const r1 = await q.getJob(j1.id);
  assert.deepEqual(r1.returnvalue, { a: 1, s: 'x' });
  assert.equal(r1.attemptsMade, 0);
  assert.equal(r1.failedReason, undefined);
  assert.deepEqual(r1.stacktrace, []);
  assert.ok(r1.processedOn >= r1.timestamp && r1.finishedOn >= r1.processedOn);
  assert.equal(await r1.getState(), 'completed');
  assert.deepEqual((await q.getJob(j2.id)).returnvalue, { ok: true, n: [1, 2] });
  assert.equal((await q.getJob(j3.id)).returnvalue, 'text');
  assert.equal(await q.client.exists(`bull:bq1:${j1.id}:lock`), 0, 'lock released');

  // the raw hash holds exactly what Bull's own worker writes
  const raw = await q.client.hgetall(`bull:bq1:${j1.id}`);
  assert.deepEqual(Object.keys(raw).sort(),
    ['data', 'delay', 'finishedOn', 'name', 'opts', 'priority', 'processedOn', 'returnvalue', 'timestamp']);

  await I.waitFor(() => ev.of('completed').length === 3, { what: 'global:completed x3' });
  assert.deepEqual(ev.of('completed'), [
    ['completed', j1.id, '{"a":1,"s":"x"}'],
    ['completed', j2.id, '{"ok":true,"n":[1,2]}'],
    ['completed', j3.id, '"text"'],
  ]);
  assert.deepEqual(ev.of('active').map((e) => e[1]), [j1.id, j2.id, j3.id]);
  assert.equal((await I.stopWorker(w)).code, 0);
});

test('bull: failures, retries with fixed and exponential backoff, final failure', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq2');
  const ev = await recordGlobal(q);
  I.useWorker(t, redis, 'bq2', BULL);

  const once = await q.add({ fail: 'boom' });
  const exhaust = await q.add({ fail: 'always' }, { attempts: 3, backoff: 200 });
  const later = await q.add({ failAttempts: 2, result: 'third time' },
    { attempts: 3, backoff: { type: 'exponential', delay: 150 } });
  const now = await q.add({ failAttempts: 1 }, { attempts: 2 });
  const unrec = await q.add({ unrecoverable: 'fatal' }, { attempts: 5 });
  await waitBullCounts(q, done(5), 'five outcomes');

  const f1 = await q.getJob(once.id);
  assert.equal(await f1.getState(), 'failed');
  assert.equal(f1.failedReason, 'boom');
  assert.equal(f1.attemptsMade, 1);
  assert.equal(f1.stacktrace.length, 1);

  const f2 = await q.getJob(exhaust.id);
  assert.equal(f2.failedReason, 'always');
  assert.equal(f2.attemptsMade, 3);
  assert.equal(f2.stacktrace.length, 3);
  assert.equal(await f2.getState(), 'failed');

  const c3 = await q.getJob(later.id);
  assert.equal(await c3.getState(), 'completed');
  assert.equal(c3.returnvalue, 'third time');
  assert.equal(c3.attemptsMade, 2, 'failures only');
  assert.equal(c3.failedReason, 'attempt 2 failed', 'kept from the last failure');
  assert.ok(c3.finishedOn - c3.timestamp >= 150 + 450, 'exponential: 150 then 450 ms');

  const c4 = await q.getJob(now.id);
  assert.equal(await c4.getState(), 'completed');
  assert.equal(c4.attemptsMade, 1);

  const f5 = await q.getJob(unrec.id);
  assert.equal(await f5.getState(), 'failed');
  assert.equal(f5.attemptsMade, 1, 'no retry');

  await I.waitFor(() => ev.of('failed').length === 3, { what: 'global:failed x3' });
  assert.deepEqual(ev.of('failed').map((e) => e.slice(1)).sort(),
    [[once.id, 'boom'], [exhaust.id, 'always'], [unrec.id, 'fatal']].sort());
  assert.equal(await q.client.zcard('bull:bq2:delayed'), 0);
});

test('bull: removeOnComplete / removeOnFail as true, a count, and {age, count}', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq3');
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await q.add({ sleepMs: 3, i }, { removeOnComplete: 2 })).id);
  const gone = await q.add({ v: 1 }, { removeOnComplete: true });
  const goneF = await q.add({ fail: 'x' }, { removeOnFail: true });
  const keptF = await q.add({ fail: 'y' }, { removeOnFail: { age: 3600, count: 5 } });
  I.useWorker(t, redis, 'bq3', BULL);
  await I.waitFor(async () => (await q.getJob(keptF.id)) && (await (await q.getJob(keptF.id)).getState()) === 'failed',
    { what: 'last job failed' });
  await waitBullCounts(q, (c) => c.waiting === 0 && c.active === 0, 'queue empty');
  assert.equal(await q.getJob(gone.id), null);
  assert.equal(await q.getJob(goneF.id), null);
  // removeOnComplete: 2 keeps the newest two of the four (the job removed at once is not counted)
  assert.equal(await q.getJob(ids[0]), null);
  assert.equal(await q.getJob(ids[1]), null);
  assert.ok(await q.getJob(ids[2]));
  assert.ok(await q.getJob(ids[3]));
  assert.equal((await q.getJob(keptF.id)).failedReason, 'y');
});

test('bull: priorities and LIFO run in Bull\'s order', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq4');
  const ev = await recordGlobal(q);
  const a = await q.add({ n: 'a' });
  const b = await q.add({ n: 'b' }, { priority: 3 });
  const c = await q.add({ n: 'c' }, { priority: 1 });
  const d = await q.add({ n: 'd' });
  const e = await q.add({ n: 'e' }, { lifo: true });
  I.useWorker(t, redis, 'bq4', BULL);
  await waitBullCounts(q, done(5), 'five completions');
  await I.waitFor(() => ev.of('completed').length === 5, { what: 'global:completed x5' });
  // lifo runs first, then priority 1, priority 3, then the plain jobs in order
  assert.deepEqual(ev.of('completed').map((x) => x[1]), [e.id, c.id, b.id, a.id, d.id]);
  assert.equal(await q.client.zcard('bull:bq4:priority'), 0);
});

test('bull: delayed jobs come back on time, and a global pause holds jobs', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq5');
  const ev = await recordGlobal(q);
  I.useWorker(t, redis, 'bq5', BULL);
  await I.waitFor(async () => ((await q.getWorkers()) || []).length === 1, { what: 'worker up' });
  const t0 = Date.now();
  const dj = await q.add({ result: 'late' }, { delay: 800 });
  await waitBullCounts(q, done(1), 'delayed job done', 15000);
  const job = await q.getJob(dj.id);
  assert.ok(job.processedOn - t0 >= 800, 'not before its delay');
  assert.ok(job.processedOn - t0 < 6000, 'promoted within the guard interval');
  assert.equal(job.returnvalue, 'late');
  assert.ok(ev.of('waiting').some((x) => x[1] === dj.id), 'promotion announced on waiting@token');

  await q.pause();
  const held = await q.add({ v: 'held' });
  await I.sleep(1500);
  assert.equal(await (await q.getJob(held.id)).getState(), 'paused');
  await q.resume();
  await waitBullCounts(q, done(2), 'held job done after resume', 15000);
});

test('bull: a stalled job goes back to wait, and fails past maxStalledCount', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq6');
  const ev = await recordGlobal(q);
  // a worker that dies while its job runs leaves it active with a short lock
  const w1 = I.useWorker(t, redis, 'bq6', [...BULL, '--lock-duration', '1000', '--stalled-interval', '500']);
  const j = await q.add({ sleepMs: 60000, n: 1 });
  await I.waitFor(async () => (await q.getJobCounts()).active === 1, { what: 'job active' });
  w1.kill('SIGKILL');
  await w1.exited;
  // a second one (maxStalledCount 1) recovers it once; it stalls again, then it fails
  const w2 = I.useWorker(t, redis, 'bq6', [...BULL, '--lock-duration', '1000', '--stalled-interval', '500']);
  await I.waitFor(() => ev.of('stalled').length === 1, { what: 'global:stalled', timeout: 15000 });
  await I.waitFor(async () => (await q.getJobCounts()).active === 1, { what: 'job active again' });
  w2.kill('SIGKILL');
  await w2.exited;
  I.useWorker(t, redis, 'bq6', [...BULL, '--lock-duration', '1000', '--stalled-interval', '500']);
  await waitBullCounts(q, (c) => c.failed === 1, 'stall failure', 15000);
  const job = await q.getJob(j.id);
  assert.equal(job.failedReason, 'job stalled more than allowable limit');
  assert.equal((await q.client.hget(`bull:bq6:${j.id}`, 'stalledCounter')), '2');
  await I.waitFor(() => ev.of('failed').length === 1, { what: 'global:failed' });
  assert.deepEqual(ev.of('failed')[0], ['failed', j.id, 'job stalled more than maxStalledCount']);
});

test('bull: progress, logs and data updates from a handler', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq8');
  const progress = [];
  q.on('global:progress', (id, p) => progress.push([id, p]));
  await recordGlobal(q);
  I.useWorker(t, redis, 'bq8', BULL);
  const j = await q.add({ progress: [10, { p: 50 }], logs: ['one', 'two'], updateData: { x: 2 }, result: 'ok' });
  await waitBullCounts(q, done(1), 'job done');
  const job = await q.getJob(j.id);
  assert.deepEqual(job.progress(), { p: 50 });
  assert.deepEqual(job.data, { x: 2 });
  assert.deepEqual((await q.getJobLogs(j.id)).logs, ['one', 'two']);
  assert.equal(job.returnvalue, 'ok');
  await I.waitFor(() => progress.length === 2, { what: 'global:progress x2' });
  assert.deepEqual(progress, [[j.id, 10], [j.id, { p: 50 }]]);
  // calls Bull does not have fail the job with the library's reason
  const k = await q.add({ waitChildren: true });
  await waitBullCounts(q, (c) => c.failed === 1, 'job failed');
  assert.match((await q.getJob(k.id)).failedReason, /./);
});

test('bull: concurrency 4 runs every job once; an idle worker publishes nothing', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq9');
  let drained = 0;
  q.on('global:drained', () => { drained++; });
  const ev = await recordGlobal(q);
  const w = I.useWorker(t, redis, 'bq9', [...BULL, '--concurrency', '4']);
  await I.waitFor(async () => ((await q.getWorkers()) || []).length === 1, { what: 'worker up' });
  const ids = [];
  for (let i = 0; i < 40; i++) ids.push((await q.add({ sleepMs: 20, i })).id);
  await waitBullCounts(q, done(40), '40 completions');
  await I.waitFor(() => ev.of('completed').length === 40, { what: 'global:completed x40' });
  assert.deepEqual(ev.of('active').map((e) => e[1]).sort(), ids.slice().sort(), 'each taken once');
  for (const id of ids) assert.equal((await q.getJob(id)).attemptsMade, 0);
  // idle now: the blocking pop times out every drain delay without fetching
  await I.sleep(1000);
  const before = drained;
  await I.sleep(6000);
  assert.equal(drained, before, 'no drained events while idle');
  assert.equal((await I.stopWorker(w)).code, 0);
});

test('bull: a completion after the lock was lost is recorded as Bull records it', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq10');
  I.useWorker(t, redis, 'bq10', [...BULL, '--stalled-interval', '1000']);
  const j = await q.add({ sleepMs: 700, result: 'late' });
  await I.waitFor(async () => (await q.client.exists(`bull:bq10:${j.id}:lock`)) === 1, { what: 'job locked' });
  await q.client.del(`bull:bq10:${j.id}:lock`);
  // the completion is refused, then recorded as a failed attempt (refused again): job stays active
  await I.waitFor(async () => (await q.client.hget(`bull:bq10:${j.id}`, 'failedReason')) !== null,
    { what: 'failed attempt recorded' });
  const h = await q.client.hgetall(`bull:bq10:${j.id}`);
  assert.equal(h.failedReason, `Missing lock for job ${j.id} finished`);
  assert.equal(h.attemptsMade, '1');
  assert.equal(JSON.parse(h.stacktrace).length, 1);
  assert.equal(h.returnvalue, undefined);
  // the stalled check puts it back, and it completes
  await waitBullCounts(q, done(1), 'completed after the stall', 20000);
  const job = await q.getJob(j.id);
  assert.equal(job.returnvalue, 'late');
  assert.equal(job.attemptsMade, 1);
});

test('bull: locks of long jobs are renewed; bullc_enqueue reads state, fields and counts', async (t) => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq11');
  I.useWorker(t, redis, 'bq11', [...BULL, '--lock-duration', '1000', '--stalled-interval', '500']);
  const long = await q.add({ sleepMs: 2500, result: 'long' });
  const failing = await q.add({ fail: 'nope' });
  const later = await q.add({ v: 1 }, { delay: 60000 });
  await waitBullCounts(q, (c) => c.completed === 1 && c.failed === 1, 'long job done', 20000);
  const h = await q.client.hgetall(`bull:bq11:${long.id}`);
  assert.equal(h.stalledCounter, undefined, 'never stalled');
  assert.equal(h.returnvalue, '"long"');
  const cli = (...args) => spawnSync(path.join(I.BIN, 'bullc_enqueue'),
    ['--redis', redis.url, '--queue', 'bq11', '--protocol', 'bull', ...args], { encoding: 'utf8' });
  assert.equal(cli('--state', long.id).stdout.trim(), 'completed');
  assert.equal(cli('--state', failing.id).stdout.trim(), 'failed');
  assert.equal(cli('--state', later.id).stdout.trim(), 'delayed');
  assert.equal(cli('--state', 'nope').stdout.trim(), 'unknown');
  assert.equal(cli('--field', failing.id, 'failedReason').stdout.trim(), 'nope');
  assert.equal(cli('--field', 'nope', 'data').status, 1);
  const counts = JSON.parse(cli('--counts').stdout);
  const node = await q.getJobCounts();
  for (const k of ['waiting', 'active', 'completed', 'failed', 'delayed', 'paused']) assert.equal(counts[k], node[k], k);
});

// Bull's worker rate limit: a job over the limit goes to delayed (remembered
// in limiter:limited) and is promoted when the window allows it.
test('bull: the rate limiter spreads jobs as Bull\'s does', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq12');
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push((await q.add({ i })).id);
  I.useWorker(t, redis, 'bq12', [...BULL, '--concurrency', '2', '--limiter-max', '2', '--limiter-duration', '1000']);
  await waitBullCounts(q, done(6), 'six completions', 30000);
  const starts = [];
  for (const id of ids) starts.push((await q.getJob(id)).processedOn);
  starts.sort((a, b) => a - b);
  // never more than 2 starts within one window
  for (let i = 2; i < starts.length; i++) assert.ok(starts[i] - starts[i - 2] >= 950, `starts ${starts}`);
  assert.ok(starts[5] - starts[0] < 12000, `not stuck: ${starts}`);
  assert.equal(await q.client.scard('bull:bq12:limiter:limited'), 0, 'nothing left limited');
  assert.equal(await q.client.hlen('bull:bq12:limiter:index'), 0);
});

test('bull: unknown protocol names are refused', async (t) => {
  const redis = await I.useRedis(t);
  const w = I.useWorker(t, redis, 'bq7', ['--protocol', 'bull3']);
  const r = await I.within(w.exited, 10000, null);
  assert.ok(r && r.code === 2, `exit ${JSON.stringify(r)}: ${w.stderrText()}`);
  assert.match(w.stderrText(), /protocol/);
});

// The producer: bullc_enqueue --protocol bull adds what Node Bull's Queue.add
// adds, byte for byte (creation times masked): hash, opts text, ids, list and
// set positions, delayed scores' low bits.
test('bull: bullc_enqueue --protocol bull adds jobs as Node Bull\'s Queue.add does', async (t) => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const JOBS = [
    ['__default__', { a: 1, s: 'x/\u00fc' }, undefined],
    ['n', { x: 'y' }, { delay: 5000 }],
    ['p3', {}, { priority: 3 }],
    ['p1', [1, 2], { priority: 1 }],
    ['lifo', 'str', { lifo: true }],
    ['custom', {}, { jobId: 'custom-1', attempts: 3, backoff: 1000, removeOnComplete: true,
      removeOnFail: { age: 3600, count: 10 }, timeout: 5000 }],
    ['exp', null, { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 100, stackTraceLimit: 2 }],
    ['dup', {}, { jobId: 'custom-1' }],
    ['ts', { n: 1.5 }, { timestamp: 1700000000000, delay: '1500', attempts: '2' }],
    ['num-id', {}, { jobId: 77, priority: 2, backoff: 0 }],
    ['neg', {}, { delay: -5, backoff: null, 10: 'ten', b: true }],
    ['deb1', { d: 1 }, { debounce: { id: 'd1', ttl: 60000 } }],
    ['deb2', { d: 2 }, { debounce: { id: 'd1' } }],
    ['deb3', { d: 3 }, { debounce: { id: 'd2' } }],
  ];
  const qn = useBull(t, redis, 'pn');
  const nodeIds = [];
  for (const [name, data, opts] of JOBS) {
    nodeIds.push(String((await qn.add(name, data, opts)).id));
  }
  const lines = JOBS.map(([name, data, opts]) => JSON.stringify({ name, data, ...(opts ? { opts } : {}) })).join('\n');
  const r = spawnSync(path.join(I.BIN, 'bullc_enqueue'), ['--redis', redis.url, '--queue', 'pc', '--protocol', 'bull', '--bulk', '-'],
    { input: `${lines}\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const cIds = r.stdout.trim().split('\n');
  assert.deepEqual(cIds, nodeIds);

  const maskTs = (s) => s.replace(/"timestamp":\d+/, '"timestamp":"<ts>"');
  const now = Date.now();
  for (const id of nodeIds) {
    const a = await client.hgetall(`bull:pn:${id}`);
    const b = await client.hgetall(`bull:pc:${id}`);
    assert.ok(Math.abs(Number(b.timestamp) - now) < 60000 || b.timestamp === '1700000000000');
    if (a.timestamp !== '1700000000000') {
      a.timestamp = b.timestamp = '<ts>';
      a.opts = maskTs(a.opts);
      b.opts = maskTs(b.opts);
    }
    assert.deepEqual(b, a, `job ${id}`);
  }
  assert.deepEqual(await client.lrange('bull:pc:wait', 0, -1), await client.lrange('bull:pn:wait', 0, -1));
  assert.deepEqual(await client.zrange('bull:pc:priority', 0, -1, 'WITHSCORES'),
    await client.zrange('bull:pn:priority', 0, -1, 'WITHSCORES'));
  const low = async (q) => (await client.zrange(`bull:${q}:delayed`, 0, -1, 'WITHSCORES'))
    .map((v, i) => (i % 2 ? String(Number(v) % 4096) : v));
  assert.deepEqual(await low('pc'), await low('pn'));
  assert.equal(await client.get('bull:pc:id'), await client.get('bull:pn:id'));
  for (const d of ['d1', 'd2']) {
    assert.equal(await client.get(`bull:pc:de:${d}`), await client.get(`bull:pn:de:${d}`));
    assert.equal((await client.pttl(`bull:pc:de:${d}`)) > 0, (await client.pttl(`bull:pn:de:${d}`)) > 0);
  }

  // and Node Bull reads them back as its own
  const qc = useBull(t, redis, 'pc');
  const j = await qc.getJob('custom-1');
  assert.deepEqual(j.opts.backoff, { type: 'fixed', delay: 1000 });
  assert.equal(await j.getState(), 'waiting');
  assert.deepEqual(await qc.getJobCounts(), await qn.getJobCounts());
});

// A repeatable add: the first iteration and the repeat entry, as Node Bull's
// Queue.add makes them (iteration times masked); then the C worker goes on
// with the series until its limit.
test('bull: repeatable jobs added by bullc_enqueue run as a series on the C worker', async (t) => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const opts = { repeat: { every: 1000, limit: 3 }, jobId: 'r1', removeOnComplete: 10 };
  const qn = useBull(t, redis, 'rn');
  await qn.add('tick', { n: 1 }, opts);
  const r = spawnSync(path.join(I.BIN, 'bullc_enqueue'), ['--redis', redis.url, '--queue', 'rc', '--protocol', 'bull',
    'tick', JSON.stringify({ n: 1 }), JSON.stringify(opts)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^repeat:[0-9a-f]{32}:\d{13}$/);
  const mask = (s) => s.replace(/\d{13}/g, '<ms>').replace(/"delay":\d+/, '"delay":"<d>"');
  const one = async (q) => {
    const ids = (await client.zrange(`bull:${q}:delayed`, 0, -1));
    assert.equal(ids.length, 1);
    const h = await client.hgetall(`bull:${q}:${ids[0]}`);
    return { id: mask(ids[0]), opts: mask(h.opts), name: h.name, data: h.data, priority: h.priority,
      repeat: (await client.zrange(`bull:${q}:repeat`, 0, -1)) };
  };
  assert.deepEqual(await one('rc'), await one('rn'));

  const qc = useBull(t, redis, 'rc');
  assert.deepEqual((await qc.getRepeatableJobs()).map((x) => [x.key, x.every]), [['tick:r1::1000', 1000]]);
  I.useWorker(t, redis, 'rc', BULL);
  await waitBullCounts(qc, (c) => c.completed === 3 && c.delayed === 0 && c.active === 0, 'three iterations', 20000);
  const done3 = await qc.getCompleted();
  assert.deepEqual(done3.map((j) => j.opts.repeat.count).sort(), [1, 2, 3]);
});

test('bull: at concurrency 8 finishes go in batches, and Node Bull sees every outcome', async (t) => {
  const crypto = require('node:crypto');
  const { loadScript, BULL_LUA_DIR } = require('./lib/lua');
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bq13');
  const ev = await recordGlobal(q);
  const jobs = [];
  for (let i = 0; i < 60; i++) {
    const kind = i % 5;
    const data = kind === 1 ? { fail: `no ${i}` } : kind === 3 ? { failAttempts: 1, i } : { result: i };
    const opts = kind === 2 ? { removeOnComplete: true } : kind === 1 ? { removeOnFail: i > 50 } : kind === 3 ? { attempts: 2 } : {};
    jobs.push({ kind, i, job: await q.add(data, opts) });
  }
  I.useWorker(t, redis, 'bq13', [...BULL, '--concurrency', '8']);
  // kept: 12 results, 12 second attempts, 12 of kind 4 completed; 10 failed (2 removed)
  await waitBullCounts(q, (c) => done(46)(c) && c.completed === 36, 'all settled');
  for (const { kind, i, job } of jobs) {
    const j = await q.getJob(job.id);
    if (kind === 2 || (kind === 1 && i > 50)) assert.equal(j, null, `job ${i} removed`);
    else if (kind === 1) assert.equal(j.failedReason, `no ${i}`);
    else if (kind === 3) assert.equal(j.attemptsMade, 1);
    else assert.equal(j.returnvalue, i);
  }
  await I.waitFor(() => ev.of('completed').length === 48 && ev.of('failed').length === 12,
    { what: 'global events' });
  // the batch did the work: Redis has run it
  const text = `${loadScript('moveToFinishedBatch', BULL_LUA_DIR)}\n`.replace(/\n\n$/, '\n');
  const sha = crypto.createHash('sha1').update(text).digest('hex');
  assert.deepEqual(await q.client.script('EXISTS', sha), [1]);
});
