'use strict';
// TLS: the C worker (echo_worker) and the C producer (bullc_enqueue) against real TLS
// redis-servers from lib/topology.js, checked from outside: what Node's bullmq reads back,
// the workers Redis lists, exit codes and stderr. Server certificate only, mutual TLS, a
// certificate from another CA (refused; --tls-insecure), a certificate valid only for a DNS
// name (refused for the IP; --tls-server-name), the producer's REDIS_TLS_* variables, and a
// Node Worker sharing a TLS queue with the C worker.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const IORedis = require('ioredis');
const { Worker } = require('bullmq');
const I = require('./lib/interop');
const T = require('./lib/topology');

const ENQUEUE = path.join(I.BIN, 'bullc_enqueue');
const TIMEOUT = 120000; // per test; the machine is shared

let certs;
before(() => {
  I.requireEchoWorker();
  fs.accessSync(ENQUEUE, fs.constants.X_OK);
  certs = T.makeCerts();
});
after(() => { if (certs) certs.cleanup(); });

// A TLS redis-server for one test, removed when it ends.
async function useTls(t, opts = {}) {
  const r = await T.startRedisTls({ certs, ...opts });
  I.defer(t, () => r.cleanup());
  return r;
}

// A plain ioredis client with the given options (TLS ones included), closed at the end.
function useConn(t, connection) {
  const c = new IORedis({ ...connection, maxRetriesPerRequest: null });
  c.on('error', () => {});
  I.defer(t, () => c.disconnect());
  return c;
}

function lines(text) {
  return text.split('\n').filter((l) => l.trim() !== '');
}

// Starts an echo_worker that must refuse the server: it exits by itself within 10 s with
// status 1 (Redis cannot be used) and exactly one stderr line, which is returned.
async function refused(t, r, queue, args, what) {
  const w = I.useWorker(t, r, queue, args);
  const res = await I.within(w.exited, 10000, null);
  assert.ok(res, `${what}: echo_worker still running after 10 s; stderr:\n${I.tail(w)}`);
  assert.deepEqual(res, { code: 1, signal: null }, `${what}: exit; stderr:\n${I.tail(w)}`);
  const ls = lines(w.stderrText());
  assert.equal(ls.length, 1, `${what}: one stderr line, got ${JSON.stringify(w.stderrText())}`);
  return ls[0];
}

// The job was not touched: still waiting, never started, nothing active or finished, and no
// worker registered on the queue.
async function untouched(queue, id, what) {
  const job = await queue.getJob(String(id));
  assert.ok(job, `${what}: job ${id} exists`);
  assert.equal(await job.getState(), 'waiting', `${what}: job ${id} still waiting`);
  assert.equal(job.attemptsStarted, 0, `${what}: job ${id} never started`);
  assert.ok(!job.processedOn, `${what}: job ${id} has no processedOn`);
  const c = await queue.getJobCounts('active', 'completed', 'failed');
  assert.deepEqual(c, { active: 0, completed: 0, failed: 0 }, `${what}: counts`);
  assert.deepEqual(await I.workerNames(queue), [], `${what}: no worker registered`);
}

test('server certificate only: 500 Node-added jobs completed by echo_worker over rediss:// with --tls-ca', { timeout: TIMEOUT }, async (t) => {
  const r = await useTls(t);
  assert.equal(r.url, `rediss://127.0.0.1:${r.port}`);
  // The server has no plain-text port and does not answer plain text on its TLS port: a
  // worker that gets anything done there spoke TLS.
  assert.equal(await T.probe(r.port), null);
  const qname = 'tls-server-only';
  const queue = I.useQueue(t, r, qname);
  const jobs = await queue.addBulk(Array.from({ length: 500 }, (_, i) => ({
    name: `n${i % 7}`, data: { i, s: `job ${i} \u00e9\u4e2d`, nested: { even: i % 2 === 0 } },
  })));
  assert.equal(jobs.length, 500);

  const w = I.useWorker(t, r, qname, ['--tls-ca', certs.ca, '--concurrency', '8', '--name', 'tls1']);
  await I.waitCounts(queue, (c) => c.completed === 500, '500 completed', 60000);
  const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
  assert.deepEqual(counts, { completed: 500, failed: 0, active: 0, wait: 0, delayed: 0 });
  for (const j of jobs) await I.assertCompleted(queue, j.id, j.data);

  // Node lists the worker (the name it set on its TLS connection).
  assert.deepEqual(await I.workerNames(queue), [`bull:${I.b64(qname)}:w:tls1`]);
  assert.equal(w.done, false, `worker still running; stderr:\n${I.tail(w)}`);
  assert.doesNotMatch(w.stderrText(), /: (error|warn): /, 'no error or warning logged');

  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
  await I.waitFor(async () => (await I.workerNames(queue)).length === 0,
    { timeout: 5000, what: 'getWorkers() empty once the worker exited' });
});

test('mutual TLS: with the client pair jobs run; without a client certificate (or with a foreign one) echo_worker exits 1 and consumes nothing', { timeout: TIMEOUT }, async (t) => {
  const r = await useTls(t, { authClients: true });
  const qname = 'tls-mutual';
  const queue = I.useQueue(t, r, qname); // Node presents client.crt
  const job = await queue.add('m', { v: 'mutual', list: [1, 2, 3] });

  // No client certificate: the server ends the handshake; the worker says it cannot connect.
  const noCert = await refused(t, r, qname, ['--tls-ca', certs.ca], 'no client certificate');
  assert.match(noCert, /^echo_worker: cannot connect to Redis: \S/);
  assert.match(noCert, /certificate/, 'the message says a client certificate is missing');
  await untouched(queue, job.id, 'no client certificate');

  // A client certificate the server's CA did not sign.
  const foreign = await refused(t, r, qname,
    ['--tls-ca', certs.ca, '--tls-cert', certs.otherCert, '--tls-key', certs.otherKey], 'foreign client certificate');
  assert.match(foreign, /^echo_worker: cannot connect to Redis: \S/);
  assert.match(foreign, /unknown ca|certificate/, 'the message names the certificate problem');
  await untouched(queue, job.id, 'foreign client certificate');

  // The client pair signed by the CA: the same job now completes.
  const w = I.useWorker(t, r, qname,
    ['--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, '--name', 'mtls']);
  await I.waitCounts(queue, (c) => c.completed === 1, 'the job completed', 30000);
  await I.assertCompleted(queue, job.id, { v: 'mutual', list: [1, 2, 3] });
  assert.deepEqual(await I.workerNames(queue), [`bull:${I.b64(qname)}:w:mtls`]);
  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('a server certificate from another CA is refused (certificate verification on stderr); --tls-insecure accepts it', { timeout: TIMEOUT }, async (t) => {
  const r = await useTls(t, { serverCert: 'other' });
  // Node trusts the other CA, so that it can add and read jobs there.
  const connection = { ...r.connection, tls: { ca: [fs.readFileSync(certs.otherCa)] } };
  const qname = 'tls-other-ca';
  const queue = I.useQueue(t, { connection }, qname);
  const job = await queue.add('o', { v: 'foreign server' });

  const line = await refused(t, r, qname, ['--tls-ca', certs.ca], 'server certificate from another CA');
  assert.match(line, /^echo_worker: TLS failed \(handshake or certificate verification\): /);
  assert.match(line, new RegExp(`127\\.0\\.0\\.1:${r.port}: TLS: the server's certificate does not verify: `
    + 'unable to get local issuer certificate$'));
  await untouched(queue, job.id, 'server certificate from another CA');

  // Without --tls-ca (the system's store) it is refused as well.
  const sys = await refused(t, r, qname, [], 'system store only');
  assert.match(sys, /TLS failed .*certificate does not verify/);
  await untouched(queue, job.id, 'system store only');

  const w = I.useWorker(t, r, qname, ['--tls-ca', certs.ca, '--tls-insecure', '--name', 'insecure']);
  await I.waitCounts(queue, (c) => c.completed === 1, 'completed with --tls-insecure', 30000);
  await I.assertCompleted(queue, job.id, { v: 'foreign server' });
  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('a certificate valid only for DNS:redis.test: the IP URL is refused; --tls-server-name redis.test works (worker and producer)', { timeout: TIMEOUT }, async (t) => {
  const r = await useTls(t, { serverCert: 'name-only' });
  assert.equal(r.connection.tls.servername, 'redis.test');
  const qname = 'tls-name-only';
  const queue = I.useQueue(t, r, qname);
  const job = await queue.add('d', { v: 'named' });

  const ip = await refused(t, r, qname, ['--tls-ca', certs.ca], 'IP URL, no server name');
  assert.match(ip, /^echo_worker: TLS failed \(handshake or certificate verification\): /);
  assert.match(ip, /the server's certificate does not verify: IP address mismatch$/);
  await untouched(queue, job.id, 'IP URL, no server name');

  const wrong = await refused(t, r, qname, ['--tls-ca', certs.ca, '--tls-server-name', 'localhost'], 'wrong server name');
  assert.match(wrong, /the server's certificate does not verify: hostname mismatch$/);
  await untouched(queue, job.id, 'wrong server name');

  // The producer: refused without REDIS_TLS_SERVER_NAME, accepted with it.
  const env = { REDIS_TLS_CA: certs.ca };
  const bad = await I.enqueue(r.url, qname, ['e', '{"v":"by C"}'], { env });
  assert.equal(bad.code, 1, `bullc_enqueue without server name: ${bad.stderr}`);
  assert.match(bad.stderr, /certificate does not verify: IP address mismatch/);
  assert.equal(await queue.count(), 1, 'nothing added');
  const good = await I.enqueue(r.url, qname, ['e', '{"v":"by C"}'], { env: { ...env, REDIS_TLS_SERVER_NAME: 'redis.test' } });
  assert.equal(good.code, 0, `bullc_enqueue with server name: ${good.stderr}`);
  const cId = good.stdout.trim();
  assert.equal((await queue.getJob(cId)).name, 'e');

  const w = I.useWorker(t, r, qname, ['--tls-ca', certs.ca, '--tls-server-name', 'redis.test']);
  await I.waitCounts(queue, (c) => c.completed === 2, 'both jobs completed', 30000);
  await I.assertCompleted(queue, job.id, { v: 'named' });
  await I.assertCompleted(queue, cId, { v: 'by C' });
  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('bullc_enqueue over mutual TLS (REDIS_TLS_CA/CERT/KEY): Node reads names and data back, echo_worker completes them; a wrong CA or no client certificate adds nothing', { timeout: TIMEOUT }, async (t) => {
  const r = await useTls(t, { authClients: true });
  const qname = 'tls-producer';
  const queue = I.useQueue(t, r, qname);
  const client = useConn(t, r.connection);
  const env = { REDIS_TLS_CA: certs.ca, REDIS_TLS_CERT: certs.clientCert, REDIS_TLS_KEY: certs.clientKey };

  // Refusals first, on an empty database: nothing may be written.
  const wrongCa = await I.enqueue(r.url, qname, ['x', '{"a":1}'], { env: { ...env, REDIS_TLS_CA: certs.otherCa } });
  assert.equal(wrongCa.signal, null);
  assert.equal(wrongCa.code, 1, `wrong CA: exit 1; stderr: ${wrongCa.stderr}`);
  assert.equal(wrongCa.stdout, '');
  assert.match(wrongCa.stderr, /^bullc_enqueue: .*TLS: the server's certificate does not verify: /m);
  assert.match(wrongCa.stderr, /^bullc_enqueue: TLS failed \(handshake or certificate verification\)$/m);
  const noCert = await I.enqueue(r.url, qname, ['x', '{"a":1}'], { env: { REDIS_TLS_CA: certs.ca } });
  assert.equal(noCert.code, 1, `no client certificate: exit 1; stderr: ${noCert.stderr}`);
  assert.equal(noCert.stdout, '');
  assert.match(noCert.stderr, /^bullc_enqueue: cannot connect to Redis$/m);
  assert.match(noCert.stderr, /certificate/, 'the reason names the missing client certificate');
  // (Node's Queue writes its meta hash when it connects, which may not have happened yet.)
  assert.deepEqual((await client.keys('*')).filter((k) => k !== `bull:${qname}:meta`), [],
    'nothing written by the refused producers');

  const singles = [
    ['plain', { a: 1, s: 'caf\u00e9 "quoted" \\ /' }],
    ['array', [1, 'two', { three: 3 }, null]],
    ['string', 'just text'],
    ['number', 42.5],
    ['unicode \u00fc\u4e2d', { deep: { er: [true, false] } }],
  ];
  const expected = [];
  for (const [name, data] of singles) {
    const res = await I.enqueue(r.url, qname, [name, JSON.stringify(data)], { env });
    assert.equal(res.code, 0, `add ${name}: ${res.stderr}`);
    assert.match(res.stdout, /^\d+\n$/);
    expected.push({ id: res.stdout.trim(), name, data });
  }
  const bulk = Array.from({ length: 20 }, (_, i) => ({ name: `bulk-${i}`, data: { i, tag: 'bulk' } }));
  const rb = await I.enqueue(r.url, qname, ['--bulk', '-'], {
    env, input: bulk.map((j) => JSON.stringify(j)).join('\n') + '\n',
  });
  assert.equal(rb.code, 0, `bulk: ${rb.stderr}`);
  const bulkIds = lines(rb.stdout);
  assert.equal(bulkIds.length, 20);
  bulk.forEach((j, i) => expected.push({ id: bulkIds[i], ...j }));
  assert.equal(new Set(expected.map((e) => e.id)).size, 25, 'distinct ids');

  // Node reads them back as added.
  assert.equal(await queue.count(), 25);
  for (const e of expected) {
    const job = await queue.getJob(e.id);
    assert.ok(job, `job ${e.id}`);
    assert.equal(job.name, e.name, `job ${e.id} name`);
    assert.deepEqual(job.data, e.data, `job ${e.id} data`);
    assert.equal(await job.getState(), 'waiting');
  }

  // A refused producer now, with jobs in the queue: still nothing added.
  const idBefore = await client.get(`bull:${qname}:id`);
  const again = await I.enqueue(r.url, qname, ['late', '{}'], { env: { ...env, REDIS_TLS_CA: certs.otherCa } });
  assert.equal(again.code, 1);
  assert.equal(await queue.count(), 25);
  assert.equal(await client.get(`bull:${qname}:id`), idBefore, 'the id counter did not move');

  const w = I.useWorker(t, r, qname,
    ['--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, '--concurrency', '4']);
  await I.waitCounts(queue, (c) => c.completed === 25, '25 completed', 30000);
  for (const e of expected) await I.assertCompleted(queue, e.id, e.data);
  assert.equal((await queue.getJobCounts('failed')).failed, 0);
  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('a Node Worker and echo_worker share one TLS queue: every job completed exactly once, both did some', { timeout: TIMEOUT }, async (t) => {
  const r = await useTls(t);
  const qname = 'tls-shared';
  const N = 300;
  const queue = I.useQueue(t, r, qname);
  const client = useConn(t, r.connection);
  const nodeWorker = new Worker(qname, async (job) => {
    await I.sleep(3);
    return { by: 'node', i: job.data.i };
  }, { connection: r.connection, concurrency: 4, name: 'node-side' });
  nodeWorker.on('error', () => {});
  I.defer(t, () => I.within(nodeWorker.close(true), 10000));
  await nodeWorker.waitUntilReady();
  const w = I.useWorker(t, r, qname, ['--tls-ca', certs.ca, '--concurrency', '4', '--name', 'c-side']);
  await I.waitFor(async () => (await I.workerNames(queue)).length === 2,
    { timeout: 15000, what: 'both workers registered' });

  // echo_worker returns the data: sleepMs makes it as slow as the Node side.
  const jobs = await queue.addBulk(Array.from({ length: N }, (_, i) => ({ name: 's', data: { i, sleepMs: 3 } })));
  await I.waitCounts(queue, (c) => c.completed === N, `${N} completed`, 60000);
  const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
  assert.deepEqual(counts, { completed: N, failed: 0, active: 0, wait: 0, delayed: 0 });

  const completed = (await I.readStream(client, qname)).filter((e) => e.event === 'completed');
  const perJob = new Map();
  for (const e of completed) perJob.set(e.jobId, (perJob.get(e.jobId) || 0) + 1);
  assert.equal(perJob.size, N, 'a completed event for every job');
  for (const j of jobs) assert.equal(perJob.get(j.id), 1, `job ${j.id}: one completed event`);
  assert.equal(completed.length, N);

  let byNode = 0;
  let byC = 0;
  const byId = new Map(jobs.map((j) => [j.id, j]));
  for (const e of completed) {
    const rv = JSON.parse(e.returnvalue);
    const j = byId.get(e.jobId);
    if (rv && rv.by === 'node') {
      byNode++;
      assert.deepEqual(rv, { by: 'node', i: j.data.i });
    } else {
      byC++;
      assert.deepEqual(rv, j.data, `job ${e.jobId}: echo_worker returns the data`);
    }
    const job = await queue.getJob(e.jobId);
    assert.equal(job.attemptsMade, 1, `job ${e.jobId}: one attempt`);
    assert.deepEqual(job.returnvalue, rv, `job ${e.jobId}: the stored value is the event's`);
  }
  assert.equal(byNode + byC, N);
  if (I.VERBOSE) console.log(`shared TLS queue: Node ${byNode}, C ${byC}`);
  assert.ok(byNode > 0, `the Node Worker processed some (node ${byNode}, C ${byC})`);
  assert.ok(byC > 0, `echo_worker processed some (node ${byNode}, C ${byC})`);

  const res = await I.stopWorker(w);
  assert.deepEqual(res, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});
