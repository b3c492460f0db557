'use strict';
// Isolated handlers (echo_worker --isolate, README "Isolated handlers"): handlers run in
// handler processes, so a handler that dies fails its own job at once (a normal failure,
// retried per `attempts`, its reason naming the signal or exit status), with no stalled check,
// while the worker process (same pid) and the other jobs go on, and a replacement process takes
// the next jobs. --handler-timeout kills an overrunning process; --isolate-memory-mb limits
// what one may allocate. The calls a handler makes (progress, logs, updateData, moveToDelayed,
// retries, unrecoverable failures) leave Redis exactly as the same handler run inline does
// (a differential against a second, inline, worker). SIGTERM stops the worker with no process
// left behind. One case on the Bull protocol.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const Bull = require('bull');
const I = require('./lib/interop');

// Every process below `pid` (its children, theirs, ...), from /proc.
function descendants(pid) {
  const parent = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(rest[1]));
    } catch (_) { /* gone meanwhile */ }
  }
  const out = [];
  const walk = (p) => {
    for (const [child, ppid] of parent) if (ppid === p) { out.push(child); walk(child); }
  };
  walk(pid);
  return out;
}

const alive = (pid) => fs.existsSync(`/proc/${pid}`);

async function waitDone(queue, ids, timeout = 30000) {
  await I.waitFor(async () => {
    const states = await Promise.all(ids.map(async (id) => (await queue.getJob(id)).getState()));
    return states.every((s) => s === 'completed' || s === 'failed');
  }, { timeout, interval: 50, what: `jobs ${ids.join(',')} finished` });
}

test('crashing handlers fail their own jobs (signal or exit status named); the worker and other jobs go on', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const queue = I.useQueue(t, redis, 'isocrash');
  const w = I.useWorker(t, redis, 'isocrash', ['--isolate', '--concurrency', '3']);
  await I.waitFor(() => /handler processes started/.test(w.stderrText()), { what: 'handler processes' });
  const before = descendants(w.pid).length;
  assert.equal(before, 4, 'a fork server and one handler process per slot');
  const segv = await queue.add('segv', { crash: 'segv' }, { attempts: 2 });
  const abrt = await queue.add('abort', { crash: 'abort' }, { attempts: 2 });
  const exit = await queue.add('exit', { crash: 'exit' });
  const fine = [];
  for (let i = 0; i < 6; i++) fine.push(await queue.add('ok', { i }));
  await waitDone(queue, [segv.id, abrt.id, exit.id, ...fine.map((j) => j.id)]);
  await I.assertFailed(queue, segv.id, 'handler process killed by SIGSEGV', { attemptsMade: 2 });
  await I.assertFailed(queue, abrt.id, 'handler process killed by SIGABRT', { attemptsMade: 2 });
  await I.assertFailed(queue, exit.id, 'handler process exited with status 3');
  for (const j of fine) await I.assertCompleted(queue, j.id, { i: j.data.i });
  // replacements take the next jobs
  const after = [];
  for (let i = 0; i < 6; i++) after.push(await queue.add('after', { n: i }));
  await waitDone(queue, after.map((j) => j.id));
  for (const j of after) await I.assertCompleted(queue, j.id, { n: j.data.n });
  // failed at once, not through the stalled check; the same worker process throughout
  const stream = await I.readStream(client, 'isocrash');
  assert.equal(stream.filter((e) => e.event === 'stalled').length, 0);
  assert.equal(stream.filter((e) => e.event === 'failed').length, 3);
  assert.equal(w.done, false, 'the worker is still running');
  assert.equal(descendants(w.pid).length, 4, 'crashed processes were replaced and reaped');
  assert.match(w.stderrText(), /job \d+: handler process killed by SIGSEGV; starting a replacement/);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
});

test('--handler-timeout kills a hung handler; --isolate-memory-mb fails an allocation past it', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'isolimit');
  // under a sanitizer (make asan / make tsan) an allocation refused under the limit returns NULL
  // as malloc's does, instead of the sanitizer reporting it and exiting; no effect on a plain build
  const mayReturnNull = (name) => ({
    [name]: `${process.env[name] ? `${process.env[name]}:` : ''}allocator_may_return_null=1`,
  });
  const w = I.useWorker(t, redis, 'isolimit',
    ['--isolate', '--concurrency', '2', '--handler-timeout', '1000', '--isolate-memory-mb', '64'],
    { ...mayReturnNull('ASAN_OPTIONS'), ...mayReturnNull('TSAN_OPTIONS') });
  const hang = await queue.add('hang', { hang: true });
  const t0 = Date.now();
  await I.waitFor(async () => (await hang.getState()) === 'failed', { timeout: 15000, what: 'hung job failed' });
  assert.ok(Date.now() - t0 < 10000, 'failed soon after its 1000 ms');
  await I.assertFailed(queue, hang.id, 'handler process timed out after 1000 ms (killed)');
  const big = await queue.add('big', { allocMb: 512 }, { attempts: 2 });
  const small = await queue.add('small', { allocMb: 8, v: 1 });
  await waitDone(queue, [big.id, small.id]);
  const failed = await queue.getJob(big.id);
  assert.equal(failed.attemptsMade, 2);
  if (process.env.BULLC_SANITIZER === 'tsan') {
    // ThreadSanitizer defers signals to its own handler, whose work replaces errno before the
    // handler process can read ENOMEM from it: the death is still reported, the cause is not
    assert.match(failed.failedReason, /^handler process (hit its memory limit \(64 MB\) and was )?killed by SIGABRT$/);
  } else {
    assert.match(failed.failedReason, /^handler process hit its memory limit \(64 MB\) and was killed by SIGABRT$/);
  }
  await I.assertCompleted(queue, small.id, { allocMb: 8, v: 1 });
  // the slots still work
  const next = await queue.add('next', { v: 2 });
  await waitDone(queue, [next.id]);
  await I.assertCompleted(queue, next.id, { v: 2 });
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
});

// What a job left in Redis, without its times and id.
async function outcome(queue, id) {
  const j = await queue.getJob(id);
  return {
    state: await j.getState(), returnvalue: j.returnvalue, failedReason: j.failedReason,
    attemptsMade: j.attemptsMade, progress: j.progress, data: j.data,
    logs: (await queue.getJobLogs(id)).logs,
  };
}

test('calls from an isolated handler leave Redis as the same handler run inline does', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const cases = [
    ['progress', { progress: [10, { step: 2 }, 100], result: 'p' }, {}],
    ['logs', { logs: ['one', 'two', 3] }, { keepLogs: 2 }],
    ['update', { updateData: { replaced: true, n: 7 } }, {}],
    ['retry', { failAttempts: 2, result: 'third' }, { attempts: 3 }],
    ['unrecoverable', { unrecoverable: 'no way' }, { attempts: 3 }],
    ['fail', { fail: 'plain' }, { attempts: 2 }],
    ['delayed', { delayMs: 300, delayTimes: 1, result: 'late' }, {}],
    ['spin', { spinMs: 50, result: 'spun' }, {}],
  ];
  const results = {};
  for (const mode of ['inline', 'isolated']) {
    const name = `isocalls${mode}`;
    const queue = I.useQueue(t, redis, name);
    I.useWorker(t, redis, name, mode === 'isolated' ? ['--isolate', '--concurrency', '4'] : ['--concurrency', '4']);
    const ids = [];
    for (const [n, data, opts] of cases) ids.push((await queue.add(n, data, opts)).id);
    await waitDone(queue, ids);
    results[mode] = await Promise.all(ids.map((id) => outcome(queue, id)));
  }
  assert.deepEqual(results.isolated, results.inline);
  // and what they are
  const byName = Object.fromEntries(cases.map(([n], i) => [n, results.isolated[i]]));
  assert.equal(byName.progress.progress, 100);
  assert.deepEqual(byName.logs.logs, ['two', '3']);
  assert.deepEqual(byName.update.returnvalue, { replaced: true, n: 7 });
  assert.equal(byName.retry.attemptsMade, 3);
  assert.equal(byName.retry.returnvalue, 'third');
  assert.equal(byName.unrecoverable.attemptsMade, 1);
  assert.equal(byName.delayed.returnvalue, 'late');
});

test('SIGTERM: a running job completes, the worker exits 0 and no handler process is left', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'isostop');
  const w = I.useWorker(t, redis, 'isostop', ['--isolate', '--concurrency', '2']);
  const job = await queue.add('slow', { sleepMs: 800, v: 1 });
  await I.waitFor(async () => (await job.getState()) === 'active', { what: 'job active' });
  const procs = descendants(w.pid);
  assert.equal(procs.length, 3);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
  await I.assertCompleted(queue, job.id, { sleepMs: 800, v: 1 });
  assert.deepEqual(procs.filter(alive), [], 'every handler process and the fork server exited');
});

test('Bull protocol: a crashing handler fails its job; the next one completes', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const q = new Bull('isobull', { redis: { host: '127.0.0.1', port: redis.port } });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  const w = I.useWorker(t, redis, 'isobull', ['--protocol', 'bull', '--isolate']);
  const crash = await q.add({ crash: 'segv' }, { attempts: 2 });
  const ok = await q.add({ v: 3 });
  await I.waitFor(async () => (await ok.getState()) === 'completed', { timeout: 20000, what: 'ok completed' });
  await I.waitFor(async () => (await crash.getState()) === 'failed', { timeout: 20000, what: 'crash failed' });
  const failed = await q.getJob(crash.id);
  assert.equal(failed.failedReason, 'handler process killed by SIGSEGV');
  assert.equal(failed.attemptsMade, 2);
  assert.deepEqual((await q.getJob(ok.id)).returnvalue, { v: 3 });
  assert.equal(w.done, false);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
});

test('Bull protocol: a job past its `timeout` fails when the timer runs out, as Node Bull fails it; the slot takes the next job', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const q = new Bull('isotime', { redis: { host: '127.0.0.1', port: redis.port } });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  // concurrency 1: the next job can only run once the hung one's slot is free again
  const w = I.useWorker(t, redis, 'isotime', ['--protocol', 'bull', '--isolate']);
  const hung = await q.add({ hang: true }, { timeout: 400, attempts: 2 });
  const next = await q.add({ v: 4 });
  await I.waitFor(async () => (await next.getState()) === 'completed', { timeout: 20000, what: 'the next job completed' });
  await I.waitFor(async () => (await hung.getState()) === 'failed', { timeout: 20000, what: 'the hung job failed' });
  const failed = await q.getJob(hung.id);
  assert.equal(failed.failedReason, 'Promise timed out after 400 milliseconds');
  assert.equal(failed.attemptsMade, 2);
  assert.equal(failed.stacktrace.length, 2);
  // each attempt ended at its timer (with a generous bound), not when the handler returned
  assert.ok(failed.finishedOn - failed.processedOn < 3000, `the last attempt took ${failed.finishedOn - failed.processedOn} ms`);
  assert.equal(w.done, false);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });
});
