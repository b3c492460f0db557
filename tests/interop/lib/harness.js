'use strict';
// Shared helpers for the interop tests: private redis-server instances on free
// loopback ports, the echo_worker binary, and small waiting utilities.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.BULLC_BIN_DIR || path.join(ROOT, 'build', 'bin');
const ECHO_WORKER = path.join(BIN, 'echo_worker');
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Wait for a promise at most ms; the timer is cleared as soon as the promise
// settles, so it never keeps the process alive on its own afterwards.
async function within(promise, ms, onTimeout = undefined) {
  let timer;
  const t = new Promise((r) => { timer = setTimeout(() => r(onTimeout), ms); });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(pred, { timeout = 10000, interval = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Start a private redis-server. Data persists in its own folder across
// restart() (RDB written on shutdown), so a restart keeps the queue.
async function startRedis(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullc-redis-'));
  const port = await freePort();
  const r = {
    port, dir,
    host: '127.0.0.1',
    url: `redis://127.0.0.1:${port}`,
    connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
    proc: null,
  };
  r.start = async () => {
    r.proc = spawn(REDIS_SERVER, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      '--maxmemory-policy', 'noeviction', '--logfile', path.join(dir, 'redis.log'),
      ...extraArgs,
    ], { stdio: 'ignore' });
    r.proc.unref();
    await waitFor(() => canConnect(port), { what: `redis on ${port}` });
  };
  // Graceful shutdown with SAVE so that restart() finds the same data.
  r.stop = async ({ save = true } = {}) => {
    if (!r.proc) return;
    const p = r.proc;
    r.proc = null;
    const exited = new Promise((res) => p.once('exit', res));
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', save ? 'save' : 'nosave'], { stdio: 'ignore' });
    await within(exited, 5000);
    try { p.kill('SIGKILL'); } catch (_) { /* already gone */ }
  };
  r.restart = async (downMs = 0) => {
    await r.stop();
    if (downMs) await sleep(downMs);
    await r.start();
  };
  r.cleanup = async () => {
    await r.stop({ save: false });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  await r.start();
  return r;
}

// Run echo_worker with the given arguments (and environment variables added to
// ours, e.g. OTEL_*). Returns the child process with `exited` (a promise of
// {code, signal}) and `stderrText()`.
function startEchoWorker(redis, queue, args = [], env = undefined) {
  const child = spawn(ECHO_WORKER, ['--redis', redis.url, '--queue', queue, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ? { ...process.env, ...env } : process.env,
  });
  let err = '';
  let out = '';
  child.stderr.on('data', (d) => { err += d; });
  child.stdout.on('data', (d) => { out += d; });
  child.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  child.stderrText = () => err;
  child.stdoutText = () => out;
  return child;
}

module.exports = {
  ROOT, BIN, ECHO_WORKER, REDIS_SERVER, sleep, within, freePort, waitFor, startRedis, startEchoWorker,
};
