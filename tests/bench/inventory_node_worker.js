'use strict';
// The Node baseline of the inventory bench (tests/bench/inventory.js): the inventory worker's
// job done the way a Node service would do it, with an ordinary BullMQ 6.7.0 Worker and the npm
// `pg` package, on the same SQL contract as build/bin/inventory_worker: one call of
// inventory_apply() (sql/schema.sql) per job, on a pg.Pool with a connection per concurrent job.
// The function checks the payload, applies the job exactly once and raises SQLSTATE IV001 with
// the reason for an event that can never succeed; errors are sorted as inventory_worker sorts
// them (refused or a constraint: fail for good; anything else: fail the attempt, so attempts and
// backoff apply), and a job that failed for good is copied to the dead-letter queue.
//
// Environment, as inventory_worker reads it: REDIS_URL, DATABASE_URL, BULLC_QUEUE (events),
// BULLC_PREFIX (bull), BULLC_CONCURRENCY (4), BULLC_DLQ (<queue>-dlq).
// SIGTERM/SIGINT: running jobs finish, then it exits 0.
const path = require('node:path');

const NM = path.join(__dirname, '..', 'interop', 'node_modules');
const { Worker, Queue, UnrecoverableError } = require(path.join(NM, 'bullmq'));
const { Pool } = require(path.join(NM, 'pg'));

const env = (name, dflt) => process.env[name] || dflt;
const QUEUE = env('BULLC_QUEUE', 'events');
const DLQ = env('BULLC_DLQ', `${QUEUE}-dlq`);
const prefix = env('BULLC_PREFIX', 'bull');
const concurrency = Number(env('BULLC_CONCURRENCY', '4'));
const redis = new URL(env('REDIS_URL', 'redis://127.0.0.1:6379'));
const connection = { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null };

const log = (msg) => process.stderr.write(`inventory_node_worker: ${msg}\n`);

const pool = new Pool({
  connectionString: process.env.DATABASE_URL, max: concurrency,
  application_name: 'inventory_node_worker',
});
pool.on('error', (err) => log(`idle PostgreSQL connection lost: ${err.message}`));

// A named query: node-pg prepares it once per connection, as inventory_worker does.
const APPLY = {
  name: 'inventory_apply', text: 'SELECT already_applied, result FROM inventory_apply($1, $2, $3, $4, $5)',
};

// The call. A connection that breaks during it leaves the outcome unknown (it may have
// committed): the same call on another connection settles it, since it reads processed_jobs
// first (the stored result comes back with already_applied).
async function apply(job) {
  const query = { ...APPLY, values: [QUEUE, job.id, job.timestamp, job.name, JSON.stringify(job.data)] };
  try {
    return await pool.query(query);
  } catch (err) {
    if (err.severity && err.severity !== 'FATAL') throw err; // answered, connection fine
    return pool.query(query);
  }
}

// SQLSTATE classes that a later attempt may get past (see inv_classify in examples/inventory/db.c).
const TRANSIENT = /^(08...|53...|40001|40P01|57P0[123]|57014|55P03|58030)$/;

function failure(err) {
  const code = err.code;
  if (!err.severity) return new Error(`database unavailable: ${err.message}`);
  if (code === 'IV001') return new UnrecoverableError(err.message);
  if (/^23/.test(code) || code === '22003') {
    return new UnrecoverableError(`rejected by the database (SQLSTATE ${code}): ${err.message}`);
  }
  if (TRANSIENT.test(code)) return new Error(`transient database error (SQLSTATE ${code}): ${err.message}`);
  return new Error(`database error (SQLSTATE ${code}): ${err.message}`);
}

async function processor(job) {
  let res;
  try {
    res = await apply(job);
  } catch (err) {
    throw failure(err);
  }
  const { already_applied: already, result } = res.rows[0];
  if (result === null) throw new Error('processed_jobs row without a result');
  if (already) log(`job ${job.id} (${job.name}) was already applied; completing it with the stored result`);
  return result;
}

const dlq = new Queue(DLQ, { connection, prefix });
const worker = new Worker(QUEUE, processor, { connection, prefix, concurrency, name: 'inventory_node_worker' });

worker.on('error', (err) => log(`worker error: ${err.message}`));
worker.on('failed', (job, err) => {
  if (!job || !job.finishedOn) return; // retried later: not dead yet
  const dead = {
    jobId: job.id, name: job.name, data: job.data, failedReason: err.message, attemptsMade: job.attemptsMade,
  };
  dlq.add(job.name, dead).catch((e) => log(`job ${job.id}: could not add it to ${DLQ}: ${e.message}`));
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await worker.close();
  await dlq.close();
  await pool.end();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
