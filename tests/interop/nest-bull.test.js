'use strict';
// The seed's stack as a NestJS web layer has it: an application context on @nestjs/bull 12
// (BullModule.forRoot/registerQueue, a service that gets the queue with @InjectQueue, and a
// listener class with @OnGlobalQueue* methods and no @Process, so Node consumes nothing) fires
// events into a Bull 4 queue; echo_worker --protocol bull works them. Everything is asserted
// as the Nest side sees it: the injected Queue's jobs and states, its getWorkers(), and the
// global events its decorated listeners hear.
//
// The decorators are @nestjs/common's and @nestjs/bull's functions called as TypeScript's
// compiled output calls them (no build step), as in examples/demo/producer-nest.js.
require('reflect-metadata');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const {
  BullModule, InjectQueue, Processor, OnGlobalQueueCompleted, OnGlobalQueueFailed,
  OnGlobalQueueProgress, OnGlobalQueueActive,
} = require('@nestjs/bull');
const I = require('./lib/interop');

const QUEUE = 'events';
const BULL = ['--protocol', 'bull'];

// The web layer's service: fires events and reads them back.
class EventsService {
  constructor(queue) { this.queue = queue; }
  fire(name, data, opts) { return this.queue.add(name, data, opts); }
}
Injectable()(EventsService);
InjectQueue(QUEUE)(EventsService, undefined, 0);

// Global listeners, as a Nest service that reacts to outcomes has them.
class EventsListener {
  constructor() { this.heard = []; }
  onActive(jobId) { this.heard.push(['active', String(jobId)]); }
  onCompleted(jobId, result) { this.heard.push(['completed', String(jobId), result]); }
  onFailed(jobId, reason) { this.heard.push(['failed', String(jobId), reason]); }
  onProgress(jobId, progress) { this.heard.push(['progress', String(jobId), progress]); }
  of(ev, id) { return this.heard.filter((e) => e[0] === ev && (id === undefined || e[1] === String(id))); }
}
const method = (name) => Object.getOwnPropertyDescriptor(EventsListener.prototype, name);
OnGlobalQueueActive()(EventsListener.prototype, 'onActive', method('onActive'));
OnGlobalQueueCompleted()(EventsListener.prototype, 'onCompleted', method('onCompleted'));
OnGlobalQueueFailed()(EventsListener.prototype, 'onFailed', method('onFailed'));
OnGlobalQueueProgress()(EventsListener.prototype, 'onProgress', method('onProgress'));
Processor(QUEUE)(EventsListener);

// A Nest application context against `redis`, closed when the test ends.
async function useNest(t, redis) {
  class AppModule {}
  Module({
    imports: [
      BullModule.forRoot({ redis: { host: '127.0.0.1', port: redis.port } }),
      BullModule.registerQueue({ name: QUEUE }),
    ],
    providers: [EventsService, EventsListener],
  })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  I.defer(t, () => app.close().catch(() => {}));
  const events = app.get(EventsService);
  const listener = app.get(EventsListener);
  const q = events.queue;
  q.on('error', () => {});
  await q.isReady();
  // the global listeners are subscribed once Bull's registeredEvents settle
  await I.waitFor(() => q.registeredEvents && Object.keys(q.registeredEvents).length >= 4,
    { what: 'the global listeners subscribed' });
  await Promise.all(Object.values(q.registeredEvents));
  return { app, events, listener, q };
}

async function settled(q, job, timeout = 30000) {
  return I.waitFor(async () => {
    // the state first: once it is final, the job's fields are too
    const j = await q.getJob(job.id);
    if (!j) return { state: 'removed' };
    const state = await j.getState();
    return state === 'completed' || state === 'failed' ? { state, job: await q.getJob(job.id) } : null;
  }, { timeout, what: `job ${job.id} finished`, interval: 50 });
}

test('nest-bull: events fired through an injected Queue complete, fail and retry as Bull records them', async (t) => {
  const redis = await I.useRedis(t);
  const { events, listener, q } = await useNest(t, redis);
  const w = I.useWorker(t, redis, QUEUE, BULL);
  await I.waitFor(async () => ((await q.getWorkers()) || []).length === 1, { what: 'getWorkers() lists the C worker' });

  const ok = await events.fire('reward_inventory_item', { userId: 'u1', result: { granted: ['key'] } });
  const retried = await events.fire('use_item', { failAttempts: 2, result: 'third time' },
    { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
  const failed = await events.fire('use_item', { fail: 'insufficient quantity' },
    { attempts: 2, backoff: { type: 'exponential', delay: 20 } });
  const discarded = await events.fire('use_item', { unrecoverable: 'bad payload' }, { attempts: 5 });
  const progress = await events.fire('reward_inventory_item', { progress: [25, { step: 'done' }], result: 1 });

  const r1 = await settled(q, ok);
  assert.equal(r1.state, 'completed');
  assert.deepEqual(r1.job.returnvalue, { granted: ['key'] });
  assert.equal(r1.job.name, 'reward_inventory_item');
  assert.equal(r1.job.attemptsMade, 0, 'Bull counts failed attempts only');
  assert.ok(r1.job.processedOn >= r1.job.timestamp && r1.job.finishedOn >= r1.job.processedOn);

  const r2 = await settled(q, retried);
  assert.equal(r2.state, 'completed');
  assert.equal(r2.job.returnvalue, 'third time');
  assert.equal(r2.job.attemptsMade, 2);
  assert.equal(r2.job.stacktrace.length, 2);

  const r3 = await settled(q, failed);
  assert.equal(r3.state, 'failed');
  assert.equal(r3.job.failedReason, 'insufficient quantity');
  assert.equal(r3.job.attemptsMade, 2);

  const r4 = await settled(q, discarded);
  assert.equal(r4.state, 'failed');
  assert.equal(r4.job.failedReason, 'bad payload');
  assert.equal(r4.job.attemptsMade, 1, 'an unrecoverable failure is not retried');

  const r5 = await settled(q, progress);
  assert.equal(r5.state, 'completed');
  assert.deepEqual(r5.job.progress(), { step: 'done' });

  // what the decorated listeners heard
  await I.waitFor(() => listener.of('completed').length === 3 && listener.of('failed').length === 2
      && listener.of('progress').length === 2,
  { what: `the listeners heard every outcome (${JSON.stringify(listener.heard)})` });
  assert.deepEqual(listener.of('completed', ok.id).map((e) => JSON.parse(e[2])), [{ granted: ['key'] }]);
  assert.deepEqual(listener.of('failed', failed.id).map((e) => e[2]), ['insufficient quantity']);
  assert.deepEqual(listener.of('failed', discarded.id).map((e) => e[2]), ['bad payload']);
  assert.deepEqual(listener.of('progress', progress.id).map((e) => e[2]), [25, { step: 'done' }]);
  assert.ok(listener.of('active', retried.id).length >= 3, 'one active event per attempt');

  const counts = await q.getJobCounts();
  assert.deepEqual({ ...counts, paused: undefined },
    { waiting: 0, active: 0, completed: 3, failed: 2, delayed: 0, paused: undefined });
  const exit = await I.stopWorker(w);
  assert.equal(exit.code, 0);
});

test('nest-bull: delayed, prioritized, LIFO and removeOnComplete jobs from the injected Queue', async (t) => {
  const redis = await I.useRedis(t);
  const { events, listener, q } = await useNest(t, redis);

  // queued before any worker runs, so the order is Bull's, not arrival's
  const plain = await events.fire('a', { n: 1 });
  const lifo = await events.fire('a', { n: 2 }, { lifo: true });
  const urgent = await events.fire('a', { n: 3 }, { priority: 1 });
  const later = await events.fire('a', { n: 4 }, { priority: 5 });
  const gone = await events.fire('a', { n: 5 }, { removeOnComplete: true, jobId: 'custom-5' });
  assert.equal(gone.id, 'custom-5');
  const delayed = await events.fire('a', { n: 6 }, { delay: 1500 });
  assert.equal(await delayed.getState(), 'delayed');

  I.useWorker(t, redis, QUEUE, BULL); // concurrency 1
  const jobs = [plain, lifo, urgent, later];
  const done = await I.waitFor(async () => {
    const got = await Promise.all(jobs.map((j) => q.getJob(j.id)));
    return got.every((j) => j && j.finishedOn) ? got : null;
  }, { what: 'the four queued jobs completed' });
  // the order the worker took them, as the listener heard it (processedOn can tie)
  const byId = new Map(done.map((j) => [String(j.id), j.data.n]));
  await I.waitFor(() => jobs.every((j) => listener.of('completed', j.id).length === 1),
    { what: 'the listener heard the four completions' });
  const order = listener.of('active').map((e) => byId.get(e[1])).filter((n) => n !== undefined);
  // Bull's wait list: prioritized jobs at its head by priority, the LIFO job before the plain one
  assert.deepEqual(order, [3, 4, 2, 1]);

  await I.waitFor(async () => (await q.getJob('custom-5')) === null, { what: 'removeOnComplete removed custom-5' });
  const d = await settled(q, delayed);
  assert.equal(d.state, 'completed');
  assert.ok(d.job.processedOn >= delayed.timestamp + 1500, 'not before its due time');
  assert.deepEqual(d.job.returnvalue, { n: 6 });
});
