'use strict';
// CRON: our cron parser and next-time computation (libbullc/cron.c, tz.c) against
// cron-parser 5 (the one BullMQ 6.7.0 uses for job scheduler patterns). Several
// hundred cases: 5- and 6-field patterns with ranges, steps, lists, names, '?',
// 'L', '#', 'H'; time zones with DST gaps and repeated hours (New York, Berlin,
// Lord Howe's 30-minute DST), no DST (Kolkata, UTC) and fixed offsets; leap years;
// startDate/endDate. For each case the C tool prints the next times, which must
// be exactly what cron-parser's next() returns, and it must reject exactly the
// patterns and zones cron-parser rejects.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { CronExpressionParser } = require('cron-parser');
const H = require('./lib/harness');

const TOOL = path.join(H.BIN, '..', 'tests', 'tools', 'cron_next');
const N = 5;

// What cron-parser gives, in the tool's output format.
function expected({ pattern, tz, start, end, startDate, seed, strict }) {
  let it;
  try {
    const opts = { currentDate: new Date(start) };
    if (tz) opts.tz = tz;
    if (end !== undefined) opts.endDate = end;
    if (startDate !== undefined) opts.startDate = startDate;
    if (seed) opts.hashSeed = seed;
    if (strict) opts.strict = true;
    it = CronExpressionParser.parse(pattern, opts);
  } catch (e) {
    return ['ERROR'];
  }
  const out = [];
  for (let i = 0; i < N; i++) {
    try {
      out.push(String(it.next().getTime()));
    } catch (e) {
      out.push('END');
      break;
    }
  }
  return out;
}

function runTool(cases) {
  const input = cases
    .map((c) => [c.pattern, c.tz || '-', String(c.start), String(N),
      c.end === undefined ? '-' : String(c.end), c.startDate === undefined ? '-' : String(c.startDate),
      c.seed || '-', c.strict ? 'strict' : '-'].join('\t'))
    .join('\n') + '\n';
  const r = spawnSync(TOOL, ['--batch'], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `cron_next failed: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  return cases.map((_, i) => {
    const words = lines[i].trim().split(' ');
    // keep the kind of END/ERROR, not its message
    const out = [];
    for (const w of words) {
      if (w === 'END' || w === 'ERROR') { out.push(w); break; }
      out.push(w);
    }
    return out;
  });
}

const ms = (iso) => Date.parse(iso);

// Instants around DST transitions and calendar edges.
const STARTS = {
  'America/New_York': ['2024-03-10T05:30:00Z', '2024-03-10T06:59:59.500Z', '2024-11-03T04:00:00Z',
    '2024-11-03T05:30:00Z'],
  'Europe/Berlin': ['2024-03-30T23:00:00Z', '2024-10-26T23:30:00Z', '2024-10-27T01:10:00Z'],
  'Australia/Lord_Howe': ['2024-04-06T13:00:00Z', '2024-10-05T14:00:00Z'],
  'Asia/Kolkata': ['2023-06-15T07:07:07.007Z'],
  UTC: ['2024-02-28T23:59:59Z', '2100-02-27T12:00:00Z'],
};

const PATTERNS = [
  '* * * * *', '*/5 * * * *', '0 * * * *', '30 2 * * *', '0 2 * * *', '0 3 * * *', '0 1 * * *',
  '30 1 * * *', '15,45 1-3 * * *', '0 */2 * * *', '0 0 * * 0', '0 0 * * 7', '0 9 * * MON-FRI',
  '0 12 * JAN,jul *', '0 0 L * *', '0 0 L 2 *', '0 0 29 2 *', '0 0 31 * *', '0 0 1,15 * 1',
  '0 0 * * 5L', '0 0 * * 1#2', '0 0 * * FRI#5', '0 0 13 * 5', '*/10 * * * * *', '5-10/2 * * * * *',
  '0 0/20 * * * *', '0 0 12 ? * MON', '@daily', '@weekly', '@hourly', '@yearly', '@monthly',
  '@weekdays', '@weekends', '@minutely', '0 0 9-17 * * 1-5', '0 30 0-23/3 * * *',
  '59 59 23 31 12 *', '0 0 0 29 2 *', '0 0 0 30 2 1', '0 0 0 L * 5L', '0 0 0 15L * *',
  '0 0 0 * * 12L', '0 0 2,3 * * *', '0 30 1,2 * * *', '0 0 0-3 * * *', '0 */30 1-3 * * *',
  '0 0 1 * * 0-7', '0 0 0 * * 5-7', '0 0 0 1-7 * 1', '0 0 0 * * 1-7/2', '0 45 2 * * *',
  '30 30 2 * * *', '0 0 1,2,3 * * *', '0 0 23 * * *', '0 15 0 * * *', '*/20 * 2 * * *',
  '0 0 * * * *', '0 */15 * * * *', '0 0 0 1 */3 *', '0 0 0 1 1 *', '7 7 7 7 7 *', '0 0 12 * * 3#1',
  '0 0 12 * * 0#4', '  0   12  * * *  ', '0 0 0 ? * sat', '0 0 0 1,L * *', '0 2-4 * * *',
  '0 0 0 */2 * *', '1-59/2 * * * * *', '0 0 2 * * 0', '0 30 2 * * 0', '0 0 1 * * 0',
];

// Patterns that step through months or years: cron-parser is slow on these, so they run
// from the first instant of each zone only.
const CALENDAR = new Set(['0 0 29 2 *', '0 0 0 29 2 *', '0 0 L 2 *', '0 0 31 * *', '0 0 * * FRI#5',
  '7 7 7 7 7 *', '@yearly', '59 59 23 31 12 *', '0 0 0 30 2 1', '0 0 0 1 1 *', '@monthly',
  '0 0 0 1 */3 *', '0 12 * JAN,jul *', '0 0 L * *', '0 0 12 * * 0#4', '0 0 * * 1#2', '0 0 * * 5L',
  '0 0 0 L * 5L', '0 0 0 15L * *', '0 0 0 * * 12L', '0 0 12 * * 3#1', '0 0 1,15 * 1', '0 0 13 * 5',
  '0 0 0 1,L * *', '0 0 0 1-7 * 1']);

const INVALID = [
  '0 0 30 2 *', '* * * * * * *', '60 * * * * *', '* 60 * * *', '0 0 * * 8', '0 0 * * L',
  '0 0 0 * * 1#6', '0 0 0 * * 1#2,3', '1,1 * * * *', '0 0 * * 0,7', '0 0 15W * *', 'abc',
  '5-1 * * * *', '*/0 * * * *', '0 0 * FOO *', '0 0 * * MONDAY', '0 0 1 13 *', '0 0 0 0 * *',
  'L * * * *', '1/2/3 * * * *', ',1 * * * *', '0 0 * * 1#0', '0 0 0 32 * *', '0 0 24 * * *',
  '0 0 0 * 0 *', '1-2-3 * * * *x', '0 0 0 * * 1-5#2', '0 0 0 1-31 2 0-7/0', '#', '0 0 0 * * #1',
  '0 0 0 31 4 *', '0 0 0 31 4,6 *', '@reboot', '0 0 0 * * 1,1', '0 0 0 L-2 * *',
];

const ZONES = Object.keys(STARTS);

test('next times equal cron-parser for patterns x zones x DST instants', () => {
  const cases = [];
  for (const tz of ZONES) {
    STARTS[tz].forEach((s, i) => {
      for (const pattern of PATTERNS) {
        if (i === 0 || !CALENDAR.has(pattern)) cases.push({ pattern, tz, start: ms(s) });
      }
    });
  }
  const got = runTool(cases);
  let mismatches = [];
  cases.forEach((c, i) => {
    const want = expected(c);
    if (JSON.stringify(want) !== JSON.stringify(got[i])) {
      mismatches.push(`${JSON.stringify(c)}\n   node: ${want.join(' ')}\n   ours: ${got[i].join(' ')}`);
    }
  });
  assert.ok(cases.length > 500, `only ${cases.length} cases`);
  assert.deepEqual(mismatches.slice(0, 15), [], `${mismatches.length} of ${cases.length} differ`);
});

test('invalid patterns and zones are rejected exactly where cron-parser throws', () => {
  const cases = [];
  for (const pattern of [...INVALID, ...PATTERNS.slice(0, 20)]) {
    cases.push({ pattern, tz: 'UTC', start: ms('2024-05-05T05:05:05Z') });
  }
  for (const tz of ['Mars/Olympus', 'America/New_Yorkk', '../etc/passwd', 'Europe', 'utc',
    'UTC+5', 'utc-03:30', 'GMT', 'america/new_york', 'Etc/GMT+5', 'US/Eastern']) {
    cases.push({ pattern: '0 0 * * *', tz, start: ms('2024-05-05T05:05:05Z') });
  }
  const got = runTool(cases);
  const errors = got.filter((g) => g[0] === 'ERROR').length;
  assert.ok(errors >= INVALID.length, `only ${errors} errors`);
  cases.forEach((c, i) => {
    assert.deepEqual(got[i], expected(c), JSON.stringify(c));
  });
});

test('startDate, endDate, strict mode and seeded H follow cron-parser', () => {
  const cases = [];
  const base = ms('2024-03-09T12:00:00Z');
  for (const pattern of ['0 0 * * * *', '*/7 * * * * *', '0 30 2 * * *', '0 0 0 * * 1', 'H H * * * *',
    'H(0-29)/10 * * * * *', 'H/15 H(1-3) * * *', '0 H/20 * * * *']) {
    for (const tz of ['America/New_York', 'Europe/Berlin', 'UTC']) {
      cases.push({ pattern, tz, start: base, end: base + 3 * 3600e3 });
      cases.push({ pattern, tz, start: base, end: base + 60e3 });
      cases.push({ pattern, tz, start: base, startDate: base + 86400e3 });
      cases.push({ pattern, tz, start: base + 5 * 86400e3, startDate: base, end: base + 86400e3 });
      cases.push({ pattern, tz, start: base, startDate: base + 1000, end: base + 7 * 86400e3 });
      if (pattern.includes('H')) {
        // without a seed, 'H' is random in both; compare seeded ones only
        for (const c of cases.slice(-5)) c.seed = 'my-scheduler';
        cases.push({ pattern, tz, start: base, seed: 'another \u00e9 seed \ud83d\ude00' });
      }
    }
  }
  for (const pattern of ['0 0 * * *', '0 0 0 * * *', '0 0 0 1 * 1', '0 0 0 * * 1', 'H(0-70)/5 * * * * *',
    'H(50-59)/20 * * * * *', '0 0 0 ? * 1', '']) {
    cases.push({ pattern, tz: 'UTC', start: base, strict: true, seed: 's' });
    cases.push({ pattern, tz: 'UTC', start: base, seed: 's' });
  }
  const got = runTool(cases);
  cases.forEach((c, i) => {
    assert.deepEqual(got[i], expected(c), JSON.stringify(c));
  });
});

test('DST at midnight, month ends, endDate on a due time and the Date range follow cron-parser', () => {
  const cases = [];
  // zones whose clocks change at midnight (the day starts at 01:00 or twice at 23:00)
  const MIDNIGHT = {
    'America/Santiago': ['2024-04-06T20:00:00Z', '2024-09-07T20:00:00Z'],
    'Asia/Beirut': ['2024-03-30T20:00:00Z', '2024-10-26T19:00:00Z'],
    'America/Havana': ['2024-03-09T23:00:00Z', '2024-11-02T23:00:00Z'],
    'america/SANTIAGO': ['2024-09-07T20:00:00Z'],
  };
  for (const [tz, starts] of Object.entries(MIDNIGHT)) {
    for (const s of starts) {
      for (const pattern of ['0 0 * * *', '30 0 * * *', '0 0 0 * * *', '* 0 * * *', '0 23 * * *',
        '0 */6 * * *', '0 0 * * 0', '0 0 1 * *']) {
        cases.push({ pattern, tz, start: ms(s) });
      }
    }
  }
  // Feb 29 and day 31 from the days around them
  for (const s of ['2023-01-31T00:00:00Z', '2024-02-29T00:00:00Z', '2024-04-30T23:59:59.999Z']) {
    for (const pattern of ['0 0 29 2 *', '0 0 31 * *', '0 0 29-31 * *', '0 0 0 31 1-12/2 *']) {
      cases.push({ pattern, tz: 'America/New_York', start: ms(s) });
    }
  }
  // endDate exactly on a due time, just before and just after it
  const b = ms('2024-05-01T00:00:00Z');
  for (const d of [-1, 0, 1]) {
    cases.push({ pattern: '0 0 * * *', tz: 'UTC', start: b - 1, end: b + d });
    cases.push({ pattern: '0 0 * * * *', tz: 'UTC', start: b - 1000, startDate: b + d, end: b + d });
  }
  // the end of JavaScript's Date range: no time past it, an error beyond it
  for (const start of [8.64e15 + 1, 1e16, 8639999999999999]) {
    cases.push({ pattern: '* * * * * *', tz: 'UTC', start });
  }
  cases.push({ pattern: '0 0 * * *', tz: 'UTC', start: b, end: 1e16 });
  // files of the zoneinfo folder that are not zones to Intl
  for (const tz of ['posix/Europe/Berlin', 'right/UTC', 'posixrules', 'localtime', 'Factory']) {
    cases.push({ pattern: '0 0 * * *', tz, start: b });
  }
  const got = runTool(cases);
  cases.forEach((c, i) => {
    assert.deepEqual(got[i], expected(c), JSON.stringify(c));
  });
});
