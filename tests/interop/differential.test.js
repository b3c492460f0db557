'use strict';
// DIFFERENTIAL: one fixed scenario run twice, on two fresh redis-servers:
// once with Node BullMQ 6.7.0's own Worker (processor = the echo semantics in
// JS, lib/echo.js) and once with build/bin/echo_worker, both at concurrency 1
// so the order is deterministic. Each run adds the same jobs with a Node Queue
// first, then starts the worker, waits until everything finished, stops the
// worker and closes every Node object. The Redis state of the queues' keys
// (masked: timestamps, lock tokens, stream ids, stack text) and the sequence
// of events in the events streams must be identical. Any difference is a bug
// in the C worker or its Lua scripts.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');
const I = require('./lib/interop');
const { echoProcessor, customBackoff } = require('./lib/echo');
const { dumpQueue, maskWorkerState, diffStates } = require('./lib/diff');

const WORKER_NAME = 'diffw';

// Queue A: every outcome path once, in an order chosen so that the timing of
// retries with backoff cannot reorder anything (the backoff jobs come last,
// their due times are hundreds of ms apart).
const QA = 'diff-a';
const JOBS_A = [
  ['plain-obj', { a: 1, b: 'x', c: [true, null] }],
  ['plain-str', 'hello'],
  ['plain-num', 42],
  ['plain-arr', [1, 'two', null, { three: 3 }]],
  ['plain-empty', {}],
  ['ret-null', { result: null }],
  ['ret-false', { result: false }],
  ['ret-true', { result: true }],
  ['ret-int', { result: 12345678901234 }],
  ['ret-neg', { result: -7 }],
  ['ret-float', { result: 3.25 }],
  ['ret-str', { result: 'a "quoted" / back\\slash \u00fc \u2603 \n tab\t' }],
  ['ret-obj', { result: { z: 1, a: [1, { b: null }], e: {}, f: [], s: 'x' } }],
  ['ret-arr', { result: [[], {}, 0, '', false] }],
  ['ret-emptystr', { result: '' }],
  ['sleep', { sleepMs: 30, v: 1 }],
  ['fail', { fail: 'boom' }],
  ['fail-attempts1', { fail: 'boom once' }, { attempts: 1 }],
  ['unrecoverable', { unrecoverable: 'fatal error' }, { attempts: 5 }],
  ['retry-then-ok', { failAttempts: 2 }, { attempts: 3 }],
  ['exhaust', { fail: 'always' }, { attempts: 2 }],
  ['roc-true', { v: 'gone' }, { removeOnComplete: true }],
  ['rof-true', { fail: 'gone too' }, { removeOnFail: true }],
  ['roc-false', { v: 'kept' }, { removeOnComplete: false }],
  ['unrec-roc', { unrecoverable: 'fatal 2', result: 1 }, { attempts: 3, removeOnComplete: true }],
  ['backoff-fixed', { failAttempts: 1, result: 'fixed ok' }, { attempts: 2, backoff: { type: 'fixed', delay: 700 } }],
  ['backoff-exp', { failAttempts: 2 }, { attempts: 3, backoff: { type: 'exponential', delay: 400 } }],
  ['backoff-num', { fail: 'no more' }, { attempts: 2, backoff: 1500 }],
];

// Queue B: removal by count. Every job sleeps a little so that no two finish
// in the same millisecond (the kept ones are chosen by finishing time).
const QB = 'diff-b';
const JOBS_B = [
  ['c1', { sleepMs: 4, n: 1 }, { removeOnComplete: 2 }],
  ['c2', { sleepMs: 4, n: 2 }, { removeOnComplete: 2 }],
  ['f1', { sleepMs: 4, fail: 'f1' }, { removeOnFail: 1 }],
  ['c3', { sleepMs: 4, n: 3 }, { removeOnComplete: 2 }],
  ['f2', { sleepMs: 4, fail: 'f2' }, { removeOnFail: { count: 1 } }],
  ['c4', { sleepMs: 4, n: 4 }, { removeOnComplete: { count: 3 } }],
  ['f3', { sleepMs: 4, fail: 'f3' }, { removeOnFail: 5 }],
  ['c5', { sleepMs: 4, n: 5 }, { removeOnComplete: 3 }],
  ['c6', { sleepMs: 4, n: 6 }],
];

// Queue C: options a worker enforces or must carry through: lifo, priority
// (and a retried prioritized job), stackTraceLimit, a producer delay, custom
// ids, retention by age, zero backoff, non-ASCII names and messages. Order:
// the wait list first (lifo jobs at its head), then the prioritized ones,
// then the delayed job, due long after everything else has finished.
const QC = 'diff-c';
const JOBS_C = [
  ['plain', { v: 1 }],
  ['lifo-retry', { failAttempts: 1, v: 'lifo' }, { attempts: 2, lifo: true }],
  ['stl-1', { failAttempts: 2, v: 'stl' }, { attempts: 3, stackTraceLimit: 1 }],
  ['stl-0', { fail: 'no stack' }, { stackTraceLimit: 0 }],
  ['prio-5a', { p: '5a' }, { priority: 5 }],
  ['prio-1', { p: 1 }, { priority: 1 }],
  ['prio-5b', { p: '5b' }, { priority: 5 }],
  ['prio-retry', { failAttempts: 1, p: 'r' }, { priority: 2, attempts: 2 }],
  ['delayed', { v: 'late' }, { delay: 1500 }],
  ['custom-id', { v: 'c' }, { jobId: 'my-job-1' }],
  ['age', { v: 'a' }, { removeOnComplete: { age: 3600, count: 100 }, removeOnFail: { age: 3600 } }],
  ['age-fail', { fail: 'aged' }, { removeOnFail: { age: 3600, count: 10 } }],
  ['zero-backoff', { failAttempts: 1 }, { attempts: 2, backoff: { type: 'fixed', delay: 0 } }],
  ['na\u00efve \u540d\u524d', { fail: '\u043e\u0448\u0438\u0431\u043a\u0430 \u2717 "q" \\ / \n next line\t\u0001' }],
  ['big', { blob: 'x'.repeat(20000), list: Array.from({ length: 200 }, (_, i) => i) }],
  ['unrec-rof', { unrecoverable: 'u', sleepMs: 5 }, { attempts: 3, removeOnFail: 1 }],
];

const SCENARIO = [[QA, JOBS_A], [QB, JOBS_B], [QC, JOBS_C]];

async function addJobs(redis, qname, jobs) {
  const q = new Queue(qname, { connection: redis.connection });
  for (const [name, data, opts] of jobs) await q.add(name, data, opts || {});
  return q;
}

// Everything finished: one completed/failed event per job, nothing pending.
async function waitFinished(client, q, qname, n) {
  let last;
  try {
    await I.waitFor(async () => {
      const evs = await I.readStream(client, qname);
      const fin = evs.filter((e) => e.event === 'completed' || e.event === 'failed').length;
      const c = await q.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      last = { fin, ...c };
      return fin === n && c.active === 0 && c.waiting === 0 && c.delayed === 0 && c.prioritized === 0;
    }, { timeout: 30000, interval: 50, what: `${qname}: ${n} jobs finished` });
  } catch (e) {
    e.message += ` (last ${JSON.stringify(last)})`;
    throw e;
  }
  // Let the worker settle into its blocking wait, as it would when idle.
  await I.sleep(300);
}

// A scenario is a list of [queueName, jobs, extra?], extra = {
//   worker: { lockDuration, stalledInterval, maxStalledCount } (both workers),
//   prepare: async (redis, queue) => {} run after the adds, before the worker }.
//   worker also takes: metrics (maxDataPoints), customBackoff (bool),
//   maxStartedAttempts, limiter ({max, duration}).
function nodeWorkerOpts(extra) {
  const w = (extra && extra.worker) || {};
  return {
    ...(w.lockDuration ? { lockDuration: w.lockDuration } : {}),
    ...(w.stalledInterval ? { stalledInterval: w.stalledInterval } : {}),
    ...(w.maxStalledCount !== undefined ? { maxStalledCount: w.maxStalledCount } : {}),
    ...(w.metrics ? { metrics: { maxDataPoints: w.metrics } } : {}),
    ...(w.customBackoff ? { settings: { backoffStrategy: customBackoff } } : {}),
    ...(w.maxStartedAttempts ? { maxStartedAttempts: w.maxStartedAttempts } : {}),
    ...(w.limiter ? { limiter: w.limiter } : {}),
  };
}

function cWorkerArgs(extra) {
  const w = (extra && extra.worker) || {};
  const a = [];
  if (w.lockDuration) a.push('--lock-duration', String(w.lockDuration));
  if (w.stalledInterval) a.push('--stalled-interval', String(w.stalledInterval));
  if (w.maxStalledCount !== undefined) a.push('--max-stalled-count', String(w.maxStalledCount));
  if (w.metrics) a.push('--metrics', String(w.metrics));
  if (w.customBackoff) a.push('--custom-backoff');
  if (w.maxStartedAttempts) a.push('--max-started-attempts', String(w.maxStartedAttempts));
  if (w.limiter) a.push('--limiter-max', String(w.limiter.max), '--limiter-duration', String(w.limiter.duration));
  return a;
}

async function prepare(redis, q, extra) {
  if (extra && extra.prepare) await extra.prepare(redis, q);
}

async function runNode(t, redis, client, scenario) {
  for (const [qname, jobs, extra] of scenario) {
    const q = await addJobs(redis, qname, jobs);
    await prepare(redis, q, extra);
    const w = new Worker(qname, echoProcessor, {
      connection: redis.connection, concurrency: 1, name: WORKER_NAME, ...nodeWorkerOpts(extra),
    });
    w.on('error', () => {});
    try {
      await waitFinished(client, q, qname, jobs.length);
    } finally {
      await w.close();
      await q.close();
    }
  }
}

async function runC(t, redis, client, scenario) {
  for (const [qname, jobs, extra] of scenario) {
    const q = await addJobs(redis, qname, jobs);
    await prepare(redis, q, extra);
    const w = I.useWorker(t, redis, qname,
      ['--concurrency', '1', '--name', WORKER_NAME, ...cWorkerArgs(extra)]);
    try {
      await waitFinished(client, q, qname, jobs.length);
      const r = await I.stopWorker(w);
      assert.deepEqual(r, { code: 0, signal: null }, `echo_worker exit; stderr:\n${I.tail(w)}`);
    } catch (e) {
      e.message += `\necho_worker stderr:\n${I.tail(w)}`;
      throw e;
    } finally {
      await q.close();
    }
  }
}

// The events of a stream as comparable records: name and every field, with
// times masked (stream ids dropped; delayed.delay is an absolute due time).
function eventRecords(evs) {
  return evs.map(({ id, ...f }) => {
    const r = { ...f };
    if (r.event === 'delayed') r.delay = '<ts>';
    return JSON.stringify(r);
  });
}

async function runScenario(t, kind, scenario) {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  if (kind === 'node') await runNode(t, redis, client, scenario);
  else await runC(t, redis, client, scenario);
  const raw = await dumpQueue(client, scenario.map(([q]) => `bull:${q}:`));
  const events = {};
  for (const [qname] of scenario) events[qname] = eventRecords(await I.readStream(client, qname));
  return { raw, state: maskWorkerState(raw), events };
}

// Run the scenario both ways and fail with every difference found.
async function differential(t, scenario, sanity = () => {}) {
  I.requireEchoWorker();
  const node = await runScenario(t, 'node', scenario);
  const c = await runScenario(t, 'c', scenario);
  sanity(node);

  // For information: the first line of each stack written (not compared).
  const firstLines = (st) => Object.entries(st.raw)
    .filter(([, e]) => e.type === 'hash' && typeof e.value.stacktrace === 'string')
    .map(([k, e]) => { try { return `${k}: ${JSON.parse(e.value.stacktrace).map((x) => String(x).split('\n')[0]).join(' | ')}`; } catch (_) { return `${k}: ?`; } });
  const cl = firstLines(c);
  if (cl.length) t.diagnostic(`echo_worker stack first lines: ${cl.slice(0, 6).join('; ')}`);

  // 1. The sequence of events, queue by queue.
  const evDiffs = [];
  for (const [qname] of scenario) {
    const a = node.events[qname];
    const b = c.events[qname];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i] !== b[i]) evDiffs.push(`${qname} event #${i}: node ${a[i]} vs C ${b[i]}`);
    }
  }
  // 2. The masked Redis state of the queues' keys.
  const stDiffs = diffStates(node.state, c.state);

  if (evDiffs.length || stDiffs.length) {
    const msg = [
      `differential: ${evDiffs.length} event difference(s), ${stDiffs.length} state difference(s) (A = Node Worker, B = echo_worker)`,
      ...evDiffs.slice(0, 40),
      ...stDiffs.slice(0, 80),
    ].join('\n');
    assert.fail(msg);
  }
}

test('differential: echo_worker leaves Redis exactly as Node BullMQ Worker does', { timeout: 120000 }, async (t) => {
  await differential(t, SCENARIO, (node) => {
    // Sanity of the reference run, so that the comparison means something.
    assert.ok(node.state[`bull:${QA}:3`], 'node run: job 3 kept');
    assert.ok(!node.state[`bull:${QA}:22`], 'node run: removeOnComplete:true job removed');
    assert.ok(node.state[`bull:${QC}:my-job-1`], 'node run: custom id job kept');
  });
});

// Return values that are numbers: Node writes JSON.stringify(value). A C
// handler that re-prints a parsed number must produce the same text, and
// above all the same value (15 significant digits are not enough).
test('differential: numbers in return values', { timeout: 60000 }, async (t) => {
  const values = [0, -0, 1, -7, 100, 123.456, 0.1, 0.30000000000000004, 1e21, 1.5e-7, 1e-7, -1e-10,
    2 ** 53, 12345678901234567000, 5e-324, 1.7976931348623157e308, 3.141592653589793];
  await differential(t, [['diff-num', values.map((v, i) => [`n${i}`, { result: v }])]]);
});

// Strings JSON.stringify writes: control characters, U+2028/2029, astral
// characters and a lone surrogate (valid JSON text, escaped as \udXXX).
test('differential: strings in data, results and failure messages', { timeout: 60000 }, async (t) => {
  const strs = ['a\u2028b\u2029c', '\u0001\u001f\u007f', 'x\ud83d\ude00y', 'lone \ud800 high', 'lone \udc00 low',
    '<script>/</script>', 'tab\tnl\ncr\r"q"\\'];
  const jobs = [];
  strs.forEach((s, i) => {
    jobs.push([`r${i}`, { result: s }]);
    jobs.push([`d${i}`, s]);
    jobs.push([`f${i}`, { fail: s }]);
  });
  await differential(t, [['diff-str', jobs]]);
});

// A worker that died holding job 1: its lock expires, the worker under test
// finds it in its stalled check, re-queues it (stc) or, past
// maxStalledCount, fails it through defa; job 2 is processed meanwhile.
async function abandonFirstJob() {
  return async (redis, q) => {
    const dead = new Worker(q.name, null, { connection: redis.connection, lockDuration: 400 });
    dead.on('error', () => {});
    const j = await dead.getNextJob('dead-token');
    assert.ok(j, 'the dead worker took a job');
    await dead.close();
    await I.sleep(700); // its lock is gone
  };
}

test('differential: stalled job recovery (re-queued, and failed past maxStalledCount)', { timeout: 60000 }, async (t) => {
  const fast = { lockDuration: 1000, stalledInterval: 500 };
  const jobs = [['abandoned', { result: 'after stall' }], ['other', { v: 2 }]];
  await differential(t, [
    ['diff-stall', jobs, { worker: fast, prepare: await abandonFirstJob() }],
    ['diff-stall0', jobs, { worker: { ...fast, maxStalledCount: 0 }, prepare: await abandonFirstJob() }],
  ], (node) => {
    assert.equal(node.state['bull:diff-stall:1'].value.stc, '1', 'node run: job 1 stalled once');
    assert.equal(node.state['bull:diff-stall0:1'].value.failedReason, 'job stalled more than allowable limit');
  });
});

// Handler calls and worker options: progress, logs (keepLogs), updateData, a
// handler's rate limit and moveToDelayed, retries with a custom backoff
// strategy (linear, -1, 0), metrics; and maxStartedAttempts with the worker
// limiter on a second queue. The timed jobs come last in each queue, with
// due times hundreds of ms apart, so that timing cannot reorder anything.
test('differential: handler calls, custom backoff, metrics, maxStartedAttempts, limiter', { timeout: 120000 }, async (t) => {
  const QD = 'diff-calls';
  const JOBS_D = [
    ['prog', { progress: [1, { a: 2, b: [null, 'x'] }, 'text', 0.30000000000000004, false] }],
    ['logs', { logs: ['l1', 'l2 \u00fc', 'l3'] }, { keepLogs: 2 }],
    ['logs-all', { logs: ['a', 'b'], result: 'logged' }],
    ['upd', { updateData: { n: 1, s: 'new', f: 1e-7 }, result: 'r' }],
    ['upd-ret', { updateData: [1, 'two', { three: 3 }] }],
    ['prog-fail', { progress: [50], logs: ['before failing'], fail: 'after progress' }],
    ['custom-giveup', { fail: 'gu' }, { attempts: 3, backoff: { type: 'giveup' } }],
    ['custom-zero', { failAttempts: 1, progress: [7] }, { attempts: 2, backoff: { type: 'other', delay: 5 } }],
    ['metrics-fail', { fail: 'counted' }, { attempts: 1 }],
    ['rl', { rateLimitMs: 300, result: 'after rl' }],
    ['delay-me', { delayMs: 400, result: 'delayed once' }],
    ['linear', { failAttempts: 2, logs: ['try'] }, { attempts: 3, backoff: { type: 'linear', delay: 700 } }],
  ];
  const QE = 'diff-started';
  const JOBS_E = [
    ['moved-too-often', { delayMs: 300, delayTimes: 5, result: 'never' }, { attempts: 3 }],
    ['retry-capped', { fail: 'capped' }, { attempts: 5 }],
    ['plain', { v: 1 }],
    ['plain2', { v: 2 }],
  ];
  await differential(t, [
    [QD, JOBS_D, { worker: { metrics: 5, customBackoff: true } }],
    [QE, JOBS_E, { worker: { maxStartedAttempts: 2, limiter: { max: 50, duration: 1000 } } }],
  ], (node) => {
    const h = (q, id) => node.state[`bull:${q}:${id}`].value;
    assert.equal(h(QD, 1).progress, 'false', 'node run: last progress');
    assert.deepEqual(node.state[`bull:${QD}:2:logs`].value, ['l2 \u00fc', 'l3'], 'node run: keepLogs');
    assert.equal(h(QD, 4).data, '{"n":1,"s":"new","f":1e-7}', 'node run: updateData');
    assert.equal(h(QD, 11).ats, '2', 'node run: delayed once');
    assert.equal(h(QD, 10).ats, '2', 'node run: rate limited once');
    assert.equal(node.state[`bull:${QD}:metrics:completed`].value.count, '9');
    assert.equal(h(QE, 1).failedReason, 'job started more than allowable limit');
    assert.equal(h(QE, 2).atm, '2');
  });
});
