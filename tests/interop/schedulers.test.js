'use strict';
// SCHEDULERS: job schedulers created from Node (Queue.upsertJobScheduler) and
// processed by echo_worker, side by side with Node's own Worker on a second
// private redis-server. The worker creates each next iteration when it takes
// the current one; both runs must produce the same iteration job ids (which
// carry the millis of each iteration), the same delayed-set scores and events,
// and the same masked Redis state, including each job's opts JSON byte for
// byte (only the creation timestamp and the relative delay inside it are masked).
// Every schedule starts at a shared startDate so both runs have the same times.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('bullmq');
const I = require('./lib/interop');
const { echoProcessor } = require('./lib/echo');
const { dumpQueue, maskWorkerState, diffStates } = require('./lib/diff');
const { maskState } = require('./lib/state');

const QN = 'sched';

// The two runs: the same setup, then Node's Worker or echo_worker until `done`.
async function runSide(t, kind, setup, done) {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const q = I.useQueue(t, redis, QN);
  await setup(q, client);
  let w;
  let cw;
  if (kind === 'node') {
    w = new Worker(QN, echoProcessor, { connection: redis.connection, concurrency: 1, name: 'w' });
    w.on('error', () => {});
  } else {
    cw = I.useWorker(t, redis, QN, ['--concurrency', '1', '--name', 'w']);
  }
  try {
    await I.waitFor(() => done(q, client), { timeout: 20000, interval: 50, what: `${kind}: schedule done` });
    await I.sleep(200);
  } catch (e) {
    if (cw) e.message += `\necho_worker stderr:\n${I.tail(cw)}`;
    throw e;
  } finally {
    if (w) await w.close();
    if (cw) {
      const r = await I.stopWorker(cw);
      assert.deepEqual(r, { code: 0, signal: null }, `echo_worker exit; stderr:\n${I.tail(cw)}`);
    }
  }
  const raw = await dumpQueue(client, [`bull:${QN}:`]);
  const events = await I.readStream(client, QN);
  return { raw, events, stderr: cw ? cw.stderrText() : '' };
}

// Masks what depends on when each run picked its jobs up: creation timestamps
// and relative delays (also inside the opts JSON, keeping its key order).
function mask(raw, extraReplace = []) {
  const m = maskWorkerState(raw);
  return maskState(m, {
    extraHashFields: ['delay'],
    replace: [[/"timestamp":\d+/g, '"timestamp":<ts>'], [/"delay":\d+/g, '"delay":<d>'], ...extraReplace],
  });
}

function iterations(events) {
  return events.filter((e) => e.event === 'added').map((e) => e.jobId);
}

function delayedDue(events) {
  return events.filter((e) => e.event === 'delayed').map((e) => `${e.jobId}@${e.delay}`);
}

async function both(t, setup, done, extraReplace) {
  const [n, c] = await Promise.all([runSide(t, 'node', setup, done), runSide(t, 'c', setup, done)]);
  const norm = (ids) => ids.map((id) => (extraReplace || []).reduce((s, [re, to]) => s.replace(re, to), id));
  assert.deepEqual(norm(iterations(c.events)), norm(iterations(n.events)), 'iteration job ids');
  assert.deepEqual(delayedDue(c.events), delayedDue(n.events), 'delayed events (absolute due times)');
  const diffs = diffStates(mask(n.raw, extraReplace), mask(c.raw, extraReplace));
  assert.deepEqual(diffs, [], `masked state differs (A = Node, B = echo_worker)\n${c.stderr}`);
  return { n, c };
}

// A start time shared by both runs, on a whole second a little ahead.
function startAt(ms = 1500) {
  return Math.ceil((Date.now() + ms) / 1000) * 1000;
}

const completedCount = async (q) => (await q.getJobCounts('completed')).completed;
const pending = async (q) => {
  const c = await q.getJobCounts('delayed', 'waiting', 'active', 'prioritized');
  return c.delayed + c.waiting + c.active + c.prioritized;
};

test('every: same iterations, delayed scores, opts and state as Node, limit stops it', async (t) => {
  const T0 = startAt();
  const { n } = await both(t,
    (q) => q.upsertJobScheduler('ev', { every: 400, startDate: T0, limit: 4 },
      { name: 'tick', data: { n: 1 }, opts: { attempts: 2, backoff: 5, removeOnFail: 3, lifo: false, tags: ['a', { b: 2 }, 3.5] } }),
    async (q) => (await completedCount(q)) === 4 && (await pending(q)) === 0);
  assert.deepEqual(iterations(n.events), [0, 400, 800, 1200].map((d) => `repeat:ev:${T0 + d}`));
});

test('cron pattern with seconds and a time zone: same iterations and state as Node', async (t) => {
  const T0 = startAt();
  const { n } = await both(t,
    (q) => q.upsertJobScheduler('cr', { pattern: '*/1 * * * * *', tz: 'America/New_York', startDate: T0, limit: 3 },
      { name: 'cron', data: { v: 'x' }, opts: { priority: 3, removeOnComplete: { count: 10 } } }),
    async (q) => (await completedCount(q)) === 3 && (await pending(q)) === 0);
  assert.deepEqual(iterations(n.events), [1000, 2000, 3000].map((d) => `repeat:cr:${T0 + d}`));
});

test('endDate ends every and pattern schedules as in Node', async (t) => {
  const T0 = startAt();
  const { n } = await both(t,
    async (q) => {
      await q.upsertJobScheduler('ev-end', { every: 500, startDate: T0, endDate: T0 + 1450 }, { name: 'a' });
      await q.upsertJobScheduler('cr-end', { pattern: '* * * * * *', startDate: T0, endDate: T0 + 2500, tz: 'Europe/Berlin' },
        { name: 'b', data: { k: [1, 2] } });
    },
    async (q) => (await completedCount(q)) === 6 && (await pending(q)) === 0);
  const ids = iterations(n.events).sort();
  assert.deepEqual(ids, [...[0, 500, 1000, 1500].map((d) => `repeat:ev-end:${T0 + d}`),
    ...[1000, 2000].map((d) => `repeat:cr-end:${T0 + d}`)].sort());
});

test('an invalid pattern in the taken job: not run, left active, no next iteration (as Node)', async (t) => {
  const T0 = startAt();
  const id = `repeat:bad:${T0 + 1000}`;
  const { n, c } = await both(t,
    async (q, cl) => {
      await q.upsertJobScheduler('bad', { pattern: '* * * * * *', startDate: T0 }, { name: 'bad' });
      const key = `bull:${QN}:${id}`;
      const opts = await cl.hget(key, 'opts');
      assert.ok(opts.includes('"pattern":"* * * * * *"'), opts);
      await cl.hset(key, 'opts', opts.replace('"pattern":"* * * * * *"', '"pattern":"61 * * * * *"'));
    },
    async (q, cl) => (await cl.lrange(`bull:${QN}:active`, 0, -1)).includes(id));
  assert.deepEqual(iterations(n.events), [id]);
  assert.match(c.stderr, /Failed to add repeatable job for next iteration/);
});

test('a scheduler removed before its job is taken, or while it runs, creates no next iteration', async (t) => {
  const T0 = startAt();
  const { n } = await both(t,
    async (q, c) => {
      // 'gone': its first job is already waiting when the scheduler is removed
      await q.upsertJobScheduler('gone', { every: 60000 }, { name: 'g' });
      await q.removeJobScheduler('gone');
      // 'slow': removed while its first iteration runs (the next one was created at pick-up)
      await q.upsertJobScheduler('slow', { every: 300, startDate: T0 }, { name: 's', data: { sleepMs: 800 } });
      const timer = setInterval(async () => {
        try {
          // once the first iteration runs and its successor exists (Node creates it in a
          // second round trip after taking the job)
          const active = await c.lrange(`bull:${QN}:active`, 0, -1);
          const next = await c.zscore(`bull:${QN}:delayed`, `repeat:slow:${T0 + 300}`);
          if (active.includes(`repeat:slow:${T0}`) && next !== null) {
            clearInterval(timer);
            await q.removeJobScheduler('slow');
          }
        } catch (_) { clearInterval(timer); }
      }, 20);
      t.after(() => clearInterval(timer));
    },
    async (q) => (await completedCount(q)) === 2 && (await pending(q)) === 0
      && (await q.getJobSchedulersCount()) === 0,
    [[/repeat:gone:\d+/g, 'repeat:gone:<ms>']]);
  // both ran 'slow' once and created its second iteration, which the removal deleted
  assert.ok(n.events.some((e) => e.event === 'removed' && e.jobId === `repeat:slow:${T0 + 300}`));
});
