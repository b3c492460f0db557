'use strict';
// Many jobs through echo_worker at concurrency 1 and 8: every job completed
// exactly once with the right return value, the right events, getWorkers()
// lists the C worker, concurrency 1 is serial and FIFO, concurrency 8 runs in
// parallel but never more than 8 at once.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');

const N = 500;

// Data of job i (1-based) and the value echo_worker must return for it.
function jobSpec(i) {
  switch (i % 5) {
    case 0: return { data: { i, result: i * 2 }, ret: i * 2 };
    case 1: return { data: { i, tag: `t${i}` }, ret: { i, tag: `t${i}` } };
    case 2: return { data: `s${i}`, ret: `s${i}` };
    case 3: return { data: [i, null, true], ret: [i, null, true] };
    default: return { data: { i, result: { nested: [i], ok: true } }, ret: { nested: [i], ok: true } };
  }
}

async function runMany(t, concurrency) {
  const redis = await I.useRedis(t);
  const qname = `many-c${concurrency}`;
  const queue = I.useQueue(t, redis, qname);
  const ev = await I.useEvents(t, redis, qname);
  const specs = [];
  for (let i = 1; i <= N; i++) specs.push(jobSpec(i));
  const added = await queue.addBulk(specs.map((s, k) => ({ name: `job${k % 3}`, data: s.data })));
  assert.equal(added.length, N);
  const ids = added.map((j) => j.id);

  const name = `cw${concurrency}`;
  const w = I.useWorker(t, redis, qname, ['--concurrency', String(concurrency), '--name', name]);

  // getWorkers() lists the C worker by name while it runs.
  const want = `bull:${I.b64(qname)}:w:${name}`;
  await I.waitFor(async () => (await I.workerNames(queue)).includes(want),
    { timeout: 10000, what: `getWorkers() to list ${want}` });
  // Only the blocking connection carries the name (as in Node): one entry.
  assert.deepEqual(await I.workerNames(queue), [want], 'one getWorkers() entry per worker');

  const counts = await I.waitCounts(queue, (c) => c.completed === N, `${N} completed`, 60000);
  assert.equal(counts.failed, 0);
  assert.equal(counts.active, 0);
  assert.equal(counts.waiting, 0);
  assert.equal(w.done, false, `worker still running; stderr:\n${I.tail(w)}`);

  const jobs = [];
  for (let k = 0; k < N; k++) {
    jobs.push(await I.assertCompleted(queue, ids[k], specs[k].ret));
  }

  // Events: one active and one completed (with the return value) per job.
  await ev.waitFor('completed', undefined, N);
  await ev.waitFor('drained');
  const completed = ev.of('completed');
  assert.equal(completed.length, N, 'completed events');
  const seen = new Map();
  for (const e of completed) {
    assert.ok(!seen.has(e.jobId), `job ${e.jobId} completed twice`);
    seen.set(e.jobId, e);
    assert.equal(e.prev, 'active');
  }
  for (let k = 0; k < N; k++) {
    assert.deepEqual(seen.get(ids[k]).returnvalue, specs[k].ret, `completed event of ${ids[k]}`);
  }
  assert.equal(ev.of('active').length, N, 'active events');
  assert.equal(ev.of('failed').length, 0, 'failed events');

  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
  // Its named connection is gone once it stopped.
  await I.waitFor(async () => !(await I.workerNames(queue)).includes(want),
    { timeout: 5000, what: 'getWorkers() to drop the stopped worker' });
  return jobs;
}

test(`concurrency 1: ${N} jobs completed in FIFO order, one at a time`, { timeout: 90000 }, async (t) => {
  const jobs = await runMany(t, 1);
  // Serial: each job starts no earlier than the previous one finished, and
  // in the order they were added (FIFO).
  for (let k = 1; k < jobs.length; k++) {
    assert.ok(jobs[k].processedOn >= jobs[k - 1].finishedOn,
      `job ${jobs[k].id} started (${jobs[k].processedOn}) before ${jobs[k - 1].id} finished (${jobs[k - 1].finishedOn})`);
  }
  for (const j of jobs) assert.equal(j.attemptsStarted, 1, `job ${j.id} attemptsStarted`);
});

test(`concurrency 8: ${N} jobs completed`, { timeout: 90000 }, async (t) => {
  const jobs = await runMany(t, 8);
  for (const j of jobs) assert.equal(j.attemptsStarted, 1, `job ${j.id} attemptsStarted`);
});

test('concurrency 8: slow jobs run in parallel, never more than 8 at once', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const qname = 'parallel';
  const queue = I.useQueue(t, redis, qname);
  const M = 40;
  const added = await queue.addBulk(
    Array.from({ length: M }, (_, k) => ({ name: 'slow', data: { sleepMs: 250, k } })),
  );
  const w = I.useWorker(t, redis, qname, ['--concurrency', '8']);

  // Unnamed worker: listed under the bare client name.
  const want = `bull:${I.b64(qname)}`;
  await I.waitFor(async () => (await I.workerNames(queue)).includes(want),
    { timeout: 10000, what: `getWorkers() to list ${want}` });

  let maxActive = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      maxActive = Math.max(maxActive, await queue.getActiveCount());
      await I.sleep(15);
    }
  })();
  try {
    await I.waitCounts(queue, (c) => c.completed === M, `${M} completed`, 40000);
  } finally {
    done = true;
    await sampler;
  }
  assert.ok(maxActive <= 8, `at most 8 active at once, sampled ${maxActive}`);
  assert.ok(maxActive > 1, `more than one active at once, sampled ${maxActive}`);

  // The same from the jobs' own [processedOn, finishedOn) intervals.
  const jobs = [];
  for (const a of added) jobs.push(await I.assertCompleted(queue, a.id, a.data));
  const points = [];
  for (const j of jobs) {
    assert.ok(j.finishedOn - j.processedOn >= 250, `job ${j.id} took at least sleepMs`);
    points.push([j.processedOn, 1], [j.finishedOn, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of points) { cur += d; peak = Math.max(peak, cur); }
  assert.ok(peak <= 8, `overlapping jobs ${peak} <= 8`);
  assert.ok(peak > 1, `overlapping jobs ${peak} > 1`);

  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null });
});
