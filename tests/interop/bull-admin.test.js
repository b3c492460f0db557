'use strict';
// bullc --protocol bull: the queue-administration calls of bullc_queue_t on legacy Bull 4 queues,
// against Node's bull 4.16.5 (docs/bull.md §6). Mutating commands are differentials: one
// populated database (jobs in every Bull state, made by Node's Bull Queue and its worker) is
// cloned to two fresh redis-servers; Node's Queue/Job method runs on A, bullc on B; the masked
// databases must be identical and both servers must have carried the same pub/sub messages
// (the queue handle's token masked). Readers are compared with Node Bull's answers.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const IORedis = require('ioredis');
const Bull = require('bull');
const { Queue: MqQueue } = require('bullmq');
const H = require('./lib/harness');
const I = require('./lib/interop');
const { dumpState, maskState, diffStates } = require('./lib/state');

const BULLC = path.join(H.BIN, 'bullc');
const Q = 'bq';  // the populated queue
const QP = 'bp'; // a globally paused queue
const DAY = 24 * 3600 * 1000;
const MASK = { extraHashFields: ['retriedOn'] };

// bullc --protocol bull against `redis`.
const bullc = (redis, args) => I.bullc(redis, args, { globals: ['--protocol', 'bull'] });

let A; let B; let ca; let cb; let snapshot;

function bullQueue(redis, name = Q, settings = {}) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port }, settings });
  q.on('error', () => {});
  return q;
}

async function withQueue(redis, fn, name = Q) {
  const q = bullQueue(redis, name);
  try {
    await q.isReady();
    return await fn(q);
  } finally {
    await q.close();
  }
}

// Jobs in every state on A, made by Node's Bull: 1-3 completed, 4-6 failed (4 with logs, 5
// lifo), 7
// active and locked (taken by hand), 8-9 waiting, 10 lifo, 11-12 prioritized, 13 delayed, 14
// delayed with a priority, 15 debounced, 16 with logs; queue bp paused with two jobs; a BullMQ
// queue beside them (not a Bull queue).
async function populate() {
  await ca.flushall();
  await withQueue(A, async (q) => {
    for (let i = 0; i < 3; i++) await q.add('ok', { i });
    for (let i = 0; i < 3; i++) await q.add('bad', { i }, { attempts: 1, lifo: i === 1 });
    const w = bullQueue(A);
    w.process('*', async (job) => {
      if (job.name !== 'bad') return { done: job.id };
      if (job.id === '4') await job.log('about to fail');
      throw new Error(`boom ${job.id}`);
    });
    await H.waitFor(async () => {
      const c = await q.getJobCounts();
      return c.completed === 3 && c.failed === 3;
    }, { timeout: 20000, what: 'worker done' });
    await w.close();
    await q.add('act', { a: 1 });
    const m = bullQueue(A, Q, { lockDuration: 120000 });
    const active = await m.getNextJob();
    assert.equal(active.id, '7');
    await m.close(true);
    await q.add('w', { n: 8 });
    await q.add('w', { n: 9 });
    await q.add('l', { n: 10 }, { lifo: true });
    await q.add('p', { n: 11 }, { priority: 3 });
    await q.add('p', { n: 12 }, { priority: 1 });
    await q.add('d', { n: 13 }, { delay: DAY });
    await q.add('d', { n: 14 }, { delay: DAY, priority: 2 });
    await q.add('dd', { n: 15 }, { debounce: { id: 'dd1' } });
    const logged = await q.add('logs', { n: 16 });
    for (const line of ['one', 'two', 'three']) await logged.log(line);
  });
  await withQueue(A, async (q) => {
    await q.add('x', { n: 1 });
    await q.add('x', { n: 2 });
    await q.pause();
  }, QP);
  const mq = new MqQueue('mq', { connection: A.connection });
  await mq.add('m', {});
  await mq.close();
  snapshot = [];
  for (const key of await ca.keys('*')) {
    const [dump, pttl] = await Promise.all([ca.dumpBuffer(key), ca.pttl(key)]);
    snapshot.push([key, dump, pttl]);
  }
}

async function restore(client) {
  await client.flushall();
  for (const [key, dump, pttl] of snapshot) await client.restore(key, pttl > 0 ? pttl : 0, dump);
}

// Every pub/sub message a server carries from now on, until stop(): [channel, message] with a
// token after '@' masked.
async function listen(redis) {
  const sub = new IORedis(redis.connection);
  const got = [];
  sub.on('pmessage', (_p, ch, msg) => got.push([ch.replace(/@[0-9a-f-]{36}$/, '@<token>'), msg]));
  await sub.psubscribe('*');
  return {
    async stop() {
      const pub = new IORedis(redis.connection);
      await pub.publish('zz-end', '1');
      pub.disconnect();
      await H.waitFor(() => got.some(([ch]) => ch === 'zz-end'), { what: 'end of messages' });
      sub.disconnect();
      return got.filter(([ch]) => ch !== 'zz-end');
    },
  };
}

async function sameState(what) {
  const [sa, sb] = await Promise.all([dumpState(ca), dumpState(cb)]);
  const diffs = diffStates(maskState(sa, MASK), maskState(sb, MASK));
  assert.deepEqual(diffs, [], `${what}: Redis differs between Node (A) and bullc (B):\n${diffs.join('\n')}`);
  return sa;
}

// Node's operation on A, bullc's on B, from the same populated state: the same Redis, the same
// messages.
async function differential(label, nodeOp, args, { code = 0, stdout, setup, queue = Q } = {}) {
  await Promise.all([restore(ca), restore(cb)]);
  if (setup) {
    await withQueue(A, (q) => setup(q, ca), queue);
    await withQueue(B, (q) => setup(q, cb), queue);
  }
  const [la, lb] = await Promise.all([listen(A), listen(B)]);
  let nodeResult; let r; let ma; let mb;
  try {
    nodeResult = await withQueue(A, nodeOp, queue);
    r = await bullc(B, args);
  } finally {
    [ma, mb] = await Promise.all([la.stop(), lb.stop()]);
  }
  assert.equal(r.code, code, `${label}: exit ${r.code}: ${r.stderr}`);
  if (stdout !== undefined) {
    const want = typeof stdout === 'function' ? stdout(nodeResult) : stdout;
    assert.equal(r.stdout, want, `${label}: stdout`);
  }
  await sameState(label);
  assert.deepEqual(mb, ma, `${label}: pub/sub messages`);
  return { nodeResult, r, messages: ma };
}

// Node's call that throws (a refusal): what it changed before refusing stays.
const refused = (fn) => async (q) => {
  await assert.rejects(fn(q));
};

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

const ids = (list) => list.map((j) => `${j}\n`).join('');
const job = (q, id) => q.getJob(id);

// ---------------------------------------------------------------- mutating commands

test('bull: pause and resume, with their messages', async () => {
  const { messages } = await differential('pause', (q) => q.pause(), ['pause', Q], { stdout: '' });
  assert.deepEqual(messages, [[`bull:${Q}:paused`, 'paused']]);
  const r = await differential('resume bp', (q) => q.resume(), ['resume', QP], { stdout: '', queue: QP });
  assert.deepEqual(r.messages, [[`bull:${QP}:resumed`, 'resumed']]);
  await differential('pause bp again', (q) => q.pause(), ['pause', QP], { queue: QP });
  await differential('resume while not paused', (q) => q.resume(), ['resume', Q]);
});

test('bull: retry one failed job, several, all failed; refusals', async () => {
  const { messages } = await differential('retry 4', async (q) => (await job(q, '4')).retry(),
    ['retry', Q, '4'], { stdout: '1\n' });
  assert.deepEqual(messages, [[`bull:${Q}:waiting@<token>`, '4']]);
  await differential('retry 4 5 6 while paused (5 is lifo)', async (q) => {
    for (const id of ['4', '5', '6']) await (await job(q, id)).retry();
  }, ['retry', Q, '4', '5', '6'], { stdout: '3\n', setup: (q) => q.pause() });
  await differential('retry --all-failed', (q) => q.retryJobs(), ['retry', Q, '--all-failed'],
    { stdout: '3\n' });
  // 1 is completed: Bull drops its times and stamps retriedOn before it refuses; 404 is no job
  const { r } = await differential('retry 1 4 404', async (q) => {
    await assert.rejects((await job(q, '1')).retry(), /has not failed/);
    await (await job(q, '4')).retry();
    assert.equal(await job(q, '404'), null);
  }, ['retry', Q, '1', '4', '404'], { code: 1, stdout: '1\n' });
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], /^bullc: 1: .*not failed/);
  assert.match(lines[1], /^bullc: 404: .*does not exist/);
  const locked = await differential('retry 7 (locked)', refused(async (q) => (await job(q, '7')).retry()),
    ['retry', Q, '7'], { code: 1, stdout: '0\n' });
  assert.match(locked.r.stderr, /^bullc: 7: .*locked/);
});

test('bull: promote one delayed job and all', async () => {
  const { messages } = await differential('promote 13', async (q) => (await job(q, '13')).promote(),
    ['promote', Q, '13'], { stdout: '1\n' });
  assert.deepEqual(messages, [[`bull:${Q}:waiting@<token>`, '13']]);
  await differential('promote 14 (priority)', async (q) => (await job(q, '14')).promote(),
    ['promote', Q, '14'], { stdout: '1\n' });
  await differential('promote --all', async (q) => {
    for (const j of await q.getDelayed()) await j.promote();
  }, ['promote', Q, '--all'], { stdout: '2\n' });
  await differential('promote --all while paused', async (q) => {
    for (const j of await q.getDelayed()) await j.promote();
  }, ['promote', Q, '--all'], { stdout: '2\n', setup: (q) => q.pause() });
  const { r } = await differential('promote 8 (not delayed)',
    refused(async (q) => (await job(q, '8')).promote()), ['promote', Q, '8'], { code: 1, stdout: '0\n' });
  assert.match(r.stderr, /^bullc: 8: .*not delayed\n$/);
});

test('bull: remove waiting, failed, debounced, logged jobs; refused while locked', async () => {
  await differential('remove 8 4 15 16 12', async (q) => {
    for (const id of ['8', '4', '15', '16', '12']) await (await job(q, id)).remove();
  }, ['remove', Q, '8', '4', '15', '16', '12'], { stdout: '5\n' });
  const { r } = await differential('remove 7 (locked)', refused(async (q) => (await job(q, '7')).remove()),
    ['remove', Q, '7'], { code: 1, stdout: '0\n' });
  assert.match(r.stderr, /^bullc: 7: .*locked/);
});

test('bull: clean by state with grace and limit', async () => {
  const out = (removed) => ids(removed);
  await differential('clean completed', (q) => q.clean(0, 'completed'),
    ['clean', Q, 'completed', '--grace', '0'], { stdout: out });
  await differential('clean failed --limit 2', (q) => q.clean(0, 'failed', 2),
    ['clean', Q, 'failed', '--grace', '0', '--limit', '2'], { stdout: out });
  await differential('clean wait --limit 2', (q) => q.clean(0, 'wait', 2),
    ['clean', Q, 'waiting', '--grace', '0', '--limit', '2'], { stdout: out });
  await differential('clean wait', (q) => q.clean(0, 'wait'),
    ['clean', Q, 'wait', '--grace', '0'], { stdout: out });
  await differential('clean delayed', (q) => q.clean(0, 'delayed'),
    ['clean', Q, 'delayed', '--grace', '0'], { stdout: out });
  await differential('clean delayed --limit 1 (scores are not times: none)', (q) => q.clean(0, 'delayed', 1),
    ['clean', Q, 'delayed', '--grace', '0', '--limit', '1'], { stdout: '' });
  await differential('clean paused', (q) => q.clean(0, 'paused'),
    ['clean', QP, 'paused', '--grace', '0'], { stdout: out, queue: QP });
  await differential('clean active (locked: stays)', (q) => q.clean(0, 'active'),
    ['clean', Q, 'active', '--grace', '0'], { stdout: '' });
  await differential('clean completed, long grace', (q) => q.clean(DAY, 'completed'),
    ['clean', Q, 'completed', '--grace', String(DAY)], { stdout: '' });
  const r = await bullc(B, ['clean', Q, 'prioritized', '--grace', '0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot clean state prioritized/);
});

test('bull: drain is queue.empty(), with or without --delayed', async () => {
  await differential('drain', (q) => q.empty(), ['drain', Q], { stdout: '' });
  await differential('drain --delayed', (q) => q.empty(), ['drain', Q, '--delayed'], { stdout: '' });
  await differential('drain a paused queue', (q) => q.empty(), ['drain', QP], { queue: QP });
});

test('bull: obliterate --force; without --force nothing is touched', async () => {
  const { messages } = await differential('obliterate --force', (q) => q.obliterate({ force: true }),
    ['obliterate', Q, '--force'], { stdout: '' });
  assert.deepEqual(messages, [[`bull:${Q}:paused`, 'paused']]);
  await differential('obliterate bp', (q) => q.obliterate(), ['obliterate', QP, '--force'], { queue: QP });
  const { r } = await differential('obliterate without --force', async () => {},
    ['obliterate', Q], { code: 2, stdout: '' });
  assert.match(r.stderr, /--force/);
});

test('bull: more than one round of 1000: retry --all-failed, promote --all, obliterate', async () => {
  // 1200 more failed and 1100 more delayed jobs, written alike on both servers
  const many = async (_q, c) => {
    const m = c.multi();
    for (let i = 0; i < 1200; i++) {
      m.hset(`bull:${Q}:f${i}`, 'name', 'f', 'data', '{}', 'opts', '{}', 'timestamp', '1', 'delay', '0',
        'priority', '0', 'finishedOn', String(1000 + i), 'failedReason', 'x', 'attemptsMade', '1');
      m.zadd(`bull:${Q}:failed`, 1000 + i, `f${i}`);
    }
    for (let i = 0; i < 1100; i++) {
      m.hset(`bull:${Q}:d${i}`, 'name', 'd', 'data', '{}', 'opts', '{}', 'timestamp', '1',
        'delay', '5', 'priority', String(i % 3));
      m.zadd(`bull:${Q}:delayed`, (Date.now() + DAY) * 4096 + i, `d${i}`);
    }
    await m.exec();
  };
  await differential('retry --all-failed, 1203 jobs', (q) => q.retryJobs(), ['retry', Q, '--all-failed'],
    { stdout: '1203\n', setup: many });
  await differential('promote --all, 1102 jobs', async (q) => {
    for (const j of await q.getDelayed()) await j.promote();
  }, ['promote', Q, '--all'], { stdout: '1102\n', setup: many });
  await differential('obliterate --force, 2300 more jobs', (q) => q.obliterate({ force: true }),
    ['obliterate', Q, '--force'], { stdout: '', setup: many });
});

// ---------------------------------------------------------------- readers

test('bull: queues, counts and jobs agree with Node', async () => {
  await restore(cb);
  let r = await bullc(B, ['queues']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${QP}\n${Q}\n`);
  r = await bullc(B, ['--json', 'queues']);
  assert.deepEqual(JSON.parse(r.stdout), [QP, Q]);

  const counts = await withQueue(B, (q) => q.getJobCounts());
  r = await bullc(B, ['--json', 'counts', Q]);
  const got = JSON.parse(r.stdout);
  for (const s of ['waiting', 'active', 'delayed', 'completed', 'failed', 'paused']) {
    assert.equal(got[s], counts[s], `counts ${s}`);
  }

  const getters = {
    waiting: (q, s, e) => q.getWaiting(s, e),
    active: (q, s, e) => q.getActive(s, e),
    delayed: (q, s, e) => q.getDelayed(s, e),
    completed: (q, s, e) => q.getCompleted(s, e),
    failed: (q, s, e) => q.getFailed(s, e),
    paused: (q, s, e) => q.getJobs(['paused'], s, e, true),
  };
  for (const queue of [Q, QP]) {
    for (const [state, get] of Object.entries(getters)) {
      for (const [start, end] of [[0, 99], [1, 2], [0, 0], [2, -1]]) {
        const jobs = await withQueue(B, (q) => get(q, start, end), queue);
        r = await bullc(B, ['jobs', queue, state, '--start', String(start), '--end', String(end)]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, ids(jobs.map((j) => j.id)), `jobs ${queue} ${state} ${start}..${end}`);
      }
      const jobs = await withQueue(B, (q) => get(q, 0, 99), queue);
      r = await bullc(B, ['--json', 'jobs', queue, state]);
      assert.deepEqual(JSON.parse(r.stdout), jobs.map((j) => ({ id: j.id, name: j.name })));
    }
  }
  assert.ok((await bullc(B, ['jobs', Q, 'waiting'])).stdout.split('\n').length > 4);
  r = await bullc(B, ['jobs', Q, 'prioritized']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no state prioritized/);
});

test('bull: job --json: every key, as Node Bull reads the job', async () => {
  await restore(cb);
  for (const id of ['1', '4', '7', '8', '10', '11', '13', '14', '15', '16']) {
    const want = await withQueue(B, async (q) => {
      const j = await q.getJob(id);
      const n = (v) => (v === undefined || Number.isNaN(v) ? null : v);
      const raw = await q.client.hget(`bull:${Q}:${id}`, 'priority');
      return {
        id: j.id, name: j.name, data: j.data, opts: JSON.parse(JSON.stringify(j.opts)), progress: j.progress(),
        attemptsMade: j.attemptsMade, attemptsStarted: null, timestamp: j.timestamp,
        processedOn: n(j.processedOn), finishedOn: n(j.finishedOn), returnvalue: n(j.returnvalue),
        failedReason: n(j.failedReason), stacktrace: j.stacktrace, delay: n(j.delay),
        priority: raw === null ? null : Number(raw), state: await j.getState(),
      };
    });
    const r = await bullc(B, ['--json', 'job', Q, id]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(got), Object.keys(want), `job ${id}: keys`);
    assert.deepEqual(got, want, `job ${id}`);
  }
  const r = await bullc(B, ['job', Q, '404']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not exist/);
});

test('bull: logs and workers agree with Node; events are refused', async () => {
  await restore(cb);
  for (const id of ['16', '4', '8']) {
    const logs = await withQueue(B, (q) => q.getJobLogs(id));
    const r = await bullc(B, ['--json', 'logs', Q, id]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), logs.logs, `logs ${id}`);
  }
  assert.equal((await bullc(B, ['logs', Q, '16'])).stdout, 'one\ntwo\nthree\n');
  let r = await bullc(B, ['events', Q]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^bullc: .*bull queues have no event stream; .*\n$/);
  await restore(ca);
  await sameState('readers change nothing');

  // Node workers (they work the queue: the last step of this file)

  const w1 = bullQueue(B);
  const w2 = bullQueue(B);
  const other = bullQueue(B, 'otherq');
  for (const w of [w1, w2, other]) w.process(async () => {});
  try {
    await H.waitFor(async () => (await withQueue(B, (q) => q.getWorkers())).length === 2,
      { what: 'two Node workers listed' });
    const nodeSees = await withQueue(B, (q) => q.getWorkers());
    r = await bullc(B, ['--json', 'workers', Q]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    const key = (w) => `${w.name} ${w.addr}`;
    assert.deepEqual(got.map(key).sort(), nodeSees.map(key).sort());
    assert.ok(got.every((w) => w.rawname === `bull:${Buffer.from(Q).toString('base64')}`));
    const plain = await bullc(B, ['workers', Q]);
    assert.deepEqual(plain.stdout.trim().split('\n').sort(), got.map((w) => `${Q} ${w.addr}`).sort());
  } finally {
    await Promise.all([w1.close(), w2.close(), other.close()]);
  }
});
