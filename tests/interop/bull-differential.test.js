'use strict';
// DIFFERENTIAL (Bull 4): one fixed scenario run twice on two fresh
// redis-servers, once with Node Bull 4.16.5's own worker (queue.process('*',
// 1, fn) with the echo semantics in JS) and once with echo_worker --protocol
// bull at concurrency 1, both keeping metrics. A Node Bull Queue adds the same
// jobs first each time. The Redis state of the queue's keys (masked: times,
// lock tokens, stack text) and the global events a Node listener heard must be
// the same. Then repeatable series and the worker rate limit, likewise.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const Bull = require('bull');
const I = require('./lib/interop');
const { dumpQueue, maskWorkerState, diffStates, MASK } = require('./lib/diff');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

// echo_worker's semantics for the keys this scenario uses, as a Bull processor.
async function bullEcho(job) {
  const d = job.data;
  if (!isObject(d)) return d;
  if (typeof d.sleepMs === 'number' && d.sleepMs > 0) await sleep(d.sleepMs);
  if (d.unrecoverable !== undefined) {
    job.discard();
    throw new Error(String(d.unrecoverable));
  }
  if (d.fail !== undefined) throw new Error(String(d.fail));
  if (typeof d.failAttempts === 'number' && job.attemptsMade < d.failAttempts) {
    throw new Error(`attempt ${job.attemptsMade + 1} failed`);
  }
  if (has(d, 'result')) return d.result;
  return job.data;
}

// Every outcome path once; the retries with a backoff come last, far apart.
const Q = 'bdiff';
const JOBS = [
  [undefined, { a: 1, b: 'x', c: [true, null] }],
  ['named', 'hello'],
  ['num', 42],
  ['ret-null', { result: null }],
  ['ret-obj', { result: { z: 1, a: [1, { b: null }], s: 'q"/\\\u00fc\u2603\n' } }],
  ['ret-empty', { result: '' }],
  ['fail', { fail: 'boom' }],
  ['unrec', { unrecoverable: 'fatal' }, { attempts: 4 }],
  ['retry-now', { failAttempts: 1 }, { attempts: 2 }],
  ['lifo-retry', { failAttempts: 1, v: 'lifo' }, { attempts: 2, lifo: true }],
  ['prio-3', { p: 3 }, { priority: 3 }],
  ['prio-1', { p: 1 }, { priority: 1 }],
  ['prio-retry', { failAttempts: 1, p: 'r' }, { priority: 2, attempts: 2 }],
  ['stl', { failAttempts: 2 }, { attempts: 3, stackTraceLimit: 1 }],
  ['custom', { v: 'c' }, { jobId: 'my-job-1' }],
  ['roc-true', { v: 'gone' }, { removeOnComplete: true }],
  ['rof-true', { fail: 'gone too' }, { removeOnFail: true }],
  ['roc-age', { v: 'a' }, { removeOnComplete: { age: 3600, count: 100 } }],
  ['rof-n', { fail: 'kept' }, { removeOnFail: 5 }],
  ['exhaust', { fail: 'always', sleepMs: 2 }, { attempts: 2 }],
  ['debounce', { v: 'd' }, { debounce: { id: 'dx' } }],
  ['debounce-ttl', { v: 'dt' }, { debounce: { id: 'dy', ttl: 600000 } }],
  ['delayed', { v: 'late' }, { delay: 1200 }],
  ['backoff-fixed', { failAttempts: 1, result: 'fixed ok' }, { attempts: 2, backoff: 700 }],
  ['backoff-exp', { failAttempts: 2 }, { attempts: 3, backoff: { type: 'exponential', delay: 300 } }],
];

function bull(redis, name) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port } });
  q.on('error', () => {});
  return q;
}

async function addJobs(q) {
  for (const [name, data, opts] of JOBS) {
    if (name === undefined) await q.add(data, opts || {});
    else await q.add(name, data, opts || {});
  }
}

async function listen(q) {
  const log = [];
  for (const ev of ['completed', 'failed', 'stalled']) {
    q.on(`global:${ev}`, (id, val) => log.push(JSON.stringify([ev, id, val])));
  }
  await q.isReady();
  await I.waitFor(() => q.registeredEvents && Object.keys(q.registeredEvents).length >= 3, { what: 'subscriptions' });
  await Promise.all(Object.values(q.registeredEvents));
  return log;
}

async function waitFinished(q, log) {
  await I.waitFor(async () => {
    const c = await q.getJobCounts();
    return log.length === JOBS.length && c.active === 0 && c.waiting === 0 && c.delayed === 0;
  }, { timeout: 40000, interval: 50, what: `${JOBS.length} jobs finished` });
  await sleep(300);
}

async function run(t, kind) {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const producer = bull(redis, Q);
  I.defer(t, () => producer.close().catch(() => {}));
  const log = await listen(producer);
  await addJobs(producer);
  if (kind === 'node') {
    const worker = new Bull(Q, { redis: { host: '127.0.0.1', port: redis.port }, metrics: { maxDataPoints: 10 } });
    worker.on('error', () => {});
    worker.process('*', 1, bullEcho);
    try {
      await waitFinished(producer, log);
    } finally {
      await worker.close();
    }
  } else {
    const w = I.useWorker(t, redis, Q, ['--protocol', 'bull', '--concurrency', '1', '--metrics', '10']);
    try {
      await waitFinished(producer, log);
      assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
    } catch (e) {
      e.message += `\necho_worker stderr:\n${I.tail(w)}`;
      throw e;
    }
  }
  const state = maskWorkerState(await dumpQueue(client, [`bull:${Q}:`]));
  // opts carry the producer's creation time
  for (const e of Object.values(state)) {
    if (e.type === 'hash' && typeof e.value.opts === 'string') {
      e.value.opts = e.value.opts.replace(/"timestamp":\d+/, `"timestamp":"${MASK}"`);
    }
  }
  return { state, events: log.slice().sort() };
}

test('bull differential: echo_worker --protocol bull leaves Redis as Node Bull\'s worker does', { timeout: 150000 }, async (t) => {
  I.requireEchoWorker();
  const node = await run(t, 'node');
  const c = await run(t, 'c');
  // the reference run did what the scenario means
  assert.ok(node.state[`bull:${Q}:my-job-1`], 'custom id job kept');
  assert.ok(!Object.keys(node.state).some((k) => /:lock$/.test(k)), 'no lock left');
  assert.ok(node.state[`bull:${Q}:metrics:completed`], 'metrics kept');

  const evDiffs = [];
  for (let i = 0; i < Math.max(node.events.length, c.events.length); i++) {
    if (node.events[i] !== c.events[i]) evDiffs.push(`event #${i}: node ${node.events[i]} vs C ${c.events[i]}`);
  }
  const stDiffs = diffStates(node.state, c.state);
  if (evDiffs.length || stDiffs.length) {
    assert.fail([`bull differential: ${evDiffs.length} event and ${stDiffs.length} state difference(s) (A = Node Bull, B = echo_worker)`,
      ...evDiffs.slice(0, 40), ...stDiffs.slice(0, 80)].join('\n'));
  }
});

// Repeatable jobs: the worker adds each next iteration when it takes one
// (Bull's nextRepeatableJob). Iteration times are masked (they depend on when
// each run happened); everything else must match.
const RQ = 'brep';
async function runRepeat(t, kind) {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const producer = bull(redis, RQ);
  I.defer(t, () => producer.close().catch(() => {}));
  await producer.add('tick', { n: 1 }, { repeat: { every: 1000, limit: 3 } });
  await producer.add({ v: 'c' }, { repeat: { cron: '*/1 * * * * *', limit: 2 }, attempts: 2, removeOnFail: 5 });
  let stop;
  if (kind === 'node') {
    const worker = bull(redis, RQ);
    worker.process('*', 1, bullEcho);
    stop = () => worker.close();
  } else {
    const w = I.useWorker(t, redis, RQ, ['--protocol', 'bull', '--concurrency', '1']);
    stop = async () => assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  }
  try {
    await I.waitFor(async () => {
      const c = await producer.getJobCounts();
      return c.completed === 5 && c.active === 0 && c.waiting === 0 && c.delayed === 0;
    }, { timeout: 30000, interval: 100, what: '5 iterations done' });
    await sleep(300);
  } finally {
    await stop();
  }
  const raw = maskWorkerState(await dumpQueue(client, [`bull:${RQ}:`]));
  const out = {};
  for (const [k, e] of Object.entries(raw)) {
    if (e.type === 'hash') {
      if (e.value.delay !== undefined) e.value.delay = '<d>';
      if (typeof e.value.opts === 'string') {
        e.value.opts = e.value.opts.replace(/"delay":\d+/, '"delay":"<d>"').replace(/"timestamp":\d+/, '"timestamp":"<ts>"');
      }
    }
    out[k.replace(/\d{13}/g, '<ms>')] = JSON.parse(JSON.stringify(e).replace(/\d{13}/g, '<ms>'));
  }
  return out;
}

test('bull differential: repeatable jobs (every, cron) go on as with Node Bull\'s worker', { timeout: 150000 }, async (t) => {
  I.requireEchoWorker();
  const node = await runRepeat(t, 'node');
  const c = await runRepeat(t, 'c');
  assert.ok(Object.keys(node).some((k) => /:repeat:[0-9a-f]{32}:<ms>$/.test(k)), 'iterations exist');
  const second = Object.values(c).find((e) => e.type === 'hash' && /"count":2/.test(e.value.opts || ''));
  assert.ok(second, 'a second iteration');
  if (process.env.BULLC_TEST_VERBOSE) t.diagnostic(JSON.stringify(second));
  const diffs = diffStates(node, c);
  if (diffs.length) assert.fail([`repeat differential: ${diffs.length} difference(s) (A = Node Bull, B = echo_worker)`, ...diffs.slice(0, 60)].join('\n'));
});

// The worker rate limit: jobs over it pass through delayed; the end state is
// the same (which jobs were put off depends on timing, and leaves no trace
// once all ran; the limiter counter expires with its window).
test('bull differential: the worker rate limit ends as with Node Bull\'s worker', { timeout: 150000 }, async (t) => {
  I.requireEchoWorker();
  const LQ = 'blim';
  const run1 = async (kind) => {
    const redis = await I.useRedis(t);
    const client = I.useClient(t, redis);
    const producer = bull(redis, LQ);
    I.defer(t, () => producer.close().catch(() => {}));
    const log = await listen(producer);
    for (let i = 0; i < 8; i++) await producer.add(`j${i}`, { i, sleepMs: 5 }, i % 3 ? {} : { priority: 2 });
    let stop;
    if (kind === 'node') {
      const worker = new Bull(LQ, { redis: { host: '127.0.0.1', port: redis.port }, limiter: { max: 3, duration: 1000 } });
      worker.on('error', () => {});
      worker.process('*', 2, bullEcho);
      stop = () => worker.close();
    } else {
      const w = I.useWorker(t, redis, LQ, ['--protocol', 'bull', '--concurrency', '2', '--limiter-max', '3', '--limiter-duration', '1000']);
      stop = async () => assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
    }
    try {
      await I.waitFor(async () => {
        const c = await producer.getJobCounts();
        return log.length === 8 && c.active === 0 && c.waiting === 0 && c.delayed === 0;
      }, { timeout: 40000, interval: 100, what: '8 jobs done' });
      await sleep(300);
    } finally {
      await stop();
    }
    const state = maskWorkerState(await dumpQueue(client, [`bull:${LQ}:`]));
    for (const e of Object.values(state)) {
      if (e.type === 'hash' && typeof e.value.opts === 'string') {
        e.value.opts = e.value.opts.replace(/"timestamp":\d+/, `"timestamp":"${MASK}"`);
      }
    }
    return { state, events: log.slice().sort() };
  };
  const node = await run1('node');
  const c = await run1('c');
  assert.deepEqual(c.events, node.events);
  const diffs = diffStates(node.state, c.state);
  if (diffs.length) assert.fail([`limiter differential: ${diffs.length} difference(s)`, ...diffs.slice(0, 60)].join('\n'));
});
