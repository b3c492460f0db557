'use strict';
// The watchdog: connections that die without a reset, and a Redis restarted under an idle
// worker. The worker reaches Redis through a TCP relay (lib/relay.js) that can go silent on
// every open connection at once (no FIN, no RST, no reply) while new connections still pass:
// the worker must notice on its own, open new connections and go on, within the bound the
// README promises (about twice the drain delay), and log the outage once rather than per
// attempt. Node's Worker keeps its dead command connection here; ours must not.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const I = require('./lib/interop');
const H = require('./lib/harness');
const { startRelay } = require('./lib/relay');

async function useRelay(t, redis) {
  const relay = await startRelay(redis.port);
  t.after(() => relay.close());
  return relay;
}

// echo_worker through the relay (its Redis URL is the relay's).
function workerVia(t, relay, queue, args) {
  return I.useWorker(t, { url: `redis://127.0.0.1:${relay.port}` }, queue, args);
}

const lines = (w, re) => w.stderrText().split('\n').filter((l) => re.test(l));

test('idle worker, every connection silent: new jobs run within 2 x drain delay + a few s', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const relay = await useRelay(t, redis);
  const queue = I.useQueue(t, redis, 'hole');
  const w = workerVia(t, relay, 'hole', ['--concurrency', '2']); // default drain delay: 5 s
  const first = await queue.add('warm', { n: 1 });
  await I.waitCounts(queue, (c) => c.completed === 1, 'the first job');
  assert.equal(relay.connections(), 2, 'two connections: commands and the blocking wait');

  relay.blackhole({ drop: true }); // what is sent from now on on those sockets is lost
  await H.sleep(500);
  const start = Date.now();
  const job = await queue.add('after', { n: 2 });
  await I.waitCounts(queue, (c) => c.completed === 2, 'the job added after the silence', 30000);
  const took = Date.now() - start;
  assert.ok(took < 2 * 5000 + 5000, `processed ${took} ms after the silence began (bound 15 s)`);
  await I.assertCompleted(queue, first.id, { n: 1 });
  await I.assertCompleted(queue, job.id, { n: 2 });
  assert.ok(relay.accepted() >= 4, `new connections were opened (${relay.accepted()} in all)`);
  assert.equal(relay.connections(), 2, 'the silent ones were closed');
  assert.equal(w.done, false, `worker alive; stderr:\n${I.tail(w)}`);
  // the outage is told once per connection, not once per attempt
  assert.ok(lines(w, /warn|error/).length <= 4, `few warnings:\n${I.tail(w)}`);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, I.tail(w));
});

test('busy worker, every connection silent mid-run: every job completes once', { timeout: 120000 }, async (t) => {
  const redis = await I.useRedis(t);
  const relay = await useRelay(t, redis);
  const queue = I.useQueue(t, redis, 'busyhole');
  const client = I.useClient(t, redis);
  const N = 40;
  const jobs = await queue.addBulk(
    Array.from({ length: N }, (_, k) => ({ name: 'b', data: { k, sleepMs: 200 } })),
  );
  const w = workerVia(t, relay, 'busyhole', ['--concurrency', '4']);
  await I.waitCounts(queue, (c) => c.completed >= 8 && c.active > 0, 'some done, some running');
  relay.blackhole({ drop: true }); // finishes and fetches in flight are lost on the wire
  await I.waitCounts(queue, (c) => c.completed === N, `${N} completed`, 90000);
  const counts = await queue.getJobCounts();
  assert.equal(counts.failed, 0);
  assert.equal(counts.active, 0);
  for (const j of jobs) await I.assertCompleted(queue, j.id, j.data);
  const evs = await I.readStream(client, 'busyhole');
  const per = new Map();
  for (const e of evs.filter((x) => x.event === 'completed')) per.set(e.jobId, (per.get(e.jobId) || 0) + 1);
  for (const j of jobs) assert.equal(per.get(j.id), 1, `job ${j.id}: one completed event`);
  assert.equal(w.done, false, `worker alive; stderr:\n${I.tail(w)}`);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, I.tail(w));
});

test('Redis killed and restarted under an idle worker: later jobs run within seconds', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'bounce');
  const w = I.useWorker(t, redis, 'bounce', ['--concurrency', '2']);
  await queue.add('before', { n: 0 });
  await I.waitCounts(queue, (c) => c.completed === 1, 'the first job');
  // killed outright (no SHUTDOWN): the data goes with it; down for 3 s
  redis.proc.kill('SIGKILL');
  await H.within(new Promise((r) => redis.proc.once('exit', r)), 5000);
  redis.proc = null;
  await H.sleep(3000);
  await redis.start();
  const start = Date.now();
  const jobs = await queue.addBulk([1, 2, 3].map((n) => ({ name: 'after', data: { n } })));
  await I.waitCounts(queue, (c) => c.completed === 3, 'the jobs added after the restart', 20000);
  assert.ok(Date.now() - start < 10000, `processed within 10 s of the restart (${Date.now() - start} ms)`);
  for (const j of jobs) await I.assertCompleted(queue, j.id, j.data);
  assert.equal(w.done, false, `worker alive; stderr:\n${I.tail(w)}`);
  // one warning per connection for the outage, however many attempts it took
  const warns = lines(w, /warn/);
  assert.ok(warns.length >= 1 && warns.length <= 4, `warnings for the outage:\n${warns.join('\n')}`);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, I.tail(w));
});
