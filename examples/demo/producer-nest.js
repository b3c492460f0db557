'use strict';
// The demo's producer in Bull mode (`BULLC_PROTOCOL=bull make demo`): a NestJS application on
// @nestjs/bull, the Bull 4 queue many NestJS services still use. Its EventsService only fires
// events into the queue and reads outcomes; the C inventory_worker (BULLC_PROTOCOL=bull) does the
// business logic. It tells the story of story.js, prints each job's outcome as Bull sees it
// (getState, returnvalue, failedReason), then the dead letters, which are Bull jobs too. Exits 1
// if an outcome is not the one the story expects. Settings: story.js.
//
// Plain JavaScript, no TypeScript build: the decorators are @nestjs/common's and @nestjs/bull's
// functions called directly, as TypeScript's compiled output would call them -
//   @Injectable() class EventsService {
//     constructor(@InjectQueue('events') queue: Queue, @InjectQueue('events-dlq') dlq: Queue) {}
//   }
//   @Module({ imports: [BullModule.forRoot({ redis }), BullModule.registerQueue(...)], ... })
require('reflect-metadata'); // Nest's decorators keep their metadata with it
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { BullModule, InjectQueue } = require('@nestjs/bull');
const { redis, QUEUE, DLQ, SUFFIX, STORY, JOB_OPTS } = require('./story');

const WAIT_MS = 30000; // for one job's outcome

class EventsService {
  constructor(queue, dlq) {
    this.queue = queue;
    this.dlq = dlq;
    for (const q of [queue, dlq]) q.on('error', (e) => console.error(`redis: ${e.message}`));
  }

  // Fires one event; returns the Bull job.
  fire(name, data) {
    return this.queue.add(name, data, JOB_OPTS);
  }

  // The job's outcome as Bull sees it, once it finished (Bull's job.finished(): its global
  // completed/failed events, with a watchdog that reads the state): {state, text}.
  async outcome(job) {
    let timer;
    const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve('timed out'), WAIT_MS); });
    const settled = job.finished().then(() => 'finished', () => 'finished');
    const how = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    if (how === 'timed out') return { state: 'timed out', text: `no outcome within ${WAIT_MS} ms` };
    const read = await this.queue.getJob(job.id);
    const state = await read.getState();
    if (state === 'completed') return { state, text: JSON.stringify(read.returnvalue) };
    if (state === 'failed') return { state, text: `${read.failedReason} (${read.attemptsMade} attempt(s))` };
    return { state, text: '' };
  }

  // The dead letters of these job ids, waiting in the DLQ; waits up to 10 s for all of them.
  async deadLetters(ids) {
    const until = Date.now() + 10000;
    let dead = [];
    for (;;) {
      dead = (await this.dlq.getWaiting()).filter((d) => ids.has(d.data.jobId));
      if (dead.length >= ids.size || Date.now() > until) return dead;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
Injectable()(EventsService);
InjectQueue(QUEUE)(EventsService, undefined, 0);
InjectQueue(DLQ)(EventsService, undefined, 1);

class AppModule {}
Module({
  imports: [
    BullModule.forRoot({ redis }),
    BullModule.registerQueue({ name: QUEUE }, { name: DLQ }),
  ],
  providers: [EventsService],
})(AppModule);

async function tell(events) {
  let surprises = 0;
  let n = 0;
  const failedIds = new Set();
  for (const [name, story, expected] of STORY) {
    n++;
    const data = { ...story, userId: story.userId + SUFFIX };
    const job = await events.fire(name, data);
    const { state, text } = await events.outcome(job);
    const mark = state === expected ? '' : `   <-- expected ${expected}`;
    if (mark) surprises++;
    if (state === 'failed') failedIds.add(String(job.id));
    console.log(`${String(n).padStart(2)}. ${name} ${JSON.stringify(data)}`);
    console.log(`    job ${job.id}: ${state}: ${text}${mark}`);
  }
  // failed-for-good jobs reach the dead-letter queue right after Redis records the failure
  const dead = await events.deadLetters(failedIds);
  console.log(`\nDead-letter queue ${DLQ} (Bull): ${dead.length} job(s) from this story`);
  for (const d of dead) {
    console.log(`  ${d.name} (job ${d.data.jobId}, ${d.data.attemptsMade} attempt(s)): ${d.data.failedReason}`);
  }
  if (dead.length < failedIds.size) surprises++;
  return surprises;
}

async function main() {
  // abortOnError false: a start-up error is reported below (exit 1), not by process.abort()
  const app = await NestFactory.createApplicationContext(AppModule,
    { logger: ['error', 'warn'], abortOnError: false });
  let surprises;
  try {
    const versions = ['@nestjs/core', '@nestjs/bull', 'bull']
      .map((p) => `${p} ${require(`${p}/package.json`).version}`).join(', ');
    console.log(`NestJS producer (${versions}), queue ${QUEUE}\n`);
    surprises = await tell(app.get(EventsService));
  } finally {
    await app.close(); // @nestjs/bull closes its queues
  }
  if (surprises) {
    console.error(`\n${surprises} outcome(s) differ from the story`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`producer: ${e.message}`);
  process.exit(1);
});
