'use strict';
// Worker-level differential at concurrency 8, where echo_worker's handler threads finish jobs
// together and record them in batches (group commit, lua/moveToFinishedBatch.lua). The same
// 240 jobs (plain, removed on completion, failing for good, failing once then retried,
// reporting progress) run once through Node BullMQ's own Worker and once through echo_worker,
// each on a fresh private Redis. The finishing order depends on thread timing, so what is
// compared is everything order cannot change: every job hash (timestamps masked), every set
// and list as sets, the id counter and meta, and the events stream as a multiset of entries.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Worker } = require('bullmq');
const I = require('./lib/interop');
const { echoProcessor } = require('./lib/echo');
const { dumpQueue, maskWorkerState, diffStates } = require('./lib/diff');

const Q = 'conc';
const NAME = 'concw';
const N = 240;

function jobsToAdd() {
  const jobs = [];
  for (let i = 0; i < N; i++) {
    const kind = i % 6;
    if (kind === 0) jobs.push({ name: 'plain', data: { i } });
    else if (kind === 1) jobs.push({ name: 'gone', data: { i }, opts: { removeOnComplete: true } });
    else if (kind === 2) jobs.push({ name: 'bad', data: { i, unrecoverable: `bad ${i}` }, opts: { attempts: 3 } });
    else if (kind === 3) jobs.push({ name: 'retry', data: { i, failAttempts: 1 }, opts: { attempts: 2 } });
    else if (kind === 4) jobs.push({ name: 'progress', data: { i, progress: [50, { done: true }], result: { ok: i } } });
    else jobs.push({ name: 'slow', data: { i, sleepMs: 3 } });
  }
  return jobs;
}

async function run(t, kind) {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const q = new Queue(Q, { connection: redis.connection });
  await q.addBulk(jobsToAdd());
  await q.close();
  let stop;
  let w;
  if (kind === 'node') {
    const nw = new Worker(Q, echoProcessor, { connection: redis.connection, concurrency: 8, name: NAME });
    nw.on('error', () => {});
    stop = () => nw.close();
  } else {
    w = I.useWorker(t, redis, Q, ['--concurrency', '8', '--name', NAME]);
    stop = async () => {
      const r = await I.stopWorker(w);
      assert.deepEqual(r, { code: 0, signal: null }, `echo_worker exit; stderr:\n${I.tail(w)}`);
    };
  }
  try {
    await I.waitFor(async () => {
      const evs = await I.readStream(client, Q);
      return evs.filter((e) => e.event === 'completed' || e.event === 'failed').length >= N;
    }, { timeout: 60000, interval: 50, what: `${kind}: all ${N} jobs finished` });
  } finally {
    await stop();
  }
  const raw = await dumpQueue(client, [`bull:${Q}:`]);
  const events = (await I.readStream(client, Q))
    .filter((e) => e.event !== 'drained') // how often the queue looked empty depends on timing
    .map(({ id, ...f }) => JSON.stringify(f))
    .sort();
  return { raw, events };
}

// Lists and zsets as sorted members (their order follows the finishing order); the events
// stream is compared separately.
function orderFree(state) {
  const out = {};
  for (const [k, e] of Object.entries(state)) {
    if (k.endsWith(':events')) continue;
    if (e.type === 'list' || e.type === 'zset' || e.type === 'set') {
      const members = e.value.map((x) => (Array.isArray(x) ? x[0] : x)).map(String).sort();
      out[k] = { ...e, type: `${e.type} (as set)`, value: members };
    } else {
      out[k] = e;
    }
  }
  return out;
}

test(`concurrency 8: ${N} mixed jobs leave the same state and events as Node's Worker (group commit)`, { timeout: 180000 }, async (t) => {
  I.requireEchoWorker();
  const node = await run(t, 'node');
  const c = await run(t, 'c');

  // what both must show on their own
  for (const [kind, r] of [['node', node], ['c', c]]) {
    const count = (ev) => r.events.filter((s) => JSON.parse(s).event === ev).length;
    assert.equal(count('completed'), N / 6 * 5, `${kind}: completed events`);
    assert.equal(count('failed'), N / 6, `${kind}: failed events`);
    assert.equal(count('retries-exhausted'), 0, `${kind}: unrecoverable jobs do not exhaust retries`);
    assert.equal(count('progress'), N / 6 * 2, `${kind}: progress events`);
    assert.equal(count('active'), N + N / 6, `${kind}: one start per attempt`);
  }

  const stDiffs = diffStates(orderFree(maskWorkerState(node.raw)), orderFree(maskWorkerState(c.raw)));
  const a = node.events.join('\n');
  const b = c.events.join('\n');
  const evDiffs = [];
  if (a !== b) {
    const ca = new Map(); const cb = new Map();
    for (const s of node.events) ca.set(s, (ca.get(s) || 0) + 1);
    for (const s of c.events) cb.set(s, (cb.get(s) || 0) + 1);
    for (const s of new Set([...ca.keys(), ...cb.keys()])) {
      if ((ca.get(s) || 0) !== (cb.get(s) || 0)) evDiffs.push(`event ${s}: node ${ca.get(s) || 0} vs C ${cb.get(s) || 0}`);
    }
  }
  if (stDiffs.length || evDiffs.length) {
    assert.fail([`${evDiffs.length} event difference(s), ${stDiffs.length} state difference(s) (A = Node Worker, B = echo_worker)`,
      ...evDiffs.slice(0, 30), ...stDiffs.slice(0, 60)].join('\n'));
  }
});
