'use strict';
// The demo's producer: what a NestJS/Next.js service does with @nestjs/bullmq - it only fires
// events into the queue and reads outcomes; the C inventory_worker does the business logic.
// Fires a short story, prints each job's outcome as Node's bullmq sees it, then the dead
// letters. Exits 1 if an outcome is not the one the story expects. The story and the settings
// (REDIS_URL, BULLC_QUEUE, BULLC_DLQ, DEMO_USER_SUFFIX) are in story.js; producer-nest.js tells
// the same story on Bull 4 through @nestjs/bull (`BULLC_PROTOCOL=bull make demo`).
const { Queue, QueueEvents } = require('bullmq');
const { redis, QUEUE, DLQ, SUFFIX, STORY, JOB_OPTS } = require('./story');

const connection = { ...redis, maxRetriesPerRequest: null };

async function main() {
  const queue = new Queue(QUEUE, { connection });
  const events = new QueueEvents(QUEUE, { connection });
  const dlq = new Queue(DLQ, { connection });
  for (const q of [queue, events, dlq]) q.on('error', (e) => console.error(`redis: ${e.message}`));
  await events.waitUntilReady();
  let surprises = 0;
  let n = 0;
  try {
    const failedIds = new Set();
    for (const [name, story, expected] of STORY) {
      n++;
      const data = { ...story, userId: story.userId + SUFFIX };
      const job = await queue.add(name, data, JOB_OPTS);
      let outcome;
      let text;
      try {
        text = JSON.stringify(await job.waitUntilFinished(events, 30000));
        outcome = 'completed';
      } catch (e) {
        text = e.message;
        outcome = /timed out/i.test(text) ? 'timed out' : 'failed';
      }
      const mark = outcome === expected ? '' : `   <-- expected ${expected}`;
      if (mark) surprises++;
      if (outcome === 'failed') failedIds.add(job.id);
      console.log(`${String(n).padStart(2)}. ${name} ${JSON.stringify(data)}`);
      console.log(`    job ${job.id}: ${outcome}: ${text}${mark}`);
    }
    // failed-for-good jobs reach the dead-letter queue right after Redis records the failure
    const until = Date.now() + 10000;
    let dead = [];
    while (Date.now() < until) {
      dead = (await dlq.getJobs(['waiting'], 0, -1, true)).filter((d) => failedIds.has(d.data.jobId));
      if (dead.length >= failedIds.size) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`\nDead-letter queue ${DLQ}: ${dead.length} job(s) from this story`);
    for (const d of dead) {
      console.log(`  ${d.name} (job ${d.data.jobId}, ${d.data.attemptsMade} attempt(s)): ${d.data.failedReason}`);
    }
    if (dead.length < failedIds.size) surprises++;
  } finally {
    await Promise.all([queue.close(), events.close(), dlq.close()]);
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
