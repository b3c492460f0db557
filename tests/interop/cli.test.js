'use strict';
// CLI: build/bin/bullc (the queue-administration calls of bullc_queue_t) against Node's
// bullmq 6.7.0. Mutating commands are differentials: one populated database (jobs in every
// state, made by Node's Queue and Worker) is cloned to two fresh redis-servers; Node's
// Queue/Job method runs on A, bullc on B; the masked databases (events included) must be
// identical. Readers are compared with Node's answers; errors with their exit codes.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const IORedis = require('ioredis');
const { Queue, Worker, Job } = require('bullmq');
const H = require('./lib/harness');
const I = require('./lib/interop');
const { dumpState, maskState, diffStates } = require('./lib/state');

const BULLC = path.join(H.BIN, 'bullc');
const Q = 'aq';
const DAY = 24 * 3600 * 1000;

const { bullc } = I;

let A; let B; let ca; let cb; let snapshot;

async function withQueue(redis, fn, name = Q) {
  const q = new Queue(name, { connection: redis.connection, skipMetasUpdate: true });
  q.on('error', () => {});
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

// Jobs in every state on A, made by Node: 1-3 completed, 4-6 failed (worker), 7 active with a
// lock (manual fetch), 8-9 waiting, 10 lifo, 11-12 prioritized, 13 delayed, 14 delayed with a
// priority, 15 deduplicated, 16 with logs and keepLogs.
async function populate() {
  await ca.flushall();
  await withQueue(A, async (q) => {
    for (let i = 0; i < 3; i++) await q.add('ok', { i });
    for (let i = 0; i < 3; i++) await q.add('bad', { i }, { attempts: 1 });
    const w = new Worker(Q, async (job) => {
      if (job.name === 'bad') throw new Error(`boom ${job.id}`);
      return { done: job.id };
    }, { connection: A.connection, concurrency: 1 });
    await H.waitFor(async () => {
      const c = await q.getJobCounts('completed', 'failed');
      return c.completed === 3 && c.failed === 3;
    }, { timeout: 20000, what: 'worker done' });
    await w.close();
    await q.add('act', { a: 1 });
    const m = new Worker(Q, null, { connection: A.connection, lockDuration: 120000 });
    const active = await m.getNextJob('manual-token');
    assert.equal(active.id, '7');
    await m.close();
    await q.add('w', { n: 8 });
    await q.add('w', { n: 9 });
    await q.add('l', { n: 10 }, { lifo: true });
    await q.add('p', { n: 11 }, { priority: 3 });
    await q.add('p', { n: 12 }, { priority: 1 });
    await q.add('d', { n: 13 }, { delay: DAY });
    await q.add('d', { n: 14 }, { delay: DAY, priority: 2 });
    await q.add('dd', { n: 15 }, { deduplication: { id: 'dd1' }, removeOnComplete: 5, keepLogs: 2 });
    const logged = await q.add('logs', { n: 16 }, { keepLogs: 2 });
    for (const line of ['one', 'two', 'three']) await logged.log(line);
  });
  const keys = await ca.keys('*');
  snapshot = [];
  for (const key of keys) {
    const [dump, pttl] = await Promise.all([ca.dumpBuffer(key), ca.pttl(key)]);
    snapshot.push([key, dump, pttl]);
  }
}

async function restore(client) {
  await client.flushall();
  for (const [key, dump, pttl] of snapshot) await client.restore(key, pttl > 0 ? pttl : 0, dump);
}

async function sameState(what) {
  const [sa, sb] = await Promise.all([dumpState(ca), dumpState(cb)]);
  const diffs = diffStates(maskState(sa), maskState(sb));
  assert.deepEqual(diffs, [], `${what}: Redis differs between Node (A) and bullc (B):\n${diffs.join('\n')}`);
  return sa;
}

// Node's operation on A, bullc's on B, from the same populated state.
async function differential(label, nodeOp, args, { code = 0, stdout, setup } = {}) {
  await Promise.all([restore(ca), restore(cb)]);
  if (setup) {
    await withQueue(A, (q) => setup(q, ca));
    await withQueue(B, (q) => setup(q, cb));
  }
  const nodeResult = await withQueue(A, nodeOp);
  const r = await bullc(B, args);
  assert.equal(r.code, code, `${label}: exit ${r.code}: ${r.stderr}`);
  if (stdout !== undefined) {
    const want = typeof stdout === 'function' ? stdout(nodeResult) : stdout;
    assert.equal(r.stdout, want, `${label}: stdout`);
  }
  await sameState(label);
  return { nodeResult, r };
}

before(async () => {
  fs.accessSync(BULLC, fs.constants.X_OK);
  [A, B] = await Promise.all([H.startRedis(), H.startRedis()]);
  ca = new IORedis(A.connection);
  cb = new IORedis(B.connection);
  await populate();
});

after(async () => {
  if (ca) ca.disconnect();
  if (cb) cb.disconnect();
  await Promise.all([A && A.cleanup(), B && B.cleanup()]);
});

const ids = (jobs) => jobs.map((j) => `${j}\n`).join('');

// ---------------------------------------------------------------- mutating commands

test('pause and resume', async () => {
  await differential('pause', (q) => q.pause(), ['pause', Q], { stdout: '' });
  await differential('resume', (q) => q.resume(), ['resume', Q], {
    stdout: '', setup: (q) => q.pause(),
  });
  await differential('resume, nothing ready, delayed jobs', (q) => q.resume(), ['resume', Q], {
    setup: async (q) => { await q.pause(); await q.drain(); },
  });
  // a 5.x pause left the backlog in the legacy `paused` list: renamed back, or appended to wait
  await differential('resume, legacy paused list only', (q) => q.resume(), ['resume', Q], {
    setup: async (q, c) => {
      await q.pause();
      await c.rename(`bull:${Q}:wait`, `bull:${Q}:paused`);
    },
  });
  await differential('resume, legacy paused list and wait', (q) => q.resume(), ['resume', Q], {
    setup: async (q, c) => {
      await q.pause();
      await c.rpush(`bull:${Q}:paused`, 'x1', 'x2');
    },
  });
});

test('retry one failed job, several, and all failed', async () => {
  await differential('retry 4', async (q) => (await Job.fromId(q, '4')).retry(), ['retry', Q, '4'],
    { stdout: '1\n' });
  await differential('retry 4 6 while paused', async (q) => {
    await (await Job.fromId(q, '4')).retry();
    await (await Job.fromId(q, '6')).retry();
  }, ['retry', Q, '4', '6'], { stdout: '2\n', setup: (q) => q.pause() });
  await differential('retry --all-failed', (q) => q.retryJobs({ state: 'failed' }),
    ['retry', Q, '--all-failed'], { stdout: '3\n' });
  // not failed / missing: one stderr line each, exit 1, the others still retried
  const { r } = await differential('retry 1 4 404', async (q) => (await Job.fromId(q, '4')).retry(),
    ['retry', Q, '1', '4', '404'], { code: 1, stdout: '1\n' });
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], /^bullc: 1: /);
  assert.match(lines[1], /^bullc: 404: .*does not exist/);
});

test('promote one delayed job and all', async () => {
  await differential('promote 13', async (q) => (await Job.fromId(q, '13')).promote(),
    ['promote', Q, '13'], { stdout: '1\n' });
  await differential('promote 14 (prioritized)', async (q) => (await Job.fromId(q, '14')).promote(),
    ['promote', Q, '14'], { stdout: '1\n' });
  await differential('promote --all', (q) => q.promoteJobs(), ['promote', Q, '--all'],
    { stdout: '2\n' });
  const { r } = await differential('promote 8 (not delayed)', async () => {}, ['promote', Q, '8'],
    { code: 1, stdout: '0\n' });
  assert.match(r.stderr, /^bullc: 8: .*not delayed\n$/);
});

test('remove: waiting, failed, deduplicated, logs; refused while locked', async () => {
  await differential('remove 8 4 15 16', async (q) => {
    for (const id of ['8', '4', '15', '16']) assert.equal(await q.remove(id), 1);
  }, ['remove', Q, '8', '4', '15', '16'], { stdout: '4\n' });
  const { r } = await differential('remove 7 (locked)', async (q) => {
    assert.equal(await q.remove('7'), 0);
  }, ['remove', Q, '7'], { code: 1, stdout: '0\n' });
  assert.match(r.stderr, /^bullc: 7: .*locked/);
});

test('clean by state with grace and limit', async () => {
  const out = (removed) => ids(removed);
  await differential('clean completed', (q) => q.clean(0, 0, 'completed'),
    ['clean', Q, 'completed', '--grace', '0'], { stdout: out });
  await differential('clean failed --limit 2', (q) => q.clean(0, 2, 'failed'),
    ['clean', Q, 'failed', '--grace', '0', '--limit', '2'], { stdout: out });
  await differential('clean wait --limit 1', (q) => q.clean(0, 1, 'wait'),
    ['clean', Q, 'waiting', '--grace', '0', '--limit', '1'], { stdout: out });
  await differential('clean delayed', (q) => q.clean(0, 0, 'delayed'),
    ['clean', Q, 'delayed', '--grace', '0', '--limit', 'none'], { stdout: out });
  await differential('clean prioritized', (q) => q.clean(0, 0, 'prioritized'),
    ['clean', Q, 'prioritized', '--grace', '0'], { stdout: out });
  await differential('clean active (locked: stays)', (q) => q.clean(0, 0, 'active'),
    ['clean', Q, 'active', '--grace', '0'], { stdout: out });
  await differential('clean completed, long grace', (q) => q.clean(DAY, 0, 'completed'),
    ['clean', Q, 'completed', '--grace', String(DAY)], { stdout: '' });
});

test('drain, with and without delayed jobs', async () => {
  await differential('drain', (q) => q.drain(), ['drain', Q], { stdout: '' });
  await differential('drain --delayed', (q) => q.drain(true), ['drain', Q, '--delayed'],
    { stdout: '' });
});

test('obliterate --force; without --force nothing is touched', async () => {
  await differential('obliterate --force', (q) => q.obliterate({ force: true }),
    ['obliterate', Q, '--force'], { stdout: '' });
  const { r } = await differential('obliterate without --force', async () => {},
    ['obliterate', Q], { code: 2, stdout: '' });
  assert.match(r.stderr, /--force/);
  assert.match(r.stderr, /usage:/);
});

test('add: ids as Node gives them, data defaults to {}, bad JSON adds nothing', async () => {
  await Promise.all([restore(ca), restore(cb)]);
  await withQueue(A, async (q) => {
    await q.add('x', {});
    await q.add('y', { v: [1, 'two'] }, { priority: 4, attempts: 2 });
    await q.add('z', {}, { jobId: 'custom' });
    await q.add('z', { other: 1 }, { jobId: 'custom' });
  });
  const outs = [];
  for (const args of [['x'], ['y', '{"v":[1,"two"]}', '--opts', '{"priority":4,"attempts":2}'],
    ['z', '--opts', '{"jobId":"custom"}'], ['z', '{"other":1}', '--opts', '{"jobId":"custom"}']]) {
    const r = await bullc(B, ['add', Q, ...args]);
    assert.equal(r.code, 0, r.stderr);
    outs.push(r.stdout);
  }
  assert.deepEqual(outs, ['17\n', '18\n', 'custom\n', 'custom\n']);
  await sameState('add');
  for (const bad of [['x', '{nope'], ['x', '{}', '--opts', '{"priority":"high"}'], ['x', '{}', '--opts', '[']]) {
    const r = await bullc(B, ['add', Q, ...bad]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^bullc: invalid (JSON|argument): .*\nusage: bullc/);
  }
  await sameState('bad adds add nothing');
});

// ---------------------------------------------------------------- readers

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'paused',
  'waiting-children'];

test('queues, counts and jobs agree with Node', async () => {
  await restore(cb);
  await withQueue(B, (q) => q.add('x', {}), 'b-queue');
  await withQueue(B, (q) => q.add('x', {}), 'a-not-a-queue');
  await cb.hset('bull:meta-only:meta', 'paused', '1');
  await cb.set('bull:id-only:id', '3');
  await cb.set('other:zz:id', '1');
  let r = await bullc(B, ['queues']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ['a-not-a-queue', Q, 'b-queue', 'id-only', 'meta-only'].map((s) => `${s}\n`).join(''));
  r = await bullc(B, ['--json', 'queues']);
  assert.deepEqual(JSON.parse(r.stdout), ['a-not-a-queue', Q, 'b-queue', 'id-only', 'meta-only']);
  r = await bullc(B, ['--prefix', 'other', 'queues']);
  assert.equal(r.stdout, 'zz\n');

  const counts = await withQueue(B, (q) => q.getJobCounts(...STATES));
  r = await bullc(B, ['counts', Q]);
  assert.equal(r.stdout, STATES.map((s) => `${s} ${counts[s]}\n`).join(''));
  r = await bullc(B, ['--json', 'counts', Q]);
  assert.deepEqual(JSON.parse(r.stdout), counts);
  assert.deepEqual(Object.keys(JSON.parse(r.stdout)), STATES);

  for (const state of STATES) {
    const jobs = await withQueue(B, (q) => q.getJobs([state], 0, 99));
    r = await bullc(B, ['jobs', Q, state]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, ids(jobs.map((j) => j.id)), `jobs ${state}`);
    r = await bullc(B, ['--json', 'jobs', Q, state]);
    assert.deepEqual(JSON.parse(r.stdout), jobs.map((j) => ({ id: j.id, name: j.name })));
  }
  for (const [start, end] of [[1, 2], [0, 0], [2, -1], [5, 9]]) {
    const jobs = await withQueue(B, (q) => q.getJobs(['completed'], start, end));
    r = await bullc(B, ['jobs', Q, 'completed', '--start', String(start), '--end', String(end)]);
    assert.equal(r.stdout, ids(jobs.map((j) => j.id)), `completed ${start}..${end}`);
  }
});

test('job --json: every key, as Node reads the job', async () => {
  await restore(cb);
  await withQueue(B, (q) => q.add('tel', { t: 1 }, { telemetry: { metadata: 'm', omitContext: true } }));
  for (const id of ['1', '4', '7', '10', '13', '14', '15', '16', '17']) {
    const want = await withQueue(B, async (q) => {
      const j = await Job.fromId(q, id);
      const n = (v) => (v === undefined || Number.isNaN(v) ? null : v);
      return {
        id: j.id, name: j.name, data: j.data, opts: JSON.parse(JSON.stringify(j.opts)), progress: j.progress,
        attemptsMade: j.attemptsMade, attemptsStarted: j.attemptsStarted, timestamp: j.timestamp,
        processedOn: n(j.processedOn), finishedOn: n(j.finishedOn), returnvalue: n(j.returnvalue),
        failedReason: n(j.failedReason), stacktrace: j.stacktrace, delay: n(j.delay),
        priority: n(j.priority), state: await j.getState(),
      };
    });
    const r = await bullc(B, ['--json', 'job', Q, id]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(got), Object.keys(want), `job ${id}: keys`);
    assert.deepEqual(got, want, `job ${id}`);
  }
});

test('logs and workers agree with Node', async () => {
  await restore(cb);
  const logs = await withQueue(B, (q) => q.getJobLogs('16'));
  let r = await bullc(B, ['logs', Q, '16']);
  assert.equal(r.stdout, ids(logs.logs));
  r = await bullc(B, ['--json', 'logs', Q, '16']);
  assert.deepEqual(JSON.parse(r.stdout), logs.logs);

  const named = new Worker(Q, async () => {}, { connection: B.connection, name: 'w1', autorun: false });
  const plain = new Worker(Q, async () => {}, { connection: B.connection, autorun: false });
  const other = new Worker('otherq', async () => {}, { connection: B.connection, autorun: false });
  try {
    await Promise.all([named.waitUntilReady(), plain.waitUntilReady(), other.waitUntilReady()]);
    const nodeSees = await withQueue(B, (q) => q.getWorkers());
    r = await bullc(B, ['--json', 'workers', Q]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    const key = (w) => `${w.rawname} ${w.addr}`;
    assert.deepEqual(got.map(key).sort(), nodeSees.map(key).sort());
    assert.equal(got.length, 2);
    r = await bullc(B, ['workers', Q]);
    const lines = r.stdout.trim().split('\n').sort();
    const want = got.map((w) => `${w.name === null ? '-' : w.name} ${w.addr}`).sort();
    assert.deepEqual(lines, want);
    assert.ok(lines.some((l) => l.startsWith('- ')), r.stdout);
  } finally {
    await Promise.all([named.close(), plain.close(), other.close()]);
  }
});

test('events: from the start, --from exclusive, --count, --json, --follow', async () => {
  await restore(cb);
  await cb.xadd(`bull:${Q}:events`, '*', 'event', 'custom', 'msg', 'two words', 'q', 'a"b', 'e', '');
  const entries = await cb.xrange(`bull:${Q}:events`, '-', '+');
  const bare = (v) => (v !== '' && /^[^\x00-\x20"\\\x7f]+$/.test(v) ? v : JSON.stringify(v));
  const line = ([id, f]) => {
    let s = `${id} ${bare(f[1])}`;
    for (let i = 2; i < f.length; i += 2) s += ` ${f[i]}=${bare(f[i + 1])}`;
    return `${s}\n`;
  };
  let r = await bullc(B, ['events', Q]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, entries.map(line).join(''));
  assert.match(r.stdout, / msg="two words" q="a\\"b" e=""\n$/);
  r = await bullc(B, ['events', Q, '--from', entries[2][0], '--count', '3']);
  assert.equal(r.stdout, entries.slice(3, 6).map(line).join(''));
  r = await bullc(B, ['--json', 'events', Q, '--count', '2']);
  const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(objs, entries.slice(0, 2).map(([id, f]) => {
    const o = { id };
    for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1];
    return o;
  }));
  // --follow: waits for new events and stops after --count of them
  const last = entries[entries.length - 1][0];
  const child = spawn(BULLC, ['--redis', B.url, 'events', Q, '--from', last, '--follow', '--count', '2']);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((res) => child.once('exit', res));
  await H.sleep(300);
  await withQueue(B, (q) => q.add('late', {}));
  const code = await H.within(exited, 20000);
  assert.equal(code, 0);
  const got = out.trim().split('\n');
  assert.equal(got.length, 2, out);
  assert.match(got[0], / added jobId=17 name=late$/);
  assert.match(got[1], / waiting jobId=17$/);
});

// ---------------------------------------------------------------- errors

test('errors: exit codes, one stderr line, nothing on stdout', async () => {
  await restore(cb);
  const runtime = async (args, re, redis = B) => {
    const r = await bullc(redis, args);
    assert.equal(r.code, 1, `${args}: ${r.stderr}`);
    assert.equal(r.stdout, '', `${args}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  };
  await runtime(['job', Q, '404'], /does not exist/);
  await runtime(['logs', Q, '404'], /does not exist/);
  const port = await H.freePort();
  const t0 = Date.now();
  await runtime(['counts', Q], /cannot connect/, { url: `redis://127.0.0.1:${port}` });
  assert.ok(Date.now() - t0 < 10000);
  const usageError = async (args, globals = []) => {
    const r = await bullc(B, args, { globals });
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /usage: bullc/);
  };
  await usageError(['jobs', Q, 'wait']);
  await usageError(['jobs', Q, 'unknown']);
  await usageError(['clean', Q, 'completed']);
  await usageError(['retry', Q]);
  await usageError(['promote', Q, '1', '--all']);
  await usageError(['nosuch', Q]);
  await usageError(['counts']);
  await usageError(['counts', Q], ['--bogus']);
  const r = await bullc(B, ['counts', Q], { globals: ['--protocol', 'nosuch'] });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown protocol nosuch/);
  await sameStateAsSnapshot();
});

async function sameStateAsSnapshot() {
  await restore(ca);
  await sameState('errors change nothing');
}

// ---------------------------------------------------------------- TLS flags

test('TLS flags: mutual TLS works, a foreign CA is refused (one line), --tls-insecure skips it', async (t) => {
  const T = require('./lib/topology');
  const certs = T.makeCerts();
  t.after(() => certs.cleanup());
  const r = await T.startRedisTls({ certs, authClients: true });
  t.after(() => r.cleanup());
  const client = ['--tls-cert', certs.clientCert, '--tls-key', certs.clientKey];
  let res = await bullc(r, ['add', 'tq', 'x', '{"over":"tls"}'], { globals: ['--tls-ca', certs.ca, ...client] });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, '1\n');
  const job = await withQueue(r, (q) => q.getJob('1'), 'tq');
  assert.deepEqual(job.data, { over: 'tls' });

  res = await bullc(r, ['counts', 'tq'], { globals: ['--tls-ca', certs.otherCa, ...client] });
  assert.equal(res.code, 1, res.stderr);
  assert.equal(res.stdout, '');
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  assert.match(res.stderr, /^bullc: TLS failed .*certificate/);

  res = await bullc(r, ['--json', 'counts', 'tq'], { globals: ['--tls-ca', certs.otherCa, '--tls-insecure', ...client] });
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).waiting, 1);
  res = await bullc(r, ['counts', 'tq'], { globals: ['--tls-ca', certs.ca] });
  assert.equal(res.code, 1, 'no client certificate');
});

// ---------------------------------------------------------------- flows

test('remove in a flow: a parent with its children, the last child of a waiting parent', async () => {
  const { FlowProducer } = require('bullmq');
  const flow = async (redis) => {
    const fp = new FlowProducer({ connection: redis.connection });
    try {
      // one child per parent wherever a removal walks children: a set's member order is the
      // server's own (it may differ between two servers), and Node walks it as we do
      await fp.add({
        name: 'parent', queueName: 'fq', opts: { jobId: 'P' },
        children: [{ name: 'c2', queueName: 'fq2', opts: { jobId: 'C2' }, children: [{ name: 'g', queueName: 'fq2', opts: { jobId: 'G' } }] }],
      });
      await fp.add({ name: 'p2', queueName: 'fq', opts: { jobId: 'P2' }, children: [{ name: 'only', queueName: 'fq2', opts: { jobId: 'O' } }] });
      await fp.add({
        name: 'p3', queueName: 'fq', opts: { jobId: 'P3' },
        children: [{ name: 'c1', queueName: 'fq', opts: { jobId: 'C1' } }, { name: 'c3', queueName: 'fq', opts: { jobId: 'C3' } }],
      });
    } finally {
      await fp.close();
    }
  };
  for (const [label, queue, id] of [['parent with children', 'fq', 'P'], ['a child', 'fq', 'C1'],
    ['the only child (parent released)', 'fq2', 'O'], ['a grandchild', 'fq2', 'G']]) {
    await Promise.all([ca.flushall(), cb.flushall()]);
    await Promise.all([flow(A), flow(B)]);
    await withQueue(A, async (q) => assert.equal(await q.remove(id), 1), queue);
    const r = await bullc(B, ['remove', queue, id]);
    assert.equal(r.code, 0, `${label}: ${r.stderr}`);
    assert.equal(r.stdout, '1\n');
    await sameState(`remove ${label}`);
  }
});

test('flows: drain and clean delete a parent left without children in its queue, release it in another; retry puts a failed child back among its parent\'s dependencies', async () => {
  const { FlowProducer } = require('bullmq');
  const build = async (redis) => {
    const fp = new FlowProducer({ connection: redis.connection });
    try {
      await fp.add({ name: 'p', queueName: 'fq', opts: { jobId: 'P' }, children: [{ name: 'c', queueName: 'fq', opts: { jobId: 'C' } }] });
      await fp.add({ name: 'p2', queueName: 'fq', opts: { jobId: 'P2' }, children: [{ name: 'o', queueName: 'fq2', opts: { jobId: 'O' } }] });
      await fp.add({
        name: 'p3', queueName: 'fq3', opts: { jobId: 'P3' },
        children: [{ name: 'f', queueName: 'fq4', opts: { jobId: 'F', ignoreDependencyOnFailure: true } }],
      });
    } finally {
      await fp.close();
    }
    // F fails once: P3 is released with F among its ignored failures
    const w = new Worker('fq4', async () => { throw new Error('child failed'); }, { connection: redis.connection });
    await withQueue(redis, (q) => H.waitFor(async () => (await q.getJobCounts('failed')).failed === 1,
      { timeout: 20000, what: 'F failed' }), 'fq4');
    await w.close();
  };
  const cases = [
    ['drain fq', 'fq', (q) => q.drain(), ['drain', 'fq'], ''],
    ['drain fq2', 'fq2', (q) => q.drain(), ['drain', 'fq2'], ''],
    ['clean fq waiting', 'fq', (q) => q.clean(0, 0, 'wait'), ['clean', 'fq', 'waiting', '--grace', '0'], 'C\n'],
    ['clean fq2 waiting', 'fq2', (q) => q.clean(0, 0, 'wait'), ['clean', 'fq2', 'waiting', '--grace', '0'], 'O\n'],
    ['retry F', 'fq4', async (q) => (await Job.fromId(q, 'F')).retry(), ['retry', 'fq4', 'F'], '1\n'],
    ['retry fq4 --all-failed', 'fq4', (q) => q.retryJobs(), ['retry', 'fq4', '--all-failed'], '1\n'],
  ];
  await ca.flushall();
  await build(A);
  const snap = [];
  for (const key of await ca.keys('*')) snap.push([key, await ca.dumpBuffer(key), await ca.pttl(key)]);
  const load = async (c) => {
    await c.flushall();
    for (const [key, dump, pttl] of snap) await c.restore(key, pttl > 0 ? pttl : 0, dump);
  };
  for (const [label, queue, nodeOp, args, stdout] of cases) {
    await Promise.all([load(ca), load(cb)]);
    await withQueue(A, nodeOp, queue);
    const r = await bullc(B, args);
    assert.equal(r.code, 0, `${label}: ${r.stderr}`);
    assert.equal(r.stdout, stdout, label);
    await sameState(label);
  }
});

test('--protocol bull: add and counts on a Bull 4 queue (read back by Bull); events refused with the reason (the rest: bull-admin.test.js)', async () => {
  const Bull = require('bull');
  await ca.flushall();
  const r = await bullc(A, ['add', 'bq', 'job', '{"a":1}'], { globals: ['--protocol', 'bull'] });
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const q = new Bull('bq', { redis: { host: '127.0.0.1', port: A.port } });
  try {
    const job = await q.getJob(id);
    assert.deepEqual(job.data, { a: 1 });
    assert.equal(await job.getState(), 'waiting');
  } finally {
    await q.close();
  }
  const counts = await bullc(A, ['--json', 'counts', 'bq'], { globals: ['--protocol', 'bull'] });
  assert.equal(counts.code, 0, counts.stderr);
  assert.equal(JSON.parse(counts.stdout).waiting, 1);
  const events = await bullc(A, ['events', 'bq'], { globals: ['--protocol', 'bull'] });
  assert.equal(events.code, 1);
  assert.equal(events.stdout, '');
  assert.match(events.stderr, /^bullc: .*bull queues have no event stream; .*\n$/);
  const bad = await bullc(A, ['counts', 'bq'], { globals: ['--protocol', 'bullx'] });
  assert.equal(bad.code, 2);
});
