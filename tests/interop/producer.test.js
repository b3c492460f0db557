'use strict';
// PRODUCER: jobs added by the C producer (bullc_queue_add / _add_bulk, driven
// through build/bin/bullc_enqueue) must be indistinguishable in Redis from the
// same jobs added by Node's Queue.add / addBulk. Every scenario runs on two
// fresh redis-servers: Node on A, bullc_enqueue on B; the replies (job ids)
// and the whole databases (masked: timestamps, delayed due times, stream ids)
// must be identical. Then: C-produced jobs run on a Node Worker, the readers
// (state, counts, fields) agree with Node's, and bad options add nothing.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const IORedis = require('ioredis');
const { Queue, Worker, FlowProducer } = require('bullmq');
const H = require('./lib/harness');
const I = require('./lib/interop');
const { dumpState, maskState, diffStates } = require('./lib/state');

const ENQUEUE = path.join(H.BIN, 'bullc_enqueue');

let A; let B; let ca; let cb;

before(async () => {
  fs.accessSync(ENQUEUE, fs.constants.X_OK);
  [A, B] = await Promise.all([H.startRedis(), H.startRedis()]);
  ca = new IORedis(A.connection);
  cb = new IORedis(B.connection);
});

after(async () => {
  if (ca) ca.disconnect();
  if (cb) cb.disconnect();
  await Promise.all([A && A.cleanup(), B && B.cleanup()]);
});

// A Node Queue that writes nothing on its own (no meta.version), so both sides
// start from an empty database.
async function withNodeQueue(redis, name, fn, prefix = undefined) {
  const q = new Queue(name, { connection: redis.connection, skipMetasUpdate: true, prefix });
  q.on('error', () => {});
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

async function sameState(what) {
  const [sa, sb] = await Promise.all([dumpState(ca), dumpState(cb)]);
  const diffs = diffStates(maskState(sa), maskState(sb));
  assert.deepEqual(diffs, [], `${what}: Redis differs between Node (A) and C (B):\n${diffs.join('\n')}`);
  return sa;
}

// Each step: [name, data, opts, {pause?}] added in order on both sides.
// setup(client) prepares both databases the same way first.
async function differential(label, steps, { queue = 'pq', pause = false, setup, prefix } = {}) {
  await Promise.all([ca.flushall(), cb.flushall()]);
  if (pause) {
    await withNodeQueue(A, queue, (q) => q.pause());
    await withNodeQueue(B, queue, (q) => q.pause());
  }
  if (setup) await Promise.all([setup(ca), setup(cb)]);
  const idsA = await withNodeQueue(A, queue, async (q) => {
    const ids = [];
    for (const [name, data, opts] of steps) ids.push((await q.add(name, data, opts)).id);
    return ids;
  }, prefix);
  const idsB = [];
  for (const [name, data, opts] of steps) {
    const args = [...(prefix ? ['--prefix', prefix] : []), name, JSON.stringify(data)];
    if (opts !== undefined) args.push(JSON.stringify(opts));
    const r = await I.enqueue(B, queue, args);
    assert.equal(r.code, 0, `${label}: bullc_enqueue failed: ${r.stderr}`);
    idsB.push(r.stdout.trim());
  }
  assert.deepEqual(idsB, idsA, `${label}: job ids`);
  return sameState(label);
}

const DAY = 24 * 3600 * 1000;

const CASES = [
  ['no options', [['plain', { a: 1, s: 'x/y "q" \u00fc' }]]],
  ['no opts argument, string data', [['s', 'hello', undefined], ['n', 42, undefined]]],
  ['jobId', [['j', { v: 1 }, { jobId: 'custom-1' }]]],
  ['jobId that exists (duplicated)', [
    ['j', { v: 1 }, { jobId: 'dup-1' }], ['j', { v: 2 }, { jobId: 'dup-1', priority: 3 }],
  ]],
  ['jobId with two colons, numeric-looking ids Node allows', [
    ['j', {}, { jobId: 'a:b:c' }], ['j', {}, { jobId: '007' }], ['j', {}, { jobId: '1e3' }],
    ['j', {}, { jobId: '12345678901234567891' }], ['j', {}, { jobId: '' }],
  ]],
  ['delay', [['d', { x: 1 }, { delay: DAY }]]],
  ['delay with priority', [['d', {}, { priority: 7, delay: DAY }]]],
  ['zero and negative delay', [['d0', {}, { delay: 0 }], ['dn', {}, { delay: -5 }]]],
  ['priority', [
    ['p', { n: 1 }, { priority: 5 }], ['p', { n: 2 }, { priority: 1 }], ['p', { n: 3 }, { priority: 5 }],
    ['p', { n: 4 }, { priority: 0 }], ['p', {}, { priority: 2097151 }],
  ]],
  ['lifo', [['a', {}, {}], ['b', {}, { lifo: true }], ['c', {}, { lifo: false }]]],
  ['attempts + numeric backoff', [['r', {}, { attempts: 3, backoff: 1000 }]]],
  ['backoff object', [
    ['r', {}, { attempts: 2, backoff: { type: 'exponential', delay: 500, jitter: 0.5 } }],
    ['r', {}, { backoff: { delay: 10, type: 'custom' } }], ['r', {}, { backoff: 0 }],
  ]],
  ['removeOnComplete / removeOnFail', [
    ['k', {}, { removeOnComplete: true, removeOnFail: false }],
    ['k', {}, { removeOnComplete: 10, removeOnFail: 0 }],
    ['k', {}, { removeOnComplete: { age: 3600, count: 10 }, removeOnFail: { age: 1.5, limit: 5 } }],
  ]],
  ['keepLogs, stackTraceLimit, sizeLimit', [
    ['l', {}, { keepLogs: 10 }], ['l', {}, { stackTraceLimit: 3, sizeLimit: 1000 }],
  ]],
  ['timestamp', [['t', {}, { timestamp: 1700000000123 }], ['t', {}, { timestamp: 1700000000123, delay: 5 }]]],
  ['every option, unusual order', [
    ['all', { deep: { a: [1, 2, { b: null }] } }, {
      stackTraceLimit: 2, priority: 3, removeOnFail: { count: 2 }, keepLogs: 4, jobId: 'all-1',
      backoff: 250, lifo: true, attempts: 5, deduplication: { id: 'z' }, removeOnComplete: 1,
      delay: 0, timestamp: 1700000000000.5, sizeLimit: 4096,
    }],
  ]],
  ['numbers as Lua keeps them', [
    ['n', {}, { delay: 0.25, attempts: 0, backoff: 1e15, keepLogs: 4294967296 }],
    ['n', {}, { backoff: { type: 'fixed', delay: 123456789.123456789 } }],
  ]],
  ['dedup simple', [
    ['d', { v: 1 }, { deduplication: { id: 'd1' } }], ['d', { v: 2 }, { deduplication: { id: 'd1' } }],
  ]],
  ['dedup ttl', [
    ['d', { v: 1 }, { deduplication: { id: 'd2', ttl: 60000 } }],
    ['d', { v: 2 }, { deduplication: { id: 'd2', ttl: 60000 } }],
  ]],
  ['dedup ttl extend', [
    ['d', { v: 1 }, { deduplication: { id: 'd3', ttl: 60000, extend: true } }],
    ['d', { v: 2 }, { deduplication: { id: 'd3', ttl: 60000, extend: true } }],
  ]],
  ['dedup replace of a delayed owner', [
    ['d', { v: 1 }, { delay: DAY, deduplication: { id: 'd4', ttl: 60000, replace: true } }],
    ['d', { v: 2 }, { delay: DAY, deduplication: { id: 'd4', ttl: 60000, replace: true } }],
    ['d', { v: 3 }, { delay: DAY, deduplication: { id: 'd4', replace: true, extend: true, ttl: 5000 } }],
  ]],
  ['dedup replace of a waiting owner', [
    ['d', { v: 1 }, { deduplication: { id: 'd5', replace: true } }],
    ['d', { v: 2 }, { deduplication: { id: 'd5', replace: true } }],
  ]],
  ['dedup ttl 0 and custom id', [
    ['d', {}, { jobId: 'dd-1', deduplication: { ttl: 0, id: 'd6' } }],
    ['d', {}, { jobId: 'dd-2', deduplication: { id: 'd6' } }],
  ]],
];

for (const [label, steps] of CASES) {
  test(`add is identical to Node: ${label}`, async () => {
    await differential(label, steps);
  });
}

test('add is identical to Node: paused queue (no marker, jobs in wait)', async () => {
  // meta.version names a 6.x queue: without it, an empty paused queue gets the 5.x rule
  // (docs/bullmq.md §9.2; v5.test.js compares that case with bullmq 5.x)
  const s = await differential('paused', [
    ['a', {}, {}], ['p', {}, { priority: 2 }], ['d', {}, { delay: DAY }],
  ], { pause: true, setup: (c) => c.hset('bull:pq:meta', 'version', 'bullmq:6.7.0') });
  assert.deepEqual(s['bull:pq:wait'].value, ['1']);
  assert.equal(s['bull:pq:marker'].value.length, 1, 'only the delayed marker');
});

test('add is identical to Node: queue at its global concurrency (no marker)', async () => {
  const s = await differential('maxed', [['a', {}, {}], ['p', {}, { priority: 1 }]], {
    setup: (c) => c.multi().hset('bull:pq:meta', 'concurrency', '1').lpush('bull:pq:active', 'x').exec(),
  });
  assert.equal(s['bull:pq:marker'], undefined);
});

test('add is identical to Node: custom prefix with a hash tag', async () => {
  const s = await differential('prefix', [['a', {}, { delay: DAY }], ['b', {}, { jobId: 'k', deduplication: { id: 'x' } }]],
    { prefix: '{tag}' });
  assert.ok(s['{tag}:pq:de:x'] && s['{tag}:pq:k'] && s['{tag}:pq:delayed']);
});

test('dedup: a stale window (owner gone) is taken over, as Node does', async () => {
  const steps = [['d', { v: 1 }, { deduplication: { id: 'st' } }]];
  await differential('stale-1', steps);
  for (const c of [ca, cb]) await c.del('bull:pq:1'); // the owner vanished, the window stayed
  const idA = await withNodeQueue(A, 'pq', async (q) => (await q.add('d', { v: 2 }, { deduplication: { id: 'st' } })).id);
  const r = await I.enqueue(B, 'pq', ['d', '{"v":2}', '{"deduplication":{"id":"st"}}']);
  assert.equal(r.stdout.trim(), idA);
  await sameState('stale takeover');
});

test('addBulk: one pipelined call equals Node addBulk', async () => {
  await Promise.all([ca.flushall(), cb.flushall()]);
  const jobs = [];
  for (let i = 0; i < 30; i++) {
    const opts = [{}, { priority: (i % 4) + 1 }, { delay: DAY + i }, { lifo: true }, { jobId: `b-${i}` },
      { deduplication: { id: `g${i % 3}` } }, { attempts: 2, backoff: { type: 'fixed', delay: 9 } }][i % 7];
    jobs.push({ name: `bulk-${i}`, data: { i, s: `v${i}` }, opts });
  }
  const idsA = await withNodeQueue(A, 'bq', async (q) => (await q.addBulk(jobs)).map((j) => j.id));
  const input = jobs.map((j) => JSON.stringify(j)).join('\n');
  const r = await I.enqueue(B, 'bq', ['--bulk', '-'], { input });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), idsA);
  await sameState('addBulk');
  // a bad job anywhere in the batch: nothing at all is added
  await cb.flushall();
  const bad = `${input}\n${JSON.stringify({ name: 'x', data: {}, opts: { priority: 1.5 } })}`;
  const rb = await I.enqueue(B, 'bq', ['--bulk', '-'], { input: bad });
  assert.equal(rb.code, 2);
  assert.match(rb.stderr, /job 30: Priority should not be float/);
  assert.equal(await cb.dbsize(), 0);
});

test('bulk after SCRIPT FLUSH reloads the script and adds every job once', async () => {
  await cb.flushall();
  await cb.script('FLUSH');
  const input = [0, 1, 2].map((i) => JSON.stringify({ name: 'n', data: { i } })).join('\n');
  const r = await I.enqueue(B, 'sf', ['--bulk', '-'], { input });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['1', '2', '3']);
  assert.deepEqual(await cb.lrange('bull:sf:wait', 0, -1), ['3', '2', '1']);
});

test('C-produced jobs run on a Node Worker with the expected name, data and opts', async () => {
  await cb.flushall();
  const adds = [
    ['plain', { a: 1 }, undefined],
    ['prio', { b: [1, 2] }, { priority: 3, attempts: 2, backoff: 5 }],
    ['later', 'str', { delay: 300, removeOnComplete: { count: 5 }, keepLogs: 2 }],
    ['custom', null, { jobId: 'c-1', deduplication: { id: 'dd' } }],
  ];
  const ids = [];
  for (const [name, data, opts] of adds) {
    const args = [name, JSON.stringify(data)];
    if (opts) args.push(JSON.stringify(opts));
    const r = await I.enqueue(B, 'wq', args);
    assert.equal(r.code, 0, r.stderr);
    ids.push(r.stdout.trim());
  }
  const seen = new Map();
  const worker = new Worker('wq', async (job) => {
    seen.set(job.id, { name: job.name, data: job.data, opts: job.opts });
    return { got: job.data };
  }, { connection: B.connection });
  worker.on('error', () => {});
  const queue = new Queue('wq', { connection: B.connection });
  try {
    await H.waitFor(async () => (await queue.getJobCounts('completed')).completed === 4,
      { timeout: 20000, what: '4 completed jobs' });
    for (let i = 0; i < adds.length; i++) {
      const [name, data, opts] = adds[i];
      const s = seen.get(ids[i]);
      assert.equal(s.name, name);
      assert.deepEqual(s.data, data);
      const expected = { attempts: 0, ...(opts || {}) };
      if (typeof expected.backoff === 'number') expected.backoff = { type: 'fixed', delay: expected.backoff };
      assert.deepEqual(JSON.parse(JSON.stringify(s.opts)), expected);
      const job = await queue.getJob(ids[i]);
      assert.deepEqual(job.returnvalue, { got: data });
    }
  } finally {
    await worker.close();
    await queue.close();
  }
});

test('state, counts and fields agree with Node in every state', async () => {
  await cb.flushall();
  const queue = new Queue('sq', { connection: B.connection });
  const flow = new FlowProducer({ connection: B.connection });
  let release;
  const hold = new Promise((r) => { release = r; });
  const worker = new Worker('sq', async (job) => {
    if (job.name === 'hold') await hold;
    if (job.name === 'fail') throw new Error('boom');
    return 'ok';
  }, { connection: B.connection, autorun: false });
  worker.on('error', () => {});
  try {
    const add = async (name, opts) => {
      const r = await I.enqueue(B, 'sq', [name, '{}', JSON.stringify(opts || {})]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const done = await add('done');
    const failed = await add('fail');
    const held = await add('hold');
    worker.run();
    await H.waitFor(async () => (await queue.getJobCounts('active')).active === 1
      && (await queue.getJobCounts('completed')).completed === 1
      && (await queue.getJobCounts('failed')).failed === 1, { timeout: 20000, what: 'settled' });
    worker.pause(true); // the held job stays active, no new job is taken
    const waiting = await add('w', {});
    const prio = await add('p', { priority: 4 });
    const delayed = await add('d', { delay: DAY });
    const tree = await flow.add({ name: 'parent', queueName: 'sq', children: [{ name: 'kid', queueName: 'other' }] });
    const ids = [done, failed, held, waiting, prio, delayed, tree.job.id, 'nope'];
    const expect = ['completed', 'failed', 'active', 'waiting', 'prioritized', 'delayed', 'waiting-children', 'unknown'];
    for (let i = 0; i < ids.length; i++) {
      const r = await I.enqueue(B, 'sq', ['--state', ids[i]]);
      assert.equal(r.code, 0, r.stderr);
      const nodeState = ids[i] === 'nope' ? 'unknown' : await (await queue.getJob(ids[i])).getState();
      assert.equal(nodeState, expect[i]);
      assert.equal(r.stdout.trim(), nodeState, `state of ${ids[i]}`);
    }
    const rc = await I.enqueue(B, 'sq', ['--counts']);
    assert.equal(rc.code, 0, rc.stderr);
    const counts = JSON.parse(rc.stdout);
    const nodeCounts = await queue.getJobCounts();
    for (const k of Object.keys(nodeCounts)) assert.equal(counts[k], nodeCounts[k], `count ${k}`);
    assert.deepEqual(Object.keys(nodeCounts).sort(), Object.keys(counts).filter((k) => k !== 'paused').sort());
    // fields, raw from the hash
    for (const [id, field] of [[done, 'returnvalue'], [failed, 'failedReason'], [failed, 'atm'],
      [held, 'ats'], [delayed, 'delay'], [prio, 'priority'], [waiting, 'opts'], [waiting, 'data']]) {
      const r = await I.enqueue(B, 'sq', ['--field', id, field]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${await cb.hget(`bull:sq:${id}`, field)}\n`, `${field} of ${id}`);
    }
    const absent = await I.enqueue(B, 'sq', ['--field', waiting, 'returnvalue']);
    assert.deepEqual([absent.code, absent.stdout], [0, '']);
    const nojob = await I.enqueue(B, 'sq', ['--field', 'nope', 'data']);
    assert.equal(nojob.code, 1);
    assert.match(nojob.stderr, /job nope does not exist/);
  } finally {
    release();
    await worker.close();
    await flow.close();
    await queue.close();
  }
});

// [opts, message the C side gives, whether Node's Queue.add throws for it too
//  (true: with the same message; a RegExp: with its own message)]
const BAD = [
  [{ priority: 1.5 }, /Priority should not be float/, true],
  [{ priority: 2097152 }, /Priority should be between 0 and 2097151/, true],
  [{ priority: -1 }, /Priority should be between 0 and 2097151/, false],
  [{ jobId: '123' }, /Custom Id cannot be integers/, true],
  [{ jobId: '-5' }, /Custom Id cannot be integers/, true],
  [{ jobId: '0' }, /JobId cannot be '0' or start with '0:'/, true],
  [{ jobId: '0:x' }, /JobId cannot be '0' or start with '0:'/, true],
  [{ jobId: 'a:b' }, /Custom Id cannot contain :/, true],
  [{ jobId: 12 }, /jobId must be a string/, /startsWith is not a function/],
  [{ deduplication: { ttl: 5 } }, /Deduplication id must be provided/, true],
  [{ deduplication: { id: 'x', keepLastIfActive: true } }, /keepLastIfActive is not supported/, false],
  [{ backoff: { type: 'fixed', delay: 5, jitter: 2 } }, /Jitter should be between 0 and 1/, true],
  [{ debounce: { id: 'x' } }, /Debounce option has been removed/, true],
  [{ sizeLimit: 3 }, /The size of job bad exceeds the limit 3 bytes/, true],
  [{ delay: '5' }, /delay must be a finite number/, false],
  [{ lifo: 1 }, /lifo must be true or false/, false],
  [{ attempts: 1.5 }, /attempts must be an integer/, false],
  [{ removeOnComplete: 'yes' }, /removeOnComplete must be/, false],
  [{ removeOnFail: { age: 5, keep: 1 } }, /removeOnFail has no member 'keep'/, false],
  [{ backoff: { delay: 5 } }, /backoff.type must be a string/, false],
  [{ parent: { id: '1', queue: 'bull:x' } }, /unknown or unsupported option 'parent'/, false],
  [{ repeat: { every: 1000 } }, /unknown or unsupported option 'repeat'/, false],
  [{ nosuch: 1 }, /unknown or unsupported option 'nosuch'/, false],
  [{ delay: null }, /delay must be a finite number/, false],
];

test('bad options: exit 2, a clear message, nothing added (and Node refuses the same)', async () => {
  await Promise.all([ca.flushall(), cb.flushall()]);
  await withNodeQueue(A, 'xq', async (q) => {
    for (const [opts, msg, nodeThrows] of BAD) {
      const r = await I.enqueue(B, 'xq', ['bad', '{"payload":"0123456789"}', JSON.stringify(opts)]);
      assert.equal(r.code, 2, `${JSON.stringify(opts)}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stderr, msg, JSON.stringify(opts));
      if (nodeThrows) {
        const nodeMsg = nodeThrows === true ? msg : nodeThrows;
        await assert.rejects(q.add('bad', { payload: '0123456789' }, opts), nodeMsg, `Node: ${JSON.stringify(opts)}`);
      }
    }
  });
  for (const args of [['x', '{bad json'], ['x', '{}', '[1]'], ['x', '{}', '{"a":1,"a":2}'], ['x', '{}', '{"delay":1e999}']]) {
    const r = await I.enqueue(B, 'xq', args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
  }
  assert.equal(await cb.dbsize(), 0, 'the C side wrote nothing');
  assert.equal(await ca.dbsize(), 0, 'the Node side wrote nothing either');
  const unreachable = await I.enqueue({ url: `redis://127.0.0.1:${await H.freePort()}` }, 'xq', ['x']);
  assert.equal(unreachable.code, 1);
});
