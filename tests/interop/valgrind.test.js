'use strict';
// Memory hygiene of the worker on real traffic: echo_worker runs under valgrind
// (memcheck, full leak check) through completions, retries, final and
// unrecoverable failures and removeOnComplete, at concurrency 3, and must exit
// 0 with no memory error and no leak. Skipped where valgrind is absent.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const I = require('./lib/interop');
const H = require('./lib/harness');

const hasValgrind = spawnSync('valgrind', ['--version']).status === 0;
// A sanitizer build (make asan/ubsan/tsan) already checks memory, and valgrind cannot run it.
const skip = process.env.BULLC_SANITIZER ? `sanitizer build (${process.env.BULLC_SANITIZER})`
  : !hasValgrind && 'valgrind not installed';

test('echo_worker is valgrind-clean (no errors, no leaks)', { skip, timeout: 240000 }, async (t) => {
  const redis = await I.useRedis(t);
  const queue = I.useQueue(t, redis, 'vg');
  const N = 30;
  for (let i = 0; i < N; i++) {
    const data = { i };
    if (i % 5 === 0) data.fail = `bad ${i}`;
    if (i % 7 === 0) data.unrecoverable = `fatal ${i}`;
    if (i % 4 === 1) data.result = { nested: [i, 'x'] };
    // the handler calls, on jobs that complete: progress, logs, updateData,
    // moveToDelayed, rate limit, and a retry with the custom backoff
    if (i === 1) Object.assign(data, { progress: [1, { p: [2] }], logs: ['a', 'b'], updateData: { u: i } });
    if (i === 2) data.delayMs = 50;
    if (i === 3) data.rateLimitMs = 50;
    if (i === 4) data.failAttempts = 1;
    const backoff = i === 4 ? { type: 'linear', delay: 20 } : undefined;
    await queue.add('vg', data, { attempts: 2, removeOnComplete: i % 3 === 0, keepLogs: 1, backoff });
  }
  const p = spawn('valgrind', ['--leak-check=full', '--error-exitcode=9',
    '--errors-for-leak-kinds=definite,indirect,possible', '--show-leak-kinds=definite,indirect,possible',
    H.ECHO_WORKER, '--redis', redis.url, '--queue', 'vg', '--concurrency', '3',
    '--max-jobs', String(N), '--quiet', '--custom-backoff', '--metrics', '5'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((res) => p.on('close', (c) => res(c)));
  assert.equal(code, 0, `valgrind/echo_worker exit ${code}:\n${err.slice(-4000)}`);
  assert.match(err, /ERROR SUMMARY: 0 errors/);
  const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait');
  // i%5==0 or i%7==0 fail for good (0,5,7,10,14,15,20,21,25,28 -> 10 jobs); the rest complete,
  // those with removeOnComplete (i%3==0) are deleted.
  assert.equal(counts.failed, 10);
  assert.equal(counts.active + counts.wait, 0);
  const kept = [...Array(N).keys()].filter((i) => i % 5 && i % 7 && i % 3).length;
  assert.equal(counts.completed, kept);
});
