'use strict';
// The echo semantics of examples/echo_worker.c, written as a Node BullMQ
// processor. Used by the differential test (Node's own Worker runs the same
// scenario) and by node-echo-bin/echo_worker, a stand-in that lets the suite
// check itself before the C worker exists (BULLC_BIN_DIR=node-echo-bin).
//
//   data is not an object            -> return data
//   sleepMs: n                       -> wait n ms first
//   delayMs: n                       -> job.moveToDelayed(now + n) + DelayedError,
//                                       while attemptsStarted <= delayTimes (1)
//   rateLimitMs: n                   -> worker.rateLimit(n) + RateLimitError,
//                                       while attemptsStarted <= rateLimitTimes (1)
//   progress: [v, ...]               -> job.updateProgress(v) for each, in order
//   logs: [line, ...]                -> job.log(line) for each (non-strings as JSON)
//   updateData: v                    -> job.updateData(v)
//   unrecoverable: msg               -> fail with msg, no retry
//   fail: msg                        -> fail with msg
//   failAttempts: n                  -> fail with "attempt <k> failed" while
//                                       attemptsMade < n (k = attemptsMade+1)
//   waitChildren: true               -> job.moveToWaitingChildren(token); if it
//                                       moved, throw WaitingChildrenError (the job
//                                       runs again once its children are done)
//   returnChildren: true             -> return job.getChildrenValues()
//   returnIgnored: true              -> return job.getIgnoredChildrenFailures()
//   result: v                        -> return v instead of the (current) data
//
// customBackoff is echo_worker --custom-backoff's strategy (settings.backoffStrategy).
const { UnrecoverableError, DelayedError, WaitingChildrenError, Worker } = require('bullmq');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const times = (d, k) => (Number.isInteger(d[k]) ? d[k] : 1);

async function echoProcessor(job, token) {
  const d = job.data;
  if (!isObject(d)) return d;
  if (typeof d.sleepMs === 'number' && d.sleepMs > 0) await sleep(d.sleepMs);
  if (Number.isInteger(d.delayMs) && job.attemptsStarted <= times(d, 'delayTimes')) {
    await job.moveToDelayed(Date.now() + d.delayMs, token);
    throw new DelayedError();
  }
  if (Number.isInteger(d.rateLimitMs) && job.attemptsStarted <= times(d, 'rateLimitTimes')) {
    // Inside a Worker, job.queue is the worker itself.
    await job.queue.rateLimit(d.rateLimitMs);
    throw Worker.RateLimitError();
  }
  if (Array.isArray(d.progress)) for (const p of d.progress) await job.updateProgress(p);
  if (Array.isArray(d.logs)) {
    for (const l of d.logs) await job.log(typeof l === 'string' ? l : JSON.stringify(l));
  }
  if (has(d, 'updateData')) await job.updateData(d.updateData);
  if (d.waitChildren === true && await job.moveToWaitingChildren(token)) {
    throw new WaitingChildrenError();
  }
  if (d.unrecoverable !== undefined) throw new UnrecoverableError(String(d.unrecoverable));
  if (d.fail !== undefined) throw new Error(String(d.fail));
  if (typeof d.failAttempts === 'number' && job.attemptsMade < d.failAttempts) {
    throw new Error(`attempt ${job.attemptsMade + 1} failed`);
  }
  if (d.returnChildren === true) return job.getChildrenValues();
  if (d.returnIgnored === true) return job.getIgnoredChildrenFailures();
  if (has(d, 'result')) return d.result;
  return job.data;
}

function customBackoff(attemptsMade, type, err, job) {
  if (type === 'giveup') return -1;
  if (type !== 'linear') return 0;
  const b = job.opts.backoff;
  const delay = b && Number.isInteger(b.delay) ? b.delay : 100;
  return attemptsMade * delay;
}

// echo_worker's --remove-on-complete / --remove-on-fail SPEC as the Worker
// option Node takes (a KeepJobs object; Node's Worker passes it to Redis as
// is): true, false, N, or "age=S,count=N,limit=L" (any of them).
function keepJobsOption(spec) {
  if (spec === 'true') return { count: 0 };
  if (spec === 'false') return { count: -1 };
  if (/^[0-9]+$/.test(spec)) return { count: Number(spec) };
  const o = {};
  for (const part of spec.split(',')) {
    const m = /^(age|count|limit)=([0-9]+)$/.exec(part);
    if (!m) throw new Error(`bad keep-jobs spec '${spec}'`);
    o[m[1]] = Number(m[2]);
  }
  return o;
}

module.exports = { echoProcessor, customBackoff, isObject, keepJobsOption };
