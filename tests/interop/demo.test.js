'use strict';
// `make demo` end to end (examples/demo/demo.sh): the Bull variant (BULLC_PROTOCOL=bull: the
// NestJS producer on @nestjs/bull and bull 4.16.5, inventory_worker and its DLQ in Bull mode) and
// the default BullMQ one. demo.sh runs against this test's Redis and PostgreSQL, so that the
// story's outcomes can be read back afterwards from outside: through Node's Bull (or bullmq)
// Queue and from PostgreSQL's tables. One run also lets demo.sh start its own servers, as
// `make demo` does.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const Bull = require('bull');
const I = require('./lib/interop');
const { startPostgres } = require('./lib/pg');

const DEMO = path.join(I.ROOT, 'examples', 'demo', 'demo.sh');

let pg;
before(async () => { pg = await startPostgres(); });
after(async () => { if (pg) await pg.cleanup(); });

// Runs demo.sh with these variables (BULLC_PROTOCOL only when given): {code, out, err}.
function runDemo(t, env) {
  const vars = { ...process.env, BULLC_BIN_DIR: I.BIN, ...env };
  if (!env.BULLC_PROTOCOL) delete vars.BULLC_PROTOCOL;
  for (const k of ['REDIS_URL', 'DATABASE_URL', 'DEMO_USER_SUFFIX']) if (!env[k]) delete vars[k];
  const child = spawn('bash', [DEMO], { stdio: ['ignore', 'pipe', 'pipe'], env: vars });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; if (I.VERBOSE) process.stderr.write(d); });
  let done = false;
  const exited = new Promise((resolve) => child.once('close', (code) => { done = true; resolve(code); }));
  I.defer(t, async () => {
    if (!done) {
      child.kill('SIGTERM'); // demo.sh stops what it started
      await I.within(exited, 10000);
    }
  });
  return I.within(exited, 110000, 'timed out').then((code) => ({ code, out, err }));
}

// What the story leaves, job by job (ids 1 to 10, in the order told): [state, returnvalue or
// failedReason]. `u` is the suffix of the user ids.
const outcomes = (u) => [
  ['completed', { granted: ['welcome_chest', 'key'], alreadyGranted: [] }],
  ['completed', { granted: [], alreadyGranted: ['welcome_chest', 'key'] }], // repeated: once ever
  ['completed', { granted: ['welcome_chest'], alreadyGranted: [] }],
  ['completed', { used: 1, remaining: 0, granted: { gold: 100, key: 3 } }],
  ['completed', { used: 2, remaining: 2, granted: {} }],
  ['failed', `insufficient quantity: user bob${u} has 0 of key, needs 1`],
  ['failed', 'invalid payload: quantity must be an integer from 1 to 1000'],
  ['completed', { used: 1, remaining: 0, granted: { gold: 100, key: 3 } }],
  ['failed', 'item cannot be used: gold'],
  ['failed', 'unknown event type: open_portal'],
];

// The demo's printed outcome lines, "job N: state", in order.
function printedStates(out) {
  return [...out.matchAll(/^ {4}job (\d+): (\w+(?: \w+)?):/gm)].map((m) => [m[1], m[2]]);
}

// PostgreSQL after the story: the inventory, one processed_jobs row per applied job, audit sums.
async function assertDatabase(db, u) {
  const rows = await pg.rows('SELECT user_id, item_id, quantity FROM user_inventory ORDER BY 1, 2', db.name);
  assert.deepEqual(rows, [
    [`alice${u}`, 'gold', '100'], [`alice${u}`, 'key', '2'],
    [`bob${u}`, 'gold', '100'], [`bob${u}`, 'key', '3'],
  ]);
  assert.deepEqual(await pg.rows('SELECT job_id FROM processed_jobs ORDER BY job_id::int', db.name),
    [['1'], ['2'], ['3'], ['4'], ['5'], ['8']], 'the completed jobs, each applied once');
  assert.equal(await pg.query("SELECT count(*) FROM reward_grants WHERE item_id = 'welcome_chest'", db.name), '2',
    "alice's repeated reward granted nothing again");
  const bad = await pg.query(`SELECT count(*) FROM (SELECT user_id, item_id, sum(delta) AS s FROM inventory_audit GROUP BY 1, 2) a
    FULL JOIN inventory i USING (user_id, item_id) WHERE coalesce(a.s, 0) <> coalesce(i.quantity, 0)`, db.name);
  assert.equal(bad, '0', 'audit rows sum to the inventory');
}

test('BULLC_PROTOCOL=bull demo: the NestJS producer on @nestjs/bull tells the story; Bull and PostgreSQL hold its outcomes', { timeout: 120000 }, async (t) => {
  const redis = await I.useRedis(t);
  const db = await pg.createDb();
  const u = '-nest';
  const r = await runDemo(t, { BULLC_PROTOCOL: 'bull', REDIS_URL: redis.url, DATABASE_URL: db.url, DEMO_USER_SUFFIX: u });
  assert.equal(r.code, 0, `demo.sh exit; stderr:\n${r.err}\nstdout:\n${r.out}`);
  assert.match(r.out, /inventory_worker started \(pid \d+, bull queue\)/);
  assert.match(r.out, /^NestJS producer \(@nestjs\/core 11\.2\.10, @nestjs\/bull 12\.0\.0, bull 4\.16\.5\), queue events$/m);
  const expected = outcomes(u);
  assert.deepEqual(printedStates(r.out), expected.map(([state], i) => [String(i + 1), state]),
    'the producer printed each outcome as Bull saw it');
  assert.match(r.out, /^Dead-letter queue events-dlq \(Bull\): 4 job\(s\) from this story$/m);
  assert.match(r.out, /Bull queue events \(dead letters to events-dlq\)/, "the worker's log");

  // read back through Node's Bull, from outside the demo
  const queue = new Bull('events', { redis: { host: '127.0.0.1', port: redis.port } });
  const dlq = new Bull('events-dlq', { redis: { host: '127.0.0.1', port: redis.port } });
  for (const q of [queue, dlq]) { q.on('error', () => {}); I.defer(t, () => q.close().catch(() => {})); }
  for (let i = 0; i < expected.length; i++) {
    const [state, what] = expected[i];
    const j = await queue.getJob(String(i + 1));
    assert.ok(j, `job ${i + 1}`);
    assert.equal(await j.getState(), state, `job ${i + 1}`);
    if (state === 'completed') assert.deepEqual(j.returnvalue, what, `job ${i + 1}`);
    else assert.equal(j.failedReason, what, `job ${i + 1}`);
    assert.equal(j.attemptsMade, state === 'failed' ? 1 : 0, `job ${i + 1}: Bull counts failed attempts`);
    assert.deepEqual(j.opts.backoff, { type: 'exponential', delay: 500 }, 'the service\'s options');
  }
  const dead = await dlq.getWaiting();
  assert.deepEqual(dead.map((d) => [d.data.jobId, d.name, d.data.failedReason]).sort(),
    [6, 7, 9, 10].map((id) => [String(id), id === 10 ? 'open_portal' : 'use_item', expected[id - 1][1]]).sort(),
    'the final failures, as Bull jobs in the DLQ');
  const client = I.useClient(t, redis);
  assert.equal(await client.exists('bull:events:events', 'bull:events-dlq:events', 'bull:events:meta'), 0,
    'Bull queues only: no BullMQ events stream or meta');
  await assertDatabase(db, u);
});

test('plain demo stays BullMQ: the bullmq producer, the worker and its DLQ on BullMQ queues, the same outcomes', { timeout: 120000 }, async (t) => {
  const redis = await I.useRedis(t);
  const db = await pg.createDb();
  const u = '-mq';
  const r = await runDemo(t, { REDIS_URL: redis.url, DATABASE_URL: db.url, DEMO_USER_SUFFIX: u });
  assert.equal(r.code, 0, `demo.sh exit; stderr:\n${r.err}\nstdout:\n${r.out}`);
  assert.match(r.out, /inventory_worker started \(pid \d+, bullmq queue\)/);
  assert.doesNotMatch(r.out, /NestJS/);
  const expected = outcomes(u);
  assert.deepEqual(printedStates(r.out), expected.map(([state], i) => [String(i + 1), state]));
  assert.match(r.out, /^Dead-letter queue events-dlq: 4 job\(s\) from this story$/m);

  const queue = I.useQueue(t, redis, 'events');
  const dlq = I.useQueue(t, redis, 'events-dlq');
  for (let i = 0; i < expected.length; i++) {
    const [state, what] = expected[i];
    const j = await queue.getJob(String(i + 1));
    assert.equal(await j.getState(), state, `job ${i + 1}`);
    if (state === 'completed') assert.deepEqual(j.returnvalue, what, `job ${i + 1}`);
    else assert.equal(j.failedReason, what, `job ${i + 1}`);
  }
  assert.equal((await dlq.getJobCounts('waiting')).waiting, 4);
  const client = I.useClient(t, redis);
  assert.equal(await client.exists('bull:events:events', 'bull:events-dlq:events'), 2, 'BullMQ event streams');
  await assertDatabase(db, u);
});

test('BULLC_PROTOCOL=bull demo on its own private Redis and PostgreSQL, as make demo runs it', { timeout: 120000 }, async (t) => {
  const r = await runDemo(t, { BULLC_PROTOCOL: 'bull' });
  assert.equal(r.code, 0, `demo.sh exit; stderr:\n${r.err}\nstdout:\n${r.out}`);
  assert.match(r.out, /== private Redis on 127\.0\.0\.1:\d+/);
  assert.match(r.out, /== private PostgreSQL on 127\.0\.0\.1:\d+/);
  assert.deepEqual(printedStates(r.out).map(([, s]) => s), outcomes('').map(([s]) => s));
  // psql's table of user_inventory
  const table = r.out.slice(r.out.indexOf('== user_inventory'));
  const rows = [...table.matchAll(/^ (\w+) +\| (\w+) +\| +(\d+)$/gm)].map((m) => m.slice(1));
  assert.deepEqual(rows, [['alice', 'gold', '100'], ['alice', 'key', '2'], ['bob', 'gold', '100'], ['bob', 'key', '3']]);
  assert.match(r.out, /== demo done/);
});

test('demo.sh refuses an unknown BULLC_PROTOCOL before starting anything', { timeout: 30000 }, async (t) => {
  const r = await runDemo(t, { BULLC_PROTOCOL: 'kafka' });
  assert.equal(r.code, 1);
  assert.match(r.err, /BULLC_PROTOCOL must be bullmq or bull, not 'kafka'/);
  assert.doesNotMatch(r.out, /private Redis/);
});

test('the NestJS producer reports an outcome the story does not expect: exit status 1', { timeout: 120000 }, async (t) => {
  // a space in the user ids: every event is refused, so the ones the story expects to complete fail
  const r = await runDemo(t, { BULLC_PROTOCOL: 'bull', DEMO_USER_SUFFIX: ' x' });
  assert.equal(r.code, 1, `demo.sh exit; stdout:\n${r.out}`);
  assert.match(r.out, /job 1: failed: invalid payload: userId must be a string of .*<-- expected completed$/m);
  assert.match(r.err, /^6 outcome\(s\) differ from the story$/m);
  assert.match(r.out, /Dead-letter queue events-dlq \(Bull\): 10 job\(s\) from this story/);
  assert.match(r.out, /== demo FAILED \(status 1\)/);
});
