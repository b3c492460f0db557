'use strict';
// The inventory worker (examples/inventory_worker.c, issue 4) against real Redis, a real
// PostgreSQL cluster and Node's bullmq 6.7.0 producer: the two events and their results, the
// rules (once-ever rewards, all-or-nothing, no negative quantities under a 20-way race),
// exactly-once effects across a crash between COMMIT and the completion in Redis, a PostgreSQL
// restart while jobs flow, every class of bad input, hostile strings, the dead-letter queue,
// and that the audit rows always sum to the inventory. The 'bull:' tests run the same worker with
// BULLC_PROTOCOL=bull against the real npm bull 4.16.5 (what @nestjs/bull drives): outcomes read
// back through Bull's Queue, retries, redelivery and the dead-letter queue as a Bull queue.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const Bull = require('bull');
const I = require('./lib/interop');
const { startPostgres } = require('./lib/pg');
const { useReceiver, attrsOf } = require('./lib/otlp');

const WORKER = path.join(I.BIN, 'inventory_worker');
const Q = 'events';

let pg;
before(async () => { pg = await startPostgres(); });
after(async () => { if (pg) await pg.cleanup(); });

// BullMQ unless the test says bull: an exported BULLC_PROTOCOL must not change the BullMQ tests.
function startWorker(t, redis, db, env = {}) {
  const child = spawn(WORKER, [], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env, REDIS_URL: redis.url, DATABASE_URL: db.url, BULLC_QUEUE: Q,
      BULLC_CONCURRENCY: '4', BULLC_LOG_LEVEL: 'info', BULLC_PROTOCOL: 'bullmq', ...env,
    },
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; if (I.VERBOSE) process.stderr.write(`[inv ${child.pid}] ${d}`); });
  child.stderrText = () => err;
  child.done = false;
  child.exited = new Promise((resolve) => child.once('close', (code, signal) => {
    child.done = true;
    resolve({ code, signal });
  }));
  I.defer(t, async () => {
    if (!child.done) {
      child.kill('SIGKILL');
      await I.within(child.exited, 3000);
    }
  });
  return child;
}

async function stop(w) {
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `inventory_worker exit; stderr:\n${I.tail(w)}`);
}

async function setup(t, env) {
  const redis = await I.useRedis(t);
  const db = await pg.createDb();
  const queue = I.useQueue(t, redis, Q);
  const ev = await I.useEvents(t, redis, Q);
  return { redis, db, queue, ev, start: (e = {}) => startWorker(t, redis, db, { ...env, ...e }) };
}

// user_inventory as {user: {item: quantity}}
async function inventory(db) {
  const out = {};
  for (const [u, i, q] of await pg.rows('SELECT user_id, item_id, quantity FROM user_inventory ORDER BY 1, 2', db.name)) {
    (out[u] = out[u] || {})[i] = Number(q);
  }
  return out;
}

// Every (user, item): the audit deltas sum to the holding (0 when there is no row).
async function assertAuditSums(db) {
  const bad = await pg.rows(`
    SELECT coalesce(a.user_id, i.user_id), coalesce(a.item_id, i.item_id), a.s, i.quantity
    FROM (SELECT user_id, item_id, sum(delta) AS s FROM inventory_audit GROUP BY 1, 2) a
    FULL JOIN inventory i ON i.user_id = a.user_id AND i.item_id = a.item_id
    WHERE coalesce(a.s, 0) <> coalesce(i.quantity, 0)`, db.name);
  assert.deepEqual(bad, [], 'audit rows sum to the inventory');
  const neg = await pg.query('SELECT count(*) FROM inventory WHERE quantity < 0', db.name);
  assert.equal(neg, '0');
}

async function finished(queue, ids, timeout = 30000) {
  const jobs = {};
  await I.waitFor(async () => {
    for (const id of ids) {
      if (jobs[id]) continue;
      const st = await queue.getJobState(String(id));
      // read the job after its state is final, so its fields are the final ones
      if (st === 'completed' || st === 'failed') jobs[id] = await queue.getJob(String(id));
    }
    return Object.keys(jobs).length === ids.length;
  }, { timeout, what: `${ids.length} jobs finished`, interval: 50 });
  return ids.map((id) => jobs[id]);
}

test('the story: rewards (repeated, duplicates, once ever), uses with effects, results and audit', { timeout: 60000 }, async (t) => {
  const { db, queue, start } = await setup(t);
  const w = start();
  const add = async (name, data, opts) => {
    const j = await queue.add(name, data, opts);
    const [f] = await finished(queue, [j.id]);
    return f;
  };
  let j = await add('reward_inventory_item', { userId: 'u1', items: ['welcome_chest', 'key', 'key', 'welcome_chest'] });
  assert.deepEqual(j.returnvalue, { granted: ['welcome_chest', 'key'], alreadyGranted: [] }, 'duplicates count once');
  j = await add('reward_inventory_item', { userId: 'u1', items: ['key', 'welcome_chest'] });
  assert.equal(await j.getState(), 'completed', 'a repeated reward completes');
  assert.deepEqual(j.returnvalue, { granted: [], alreadyGranted: ['key', 'welcome_chest'] });
  assert.deepEqual(await inventory(db), { u1: { key: 1, welcome_chest: 1 } });

  j = await add('use_item', { userId: 'u1', itemId: 'welcome_chest' });
  assert.deepEqual(j.returnvalue, { used: 1, remaining: 0, granted: { key: 3, gold: 100 } });
  assert.deepEqual(await inventory(db), { u1: { key: 4, gold: 100 } }, 'the chest is consumed, its effects granted');
  j = await add('use_item', { userId: 'u1', itemId: 'key', quantity: 3, type: 'use_item' });
  assert.deepEqual(j.returnvalue, { used: 3, remaining: 1, granted: {} }, 'a key has no effect; "type" may repeat the name');

  // once ever: the chest was used, a new reward of it grants nothing; a new item still comes
  j = await add('reward_inventory_item', { userId: 'u1', items: ['welcome_chest', 'gold'] });
  assert.deepEqual(j.returnvalue, { granted: ['gold'], alreadyGranted: ['welcome_chest'] });
  j = await add('reward_inventory_item', { userId: 'u2', items: ['welcome_chest'] });
  assert.deepEqual(j.returnvalue, { granted: ['welcome_chest'], alreadyGranted: [] }, 'per user');
  assert.deepEqual(await inventory(db), { u1: { key: 1, gold: 101 }, u2: { welcome_chest: 1 } });

  // the audit: one row per change, with the job that made it
  const audit = await pg.rows("SELECT job_id, action, user_id, item_id, delta FROM inventory_audit WHERE user_id = 'u1' ORDER BY at, action DESC, item_id", db.name);
  assert.deepEqual(audit, [
    ['1', 'reward', 'u1', 'key', '1'], ['1', 'reward', 'u1', 'welcome_chest', '1'],
    ['3', 'use', 'u1', 'welcome_chest', '-1'], ['3', 'effect', 'u1', 'gold', '100'], ['3', 'effect', 'u1', 'key', '3'],
    ['4', 'use', 'u1', 'key', '-3'],
    ['5', 'reward', 'u1', 'gold', '1'],
  ]);
  await assertAuditSums(db);
  // the view hides emptied rows
  await add('use_item', { userId: 'u1', itemId: 'key' });
  assert.deepEqual(await inventory(db), { u1: { gold: 101 }, u2: { welcome_chest: 1 } });

  // schema.sql and seed.sql apply again over live data without changing it
  await pg.applySchema(db.name);
  assert.deepEqual(await inventory(db), { u1: { gold: 101 }, u2: { welcome_chest: 1 } });
  assert.equal(await pg.query('SELECT count(*) FROM items', db.name), '3');
  await assertAuditSums(db);
  await stop(w);
});

test('20 parallel use_item racing for 5 keys: exactly 5 succeed, quantity ends at 0', { timeout: 60000 }, async (t) => {
  const { db, queue, start } = await setup(t);
  await pg.query(`INSERT INTO inventory VALUES ('racer', 'key', 5);
    INSERT INTO inventory_events (job_id, action, user_id, item_id, delta) VALUES ('setup', 'reward', 'racer', 'key', 5)`, db.name);
  const jobs = await queue.addBulk(Array.from({ length: 20 }, () => ({
    name: 'use_item', data: { userId: 'racer', itemId: 'key', quantity: 1 }, opts: { attempts: 3 },
  })));
  const w = start({ BULLC_CONCURRENCY: '16' });
  const done = await finished(queue, jobs.map((j) => j.id));
  const ok = [];
  const failed = [];
  for (const j of done) ((await j.getState()) === 'completed' ? ok : failed).push(j);
  assert.equal(ok.length, 5, 'exactly 5 uses succeed');
  assert.deepEqual(ok.map((j) => j.returnvalue.remaining).sort(), [0, 1, 2, 3, 4], 'each saw the quantity the previous left');
  assert.equal(failed.length, 15);
  for (const j of failed) {
    assert.equal(j.failedReason, 'insufficient quantity: user racer has 0 of key, needs 1');
    assert.equal(j.attemptsMade, 1, 'unrecoverable: not retried');
  }
  assert.equal(await pg.query("SELECT quantity FROM inventory WHERE user_id = 'racer' AND item_id = 'key'", db.name), '0');
  assert.deepEqual(await inventory(db), {});
  assert.equal(await pg.query("SELECT count(*) FROM inventory_audit WHERE action = 'use'", db.name), '5');
  await assertAuditSums(db);
  await stop(w);
});

test('bad input: each class fails for good with its reason, changes nothing, the worker goes on', { timeout: 60000 }, async (t) => {
  const { redis, db, queue, start } = await setup(t);
  const ID = 'must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . : -';
  const ITEM = 'must be an item id (1 to 64 characters from A-Z a-z 0-9 _ . : -)';
  const cases = [
    ['use_item', 'not an object', 'invalid payload: data must be a JSON object'],
    ['use_item', [1, 2], 'invalid payload: data must be a JSON object'],
    ['use_item', null, 'invalid payload: data must be a JSON object'],
    ['use_item', {}, `invalid payload: userId ${ID}`],
    ['use_item', { userId: 7, itemId: 'key' }, `invalid payload: userId ${ID}`],
    ['use_item', { userId: '', itemId: 'key' }, `invalid payload: userId ${ID}`],
    ['use_item', { userId: 'u'.repeat(65), itemId: 'key' }, `invalid payload: userId ${ID}`],
    ['use_item', { userId: 'u 1', itemId: 'key' }, `invalid payload: userId ${ID}`],
    ['use_item', { userId: 'u1' }, `invalid payload: itemId ${ITEM}`],
    ['use_item', { userId: 'u1', itemId: ['key'] }, `invalid payload: itemId ${ITEM}`],
    ['use_item', { userId: 'u1', itemId: 'key', quantity: 0 }, 'invalid payload: quantity must be an integer from 1 to 1000'],
    ['use_item', { userId: 'u1', itemId: 'key', quantity: 1001 }, 'invalid payload: quantity must be an integer from 1 to 1000'],
    ['use_item', { userId: 'u1', itemId: 'key', quantity: 1.5 }, 'invalid payload: quantity must be an integer from 1 to 1000'],
    ['use_item', { userId: 'u1', itemId: 'key', quantity: '1' }, 'invalid payload: quantity must be an integer from 1 to 1000'],
    ['use_item', { userId: 'u1', itemId: 'key', quantity: null }, 'invalid payload: quantity must be an integer from 1 to 1000'],
    ['use_item', { userId: 'u1', itemId: 'key', type: 'reward_inventory_item' }, 'invalid payload: type must be "use_item" when given'],
    ['use_item', { userId: 'u1', itemId: 'sword' }, 'unknown item: sword'],
    ['use_item', { userId: 'u1', itemId: 'gold' }, 'item cannot be used: gold'],
    ['use_item', { userId: 'u1', itemId: 'key' }, 'insufficient quantity: user u1 has 0 of key, needs 1'],
    ['use_item', { userId: 'u1', itemId: 'key', quantity: 1000 }, 'insufficient quantity: user u1 has 0 of key, needs 1000'],
    ['reward_inventory_item', { userId: 'u1' }, 'invalid payload: items must be an array of 1 to 100 item ids'],
    ['reward_inventory_item', { userId: 'u1', items: [] }, 'invalid payload: items must be an array of 1 to 100 item ids'],
    ['reward_inventory_item', { userId: 'u1', items: 'key' }, 'invalid payload: items must be an array of 1 to 100 item ids'],
    ['reward_inventory_item', { userId: 'u1', items: Array(101).fill('key') }, 'invalid payload: items must be an array of 1 to 100 item ids'],
    ['reward_inventory_item', { userId: 'u1', items: ['key', 7] }, `invalid payload: items[1] ${ITEM}`],
    ['reward_inventory_item', { userId: 'u1', items: ['key', 'sword'] }, 'unknown item: sword'],
    ['reward_inventory_item', { items: ['key'] }, `invalid payload: userId ${ID}`],
    ['open_chest', { userId: 'u1' }, 'unknown event type: open_chest'],
    ['', { userId: 'u1' }, 'unknown event type: '],
  ];
  const jobs = [];
  for (const [name, data] of cases) jobs.push(await queue.add(name, data, { attempts: 3 }));
  // a duplicated key cannot come from JSON.stringify; write one into the job hash directly
  const client = I.useClient(t, redis);
  const dup = await queue.add('use_item', { userId: 'u1', itemId: 'key' }, { attempts: 3 });
  await client.hset(`bull:${Q}:${dup.id}`, 'data', '{"userId":"u2","itemId":"key","userId":"u1"}');
  const w = start();
  const done = await finished(queue, [...jobs.map((j) => j.id), dup.id]);
  cases.push(['use_item', null, 'invalid payload: duplicate key userId']);
  for (let i = 0; i < cases.length; i++) {
    const j = done[i];
    assert.equal(await j.getState(), 'failed', `case ${i} ${JSON.stringify(cases[i])}`);
    assert.equal(j.failedReason, cases[i][2], `case ${i}`);
    assert.equal(j.attemptsMade, 1, `case ${i}: unrecoverable, not retried`);
  }
  // nothing changed (the half-valid reward granted nothing either: all or none)
  for (const table of ['inventory', 'inventory_events', 'reward_grants', 'processed_jobs']) {
    assert.equal(await pg.query(`SELECT count(*) FROM ${table}`, db.name), '0', table);
  }
  // still running: a valid event goes through
  const ok = await queue.add('reward_inventory_item', { userId: 'u1', items: ['key'] });
  const [f] = await finished(queue, [ok.id]);
  assert.deepEqual(f.returnvalue, { granted: ['key'], alreadyGranted: [] });
  await assertAuditSums(db);
  await stop(w);
});

test('hostile strings are rejected or stored as data, never executed', { timeout: 60000 }, async (t) => {
  const { db, queue, start } = await setup(t);
  const hostile = [
    ['use_item', { userId: "u1'; DROP TABLE inventory; --", itemId: 'key' }, /^invalid payload: userId/],
    ['use_item', { userId: 'u1', itemId: "key' OR '1'='1" }, /^invalid payload: itemId/],
    ['use_item', { userId: 'u1\u0000x', itemId: 'key' }, /^invalid payload: userId/],
    ['use_item', { userId: 'u1', itemId: 'ke\\y' }, /^invalid payload: itemId/],
    ['reward_inventory_item', { userId: 'u1', items: ['key', 'gold"}); DELETE FROM items; --'] }, /^invalid payload: items\[1\] must be an item id/],
    ['reward_inventory_item', { userId: 'u1', items: ['key', 'ke\u0000y'] }, /^invalid payload: items must be item ids written without escapes$/],
    ['reward_inventory_item', { userId: 'u1', items: ['{key,gold}'] }, /^invalid payload: items\[0\]/],
    ['reward_inventory_item', { userId: 'Robert\'); DROP TABLE reward_grants;--', items: ['key'] }, /^invalid payload: userId/],
    ["use_item'; DROP TABLE processed_jobs; --", { userId: 'u1', itemId: 'key' }, /^unknown event type: use_item'; DROP TABLE processed_jobs; --$/],
  ];
  const jobs = [];
  for (const [name, data] of hostile) jobs.push(await queue.add(name, data));
  // a custom job id is stored (processed_jobs, the audit) as plain data
  const evilId = "x'); DELETE FROM inventory_events; --";
  const stored = await queue.add('reward_inventory_item', { userId: 'u1', items: ['key'] }, { jobId: evilId });
  const w = start();
  const done = await finished(queue, [...jobs.map((j) => j.id), stored.id]);
  for (let i = 0; i < hostile.length; i++) {
    assert.equal(await done[i].getState(), 'failed', `case ${i}`);
    assert.match(done[i].failedReason, hostile[i][2], `case ${i}`);
  }
  assert.deepEqual(done[hostile.length].returnvalue, { granted: ['key'], alreadyGranted: [] });
  assert.deepEqual(await pg.rows('SELECT job_id, action, user_id, item_id, delta FROM inventory_audit', db.name),
    [[evilId, 'reward', 'u1', 'key', '1']]);
  assert.equal(await pg.query('SELECT job_id FROM processed_jobs', db.name), evilId);
  // every table is still there, the catalogue whole
  const tables = await pg.query("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", db.name);
  assert.equal(tables, 'inventory,inventory_events,item_effects,items,processed_jobs,reward_grants');
  assert.equal(await pg.query('SELECT count(*) FROM items', db.name), '3');
  await assertAuditSums(db);
  await stop(w);
});

test('killed between COMMIT and completion: the redelivered job applies nothing twice and returns the stored result', { timeout: 60000 }, async (t) => {
  const FAST = { BULLC_LOCK_DURATION_MS: '1000', BULLC_STALLED_INTERVAL_MS: '500' };
  const { db, queue, ev, start } = await setup(t, FAST);
  const w0 = start();
  const reward = await queue.add('reward_inventory_item', { userId: 'u1', items: ['welcome_chest'] });
  await finished(queue, [reward.id]);
  await stop(w0);

  for (const [jobId, name, data] of [
    ['crash-use', 'use_item', { userId: 'u1', itemId: 'welcome_chest' }],
    ['crash-reward', 'reward_inventory_item', { userId: 'u1', items: ['key', 'gold'] }],
  ]) {
    const w1 = start({ BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT: jobId });
    await queue.add(name, data, { jobId });
    const r1 = await I.within(w1.exited, 15000, null);
    assert.deepEqual(r1, { code: 86, signal: null }, `test hook exit; stderr:\n${w1.stderrText()}`);
    assert.equal(await (await queue.getJob(jobId)).getState(), 'active', 'Redis never heard of the completion');
    const stored = await pg.query(`SELECT result FROM processed_jobs WHERE job_id = '${jobId}'`, db.name);
    assert.ok(stored, 'the transaction committed');

    const w2 = start();
    await ev.waitFor('stalled', jobId, 1, 15000);
    const [j] = await finished(queue, [jobId], 20000);
    assert.equal(await j.getState(), 'completed');
    assert.deepEqual(j.returnvalue, JSON.parse(stored), 'completed with the stored result');
    assert.match(w2.stderrText(), new RegExp(`job ${jobId} \\(${name}\\) was already applied`));
    await stop(w2);
  }
  assert.deepEqual(await inventory(await db), { u1: { key: 4, gold: 101 } }, 'each effect once');
  assert.equal(await pg.query("SELECT count(*) FROM inventory_audit WHERE job_id = 'crash-use'", db.name), '3');
  assert.equal(await pg.query("SELECT count(*) FROM inventory_audit WHERE job_id = 'crash-reward'", db.name), '2');
  await assertAuditSums(db);
});

test('BULLC_ISOLATE=1: handler processes connect in their init; one dying after COMMIT fails that attempt at once, the retry applies nothing twice', { timeout: 60000 }, async (t) => {
  const { db, queue, ev, start } = await setup(t, { BULLC_ISOLATE: '1' });
  const jobId = 'iso-crash';
  const w = start({ BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT: jobId });
  // each of the 4 handler processes opened its connection in its init, before any job
  await I.waitFor(async () => (await pg.query(
    `SELECT count(*) FROM pg_stat_activity WHERE datname = '${db.name}' AND application_name = 'inventory_worker'`,
    db.name)) === '4', { what: 'four connections from the handler processes' });
  const reward = await queue.add('reward_inventory_item', { userId: 'u1', items: ['welcome_chest'] });
  const [r] = await finished(queue, [reward.id]);
  assert.equal(await r.getState(), 'completed');
  await queue.add('use_item', { userId: 'u1', itemId: 'welcome_chest' }, { jobId, attempts: 2 });
  const [j] = await finished(queue, [jobId]);
  assert.equal(await j.getState(), 'completed');
  assert.equal(j.attemptsMade, 2, 'the attempt whose process died counted as failed');
  assert.equal(j.stacktrace.length, 1);
  const stored = await pg.query(`SELECT result FROM processed_jobs WHERE job_id = '${jobId}'`, db.name);
  assert.deepEqual(j.returnvalue, JSON.parse(stored), 'completed with the stored result');
  assert.match(w.stderrText(), new RegExp(`job ${jobId}: handler process exited with status 86; starting a replacement`));
  assert.match(w.stderrText(), new RegExp(`job ${jobId} \\(use_item\\) was already applied`));
  assert.equal(ev.of('stalled').length, 0, 'no stalled check involved');
  assert.deepEqual(await inventory(db), { u1: { key: 3, gold: 100 } }, 'the use and its effects once');
  assert.equal(await pg.query(`SELECT count(*) FROM inventory_audit WHERE job_id = '${jobId}'`, db.name), '3');
  await assertAuditSums(db);
  assert.equal(w.done, false, 'the worker itself lives on');
  await stop(w);
});

test('PostgreSQL restarted while jobs flow: attempts fail, are retried, all end completed; the worker reconnects', { timeout: 90000 }, async (t) => {
  const { db, queue, ev, start } = await setup(t);
  const opts = { attempts: 12, backoff: { type: 'exponential', delay: 100 } };
  const w = start();
  const add = (from, to) => queue.addBulk(Array.from({ length: to - from }, (_, k) => ({
    name: 'reward_inventory_item', data: { userId: `u${from + k}`, items: ['key', 'welcome_chest'] }, opts,
  })));
  // jobs are flowing when PostgreSQL goes down (connections die mid-transaction), and more
  // arrive while it is down (their attempts fail for sure)
  const ids = (await add(0, 300)).map((j) => j.id);
  await ev.waitFor('completed', undefined, 20, 20000);
  await pg.stop('fast');
  try {
    ids.push(...(await add(300, 330)).map((j) => j.id));
    await ev.waitFor('delayed', undefined, 3, 20000); // attempts failed and wait for their backoff
  } finally {
    await pg.start();
  }
  const done = await finished(queue, ids, 60000);
  let retried = 0;
  for (const j of done) {
    assert.equal(await j.getState(), 'completed', `job ${j.id}: ${j.failedReason}`);
    assert.deepEqual(j.returnvalue, { granted: ['key', 'welcome_chest'], alreadyGranted: [] });
    if (j.attemptsMade > 1) {
      retried++;
      assert.match(j.stacktrace[0], /^Error: (database unavailable|transient database error)/);
    }
  }
  assert.ok(retried >= 1, 'some jobs needed more than one attempt');
  assert.equal(await pg.query('SELECT count(*) FROM reward_grants', db.name), '660', 'every grant exactly once');
  assert.match(w.stderrText(), /reconnected to PostgreSQL/);
  await assertAuditSums(db);
  await stop(w);
});

test('dead-letter queue: a job that fails for good is added to events-dlq with its name and data', { timeout: 60000 }, async (t) => {
  const { redis, db, queue, start } = await setup(t);
  const dlq = I.useQueue(t, redis, `${Q}-dlq`);
  const w = start();
  const bad = await queue.add('use_item', { userId: 'u9', itemId: 'sword', quantity: 2 }, { attempts: 3 });
  const unknown = await queue.add('open_chest', { userId: 'u9', nested: { a: [1, 'two'] } });
  await finished(queue, [bad.id, unknown.id]);
  // a transient failure that exhausts its attempts
  await pg.stop('fast');
  let down;
  try {
    down = await queue.add('reward_inventory_item', { userId: 'u9', items: ['key'] }, { attempts: 2 });
    await finished(queue, [down.id]);
  } finally {
    await pg.start();
  }
  await I.waitCounts(dlq, (c) => c.waiting === 3, '3 jobs waiting in the DLQ');
  const dead = await dlq.getJobs(['waiting'], 0, -1);
  const byId = Object.fromEntries(dead.map((j) => [j.data.jobId, j]));
  assert.equal(byId[bad.id].name, 'use_item');
  assert.deepEqual(byId[bad.id].data, {
    jobId: bad.id, name: 'use_item', data: { userId: 'u9', itemId: 'sword', quantity: 2 },
    failedReason: 'unknown item: sword', attemptsMade: 1,
  });
  assert.equal(byId[unknown.id].name, 'open_chest');
  assert.deepEqual(byId[unknown.id].data, {
    jobId: unknown.id, name: 'open_chest', data: { userId: 'u9', nested: { a: [1, 'two'] } },
    failedReason: 'unknown event type: open_chest', attemptsMade: 1,
  });
  const d = byId[down.id].data;
  assert.equal(byId[down.id].name, 'reward_inventory_item');
  assert.deepEqual(d.data, { userId: 'u9', items: ['key'] });
  assert.equal(d.attemptsMade, 2, 'both attempts counted');
  assert.match(d.failedReason, /^database unavailable: /);
  assert.equal(d.failedReason, (await queue.getJob(down.id)).failedReason);
  await assertAuditSums(db);
  await stop(w);
});

// A parser of what a PostgreSQL client sends: returns a data handler that calls
// onMessage(type, body) for every complete message after the startup message. The packets up
// to it (an SSL or GSS request, the startup message itself) carry no type byte.
function frontendMessages(onMessage) {
  let buf = Buffer.alloc(0);
  let started = false;
  return (data) => {
    buf = Buffer.concat([buf, data]);
    for (;;) {
      const head = started ? 5 : 8;
      if (buf.length < head) break;
      const len = started ? 1 + buf.readInt32BE(1) : buf.readInt32BE(0);
      if (buf.length < len) break;
      if (!started) started = buf.readInt32BE(4) === 196608; // protocol 3.0: the startup message
      else onMessage(String.fromCharCode(buf[0]), buf.subarray(5, len));
      buf = buf.subarray(len);
    }
  };
}

// A TCP relay to PostgreSQL that, once armed, lets the next call of inventory_apply through
// (one statement in autocommit mode: the job's whole transaction, COMMIT included; its Bind
// message names the prepared statement) and then cuts the connection before the answer reaches
// the worker: the transaction committed, the worker cannot know. `statement`: the prepared
// statement whose call is cut (inventory_apply_batch: a group commit's batch).
async function commitCutter(t, pgPort, statement = 'inventory_apply') {
  const net = require('node:net');
  const relay = { armed: false, cuts: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(pgPort, '127.0.0.1');
    let cut = false;
    const close = () => { client.destroy(); upstream.destroy(); };
    const parse = frontendMessages((type, body) => {
      if (relay.armed && type === 'B' && body.includes(`\0${statement}\0`)) { relay.armed = false; cut = true; }
    });
    client.on('data', (d) => {
      parse(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (cut) { relay.cuts++; close(); return; }
      client.write(d);
    });
    client.on('error', close); upstream.on('error', close);
    client.on('close', close); upstream.on('close', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = server.address().port;
  I.defer(t, () => new Promise((resolve) => server.close(resolve)));
  return relay;
}

test('connection lost during COMMIT that did commit: the job completes once with the stored result, even on its only attempt', { timeout: 60000 }, async (t) => {
  const { redis, db, queue, start } = await setup(t);
  const relay = await commitCutter(t, Number(new URL(db.url).port));
  const w = start({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${relay.port}/${db.name}` });
  const r0 = await queue.add('reward_inventory_item', { userId: 'u1', items: ['welcome_chest'] });
  await finished(queue, [r0.id]);

  relay.armed = true;
  const use = await queue.add('use_item', { userId: 'u1', itemId: 'welcome_chest' }); // attempts: 1
  const [j] = await finished(queue, [use.id]);
  assert.equal(relay.cuts, 1, 'the answer to COMMIT was cut');
  assert.equal(await j.getState(), 'completed', `failedReason: ${j.failedReason}`);
  const stored = await pg.query(`SELECT result FROM processed_jobs WHERE job_id = '${use.id}'`, db.name);
  assert.deepEqual(j.returnvalue, JSON.parse(stored));
  assert.match(w.stderrText(), /lost during COMMIT, which did commit/);

  // the worker goes on over a new connection
  const r1 = await queue.add('reward_inventory_item', { userId: 'u1', items: ['key'] });
  const [j1] = await finished(queue, [r1.id]);
  assert.equal(await j1.getState(), 'completed');
  assert.deepEqual(await inventory(db), { u1: { key: 4, gold: 100 } }, 'each effect once');
  const dlq = I.useQueue(t, redis, 'events-dlq');
  assert.deepEqual(await dlq.getJobCounts('waiting', 'delayed'), { waiting: 0, delayed: 0 }, 'nothing in the DLQ');
  await assertAuditSums(db);
  await stop(w);
});

// A TCP relay to PostgreSQL that counts the client's round trips: its Sync messages (extended
// query protocol, as PQprepare and PQexecPrepared send) and Query messages (simple protocol),
// each of which the server answers on its own.
async function tripCounter(t, pgPort) {
  const net = require('node:net');
  const relay = { trips: 0, connections: 0 };
  const server = net.createServer((client) => {
    relay.connections++;
    const upstream = net.connect(pgPort, '127.0.0.1');
    const close = () => { client.destroy(); upstream.destroy(); };
    const parse = frontendMessages((type) => { if (type === 'S' || type === 'Q') relay.trips++; });
    client.on('data', (d) => {
      upstream.write(d);
      parse(d);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('error', close); upstream.on('error', close);
    client.on('close', close); upstream.on('close', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = server.address().port;
  I.defer(t, () => new Promise((resolve) => server.close(resolve)));
  return relay;
}

test('one round trip and one transaction per job (and one per connection to prepare): the claim, the effects, the audit and the result commit together', { timeout: 60000 }, async (t) => {
  const { db, queue, start } = await setup(t);
  const relay = await tripCounter(t, Number(new URL(db.url).port));
  // concurrency 1: each user's events apply in the order added
  const w = start({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${relay.port}/${db.name}`, BULLC_CONCURRENCY: '1' });
  const events = [];
  for (const u of ['u1', 'u2', 'u3']) {
    events.push(
      ['reward_inventory_item', { userId: u, items: ['welcome_chest', 'key'] }],
      ['use_item', { userId: u, itemId: 'welcome_chest' }],
      ['use_item', { userId: u, itemId: 'key', quantity: 2 }],
      ['reward_inventory_item', { userId: u, items: ['welcome_chest', 'key'] }],
      ['use_item', { userId: u, itemId: 'key' }],
    );
  }
  const ids = [];
  for (const [name, data] of events) ids.push((await queue.add(name, data)).id);
  const refused = await queue.add('use_item', { userId: 'u1', itemId: 'key', quantity: 5 });
  const done = await finished(queue, [...ids, refused.id]);
  await stop(w);
  for (const j of done.slice(0, ids.length)) assert.equal(await j.getState(), 'completed', `job ${j.id}: ${j.failedReason}`);
  assert.equal(done[ids.length].failedReason, 'insufficient quantity: user u1 has 1 of key, needs 5');
  // and one per connection, to prepare the statement
  assert.equal(relay.trips, ids.length + 1 + relay.connections, 'one round trip per job, the refused one included');
  // every row a job wrote carries the id of the transaction that wrote its processed_jobs row
  assert.equal(await pg.query('SELECT count(DISTINCT xmin::text) FROM processed_jobs', db.name), String(ids.length));
  for (const table of ['inventory_events', 'reward_grants']) {
    assert.equal(await pg.query(`SELECT count(*) FROM ${table} x JOIN processed_jobs p USING (job_id)
      WHERE x.xmin::text <> p.xmin::text`, db.name), '0', table);
  }
  assert.deepEqual(await inventory(db), Object.fromEntries(['u1', 'u2', 'u3'].map((u) => [u, { key: 1, gold: 100 }])));
  await assertAuditSums(db);
});

test('group commit: jobs ready at once share a transaction; a refused job in it undoes only itself', { timeout: 60000 }, async (t) => {
  const { db, queue, start } = await setup(t);
  // all queued before the worker starts, so the 16 handler threads find many ready at once;
  // each job is about another user (their order does not matter)
  const good = [];
  const refused = [];
  for (let i = 0; i < 30; i++) {
    good.push({ name: 'reward_inventory_item', data: { userId: `g${i}`, items: ['key', 'welcome_chest', 'key'] } });
    if (i % 3 === 0) refused.push({ name: 'use_item', data: { userId: `g${i}`, itemId: 'gold' } });
    if (i % 3 === 1) refused.push({ name: 'reward_inventory_item', data: { userId: `r${i}`, items: ['key', 'sword'] } });
  }
  const jobs = await queue.addBulk([...good, ...refused].map((j) => ({ ...j, opts: { attempts: 2 } })));
  const w = start({ BULLC_CONCURRENCY: '16', BULLC_LOG_LEVEL: 'debug' });
  const done = await finished(queue, jobs.map((j) => j.id));
  for (const j of done.slice(0, good.length)) {
    assert.equal(await j.getState(), 'completed', `job ${j.id}: ${j.failedReason}`);
    assert.deepEqual(j.returnvalue, { granted: ['key', 'welcome_chest'], alreadyGranted: [] });
  }
  for (const j of done.slice(good.length)) {
    assert.equal(await j.getState(), 'failed');
    assert.equal(j.failedReason, j.name === 'use_item' ? 'item cannot be used: gold' : 'unknown item: sword');
    assert.equal(j.attemptsMade, 1, 'refused for good, not retried');
  }
  await stop(w);
  assert.match(w.stderrText(), /applied a batch of \d+ jobs in one transaction/);
  // a transaction's jobs share its start time (processed_at): fewer transactions than jobs
  const [rows, txns] = (await pg.query('SELECT count(*), count(DISTINCT processed_at) FROM processed_jobs', db.name)).split('|').map(Number);
  assert.equal(rows, good.length, 'refused jobs leave no row');
  assert.ok(txns < rows, `${txns} transactions for ${rows} jobs`);
  // each job's rows were written by its own (sub)transaction, the one of its processed_jobs row
  for (const table of ['inventory_events', 'reward_grants']) {
    assert.equal(await pg.query(`SELECT count(*) FROM ${table} x JOIN processed_jobs p USING (job_id)
      WHERE x.xmin::text <> p.xmin::text`, db.name), '0', table);
  }
  assert.equal(await pg.query("SELECT count(*) FROM reward_grants WHERE user_id LIKE 'r%'", db.name), '0', 'refused rewards grant nothing');
  assert.deepEqual(await inventory(db), Object.fromEntries(good.map((j) => [j.data.userId, { key: 1, welcome_chest: 1 }])));
  await assertAuditSums(db);
});

test('connection lost during the COMMIT of a batch that did commit: each of its jobs completes once with its stored result', { timeout: 60000 }, async (t) => {
  const { redis, db, queue, start } = await setup(t);
  const relay = await commitCutter(t, Number(new URL(db.url).port), 'inventory_apply_batch');
  relay.armed = true;
  const jobs = await queue.addBulk(Array.from({ length: 12 }, (_, i) => ({
    name: 'reward_inventory_item', data: { userId: `c${i}`, items: ['welcome_chest', 'key'] },
  }))); // attempts: 1
  const w = start({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${relay.port}/${db.name}`, BULLC_CONCURRENCY: '8' });
  const done = await finished(queue, jobs.map((j) => j.id));
  await stop(w);
  assert.equal(relay.cuts, 1, 'the answer to a batch was cut');
  for (const j of done) {
    assert.equal(await j.getState(), 'completed', `job ${j.id}: ${j.failedReason}`);
    assert.deepEqual(j.returnvalue, { granted: ['welcome_chest', 'key'], alreadyGranted: [] });
  }
  assert.match(w.stderrText(), /lost during COMMIT, which did commit/);
  assert.equal(await pg.query('SELECT count(*) FROM reward_grants', db.name), '24', 'every grant once');
  assert.deepEqual(await inventory(db), Object.fromEntries(jobs.map((j) => [j.data.userId, { key: 1, welcome_chest: 1 }])));
  const dlq = I.useQueue(t, redis, 'events-dlq');
  assert.deepEqual(await dlq.getJobCounts('waiting', 'delayed'), { waiting: 0, delayed: 0 }, 'nothing in the DLQ');
  await assertAuditSums(db);
});

test('inventory_apply_batch: each job as inventory_apply applies it alone, an error undoes only its job, results in order', { timeout: 30000 }, async () => {
  const db = await pg.createDb();
  const job = (id, name, data) => ({ id, ts: 7, name, data });
  const batch = JSON.stringify([
    job('b1', 'reward_inventory_item', { userId: 'u1', items: ['welcome_chest'] }),
    job('b2', 'use_item', { userId: 'u1', itemId: 'welcome_chest' }),
    job('b3', 'use_item', { userId: 'u1', itemId: 'key', quantity: 4 }),
    job('b4', 'use_item', { userId: 'u1', itemId: 'key', quantity: 3 }),
    job('b1', 'reward_inventory_item', { userId: 'u1', items: ['welcome_chest'] }),
    job('b5', 'use_item', { userId: 'u1', itemId: 'key', quantity: 'x' }),
  ]);
  const rows = await pg.rows(`SELECT i, already_applied, result, err_state, err_message
    FROM inventory_apply_batch('events', '${batch}')`, db.name);
  assert.deepEqual(rows, [
    ['1', 'f', '{"granted":["welcome_chest"],"alreadyGranted":[]}', '', ''],
    ['2', 'f', '{"used":1,"remaining":0,"granted":{"gold":100,"key":3}}', '', ''],
    ['3', '', '', 'IV001', 'insufficient quantity: user u1 has 3 of key, needs 4'],
    ['4', 'f', '{"used":3,"remaining":0,"granted":{}}', '', ''],
    ['5', 't', '{"granted":["welcome_chest"],"alreadyGranted":[]}', '', ''],
    ['6', '', '', 'IV001', 'invalid payload: quantity must be an integer from 1 to 1000'],
  ]);
  assert.equal(await pg.query('SELECT string_agg(job_id, \',\' ORDER BY job_id) FROM processed_jobs', db.name), 'b1,b2,b4');
  assert.deepEqual(await inventory(db), { u1: { gold: 100 } });
  await assertAuditSums(db);
});

// ---- Bull mode: BULLC_PROTOCOL=bull, a Node Bull 4 producer and reader -----------------------

// A Node Bull Queue (producer and reader), closed when the test ends.
function useBull(t, redis, name) {
  const q = new Bull(name, { redis: { host: '127.0.0.1', port: redis.port } });
  q.on('error', () => {});
  I.defer(t, () => q.close().catch(() => {}));
  return q;
}

async function setupBull(t, env) {
  const redis = await I.useRedis(t);
  const db = await pg.createDb();
  const queue = useBull(t, redis, Q);
  const dlq = useBull(t, redis, `${Q}-dlq`);
  const start = (e = {}) => startWorker(t, redis, db, { BULLC_PROTOCOL: 'bull', ...env, ...e });
  return { redis, db, queue, dlq, start };
}

// The jobs once Bull's getState says they finished, read after that (their final fields).
async function finishedBull(queue, ids, timeout = 30000) {
  const jobs = {};
  await I.waitFor(async () => {
    for (const id of ids) {
      if (jobs[id]) continue;
      const job = await queue.getJob(String(id));
      const st = job && await job.getState();
      if (st === 'completed' || st === 'failed') jobs[id] = await queue.getJob(String(id));
    }
    return Object.keys(jobs).length === ids.length;
  }, { timeout, what: `${ids.length} Bull jobs finished`, interval: 50 });
  return ids.map((id) => jobs[id]);
}

// The DLQ's waiting jobs once there are n, by the id of the job they stand for.
async function deadLetters(dlq, n) {
  let dead = [];
  await I.waitFor(async () => {
    dead = await dlq.getWaiting();
    return dead.length >= n;
  }, { what: `${n} Bull jobs in the DLQ`, timeout: 15000 });
  assert.equal(dead.length, n, 'nothing else in the DLQ');
  return Object.fromEntries(dead.map((j) => [j.data.jobId, j]));
}

test('bull: the story through a Node Bull producer: results, refusals, audit, the DLQ as a Bull queue', { timeout: 60000 }, async (t) => {
  const { redis, db, queue, dlq, start } = await setupBull(t);
  const w = start();
  const story = [
    ['reward_inventory_item', { userId: 'alice', items: ['welcome_chest', 'key', 'key'] }, 'completed', { granted: ['welcome_chest', 'key'], alreadyGranted: [] }],
    ['reward_inventory_item', { userId: 'alice', items: ['welcome_chest', 'key'] }, 'completed', { granted: [], alreadyGranted: ['welcome_chest', 'key'] }],
    ['reward_inventory_item', { userId: 'bob', items: ['welcome_chest'] }, 'completed', { granted: ['welcome_chest'], alreadyGranted: [] }],
    ['use_item', { userId: 'alice', itemId: 'welcome_chest' }, 'completed', { used: 1, remaining: 0, granted: { key: 3, gold: 100 } }],
    ['use_item', { userId: 'alice', itemId: 'key', quantity: 2 }, 'completed', { used: 2, remaining: 2, granted: {} }],
    ['use_item', { userId: 'bob', itemId: 'key' }, 'failed', 'insufficient quantity: user bob has 0 of key, needs 1'],
    ['use_item', { userId: 'alice', itemId: 'key', quantity: 0 }, 'failed', 'invalid payload: quantity must be an integer from 1 to 1000'],
    ['use_item', { userId: 'bob', itemId: 'gold', quantity: 10 }, 'failed', 'item cannot be used: gold'],
    ['open_portal', { userId: 'bob' }, 'failed', 'unknown event type: open_portal'],
    ['reward_inventory_item', { userId: 'alice', items: ['welcome_chest', 'gold'] }, 'completed', { granted: ['gold'], alreadyGranted: ['welcome_chest'] }],
  ];
  const ids = [];
  for (const [name, data] of story) {
    // what a NestJS service gives: retries with backoff for transient failures
    const j = await queue.add(name, data, { attempts: 3, backoff: { type: 'exponential', delay: 200 } });
    ids.push(j.id);
    await finishedBull(queue, [j.id]); // one after the other: the story's order
  }
  const done = await finishedBull(queue, ids);
  for (let i = 0; i < story.length; i++) {
    const [name, data, state, expected] = story[i];
    const j = done[i];
    const what = `${i}: ${name} ${JSON.stringify(data)}`;
    assert.equal(await j.getState(), state, `${what}: ${j.failedReason}`);
    assert.equal(j.name, name, what);
    assert.deepEqual(j.data, data, what);
    if (state === 'completed') {
      assert.deepEqual(j.returnvalue, expected, what);
      assert.equal(j.attemptsMade, 0, `${what}: Bull counts failed attempts only`);
    } else {
      assert.equal(j.failedReason, expected, what);
      assert.equal(j.attemptsMade, 1, `${what}: refused for good, not retried`);
      assert.deepEqual(j.stacktrace, [`Error: ${expected}`], what);
    }
    assert.ok(j.finishedOn >= j.processedOn && j.processedOn >= j.timestamp, what);
  }
  assert.deepEqual(await queue.getJobCounts(),
    { waiting: 0, active: 0, completed: 6, failed: 4, delayed: 0, paused: 0 });

  assert.deepEqual(await inventory(db), {
    alice: { key: 2, gold: 101 }, // the chest was used up; granted once ever, not again
    bob: { welcome_chest: 1 },
  });
  // one audit row per change, each with the Bull job that made it
  const audit = await pg.rows("SELECT job_id, action, item_id, delta FROM inventory_audit WHERE user_id = 'alice' ORDER BY at, action DESC, item_id", db.name);
  assert.deepEqual(audit, [
    [ids[0], 'reward', 'key', '1'], [ids[0], 'reward', 'welcome_chest', '1'],
    [ids[3], 'use', 'welcome_chest', '-1'], [ids[3], 'effect', 'gold', '100'], [ids[3], 'effect', 'key', '3'],
    [ids[4], 'use', 'key', '-2'],
    [ids[9], 'reward', 'gold', '1'],
  ]);
  assert.equal(await pg.query('SELECT count(*) FROM processed_jobs', db.name), '6', 'refused jobs leave no row');
  await assertAuditSums(db);

  // the four refusals, as Bull jobs in events-dlq: Bull's own add (its options completed as
  // Bull completes them; no BullMQ events stream or marker)
  const byId = await deadLetters(dlq, 4);
  for (const i of [5, 6, 7, 8]) {
    const d = byId[ids[i]];
    assert.ok(d, `job ${ids[i]} in the DLQ`);
    assert.equal(d.name, story[i][0]);
    assert.deepEqual(d.data, { jobId: ids[i], name: story[i][0], data: story[i][1], failedReason: story[i][3], attemptsMade: 1 });
    assert.equal(d.opts.attempts, 1);
    assert.equal(d.opts.delay, 0);
    assert.ok(Number.isFinite(d.opts.timestamp), 'Bull writes the timestamp into opts');
    assert.equal(await d.getState(), 'waiting');
  }
  const client = I.useClient(t, redis);
  assert.deepEqual(await client.exists(`bull:${Q}-dlq:events`, `bull:${Q}-dlq:marker`, `bull:${Q}:events`), 0, 'no BullMQ keys');
  await stop(w);
});

test('bull: transient database failures are retried with Bull\'s backoff; the exhausted one reaches the DLQ with every attempt counted', { timeout: 90000 }, async (t) => {
  const { db, queue, dlq, start } = await setupBull(t);
  const w = start();
  const ok = await queue.add('reward_inventory_item', { userId: 'u1', items: ['key'] });
  await finishedBull(queue, [ok.id]);
  await pg.stop('fast');
  let exhausted;
  let retried;
  try {
    exhausted = await queue.add('reward_inventory_item', { userId: 'u2', items: ['key'] }, { attempts: 2, backoff: 200 });
    const [f] = await finishedBull(queue, [exhausted.id]);
    assert.equal(await f.getState(), 'failed');
    assert.equal(f.attemptsMade, 2, 'both attempts made');
    assert.match(f.failedReason, /^database unavailable: /);
    assert.equal(f.stacktrace.length, 2);
    // this one fails while the database is down, then waits for its backoff
    retried = await queue.add('use_item', { userId: 'u1', itemId: 'key' },
      { attempts: 20, backoff: { type: 'exponential', delay: 100 } });
    await I.waitFor(async () => (await queue.getJob(retried.id)).attemptsMade >= 2,
      { what: 'two failed attempts', timeout: 20000 });
  } finally {
    await pg.start();
  }
  const [r] = await finishedBull(queue, [retried.id], 60000);
  assert.equal(await r.getState(), 'completed', r.failedReason);
  assert.deepEqual(r.returnvalue, { used: 1, remaining: 0, granted: {} });
  assert.ok(r.attemptsMade >= 2, 'it needed more than one attempt');
  assert.match(r.stacktrace[0], /^Error: database unavailable/);
  assert.deepEqual(await inventory(db), {}, 'the key was used once');
  assert.equal(await pg.query("SELECT count(*) FROM inventory_audit WHERE action = 'use'", db.name), '1');

  const byId = await deadLetters(dlq, 1);
  const d = byId[exhausted.id];
  assert.equal(d.name, 'reward_inventory_item');
  assert.deepEqual(d.data.data, { userId: 'u2', items: ['key'] });
  assert.equal(d.data.attemptsMade, 2, 'both attempts counted');
  assert.equal(d.data.failedReason, (await queue.getJob(exhausted.id)).failedReason);
  assert.equal(await pg.query("SELECT count(*) FROM reward_grants WHERE user_id = 'u2'", db.name), '0');
  await assertAuditSums(db);
  await stop(w);
});

test('bull: killed between COMMIT and completion: Bull\'s stalled check redelivers, nothing is applied twice, the stored result completes the job', { timeout: 60000 }, async (t) => {
  const FAST = { BULLC_LOCK_DURATION_MS: '1000', BULLC_STALLED_INTERVAL_MS: '500' };
  const { db, queue, dlq, start } = await setupBull(t, FAST);
  const w0 = start();
  const reward = await queue.add('reward_inventory_item', { userId: 'u1', items: ['welcome_chest'] });
  await finishedBull(queue, [reward.id]);
  await stop(w0);

  for (const [jobId, name, data] of [
    ['crash-use', 'use_item', { userId: 'u1', itemId: 'welcome_chest' }],
    ['crash-reward', 'reward_inventory_item', { userId: 'u1', items: ['key', 'gold'] }],
  ]) {
    const w1 = start({ BULLC_INVENTORY_TEST_CRASH_AFTER_COMMIT: jobId });
    await queue.add(name, data, { jobId, attempts: 3 });
    const r1 = await I.within(w1.exited, 15000, null);
    assert.deepEqual(r1, { code: 86, signal: null }, `test hook exit; stderr:\n${w1.stderrText()}`);
    assert.equal(await (await queue.getJob(jobId)).getState(), 'active', 'Redis never heard of the completion');
    const stored = await pg.query(`SELECT result FROM processed_jobs WHERE job_id = '${jobId}'`, db.name);
    assert.ok(stored, 'the transaction committed');

    const w2 = start();
    const [j] = await finishedBull(queue, [jobId], 20000);
    assert.equal(await j.getState(), 'completed', j.failedReason);
    assert.deepEqual(j.returnvalue, JSON.parse(stored), 'completed with the stored result');
    assert.equal(j.attemptsMade, 0, 'the redelivery was no failed attempt');
    assert.match(w2.stderrText(), new RegExp(`job ${jobId} \\(${name}\\) was already applied`));
    await stop(w2);
  }
  assert.deepEqual(await inventory(db), { u1: { key: 4, gold: 101 } }, 'each effect once');
  assert.equal(await pg.query("SELECT count(*) FROM inventory_audit WHERE job_id = 'crash-use'", db.name), '3');
  assert.equal(await pg.query("SELECT count(*) FROM inventory_audit WHERE job_id = 'crash-reward'", db.name), '2');
  assert.equal((await dlq.getJobCounts()).waiting, 0, 'nothing in the DLQ');
  await assertAuditSums(db);
});

test('BULLC_PROTOCOL other than bullmq or bull: exit status 2 with the reason, nothing started', { timeout: 20000 }, async (t) => {
  const child = startWorker(t, { url: 'redis://127.0.0.1:1' }, { url: 'postgresql://127.0.0.1:1/x' }, { BULLC_PROTOCOL: 'bull4' });
  assert.deepEqual(await I.within(child.exited, 10000, null), { code: 2, signal: null });
  assert.match(child.stderrText(), /BULLC_PROTOCOL must be bullmq or bull, got 'bull4'/);
});

// GET http://127.0.0.1:port/path: {status, type, body}.
function httpGet(port, p) {
  return new Promise((resolve, reject) => {
    const req = require('node:http').get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${p}: no answer`)));
    req.on('error', reject);
  });
}

test('BULLC_HTTP: /metrics counts what the worker did, /healthz says ok, other paths 404', { timeout: 60000 }, async (t) => {
  const port = await I.freePort();
  const { queue, start } = await setup(t);
  const w = start({ BULLC_HTTP: `127.0.0.1:${port}` });
  const good = await queue.add('reward_inventory_item', { userId: 'm1', items: ['key'] });
  const bad = await queue.add('use_item', { userId: 'm1', itemId: 'key', quantity: 0 });
  const [g, b] = await finished(queue, [good.id, bad.id]);
  assert.equal(await g.getState(), 'completed');
  assert.equal(await b.getState(), 'failed');
  const series = (text, name) => {
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
  };
  const L = `queue="${Q}"`;
  const m = await I.waitFor(async () => {
    const r = await httpGet(port, '/metrics');
    return series(r.body, `bullc_jobs_total{${L},outcome="failed"}`) === 1 ? r : null;
  }, { timeout: 10000, what: 'the failure counted in /metrics' });
  assert.equal(m.status, 200);
  assert.equal(m.type, 'text/plain; version=0.0.4');
  assert.equal(series(m.body, `bullc_jobs_total{${L},outcome="completed"}`), 1);
  assert.equal(series(m.body, `bullc_redis_up{${L}}`), 1);
  assert.equal(series(m.body, `bullc_concurrency{${L}}`), 4);
  const hz = await httpGet(port, '/healthz');
  assert.equal(hz.status, 200);
  assert.match(hz.body, /^ok/);
  assert.equal((await httpGet(port, '/nope')).status, 404);
  await stop(w);
});

// Inline and in handler processes (BULLC_ISOLATE=1: the handler's span is made in its process,
// sent to the worker, exported with the worker's spans; ids from a generator of its own).
for (const isolate of [false, true]) {
  const title = isolate ? 'OTEL_* with BULLC_ISOLATE=1: the PostgreSQL span made in a handler process is a child of the worker\'s process span'
    : 'OTEL_*: each job\'s PostgreSQL call is a child span of its process span';
  test(title, { timeout: 60000 }, async (t) => {
    const rx = await useReceiver(t);
    const { queue, start } = await setup(t, isolate ? { BULLC_ISOLATE: '1' } : {});
    const w = start({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'inventory' });
    const jobs = [];
    for (let i = 0; i < 6; i++) jobs.push(await queue.add('reward_inventory_item', { userId: `o${i}`, items: ['key'] }));
    for (const j of await finished(queue, jobs.map((x) => x.id))) assert.equal(await j.getState(), 'completed');
    await stop(w); // flushes the spans
    for (const job of jobs) {
      const proc = rx.spans.find((s) => s.name === `process ${Q}` && attrsOf(s.attributes)['bullmq.job.id'] === job.id);
      assert.ok(proc, 'the process span was exported');
      assert.equal(proc.service, 'inventory');
      const db = rx.spans.find((s) => s.parentSpanId === proc.spanId && s.name === 'SELECT inventory_apply');
      assert.ok(db, `a database span under the process span: ${rx.spans.map((s) => s.name)}`);
      assert.equal(db.traceId, proc.traceId);
      assert.equal(db.kind, 3, 'CLIENT');
      const a = attrsOf(db.attributes);
      assert.equal(a['db.system.name'], 'postgresql');
      assert.equal(a['db.operation.name'], 'SELECT');
      assert.ok(BigInt(db.startTimeUnixNano) >= BigInt(proc.startTimeUnixNano) &&
        BigInt(db.endTimeUnixNano) <= BigInt(proc.endTimeUnixNano), 'inside its parent');
    }
    const dbSpans = rx.spans.filter((s) => s.name === 'SELECT inventory_apply');
    assert.equal(dbSpans.length, jobs.length, 'one database span per job, none lost or doubled');
    const ids = rx.spans.map((s) => s.spanId);
    assert.equal(new Set(ids).size, ids.length, 'every span id is unique (each process seeds its own generator)');
  });
}
