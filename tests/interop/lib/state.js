'use strict';
// Whole-database snapshots for differential tests.
//
//   dumpState(client)      -> { [key]: { type, value, ttl } }  (keys sorted)
//   maskState(state, opts) -> deep copy with run-dependent values replaced
//   diffStates(a, b)       -> array of human-readable differences ([] = same)
//
// Value shapes per type:
//   string -> the string
//   hash   -> { field: value } with fields in sorted order
//   list   -> [items] (index 0 = left end)
//   set    -> [members] sorted
//   zset   -> [[member, score], ...] in rank order; score is a Number
//             (masked scores become strings such as '<ts>')
//   stream -> [[f1, v1, f2, v2, ...], ...] oldest first, entry ids dropped
// ttl is true when PTTL > 0 (the exact remaining time is never compared).

const MASK = '<ts>';

async function dumpState(client) {
  const keys = [];
  let cursor = '0';
  do {
    // eslint-disable-next-line no-await-in-loop
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    cursor = String(next);
    for (const k of batch) keys.push(String(k));
  } while (cursor !== '0');
  const uniq = [...new Set(keys)].sort();

  const out = {};
  for (const key of uniq) {
    /* eslint-disable no-await-in-loop */
    const type = String(await client.type(key));
    let value;
    switch (type) {
      case 'string':
        value = await client.get(key);
        break;
      case 'hash': {
        const flat = await client.call('HGETALL', key);
        const pairs = [];
        if (Array.isArray(flat)) {
          for (let i = 0; i < flat.length; i += 2) pairs.push([String(flat[i]), String(flat[i + 1])]);
        } else if (flat && typeof flat === 'object') {
          // RESP3 map reply
          const entries = flat instanceof Map ? [...flat.entries()] : Object.entries(flat);
          for (const [f, v] of entries) pairs.push([String(f), String(v)]);
        }
        pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
        value = {};
        for (const [f, v] of pairs) value[f] = v;
        break;
      }
      case 'list':
        value = (await client.lrange(key, 0, -1)).map(String);
        break;
      case 'set':
        value = (await client.smembers(key)).map(String).sort();
        break;
      case 'zset': {
        const flat = await client.call('ZRANGE', key, 0, -1, 'WITHSCORES');
        value = [];
        if (flat.length && Array.isArray(flat[0])) {
          // RESP3: [[member, score], ...]
          for (const [m, s] of flat) value.push([String(m), Number(s)]);
        } else {
          for (let i = 0; i < flat.length; i += 2) value.push([String(flat[i]), Number(flat[i + 1])]);
        }
        break;
      }
      case 'stream': {
        const entries = await client.xrange(key, '-', '+');
        value = entries.map(([, fields]) => fields.map(String));
        break;
      }
      case 'none':
        continue; // expired or deleted between SCAN and TYPE
      default:
        value = `<unsupported type ${type}>`;
    }
    const pttl = await client.pttl(key);
    out[key] = { type, value, ttl: Number(pttl) > 0 };
    /* eslint-enable no-await-in-loop */
  }
  return out;
}

// Default masking rules. Every rule can be turned off or extended via opts.
const DEFAULT_HASH_FIELDS = ['processedOn', 'finishedOn', 'timestamp'];
// zsets whose scores are wall-clock times (matched on the key's last segment).
const DEFAULT_TS_ZSETS = ['completed', 'failed', 'waiting-children', 'unsuccessful', 'repeat'];
// stream fields whose value is a time, per event name.
const DEFAULT_EVENT_FIELDS = { delayed: ['delay'] };

function lastSegment(key) {
  const i = key.lastIndexOf(':');
  return i < 0 ? key : key.slice(i + 1);
}

function applyReplace(s, replace) {
  if (!replace || typeof s !== 'string') return s;
  let r = s;
  for (const [from, to] of replace) {
    r = typeof from === 'string' ? r.split(from).join(to) : r.replace(from, to);
  }
  return r;
}

/**
 * maskState(state, opts) -> new state object.
 * opts:
 *   hashFields:   field names masked in every hash (default processedOn, finishedOn, timestamp)
 *   extraHashFields: more field names to mask in every hash
 *   tsZsets:      last key segments of zsets whose scores are masked
 *                 (default completed, failed, waiting-children, unsuccessful, repeat)
 *   delayed:      'seq' (default: keep score mod 4096 = the same-ms sequence),
 *                 'order' (mask the whole score, keep member order), or 'keep'
 *   marker:       true (default): mask the score of marker member "1"
 *   locks:        true (default): replace the value of every '*:lock' string by '<token>'
 *   stalledCheck: true (default): mask the value of '*:stalled-check'
 *   eventFields:  { eventName: [field, ...] } whose values are masked
 *                 (default { delayed: ['delay'] })
 *   metrics:      true: also mask metrics hashes' prevTS and the :data lists (default false)
 *   replace:      [[stringOrRegExp, replacement], ...] applied to every key name and
 *                 every string value first (e.g. to normalise UUID job ids)
 *   dropKeys:     array of RegExp; matching keys are removed from the state
 */
function maskState(state, opts = {}) {
  const hashFields = new Set([...(opts.hashFields || DEFAULT_HASH_FIELDS), ...(opts.extraHashFields || [])]);
  const tsZsets = new Set(opts.tsZsets || DEFAULT_TS_ZSETS);
  const delayedMode = opts.delayed || 'seq';
  const maskMarker = opts.marker !== false;
  const maskLocks = opts.locks !== false;
  const maskStalledCheck = opts.stalledCheck !== false;
  const eventFields = opts.eventFields || DEFAULT_EVENT_FIELDS;
  const replace = opts.replace;
  const dropKeys = opts.dropKeys || [];
  const rs = (s) => applyReplace(s, replace);

  const out = {};
  for (const rawKey of Object.keys(state)) {
    if (dropKeys.some((re) => re.test(rawKey))) continue;
    const key = rs(rawKey);
    const { type, value, ttl } = state[rawKey];
    const seg = lastSegment(key);
    let v;
    switch (type) {
      case 'string':
        if (maskLocks && seg === 'lock') v = '<token>';
        else if (maskStalledCheck && seg === 'stalled-check') v = MASK;
        else v = rs(value);
        break;
      case 'hash': {
        v = {};
        for (const f of Object.keys(value)) {
          const mf = rs(f);
          let fv = rs(value[f]);
          if (hashFields.has(f)) fv = MASK;
          if (opts.metrics && /:metrics:(completed|failed)$/.test(key) && f === 'prevTS') fv = MASK;
          v[mf] = fv;
        }
        // keep sorted order after replacement
        v = Object.fromEntries(Object.entries(v).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
        break;
      }
      case 'list':
        if (opts.metrics && /:metrics:(completed|failed):data$/.test(key)) v = value.map(() => MASK);
        else v = value.map(rs);
        break;
      case 'set':
        v = value.map(rs).sort();
        break;
      case 'zset':
        v = value.map(([m, s]) => {
          let ms = s;
          if (seg === 'delayed') {
            if (delayedMode === 'seq') ms = `${MASK}+${s % 4096}`;
            else if (delayedMode === 'order') ms = MASK;
          } else if (seg === 'marker') {
            if (maskMarker && m === '1') ms = MASK;
          } else if (tsZsets.has(seg)) {
            ms = MASK;
          }
          return [rs(m), ms];
        });
        break;
      case 'stream':
        v = value.map((fields) => {
          const f = fields.map(rs);
          const evIdx = f.indexOf('event');
          const ev = evIdx >= 0 && evIdx % 2 === 0 ? f[evIdx + 1] : undefined;
          const toMask = (ev && eventFields[ev]) || [];
          for (let i = 0; i + 1 < f.length; i += 2) if (toMask.includes(f[i])) f[i + 1] = MASK;
          return f;
        });
        break;
      default:
        v = value;
    }
    out[key] = { type, value: v, ttl };
  }
  return Object.fromEntries(Object.entries(out).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
}

const show = (x) => JSON.stringify(x);

function diffStates(a, b) {
  const diffs = [];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (!y) { diffs.push(`${k}: only in A (${x.type} ${show(x.value)})`); continue; }
    if (!x) { diffs.push(`${k}: only in B (${y.type} ${show(y.value)})`); continue; }
    if (x.type !== y.type) { diffs.push(`${k}: type ${x.type} vs ${y.type}`); continue; }
    if (x.ttl !== y.ttl) diffs.push(`${k}: has TTL ${x.ttl} vs ${y.ttl}`);
    switch (x.type) {
      case 'hash': {
        const fields = [...new Set([...Object.keys(x.value), ...Object.keys(y.value)])].sort();
        for (const f of fields) {
          if (!(f in y.value)) diffs.push(`${k}: field ${f} only in A (${show(x.value[f])})`);
          else if (!(f in x.value)) diffs.push(`${k}: field ${f} only in B (${show(y.value[f])})`);
          else if (x.value[f] !== y.value[f]) diffs.push(`${k}: field ${f} ${show(x.value[f])} vs ${show(y.value[f])}`);
        }
        break;
      }
      case 'stream': {
        const n = Math.max(x.value.length, y.value.length);
        for (let i = 0; i < n; i++) {
          if (show(x.value[i]) !== show(y.value[i])) {
            diffs.push(`${k}: entry #${i} ${show(x.value[i])} vs ${show(y.value[i])}`);
          }
        }
        break;
      }
      default:
        if (show(x.value) !== show(y.value)) diffs.push(`${k}: ${x.type} ${show(x.value)} vs ${show(y.value)}`);
    }
  }
  return diffs;
}

module.exports = { dumpState, maskState, diffStates, MASK };
