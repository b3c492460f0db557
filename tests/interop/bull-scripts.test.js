'use strict';
// Script-level differential for the Bull 4 batch (docs/bull.md §4.3): every scenario builds its
// state with Node's bull Queue on server A, takes jobs into active with our moveToActive, and
// copies the database to server B (DUMP/RESTORE). Then A runs our moveToFinished once per job,
// in order, and our moveToActive once per extra job wanted; B runs one moveToFinishedBatch with
// the same arguments. The replies, the whole databases (unmasked: every time is an argument)
// and the messages published on each server, in order, must be the same.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const Bull = require('bull');
const { Packr } = require('msgpackr');
const { startRedis, waitFor } = require('./lib/harness');
const { dumpState, diffStates } = require('./lib/state');
const { loadScript, BULL_LUA_DIR } = require('./lib/lua');

const packer = new Packr({ useRecords: false });
const pack = (x) => packer.pack(x);

const Q = 'bb';
const k = (s) => `bull:${Q}:${s}`;
const BASE = `bull:${Q}:`;
const TOKEN = 'tok-1';
const LOCK_MS = 30000;
const T0 = 1700000000000;

let A; let B; let ca; let cb; let sa; let sb;
const heard = { A: [], B: [] };
const sha = {};

before(async () => {
  [A, B] = await Promise.all([startRedis(), startRedis()]);
  ca = new Redis(A.connection);
  cb = new Redis(B.connection);
  for (const name of ['moveToFinished', 'moveToActive', 'moveToFinishedBatch']) {
    const text = loadScript(name, BULL_LUA_DIR);
    sha[name] = await ca.script('LOAD', text);
    assert.equal(await cb.script('LOAD', text), sha[name]);
  }
  sa = new Redis(A.connection);
  sb = new Redis(B.connection);
  sa.on('pmessage', (_p, ch, msg) => heard.A.push([ch, msg]));
  sb.on('pmessage', (_p, ch, msg) => heard.B.push([ch, msg]));
  await Promise.all([sa.psubscribe('*'), sb.psubscribe('*')]);
});

after(async () => {
  for (const c of [ca, cb, sa, sb]) if (c) c.disconnect();
  await Promise.all([A && A.cleanup(), B && B.cleanup()]);
});

// Fresh state on A from Node's bull: `jobs` is [[data, opts], ...] added in order; `paused`
// pauses the queue globally afterwards.
async function build(jobs, { paused = false } = {}) {
  await Promise.all([ca.flushall(), cb.flushall()]);
  const q = new Bull(Q, { redis: { host: '127.0.0.1', port: A.port } });
  try {
    for (const [data, opts] of jobs) await q.add(data, opts || {});
    if (paused) await q.pause();
  } finally {
    await q.close();
  }
}

function activeCall(id, now) {
  const keys = ['wait', 'active', 'priority', 'stalled', 'limiter', 'delayed', 'paused',
    'meta-paused'].map(k);
  return ['moveToActive', keys, [BASE, TOKEN, LOCK_MS, now, id, 0, 0, 0, 0]];
}

// Takes `n` waiting jobs into active on A (before the copy), as the worker would.
async function takeOnA(n, now = T0) {
  for (let i = 0; i < n; i++) {
    const [name, keys, args] = activeCall('', now);
    await ca.evalsha(sha[name], keys.length, ...keys, ...args);
  }
}

async function cloneAtoB() {
  await cb.flushall();
  for (const key of await ca.keys('*')) {
    const [dump, pttl] = await Promise.all([ca.dumpBuffer(key), ca.pttl(key)]);
    await cb.restore(key, pttl > 0 ? pttl : 0, dump, 'REPLACE');
  }
}

// One finish: { id, failed, value, keep ({count, age}), fetchNext, token, fields, metrics, now }.
function finishArgs(f, i) {
  const target = k(f.failed ? 'failed' : 'completed');
  const value = f.value !== undefined ? f.value : f.failed ? 'boom' : `{"r":${i}}`;
  const event = JSON.stringify({ jobId: f.id, val: value });
  return {
    keys: [target, BASE + f.id, k(f.failed ? 'metrics:failed' : 'metrics:completed')],
    args: [f.id, f.now || T0 + 1000 + i, f.failed ? 'failedReason' : 'returnvalue', value,
      pack(f.keep || { count: -1 }), event, f.fetchNext ? '1' : '0',
      f.fields ? pack(f.fields) : '', f.metrics || ''],
    token: f.token || TOKEN,
  };
}

function singleFinish(a) {
  const [target, jobKey, metricsKey] = a.keys;
  const [jobId, now, valueField, value, keep, event, fetchNext, fields, maxMetrics] = a.args;
  return ['moveToFinished',
    [k('active'), target, jobKey, k('wait'), k('priority'), k('stalled'), metricsKey],
    [jobId, now, valueField, value, a.token, keep, event, fetchNext, BASE, LOCK_MS, fields,
      maxMetrics]];
}

// A job hash comes back as a flat list whose field order may differ between two servers.
function norm(r) {
  // a raised error: its code (the single call's message adds where in the script it was)
  if (r instanceof Error) return `error ${r.message.split(' ')[0]}`;
  if (Array.isArray(r) && r.length === 2 && Array.isArray(r[0])) {
    const pairs = [];
    for (let i = 0; i < r[0].length; i += 2) pairs.push(`${r[0][i]}=${r[0][i + 1]}`);
    return [pairs.sort(), r[1]];
  }
  return r;
}

async function settled(client, who) {
  const mark = `mark-${Math.random()}`;
  await client.publish('zz-mark', mark);
  await waitFor(() => heard[who].some(([, m]) => m === mark), { what: `${who} hears its mark` });
  const out = heard[who].filter(([ch]) => ch !== 'zz-mark');
  heard[who].length = 0;
  return out;
}

// The finishes (all with the worker's token unless given) and `fetch` (claimed ids, "" for the
// next waiting job): singles on A, the batch on B; everything compared. Returns B's replies.
async function differential(finishes, fetch = [], now = T0 + 5000) {
  await cloneAtoB();
  await settled(ca, 'A');
  await settled(cb, 'B');
  const items = finishes.map(finishArgs);
  if (items.some((it) => it.token !== TOKEN)) throw new Error('one token per batch');
  const replies = [];
  for (const it of items) {
    const [name, keys, args] = singleFinish(it);
    replies.push(await ca.evalsha(sha[name], keys.length, ...keys, ...args).catch((e) => e));
  }
  for (const id of fetch) {
    const [name, keys, args] = activeCall(id, now);
    replies.push(await ca.evalsha(sha[name], keys.length, ...keys, ...args).catch((e) => e));
  }
  const keys = [k('active'), k('wait'), k('priority'), k('stalled'), ...items.flatMap((it) => it.keys)];
  const args = [BASE, TOKEN, LOCK_MS, now, fetch.length ? pack(fetch) : '',
    ...items.flatMap((it) => it.args)];
  const batch = await cb.evalsha(sha.moveToFinishedBatch, keys.length, ...keys, ...args);
  assert.deepEqual(batch.map(norm), replies.map(norm), 'replies differ');
  const diffs = diffStates(await dumpState(ca), await dumpState(cb));
  assert.deepEqual(diffs, [], `state differs:\n  ${diffs.join('\n  ')}`);
  const [ma, mb] = [await settled(ca, 'A'), await settled(cb, 'B')];
  assert.deepEqual(mb, ma, 'published messages differ');
  return { batch, messages: mb };
}

const plain = (n) => Array.from({ length: n }, (_, i) => [{ i }, {}]);
const ids = (...xs) => xs.map(String);

test('bull batch: several completions with fetch-next, jobs still waiting', async () => {
  await build(plain(8));
  await takeOnA(3);
  const { batch, messages } = await differential(ids(1, 2, 3).map((id) => ({ id, fetchNext: true })));
  assert.deepEqual(batch.map((r) => r[1]), ['4', '5', '6']);
  assert.ok(messages.some(([ch, m]) => ch === k('active@tok-1') && m === '6'));
});

test('bull batch: completions and final failures, extra fetches past the end of wait', async () => {
  await build(plain(5));
  await takeOnA(4);
  const fields = ['stacktrace', '["Error: boom"]', 'failedReason', 'boom', 'attemptsMade', '1'];
  const { batch, messages } = await differential([
    { id: '1', fetchNext: true },
    { id: '2', failed: true, fields },
    { id: '3', failed: true, fields, keep: { count: 0 } },
    { id: '4' },
  ], ['', '', '']);
  assert.equal(batch[0][1], '5');
  assert.deepEqual(batch.slice(4), [0, 0, 0]);
  assert.equal(messages.filter(([ch]) => ch === k('drained')).length, 3);
});

test('bull batch: lost locks, another token, not active and missing jobs in the middle', async () => {
  await build(plain(7));
  await takeOnA(5);
  await ca.del(k('2:lock'));
  await ca.set(k('3:lock'), 'someone-else');
  await ca.lrem(k('active'), 1, '4');
  await ca.sadd(k('stalled'), '1', '5', '3'); // a stalled check marked them
  const { batch } = await differential([
    { id: '1', fetchNext: true }, { id: '2', fetchNext: true }, { id: '3' },
    { id: '4', failed: true, fields: ['failedReason', 'x'] }, { id: '99' }, { id: '5', fetchNext: true },
  ]);
  assert.deepEqual(batch.slice(1, 5), [-2, -6, -3, -1]);
});

test('bull batch: removeOnComplete true, n and age, and removeOnFail', async () => {
  await build([...plain(4), [{ old: 1 }, {}]]);
  await takeOnA(5);
  await differential([
    { id: '1', keep: { count: 2 } },
    { id: '2', keep: { count: 0 } },
    { id: '3', keep: { count: 1 }, fetchNext: true },
    { id: '4', keep: { age: 1, count: 5 }, now: T0 + 3000 },
    { id: '5', failed: true, keep: { count: 0 } },
  ]);
});

test('bull batch: claimed ids, priorities and debounce keys', async () => {
  await build([
    [{ a: 1 }, { priority: 3 }], [{ a: 2 }, { priority: 1 }], [{ a: 3 }, { priority: 2 }],
    [{ a: 4 }, { debounce: { id: 'd1' } }], [{ a: 5 }, { priority: 1 }], [{ a: 6 }, {}],
  ]);
  await takeOnA(2);
  // a blocking wait moved the next id to active without a lock: the batch claims it
  const claimed = await ca.rpoplpush(k('wait'), k('active'));
  await ca.sadd(k('stalled'), claimed);
  const active = await ca.lrange(k('active'), 0, -1);
  const { batch } = await differential(active.filter((id) => id !== claimed)
    .map((id) => ({ id, fetchNext: true })), [claimed, '', '']);
  assert.equal(batch.length, 5);
  const again = await ca.lrange(k('active'), 0, -1);
  await differential(again.map((id) => ({ id, fetchNext: true })), ['']);
});

test('bull batch: paused queue, fetch-next and fetches find nothing', async () => {
  await build(plain(5));
  await takeOnA(3);
  const q = new Bull(Q, { redis: { host: '127.0.0.1', port: A.port } });
  await q.pause();
  await q.close();
  const { batch } = await differential(ids(1, 2, 3).map((id) => ({ id, fetchNext: true })), ['', '']);
  assert.deepEqual(batch, [0, 0, 0, 0, 0]);
});

test('bull batch: metrics over several minutes, completed and failed', async () => {
  await build(plain(6));
  await takeOnA(6);
  await differential([
    { id: '1', metrics: '10', now: T0 },
    { id: '2', metrics: '10', now: T0 + 61000 },
    { id: '3', metrics: '10', now: T0 + 61001, failed: true },
    { id: '4', metrics: '10', now: T0 + 5 * 60000, fetchNext: true },
    { id: '5', metrics: '3', now: T0 + 20 * 60000, failed: true },
  ]);
});

test('bull batch: a key of the wrong type fails its job only', async () => {
  await build(plain(4));
  await takeOnA(3);
  await ca.del(k('completed'));
  await ca.set(k('completed'), 'not a set');
  const { batch } = await differential([{ id: '1' }, { id: '2', failed: true }, { id: '3' }]);
  assert.ok(batch[0] instanceof Error && batch[2] instanceof Error);
  assert.equal(batch[1], 0);
});
