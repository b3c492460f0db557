'use strict';
// echo_worker --http: GET /metrics in the Prometheus text format (exact outcome
// counters after a known mix of jobs added by Node's Queue, the run-time
// histogram's consistency, the queue's counts against Node's getJobCounts),
// 404 elsewhere, and GET /healthz through a Redis outage (503 with a reason,
// then 200 again; likewise while the path to Redis goes silent). libmicrohttpd
// is mapped into the process only with --http; a bad HOST:PORT or a
// libmicrohttpd that cannot be loaded exits 2 with one line saying why. And
// BULLC_LOG_FORMAT=json: every stderr line one JSON
// object, lines about a job carrying its id and name.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const H = require('./lib/harness');
const I = require('./lib/interop');
const { startRelay } = require('./lib/relay');

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${path}: no answer`)));
    req.on('error', reject);
  });
}

// Samples of the text format: { 'name{labels}': value } (comments skipped).
function parse(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

async function scrape(port) {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  return { ...r, m: parse(r.body) };
}

// /healthz until pred(response) holds, at most `ms`.
async function healthUntil(port, pred, ms, what) {
  let last;
  try {
    return await H.waitFor(async () => {
      last = await get(port, '/healthz').catch((e) => ({ status: 0, body: String(e) }));
      return pred(last) ? last : null;
    }, { timeout: ms, interval: 100, what });
  } catch (e) {
    e.message += ` (last: ${last && last.status} ${JSON.stringify(last && last.body)})`;
    throw e;
  }
}

async function startWith(t, redis, qname, extra = []) {
  const port = await H.freePort();
  const w = I.useWorker(t, redis, qname, ['--concurrency', '2', '--http', `127.0.0.1:${port}`, ...extra]);
  await healthUntil(port, (r) => r.status === 200, 15000, 'the worker to be healthy');
  return { w, port };
}

test('metrics: exact outcome counters, histogram, queue counts, content type, 404', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const q = 'metrics';
  const queue = I.useQueue(t, redis, q);
  const ev = await I.useEvents(t, redis, q);
  const jobs = await Promise.all([
    queue.add('ok', { a: 1 }),
    queue.add('ok', { a: 2 }),
    queue.add('ok', { a: 3 }),
    queue.add('retry-then-ok', { failAttempts: 1 }, { attempts: 2 }), // 1 retried, 1 completed
    queue.add('always', { fail: 'no' }, { attempts: 3 }),             // 2 retried, 1 failed
    queue.add('unrec', { unrecoverable: 'never' }, { attempts: 5 }),  // 1 failed, no retry
    queue.add('once', { fail: 'once' }),                              // 1 failed
  ]);
  await queue.add('later', {}, { delay: 3600000 });                  // stays delayed
  const { w, port } = await startWith(t, redis, q);
  for (const j of jobs.slice(0, 4)) await ev.waitFor('completed', j.id);
  for (const j of jobs.slice(4)) await ev.waitFor('failed', j.id);

  // the counts are read every 2 s: wait until they show the finished mix
  const node = await queue.getJobCounts();
  assert.equal(node.completed, 4);
  assert.equal(node.failed, 3);
  let s;
  await H.waitFor(async () => {
    s = await scrape(port);
    return Object.entries(node).every(([state, n]) => s.m[`bullc_queue_jobs{queue="${q}",state="${state}"}`] === n);
  }, { timeout: 15000, interval: 200, what: `bullc_queue_jobs to match ${JSON.stringify(node)}` });
  assert.equal(s.type, 'text/plain; version=0.0.4');
  const states = Object.keys(s.m).filter((k) => k.startsWith('bullc_queue_jobs{'));
  assert.equal(states.length, Object.keys(node).length, 'one series per state getJobCounts reports');

  const L = `queue="${q}"`;
  assert.equal(s.m[`bullc_jobs_total{${L},outcome="completed"}`], 4);
  assert.equal(s.m[`bullc_jobs_total{${L},outcome="failed"}`], 3);
  assert.equal(s.m[`bullc_jobs_total{${L},outcome="retried"}`], 3);
  const count = s.m[`bullc_job_duration_seconds_count{${L}}`];
  assert.equal(count, 4 + 3 + 3, 'one observation per recorded outcome');
  assert.equal(s.m[`bullc_job_duration_seconds_bucket{${L},le="+Inf"}`], count);
  const buckets = Object.entries(s.m).filter(([k]) => k.startsWith('bullc_job_duration_seconds_bucket{'));
  assert.equal(buckets.length, 12);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], 'cumulative buckets');
  assert.ok(s.m[`bullc_job_duration_seconds_sum{${L}}`] >= 0);
  assert.equal(s.m[`bullc_jobs_active{${L}}`], 0);
  assert.equal(s.m[`bullc_concurrency{${L}}`], 2);
  assert.equal(s.m[`bullc_redis_up{${L}}`], 1);
  assert.equal(s.m[`bullc_redis_reconnects_total{${L}}`], 0);
  assert.equal(s.m[`bullc_worker_running{${L}}`], 1);
  assert.equal(s.m[`bullc_blocking_loop_stalled{${L}}`], 0);
  for (const name of ['bullc_jobs_total', 'bullc_job_duration_seconds', 'bullc_jobs_active', 'bullc_concurrency',
    'bullc_redis_up', 'bullc_redis_reconnects_total', 'bullc_queue_jobs']) {
    assert.match(s.body, new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'), `# TYPE of ${name}`);
  }

  for (const path of ['/', '/metric', '/metrics/x', '/health']) {
    const r = await get(port, path);
    assert.equal(r.status, 404, path);
  }
  const hz = await get(port, '/healthz');
  assert.equal(hz.status, 200);
  assert.equal(hz.body, 'ok\n');

  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('healthz: 503 with a reason while Redis is down, 200 again once it is back', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const q = 'health';
  const queue = I.useQueue(t, redis, q);
  const ev = await I.useEvents(t, redis, q);
  const { w, port } = await startWith(t, redis, q);
  const before = await queue.add('x', { n: 1 });
  await ev.waitFor('completed', before.id);

  await redis.stop();
  const down = await healthUntil(port, (r) => r.status === 503, 10000, '503 within 10 s of Redis stopping');
  assert.match(down.body, /^redis (unreachable|not answering)[^\n]*\n$/, `one line with the reason: ${JSON.stringify(down.body)}`);
  const m = (await scrape(port)).m;
  assert.equal(m[`bullc_redis_up{queue="${q}"}`], 0);

  await redis.start();
  await healthUntil(port, (r) => r.status === 200 && r.body === 'ok\n', 10000, '200 within 10 s of Redis coming back');
  const after = await queue.add('x', { n: 2 });
  await ev.waitFor('completed', after.id);
  const m2 = (await scrape(port)).m;
  assert.equal(m2[`bullc_redis_up{queue="${q}"}`], 1);
  assert.ok(m2[`bullc_redis_reconnects_total{queue="${q}"}`] >= 1, 'the reconnects were counted');
  assert.equal(m2[`bullc_jobs_total{queue="${q}",outcome="completed"}`], 2);

  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('healthz: 503 while the path to Redis is silent (no reset), 200 once bytes pass again', { timeout: 90000 }, async (t) => {
  const redis = await I.useRedis(t);
  const relay = await startRelay(redis.port);
  t.after(() => relay.close());
  const q = 'silent';
  const queue = I.useQueue(t, redis, q);
  const ev = await I.useEvents(t, redis, q);
  const { w, port } = await startWith(t, { url: `redis://127.0.0.1:${relay.port}` }, q);
  const before = await queue.add('x', { n: 1 });
  await ev.waitFor('completed', before.id);

  relay.blackhole({ newToo: true }); // open and new connections alike: nothing passes, nothing closes
  const holed = Date.now();
  const down = await healthUntil(port, (r) => r.status === 503, 10000, '503 within 10 s of the path going silent');
  assert.match(down.body, /^(redis (unreachable|not answering)|blocking loop stalled)[^\n]*\n$/,
    `one line with the reason: ${JSON.stringify(down.body)}`);

  t.diagnostic(`503 after ${Date.now() - holed} ms: ${down.body.trim()}`);
  relay.resume();
  const resumed = Date.now();
  await healthUntil(port, (r) => r.status === 200, 10000, '200 within 10 s of bytes passing again');
  t.diagnostic(`200 after ${Date.now() - resumed} ms`);
  const after = await queue.add('x', { n: 2 });
  await ev.waitFor('completed', after.id);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

// Whether the running process `pid` has libmicrohttpd mapped.
function mapsMicrohttpd(pid) {
  return /libmicrohttpd\.so/.test(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

test('libmicrohttpd: mapped only with --http', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'nohttp');
  const plain = I.useWorker(t, redis, 'nohttp');
  await I.waitFor(async () => (await I.workerNames(queue)).length === 1, { timeout: 15000, what: 'the worker to register' });
  assert.equal(mapsMicrohttpd(plain.pid), false, 'no --http: libmicrohttpd not mapped');
  const { w, port } = await startWith(t, redis, 'withhttp');
  assert.equal((await get(port, '/healthz')).status, 200);
  assert.equal(mapsMicrohttpd(w.pid), true, '--http: libmicrohttpd mapped');
  assert.deepEqual(await I.stopWorker(plain), { code: 0, signal: null }, `exit; stderr:\n${I.tail(plain)}`);
  assert.deepEqual(await I.stopWorker(w), { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});

test('--http setup errors: a bad HOST:PORT, an unloadable libmicrohttpd: exit 2, one line', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const port = await H.freePort();
  // An empty file first on the loader's path stands for a broken or foreign libmicrohttpd.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullc-nomhd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'libmicrohttpd.so.12'), '');
  const cases = [
    { args: ['--http', 'nonsense'], env: undefined, line: /--http.*HOST:PORT.*'nonsense'/ },
    { args: ['--http', `127.0.0.1:${port}`], env: { LD_LIBRARY_PATH: dir },
      line: /--http: cannot load libmicrohttpd\.so\.12: .*libmicrohttpd\.so\.12: .*too short/ },
  ];
  for (const c of cases) {
    const w = I.useWorker(t, redis, 'setup', c.args, c.env);
    const r = await I.within(w.exited, 15000, null);
    assert.deepEqual(r, { code: 2, signal: null }, `${c.args}: exit; stderr:\n${I.tail(w)}`);
    const lines = w.stderrText().split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
    assert.match(lines[0], c.line);
  }
});

test('BULLC_LOG_FORMAT=json: every stderr line is a JSON object; job lines carry the job', { timeout: 60000 }, async (t) => {
  const redis = await I.useRedis(t);
  const q = 'jsonlog';
  const queue = I.useQueue(t, redis, q);
  const ev = await I.useEvents(t, redis, q);
  process.env.BULLC_LOG_FORMAT = 'json';
  let w;
  try {
    w = I.useWorker(t, redis, q, ['--log-level', 'debug']);
  } finally {
    delete process.env.BULLC_LOG_FORMAT;
  }
  const ok = await queue.add('greet', { a: 1 });
  const retried = await queue.add('flaky "quoted"\nname', { failAttempts: 1 }, { attempts: 2 });
  const failed = await queue.add('doomed', { fail: 'bad\ttab "x"' });
  await ev.waitFor('completed', ok.id);
  await ev.waitFor('completed', retried.id);
  await ev.waitFor('failed', failed.id);
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);

  const lines = w.stderrText().split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 6, `lines: ${lines.length}`);
  const names = { [ok.id]: 'greet', [retried.id]: 'flaky "quoted"\nname', [failed.id]: 'doomed' };
  const seen = new Set();
  for (const line of lines) {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(line); }, `JSON: ${line}`);
    assert.equal(typeof o, 'object');
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO 8601 UTC with ms');
    assert.ok(Math.abs(Date.parse(o.time) - Date.now()) < 600000, 'a time of this run');
    assert.ok(['error', 'warn', 'info', 'debug'].includes(o.level), o.level);
    assert.equal(typeof o.message, 'string');
    const about = /^job (\S+) /.exec(o.message);
    if (about) {
      assert.equal(o.job_id, about[1], `job id on: ${line}`);
      assert.equal(o.job_name, names[about[1]], `job name on: ${line}`);
      seen.add(`${o.job_id}:${o.message.split(' ')[2]}`);
    } else {
      assert.equal(o.job_id, undefined, `no job on: ${line}`);
    }
  }
  assert.ok(seen.has(`${ok.id}:completed`) && seen.has(`${retried.id}:failed,`) &&
            seen.has(`${retried.id}:completed`) && seen.has(`${failed.id}:failed:`), [...seen].join(' '));
  assert.ok(lines.some((l) => JSON.parse(l).message.includes('started on queue jsonlog')));

  // the last line of a worker that cannot reach Redis is JSON too
  process.env.BULLC_LOG_FORMAT = 'json';
  let dead;
  try {
    dead = I.useWorker(t, { url: `redis://127.0.0.1:${await H.freePort()}` }, q);
  } finally {
    delete process.env.BULLC_LOG_FORMAT;
  }
  const exit = await H.within(dead.exited, 20000, null);
  assert.equal(exit && exit.code, 1, `exit 1; stderr:\n${dead.stderrText()}`);
  const deadLines = dead.stderrText().split('\n').filter((l) => l !== '');
  assert.ok(deadLines.length >= 1);
  for (const line of deadLines) assert.equal(JSON.parse(line).level.length > 0, true, line);
  assert.match(JSON.parse(deadLines[deadLines.length - 1]).message, /cannot connect to Redis/);
});
