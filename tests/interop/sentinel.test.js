'use strict';
// SENTINEL: the C worker and the C producer against a real master + replica
// watched by three sentinels (lib/topology.js startSentinel), reached through
// redis-sentinel:// and rediss-sentinel:// URLs. Each test checks, from
// outside, what a user relies on when the master dies or is demoted: no job
// lost, none failed, the worker process still up and following the new
// master, and a clean exit afterwards. Completions written on a master that
// dies before they reach its replica are lost with it: those jobs come back
// through the stalled checker and run again (at-least-once), so the tests
// assert the final state, not exactly-once events.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Worker } = require('bullmq');
const I = require('./lib/interop');
const T = require('./lib/topology');

const TEST_TIMEOUT = 120000;

// Short locks and frequent stalled checks, so that jobs whose completion was
// lost with the old master are requeued soon; a job may stall more than once
// across a failover without failing for it.
const STURDY = ['--lock-duration', '5000', '--stalled-interval', '3000', '--max-stalled-count', '1000'];

let certs;
before(() => { certs = T.makeCerts(); });
after(() => { if (certs) certs.cleanup(); });

// A sentinel trio for one test, stopped and removed when the test ends (its
// cleanup is registered first, so it runs after the clients are closed).
async function useSentinel(t, opts = {}) {
  const s = await T.startSentinel(opts);
  I.defer(t, () => s.cleanup());
  return s;
}

function jobs(from, n, data = {}) {
  return Array.from({ length: n }, (_, k) => ({ name: 'j', data: { i: from + k, ...data } }));
}

// -1 while ioredis's sentinel connection is being replaced under it (it rejects the commands in
// flight with "Connection is closed."): a poll that says "not yet" rather than a failure.
async function completedCount(queue) {
  try {
    return (await queue.getJobCounts('completed')).completed;
  } catch (e) {
    if (/Connection is closed|ECONNRESET|ECONNREFUSED/.test(e.message)) return -1;
    throw e;
  }
}

// Waits until `n` jobs are completed; the message carries the worker's stderr.
async function waitCompleted(queue, n, w, timeout = 60000) {
  try {
    await I.waitFor(async () => (await completedCount(queue)) >= n,
      { timeout, interval: 50, what: `${n} jobs completed` });
  } catch (e) {
    let counts = '?';
    try { counts = JSON.stringify(await queue.getJobCounts()); } catch (_) { /* unreachable */ }
    e.message += ` (counts ${counts}; worker ${w && w.done ? 'exited' : 'running'}; stderr:\n${w ? I.tail(w, 40) : ''})`;
    throw e;
  }
}

// Every job ended completed: nothing waiting, active, delayed, prioritized or
// failed.
async function assertAllCompleted(queue, n, w) {
  const counts = await queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed',
    'prioritized', 'waiting-children', 'paused');
  assert.deepEqual(counts, {
    completed: n, failed: 0, wait: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, paused: 0,
  }, `final counts; stderr:\n${I.tail(w, 40)}`);
}

// Every job 1..n is completed with its own data as the result (echo_worker
// returns the data).
async function assertEchoed(queue, n) {
  const done = await queue.getJobs(['completed'], 0, -1);
  assert.equal(done.length, n);
  const ids = done.map((j) => Number(j.id)).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: n }, (_, k) => k + 1), 'job ids 1..n');
  for (const j of done) assert.deepEqual(j.returnvalue, j.data, `job ${j.id} returnvalue`);
  return done;
}

function assertFollowed(w, port) {
  assert.equal(w.done, false, `echo_worker exited during the failover; stderr:\n${I.tail(w, 40)}`);
  assert.match(w.stderrText(), new RegExp(`reconnected to Redis at 127\\.0\\.0\\.1:${port}\\b`),
    `stderr shows the worker followed to ${port}:\n${I.tail(w, 40)}`);
}

async function assertCleanExit(w) {
  const r = await I.stopWorker(w, 'SIGTERM', 20000);
  assert.deepEqual(r, { code: 0, signal: null }, `exit status; stderr:\n${I.tail(w, 40)}`);
}

function report(what) {
  if (I.VERBOSE) console.log(what);
}

test('failover under load: 2,000 jobs, master SIGKILLed midway, every job completed on the promoted replica',
  { timeout: TEST_TIMEOUT }, async (t) => {
    const s = await useSentinel(t);
    const qname = 'sfail';
    const N = 2000;
    const queue = I.useQueue(t, s, qname);
    await queue.addBulk(jobs(1, N).map((j, k) => ({ ...j, data: { ...j.data, sleepMs: 5 + (k % 6) } })));
    // The producer's adds reached the replica before anything runs.
    await s.waitReplicated();
    assert.equal(await s.nodeCommand(s.replica.port, 'LLEN', `bull:${qname}:wait`), N);

    const w = I.useWorker(t, s, qname, ['--concurrency', '8', '--name', 'c-sentinel', ...STURDY]);
    let atKill = 0;
    await I.waitFor(async () => {
      atKill = await completedCount(queue);
      return atKill >= 300;
    }, { timeout: 60000, interval: 20, what: '300 jobs completed before the kill' });
    assert.ok(atKill < N, `the kill comes midway (${atKill} completed)`);
    assert.equal(w.done, false);

    const old = await s.killMaster();
    assert.equal(old, s.master.port);
    const now = await s.waitFailover(old, 30000);
    assert.equal(now, s.replica.port);
    report(`failover: ${atKill} completed at the kill, ` +
      `${await s.nodeCommand(now, 'ZCARD', `bull:${qname}:completed`)} on the promoted replica`);

    await waitCompleted(queue, N, w, 90000);
    await assertAllCompleted(queue, N, w);
    // The promoted replica itself holds every result.
    assert.equal(T.parseInfo(await s.nodeCommand(now, 'INFO', 'replication')).role, 'master');
    assert.equal(await s.nodeCommand(now, 'ZCARD', `bull:${qname}:completed`), N);
    const done = await assertEchoed(queue, N);
    for (const j of done) assert.equal(j.processedBy, 'c-sentinel', `job ${j.id} processedBy`);
    report(`jobs run more than once: ${done.filter((j) => j.attemptsStarted > 1).length}`);

    assertFollowed(w, now);
    await assertCleanExit(w);
  });

test('producer through sentinel: bullc_enqueue adds before and after a failover, Node reads them back',
  { timeout: TEST_TIMEOUT }, async (t) => {
    const s = await useSentinel(t);
    const qname = 'sprod';
    const queue = I.useQueue(t, s, qname);
    const added = []; // [id, name, data]

    const addAll = async (phase) => {
      for (let k = 0; k < 3; k++) {
        const name = `${phase}-${k}`;
        const data = { phase, k, s: 'x/y "q" \u00fc' };
        const r = await I.enqueue(s.url, qname, [name, JSON.stringify(data)]);
        assert.equal(r.code, 0, `bullc_enqueue ${name}: ${r.stderr}`);
        added.push([r.stdout.trim(), name, data]);
      }
      const bulk = Array.from({ length: 20 }, (_, k) => ({ name: `${phase}-bulk`, data: { phase, bulk: k } }));
      const r = await I.enqueue(s.url, qname, ['--bulk', '-'], {
        input: `${bulk.map((j) => JSON.stringify(j)).join('\n')}\n`,
      });
      assert.equal(r.code, 0, `bullc_enqueue --bulk: ${r.stderr}`);
      const ids = r.stdout.trim().split('\n');
      assert.equal(ids.length, bulk.length);
      ids.forEach((id, k) => added.push([id, bulk[k].name, bulk[k].data]));
    };

    await addAll('before');
    await s.waitReplicated();
    const old = await s.killMaster();
    const now = await s.waitFailover(old, 30000);
    assert.equal(now, s.replica.port);
    await addAll('after');

    // Ids go on from where the old master left them: 1..46, none reused.
    assert.deepEqual(added.map(([id]) => id), Array.from({ length: 46 }, (_, k) => String(k + 1)));
    for (const [id, name, data] of added) {
      const job = await queue.getJob(id);
      assert.ok(job, `job ${id} exists`);
      assert.equal(job.name, name, `job ${id} name`);
      assert.deepEqual(job.data, data, `job ${id} data`);
      assert.equal(await job.getState(), 'waiting', `job ${id} state`);
    }
    assert.equal(await s.nodeCommand(now, 'LLEN', `bull:${qname}:wait`), 46);
    // The producer's readers follow the sentinels too.
    const c = await I.enqueue(s.url, qname, ['--counts']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).waiting, 46);
    const st = await I.enqueue(s.url, qname, ['--state', '46']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.stdout.trim(), 'waiting');
  });

test('Node Worker and C worker share one queue through the sentinels: all completed, both did some',
  { timeout: TEST_TIMEOUT }, async (t) => {
    const s = await useSentinel(t);
    const qname = 'sshare';
    const N = 400;
    const queue = I.useQueue(t, s, qname);
    const nodeWorker = new Worker(qname, async (job) => {
      await I.sleep(job.data.sleepMs);
      return { ...job.data, by: 'node' };
    }, { connection: s.connection, concurrency: 4, name: 'node-side' });
    nodeWorker.on('error', () => {});
    I.defer(t, () => I.within(nodeWorker.close(true), 10000));
    const w = I.useWorker(t, s, qname, ['--concurrency', '4', '--name', 'c-side', ...STURDY]);
    // Both listed before any job exists, so neither drains the queue alone.
    const base = `bull:${I.b64(qname)}:w:`;
    await I.waitFor(async () => {
      const names = await I.workerNames(queue);
      return names.includes(`${base}c-side`) && names.includes(`${base}node-side`);
    }, { timeout: 20000, interval: 50, what: 'both workers listed by getWorkers()' });

    await queue.addBulk(jobs(1, N, { sleepMs: 10 }));
    await waitCompleted(queue, N, w);
    await assertAllCompleted(queue, N, w);

    const done = await queue.getJobs(['completed'], 0, -1);
    assert.equal(done.length, N);
    let byNode = 0;
    let byC = 0;
    for (const j of done) {
      if (j.returnvalue && j.returnvalue.by === 'node') {
        byNode++;
        assert.deepEqual(j.returnvalue, { ...j.data, by: 'node' });
        assert.equal(j.processedBy, 'node-side');
      } else {
        byC++;
        assert.deepEqual(j.returnvalue, j.data, `job ${j.id} returnvalue`);
        assert.equal(j.processedBy, 'c-side', `job ${j.id} processedBy`);
      }
    }
    report(`shared: node ${byNode}, c ${byC}`);
    assert.ok(byNode > 0, 'the Node Worker completed some');
    assert.ok(byC > 0, 'the C worker completed some');
    assert.equal(w.done, false);
    await assertCleanExit(w);
  });

test('rediss-sentinel: echo_worker with --tls-ca completes jobs across a failover',
  { timeout: TEST_TIMEOUT }, async (t) => {
    const s = await useSentinel(t, { tls: certs });
    assert.match(s.url, /^rediss-sentinel:\/\//);
    const qname = 'stls';
    const N = 300;
    const queue = I.useQueue(t, s, qname);
    await queue.addBulk(jobs(1, N, { sleepMs: 10 }));
    await s.waitReplicated();

    const w = I.useWorker(t, s, qname, ['--concurrency', '4', '--tls-ca', certs.ca, ...STURDY]);
    let atKill = 0;
    await I.waitFor(async () => {
      atKill = await completedCount(queue);
      return atKill >= 60;
    }, { timeout: 60000, interval: 20, what: '60 jobs completed over TLS before the kill' });
    assert.ok(atKill < N, `the kill comes midway (${atKill} completed)`);

    const old = await s.killMaster();
    const now = await s.waitFailover(old, 30000);
    assert.equal(now, s.replica.port);
    await waitCompleted(queue, N, w, 90000);
    await assertAllCompleted(queue, N, w);
    await assertEchoed(queue, N);
    assert.equal(await s.nodeCommand(now, 'ZCARD', `bull:${qname}:completed`), N);
    assertFollowed(w, now);
    await assertCleanExit(w);
  });

test('demoted master (READONLY): the worker leaves it for the promoted replica; later jobs complete there',
  { timeout: TEST_TIMEOUT }, async (t) => {
    const s = await useSentinel(t);
    const qname = 'sdemote';
    const queue = I.useQueue(t, s, qname);
    const w = I.useWorker(t, s, qname, ['--concurrency', '4', ...STURDY]);
    // Jobs still running when the master is demoted: their completions are
    // writes the old master refuses.
    await queue.addBulk(jobs(1, 60, { sleepMs: 150 }));
    await I.waitFor(async () => (await completedCount(queue)) >= 8,
      { timeout: 30000, interval: 20, what: '8 jobs completed before the demotion' });
    await s.waitReplicated();

    // A manual failover: the sentinels promote the replica; the old master is
    // demoted by hand at once (REPLICAOF, unlike the sentinels' own demotion,
    // leaves its clients connected), so the worker's connections to it stay
    // open and the next writes on them get READONLY.
    const old = s.master.port;
    assert.equal(await s.sentinelCommand('failover', s.masterName), 'OK');
    await I.waitFor(async () => T.parseInfo(await s.nodeCommand(s.replica.port, 'INFO', 'replication'))
      .role === 'master', { timeout: 20000, interval: 10, what: 'the replica promoted' });
    assert.equal(await s.nodeCommand(old, 'REPLICAOF', '127.0.0.1', s.replica.port), 'OK');
    const now = await s.waitFailover(old, 30000);
    assert.equal(now, s.replica.port);
    await I.waitFor(async () => {
      const info = T.parseInfo(await s.nodeCommand(old, 'INFO', 'replication'));
      return info.role === 'slave' && Number(info.master_port) === now && info.master_link_status === 'up';
    }, { timeout: 20000, interval: 50, what: 'the old master replicating the new one' });

    // Jobs added now, through a fresh connection that asks the sentinels.
    const later = new Queue(qname, { connection: s.connection });
    later.on('error', () => {});
    I.defer(t, () => later.close().catch(() => {}));
    await later.addBulk(jobs(61, 40, { sleepMs: 5 }));
    await waitCompleted(later, 100, w, 60000);
    await assertAllCompleted(later, 100, w);
    await assertEchoed(later, 100);
    assert.equal(await s.nodeCommand(now, 'ZCARD', `bull:${qname}:completed`), 100);
    // The path taken was READONLY: the demoted node refused writes (only the
    // worker still wrote there; Node's adds went through a new connection).
    const errs = T.parseInfo(await s.nodeCommand(old, 'INFO', 'errorstats'));
    report(`old master errorstats: ${JSON.stringify(errs)}`);
    const readonly = Number((/count=(\d+)/.exec(errs.errorstat_READONLY || '') || [])[1] || 0);
    assert.ok(readonly >= 1, `the old master refused writes with READONLY (${JSON.stringify(errs)})`);
    assert.equal(w.done, false, `echo_worker exited; stderr:\n${I.tail(w, 40)}`);
    await assertCleanExit(w);
  });
