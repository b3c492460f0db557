'use strict';
// Helpers shared by the interop tests (on top of harness.js): per-test Redis,
// workers and BullMQ objects that are always cleaned up, event recording, and
// the job-level assertions every test makes.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { Queue, QueueEvents } = require('bullmq');
const IORedis = require('ioredis');
const H = require('./harness');

const VERBOSE = !!process.env.BULLC_TEST_VERBOSE;

function requireEchoWorker() {
  try {
    fs.accessSync(H.ECHO_WORKER, fs.constants.X_OK);
  } catch (_) {
    throw new Error(`echo_worker not built: ${H.ECHO_WORKER} (run make, or set BULLC_BIN_DIR)`);
  }
}

// Cleanups of one test, run last-registered first (t.after runs its hooks in
// registration order, which would stop redis-server before the clients).
const stacks = new WeakMap();
function defer(t, fn) {
  let st = stacks.get(t);
  if (!st) {
    st = [];
    stacks.set(t, st);
    t.after(async () => {
      while (st.length) {
        const f = st.pop();
        try { await f(); } catch (e) { if (VERBOSE) console.error('cleanup:', e); }
      }
    });
  }
  st.push(fn);
}

// A private redis-server for one test, removed when the test ends.
async function useRedis(t, extraArgs) {
  const redis = await H.startRedis(extraArgs);
  defer(t, () => redis.cleanup());
  return redis;
}

// A plain ioredis client, closed when the test ends.
function useClient(t, redis) {
  const c = new IORedis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null, lazyConnect: false });
  c.on('error', () => {});
  defer(t, () => c.disconnect());
  return c;
}

function useQueue(t, redis, name, opts = {}) {
  const q = new Queue(name, { connection: redis.connection, ...opts });
  q.on('error', () => {});
  defer(t, () => q.close().catch(() => {}));
  return q;
}

const EVENT_NAMES = [
  'added', 'waiting', 'active', 'completed', 'failed', 'retries-exhausted', 'stalled',
  'drained', 'delayed', 'progress', 'removed', 'waiting-children', 'duplicated', 'deduplicated',
];

// A QueueEvents listener that records every event it emits, from the start of
// the stream (lastEventId 0-0), so nothing is missed whatever the timing.
async function useEvents(t, redis, name, opts = {}) {
  const qe = new QueueEvents(name, { connection: redis.connection, lastEventId: '0-0', ...opts });
  qe.on('error', () => {});
  const log = [];
  for (const ev of EVENT_NAMES) {
    qe.on(ev, (args, id) => {
      if (ev === 'drained') log.push({ event: ev, id: args });
      else log.push({ event: ev, ...args, id });
    });
  }
  defer(t, () => qe.close().catch(() => {}));
  await qe.waitUntilReady();
  const rec = {
    qe,
    log,
    of: (ev, jobId) => log.filter((e) => e.event === ev && (jobId === undefined || e.jobId === String(jobId))),
    wait: (pred, what, timeout = 20000) => H.waitFor(() => pred(rec), { timeout, what, interval: 25 }),
    waitFor: (ev, jobId, n = 1, timeout = 20000) => H.waitFor(
      () => rec.of(ev, jobId).length >= n,
      { timeout, what: `${n} '${ev}' event(s)${jobId !== undefined ? ` for job ${jobId}` : ''}`, interval: 25 },
    ),
  };
  return rec;
}

// echo_worker for one test. Killed (SIGKILL) when the test ends if still up.
function useWorker(t, redis, queue, args = [], env = undefined) {
  requireEchoWorker();
  const w = H.startEchoWorker(redis, queue, args, env);
  w.done = false;
  w.exited.then(() => { w.done = true; });
  if (VERBOSE) w.stderr.on('data', (d) => process.stderr.write(`[echo_worker ${w.pid}] ${d}`));
  defer(t, async () => {
    if (!w.done) {
      try { w.kill('SIGKILL'); } catch (_) { /* gone */ }
      await H.within(w.exited, 3000);
    }
  });
  return w;
}

// Send a signal and wait for the process to exit; returns {code, signal}.
async function stopWorker(w, signal = 'SIGTERM', timeout = 15000) {
  if (!w.done) w.kill(signal);
  const r = await H.within(w.exited, timeout, null);
  assert.ok(r, `echo_worker did not exit within ${timeout} ms after ${signal}; stderr:\n${tail(w)}`);
  return r;
}

function tail(w, n = 20) {
  return w.stderrText().split('\n').slice(-n).join('\n');
}

async function waitCounts(queue, pred, what, timeout = 30000) {
  let last;
  try {
    return await H.waitFor(async () => {
      last = await queue.getJobCounts();
      return pred(last) ? last : null;
    }, { timeout, what, interval: 50 });
  } catch (e) {
    e.message += ` (last counts ${JSON.stringify(last)})`;
    throw e;
  }
}

// Every finished job: timestamp <= processedOn <= finishedOn.
function assertTimes(job) {
  assert.ok(Number.isFinite(job.timestamp), `job ${job.id}: timestamp`);
  assert.ok(Number.isFinite(job.processedOn), `job ${job.id}: processedOn ${job.processedOn}`);
  assert.ok(Number.isFinite(job.finishedOn), `job ${job.id}: finishedOn ${job.finishedOn}`);
  assert.ok(job.timestamp <= job.processedOn,
    `job ${job.id}: timestamp ${job.timestamp} > processedOn ${job.processedOn}`);
  assert.ok(job.processedOn <= job.finishedOn,
    `job ${job.id}: processedOn ${job.processedOn} > finishedOn ${job.finishedOn}`);
}

async function assertCompleted(queue, id, returnvalue, { attemptsMade = 1 } = {}) {
  const job = await queue.getJob(String(id));
  assert.ok(job, `job ${id} exists`);
  assert.equal(await job.getState(), 'completed', `job ${id} state`);
  assert.deepEqual(job.returnvalue, returnvalue, `job ${id} returnvalue`);
  assert.equal(job.attemptsMade, attemptsMade, `job ${id} attemptsMade`);
  assertTimes(job);
  return job;
}

async function assertFailed(queue, id, failedReason, { attemptsMade = 1 } = {}) {
  const job = await queue.getJob(String(id));
  assert.ok(job, `job ${id} exists`);
  assert.equal(await job.getState(), 'failed', `job ${id} state`);
  assert.equal(job.failedReason, failedReason, `job ${id} failedReason`);
  assert.equal(job.attemptsMade, attemptsMade, `job ${id} attemptsMade`);
  assert.ok(Array.isArray(job.stacktrace), `job ${id} stacktrace is an array`);
  assertTimes(job);
  return job;
}

// The workers Node lists for the queue, as their raw client names.
async function workerNames(queue) {
  const ws = await queue.getWorkers();
  return ws.map((w) => w.rawname);
}

function b64(s) {
  return Buffer.from(s).toString('base64');
}

// Read the whole events stream: [{id, event, ...fields}].
async function readStream(client, queue, prefix = 'bull') {
  const entries = await client.xrange(`${prefix}:${queue}:events`, '-', '+');
  return entries.map(([id, kv]) => {
    const o = { id };
    for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1];
    return o;
  });
}

// Runs build/bin/bullc_enqueue on `redis` (a URL, or an object with .url) for `queue`, with
// `args` after --redis and --queue; `input` goes to its stdin. Resolves {code, signal, stdout,
// stderr} (code -1 when it was killed). The REDIS_TLS_* variables of this process are not
// passed on: only `env` sets them.
function enqueue(redis, queue, args, { input, env = {}, timeout = 60000 } = {}) {
  const url = typeof redis === 'string' ? redis : redis.url;
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith('REDIS_TLS_')) delete clean[k];
  return new Promise((resolve) => {
    const child = execFile(path.join(H.BIN, 'bullc_enqueue'), ['--redis', url, '--queue', queue, ...args],
      { env: { ...clean, ...env }, timeout }, (err, stdout, stderr) => {
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          signal: err ? err.signal || null : null,
          stdout,
          stderr,
        });
      });
    child.stdin.end(input);
  });
}

// Runs build/bin/bullc with `--redis <redis.url>` (none when redis is null), then `globals`
// and `args`; resolves {code, stdout, stderr} (code -1 when it was killed).
function bullc(redis, args, { globals = [] } = {}) {
  const url = redis ? ['--redis', redis.url] : [];
  return new Promise((resolve) => {
    execFile(path.join(H.BIN, 'bullc'), [...url, ...globals, ...args], { timeout: 60000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}

module.exports = {
  ...H, VERBOSE, defer, requireEchoWorker, useRedis, useClient, useQueue, useEvents, useWorker, stopWorker,
  tail, waitCounts, assertTimes, assertCompleted, assertFailed, workerNames, b64, readStream,
  enqueue, bullc,
};
