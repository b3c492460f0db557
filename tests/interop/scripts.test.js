'use strict';
// Script-level differential test: every scenario builds its initial state with
// Node's bullmq (Queue / FlowProducer) on server A, copies it key by key
// (DUMP/RESTORE, TTLs kept) to server B, then runs each step twice with the
// same KEYS/ARGV: upstream's script (text taken from node_modules at test time
// only) on A, our lua/ script on B. After every step the replies and the whole
// databases must be identical.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const Redis = require('ioredis');
const { Queue, FlowProducer } = require('bullmq');
const { Packr } = require('msgpackr');
const { startRedis } = require('./lib/harness');
const { dumpState, maskState, diffStates } = require('./lib/state');
const { loadScript } = require('./lib/lua');

const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const pack = (x) => packer.pack(x);

const SCRIPTS = {
  moveToActive: 11,
  moveToFinished: 14,
  extendLocks: 1,
  moveStalledJobsToWait: 9,
  retryJob: 11,
  moveToDelayed: 11,
  moveToWaitingChildren: 7,
  updateProgress: 3,
  addLog: 2,
  updateData: 1,
  moveJobFromActiveToWait: 9,
};

function upstreamText(name) {
  const file = path.join(path.dirname(require.resolve('bullmq/package.json')),
    'dist', 'cjs', 'scripts', `${name}-${SCRIPTS[name]}.js`);
  // eslint-disable-next-line global-require, import/no-dynamic-require
  return require(file)[name].content;
}

let A; let B; let ca; let cb;
const sha = { A: {}, B: {} };

before(async () => {
  [A, B] = await Promise.all([startRedis(), startRedis()]);
  ca = new Redis(A.connection);
  cb = new Redis(B.connection);
  for (const name of Object.keys(SCRIPTS)) {
    sha.A[name] = await ca.script('LOAD', upstreamText(name));
    sha.B[name] = await cb.script('LOAD', loadScript(name));
  }
  sha.B.moveToFinishedBatch = await cb.script('LOAD', loadScript('moveToFinishedBatch'));
});

after(async () => {
  if (ca) ca.disconnect();
  if (cb) cb.disconnect();
  await Promise.all([A && A.cleanup(), B && B.cleanup()]);
});

// ---------------------------------------------------------------- helpers
const Q = 'dq';
const k = (s, q = Q) => `bull:${q}:${s}`;
const P = (q = Q) => `bull:${q}:`;
const T0 = Date.now();

async function fresh() {
  await Promise.all([ca.flushall(), cb.flushall()]);
}

// Copy A's whole database to B.
async function cloneAtoB() {
  await cb.flushall();
  const keys = await ca.keys('*');
  for (const key of keys) {
    const [dump, pttl] = await Promise.all([ca.dumpBuffer(key), ca.pttl(key)]);
    if (dump) await cb.restore(key, pttl > 0 ? pttl : 0, dump, 'REPLACE');
  }
}

async function withQueue(fn, { name = Q, flow = false } = {}) {
  const queue = new Queue(name, { connection: A.connection });
  const fp = flow ? new FlowProducer({ connection: A.connection }) : null;
  try {
    await fn(queue, fp);
  } finally {
    await queue.close();
    if (fp) await fp.close();
  }
}

// Replies: a job-hash flat list is compared as a field map (hash field order
// may legitimately differ between two servers once a hash is no longer a
// listpack); a rate-limit TTL only as "> 0", it ticks between the two calls.
function normReply(name, r) {
  if (!Array.isArray(r)) return normIntReply(name, r);
  if (['moveToActive', 'moveToFinished', 'moveToDelayed'].includes(name) && r.length === 4) {
    const out = [...r];
    if (Array.isArray(out[0])) {
      const pairs = [];
      for (let i = 0; i < out[0].length; i += 2) pairs.push([out[0][i], out[0][i + 1]]);
      pairs.sort((x, y) => (x[0] < y[0] ? -1 : 1));
      out[0] = pairs;
    }
    if (typeof out[2] === 'number' && out[2] > 0) out[2] = 'ttl>0';
    return out;
  }
  return r;
}

// moveJobFromActiveToWait replies with the limiter's TTL, which ticks between the two calls.
function normIntReply(name, r) {
  if (name === 'moveJobFromActiveToWait' && typeof r === 'number' && r > 0) return 'ttl>0';
  return r;
}

const trace = [];
// Run one script on both servers and compare everything.
async function step(name, keys, args) {
  const call = (c, s) => c.call('EVALSHA', s, keys.length, ...keys, ...args).then(
    (v) => ({ v }), (e) => ({ err: e.message.replace(/f_[0-9a-f]+/g, 'f_') }),
  );
  const ra = await call(ca, sha.A[name]);
  const rb = await call(cb, sha.B[name]);
  trace.push(name);
  assert.equal(ra.err, undefined, `upstream ${name} raised: ${ra.err}`);
  assert.equal(rb.err, undefined, `our ${name} raised: ${rb.err}`);
  assert.deepEqual(normReply(name, rb.v), normReply(name, ra.v), `${name} reply differs`);
  const [sa, sb] = await Promise.all([dumpState(ca), dumpState(cb)]);
  const raw = diffStates(sa, sb);
  assert.deepEqual(raw, [], `${name}: state differs:\n  ${raw.join('\n  ')}`);
  assert.deepEqual(diffStates(maskState(sa), maskState(sb)), []);
  return ra.v;
}

const wopts = (o = {}) => ({ token: 'tok', lockDuration: 30000, ...o });

function moveToActive(now, o = {}, q = Q) {
  const keys = ['wait', 'active', 'prioritized', 'events', 'stalled', 'limiter', 'delayed', 'paused',
    'meta', 'pc', 'marker'].map((s) => k(s, q));
  return step('moveToActive', keys, [P(q), now, pack(wopts(o))]);
}

function moveToFinished(id, now, o = {}, q = Q) {
  const target = o.target || 'completed';
  const keys = ['wait', 'active', 'prioritized', 'events', 'stalled', 'limiter', 'delayed', 'paused',
    'meta', 'pc', target, id, `metrics:${target}`, 'marker'].map((s) => k(s, q));
  const opts = {
    token: o.token === undefined ? 'tok' : o.token,
    name: o.name,
    keepJobs: o.keepJobs || { count: -1 },
    limiter: o.limiter,
    lockDuration: 30000,
    attempts: o.attempts === undefined ? 0 : o.attempts,
    maxMetricsSize: o.maxMetricsSize === undefined ? '' : o.maxMetricsSize,
    fpof: false, cpof: false, idof: false, rdof: false,
  };
  const prop = target === 'completed' ? 'returnvalue' : 'failedReason';
  const value = o.value === undefined ? (target === 'completed' ? '{"ok":1}' : 'boom') : o.value;
  return step('moveToFinished', keys, [id, now, prop, value, target, o.fetchNext ? 1 : 0, P(q),
    pack(opts), o.fields ? pack(o.fields) : '']);
}

// msgpack as libbullc writes it (fixmap/fixstr, keys in the order given): moveToFinishedBatch
// reuses the unpacked options of the jobs before when only the token differs, which this lets
// the tests reach (msgpackr writes map16).
function cpack(x) {
  const out = [];
  const str = (v) => {
    const b = Buffer.from(v);
    if (b.length < 32) out.push(Buffer.from([0xa0 | b.length]));
    else if (b.length < 256) out.push(Buffer.from([0xd9, b.length]));
    else out.push(Buffer.from([0xda, b.length >> 8, b.length & 0xff]));
    out.push(b);
  };
  const enc = (v) => {
    if (typeof v === 'string') str(v);
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') out.push(pack(v));
    else if (Array.isArray(v)) {
      out.push(Buffer.from(v.length < 16 ? [0x90 | v.length] : [0xdc, v.length >> 8, v.length & 0xff]));
      v.forEach(enc);
    } else {
      const ks = Object.keys(v).filter((key) => v[key] !== undefined);
      out.push(Buffer.from(ks.length < 16 ? [0x80 | ks.length] : [0xde, ks.length >> 8, ks.length & 0xff]));
      for (const key of ks) { str(key); enc(v[key]); }
    }
  };
  enc(x);
  return Buffer.concat(out);
}

const isErr = (r) => r instanceof Error;
function normBatchReply(r) {
  if (isErr(r)) return 'error';
  return normReply('moveToFinished', r);
}

// Our moveToFinishedBatch on B against, on A, upstream's moveToFinished run once per job, in
// order, then upstream's moveToActive once per token until one takes no job: each reply (an
// error only as an error) and the whole database must be the same.
//   entries: [id, now, o] (o as moveToFinished's, plus o.token)
//   opts: tokens (the extra fetches), now (theirs), wo (their options: name, limiter),
//         cenc (options written as libbullc writes them), raises (the call
//         itself raises, in an extra fetch)
async function moveToFinishedBatch(entries, { tokens = [], now = T0, wo = {}, cenc = false, raises = false } = {}) {
  const enc = cenc ? cpack : pack;
  const shared = ['wait', 'active', 'prioritized', 'events', 'stalled', 'limiter', 'delayed', 'paused',
    'meta', 'pc', 'marker'].map((s) => k(s));
  const keys = [...shared];
  const fetchOpts = (key, val) => {
    const m = { [key]: val };
    if (wo.limiter) m.limiter = wo.limiter;
    m.lockDuration = 30000;
    if (wo.name) m.name = wo.name;
    return m;
  };
  const args = [P(), now, tokens.length ? enc(fetchOpts('tokens', tokens)) : ''];
  const upstream = [];
  for (const [id, at, o] of entries) {
    const target = o.target || 'completed';
    let opts;
    if (cenc) {
      opts = { token: o.token === undefined ? 'tok' : o.token };
      if (o.limiter) opts.limiter = o.limiter;
      if (o.name) opts.name = o.name;
      Object.assign(opts, { keepJobs: o.keepJobs || { count: -1 }, lockDuration: 30000,
        attempts: o.attempts === undefined ? 0 : o.attempts,
        maxMetricsSize: o.maxMetricsSize === undefined ? '' : o.maxMetricsSize });
    } else {
      opts = {
        token: o.token === undefined ? 'tok' : o.token, name: o.name, keepJobs: o.keepJobs || { count: -1 },
        limiter: o.limiter, lockDuration: 30000, attempts: o.attempts === undefined ? 0 : o.attempts,
        maxMetricsSize: o.maxMetricsSize === undefined ? '' : o.maxMetricsSize,
        fpof: false, cpof: false, idof: false, rdof: false,
      };
    }
    const prop = target === 'completed' ? 'returnvalue' : 'failedReason';
    const value = o.value === undefined ? (target === 'completed' ? '{"ok":1}' : 'boom') : o.value;
    const fields = o.rawFields !== undefined ? o.rawFields : o.fields ? pack(o.fields) : '';
    const a = [id, at, prop, value, target, o.fetchNext ? 1 : 0, enc(opts), fields];
    keys.push(k(target), k(id), k(`metrics:${target}`));
    args.push(...a);
    upstream.push({ keys: [...shared.slice(0, 10), k(target), k(id), k(`metrics:${target}`), k('marker')],
      args: [a[0], a[1], a[2], a[3], a[4], a[5], P(), a[6], a[7]] });
  }
  const call = (c, s, ks, as) => c.call('EVALSHA', s, ks.length, ...ks, ...as).then((v) => v, (e) => e);
  const ra = [];
  for (const u of upstream) ra.push(await call(ca, sha.A.moveToFinished, u.keys, u.args));
  let raisedA = false;
  for (const token of tokens) {
    const r = await call(ca, sha.A.moveToActive, shared, [P(), now, enc(fetchOpts('token', token))]);
    if (isErr(r)) { raisedA = true; break; }
    ra.push(r);
    if (!Array.isArray(r[0])) break;
  }
  const rb = await call(cb, sha.B.moveToFinishedBatch, keys, args);
  trace.push('moveToFinishedBatch');
  if (raises) {
    assert.ok(raisedA && isErr(rb), `both raise in an extra fetch: ${rb}`);
  } else {
    assert.ok(!raisedA && Array.isArray(rb), `no whole-call error: ${rb}`);
    assert.deepEqual(rb.map(normBatchReply), ra.map(normBatchReply), 'batch replies differ');
  }
  const [sa, sb] = await Promise.all([dumpState(ca), dumpState(cb)]);
  const raw = diffStates(sa, sb);
  assert.deepEqual(raw, [], `moveToFinishedBatch: state differs:\n  ${raw.join('\n  ')}`);
  assert.deepEqual(diffStates(maskState(sa), maskState(sb)), []);
  return rb;
}

function retryJob(id, now, o = {}) {
  const keys = ['active', 'wait', 'paused', id, 'meta', 'events', 'delayed', 'prioritized', 'pc',
    'marker', 'stalled'].map((s) => k(s));
  return step('retryJob', keys, [P(), now, o.lifo ? 'RPUSH' : 'LPUSH', id,
    o.token === undefined ? 'tok' : o.token, o.fields ? pack(o.fields) : '']);
}

function moveToDelayed(id, now, delay, o = {}) {
  const keys = ['marker', 'active', 'prioritized', 'delayed', id, 'events', 'meta', 'stalled', 'wait',
    'limiter', 'pc'].map((s) => k(s));
  return step('moveToDelayed', keys, [P(), now, id, o.token === undefined ? 'tok' : o.token, delay,
    o.skipAttempt ? '1' : '0', o.fields ? pack(o.fields) : '', o.fetchNext ? '1' : '0',
    o.fetchNext ? pack(wopts(o.wopts)) : '']);
}

function moveStalled(now, maxStalled = 1) {
  const keys = ['stalled', 'wait', 'active', 'stalled-check', 'meta', 'paused', 'marker', 'events',
    'repeat'].map((s) => k(s));
  return step('moveStalledJobsToWait', keys, [maxStalled, P(), now, 30000]);
}

function moveToWaitingChildren(id, now, token, childKey = '') {
  const keys = ['active', 'waiting-children', id, `${id}:dependencies`, `${id}:unsuccessful`, 'stalled',
    'events'].map((s) => k(s));
  return step('moveToWaitingChildren', keys, [token, childKey, now, id, P()]);
}

async function both(fn) { await Promise.all([fn(ca), fn(cb)]); }

const failFields = (msg) => ['failedReason', msg, 'stacktrace', JSON.stringify([`Error: ${msg}\n    at x`])];

// ---------------------------------------------------------------- scenarios

test('plain jobs: fetch, complete with fetch-next, removeOnComplete true/number, drained', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('a', { n: 1 });
    await q.add('b', { n: 2 }, { removeOnComplete: true });
    await q.add('c', { n: 3 }, { removeOnComplete: 1 });
    await q.add('d', { n: 4 }, { removeOnComplete: 1 });
  });
  await cloneAtoB();
  const r = await moveToActive(T0 + 10, { name: 'w1' });
  assert.equal(r[1], '1');
  let next = await moveToFinished('1', T0 + 20, { fetchNext: true, name: 'w1' });
  assert.equal(next[1], '2');
  next = await moveToFinished('2', T0 + 30, { fetchNext: true, keepJobs: { count: 0 } });
  assert.equal(next[1], '3');
  next = await moveToFinished('3', T0 + 40, { fetchNext: true, keepJobs: { count: 1 } });
  assert.equal(next[1], '4');
  next = await moveToFinished('4', T0 + 50, { fetchNext: true, keepJobs: { count: 1 } });
  assert.equal(next, 0);
  assert.equal(await cb.exists(k('3')), 0, 'job 3 trimmed by count');
  assert.deepEqual(await moveToActive(T0 + 60), [0, 0, 0, 0]);
});

test('a batch of finishes equals one moveToFinished per job: fetch-next, failures, removal, a lock error, promotion, drained', async () => {
  await fresh();
  await withQueue(async (q) => {
    for (let i = 1; i <= 6; i++) await q.add('j', { i }, i === 3 ? { removeOnComplete: true } : {});
    await q.add('late', { d: 1 }, { delay: 50 });
    await q.add('p', { p: 1 }, { priority: 3 });
  });
  await cloneAtoB();
  for (let i = 0; i < 4; i++) await moveToActive(T0 + 10);
  // 1 completes and fetches 5; 2 fails for good with fields; 3 is removed at once; 4 has the
  // wrong token; the delayed job is due by the time of the last entries
  let r = await moveToFinishedBatch([
    ['1', T0 + 20, { fetchNext: true, name: 'w1', maxMetricsSize: 10 }],
    ['2', T0 + 21, { target: 'failed', fields: failFields('bad'), attempts: 1, fetchNext: true }],
    ['3', T0 + 5000, { keepJobs: { count: 0 }, fetchNext: true }],
    ['4', T0 + 5001, { token: 'other', fetchNext: true }],
  ]);
  assert.equal(r[0][1], '5');
  assert.equal(r[3], -6);
  // finish everything that is active (the lock-mismatched 4 stays); the queue drains
  const active = (await cb.lrange(k('active'), 0, -1)).filter((id) => id !== '4');
  r = await moveToFinishedBatch(active.map((id, i) => [id, T0 + 6000 + i, { fetchNext: true, keepJobs: { count: 2 } }]));
  r = await moveToFinishedBatch((await cb.lrange(k('active'), 0, -1)).filter((id) => id !== '4')
    .map((id, i) => [id, T0 + 7000 + i, { fetchNext: true }]));
  assert.ok(r.every((x) => x === 0 || Array.isArray(x)));
});

// One job whose finish raises (its `parent` field is not JSON) must not undo or hide the others
// in the same batch: the jobs before it are finished for good, so a whole-call error would make
// their threads resend them alone (lock gone: "lock lost") and orphan the jobs fetched for them.
test('a batch where one finish raises: that job gets the error, the others are finished', async () => {
  await fresh();
  await withQueue(async (q) => { for (let i = 1; i <= 4; i++) await q.add('j', { i }); });
  await cloneAtoB();
  for (let i = 0; i < 3; i++) await moveToActive(T0 + 10);
  await cb.hset(k('2'), 'parentKey', 'bull:other:9', 'parent', '{not json');
  const shared = ['wait', 'active', 'prioritized', 'events', 'stalled', 'limiter', 'delayed', 'paused',
    'meta', 'pc', 'marker'].map((s) => k(s));
  const keys = [...shared];
  const args = [P(), T0, ''];
  const opts = pack({ token: 'tok', keepJobs: { count: -1 }, lockDuration: 30000, attempts: 0, maxMetricsSize: '' });
  for (const id of ['1', '2', '3']) {
    keys.push(k('completed'), k(id), k('metrics:completed'));
    args.push(id, T0 + 20, 'returnvalue', '{"ok":1}', 'completed', id === '1' ? 1 : 0, opts, '');
  }
  const r = await cb.call('EVALSHA', sha.B.moveToFinishedBatch, keys.length, ...keys, ...args);
  assert.ok(Array.isArray(r) && r.length === 3, `one element per job: ${JSON.stringify(r)}`);
  assert.equal(r[0][1], '4', 'job 1 fetched job 4');
  assert.ok(r[1] instanceof Error, `job 2's element is its error: ${r[1]}`);
  assert.equal(r[2], 0);
  assert.deepEqual((await cb.zrange(k('completed'), 0, -1)).sort(), ['1', '3']);
  assert.deepEqual(await cb.hmget(k('3'), 'returnvalue', 'atm'), ['{"ok":1}', '1']);
  assert.deepEqual((await cb.lrange(k('active'), 0, -1)).sort(), ['4']);
});

// Tokens of the jobs moveToActive locked, by id (what a worker keeps).
async function activeTokens() {
  const ids = await cb.lrange(k('active'), 0, -1);
  const out = {};
  for (const id of ids) out[id] = await cb.get(k(`${id}:lock`)).catch(() => null);
  return out;
}

test('batch vs upstream: completed and failed mixed, fetch-next on and off, metrics, extra fetches, options as libbullc writes them', async () => {
  await fresh();
  await withQueue(async (q) => {
    for (let i = 1; i <= 40; i++) await q.add('j', { i }, i % 5 === 0 ? { attempts: 3 } : {});
  });
  await cloneAtoB();
  // tokens as libbullc makes them (uuid:n, so written as str8)
  const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
  for (let i = 1; i <= 8; i++) await moveToActive(T0 + i, { token: `${uuid}:${i}`, name: 'w' });
  await moveStalled(T0 + 9); // the active jobs are in `stalled` now: finishes take them out
  assert.equal(await cb.scard(k('stalled')), 8);
  await both((c) => c.del(k('marker'))); // the batch's fetches write it again
  // 2 completes and fetches, 3 fails for good (fields, retries-exhausted), 5 fails with attempts
  // left (as a final failure here: no retries-exhausted), 1 and 4 without fetch-next, metrics on
  // some; then three idle workers
  let tok = await activeTokens();
  let r = await moveToFinishedBatch([
    ['2', T0 + 60, { token: tok['2'], fetchNext: true, name: 'w', maxMetricsSize: 10 }],
    ['3', T0 + 60, { token: tok['3'], target: 'failed', attempts: 1, fields: failFields('bad'), fetchNext: true, name: 'w' }],
    ['1', T0 + 61, { token: tok['1'], name: 'w', maxMetricsSize: 10 }],
    ['5', T0 + 61, { token: tok['5'], target: 'failed', attempts: 3, fields: failFields('soft'), fetchNext: true, name: 'w' }],
    ['4', T0 + 62, { token: tok['4'], fetchNext: false, name: 'w', maxMetricsSize: 10 }],
  ], { tokens: [`${uuid}:9`, `${uuid}:10`, `${uuid}:11`], now: T0 + 63, wo: { name: 'w' }, cenc: true });
  assert.equal(r.length, 8);
  assert.ok(r.slice(5).every((x) => Array.isArray(x[0])), 'the idle workers got jobs');
  // everything active finishes in one batch (more than a few jobs), fetching until wait runs dry,
  // with more idle workers than jobs left
  for (let round = 0; round < 3; round++) {
    await both((c) => c.del(k('marker')));
    tok = await activeTokens();
    const ids = Object.keys(tok);
    r = await moveToFinishedBatch(ids.map((id, i) => [id, T0 + 100 + round * 60000 + i, {
      token: tok[id], fetchNext: i % 3 !== 2, target: i % 4 === 3 ? 'failed' : 'completed', attempts: 1,
      maxMetricsSize: 10,
    }]), { tokens: round === 0 ? ['y1', 'y2'] : ['y1', 'y2', 'y3', 'y4', 'y5', 'y6', 'y7', 'y8', 'y9', 'y10',
      'y11', 'y12', 'y13', 'y14', 'y15', 'y16', 'y17', 'y18'], now: T0 + 200 + round * 60000, cenc: true });
    if (!(await cb.llen(k('wait')))) break;
  }
  assert.equal(await cb.llen(k('wait')), 0);
  tok = await activeTokens();
  assert.ok(Object.keys(tok).length > 0);
  r = await moveToFinishedBatch(Object.keys(tok).map((id, i) => [id, T0 + 300000 + i, { token: tok[id], fetchNext: true }]),
    { tokens: ['z1'], now: T0 + 300010, cenc: true });
  assert.equal(await cb.llen(k('active')), 0);
  assert.equal(r[r.length - 2], 0, 'the last finish drained the queue');
});

test('batch vs upstream: missing job, lost and foreign locks, not active, the same job twice, a job both finished and fetched', async () => {
  await fresh();
  await withQueue(async (q) => { for (let i = 1; i <= 14; i++) await q.add('j', { i }); });
  await cloneAtoB();
  for (let i = 1; i <= 7; i++) await moveToActive(T0 + i, { token: `t${i}` });
  await both((c) => c.del(k('2'))); // job 2's hash is gone (its lock stays): -1
  await both((c) => c.del(k('3:lock'))); // -2
  // the same job twice (its lock is gone the second time), no job of the batch is in wait
  const tok = await activeTokens();
  const r1 = await moveToFinishedBatch([
    ['1', T0 + 20, { token: tok['1'], fetchNext: true }],
    ['2', T0 + 20, { token: tok['2'], fetchNext: true }],
    ['3', T0 + 20, { token: 't3', fetchNext: true }],
    ['4', T0 + 20, { token: 'not-mine', fetchNext: true }],
    ['5', T0 + 21, { token: tok['5'], fetchNext: true }],
    ['5', T0 + 22, { token: tok['5'], fetchNext: true }],
  ], { tokens: ['e1'], now: T0 + 23, cenc: true });
  assert.deepEqual(r1.slice(1, 4), [-1, -2, -6]);
  assert.equal(r1[5], -2, 'the same job again: its lock is gone');
  // a waiting job with token "0" gets its fields, then -3 (nothing fetched in that call)
  assert.ok((await cb.lrange(k('wait'), 0, -1)).includes('14'));
  const r2 = await moveToFinishedBatch([['14', T0 + 30, { token: '0', fields: ['x', 'y'] }]], { cenc: true });
  assert.deepEqual(r2, [-3]);
  assert.equal(await cb.hget(k('14'), 'x'), 'y');
  // job 6 is also put at the pop end of wait: job 7's fetch-next takes it (and locks it with its
  // token) while 6 is finished later in the same batch
  await both((c) => c.rpush(k('wait'), '6'));
  const tok2 = await activeTokens();
  const r3 = await moveToFinishedBatch([
    ['7', T0 + 40, { token: tok2['7'], fetchNext: true }],
    ['6', T0 + 41, { token: tok2['6'], fetchNext: true }],
  ], { tokens: ['e2', 'e3'], now: T0 + 44, cenc: true });
  assert.equal(r3[0][1], '6');
  assert.equal(r3[1], -6, "job 6's lock is job 7's token now");
  // and the same with few jobs (ids compared one by one): twice, then taken again
  const tok3 = await activeTokens();
  const live = [];
  for (const id of Object.keys(tok3)) if (tok3[id] && await cb.exists(k(id))) live.push(id);
  const ids = live.slice(0, 3);
  assert.equal(ids.length, 3);
  await moveToFinishedBatch([[ids[0], T0 + 50, { token: tok3[ids[0]], fetchNext: true }],
    [ids[0], T0 + 50, { token: tok3[ids[0]], fetchNext: true }],
    [ids[1], T0 + 51, { token: 'wrong', target: 'failed', attempts: 1 }]], { cenc: true });
  await both((c) => c.rpush(k('wait'), ids[2]));
  const tok4 = await activeTokens();
  const others = [];
  for (const id of Object.keys(tok4)) if (id !== ids[2] && tok4[id] && await cb.exists(k(id))) others.push(id);
  await moveToFinishedBatch([[others[0], T0 + 60, { token: tok4[others[0]], fetchNext: true }],
    [ids[2], T0 + 61, { token: tok4[ids[2]], fetchNext: true }]], { cenc: true });
});

test('batch vs upstream: parents with pending and failed children, children finishing, deduplication, trims by count and age, removal at once', async () => {
  await fresh();
  await withQueue(async (q, fp) => {
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P1' }, children: [
      { name: 'k', queueName: Q, opts: { jobId: 'P1-a' } },
      { name: 'k', queueName: Q, opts: { jobId: 'P1-b', failParentOnFailure: true } },
    ] });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P2' }, children: [
      { name: 'k', queueName: Q, opts: { jobId: 'P2-a' } },
    ] });
    for (let i = 1; i <= 4; i++) await q.add('d', { i }, { deduplication: { id: `dd${i % 2}` } });
    for (let i = 1; i <= 10; i++) {
      await q.add('t', { i }, { removeOnComplete: i <= 5 ? { count: 2 } : { age: 1, limit: 3 }, removeOnFail: true });
    }
  }, { flow: true });
  // P1 and P2 are made active with their children pending (-4), P3 with a failed child (-9)
  await both(async (c) => {
    await c.zrem(k('waiting-children'), 'P1', 'P2');
    await c.rpush(k('wait'), 'P1', 'P2');
  });
  await cloneAtoB();
  for (let i = 0; i < 20; i++) await moveToActive(T0 + i, { token: 'f' });
  const act = await cb.lrange(k('active'), 0, -1);
  assert.ok(act.includes('P1') && act.includes('P1-a'));
  const entry = (id, i, o = {}) => [id, T0 + 100 + i, { token: 'f', fetchNext: true, ...o }];
  const r = await moveToFinishedBatch([
    entry('P1', 0),
    entry('P2', 1),
    entry('P1-a', 2),
    entry('P1-b', 3, { target: 'failed', attempts: 1 }), // fails its parent
    entry('P1', 4), // now -9
    entry('P2-a', 5, { value: '"child"' }), // its parent is active: nothing to release
    entry('1', 6), entry('2', 7, { target: 'failed', attempts: 1 }), entry('3', 8), // dedup
    ...act.filter((id) => /^\d+$/.test(id) && Number(id) > 4).map((id, i) => entry(id, 9 + i * 700, {
      keepJobs: Number(id) <= 9 ? { count: 2 } : { age: 1, limit: 3 }, target: i % 5 === 4 ? 'failed' : 'completed',
      attempts: 1, ...(i % 5 === 4 ? { keepJobs: { count: 0 } } : {}),
    })),
  ], { tokens: ['g1', 'g2'], now: T0 + 20000, cenc: true });
  assert.deepEqual([r[0], r[1], r[4]], [-4, -4, -9]);
  assert.ok(await cb.zcard(k('completed')) <= 4, 'trimmed');
});

test('batch vs upstream: legacy 0: ids, prioritized and delayed jobs, paused, global concurrency, rate limits', async () => {
  await fresh();
  await withQueue(async (q) => {
    for (let i = 1; i <= 6; i++) await q.add('j', { i });
    await q.add('p', {}, { priority: 2, jobId: 'pr1' });
    await q.add('p', {}, { priority: 1, jobId: 'pr2' });
    await q.add('d', {}, { delay: 1000, timestamp: T0, jobId: 'dl1' });
  });
  await cloneAtoB();
  for (let i = 0; i < 3; i++) await moveToActive(T0 + i, { token: 'f' });
  // a legacy id at the pop end of wait: it ends the fetch-next of the first job; "0:0" means
  // prioritized for the next one; an extra fetch (moveToActive) drops one and pops again
  await both((c) => c.rpush(k('wait'), '0:7', '0:0'));
  let act = await cb.lrange(k('active'), 0, -1);
  await moveToFinishedBatch([
    [act[2], T0 + 10, { token: 'f', fetchNext: true }],
    [act[1], T0 + 11, { token: 'f', fetchNext: true }],
  ], { tokens: ['l1', 'l2'], now: T0 + 12, cenc: true });
  await both((c) => c.rpush(k('wait'), '0:8'));
  act = await cb.lrange(k('active'), 0, -1);
  await moveToFinishedBatch([[act[act.length - 1], T0 + 13, { token: await cb.get(k(`${act[act.length - 1]}:lock`)), fetchNext: false }]],
    { tokens: ['l3', 'l4'], now: T0 + 14, cenc: true });
  // the delayed job becomes due during the batch (promotion), wait empties, prioritized next
  act = await cb.lrange(k('active'), 0, -1);
  let tok = await activeTokens();
  await moveToFinishedBatch(act.map((id, i) => [id, T0 + 500 + i * 400, { token: tok[id], fetchNext: true }]),
    { tokens: ['m1', 'm2', 'm3', 'm4'], now: T0 + 5000, cenc: true });
  // paused: nothing is handed out
  await withQueue(async (q) => { for (let i = 0; i < 4; i++) await q.add('k', { i }); });
  await cloneAtoB();
  act = await cb.lrange(k('active'), 0, -1);
  await both((c) => c.hset(k('meta'), 'paused', '1'));
  tok = await activeTokens();
  await moveToFinishedBatch(act.slice(0, 1).map((id, i) => [id, T0 + 6000 + i, { token: tok[id], fetchNext: true }]),
    { tokens: ['n1'], now: T0 + 6010, cenc: true });
  await both((c) => c.hdel(k('meta'), 'paused'));
  // global concurrency 2
  await both((c) => c.hset(k('meta'), 'concurrency', '2'));
  await moveToFinishedBatch([], { tokens: ['c1', 'c2', 'c3'], now: T0 + 6020, cenc: true });
  act = await cb.lrange(k('active'), 0, -1);
  tok = await activeTokens();
  await moveToFinishedBatch(act.map((id, i) => [id, T0 + 6030 + i, { token: tok[id], fetchNext: true }]),
    { tokens: ['c4'], now: T0 + 6040, cenc: true });
  await both((c) => c.hdel(k('meta'), 'concurrency'));
  // the worker's rate limit, then the queue's
  await withQueue(async (q) => { for (let i = 0; i < 6; i++) await q.add('r', { i }); });
  await cloneAtoB();
  act = await cb.lrange(k('active'), 0, -1);
  tok = await activeTokens();
  const limiter = { max: 3, duration: 5000 };
  await moveToFinishedBatch(act.map((id, i) => [id, T0 + 7000 + i, { token: tok[id], fetchNext: true, limiter }]),
    { tokens: ['r1', 'r2', 'r3'], now: T0 + 7010, wo: { limiter }, cenc: true });
  await both((c) => c.del(k('limiter')));
  await both((c) => c.hset(k('meta'), 'max', '2', 'duration', '3000'));
  act = await cb.lrange(k('active'), 0, -1);
  tok = await activeTokens();
  await moveToFinishedBatch(act.map((id, i) => [id, T0 + 8000 + i, { token: tok[id], fetchNext: true }]),
    { tokens: ['r4', 'r5'], now: T0 + 8010, cenc: true });
});

test('batch vs upstream: jobs whose finish raises, and an extra fetch that raises', async () => {
  await fresh();
  await withQueue(async (q) => { for (let i = 1; i <= 14; i++) await q.add('j', { i }); });
  await cloneAtoB();
  for (let i = 0; i < 5; i++) await moveToActive(T0 + i, { token: 'f' });
  // job 2's lock is not a string (raises before anything is written), job 4's fields are not
  // msgpack (raises after its lock was released)
  await both(async (c) => { await c.del(k('2:lock')); await c.hset(k('2:lock'), 'x', '1'); });
  await moveToFinishedBatch([['1', T0 + 10, { token: 'f', fetchNext: true }],
    ['2', T0 + 11, { token: 'f', fetchNext: true }],
    ['3', T0 + 12, { token: 'f', fetchNext: true }],
    ['4', T0 + 12, { token: 'f', fetchNext: true, target: 'failed', rawFields: Buffer.from([0x93, 0xa1]) }],
    ['5', T0 + 12, { token: 'f', fetchNext: true }]], { tokens: ['a1'], now: T0 + 13, cenc: true });
  // the next job in wait has a hash of the wrong type: the fetch raises after its lock and event
  const next = (await cb.lrange(k('wait'), -1, -1))[0];
  assert.ok(next);
  await both(async (c) => { await c.del(k(next)); await c.set(k(next), 'not a hash'); });
  const act = await cb.lrange(k('active'), 0, -1);
  const tok = await activeTokens();
  await moveToFinishedBatch(act.slice(0, 2).map((id, i) => [id, T0 + 20 + i, { token: tok[id] }]),
    { tokens: ['b1', 'b2'], now: T0 + 30, cenc: true, raises: true });
});

test('removeOnComplete/removeOnFail by age with limit, and by count', async () => {
  await fresh();
  await withQueue(async (q) => {
    for (let i = 0; i < 8; i++) await q.add('j', { i }, { removeOnComplete: { age: 1, count: 3, limit: 2 } });
  });
  await cloneAtoB();
  for (let i = 1; i <= 8; i++) {
    await moveToActive(T0 + i * 1000);
    await moveToFinished(String(i), T0 + i * 1000 + (i > 4 ? 5000 : 0), { keepJobs: { age: 1, count: 3, limit: 2 } });
  }
  const left = await cb.zrange(k('completed'), 0, -1);
  assert.ok(left.length <= 3);

  await fresh();
  await withQueue(async (q) => { for (let i = 0; i < 6; i++) await q.add('j', { i }); });
  await cloneAtoB();
  for (let i = 1; i <= 5; i++) {
    await moveToActive(T0 + i);
    await moveToFinished(String(i), T0 + i, { keepJobs: { count: -1 } });
  }
  await moveToActive(T0 + 10);
  await moveToFinished('6', T0 + 100000, { keepJobs: { age: 1, limit: 2 } });
  assert.equal(await cb.zcard(k('completed')), 4, 'only `limit` old jobs removed');
});

test('delayed same-ms bucket is capped at 4095', async () => {
  await fresh();
  await withQueue(async (q) => { await q.add('a', {}); await q.add('b', {}); });
  await cloneAtoB();
  await moveToActive(T0 + 1);
  await moveToActive(T0 + 1);
  await both((c) => c.zadd(k('delayed'), (T0 + 1001) * 4096 + 4095, 'filler'));
  await moveToDelayed('1', T0 + 1, 1000);
  await moveToDelayed('2', T0 + 1, 1000);
  assert.equal(await cb.zscore(k('delayed'), '2'), String((T0 + 1001) * 4096 + 4095));
});

test('failures: retryJob (lifo/fifo), moveToDelayed with fetch-next, final fail with retries-exhausted', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('r', { x: 1 }, { attempts: 3 });
    await q.add('s', { x: 2 }, { attempts: 2, removeOnFail: true });
    await q.add('t', { x: 3 }, { attempts: 1, removeOnFail: { count: 5 } });
    await q.add('p', { x: 4 }, { priority: 3 });
  });
  await cloneAtoB();
  await moveToActive(T0 + 1);
  await retryJob('1', T0 + 2, { fields: failFields('e1'), lifo: true });
  await moveToActive(T0 + 3);
  await retryJob('1', T0 + 4, { fields: failFields('e2') });
  await moveToActive(T0 + 5); // job 2
  const d = await moveToDelayed('2', T0 + 6, 5000, { fields: failFields('d1'), fetchNext: true });
  assert.equal(d[1], '3');
  await moveToDelayed('3', T0 + 6, 5000, { fields: failFields('d2') }); // same ms: seq + 1
  await moveToActive(T0 + 7); // job 1 again
  await moveToFinished('1', T0 + 8, { target: 'failed', attempts: 3, fields: failFields('final') });
  // delayed 2 and 3 become due; promoted on the next fetch
  await moveToActive(T0 + 6000);
  await moveToFinished('2', T0 + 6001, { target: 'failed', attempts: 2, keepJobs: { count: 0 }, fetchNext: true,
    fields: failFields('x') });
  await moveToFinished('3', T0 + 6002, { target: 'failed', attempts: 1, keepJobs: { count: 5 }, fetchNext: true,
    fields: failFields('y') });
  await moveToFinished('4', T0 + 6003, { fetchNext: true });
  // skipAttempt, no fetch, errors
  await withQueue(async (q) => { await q.add('u', {}); });
  await cloneAtoB();
  await moveToActive(T0 + 7000);
  await moveToDelayed('5', T0 + 7001, 100, { skipAttempt: true });
  assert.equal(await moveToDelayed('5', T0 + 7001, 100), -2); // lock already released
  assert.equal(await moveToDelayed('5', T0 + 7001, 100, { token: '0' }), -3);
  assert.equal(await moveToDelayed('nope', T0 + 7001, 100), -1);
  assert.equal(await retryJob('5', T0 + 7002, { token: '0' }), -3);
});

test('delayed promotion, same-ms sequence, prioritized order and pc reset', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('d1', {}, { delay: 1000, timestamp: T0 });
    await q.add('d2', {}, { delay: 1000, timestamp: T0 });
    await q.add('d3', {}, { delay: 1000, timestamp: T0, priority: 2 });
    await q.add('p1', {}, { priority: 5 });
    await q.add('p2', {}, { priority: 1 });
    await q.add('w', {});
    await q.add('late', {}, { delay: 60000, timestamp: T0 });
  });
  await ca.set(k('pc'), 4294967295); // the counter wraps in the score
  await cloneAtoB();
  const ids = [];
  for (let i = 0; i < 7; i++) {
    const r = await moveToActive(T0 + 2000 + i, { token: `t${i}` });
    ids.push(r[1]);
  }
  assert.equal(ids[6], 0);
  assert.ok(ids.slice(0, 6).every((x) => typeof x === 'string'));
});

test('paused queue: promotion without marker, nothing handed out, retry/stalled without marker', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('a', {});
    await q.add('b', {});
    await q.add('d', {}, { delay: 10, timestamp: T0 });
  });
  await cloneAtoB();
  await moveToActive(T0 + 1);
  await moveToActive(T0 + 2);
  await withQueue(async (q) => { await q.pause(); });
  await cloneAtoB();
  assert.deepEqual(await moveToActive(T0 + 100), [0, 0, 0, 0]);
  await retryJob('1', T0 + 101, { fields: failFields('p') });
  await both((c) => c.del(k('2:lock')));
  await moveStalled(T0 + 102);
  await both((c) => c.del(k('stalled-check')));
  await moveStalled(T0 + 103);
  // job 2 was re-queued by the stalled check: not active any more
  assert.equal(await moveToFinished('2', T0 + 104, { fetchNext: true, token: '0' }), -3);
});

test('global concurrency and rate limits (worker limiter, meta.max/duration, defa not counted)', async () => {
  await fresh();
  await withQueue(async (q) => {
    for (let i = 0; i < 5; i++) await q.add('j', { i });
    await q.setGlobalConcurrency(2);
  });
  await cloneAtoB();
  await moveToActive(T0 + 1, { token: 'a' });
  await moveToActive(T0 + 2, { token: 'b' });
  assert.deepEqual(await moveToActive(T0 + 3, { token: 'c' }), [0, 0, 0, 0]);
  await moveToFinished('1', T0 + 4, { token: 'a', fetchNext: true, limiter: { max: 2, duration: 5000 } });
  // worker limiter: job 3 was counted above (counter 1); one more allowed
  await moveToFinished('2', T0 + 5, { token: 'b', fetchNext: true, limiter: { max: 2, duration: 5000 } });
  const limited = await moveToFinished('3', T0 + 6, { token: 'a', fetchNext: true, limiter: { max: 2, duration: 5000 } });
  assert.ok(Array.isArray(limited) && limited[2] > 0, 'rate limited on fetch-next');

  await fresh();
  await withQueue(async (q) => {
    for (let i = 0; i < 4; i++) await q.add('j', { i });
    await q.setGlobalRateLimit(2, 4000);
  });
  await ca.hset(k('2'), 'defa', 'job stalled more than allowable limit');
  await cloneAtoB();
  await moveToActive(T0 + 1, { token: 'a', limiter: { max: 10 } }); // meta.max wins, meta.duration used
  await moveToActive(T0 + 2, { token: 'b' }); // defa job: not counted
  await moveToActive(T0 + 3, { token: 'c', limiter: { max: 10, duration: 9000 } }); // worker duration
  const r = await moveToActive(T0 + 4, { token: 'd' });
  assert.ok(r[2] > 0, 'rate limited');
  // delayed jobs are promoted (and signalled) even while rate limited
  await withQueue(async (q) => { await q.add('dl', {}, { delay: 5, timestamp: T0 }); });
  await both((c) => c.del(k('marker')));
  await cloneAtoB();
  const r2 = await moveToActive(T0 + 100, { token: 'd' });
  assert.ok(r2[2] > 0, 'still rate limited');
  assert.equal(await cb.zscore(k('marker'), '0'), '0');
});

test('stalled jobs: stc, defa after maxStalledCount, scheduler jobs exempt, legacy ids', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('a', {});
    await q.add('b', {});
  });
  await ca.lpush(k('active'), '0:123');
  await cloneAtoB();
  await moveToActive(T0 + 1, { token: 'x' });
  await moveToActive(T0 + 2, { token: 'y' });
  await moveStalled(T0 + 3); // marks suspects
  await both((c) => c.del(k('1:lock'), k('stalled-check')));
  await moveStalled(T0 + 4);
  for (let round = 0; round < 2; round++) {
    await moveToActive(T0 + 60010 + round, { token: 'x' });
    await moveToActive(T0 + 60020 + round, { token: 'x' });
    await both((c) => c.del(k('stalled-check')));
    await moveStalled(T0 + 60030 + round);
    await both(async (c) => {
      const act = await c.lrange(k('active'), 0, -1);
      await c.del(k('stalled-check'), ...act.map((id) => k(`${id}:lock`)));
    });
    await moveStalled(T0 + 60040 + round, 1);
  }
  assert.equal(await moveToActive(T0 + 60100).then((r) => Array.isArray(r)), true);
  // legacy marker ids in wait
  await both((c) => c.rpush(k('wait'), '0:55'));
  await moveToActive(T0 + 60200, { token: 'L' });
  // a legacy id at the head of wait during fetch-next
  const act = await cb.lrange(k('active'), 0, -1);
  const tokOf = async (id) => cb.get(k(`${id}:lock`));
  await withQueue(async (q) => { await q.add('lg', {}, { jobId: 'lg' }); });
  await cloneAtoB();
  await both((c) => c.rpush(k('wait'), '0:56'));
  const fin = await moveToFinished(act[0], T0 + 60300, { token: await tokOf(act[0]), fetchNext: true });
  assert.equal(fin, 0, 'upstream ends the fetch-next at a legacy id');
  assert.deepEqual(await cb.lrange(k('wait'), 0, -1), ['lg']);
  await both((c) => c.rpush(k('wait'), '0:0'));
  await both((c) => c.zadd(k('prioritized'), 8589934593, 'pz'));
  const fin2 = await moveToFinished(act[1], T0 + 60301, { token: await tokOf(act[1]), fetchNext: true });
  assert.equal(fin2[1], 'pz');
});

// Stalled-set members that are not integers come back from SMEMBERS in a
// per-server random order, so the scheduler job is stalled on its own.
test('stalled scheduler job is never failed (no defa)', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.upsertJobScheduler('sch', { every: 1000 }, { name: 'rep', data: { r: 1 } });
  });
  await cloneAtoB();
  const r = await moveToActive(T0 + 60000, { token: 'z' });
  assert.ok(String(r[1]).startsWith('repeat:sch:'));
  for (let round = 0; round < 3; round++) {
    await both((c) => c.del(k('stalled-check')));
    await moveStalled(T0 + 60001 + round);
    await both((c) => c.del(k('stalled-check'), k(`${r[1]}:lock`)));
    const rec = await moveStalled(T0 + 60010 + round);
    assert.deepEqual(rec, [r[1]]);
    await moveToActive(T0 + 60020 + round, { token: 'z' });
  }
  assert.equal(await cb.hget(k(r[1]), 'defa'), null);
  assert.equal(await cb.hget(k(r[1]), 'stc'), '3');
});

test('lock renewal: extendLocks, good/bad/missing tokens', async () => {
  await fresh();
  await withQueue(async (q) => { await q.add('a', {}); await q.add('b', {}); await q.add('c', {}); });
  await cloneAtoB();
  await moveToActive(T0 + 1, { token: 't1' });
  await moveToActive(T0 + 2, { token: 't2' });
  await moveStalled(T0 + 3);
  const failed = await step('extendLocks', [k('stalled')],
    [P(), pack(['t1', 'bad', 't3']), pack(['1', '2', '3']), 45000]);
  assert.deepEqual(failed, ['2', '3']);
  assert.deepEqual(await step('extendLocks', [k('stalled')],
    [P(), pack(['t2', 'zz']), pack(['2', '9']), 50000]), ['9']);
  // finishing with a bad / missing lock
  assert.equal(await moveToFinished('1', T0 + 4, { token: 'nope' }), -6);
  await both((c) => c.del(k('1:lock')));
  assert.equal(await moveToFinished('1', T0 + 5, { token: 't1' }), -2);
  assert.equal(await moveToFinished('3', T0 + 6, { token: '0' }), -3);
  assert.equal(await moveToFinished('77', T0 + 7), -1);
  assert.equal(await retryJob('2', T0 + 8, { token: 'nope' }), -6);
});

test('flows: child results, failure flags fpof/cpof/idof/rdof/none, delayed and prioritized parents', async () => {
  await fresh();
  const kids = (tag, opts) => [
    { name: 'k', queueName: Q, data: { tag }, opts: { jobId: `${tag}-c1`, ...opts } },
    { name: 'k', queueName: Q, data: { tag }, opts: { jobId: `${tag}-c2` } },
  ];
  await withQueue(async (q, fp) => {
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-none' }, children: kids('none', {}) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-fpof' }, children: kids('fpof', { failParentOnFailure: true }) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-cpof' }, children: kids('cpof', { continueParentOnFailure: true }) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-idof' }, children: kids('idof', { ignoreDependencyOnFailure: true }) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-rdof' }, children: kids('rdof', { removeDependencyOnFailure: true }) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-delay', delay: 3000 }, children: kids('dl', {}) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-prio', priority: 4 }, children: kids('pr', {}) });
    await fp.add({ name: 'parent', queueName: 'other', opts: { jobId: 'P-x' }, children: kids('x', { removeOnComplete: true }) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-rm' }, children: kids('rm', {}) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-fd' }, children: kids('fd', { failParentOnFailure: true }) });
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-gone' }, children: kids('gone', { failParentOnFailure: true }) });
  }, { flow: true });
  // P-fd sits in delayed, P-gone's hash has vanished when their fpof child fails
  await ca.zrem(k('waiting-children'), 'P-fd');
  await ca.zadd(k('delayed'), (T0 + 999999) * 4096, 'P-fd');
  await ca.hset(k('P-fd'), 'delay', 5);
  await ca.del(k('P-gone'));
  await cloneAtoB();
  const wait = await cb.lrange(k('wait'), 0, -1);
  assert.equal(wait.length, 22);
  const byTag = {};
  for (let i = 0; i < 22; i++) {
    const r = await moveToActive(T0 + 10 + i, { token: 'f' });
    byTag[r[1]] = true;
  }
  let t = T0 + 100;
  // failures of c1 with each policy
  for (const tag of ['none', 'fpof', 'cpof', 'idof', 'rdof', 'fd', 'gone']) {
    await moveToFinished(`${tag}-c1`, t++, { target: 'failed', token: 'f', attempts: 1, fields: failFields(`${tag} failed`) });
  }
  // completion of all c2 (and both children of the delayed/prio/cross-queue parents)
  for (const tag of ['none', 'fpof', 'cpof', 'idof', 'rdof', 'dl', 'pr', 'x']) {
    await moveToFinished(`${tag}-c2`, t++, { token: 'f', value: `"${tag}"`, fetchNext: tag === 'x' });
  }
  await moveToFinished('dl-c1', t++, { token: 'f', value: '1' });
  await moveToFinished('pr-c1', t++, { token: 'f', value: '2' });
  await moveToFinished('x-c1', t++, { token: 'f', value: '3', keepJobs: { count: 0 } });
  // a failed child (no flag) deleted at once: unlinks and releases its parent
  await moveToFinished('rm-c1', t++, { token: 'f', target: 'failed', attempts: 1, keepJobs: { count: 0 } });
  await moveToFinished('rm-c2', t++, { token: 'f', target: 'failed', attempts: 1, keepJobs: { count: 0 } });
  // parents: P-fpof carries defa; completing one with pending deps fails
  const pq = await cb.lrange(k('wait'), 0, -1);
  assert.deepEqual(pq, ['P-fpof', 'P-cpof', 'P-fd', 'P-idof', 'P-rm']); // P-rdof was taken by a fetch-next
  assert.equal(await cb.exists(k('P-gone')), 0);
  assert.equal(await cb.hget(k('P-fd'), 'delay'), '0');
  assert.equal(await cb.hget(k('P-fpof'), 'defa'), `child ${k('fpof-c1')} failed`);
  assert.deepEqual(await cb.zrange(k('delayed'), 0, -1), ['P-delay']);
  assert.deepEqual(await cb.zrange(k('prioritized'), 0, -1), ['P-prio']);
  assert.deepEqual(await cb.lrange(k('wait', 'other'), 0, -1), ['P-x']);
  for (let i = 0; i < 8; i++) await moveToActive(t++, { token: 'g' });
  assert.equal(await moveToFinished('P-none', t++, { token: '0' }), -4);
  assert.equal(await moveToFinished('P-fpof', t++, { token: 'g' }), -9);
  await moveToFinished('P-fpof', t++, { token: 'g', target: 'failed', attempts: 0, value: 'child failed' });
  // trimming an old failed child that still is a dependency releases its parent
  await fresh();
  await withQueue(async (q, fp) => {
    await fp.add({ name: 'parent', queueName: Q, opts: { jobId: 'P-t' }, children: [{ name: 'k', queueName: Q, opts: { jobId: 'c-old' } }] });
    await q.add('z', {}, { jobId: 'solo' });
  }, { flow: true });
  await cloneAtoB();
  await moveToActive(T0 + 1, { token: 'f' });
  await moveToActive(T0 + 2, { token: 'f' });
  await moveToFinished('c-old', T0 + 3, { token: 'f', target: 'failed', attempts: 1 });
  await moveToFinished('solo', T0 + 4, { token: 'f', target: 'failed', attempts: 1, keepJobs: { count: 1 } });
  assert.ok((await cb.lrange(k('wait'), 0, -1)).includes('P-t'));
});

test('moveToWaitingChildren: moved, nothing to wait for, failed children, lock and state errors', async () => {
  await fresh();
  const parent = (id) => ({ parent: { id, queue: `bull:${Q}` } });
  await withQueue(async (q) => {
    await q.add('p', {}, { jobId: 'W' });
    await q.add('k', { n: 1 }, { jobId: 'W-c1', ...parent('W') });
    await q.add('k', { n: 2 }, { jobId: 'W-c2', ...parent('W') });
    await q.add('p', {}, { jobId: 'W2' });
    await q.add('p', {}, { jobId: 'W3' });
    await q.add('k', {}, { jobId: 'W3-c', ...parent('W3'), failParentOnFailure: true });
  });
  await cloneAtoB();
  for (let i = 0; i < 6; i++) await moveToActive(T0 + i, { token: 'f' });
  let t = T0 + 10;
  await moveToFinished('W3-c', t++, { target: 'failed', token: 'f', attempts: 1, fields: failFields('c failed') });
  assert.equal(await moveToWaitingChildren('W', t++, 'f', k('not-a-child')), 1);
  assert.equal(await moveToWaitingChildren('W2', t++, 'f'), 1);
  assert.equal(await moveToWaitingChildren('W3', t++, 'f'), -9);
  assert.equal(await moveToWaitingChildren('W', t++, 'other-token'), -6);
  assert.equal(await moveToWaitingChildren('missing', t++, 'f'), -1);
  assert.equal(await moveToWaitingChildren('W', t++, 'f', k('W-c1')), 0);
  assert.deepEqual(await cb.zrange(k('waiting-children'), 0, -1), ['W']);
  assert.equal(await moveToWaitingChildren('W', t++, 'f'), -2); // its lock went with the move
  assert.equal(await moveToWaitingChildren('W', t++, '0'), -3);
  // the children finishing release it to the front of wait
  await moveToFinished('W-c1', t++, { token: 'f', value: '"one"' });
  await moveToFinished('W-c2', t++, { token: 'f', value: '2' });
  assert.equal((await cb.lrange(k('wait'), 0, -1)).pop(), 'W');
});

test('dedup key release and metrics', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('a', {}, { deduplication: { id: 'd1' } });
    await q.add('b', {}, { deduplication: { id: 'd2', ttl: 60000 } });
    await q.add('c', {}, { deduplication: { id: 'd3' } });
  });
  await both((c) => c.set(k('de:d3'), 'someone-else'));
  await cloneAtoB();
  const minute = 60000;
  const base = Math.floor(T0 / minute) * minute;
  for (let i = 1; i <= 3; i++) await moveToActive(base + i);
  await moveToFinished('1', base + 10, { maxMetricsSize: 5 });
  await moveToFinished('2', base + minute * 3 + 10, { maxMetricsSize: 5 });
  await moveToFinished('3', base + minute * 9 + 10, { maxMetricsSize: 5, target: 'failed', attempts: 1 });
  assert.equal(await cb.exists(k('de:d1')), 0);
  assert.equal(await cb.exists(k('de:d2')), 1);
  assert.equal(await cb.get(k('de:d3')), 'someone-else');
  for (let i = 0; i < 3; i++) await withQueue(async (q) => { await q.add('m', {}); });
  await cloneAtoB();
  for (let i = 4; i <= 6; i++) {
    await moveToActive(base + minute * 10 + i);
    await moveToFinished(String(i), base + minute * (10 + i * 4), { maxMetricsSize: 5 });
  }
});

test('events stream is trimmed to meta opts.maxLenEvents', async () => {
  await fresh();
  await withQueue(async (q) => {
    for (let i = 0; i < 150; i++) await q.add('j', { i });
  });
  await both((c) => c.hset(k('meta'), 'opts.maxLenEvents', 20));
  await cloneAtoB();
  for (let i = 1; i <= 4; i++) {
    await moveToActive(T0 + i);
    await moveToFinished(String(i), T0 + i, {});
  }
  await both((c) => c.hdel(k('meta'), 'opts.maxLenEvents'));
  await moveToActive(T0 + 10);
  await moveToFinished('5', T0 + 11, { fetchNext: true });
  assert.ok(trace.length > 0);
});

test('keepLastIfActive dedup: the parked dn: job is created when the owner finishes', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('a', { v: 1 }, { deduplication: { id: 'k1', keepLastIfActive: true } });
    await q.add('b', { v: 1 }, { deduplication: { id: 'k2', keepLastIfActive: true, ttl: 50000 } });
  });
  await cloneAtoB();
  await moveToActive(T0 + 1);
  await moveToActive(T0 + 2);
  await withQueue(async (q) => {
    await q.add('a', { v: 2 }, { deduplication: { id: 'k1', keepLastIfActive: true } });
    await q.add('a', { v: 3 }, { deduplication: { id: 'k1', keepLastIfActive: true }, priority: 2 });
    await q.add('b', { v: 2 }, { deduplication: { id: 'k2', keepLastIfActive: true, ttl: 50000 }, delay: 500 });
  });
  await cloneAtoB();
  assert.equal(await cb.exists(k('dn:k1')), 1);
  await moveToFinished('1', T0 + 10);
  await moveToFinished('2', T0 + 11, { target: 'failed', attempts: 1, fetchNext: true });
  assert.equal(await cb.exists(k('dn:k1')), 0);
  assert.equal(await cb.llen(k('active')), 1, 'the re-created prioritized k1 job was fetched next');
  assert.equal(await cb.zcard(k('delayed')), 1, 'the re-created k2 job is delayed');
  assert.equal(await cb.exists(k('dn:k2')), 0);
});

test('handler calls: updateProgress, addLog with keepLogs, updateData, moveJobFromActiveToWait', async () => {
  await fresh();
  await withQueue(async (q) => {
    await q.add('a', { x: 1 }, { keepLogs: 2 });
    await q.add('b', { x: 2 }, { priority: 4 });
    await q.add('c', { x: 3 });
    await q.add('d', { x: 4 });
  });
  await cloneAtoB();
  const jk = (id) => k(id);
  const progress = (id, json) => step('updateProgress', [jk(id), k('events'), k('meta')], [id, json]);
  const addLog = (id, line, keep) => step('addLog', [jk(id), `${jk(id)}:logs`], [id, line, keep]);
  const toWait = (id, token = 'tok') => step('moveJobFromActiveToWait',
    ['active', 'wait', 'stalled', 'paused', 'meta', 'limiter', 'prioritized', 'marker', 'events'].map((s) => k(s)),
    [id, token, jk(id)]);
  await moveToActive(T0 + 1); // job 1
  assert.equal(await progress('1', '42'), 0);
  assert.equal(await progress('1', '{"step":2,"of":[1,"x"]}'), 0);
  assert.equal(await progress('nope', '1'), -1);
  assert.equal(await addLog('1', 'first', '2'), 1);
  assert.equal(await addLog('1', 'second', '2'), 2);
  assert.equal(await addLog('1', 'third', '2'), 2);
  assert.equal(await addLog('1', 'no trim', ''), 3);
  assert.equal(await addLog('nope', 'x', ''), -1);
  assert.equal(await step('updateData', [jk('1')], ['{"y":[1,2]}']), 0);
  assert.equal(await step('updateData', [jk('nope')], ['{}']), -1);
  // back to the front of wait, no limiter
  assert.equal(await toWait('1'), 0);
  assert.equal(await toWait('1'), -2); // lock gone
  await moveToActive(T0 + 2); // job 1 again (front of wait)
  assert.equal(await toWait('1', 'other'), -6);
  await both((c) => c.set(k('limiter'), '9007199254740991', 'PX', 60000));
  assert.ok((await toWait('1')) > 0, 'rate limited: the TTL comes back');
  await both((c) => c.del(k('limiter')));
  await moveToActive(T0 + 3); // job 1
  await moveToActive(T0 + 4); // job 3
  await moveToActive(T0 + 5); // job 4
  await moveToActive(T0 + 6); // job 2 (prioritized)
  assert.equal(await toWait('2'), 0); // ahead of its priority, no marker
  // paused queue: back to wait without a marker
  await both((c) => c.hset(k('meta'), 'paused', '1'));
  await both((c) => c.del(k('marker')));
  assert.equal(await toWait('3'), 0);
  await both((c) => c.hdel(k('meta'), 'paused'));
  // global concurrency reached: no marker either
  await both((c) => c.hset(k('meta'), 'concurrency', '1'));
  await both((c) => c.del(k('marker')));
  assert.equal(await toWait('4'), 0);
  assert.equal(await toWait('nope'), -1);
});
