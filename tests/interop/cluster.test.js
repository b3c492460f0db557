'use strict';
// CLUSTER: echo_worker and bullc_enqueue on a real Redis Cluster (lib/topology.js,
// 3 masters x 1 replica), given the URL of any one node. Node's bullmq runs
// over IORedis.Cluster next to them and checks every outcome from outside:
// a queue without a hash tag is refused before anything is written; jobs
// added by either side complete on the node that owns the queue's slot,
// wherever the URL points (a replica of another shard too); the worker
// follows a master failover and a slot migration under load without losing
// or failing a job; a Node Worker and the C worker share one queue; and the
// same over TLS (rediss://).
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Worker } = require('bullmq');
const I = require('./lib/interop');
const T = require('./lib/topology');
const { echoProcessor } = require('./lib/echo');

const noop = () => {};
// Short locks and stalled checks, so that a job whose last write a failover
// lost comes back within seconds.
const STURDY = ['--lock-duration', '5000', '--stalled-interval', '5000'];

function clusterQueue(t, conn, name, opts = {}) {
  const q = new Queue(name, { connection: conn, ...opts });
  q.on('error', noop);
  I.defer(t, () => q.close().catch(noop));
  return q;
}

function jobsOf(n, data = (i) => ({ i }), name = 'j') {
  return Array.from({ length: n }, (_, i) => ({ name, data: data(i) }));
}

const STATES = ['wait', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children', 'failed', 'completed'];

// Every added job is completed with the echo of its data, none is anywhere
// else, and no other job exists. Resolves the completed jobs by id.
async function assertAllCompleted(queue, added, { timeout = 60000, attemptsMade = null } = {}) {
  const n = added.length;
  await I.waitCounts(queue, (c) => c.completed === n || c.failed > 0,
    `${n} completed`, timeout);
  const counts = await queue.getJobCounts(...STATES);
  assert.deepEqual(counts, {
    wait: 0, active: 0, delayed: 0, prioritized: 0, paused: 0, 'waiting-children': 0, failed: 0, completed: n,
  }, 'job counts');
  const done = await queue.getJobs(['completed'], 0, -1);
  const byId = new Map(done.map((j) => [j.id, j]));
  assert.equal(byId.size, n, 'distinct completed jobs');
  for (const a of added) {
    const j = byId.get(a.id);
    assert.ok(j, `job ${a.id} is among the completed`);
    assert.equal(j.name, a.name, `job ${a.id} name`);
    assert.deepEqual(j.data, a.data, `job ${a.id} data`);
    assert.deepEqual(j.returnvalue, a.data, `job ${a.id} returnvalue`);
    if (attemptsMade !== null) assert.equal(j.attemptsMade, attemptsMade, `job ${a.id} attemptsMade`);
    else assert.ok(j.attemptsMade >= 1, `job ${a.id} attemptsMade ${j.attemptsMade}`);
    I.assertTimes(j);
  }
  return byId;
}

// The masters the cluster has now: [{port, id}].
async function masters(c) {
  const out = [];
  for (const n of c.liveNodes()) {
    const info = T.parseInfo(await c.nodeCommand(n.port, 'INFO', 'replication'));
    if (info.role === 'master') out.push({ port: n.port, id: n.id });
  }
  return out;
}

// Keys under `pattern` on every running node.
async function keysEverywhere(c, pattern) {
  const all = [];
  for (const n of c.liveNodes()) all.push(...await c.nodeCommand(n.port, 'KEYS', pattern));
  return all;
}

async function dbsizes(c) {
  const o = {};
  for (const n of c.liveNodes()) o[n.port] = await c.nodeCommand(n.port, 'DBSIZE');
  return o;
}

// How many clients named `name` (CLIENT SETNAME) the node on `port` has.
async function namedClients(c, port, name) {
  const list = String(await c.nodeCommand(port, 'CLIENT', 'LIST'));
  return list.split('\n').filter((l) => l.split(' ').includes(`name=${name}`)).length;
}

// The events stream holds exactly one 'completed' for each of these jobs, and
// no 'failed'.
async function assertOneCompletedEach(conn, queueName, added) {
  const evs = await I.readStream(conn, queueName);
  const per = new Map();
  for (const e of evs.filter((x) => x.event === 'completed')) per.set(e.jobId, (per.get(e.jobId) || 0) + 1);
  assert.equal(per.size, added.length, "jobs with a 'completed' event");
  for (const a of added) assert.equal(per.get(a.id), 1, `job ${a.id}: 'completed' events`);
  assert.equal(evs.filter((x) => x.event === 'failed').length, 0, "no 'failed' event");
  return evs;
}

async function assertWorkerStops(w) {
  assert.equal(w.done, false, `echo_worker still running; stderr:\n${I.tail(w)}`);
  const r = await I.stopWorker(w, 'SIGTERM', 20000);
  assert.deepEqual(r, { code: 0, signal: null }, `exit after SIGTERM; stderr:\n${I.tail(w)}`);
}

describe('cluster (3 masters x 1 replica, plain TCP)', { timeout: 150000 }, () => {
  let c;
  let conn;

  before(async () => {
    I.requireEchoWorker();
    c = await T.startCluster({ masters: 3, replicasPer: 1 });
    conn = c.connection();
    conn.on('error', noop);
  });

  after(async () => {
    if (conn) conn.disconnect();
    if (c) await c.cleanup();
  });

  test('a queue without a hash tag: worker and producer refuse at once, naming the fix; nothing written', { timeout: 60000 }, async (t) => {
    const sizes = await dbsizes(c);
    const w = I.useWorker(t, c, 'plain', ['--concurrency', '4']);
    const r = await I.within(w.exited, 10000, null);
    assert.ok(r, `echo_worker still running after 10 s; stderr:\n${I.tail(w)}`);
    assert.notEqual(r.code, 0, `exit status; stderr:\n${I.tail(w)}`);
    assert.equal(r.signal, null);
    const lines = w.stderrText().trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line on stderr:\n${w.stderrText()}`);
    assert.match(lines[0], /hash tag/);
    assert.match(lines[0], /\{[^}]+\}/, 'an example of a hash tag');
    assert.match(lines[0], /cluster/i);

    // bullc_enqueue: adding one job, a bulk and reading counts are refused the
    // same way (it may add its generic one-line summary after the reason).
    const refusals = [
      await I.enqueue(c.url, 'plain', ['j', '{"v":1}']),
      await I.enqueue(c.url, 'plain', ['--bulk', '-'], { input: '{"name":"a","data":{}}\n' }),
      await I.enqueue(c.url, 'plain', ['--counts']),
      // An empty tag ("{}") hashes the whole key: no tag either.
      await I.enqueue(c.url, 'x{}', ['j', '{}']),
    ];
    for (const e of refusals) {
      assert.notEqual(e.code, 0, `bullc_enqueue exit; stderr:\n${e.stderr}`);
      assert.equal(e.stdout, '', 'nothing on stdout (no job id)');
      const fix = e.stderr.split('\n').filter((l) => /hash tag/.test(l));
      assert.equal(fix.length, 1, `one line naming the fix:\n${e.stderr}`);
      assert.match(fix[0], /\{[^}]+\}/, 'an example of a hash tag');
    }

    assert.deepEqual(await dbsizes(c), sizes, 'no key written on any node');
    assert.deepEqual(await keysEverywhere(c, '*plain*'), []);
  });

  test('producer: bullc_enqueue via any node adds to a tagged queue; Node reads it back; the worker completes it', { timeout: 60000 }, async (t) => {
    const name = '{prod}';
    const slot = c.slotOf(`bull:${name}:id`);
    const owner = await c.masterOfSlot(slot);
    // A node that is not the owner: the producer must find the owner itself.
    const other = c.liveNodes().find((n) => n.port !== owner.port);
    const url = `redis://127.0.0.1:${other.port}`;
    const queue = clusterQueue(t, conn, name);

    const added = [];
    for (let k = 0; k < 5; k++) {
      const data = { k, s: `v${k} "q" \u00fc` };
      const r = await I.enqueue(url, name, [`one-${k}`, JSON.stringify(data)]);
      assert.equal(r.code, 0, `bullc_enqueue: ${r.stderr}`);
      added.push({ id: r.stdout.trim(), name: `one-${k}`, data });
    }
    const bulk = jobsOf(40, (i) => ({ b: i, sleepMs: 2 }), 'bulk');
    const rb = await I.enqueue(url, name, ['--bulk', '-'],
      { input: bulk.map((j) => JSON.stringify(j)).join('\n') + '\n' });
    assert.equal(rb.code, 0, `bullc_enqueue --bulk: ${rb.stderr}`);
    const ids = rb.stdout.trim().split('\n');
    assert.equal(ids.length, 40);
    ids.forEach((id, i) => added.push({ id, name: 'bulk', data: bulk[i].data }));
    assert.deepEqual(added.map((a) => a.id), Array.from({ length: 45 }, (_, i) => String(i + 1)));

    // Node sees every job as added, waiting, and it lives on the slot's owner.
    assert.equal((await queue.getJobCounts('wait')).wait, 45);
    for (const a of added) {
      const j = await queue.getJob(a.id);
      assert.ok(j, `job ${a.id}`);
      assert.equal(j.name, a.name);
      assert.deepEqual(j.data, a.data);
      assert.equal(await j.getState(), 'waiting');
    }
    assert.equal(await c.nodeCommand(owner.port, 'LLEN', `bull:${name}:wait`), 45);
    // The producer's reads through the cluster too.
    const counts = await I.enqueue(url, name, ['--counts']);
    assert.equal(counts.code, 0, counts.stderr);
    assert.equal(JSON.parse(counts.stdout).waiting, 45, counts.stdout);

    // A hash tag in the prefix works the same way.
    const pq = clusterQueue(t, conn, 'orders', { prefix: '{bq}' });
    const rp = await I.enqueue(url, 'orders', ['--prefix', '{bq}', 'po', '{"n":7}']);
    assert.equal(rp.code, 0, rp.stderr);
    const pj = await pq.getJob(rp.stdout.trim());
    assert.equal(pj.name, 'po');
    assert.deepEqual(pj.data, { n: 7 });

    const w = I.useWorker(t, { url }, name, ['--concurrency', '4', ...STURDY]);
    await assertAllCompleted(queue, added, { timeout: 30000, attemptsMade: 1 });
    const st = await I.enqueue(url, name, ['--state', added[0].id]);
    assert.equal(st.stdout.trim(), 'completed');
    await assertWorkerStops(w);
    // The prefixed job was not touched by a worker of another key base; a
    // worker with the tagged prefix runs it.
    assert.equal(await pj.getState(), 'waiting');
    const wp = I.useWorker(t, { url }, 'orders', ['--prefix', '{bq}', ...STURDY]);
    await assertAllCompleted(pq, [{ id: pj.id, name: 'po', data: { n: 7 } }], { timeout: 30000, attemptsMade: 1 });
    await assertWorkerStops(wp);
  });

  test('URL of a replica of another shard: the worker finds the owner; jobs complete', { timeout: 60000 }, async (t) => {
    const name = '{viarep}';
    const slot = c.slotOf(name);
    const owner = await c.masterOfSlot(slot);
    const slots = await c.nodeCommand(owner.port, 'CLUSTER', 'SLOTS');
    const foreign = slots.find((e) => e[2][2] !== owner.id && e.length > 3);
    assert.ok(foreign, 'a shard with a replica that does not own the slot');
    const replicaPort = Number(foreign[3][1]);
    const info = T.parseInfo(await c.nodeCommand(replicaPort, 'INFO', 'replication'));
    assert.equal(info.role, 'slave');
    assert.notEqual(Number(info.master_port), owner.port);

    const queue = clusterQueue(t, conn, name);
    const added = await queue.addBulk(jobsOf(200, (i) => ({ i, sleepMs: 3 })));
    const w = I.useWorker(t, { url: `redis://127.0.0.1:${replicaPort}` }, name,
      ['--concurrency', '8', ...STURDY]);
    await assertAllCompleted(queue, added, { timeout: 40000, attemptsMade: 1 });
    assert.match(w.stderrText(), new RegExp(`127\\.0\\.0\\.1:${owner.port}\\b`),
      `stderr names the owner ${owner.port}:\n${I.tail(w)}`);
    assert.equal(await c.nodeCommand(owner.port, 'ZCARD', `bull:${name}:completed`), 200);
    assert.ok(await namedClients(c, owner.port, `bull:${I.b64(name)}`) >= 1, 'the worker is connected to the owner');
    assert.equal(await namedClients(c, replicaPort, `bull:${I.b64(name)}`), 0, 'and not to the replica');
    assert.deepEqual(await c.nodeCommand(replicaPort, 'KEYS', `bull:${name}:*`), [],
      'nothing on the replica the URL named');
    await assertWorkerStops(w);
  });

  test('Node Worker (IORedis.Cluster) and echo_worker share a tagged queue: one completion each', { timeout: 60000 }, async (t) => {
    const name = '{mix}';
    const queue = clusterQueue(t, conn, name);
    const ranInNode = new Map();
    const nodeWorker = new Worker(name, async (job) => {
      ranInNode.set(job.id, (ranInNode.get(job.id) || 0) + 1);
      return echoProcessor(job);
    }, { connection: conn, concurrency: 4, name: 'node' });
    nodeWorker.on('error', noop);
    I.defer(t, () => nodeWorker.close(true).catch(noop));
    const w = I.useWorker(t, c, name, ['--concurrency', '4', '--name', 'c', ...STURDY]);
    const b = I.b64(name);
    await I.waitFor(async () => {
      const names = await I.workerNames(queue);
      return names.includes(`bull:${b}:w:node`) && names.includes(`bull:${b}:w:c`);
    }, { timeout: 15000, what: 'both workers listed by getWorkers()' });

    const N = 300;
    const added = await queue.addBulk(jobsOf(N, (i) => ({ i, sleepMs: 10 })));
    const byId = await assertAllCompleted(queue, added, { timeout: 40000, attemptsMade: 1 });
    const by = { node: 0, c: 0 };
    for (const a of added) {
      const j = byId.get(a.id);
      assert.equal(j.attemptsStarted, 1, `job ${a.id} started once`);
      assert.ok(j.processedBy === 'node' || j.processedBy === 'c', `job ${a.id} processedBy ${j.processedBy}`);
      by[j.processedBy]++;
      assert.equal(ranInNode.get(a.id) || 0, j.processedBy === 'node' ? 1 : 0, `job ${a.id} ran in Node`);
    }
    assert.ok(by.node > 0 && by.c > 0, `both workers took jobs: ${JSON.stringify(by)}`);

    // The events stream, read through the cluster connection.
    const evs = await I.readStream(conn, name);
    const per = new Map();
    for (const e of evs.filter((x) => x.event === 'completed')) per.set(e.jobId, (per.get(e.jobId) || 0) + 1);
    assert.equal(per.size, N);
    for (const [id, n] of per) assert.equal(n, 1, `job ${id}: completed events`);
    assert.equal(evs.filter((x) => x.event === 'active').length, N);
    assert.equal(evs.filter((x) => x.event === 'failed' || x.event === 'stalled').length, 0);

    await nodeWorker.close();
    await assertWorkerStops(w);
  });

  test('slot migration under load: every job completes as added; new jobs complete on the new owner', { timeout: 120000 }, async (t) => {
    const name = '{mig}';
    const slot = c.slotOf(name);
    const from = await c.masterOfSlot(slot);
    const to = (await masters(c)).find((m) => m.id !== from.id);
    const queue = clusterQueue(t, conn, name);
    const N = 1000;
    const added = await queue.addBulk(jobsOf(N, (i) => ({ i, sleepMs: 10 })));
    const w = I.useWorker(t, c, name, ['--concurrency', '8', ...STURDY]);
    await I.waitCounts(queue, (x) => x.completed >= 150, '150 completed before the move', 30000);
    const moved = await c.reshardSlot(slot, to.id, { batch: 20, pauseMs: 40, timeoutMs: 20000 });
    if (I.VERBOSE) console.error(`reshard: ${moved.keys} keys moved, ${JSON.stringify(await queue.getJobCounts())}`);
    assert.ok(moved.keys > 100, `${moved.keys} keys moved`);
    assert.deepEqual(await c.masterOfSlot(slot), to);
    assert.equal(w.done, false, `echo_worker still running after the move; stderr:\n${I.tail(w)}`);

    await assertAllCompleted(queue, added, { timeout: 60000 });
    assert.equal(await c.nodeCommand(from.port, 'CLUSTER', 'COUNTKEYSINSLOT', slot), 0, 'nothing left on the old owner');

    // New jobs, after the move, on the new owner.
    const more = await queue.addBulk(jobsOf(50, (i) => ({ after: i })));
    await assertAllCompleted(queue, [...added, ...more], { timeout: 30000 });
    assert.equal(await c.nodeCommand(to.port, 'ZCARD', `bull:${name}:completed`), N + 50);
    await assertOneCompletedEach(conn, name, [...added, ...more]);
    assert.ok(await namedClients(c, to.port, `bull:${I.b64(name)}`) >= 1, 'the worker is connected to the new owner');
    await I.waitFor(async () => (await namedClients(c, from.port, `bull:${I.b64(name)}`)) === 0,
      { timeout: 15000, interval: 200, what: 'the worker to keep no connection to the old owner' });
    assert.match(w.stderrText(), new RegExp(`127\\.0\\.0\\.1:${to.port}\\b`),
      `stderr shows the worker went to the new owner ${to.port}:\n${I.tail(w)}`);
    await assertWorkerStops(w);
  });

  // Last on this cluster: it kills a master.
  test('failover: SIGKILL of the slot\'s master midway; every job completed, none lost; the worker follows', { timeout: 120000 }, async (t) => {
    const name = '{orders}';
    const slot = c.slotOf(name);
    const owner = await c.masterOfSlot(slot);
    const backup = await c.replicaOfSlot(slot);
    assert.ok(backup, 'the slot has a replica');
    const queue = clusterQueue(t, conn, name);
    const N = 1000;
    const added = await queue.addBulk(jobsOf(N, (i) => ({ i, sleepMs: 10 })));
    await c.waitReplicated();
    const w = I.useWorker(t, c, name, ['--concurrency', '8', ...STURDY]);
    await I.waitCounts(queue, (x) => x.completed >= 300, '300 completed before the kill', 30000);
    await c.waitReplicated();
    await c.killNode(owner.port);
    const killedAt = Date.now();
    const promoted = await c.waitFailover(slot, owner.port, 30000);
    if (I.VERBOSE) console.error(`failover to ${promoted.port} after ${Date.now() - killedAt} ms`);
    assert.equal(promoted.id, backup.id);

    await assertAllCompleted(queue, added, { timeout: 60000 });
    assert.equal(await c.nodeCommand(promoted.port, 'ZCARD', `bull:${name}:completed`), N);
    await assertOneCompletedEach(conn, name, added);
    assert.ok(await namedClients(c, promoted.port, `bull:${I.b64(name)}`) >= 1,
      'the worker is connected to the promoted replica');
    const err = w.stderrText();
    assert.match(err, new RegExp(`127\\.0\\.0\\.1:${promoted.port}\\b`),
      `stderr shows the worker went to the promoted replica ${promoted.port}:\n${I.tail(w)}`);
    await assertWorkerStops(w);
  });
});

describe('cluster over TLS', { timeout: 90000 }, () => {
  let certs;
  let c;
  let conn;

  before(async () => {
    I.requireEchoWorker();
    certs = T.makeCerts();
    c = await T.startCluster({ masters: 3, replicasPer: 1, tls: certs });
    conn = c.connection();
    conn.on('error', noop);
  });

  after(async () => {
    if (conn) conn.disconnect();
    if (c) await c.cleanup();
    if (certs) certs.cleanup();
  });

  test('rediss:// to one node with --tls-ca: the worker and the producer run a tagged queue', { timeout: 60000 }, async (t) => {
    assert.match(c.url, /^rediss:\/\/127\.0\.0\.1:\d+$/);
    const name = '{sec}';
    const queue = clusterQueue(t, conn, name);
    const added = [...await queue.addBulk(jobsOf(40, (i) => ({ i, sleepMs: 2 })))];
    const r = await I.enqueue(c.url, name, ['from-c', '{"c":true}'], { env: { REDIS_TLS_CA: certs.ca } });
    assert.equal(r.code, 0, `bullc_enqueue over TLS: ${r.stderr}`);
    added.push({ id: r.stdout.trim(), name: 'from-c', data: { c: true } });
    const w = I.useWorker(t, c, name, ['--concurrency', '4', '--tls-ca', certs.ca, ...STURDY]);
    await assertAllCompleted(queue, added, { timeout: 30000, attemptsMade: 1 });
    const owner = await c.masterOfSlot(c.slotOf(name));
    assert.equal(await c.nodeCommand(owner.port, 'ZCARD', `bull:${name}:completed`), 41);
    await assertWorkerStops(w);
  });
});
