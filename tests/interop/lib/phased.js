'use strict';
// Phased differential runs (used by flows.test.js and ordering.test.js): a
// scenario adds its jobs with Node, then runs one worker per phase, queue by
// queue, at concurrency 1, so that the order of everything is fixed. It runs
// twice on fresh private redis-servers, once with Node BullMQ's own Worker
// (lib/echo.js) and once with build/bin/echo_worker; the masked Redis state of
// every queue involved and each queue's event sequence must be identical.
//
//   scenario = { queues, setup(ctx), phases: [{ queue, worker?, run(ctx) }] }
//   phase.worker = { removeOnComplete, removeOnFail } as echo_worker SPECs
const assert = require('node:assert/strict');
const { Queue, Worker } = require('bullmq');
const I = require('./interop');
const { echoProcessor, keepJobsOption } = require('./echo');
const { dumpQueue, maskWorkerState, diffStates } = require('./diff');

const WORKER_NAME = 'flowsw';

function eventRecords(evs) {
  return evs.map(({ id, ...f }) => {
    const r = { ...f };
    if (r.event === 'delayed') r.delay = '<ts>';
    return JSON.stringify(r);
  });
}

const finished = (e) => e.event === 'completed' || e.event === 'failed';

// What a phase step can use: add jobs with Node while the worker runs, and
// wait for events of a queue.
function context(redis, client) {
  return {
    redis,
    client,
    async events(qname) { return I.readStream(client, qname); },
    async until(qname, pred, what, timeout = 30000) {
      let last = [];
      try {
        await I.waitFor(async () => {
          last = await I.readStream(client, qname);
          return pred(last);
        }, { timeout, interval: 40, what: `${qname}: ${what}` });
      } catch (e) {
        e.message += `\nlast events: ${last.map((x) => `${x.event}:${x.jobId || ''}`).join(' ')}`;
        throw e;
      }
    },
    async count(qname, pred, n, what) {
      return this.until(qname, (evs) => evs.filter(pred).length >= n, what);
    },
    async add(qname, name, data, opts) {
      const q = new Queue(qname, { connection: redis.connection });
      try { return await q.add(name, data, opts || {}); } finally { await q.close(); }
    },
  };
}

// scenario = { queues, setup(ctx), phases: [{ queue, run(ctx) }] }
async function runScenario(t, kind, scenario) {
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const ctx = context(redis, client);
  await scenario.setup(ctx);
  for (const ph of scenario.phases) {
    let stop;
    let w;
    const wo = ph.worker || {};
    if (kind === 'node') {
      const extra = {};
      if (wo.removeOnComplete !== undefined) extra.removeOnComplete = keepJobsOption(wo.removeOnComplete);
      if (wo.removeOnFail !== undefined) extra.removeOnFail = keepJobsOption(wo.removeOnFail);
      const nw = new Worker(ph.queue, echoProcessor, { connection: redis.connection, concurrency: 1, name: WORKER_NAME, ...extra });
      nw.on('error', () => {});
      stop = () => nw.close();
    } else {
      const extra = [];
      if (wo.removeOnComplete !== undefined) extra.push('--remove-on-complete', wo.removeOnComplete);
      if (wo.removeOnFail !== undefined) extra.push('--remove-on-fail', wo.removeOnFail);
      w = I.useWorker(t, redis, ph.queue, ['--concurrency', '1', '--name', WORKER_NAME, ...extra]);
      stop = async () => {
        const r = await I.stopWorker(w);
        assert.deepEqual(r, { code: 0, signal: null }, `echo_worker exit; stderr:\n${I.tail(w)}`);
      };
    }
    try {
      await ph.run(ctx);
      await I.sleep(300); // let the worker settle into its blocking wait, as when idle
    } catch (e) {
      if (w) e.message += `\necho_worker stderr:\n${I.tail(w)}`;
      throw e;
    } finally {
      await stop();
    }
  }
  const raw = await dumpQueue(client, scenario.queues.map((q) => `bull:${q}:`));
  const events = {};
  for (const q of scenario.queues) events[q] = eventRecords(await I.readStream(client, q));
  return { raw, state: maskWorkerState(raw), events, client, redis };
}

// Runs the scenario both ways; `check(run, kind)` asserts the outcome of
// each run (while its Redis is still up), then the two are compared.
async function differential(t, scenario, check) {
  I.requireEchoWorker();
  const node = await runScenario(t, 'node', scenario);
  await check(node, 'node');
  const c = await runScenario(t, 'c', scenario);
  await check(c, 'c');
  const evDiffs = [];
  for (const q of scenario.queues) {
    const a = node.events[q];
    const b = c.events[q];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i] !== b[i]) evDiffs.push(`${q} event #${i}: node ${a[i]} vs C ${b[i]}`);
    }
  }
  const stDiffs = diffStates(node.state, c.state);
  if (evDiffs.length || stDiffs.length) {
    assert.fail([
      `${evDiffs.length} event difference(s), ${stDiffs.length} state difference(s) (A = Node Worker, B = echo_worker)`,
      ...evDiffs.slice(0, 40), ...stDiffs.slice(0, 80),
    ].join('\n'));
  }
}

const hashOf = (run, key) => {
  const e = run.raw[key];
  assert.ok(e, `${key} exists`);
  return e.value;
};
const zmembers = (run, key) => (run.raw[key] ? run.raw[key].value.map(([m]) => m) : []);

module.exports = { differential, runScenario, context, finished, hashOf, zmembers };
