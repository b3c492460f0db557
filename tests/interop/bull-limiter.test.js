'use strict';
// Legacy Bull 4's limiter options beyond {max, duration} (docs/bull.md §4.11):
// - groupKey: a Node Bull Queue with it forms job ids "<id>:<group value>" and
//   the worker counts the limit per group (the text after the id's last ':').
//   Differential: the same jobs worked by Node Bull's worker and by
//   echo_worker --protocol bull --limiter-group-key end in the same Redis state
//   and events, and neither starts more than max jobs of a group per window.
// - bounceBack: a job over the limit goes back to wait instead of delayed.
//   Node's Bull drops such a job (it leaves active for nowhere); libbullc keeps
//   it, so only the C side is checked here: every job runs, none passes
//   through delayed, the rate holds.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const Bull = require('bull');
const I = require('./lib/interop');
const { dumpQueue, maskWorkerState, diffStates, MASK } = require('./lib/diff');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const WINDOW = 1000;
const MAX = 2;

function bull(t, redis, name, limiter) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port }, ...(limiter ? { limiter } : {}) });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  return q;
}

async function listen(q) {
  const log = [];
  for (const ev of ['completed', 'failed']) q.on(`global:${ev}`, (id, val) => log.push(JSON.stringify([ev, id, val])));
  await q.isReady();
  await I.waitFor(() => q.registeredEvents && Object.keys(q.registeredEvents).length >= 2, { what: 'subscriptions' });
  await Promise.all(Object.values(q.registeredEvents));
  return log;
}

async function waitDone(q, log, n) {
  await I.waitFor(async () => {
    const c = await q.getJobCounts();
    return log.length === n && c.active === 0 && c.waiting === 0 && c.delayed === 0;
  }, { timeout: 40000, interval: 100, what: `${n} jobs done` });
}

// processedOn of every job, by group (the id's text after its last ':').
async function startsByGroup(q, ids) {
  const by = {};
  for (const id of ids) {
    const j = await q.getJob(id);
    const g = id.slice(id.lastIndexOf(':') + 1);
    (by[g] = by[g] || []).push(Number(j.processedOn));
  }
  for (const g of Object.keys(by)) by[g].sort((a, b) => a - b);
  return by;
}

// No more than MAX starts of a group within one window.
function assertRate(starts, what) {
  for (let i = MAX; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - MAX] >= WINDOW - 50, `${what}: ${MAX + 1} starts within a window: ${starts}`);
  }
}

const GROUPED = [];
for (let i = 0; i < 8; i++) GROUPED.push([`j${i}`, { i, g: i % 2 ? 'b' : 'a', sleepMs: 5 }]);

async function groupRun(t, kind) {
  const LQ = 'bgrp';
  const limiter = { max: MAX, duration: WINDOW, groupKey: 'g' };
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const producer = bull(t, redis, LQ, limiter);
  const log = await listen(producer);
  const ids = [];
  for (const [jobId, data] of GROUPED) ids.push((await producer.add('grp', data, { jobId })).id);
  let stop;
  if (kind === 'node') {
    const worker = new Bull(LQ, { redis: { host: '127.0.0.1', port: redis.port }, limiter });
    worker.on('error', () => {});
    worker.process('*', 2, async (job) => { await sleep(job.data.sleepMs); return job.data; });
    stop = () => worker.close();
  } else {
    const w = I.useWorker(t, redis, LQ, ['--protocol', 'bull', '--concurrency', '2', '--limiter-max', String(MAX),
      '--limiter-duration', String(WINDOW), '--limiter-group-key', 'g']);
    stop = async () => assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  }
  try {
    await waitDone(producer, log, GROUPED.length);
    await sleep(300);
  } finally {
    await stop();
  }
  const starts = await startsByGroup(producer, ids);
  const dump = await dumpQueue(client, [`bull:${LQ}:`]);
  // the per-group counters expire with their window: whether they still exist is timing
  for (const k of Object.keys(dump)) if (/:limiter:[ab]$/.test(k)) delete dump[k];
  const state = maskWorkerState(dump);
  for (const e of Object.values(state)) {
    if (e.type === 'hash' && typeof e.value.opts === 'string') {
      e.value.opts = e.value.opts.replace(/"timestamp":\d+/, `"timestamp":"${MASK}"`);
    }
  }
  return { ids, starts, state, events: log.slice().sort() };
}

test('bull limiter: groupKey counts per group, as Node Bull\'s worker does', { timeout: 120000 }, async (t) => {
  I.requireEchoWorker();
  const node = await groupRun(t, 'node');
  const c = await groupRun(t, 'c');
  assert.deepEqual(node.ids, GROUPED.map(([id, d]) => `${id}:${d.g}`), 'Node forms "<jobId>:<group>" ids');
  assert.deepEqual(c.events, node.events);
  const diffs = diffStates(node.state, c.state);
  if (diffs.length) assert.fail([`group limiter differential: ${diffs.length} difference(s)`, ...diffs.slice(0, 60)].join('\n'));
  for (const run of [node, c]) {
    assert.deepEqual(Object.keys(run.starts).sort(), ['a', 'b']);
    assertRate(run.starts.a, 'group a');
    assertRate(run.starts.b, 'group b');
  }
  // the groups do not share one limit: the first window holds MAX starts of each
  const all = [...c.starts.a, ...c.starts.b].sort((x, y) => x - y);
  assert.ok(all[2 * MAX - 1] - all[0] < WINDOW - 50, `both groups ran in the first window: ${all}`);
});

test('bull limiter: bounceBack keeps limited jobs in wait, never in delayed, and runs them all', { timeout: 120000 }, async (t) => {
  I.requireEchoWorker();
  const LQ = 'bbounce';
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const producer = bull(t, redis, LQ);
  const log = await listen(producer);
  const delayedSeen = [];
  const sub = client.duplicate();
  I.defer(t, () => sub.quit().catch(() => {}));
  await sub.subscribe(`bull:${LQ}:delayed`);
  sub.on('message', (_ch, m) => delayedSeen.push(m));
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push((await producer.add({ i, sleepMs: 5 }, i === 3 ? { priority: 1 } : {})).id);
  const w = I.useWorker(t, redis, LQ, ['--protocol', 'bull', '--concurrency', '2', '--limiter-max', String(MAX),
    '--limiter-duration', String(WINDOW), '--limiter-bounce-back']);
  let maxDelayed = 0;
  const watch = setInterval(async () => {
    try { maxDelayed = Math.max(maxDelayed, await client.zcard(`bull:${LQ}:delayed`)); } catch (_) { /* closing */ }
  }, 20);
  try {
    await waitDone(producer, log, ids.length);
  } catch (e) {
    e.message += `\n${I.tail(w)}`;
    throw e;
  } finally {
    clearInterval(watch);
  }
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  const starts = [];
  for (const id of ids) {
    const j = await producer.getJob(id);
    assert.equal(await j.getState(), 'completed', `job ${id}`);
    starts.push(Number(j.processedOn));
  }
  starts.sort((a, b) => a - b);
  assertRate(starts, 'queue');
  assert.equal(maxDelayed, 0, 'no job went to delayed');
  assert.deepEqual(delayedSeen, [], 'nothing announced on the delayed channel');
  assert.equal(await client.exists(`bull:${LQ}:limiter:limited`), 0);
  assert.equal(await client.exists(`bull:${LQ}:limiter:index`), 0);
});

test('bull limiter: bounceBack with groupKey holds each group to the limit', { timeout: 120000 }, async (t) => {
  I.requireEchoWorker();
  const LQ = 'bbgrp';
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const producer = bull(t, redis, LQ, { max: MAX, duration: WINDOW, groupKey: 'g' });
  const log = await listen(producer);
  const ids = [];
  for (const [jobId, data] of GROUPED) ids.push((await producer.add('grp', data, { jobId })).id);
  const w = I.useWorker(t, redis, LQ, ['--protocol', 'bull', '--concurrency', '2', '--limiter-max', String(MAX),
    '--limiter-duration', String(WINDOW), '--limiter-group-key', 'g', '--limiter-bounce-back']);
  await waitDone(producer, log, ids.length);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  const starts = await startsByGroup(producer, ids);
  assertRate(starts.a, 'group a');
  assertRate(starts.b, 'group b');
  assert.equal(starts.a.length + starts.b.length, GROUPED.length);
  assert.equal(await client.zcard(`bull:${LQ}:delayed`), 0);
});

test('bull limiter: BullMQ workers refuse the Bull-only limiter options', async (t) => {
  const redis = await I.useRedis(t);
  for (const flags of [['--limiter-group-key', 'g'], ['--limiter-bounce-back']]) {
    const w = I.useWorker(t, redis, 'bmqlim', ['--limiter-max', '2', '--limiter-duration', '1000', ...flags]);
    const r = await I.within(w.exited, 10000, null);
    assert.ok(r && r.code === 2, `exit ${JSON.stringify(r)}: ${w.stderrText()}`);
    assert.match(w.stderrText(), /Bull 4 options/);
  }
});

// The producer: bullc_enqueue --protocol bull --limiter-group-key K forms the
// ids a Node Bull Queue with limiter.groupKey K forms, and stores the same job.
test('bull limiter: bullc_enqueue --limiter-group-key adds the ids Node Bull\'s Queue forms', async (t) => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const KEY = 'cust.id';
  const JOBS = [
    ['a', { cust: { id: 'x' } }, { jobId: 'o1' }],
    ['b', { cust: { id: 7.5 } }, { attempts: 2, jobId: 5 }],
    ['c', { g: 1 }, { jobId: 'o2', priority: 2 }],
    ['d', { cust: { id: [1, null, 'z', [2, 3]] } }, { jobId: 'o3' }],
    ['e', { 'cust.id': 'direct', cust: { id: 'path' } }, { jobId: 'o4' }],
    ['f', { cust: { id: { deep: 1 } } }, { delay: 100, jobId: 'o5' }],
    ['g', { cust: { id: null } }, { jobId: 'o6' }],
    ['u', { cust: { id: 'q' } }, undefined],
    ['z', { cust: { id: 'x' } }, { jobId: 0, lifo: true }],
  ];
  const qn = bull(t, redis, 'gn', { max: 1, duration: 1000, groupKey: KEY });
  const nodeIds = [];
  for (const [name, data, opts] of JOBS) nodeIds.push(String((await qn.add(name, data, opts)).id));
  const lines = JOBS.map(([name, data, opts]) => JSON.stringify({ name, data, ...(opts ? { opts } : {}) })).join('\n');
  const r = spawnSync(path.join(I.BIN, 'bullc_enqueue'), ['--redis', redis.url, '--queue', 'gc', '--protocol', 'bull',
    '--limiter-group-key', KEY, '--bulk', '-'], { input: `${lines}\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const cIds = r.stdout.trim().split('\n');
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
  const maskId = (id) => id.replace(UUID, '<uuid>');
  assert.deepEqual(cIds.map(maskId), nodeIds.map(maskId));
  assert.deepEqual(nodeIds.slice(0, 7), ['o1:x', '5:7.5', 'o2:undefined', 'o3:1,,z,2,3', 'o4:direct', 'o5:[object Object]', 'o6:null']);
  assert.match(nodeIds[7], /^[0-9a-f-]{36}:q$/);
  const mask = (h) => {
    h.timestamp = '<ts>';
    h.opts = maskId(h.opts.replace(/"timestamp":\d+/, '"timestamp":"<ts>"').replace(/"jobId":"[0-9a-f-]{36}:/, '"jobId":"<uuid>:'));
    return h;
  };
  for (let i = 0; i < JOBS.length; i++) {
    const a = mask(await client.hgetall(`bull:gn:${nodeIds[i]}`));
    const b = mask(await client.hgetall(`bull:gc:${cIds[i]}`));
    assert.deepEqual(b, a, `job ${nodeIds[i]}`);
  }
  const lists = async (q) => (await client.lrange(`bull:${q}:wait`, 0, -1)).map(maskId);
  assert.deepEqual(await lists('gc'), await lists('gn'));

  // a BullMQ queue handle refuses the option
  const bad = spawnSync(path.join(I.BIN, 'bullc_enqueue'), ['--redis', redis.url, '--queue', 'gm', '--limiter-group-key', KEY, 'n', '{}'],
    { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Bull 4 option/);
});
