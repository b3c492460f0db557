'use strict';
// echo_worker as a process: graceful SIGTERM/SIGINT while a job runs, --max-jobs,
// --prefix, bad arguments and an unreachable Redis.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const I = require('./lib/interop');

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`graceful ${sig} while a slow job runs: the job completes, no new job starts, exit 0`, { timeout: 40000 }, async (t) => {
    const redis = await I.useRedis(t);
    const qname = `graceful-${sig}`;
    const queue = I.useQueue(t, redis, qname);
    const ev = await I.useEvents(t, redis, qname);
    const slow = await queue.add('slow', { sleepMs: 1500, result: 'finished anyway' });
    const next = await queue.add('next', { v: 'must wait' });
    const w = I.useWorker(t, redis, qname, ['--concurrency', '1']);
    await ev.waitFor('active', slow.id);
    await I.sleep(200);
    const sentAt = Date.now();
    const r = await I.stopWorker(w, sig, 15000);
    assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
    const s = await I.assertCompleted(queue, slow.id, 'finished anyway');
    assert.ok(s.finishedOn >= sentAt, 'the job finished after the signal, not aborted before it');
    const n = await queue.getJob(next.id);
    assert.equal(await n.getState(), 'waiting', 'no new job taken after the signal');
    assert.equal(n.attemptsStarted, 0);
    assert.equal(await queue.getActiveCount(), 0);
    await I.waitFor(async () => (await I.workerNames(queue)).length === 0,
      { timeout: 5000, what: 'getWorkers() empty once the worker exited' });
  });
}

test('--max-jobs N: exits 0 by itself after N jobs, nothing lost', { timeout: 40000 }, async (t) => {
  const redis = await I.useRedis(t);
  const qname = 'maxjobs';
  const queue = I.useQueue(t, redis, qname);
  const jobs = await queue.addBulk(Array.from({ length: 8 }, (_, k) => ({ name: 'm', data: { k } })));
  const w = I.useWorker(t, redis, qname, ['--max-jobs', '5']);
  const r = await I.within(w.exited, 20000, null);
  assert.deepEqual(r, { code: 0, signal: null }, `exit by itself; stderr:\n${I.tail(w)}`);
  const c = await queue.getJobCounts('completed', 'failed', 'active', 'waiting');
  assert.ok(c.completed >= 5, `at least 5 completed (${c.completed})`);
  assert.equal(c.failed, 0);
  assert.equal(c.active, 0, 'no job left active');
  assert.equal(c.completed + c.waiting, 8, 'the others still waiting');
  for (let k = 0; k < 5; k++) await I.assertCompleted(queue, jobs[k].id, jobs[k].data);
});

test('--prefix: keys, events and getWorkers() under the given prefix', { timeout: 30000 }, async (t) => {
  const redis = await I.useRedis(t);
  const qname = 'prefixed';
  const queue = I.useQueue(t, redis, qname, { prefix: 'myp' });
  const ev = await I.useEvents(t, redis, qname, { prefix: 'myp' });
  const client = I.useClient(t, redis);
  const j = await queue.add('p', { result: [1, 2] });
  const w = I.useWorker(t, redis, qname, ['--prefix', 'myp', '--name', 'pw']);
  await ev.waitFor('completed', j.id);
  await I.assertCompleted(queue, j.id, [1, 2]);
  assert.deepEqual(ev.of('completed', j.id)[0].returnvalue, [1, 2]);
  assert.deepEqual(await I.workerNames(queue), [`myp:${I.b64(qname)}:w:pw`]);
  assert.deepEqual(await client.keys('bull:*'), [], 'nothing written under the default prefix');
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null });
});

function run(args, timeout = 15000) {
  I.requireEchoWorker();
  return new Promise((resolve) => {
    const p = spawn(I.ECHO_WORKER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.resume();
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr: err }); });
  });
}

test('bad arguments: non-zero exit with one line on stderr', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const url = redis.url;
  const cases = [
    ['no --queue', ['--redis', url]],
    ['unknown option', ['--redis', url, '--queue', 'q', '--bogus', '1']],
    ['missing value', ['--redis', url, '--queue']],
    ['non-numeric concurrency', ['--redis', url, '--queue', 'q', '--concurrency', 'abc']],
    ['zero concurrency', ['--redis', url, '--queue', 'q', '--concurrency', '0']],
    ['non-numeric lock duration', ['--redis', url, '--queue', 'q', '--lock-duration', '10x']],
    ['bad URL', ['--redis', 'notaurl', '--queue', 'q']],
  ];
  for (const [what, args] of cases) {
    const r = await run(args);
    assert.equal(r.signal, null, `${what}: exits by itself (not killed); stderr: ${r.stderr}`);
    assert.notEqual(r.code, 0, `${what}: non-zero exit`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  }
  // Nothing touched Redis.
  const client = I.useClient(t, redis);
  assert.deepEqual(await client.keys('*'), []);
});

test('unreachable Redis: non-zero exit with a message on stderr', { timeout: 40000 }, async () => {
  // Port 1: nothing listens there (a port just freed by freePort() could be
  // taken by a parallel test's redis-server meanwhile).
  const r = await run(['--redis', 'redis://127.0.0.1:1', '--queue', 'q'], 30000);
  assert.equal(r.signal, null, `exits by itself; stderr: ${r.stderr}`);
  assert.notEqual(r.code, 0, `non-zero exit; stderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 1, 'says why on stderr');
});

test('--redis URL with password and database number', { timeout: 30000 }, async (t) => {
  const redis = await I.useRedis(t, ['--requirepass', 's3cret']);
  const connection = { host: '127.0.0.1', port: redis.port, password: 's3cret', db: 3, maxRetriesPerRequest: null };
  const { Queue } = require('bullmq');
  const queue = new Queue('authdb', { connection });
  I.defer(t, () => queue.close().catch(() => {}));
  const j = await queue.add('a', { result: 'ok' });
  const w = I.useWorker(t, { url: `redis://:s3cret@127.0.0.1:${redis.port}/3` }, 'authdb', ['--name', 'auth']);
  await I.waitCounts(queue, (c) => c.completed === 1, 'completed on db 3', 15000);
  await I.assertCompleted(queue, j.id, 'ok');
  assert.deepEqual(await I.workerNames(queue), [`bull:${I.b64('authdb')}:w:auth`]);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);

  // A wrong password is an unreachable Redis: non-zero exit, a line on stderr.
  const bad = I.useWorker(t, { url: `redis://:wrong@127.0.0.1:${redis.port}/3` }, 'authdb');
  const rb = await I.within(bad.exited, 20000, null);
  assert.ok(rb, 'exits by itself with a wrong password');
  assert.notEqual(rb.code, 0);
  assert.ok(bad.stderrText().trim().length > 0);
});
