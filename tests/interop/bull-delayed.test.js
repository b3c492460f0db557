'use strict';
// Legacy Bull 4: an idle echo_worker --protocol bull promotes delayed jobs
// when they fall due, not on its periodic guard tick (every 5 s): it listens
// on the queue's `delayed` channel, where every writer of the delayed set
// publishes the due time (docs/bull.md §4.7): a Node producer's delay, a
// handler's move to delayed, a Node Bull worker's backoff. The bounds are
// generous (1 s) and only catch a promotion left to the guard tick.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const Bull = require('bull');
const I = require('./lib/interop');

const BULL = ['--protocol', 'bull'];
const LATE_MS = 1000;

function useBull(t, redis, name) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port } });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  return q;
}

async function workerUp(q) {
  await I.waitFor(async () => ((await q.getWorkers()) || []).length === 1, { what: 'worker up' });
  // past the start-up tick: from now on only the guard tick or a message promotes
  await I.sleep(1200);
}

test('bull delayed: a job a Node producer delays runs within a second of its due time', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bd1');
  const w = I.useWorker(t, redis, 'bd1', BULL);
  await workerUp(q);
  const lateness = [];
  // one after the other: each added just after the previous promotion, mid-way between two
  // guard ticks
  for (const delay of [2500, 2500, 3000]) {
    const job = await q.add({ result: delay }, { delay });
    await I.waitFor(async () => (await q.getJob(job.id)).finishedOn, { what: `job with delay ${delay} done`, timeout: 15000 });
    const done = await q.getJob(job.id);
    assert.equal(done.returnvalue, delay);
    const late = done.processedOn - (done.timestamp + delay);
    assert.ok(late >= 0, `not before its due time (${late} ms)`);
    lateness.push(late);
  }
  assert.ok(lateness.every((l) => l <= LATE_MS), `promoted on time: lateness ${lateness} ms\n${I.tail(w)}`);
});

test('bull delayed: a job its handler moved to delayed comes back within a second', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bd2');
  const w = I.useWorker(t, redis, 'bd2', BULL);
  await workerUp(q);
  // the handler moves the job to delayed on every run (Bull counts no starts): each run's
  // processedOn follows the previous due time
  const job = await q.add({ delayMs: 2500 });
  const client = q.client;
  const dues = [];
  for (let round = 0; round < 2; round++) {
    const due = await I.waitFor(async () => {
      const s = await client.zscore('bull:bd2:delayed', job.id);
      const d = s === null ? 0 : Math.floor(Number(s) / 4096);
      return d > (dues[dues.length - 1] || 0) ? d : 0;
    }, { what: 'the job in delayed', interval: 20, timeout: 15000 });
    dues.push(due);
    const started = await I.waitFor(async () => {
      const p = Number(await client.hget(`bull:bd2:${job.id}`, 'processedOn'));
      return p >= due ? p : 0;
    }, { what: 'the job started again', interval: 20, timeout: 15000 });
    const late = started - due;
    assert.ok(late <= LATE_MS, `round ${round}: started ${late} ms after its due time\n${I.tail(w)}`);
  }
});

test('bull delayed: the worker subscribes again after losing its subscriber connection', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bd3');
  const w = I.useWorker(t, redis, 'bd3', BULL);
  await workerUp(q);
  const numsub = async () => Number((await q.client.pubsub('NUMSUB', 'bull:bd3:delayed'))[1]);
  await I.waitFor(async () => (await numsub()) === 1, { what: 'the worker listens on the delayed channel' });
  await q.client.client('KILL', 'TYPE', 'pubsub');
  await I.waitFor(() => /subscribed again/.test(w.stderrText()), { what: 'subscribed again', timeout: 15000 });
  assert.equal(await numsub(), 1);
  await I.sleep(1200); // past the tick the new subscription runs
  const job = await q.add({ result: 'after' }, { delay: 2500 });
  await I.waitFor(async () => (await q.getJob(job.id)).finishedOn, { what: 'job done', timeout: 15000 });
  const done = await q.getJob(job.id);
  const late = done.processedOn - (done.timestamp + 2500);
  assert.ok(late >= 0 && late <= LATE_MS, `started ${late} ms after its due time\n${I.tail(w)}`);
});

test('bull delayed: a retry a Node Bull handler backs off elsewhere is run by the idle C worker on time', async (t) => {
  const redis = await I.useRedis(t);
  const q = useBull(t, redis, 'bd4');
  const w = I.useWorker(t, redis, 'bd4', BULL);
  await workerUp(q);
  // paused locally (it still promotes delayed jobs); after one drain delay its last blocking
  // pop has returned, so Node's worker gets the job
  w.kill('SIGUSR1');
  await I.sleep(5500);
  const nodeWorker = useBull(t, redis, 'bd4');
  const failed = new Promise((resolve) => nodeWorker.once('failed', resolve));
  nodeWorker.process(async (job) => {
    if (job.attemptsMade === 0) throw new Error('first try fails');
    return 'node';
  });
  const job = await q.add({ result: 'c' }, { attempts: 2, backoff: 1200 });
  await failed;
  await nodeWorker.close(); // its own delay timer goes with it
  const score = await q.client.zscore('bull:bd4:delayed', job.id);
  assert.ok(score !== null, 'the retry waits in delayed');
  const due = Math.floor(Number(score) / 4096);
  w.kill('SIGUSR2');
  await I.waitFor(async () => (await q.getJob(job.id)).finishedOn, { what: 'retry done', timeout: 15000 });
  const done = await q.getJob(job.id);
  assert.equal(done.returnvalue, 'c', 'the C worker ran the retry');
  const late = done.processedOn - due;
  assert.ok(late >= 0 && late <= LATE_MS, `started ${late} ms after its due time\n${I.tail(w)}`);
});
