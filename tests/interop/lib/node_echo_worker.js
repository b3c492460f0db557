'use strict';
// A stand-in for build/bin/echo_worker built on Node's own BullMQ Worker, with
// the same command line, exit codes and echo semantics. It exists only to
// check the interop tests themselves: run the suite with
//   BULLC_BIN_DIR=$PWD/node-echo-bin node --test
// and every test except the differential one should pass against Node.
const net = require('node:net');
const { Worker } = require('bullmq');
const { echoProcessor, customBackoff, keepJobsOption } = require('./echo');

function die(msg) {
  process.stderr.write(`echo_worker: ${msg}\n`);
  process.exit(2);
}

const INT_OPTS = {
  '--concurrency': 'concurrency', '--lock-duration': 'lockDuration',
  '--stalled-interval': 'stalledInterval', '--max-stalled-count': 'maxStalledCount',
  '--max-jobs': 'maxJobs', '--limiter-max': 'limiterMax', '--limiter-duration': 'limiterDuration',
  '--metrics': 'metrics', '--max-started-attempts': 'maxStartedAttempts',
};
const FLAG_OPTS = { '--custom-backoff': 'customBackoff', '--quiet': 'quiet' };
const STR_OPTS = {
  '--queue': 'queue', '--redis': 'redis', '--prefix': 'prefix', '--name': 'name',
  '--remove-on-complete': 'removeOnComplete', '--remove-on-fail': 'removeOnFail',
};

const o = { redis: 'redis://127.0.0.1:6379', prefix: 'bull', concurrency: 1 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a in FLAG_OPTS) { o[FLAG_OPTS[a]] = true; continue; }
  if (!(a in INT_OPTS) && !(a in STR_OPTS)) die(`unknown argument '${a}'`);
  if (i + 1 >= argv.length) die(`${a} needs a value`);
  const v = argv[++i];
  if (a in INT_OPTS) {
    if (!/^[0-9]+$/.test(v)) die(`${a}: not a number: '${v}'`);
    o[INT_OPTS[a]] = Number(v);
  } else {
    o[STR_OPTS[a]] = v;
  }
}
if (!o.queue) die('--queue is required');
if (o.concurrency < 1) die('--concurrency must be at least 1');
let url;
try { url = new URL(o.redis); } catch (_) { die(`bad --redis URL '${o.redis}'`); }
if (url.protocol !== 'redis:') die(`bad --redis URL '${o.redis}'`);
const host = url.hostname || '127.0.0.1';
const port = Number(url.port || 6379);
const password = url.password ? decodeURIComponent(url.password) : undefined;
const username = url.username ? decodeURIComponent(url.username) : undefined;
const db = url.pathname && url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;

function reachable() {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.setTimeout(2000, () => { s.destroy(); resolve(false); });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

(async () => {
  const connection = { host, port, password, username, db, maxRetriesPerRequest: null };
  if (!(await reachable())) {
    process.stderr.write(`echo_worker: cannot connect to Redis at ${host}:${port}\n`);
    process.exit(1);
  }
  const IORedis = require('ioredis');
  const probe = new IORedis({ ...connection, lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    probe.disconnect();
  } catch (e) {
    process.stderr.write(`echo_worker: cannot use Redis at ${host}:${port}: ${e.message}\n`);
    process.exit(1);
  }
  const opts = {
    connection,
    prefix: o.prefix, concurrency: o.concurrency,
  };
  if (o.name) opts.name = o.name;
  if (o.lockDuration) opts.lockDuration = o.lockDuration;
  if (o.stalledInterval) opts.stalledInterval = o.stalledInterval;
  if (o.maxStalledCount !== undefined) opts.maxStalledCount = o.maxStalledCount;
  try {
    if (o.removeOnComplete !== undefined) opts.removeOnComplete = keepJobsOption(o.removeOnComplete);
    if (o.removeOnFail !== undefined) opts.removeOnFail = keepJobsOption(o.removeOnFail);
  } catch (e) { die(e.message); }
  if (o.limiterMax) opts.limiter = { max: o.limiterMax, duration: o.limiterDuration };
  if (o.metrics) opts.metrics = { maxDataPoints: o.metrics };
  if (o.maxStartedAttempts) opts.maxStartedAttempts = o.maxStartedAttempts;
  if (o.customBackoff) opts.settings = { backoffStrategy: customBackoff };
  const worker = new Worker(o.queue, echoProcessor, opts);
  worker.on('error', (e) => process.stderr.write(`echo_worker: ${e.message}\n`));
  let finished = 0;
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    await worker.close();
    process.exit(0);
  };
  const count = (job) => {
    finished++;
    if (o.maxJobs && finished >= o.maxJobs) stop();
  };
  worker.on('completed', count);
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err && err.name === 'UnrecoverableError' ? true
      : job.attemptsMade >= (job.opts.attempts || 1);
    if (final) count(job);
  });
  process.on('SIGUSR1', () => worker.pause(true));
  process.on('SIGUSR2', () => worker.resume());
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})();
