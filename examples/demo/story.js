'use strict';
// The demo's story and settings, shared by its two producers: producer.js (BullMQ 6, `make demo`)
// and producer-nest.js (a NestJS service on @nestjs/bull, Bull 4, `BULLC_PROTOCOL=bull make demo`).
//   REDIS_URL (redis://127.0.0.1:6379), BULLC_QUEUE (events), BULLC_DLQ (<queue>-dlq),
//   DEMO_USER_SUFFIX (appended to the user ids, so the story starts afresh on a database that has
//   seen it before)

const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
// ioredis options, as both libraries take them
const redis = {
  host: url.hostname, port: Number(url.port || 6379),
  username: url.username || undefined, password: url.password || undefined,
  db: Number(url.pathname.slice(1) || 0),
};
const QUEUE = process.env.BULLC_QUEUE || 'events';
const DLQ = process.env.BULLC_DLQ || `${QUEUE}-dlq`;
const SUFFIX = process.env.DEMO_USER_SUFFIX || '';

// [event, data, the outcome the story expects]
const STORY = [
  ['reward_inventory_item', { userId: 'alice', items: ['welcome_chest', 'key'] }, 'completed'],
  ['reward_inventory_item', { userId: 'alice', items: ['welcome_chest', 'key'] }, 'completed'], // repeated
  ['reward_inventory_item', { userId: 'bob', items: ['welcome_chest', 'welcome_chest'] }, 'completed'],
  ['use_item', { userId: 'alice', itemId: 'welcome_chest' }, 'completed'],
  ['use_item', { userId: 'alice', itemId: 'key', quantity: 2 }, 'completed'],
  ['use_item', { userId: 'bob', itemId: 'key' }, 'failed'], // bob has no key
  ['use_item', { userId: 'alice', itemId: 'key', quantity: 0 }, 'failed'], // invalid payload
  ['use_item', { userId: 'bob', itemId: 'welcome_chest' }, 'completed'],
  ['use_item', { userId: 'bob', itemId: 'gold', quantity: 10 }, 'failed'], // gold cannot be used
  ['open_portal', { userId: 'bob' }, 'failed'], // no such event
];

// The options a service gives each event: retries with backoff for transient failures.
const JOB_OPTS = { attempts: 3, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 1000 };

module.exports = { redis, QUEUE, DLQ, SUFFIX, STORY, JOB_OPTS };
