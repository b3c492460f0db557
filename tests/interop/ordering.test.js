'use strict';
// Processing order and retention, as phased differential runs (lib/phased.js):
// Node BullMQ 6.7.0's own Worker and echo_worker must leave the same masked
// Redis state and event sequences. On top, each test asserts the outcome it
// expects from BullMQ's rules: priorities (FIFO within one), lifo, delayed
// promotion while paused, a paused queue taking nothing, removeOnComplete /
// removeOnFail as true, n and {age, count} (job options and worker options).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Queue } = require('bullmq');
const I = require('./lib/interop');
const { differential, finished, zmembers } = require('./lib/phased');

const doneOrder = async (run, q) => (await I.readStream(run.client, q))
  .filter(finished).map((e) => e.jobId);
const nameOf = async (run, q, ids) => {
  const out = [];
  for (const id of ids) out.push(await run.client.hget(`bull:${q}:${id}`, 'name'));
  return out;
};

test('ordering: priorities (FIFO within one) and lifo at concurrency 1, as Node', { timeout: 60000 }, async (t) => {
  const Q = 'ord-prio';
  // [name, opts]; the wait list (lifo at its head) runs before prioritized jobs
  const jobs = [
    ['f1', {}], ['p3a', { priority: 3 }], ['l1', { lifo: true }], ['p1a', { priority: 1 }],
    ['f2', {}], ['p2a', { priority: 2 }], ['l2', { lifo: true }], ['p3b', { priority: 3 }],
    ['p1b', { priority: 1 }], ['f3', {}], ['p1c', { priority: 1 }], ['l3', { lifo: true }],
    ['p2b', { priority: 2 }],
  ];
  const expected = ['l3', 'l2', 'l1', 'f1', 'f2', 'f3', 'p1a', 'p1b', 'p1c', 'p2a', 'p2b', 'p3a', 'p3b'];
  const scenario = {
    queues: [Q],
    setup: async (ctx) => { for (const [n, o] of jobs) await ctx.add(Q, n, { n }, o); },
    phases: [{ queue: Q, run: (ctx) => ctx.count(Q, finished, jobs.length, 'all finished') }],
  };
  await differential(t, scenario, async (run, kind) => {
    const ids = await doneOrder(run, Q);
    assert.deepEqual(await nameOf(run, Q, ids), expected, `${kind}: processing order`);
  });
});

test('ordering: a paused queue takes no job; delayed jobs are promoted while paused and run after resume', { timeout: 60000 }, async (t) => {
  const Q = 'ord-pause';
  const scenario = {
    queues: [Q],
    setup: async (ctx) => {
      const q = new Queue(Q, { connection: ctx.redis.connection });
      try {
        await q.pause();
        await q.add('now1', { v: 1 });
        await q.add('late', { v: 'late' }, { delay: 400 });
        await q.add('now2', { v: 2 });
      } finally { await q.close(); }
    },
    phases: [{
      queue: Q,
      run: async (ctx) => {
        // promoted by the worker's fetch although the queue is paused
        await ctx.count(Q, (e) => e.event === 'waiting' && e.jobId === '2' && e.prev === 'delayed', 1, 'late promoted');
        const evs = await ctx.events(Q);
        assert.equal(evs.filter((e) => e.event === 'active').length, 0, 'nothing taken while paused');
        assert.deepEqual(await ctx.client.lrange(`bull:${Q}:wait`, 0, -1), ['2', '3', '1'], 'all three in wait');
        assert.equal(await ctx.client.zcard(`bull:${Q}:delayed`), 0);
        const q = new Queue(Q, { connection: ctx.redis.connection });
        try {
          assert.equal(await q.isPaused(), true);
          await q.resume();
        } finally { await q.close(); }
        await ctx.count(Q, finished, 3, 'all three ran after resume');
      },
    }],
  };
  await differential(t, scenario, async (run, kind) => {
    const evs = await I.readStream(run.client, Q);
    const firstActive = evs.findIndex((e) => e.event === 'active');
    const resumed = evs.findIndex((e) => e.event === 'resumed');
    assert.ok(resumed >= 0 && resumed < firstActive, `${kind}: the first job started after 'resumed'`);
    assert.deepEqual(await doneOrder(run, Q), ['1', '3', '2'], `${kind}: order (promotion LPUSHes late)`);
  });
});

test('ordering: removeOnComplete / removeOnFail as job options (true, n, {age, count})', { timeout: 60000 }, async (t) => {
  const [QC, QA] = ['keep-jc', 'keep-ja'];
  // Every job sleeps a little so that no two finish in the same millisecond.
  const byCount = [
    ['c1', { sleepMs: 3 }, { removeOnComplete: 2 }],
    ['c2', { sleepMs: 3 }, { removeOnComplete: 2 }],
    ['t1', { sleepMs: 3 }, { removeOnComplete: true }],
    ['f1', { sleepMs: 3, fail: 'f1' }, { removeOnFail: { count: 2 } }],
    ['ft', { sleepMs: 3, fail: 'ft' }, { removeOnFail: true }],
    ['f2', { sleepMs: 3, fail: 'f2' }, { removeOnFail: 1 }],
    ['c3', { sleepMs: 3 }, { removeOnComplete: { count: 2 } }],
  ];
  const byAge = [
    ['old', { sleepMs: 3 }, { removeOnComplete: { age: 1, count: 10 } }],
    ['oldf', { sleepMs: 3, fail: 'old' }, { removeOnFail: { age: 1 } }],
    // finishes more than 1 s after 'old' and 'oldf': their age is past
    ['young', { sleepMs: 1300 }, { removeOnComplete: { age: 1, count: 10 } }],
    ['young2', { sleepMs: 3 }, { removeOnComplete: { age: 1, count: 10, limit: 5 } }],
    ['youngf', { sleepMs: 3, fail: 'young' }, { removeOnFail: { age: 1, count: 5 } }],
  ];
  const scenario = {
    queues: [QC, QA],
    setup: async (ctx) => {
      for (const [n, d, o] of byCount) await ctx.add(QC, n, d, o);
      for (const [n, d, o] of byAge) await ctx.add(QA, n, d, o);
    },
    phases: [
      { queue: QC, run: (ctx) => ctx.count(QC, finished, byCount.length, 'all finished') },
      { queue: QA, run: (ctx) => ctx.count(QA, finished, byAge.length, 'all finished') },
    ],
  };
  await differential(t, scenario, async (run, kind) => {
    const names = async (q, set) => (await nameOf(run, q, zmembers(run, `bull:${q}:${set}`))).sort();
    assert.deepEqual(await names(QC, 'completed'), ['c2', 'c3'], `${kind}: completed kept by count`);
    assert.deepEqual(await names(QC, 'failed'), ['f2'], `${kind}: failed kept by count`);
    assert.equal(await run.client.exists(`bull:${QC}:3`, `bull:${QC}:5`), 0, `${kind}: 'true' jobs removed at once`);
    assert.deepEqual(await names(QA, 'completed'), ['young', 'young2'], `${kind}: completed kept by age`);
    assert.deepEqual(await names(QA, 'failed'), ['youngf'], `${kind}: failed kept by age`);
  });
});

test('ordering: removeOnComplete / removeOnFail as worker options; a job option wins', { timeout: 60000 }, async (t) => {
  const [QN, QA] = ['keep-wn', 'keep-wa'];
  const scenario = {
    queues: [QN, QA],
    setup: async (ctx) => {
      for (let i = 1; i <= 4; i++) await ctx.add(QN, `c${i}`, { sleepMs: 3 });
      await ctx.add(QN, 'keepme', { sleepMs: 3 }, { removeOnComplete: false });
      await ctx.add(QN, 'f1', { sleepMs: 3, fail: 'x' });
      await ctx.add(QN, 'f2', { sleepMs: 3, fail: 'y' }, { removeOnFail: 5 });
      await ctx.add(QN, 'c5', { sleepMs: 3 });
      await ctx.add(QA, 'a1', { sleepMs: 3 });
      await ctx.add(QA, 'af', { sleepMs: 3, fail: 'old' });
      await ctx.add(QA, 'a2', { sleepMs: 1300 });
      await ctx.add(QA, 'af2', { sleepMs: 3, fail: 'new' });
    },
    phases: [
      { queue: QN, worker: { removeOnComplete: '2', removeOnFail: 'true' }, run: (ctx) => ctx.count(QN, finished, 8, 'all finished') },
      { queue: QA, worker: { removeOnComplete: 'age=1,count=5', removeOnFail: 'age=1' }, run: (ctx) => ctx.count(QA, finished, 4, 'all finished') },
    ],
  };
  await differential(t, scenario, async (run, kind) => {
    const names = async (q, set) => (await nameOf(run, q, zmembers(run, `bull:${q}:${set}`))).sort();
    // the last completion (c5) trims to 2 by count, counting 'keepme' among them
    assert.deepEqual(await names(QN, 'completed'), ['c5', 'keepme'], `${kind}: ${QN} completed`);
    assert.deepEqual(await names(QN, 'failed'), ['f2'], `${kind}: ${QN} failed (f1 removed at once)`);
    assert.deepEqual(await names(QA, 'completed'), ['a2'], `${kind}: ${QA} completed by age`);
    assert.deepEqual(await names(QA, 'failed'), ['af2'], `${kind}: ${QA} failed by age`);
  });
});
