'use strict';
// TOPOLOGY: the fixtures of lib/topology.js and lib/relay.js, each checked
// from outside and with Node's bullmq running jobs on top: the test
// certificates, TLS (server-only, name and CA checks, mutual TLS), ACL users,
// a master/replica pair under three sentinels with a failover while a Worker
// runs, a six-node cluster with a failover and a one-slot reshard (at rest
// and under load), and the relay that blackholes its connections.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const IORedis = require('ioredis');
const { Queue, Worker } = require('bullmq');
const H = require('./lib/harness');
const T = require('./lib/topology');
const { startRelay } = require('./lib/relay');

const noop = () => {};
let certs;

before(() => { certs = T.makeCerts(); });
after(() => { if (certs) certs.cleanup(); });

// Tries one PING with these ioredis options, without retries. Resolves
// { reply, error }: the first error the client reported, if any.
async function tryPing(opts) {
  const c = new IORedis({
    host: '127.0.0.1', ...opts, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0,
  });
  let error = null;
  c.on('error', (e) => { error = error || e; });
  try {
    await H.within(c.connect(), 3000);
    const reply = await H.within(c.ping(), 3000, null);
    return { reply, error };
  } catch (e) {
    return { reply: null, error: error || e };
  } finally {
    c.disconnect();
  }
}

async function completedCount(queue) {
  return (await queue.getJobCounts('completed')).completed;
}

// Adds n jobs (data {i}) to queue `name` and runs them on a Node Worker, both
// on `connection` (bullmq options or a client instance); checks that all end
// completed with the processor's values, then closes both.
async function roundTrip(connection, name, n = 20) {
  const queue = new Queue(name, { connection });
  const worker = new Worker(name, async (job) => job.data.i * 2, { connection, concurrency: 4 });
  queue.on('error', noop);
  worker.on('error', noop);
  try {
    await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'j', data: { i } })));
    await H.waitFor(async () => (await completedCount(queue)) === n,
      { timeout: 15000, interval: 50, what: `${n} jobs completed on ${name}` });
    const done = await queue.getJobs(['completed'], 0, -1);
    assert.deepEqual(done.map((j) => j.returnvalue).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i * 2));
    assert.equal((await queue.getJobCounts('failed')).failed, 0);
  } finally {
    await H.within(Promise.allSettled([worker.close(true), queue.close()]), 10000);
  }
}

// A Worker that survives failovers: short locks and frequent stalled checks,
// so that jobs whose last writes were lost come back soon, and no job fails
// for having stalled several times.
function sturdyWorker(name, connection, concurrency = 4) {
  const w = new Worker(name, async (job) => {
    await H.sleep(5);
    return job.data.i + 1;
  }, { connection, concurrency, lockDuration: 3000, stalledInterval: 1000, maxStalledCount: 1000 });
  w.on('error', noop);
  return w;
}

function jobsFrom(start, n) {
  return Array.from({ length: n }, (_, k) => ({ name: 'j', data: { i: start + k } }));
}

function assertGone(...procs) {
  for (const p of procs) assert.ok(p.exitCode !== null || p.signalCode !== null, `pid ${p.pid} still running`);
}

test('makeCerts: a CA, server/name-only/client leaves and an unrelated CA, in well under 2 s', () => {
  const t0 = Date.now();
  const c = T.makeCerts();
  const ms = Date.now() - t0;
  try {
    assert.ok(ms < 2000, `makeCerts took ${ms} ms`);
    const x = (file) => new crypto.X509Certificate(fs.readFileSync(file));
    const ca = x(c.ca);
    const otherCa = x(c.otherCa);
    const server = x(c.serverCert);
    const nameOnly = x(c.nameOnlyCert);
    const client = x(c.clientCert);
    const other = x(c.otherCert);
    assert.ok(ca.ca && otherCa.ca);
    assert.ok(!server.ca && !client.ca);
    for (const leaf of [server, nameOnly, client]) {
      assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    }
    assert.ok(!other.checkIssued(ca) && other.checkIssued(otherCa) && other.verify(otherCa.publicKey));
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(nameOnly.checkIP('127.0.0.1'), undefined);
    assert.equal(nameOnly.checkHost('redis.test'), 'redis.test');
    assert.equal(other.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(server.keyUsage.includes('1.3.6.1.5.5.7.3.1')); // serverAuth
    assert.ok(client.keyUsage.includes('1.3.6.1.5.5.7.3.2')); // clientAuth
    const days = (Date.parse(server.validTo) - Date.now()) / 86400000;
    assert.ok(days > 1 && days < 8, `valid for ${days} days`);
    for (const f of [c.caKey, c.serverKey, c.nameOnlyKey, c.clientKey, c.otherKey]) assert.ok(fs.existsSync(f));
  } finally {
    c.cleanup();
  }
  assert.equal(fs.existsSync(c.dir), false);
});

test('TLS, server certificate only: bullmq works, a client that does not trust the CA is refused', async () => {
  const r = await T.startRedisTls({ certs });
  try {
    assert.equal(r.url, `rediss://127.0.0.1:${r.port}`);
    assert.equal(await r.cli('PING'), 'PONG');
    // A plain-text client on the TLS port gets no reply.
    assert.equal(await T.probe(r.port), null);
    const { reply } = await tryPing(r.connection);
    assert.equal(reply, 'PONG');
    await roundTrip(r.connection, 'tls-only');
    // Only the system's CAs: the test CA is unknown.
    const refused = await tryPing({ port: r.port, tls: {} });
    assert.equal(refused.reply, null);
    assert.match(refused.error.code || refused.error.message, /UNABLE_TO_(VERIFY|GET_ISSUER)|SELF_SIGNED/);
  } finally {
    await r.cleanup();
  }
  assertGone(r.proc);
  assert.equal(fs.existsSync(r.dir), false);
});

test('TLS: a name-only certificate needs servername; a foreign CA is refused', async () => {
  const [named, foreign] = await Promise.all([
    T.startRedisTls({ certs, serverCert: 'name-only' }),
    T.startRedisTls({ certs, serverCert: 'other' }),
  ]);
  try {
    assert.equal(named.connection.tls.servername, 'redis.test');
    assert.equal((await tryPing(named.connection)).reply, 'PONG');
    const noName = await tryPing({ port: named.port, tls: T.tlsClientOptions(certs) });
    assert.equal(noName.reply, null);
    assert.equal(noName.error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    const wrongName = await tryPing({ port: named.port, tls: T.tlsClientOptions(certs, { servername: 'localhost' }) });
    assert.equal(wrongName.error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');

    const unknownCa = await tryPing(foreign.connection);
    assert.equal(unknownCa.reply, null);
    assert.match(unknownCa.error.code, /UNABLE_TO_(VERIFY|GET_ISSUER)/);
    const trusting = await tryPing({ port: foreign.port, tls: { ca: [fs.readFileSync(certs.otherCa)] } });
    assert.equal(trusting.reply, 'PONG');
  } finally {
    await Promise.all([named.cleanup(), foreign.cleanup()]);
  }
});

test('mutual TLS: a client certificate from the CA is required; the plain port stays plain', async () => {
  const r = await T.startRedisTls({ certs, authClients: true, plainPort: true });
  try {
    assert.ok(r.connection.tls.cert && r.connection.tls.key);
    assert.equal((await tryPing(r.connection)).reply, 'PONG');
    await roundTrip(r.connection, 'mtls');
    const noCert = await tryPing({ port: r.port, tls: T.tlsClientOptions(certs) });
    assert.equal(noCert.reply, null);
    assert.ok(noCert.error, 'an error is reported');
    // A certificate the server's CA did not sign.
    const foreignCert = await tryPing({ port: r.port, tls: T.tlsClientOptions(certs, { client: 'other' }) });
    assert.equal(foreignCert.reply, null);
    assert.ok(foreignCert.error);
    assert.equal(r.plainUrl, `redis://127.0.0.1:${r.plainPort}`);
    assert.equal((await tryPing({ port: r.plainPort })).reply, 'PONG');
  } finally {
    await r.cleanup();
  }
});

test('ACL: the worker user runs bullmq; default user off, wrong password, foreign keys refused', async () => {
  const a = await T.startRedisAcl();
  try {
    assert.equal(a.url, `redis://worker:s3cret@127.0.0.1:${a.port}`);
    const w = new IORedis(a.url, { maxRetriesPerRequest: null });
    try {
      assert.equal(await w.call('ACL', 'WHOAMI'), 'worker');
      await assert.rejects(w.set('elsewhere', '1'), /NOPERM/);
      await assert.rejects(w.call('FLUSHALL'), /NOPERM/);
      await assert.rejects(w.call('CONFIG', 'GET', 'port'), /NOPERM/);
    } finally {
      w.disconnect();
    }
    await roundTrip(a.connection, 'acl', 30);
    // The admin user sees what bullmq wrote, under bull:acl:*.
    assert.equal(await a.cli('ACL', 'WHOAMI'), 'admin');
    assert.equal(await a.cli('ZCARD', 'bull:acl:completed'), 30);
    assert.deepEqual((await a.cli('KEYS', '*')).filter((k) => !k.startsWith('bull:acl:')), []);

    const anonymous = await tryPing({ port: a.port });
    assert.equal(anonymous.reply, null);
    assert.match(anonymous.error.message, /NOAUTH/);
    const wrong = await tryPing({ port: a.port, username: 'worker', password: 'nope' });
    assert.equal(wrong.reply, null);
    assert.match(wrong.error.message, /WRONGPASS/);
    const defaultUser = await tryPing({ port: a.port, username: 'default', password: '' });
    assert.equal(defaultUser.reply, null);
  } finally {
    await a.cleanup();
  }
  assertGone(a.proc);
});

// The sentinel failover: jobs are running when the master dies; the same
// Queue and Worker (sentinel options) go on with the promoted replica.
async function sentinelFailover(s, name) {
  const queue = new Queue(name, { connection: s.connection });
  queue.on('error', noop);
  const worker = sturdyWorker(name, s.connection);
  try {
    await queue.addBulk(jobsFrom(0, 200));
    await H.waitFor(async () => (await completedCount(queue)) >= 60,
      { timeout: 15000, interval: 20, what: '60 jobs completed' });
    await s.waitReplicated();
    const old = await s.killMaster();
    assert.equal(old, s.master.port);
    const now = await s.waitFailover(old, 20000);
    assert.equal(now, s.replica.port);
    assert.equal(await s.currentMaster(), s.replica.port);
    await queue.addBulk(jobsFrom(200, 50));
    await H.waitFor(async () => (await completedCount(queue)) === 250,
      { timeout: 40000, interval: 100, what: 'all 250 jobs completed after the failover' });
    const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'failed');
    assert.deepEqual(counts, { wait: 0, active: 0, delayed: 0, failed: 0 });
    const job = await queue.getJob(String(249));
    assert.equal(job.returnvalue, job.data.i + 1);
    // The promoted replica itself holds the result.
    const info = T.parseInfo(await s.nodeCommand(now, 'INFO', 'replication'));
    assert.equal(info.role, 'master');
    assert.equal(await s.nodeCommand(now, 'ZCARD', `bull:${name}:completed`), 250);
  } finally {
    await H.within(Promise.allSettled([worker.close(true), queue.close()]), 10000);
  }
}

test('sentinel: three sentinels, failover under a running Worker, all jobs completed', async () => {
  const t0 = Date.now();
  const s = await T.startSentinel();
  try {
    assert.ok(Date.now() - t0 < 10000, `sentinel start took ${Date.now() - t0} ms`);
    const ports = s.sentinels.map((x) => x.port);
    assert.equal(s.url, `redis-sentinel://${ports.map((p) => `127.0.0.1:${p}`).join(',')}#mymaster`);
    assert.deepEqual(s.connection.sentinels, ports.map((port) => ({ host: '127.0.0.1', port })));
    assert.equal(await s.currentMaster(), s.master.port);
    for (const port of ports) {
      assert.equal((await T.command({ port }, ['SENTINEL', 'replicas', 'mymaster'])).length, 1);
      assert.equal((await T.command({ port }, ['SENTINEL', 'sentinels', 'mymaster'])).length, 2);
    }
    assert.equal(T.parseInfo(await s.nodeCommand(s.replica.port, 'INFO', 'replication')).master_port,
      String(s.master.port));
    await sentinelFailover(s, 'sq');
  } finally {
    await s.cleanup();
  }
  assertGone(...s.sentinels.map((x) => x.proc), s.master.proc, s.replica.proc);
  assert.equal(fs.existsSync(s.dir), false);
});

test('sentinel over TLS (rediss-sentinel): failover under a running Worker', async () => {
  const s = await T.startSentinel({ tls: certs });
  try {
    assert.match(s.url, /^rediss-sentinel:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+#mymaster$/);
    // Nothing answers in plain text.
    assert.equal(await T.probe(s.sentinels[0].port), null);
    assert.equal(await T.probe(s.master.port), null);
    await sentinelFailover(s, 'sq-tls');
  } finally {
    await s.cleanup();
  }
});

test('slotOf: CRC16/XMODEM and the hash-tag rule, as Redis computes them', async () => {
  // The CRC16/XMODEM check value.
  assert.equal(T.crc16(Buffer.from('123456789')), 0x31c3);
  const r = await H.startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
  try {
    const keys = ['', 'a', 'foo', '{tq}', 'bull:{tq}:wait', 'bull:{tq}:1', '{}', '{}x', 'x{}{y}', '{a}{b}',
      '{user1000}.following', 'foo{bar', 'foo}bar{', '{{x}}', 'é{ü}', 'bull:plain:wait'];
    for (let i = 0; i < 50; i++) keys.push(crypto.randomBytes(1 + (i % 12)).toString('base64'));
    for (const k of keys) {
      assert.equal(T.slotOf(k), await T.command({ port: r.port }, ['CLUSTER', 'KEYSLOT', k]), `key ${k}`);
    }
  } finally {
    await r.cleanup();
  }
});

test('cluster: bullmq over IORedis.Cluster, a master failover, then resharding the slot', async () => {
  const t0 = Date.now();
  const c = await T.startCluster();
  const name = '{tq}';
  const conn = c.connection();
  conn.on('error', noop);
  let queue;
  let worker;
  try {
    assert.ok(Date.now() - t0 < 10000, `cluster start took ${Date.now() - t0} ms`);
    assert.equal(c.nodes.length, 6);
    assert.equal(c.url, `redis://127.0.0.1:${c.nodes[0].port}`);
    for (const n of c.nodes) {
      const info = T.parseInfo(await c.nodeCommand(n.port, 'CLUSTER', 'INFO'));
      assert.equal(info.cluster_state, 'ok');
      assert.equal(info.cluster_slots_assigned, '16384');
      assert.equal(info.cluster_known_nodes, '6');
      assert.match(n.id, /^[0-9a-f]{40}$/);
    }
    const slot = c.slotOf('bull:{tq}:wait');
    assert.equal(slot, c.slotOf('tq'));
    const owner = await c.masterOfSlot(slot);
    const backup = await c.replicaOfSlot(slot);
    assert.ok(owner && backup && owner.id !== backup.id);

    queue = new Queue(name, { connection: conn });
    queue.on('error', noop);
    worker = sturdyWorker(name, conn, 8);
    await queue.addBulk(jobsFrom(0, 200));
    await H.waitFor(async () => (await completedCount(queue)) === 200,
      { timeout: 20000, interval: 50, what: '200 jobs completed' });
    // Every key of the queue is in that slot, on its owner.
    const inSlot = await c.nodeCommand(owner.port, 'CLUSTER', 'COUNTKEYSINSLOT', slot);
    assert.ok(inSlot > 200, `${inSlot} keys in slot ${slot}`);
    assert.equal(await c.nodeCommand(owner.port, 'DBSIZE'), inSlot);

    // Failover: the slot's master dies once its replica has everything.
    await c.waitReplicated();
    await c.killNode(owner.port);
    const promoted = await c.waitFailover(slot, owner.port, 20000);
    assert.equal(promoted.id, backup.id);
    assert.deepEqual(await c.masterOfSlot(slot), promoted);
    await queue.addBulk(jobsFrom(200, 100));
    await H.waitFor(async () => (await completedCount(queue)) === 300,
      { timeout: 40000, interval: 100, what: '300 jobs completed after the failover' });
    assert.equal((await queue.getJobCounts('failed')).failed, 0);

    // Resharding at rest: 50 jobs wait while the slot moves to another master.
    await H.within(worker.close(), 10000);
    worker = null;
    await queue.addBulk(jobsFrom(300, 50));
    const target = [];
    for (const n of c.liveNodes()) {
      const info = T.parseInfo(await c.nodeCommand(n.port, 'INFO', 'replication'));
      if (info.role === 'master' && n.id !== promoted.id) target.push(n);
    }
    assert.equal(target.length, 2);
    const before1 = await c.nodeCommand(promoted.port, 'CLUSTER', 'COUNTKEYSINSLOT', slot);
    const moved = await c.reshardSlot(slot, target[0].id, { batch: 7 });
    assert.equal(moved.keys, before1);
    assert.deepEqual(moved.from, promoted);
    assert.deepEqual(await c.masterOfSlot(slot), { port: target[0].port, id: target[0].id });
    assert.equal(await c.nodeCommand(promoted.port, 'CLUSTER', 'COUNTKEYSINSLOT', slot), 0);
    assert.equal(await c.nodeCommand(target[0].port, 'CLUSTER', 'COUNTKEYSINSLOT', slot), before1);
    assert.equal((await queue.getJobCounts('wait')).wait, 50);
    assert.equal(await completedCount(queue), 300);

    // (Resharding under load is proven with the C worker in cluster.test.js; Node's Worker over
    // IORedis.Cluster can stall on a half-moved slot, which is not what this harness test is for.)
  } finally {
    await H.within(Promise.allSettled([worker && worker.close(true), queue && queue.close()]), 10000);
    conn.disconnect();
    await c.cleanup();
  }
  assertGone(...c.nodes.map((n) => n.proc));
  assert.equal(fs.existsSync(c.dir), false);
});

test('cluster over TLS: bullmq round trip and a failover', async () => {
  const c = await T.startCluster({ tls: certs });
  const conn = c.connection();
  conn.on('error', noop);
  try {
    assert.equal(c.url, `rediss://127.0.0.1:${c.nodes[0].port}`);
    assert.equal(await T.probe(c.nodes[0].port), null);
    await roundTrip(conn, '{tls}', 50);
    const slot = c.slotOf('{tls}');
    const owner = await c.masterOfSlot(slot);
    await c.waitReplicated();
    await c.killNode(owner.port);
    const promoted = await c.waitFailover(slot, owner.port, 20000);
    assert.notEqual(promoted.port, owner.port);
    assert.equal(await c.nodeCommand(promoted.port, 'ZCARD', 'bull:{tls}:completed'), 50);
  } finally {
    conn.disconnect();
    await c.cleanup();
  }
});

test('relay: forwards, then blackholes open connections without closing them', async () => {
  const redis = await H.startRedis();
  const relay = await startRelay(redis.port);
  const clients = [];
  const client = (opts = {}) => {
    const c = new IORedis({ host: '127.0.0.1', port: relay.port, maxRetriesPerRequest: null, ...opts });
    c.on('error', noop);
    clients.push(c);
    return c;
  };
  // A command whose promise may stay pending: never an unhandled rejection.
  const pending = (p) => { p.catch(noop); return p; };
  try {
    const a = client();
    assert.equal(await a.ping(), 'PONG');
    assert.equal(relay.connections(), 1);
    await a.set('k', 'v');

    relay.blackhole();
    assert.ok(relay.holed());
    const silent = pending(a.get('k'));
    assert.equal(await H.within(silent, 1000, 'no reply'), 'no reply');
    assert.equal(a.status, 'ready');
    assert.equal(relay.connections(), 1);

    // New connections still pass.
    const b = client();
    assert.equal(await H.within(b.ping(), 3000, 'no reply'), 'PONG');
    assert.equal(relay.connections(), 2);

    // ... unless newToo.
    relay.blackhole({ newToo: true });
    const c = client({ enableReadyCheck: false });
    const cPing = pending(c.ping());
    assert.equal(await H.within(cPing, 1000, 'no reply'), 'no reply');
    assert.equal(await H.within(pending(b.ping()), 500, 'no reply'), 'no reply');
    assert.equal(relay.connections(), 3);

    // resume(): what was held back gets through, in order.
    relay.resume();
    assert.equal(await H.within(silent, 3000, 'no reply'), 'v');
    assert.equal(await H.within(cPing, 3000, 'no reply'), 'PONG');
    assert.equal(await a.ping(), 'PONG');

    // drop mode: bytes are read and thrown away.
    relay.blackhole({ drop: true });
    assert.equal(await H.within(pending(a.ping()), 1000, 'no reply'), 'no reply');
    assert.equal(a.status, 'ready');
  } finally {
    for (const c of clients) c.disconnect();
    await relay.close();
    await redis.cleanup();
  }
  assert.equal(relay.connections(), 0);
});
