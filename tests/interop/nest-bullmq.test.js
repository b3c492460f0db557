'use strict';
// A NestJS web layer on @nestjs/bullmq 12 (BullModule.forRoot/registerQueue/registerFlowProducer,
// a service that gets the queue and a flow producer with @InjectQueue / @InjectFlowProducer, and
// a @QueueEventsListener class with @OnQueueEvent methods; no @Processor, so Node consumes
// nothing) fires events into a BullMQ 6 queue; echo_worker works them. Everything is asserted as
// the Nest side sees it: the injected Queue's jobs, its getWorkers(), the flow's results, and the
// global events its decorated listener hears.
//
// The decorators are called as TypeScript's compiled output calls them (no build step), as in
// examples/demo/producer-nest.js.
require('reflect-metadata');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const {
  BullModule, InjectQueue, InjectFlowProducer, QueueEventsHost, QueueEventsListener, OnQueueEvent,
} = require('@nestjs/bullmq');
const I = require('./lib/interop');

const QUEUE = 'events';
const FLOWS = 'flows';

class EventsService {
  constructor(queue, flows) { this.queue = queue; this.flows = flows; }
  fire(name, data, opts) { return this.queue.add(name, data, opts); }
}
Injectable()(EventsService);
InjectQueue(QUEUE)(EventsService, undefined, 0);
InjectFlowProducer(FLOWS)(EventsService, undefined, 1);

// QueueEvents listeners, as a Nest service that reacts to outcomes has them.
class EventsListener extends QueueEventsHost {
  constructor() { super(); this.heard = []; }
  onActive({ jobId }) { this.heard.push(['active', jobId]); }
  onCompleted({ jobId, returnvalue }) { this.heard.push(['completed', jobId, returnvalue]); }
  onFailed({ jobId, failedReason }) { this.heard.push(['failed', jobId, failedReason]); }
  onProgress({ jobId, data }) { this.heard.push(['progress', jobId, data]); }
  of(ev, id) { return this.heard.filter((e) => e[0] === ev && (id === undefined || e[1] === String(id))); }
}
for (const [ev, m] of [['active', 'onActive'], ['completed', 'onCompleted'], ['failed', 'onFailed'],
  ['progress', 'onProgress']]) {
  OnQueueEvent(ev)(EventsListener.prototype, m, Object.getOwnPropertyDescriptor(EventsListener.prototype, m));
}
QueueEventsListener(QUEUE)(EventsListener);

async function useNest(t, redis) {
  class AppModule {}
  Module({
    imports: [
      BullModule.forRoot({ connection: { host: '127.0.0.1', port: redis.port } }),
      BullModule.registerQueue({ name: QUEUE }),
      BullModule.registerFlowProducer({ name: FLOWS }),
    ],
    providers: [EventsService, EventsListener],
  })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  I.defer(t, () => app.close().catch(() => {}));
  await app.init();
  const events = app.get(EventsService);
  const listener = app.get(EventsListener);
  await listener.queueEvents.waitUntilReady();
  return { events, listener, q: events.queue };
}

async function settled(q, id, timeout = 30000) {
  return I.waitFor(async () => {
    // the state first: once it is final, the job's fields are too
    const state = await q.getJobState(id);
    return state === 'completed' || state === 'failed' ? { state, job: await q.getJob(id) } : null;
  }, { timeout, what: `job ${id} finished`, interval: 50 });
}

test('nest-bullmq: events from an injected Queue complete, retry and fail; the listener hears them', async (t) => {
  const redis = await I.useRedis(t);
  const { events, listener, q } = await useNest(t, redis);
  const w = I.useWorker(t, redis, QUEUE, ['--concurrency', '4']);
  await I.waitFor(async () => (await q.getWorkers()).length === 1, { what: 'getWorkers() lists the C worker' });

  const ok = await events.fire('reward_inventory_item', { result: { granted: ['key'] }, progress: [50] });
  const retried = await events.fire('use_item', { failAttempts: 2, result: 'third time' },
    { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
  const failed = await events.fire('use_item', { fail: 'insufficient quantity' }, { attempts: 2 });
  const discarded = await events.fire('use_item', { unrecoverable: 'bad payload' }, { attempts: 5 });
  const delayed = await events.fire('use_item', { result: 'later' }, { delay: 1000 });

  const r1 = await settled(q, ok.id);
  assert.equal(r1.state, 'completed');
  assert.deepEqual(r1.job.returnvalue, { granted: ['key'] });
  assert.equal(r1.job.attemptsMade, 1);
  assert.equal(r1.job.progress, 50);
  const r2 = await settled(q, retried.id);
  assert.equal(r2.state, 'completed');
  assert.equal(r2.job.returnvalue, 'third time');
  assert.equal(r2.job.attemptsMade, 3);
  const r3 = await settled(q, failed.id);
  assert.equal(r3.state, 'failed');
  assert.equal(r3.job.failedReason, 'insufficient quantity');
  assert.equal(r3.job.attemptsMade, 2);
  const r4 = await settled(q, discarded.id);
  assert.equal(r4.state, 'failed');
  assert.equal(r4.job.attemptsMade, 1, 'an unrecoverable failure is not retried');
  const r5 = await settled(q, delayed.id);
  assert.equal(r5.state, 'completed');
  assert.ok(r5.job.processedOn >= delayed.timestamp + 1000, 'not before its due time');

  await I.waitFor(() => listener.of('completed').length === 3 && listener.of('failed').length >= 2,
    { what: `the listener heard every outcome (${JSON.stringify(listener.heard)})` });
  assert.deepEqual(listener.of('completed', ok.id).map((e) => e[2]), [{ granted: ['key'] }]);
  assert.deepEqual(listener.of('failed', failed.id).map((e) => e[2]), ['insufficient quantity']);
  assert.deepEqual(listener.of('failed', discarded.id).map((e) => e[2]), ['bad payload']);
  assert.deepEqual(listener.of('progress', ok.id).map((e) => e[2]), [50]);
  assert.equal(listener.of('active', retried.id).length, 3, 'one active event per attempt');

  const exit = await I.stopWorker(w);
  assert.equal(exit.code, 0);
});

test('nest-bullmq: a flow from an injected FlowProducer runs children first, then the parent with their values', async (t) => {
  const redis = await I.useRedis(t);
  const { events } = await useNest(t, redis);
  I.useWorker(t, redis, QUEUE, ['--concurrency', '2']);
  const tree = await events.flows.add({
    name: 'grant_bundle',
    queueName: QUEUE,
    data: { returnChildren: true },
    children: [
      { name: 'reward_inventory_item', queueName: QUEUE, data: { result: 'gold' } },
      { name: 'reward_inventory_item', queueName: QUEUE, data: { result: 'key' } },
    ],
  });
  const parent = await settled(events.queue, tree.job.id);
  assert.equal(parent.state, 'completed');
  const values = Object.values(parent.job.returnvalue).sort();
  assert.deepEqual(values, ['gold', 'key']);
  for (const child of tree.children) {
    const c = await settled(events.queue, child.job.id);
    assert.equal(c.state, 'completed');
    assert.ok(c.job.finishedOn <= parent.job.processedOn, 'children finish before the parent starts');
  }
});
