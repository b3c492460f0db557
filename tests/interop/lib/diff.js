'use strict';
// Differential helpers on top of state.js (owned by the scripts tests):
// dump only one queue's keys, and the extra masking the worker comparison
// needs beyond maskState's defaults.
const { dumpState, maskState, diffStates, MASK } = require('./state');

const STACK = '<stack>';

// Zsets whose scores are finish/creation times: with the scores masked, the
// order of members that finished in the same millisecond is lexicographic
// and so depends on timing; compare them as sets (the events stream keeps
// the real finishing order, and is compared entry by entry).
const TS_ZSET_RE = /:(completed|failed)$/;

// A stacktrace is a JSON array of stack strings whose text is language
// specific (Node writes err.stack); compare its length, and that it is a
// JSON array of strings.
function maskStacktrace(text) {
  let arr;
  try { arr = JSON.parse(text); } catch (_) { return `<invalid JSON: ${text}>`; }
  if (!Array.isArray(arr)) return `<not an array: ${text}>`;
  return JSON.stringify(arr.map((s) => (typeof s === 'string' ? STACK : `<not a string: ${JSON.stringify(s)}>`)));
}

async function dumpQueue(client, prefixes) {
  const all = await dumpState(client);
  const out = {};
  for (const k of Object.keys(all)) {
    if (prefixes.some((p) => k.startsWith(p))) out[k] = all[k];
  }
  return out;
}

// Metrics: the per-minute points (and prevTS/prevCount) depend on whether a
// run crossed a minute boundary; the algorithm itself is compared at script
// level (scripts.test.js). Here the counts must match.
const METRICS_DATA_RE = /:metrics:(completed|failed):data$/;
const METRICS_RE = /:metrics:(completed|failed)$/;

function maskWorkerState(state) {
  // The limiter counter expires with its window: whether it still exists
  // when the state is dumped is a matter of timing.
  const m = maskState(state, { dropKeys: [METRICS_DATA_RE, /:limiter$/] });
  for (const k of Object.keys(m)) {
    const e = m[k];
    if (e.type === 'hash' && METRICS_RE.test(k)) {
      if ('prevTS' in e.value) e.value.prevTS = MASK;
      if ('prevCount' in e.value) e.value.prevCount = MASK;
    }
    if (e.type === 'hash' && typeof e.value.stacktrace === 'string') {
      e.value.stacktrace = maskStacktrace(e.value.stacktrace);
    }
    if (e.type === 'zset' && TS_ZSET_RE.test(k)) {
      e.value = [...e.value].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    }
  }
  return m;
}

module.exports = { dumpQueue, maskWorkerState, diffStates, maskStacktrace, MASK, STACK };
