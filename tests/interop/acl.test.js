'use strict';
// ACL users: the C worker (echo_worker) and the C producer (bullc_enqueue) against a real
// redis-server whose default user is off and whose `worker` user has the rule README.md
// documents as the smallest that works (~bull:* resetchannels +@all -@dangerous +info).
// Checked from outside: Node's bullmq, the server's own view (ACL LOG, CLIENT LIST), exit
// codes and stderr. Then the failures: a wrong password, no credentials, and a queue whose
// keys the user may not touch.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Queue } = require('bullmq');
const I = require('./lib/interop');
const T = require('./lib/topology');

const ENQUEUE = path.join(I.BIN, 'bullc_enqueue');
const TIMEOUT = 120000; // per test; the machine is shared
// The documented rule (README.md, "ACL users").
const RULE = '~bull:* resetchannels +@all -@dangerous +info';

before(() => {
  I.requireEchoWorker();
  fs.accessSync(ENQUEUE, fs.constants.X_OK);
});

// An ACL redis-server for one test (default user off; worker / s3cret with RULE; admin /
// adminpw with everything), removed when it ends.
async function useAcl(t) {
  assert.equal(T.DEFAULT_ACL_USERS.default, 'off');
  assert.equal(T.DEFAULT_ACL_USERS.worker, `on >s3cret ${RULE}`);
  const a = await T.startRedisAcl();
  I.defer(t, () => a.cleanup());
  return a;
}

// A bullmq Queue logged in as admin (getWorkers needs CLIENT LIST, which the rule denies).
function adminQueue(t, a, name, opts = {}) {
  return I.useQueue(t, { connection: a.adminConnection }, name, opts);
}

function lines(text) {
  return text.split('\n').filter((l) => l.trim() !== '');
}

// ACL LOG as objects ({reason, context, object, username, ...}).
async function aclLog(a) {
  const entries = await a.cli('ACL', 'LOG');
  return entries.map((kv) => {
    const o = {};
    for (let i = 0; i + 1 < kv.length; i += 2) o[kv[i]] = kv[i + 1];
    return o;
  });
}

// Starts an echo_worker that must give up: it exits by itself within 10 s with status 1
// (Redis cannot be used) and one stderr line, which is returned.
async function refused(t, url, queue, what, args = []) {
  const w = I.useWorker(t, { url }, queue, args);
  const res = await I.within(w.exited, 10000, null);
  assert.ok(res, `${what}: echo_worker still running after 10 s; stderr:\n${I.tail(w)}`);
  assert.deepEqual(res, { code: 1, signal: null }, `${what}: exit; stderr:\n${I.tail(w)}`);
  const ls = lines(w.stderrText());
  assert.equal(ls.length, 1, `${what}: one stderr line, got ${JSON.stringify(w.stderrText())}`);
  return ls[0];
}

test('the documented minimal rule: echo_worker and bullc_enqueue as the ACL user run Node-added and C-added jobs, nothing denied', { timeout: TIMEOUT }, async (t) => {
  const a = await useAcl(t);
  // The server runs exactly that rule (from its ACL file) and the default user is off.
  assert.ok(fs.readFileSync(a.aclFile, 'utf8').split('\n').includes(`user worker on >s3cret ${RULE}`));
  const wu = await a.cli('ACL', 'GETUSER', 'worker');
  assert.equal(wu[wu.indexOf('keys') + 1], '~bull:*');
  assert.equal(wu[wu.indexOf('channels') + 1], '');
  const du = await a.cli('ACL', 'GETUSER', 'default');
  assert.deepEqual(du[du.indexOf('flags') + 1], ['off']);
  assert.equal(a.url, `redis://worker:s3cret@127.0.0.1:${a.port}`);

  const qname = 'acl-jobs';
  const queue = I.useQueue(t, a, qname); // Node as the worker user
  const admin = adminQueue(t, a, qname);
  const nodeJobs = await queue.addBulk(Array.from({ length: 40 }, (_, i) => ({ name: 'node', data: { i, from: 'node' } })));
  const expected = nodeJobs.map((j) => ({ id: j.id, name: 'node', data: j.data }));

  // bullc_enqueue as the same user: single adds and a bulk.
  for (let i = 0; i < 5; i++) {
    const data = { i, from: 'c', s: `caf\u00e9 ${i}` };
    const r = await I.enqueue(a.url, qname, ['c-single', JSON.stringify(data)]);
    assert.equal(r.code, 0, `bullc_enqueue: ${r.stderr}`);
    assert.equal(r.stderr, '');
    expected.push({ id: r.stdout.trim(), name: 'c-single', data });
  }
  const bulk = Array.from({ length: 10 }, (_, i) => ({ name: 'c-bulk', data: { i, from: 'c-bulk' } }));
  const rb = await I.enqueue(a.url, qname, ['--bulk', '-'], { input: bulk.map((j) => JSON.stringify(j)).join('\n') + '\n' });
  assert.equal(rb.code, 0, `bullc_enqueue --bulk: ${rb.stderr}`);
  const bulkIds = lines(rb.stdout);
  assert.equal(bulkIds.length, 10);
  bulk.forEach((j, i) => expected.push({ id: bulkIds[i], ...j }));
  assert.equal(new Set(expected.map((e) => e.id)).size, 55, 'distinct ids');
  for (const e of expected.slice(40)) {
    const job = await queue.getJob(e.id);
    assert.equal(job.name, e.name);
    assert.deepEqual(job.data, e.data);
  }

  const w = I.useWorker(t, a, qname, ['--concurrency', '4', '--name', 'aclw']);
  await I.waitCounts(queue, (c) => c.completed === 55, '55 completed', 60000);
  assert.deepEqual(await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed'),
    { completed: 55, failed: 0, active: 0, wait: 0, delayed: 0 });
  for (const e of expected) await I.assertCompleted(queue, e.id, e.data);

  // The worker is listed, and every one of its connections is logged in as `worker`.
  assert.deepEqual(await I.workerNames(admin), [`bull:${I.b64(qname)}:w:aclw`]);
  const clients = (await a.cli('CLIENT', 'LIST')).split('\n').filter(Boolean)
    .map((l) => Object.fromEntries(l.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
  const named = clients.filter((c) => c.name === `bull:${I.b64(qname)}:w:aclw`);
  assert.ok(named.length >= 1, 'the worker\'s named connection');
  for (const c of named) assert.equal(c.user, 'worker');

  assert.equal(w.done, false, `worker still running; stderr:\n${I.tail(w)}`);
  assert.doesNotMatch(w.stderrText(), /NOPERM/, 'no NOPERM on the worker\'s stderr');
  assert.doesNotMatch(w.stderrText(), /: (error|warn): /, `no error or warning; stderr:\n${I.tail(w)}`);
  // Redis denied nothing to anyone (ACL LOG records denied commands, keys and logins).
  assert.deepEqual(await aclLog(a), []);
  // Everything lives under the user's keys.
  assert.deepEqual((await a.cli('KEYS', '*')).filter((k) => !k.startsWith('bull:')), []);

  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
  assert.deepEqual(await aclLog(a), []);
});

test('a wrong password: echo_worker exits 1 within 10 s saying authentication failed (WRONGPASS); bullc_enqueue likewise; nothing consumed or added', { timeout: TIMEOUT }, async (t) => {
  const a = await useAcl(t);
  const qname = 'acl-wrongpass';
  const queue = I.useQueue(t, a, qname);
  const job = await queue.add('w', { v: 1 });
  const badPw = 'not-the-pw-7731';
  const url = `redis://worker:${badPw}@127.0.0.1:${a.port}`;

  const line = await refused(t, url, qname, 'wrong password');
  assert.equal(line, `echo_worker: Redis authentication failed: 127.0.0.1:${a.port}: `
    + 'AUTH: WRONGPASS invalid username-password pair or user is disabled.');
  assert.match(line, /auth/i);
  assert.ok(!line.includes(badPw), 'the password is not printed');

  // An unknown user is the same failure.
  const ghost = await refused(t, `redis://ghost:${badPw}@127.0.0.1:${a.port}`, qname, 'unknown user');
  assert.match(ghost, /^echo_worker: Redis authentication failed: .*WRONGPASS/);

  const r = await I.enqueue(url, qname, ['x', '{"a":1}']);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1, `bullc_enqueue: exit 1; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.deepEqual(lines(r.stderr), [
    `bullc_enqueue: queue ${qname}: 127.0.0.1:${a.port}: AUTH: WRONGPASS invalid username-password pair or user is disabled.`,
    'bullc_enqueue: Redis authentication failed',
  ]);
  assert.ok(!r.stderr.includes(badPw), 'the password is not printed');

  // Nothing consumed, nothing added; the server logged the failed logins.
  const j = await queue.getJob(job.id);
  assert.equal(await j.getState(), 'waiting');
  assert.equal(j.attemptsStarted, 0);
  assert.deepEqual(await queue.getJobCounts('wait', 'active', 'completed', 'failed'),
    { wait: 1, active: 0, completed: 0, failed: 0 });
  assert.deepEqual(await I.workerNames(adminQueue(t, a, qname)), []);
  const log = await aclLog(a);
  assert.ok(log.length >= 1 && log.every((e) => e.reason === 'auth'), JSON.stringify(log));
  assert.ok(log.some((e) => e.username === 'worker'));
});

test('no credentials while the default user is off: echo_worker and bullc_enqueue exit 1 with NOAUTH on stderr', { timeout: TIMEOUT }, async (t) => {
  const a = await useAcl(t);
  const qname = 'acl-anonymous';
  const queue = I.useQueue(t, a, qname);
  const job = await queue.add('n', { v: 1 });
  const url = `redis://127.0.0.1:${a.port}`;

  const line = await refused(t, url, qname, 'no credentials');
  assert.match(line, /^echo_worker: cannot connect to Redis: .*NOAUTH Authentication required\.$/);

  // The disabled default user, named with a password: a failed login.
  const dflt = await refused(t, `redis://default:whatever@127.0.0.1:${a.port}`, qname, 'default user');
  assert.match(dflt, /^echo_worker: Redis authentication failed: .*WRONGPASS invalid username-password pair or user is disabled\.$/);

  const r = await I.enqueue(url, qname, ['x', '{"a":1}']);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1, `bullc_enqueue: exit 1; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^bullc_enqueue: queue acl-anonymous: .*NOAUTH Authentication required\.$/m);
  assert.match(r.stderr, /^bullc_enqueue: cannot connect to Redis$/m);

  const j = await queue.getJob(job.id);
  assert.equal(await j.getState(), 'waiting');
  assert.equal(j.attemptsStarted, 0);
  assert.equal(await queue.count(), 1);
  assert.deepEqual(await I.workerNames(adminQueue(t, a, qname)), []);
});

test('a queue outside the user\'s keys (--prefix other, rule ~bull:*): the worker reports NOPERM without flooding, takes nothing, stops cleanly; bullc_enqueue exits 1 with NOPERM', { timeout: TIMEOUT }, async (t) => {
  const a = await useAcl(t);
  const qname = 'acl-forbidden';
  // A job the user may not reach (added by admin under `other`), and one under bull: with the
  // same queue name that this worker must not touch either.
  const otherQ = adminQueue(t, a, qname, { prefix: 'other' });
  const forbidden = await otherQ.add('f', { v: 'out of reach' });
  const bullQ = I.useQueue(t, a, qname);
  const allowed = await bullQ.add('b', { v: 'other prefix' });

  const w = I.useWorker(t, a, qname, ['--prefix', 'other', '--name', 'forbidden']);
  const OBSERVE_MS = 3000;
  const early = await I.within(w.exited, OBSERVE_MS, null);
  const err = w.stderrText();
  const errorLines = lines(err).filter((l) => /^echo_worker: (error|warn): /.test(l));
  const distinct = JSON.stringify([...new Set(errorLines)]);
  // What the worker does wrong, gathered so that the checks after it still run.
  const problems = [];
  if (early) {
    // Giving up at start is fine: exit 1 (Redis cannot be used), a message naming NOPERM.
    assert.deepEqual(early, { code: 1, signal: null }, `exit; stderr:\n${I.tail(w)}`);
    if (!/NOPERM/.test(err)) problems.push(`exit 1 without NOPERM on stderr: ${JSON.stringify(err)}`);
  } else {
    // Running on is fine too, reporting the real cause, and not in a busy loop (Node's
    // Worker waits runRetryDelay, 15 s, after a failed fetch).
    assert.ok(errorLines.length >= 1, `errors are logged; stderr:\n${I.tail(w)}`);
    const badFetch = [...new Set(errorLines.filter((l) => /cannot fetch jobs/.test(l) && !/NOPERM/.test(l)))];
    if (badFetch.length) problems.push(`a failed fetch does not say NOPERM: ${JSON.stringify(badFetch)}`);
    if (errorLines.length > 30) {
      problems.push(`${errorLines.length} error/warn lines in ${OBSERVE_MS} ms (at most 30 expected); distinct: ${distinct}`);
    }
    const res = await I.stopWorker(w);
    assert.deepEqual(res, { code: 0, signal: null }, `exit after SIGTERM; stderr:\n${I.tail(w)}`);
  }

  // Nothing taken, on either prefix.
  for (const [q, j] of [[otherQ, forbidden], [bullQ, allowed]]) {
    const job = await q.getJob(j.id);
    assert.equal(await job.getState(), 'waiting');
    assert.equal(job.attemptsStarted, 0);
    assert.deepEqual(await q.getJobCounts('active', 'completed', 'failed'), { active: 0, completed: 0, failed: 0 });
  }

  // The producer under that prefix: refused by the server, exit 1, NOPERM on stderr.
  const r = await I.enqueue(a.url, qname, ['--prefix', 'other', 'x', '{"a":1}']);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1, `bullc_enqueue: exit 1; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.deepEqual(lines(r.stderr), [
    'bullc_enqueue: Redis script error: addJob: NOPERM this user has no permissions to access one of the keys used as arguments',
  ]);
  assert.equal(await otherQ.count(), 1, 'nothing added under other:');
  // The server denied keys (never commands) to the worker user.
  const log = await aclLog(a);
  assert.ok(log.length >= 1);
  for (const e of log) {
    assert.equal(e.username, 'worker');
    assert.equal(e.reason, 'key', JSON.stringify(e));
    assert.match(e.object, /^other:/);
  }
  assert.deepEqual(problems, [], 'the worker under a forbidden prefix');
});

// Bull 4 queues publish their events (docs/bull.md §5) and a Bull worker listens on the
// `delayed` channel (§4.7), so their rule also grants the prefix's channels (README "ACL users").
const BULL_RULE = '~bull:* &bull:* +@all -@dangerous +info';

test('Bull queues: the documented rule with the prefix\'s channels runs a Bull worker (jobs, a delayed job on time through the delayed channel), nothing denied; without the channels the scripts are refused', { timeout: TIMEOUT }, async (t) => {
  const Bull = require('bull');
  const a = await T.startRedisAcl({ users: { worker: `on >s3cret ${BULL_RULE}`, plain: `on >s3cret ${RULE}` } });
  I.defer(t, () => a.cleanup());
  const q = new Bull('aclbull', { redis: { host: '127.0.0.1', port: a.port, username: 'worker', password: 's3cret' } });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  const jobs = [];
  for (let i = 0; i < 10; i++) jobs.push(await q.add({ i }));
  const delayed = await q.add({ d: 1 }, { delay: 1500 });
  const w = I.useWorker(t, a, 'aclbull', ['--protocol', 'bull', '--concurrency', '2']);
  await I.waitFor(async () => (await q.getJobCounts()).completed === 11, { timeout: 30000, what: '11 completed' });
  for (const j of jobs) assert.deepEqual((await q.getJob(j.id)).returnvalue, j.data);
  const d = await q.getJob(delayed.id);
  assert.ok(d.processedOn - (delayed.timestamp + 1500) < 1000,
    `the delayed job started ${d.processedOn - (delayed.timestamp + 1500)} ms after its due time`);
  assert.doesNotMatch(w.stderrText(), /NOPERM|can't publish|: (error|warn): /, `stderr:\n${I.tail(w)}`);
  assert.deepEqual(await aclLog(a), []);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null });

  // The BullMQ rule (no channels) is not enough for Bull: its scripts' PUBLISH is refused, and
  // the worker says so.
  const url = `redis://plain:s3cret@127.0.0.1:${a.port}`;
  const w2 = I.useWorker(t, { url }, 'aclbull', ['--protocol', 'bull']);
  await q.add({ late: 1 });
  await I.waitFor(() => /can't publish/.test(w2.stderrText()), { timeout: 15000, what: 'the refusal on stderr' });
  await I.stopWorker(w2);
});
