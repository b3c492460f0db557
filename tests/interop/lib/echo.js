'use strict';
// The echo semantics of examples/echo_worker.c, written as a Node BullMQ
// processor. Used by the differential test (Node's own Worker runs the same
// scenario) and by node-echo-bin/echo_worker, a stand-in that lets the suite
// check itself before the C worker exists (BULLC_BIN_DIR=node-echo-bin).
//
//   data is not an object            -> return data
//   sleepMs: n                       -> wait n ms first
//   unrecoverable: msg               -> fail with msg, no retry
//   fail: msg                        -> fail with msg
//   failAttempts: n                  -> fail with "attempt <k> failed" while
//                                       attemptsMade < n (k = attemptsMade+1)
//   waitChildren: true               -> job.moveToWaitingChildren(token); if it
//                                       moved, throw WaitingChildrenError (the job
//                                       runs again once its children are done)
//   returnChildren: true             -> return job.getChildrenValues()
//   returnIgnored: true              -> return job.getIgnoredChildrenFailures()
//   result: v                        -> return v instead of data
//   progress / logs                  -> accepted, ignored (issue 2)
const { UnrecoverableError, WaitingChildrenError } = require('bullmq');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

async function echoProcessor(job, token) {
  const d = job.data;
  if (!isObject(d)) return d;
  if (typeof d.sleepMs === 'number' && d.sleepMs > 0) await sleep(d.sleepMs);
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
  if (Object.prototype.hasOwnProperty.call(d, 'result')) return d.result;
  return d;
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

module.exports = { echoProcessor, isObject, keepJobsOption };
