'use strict';
// `make install` and the README's example: install into a temporary PREFIX, build the 20-line
// worker shown in README.md with pkg-config (static and shared), run it against a private Redis,
// and check with Node that it completed a reward job and failed an invalid one.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const I = require('./lib/interop');
const H = require('./lib/harness');

test('make install + README example build and process jobs', { timeout: 180000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bullc-install-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const prefix = path.join(tmp, 'prefix');
  execFileSync('make', ['-s', '-C', H.ROOT, 'install', `PREFIX=${prefix}`], { stdio: 'pipe' });
  // the ABI policy: while the version is 0.x, the SONAME carries major.minor
  const header = fs.readFileSync(path.join(H.ROOT, 'include', 'bullc.h'), 'utf8');
  const [, major, minor] = header.match(/BULLC_VERSION_STRING "(\d+)\.(\d+)\.\d+"/);
  const soname = major === '0' ? `libbullc.so.0.${minor}` : `libbullc.so.${major}`;
  for (const f of ['include/bullc.h', 'lib/libbullc.a', 'lib/libbullc.so', `lib/${soname}`, 'lib/pkgconfig/bullc.pc',
    'bin/bullc']) {
    assert.ok(fs.existsSync(path.join(prefix, f)), `${f} installed`);
  }
  const dyn = execFileSync('objdump', ['-p', path.join(prefix, 'lib', 'libbullc.so')]).toString();
  assert.match(dyn, new RegExp(`SONAME\\s+${soname.replace(/\./g, '\\.')}\n`), 'SONAME');
  // tracing loads libcurl at run time, only when configured: neither the library nor bullc.pc names it
  assert.doesNotMatch(dyn, /NEEDED\s+libcurl/, 'libbullc.so does not link libcurl');
  const pcText = fs.readFileSync(path.join(prefix, 'lib', 'pkgconfig', 'bullc.pc'), 'utf8');
  assert.doesNotMatch(pcText, /curl/, 'bullc.pc does not ask for libcurl');

  const readme = fs.readFileSync(path.join(H.ROOT, 'README.md'), 'utf8');
  const m = readme.match(/```c\n([\s\S]*?)```/);
  assert.ok(m, 'README has a C example');
  const src = path.join(tmp, 'readme_worker.c');
  // point the example at the private Redis
  const redis = await I.useRedis(t);
  fs.writeFileSync(src, m[1].replace('redis://127.0.0.1:6379', redis.url));
  const env = { ...process.env, PKG_CONFIG_PATH: path.join(prefix, 'lib', 'pkgconfig') };
  const pc = (args) => execFileSync('pkg-config', [...args, 'bullc'], { env }).toString().trim().split(/\s+/);
  const cflags = ['-std=c11', '-Wall', '-Wextra', '-Werror', ...pc(['--cflags'])];
  const staticBin = path.join(tmp, 'worker-static');
  const sharedBin = path.join(tmp, 'worker-shared');
  // static: the archive, then what pkg-config says it needs (hiredis, cJSON, OpenSSL, ...)
  const staticLibs = pc(['--static', '--libs']).filter((a) => a !== '-lbullc' && !a.startsWith('-L'));
  execFileSync('cc', [...cflags, src, '-o', staticBin, path.join(prefix, 'lib', 'libbullc.a'), ...staticLibs]);
  execFileSync('cc', [...cflags, src, '-o', sharedBin, ...pc(['--libs'])]);

  const queue = I.useQueue(t, redis, 'events');
  for (const [bin, extraEnv] of [[staticBin, {}], [sharedBin, { LD_LIBRARY_PATH: path.join(prefix, 'lib') }]]) {
    const good = await queue.add('reward_inventory_item', { userId: 'u1', items: ['key'] });
    const bad = await queue.add('reward_inventory_item', { items: ['key'] }, { attempts: 3 });
    const p = spawn(bin, [], { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((res) => p.on('close', (code, signal) => res({ code, signal })));
    t.after(() => { try { p.kill('SIGKILL'); } catch (_) { /* gone */ } });
    await H.waitFor(async () => (await queue.getJobState(good.id)) === 'completed'
      && (await queue.getJobState(bad.id)) === 'failed', { timeout: 20000, what: 'README worker to finish both jobs' });
    p.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, out);
    const g = await queue.getJob(good.id);
    assert.deepEqual(g.returnvalue, { ok: true });
    const b = await queue.getJob(bad.id);
    assert.equal(b.failedReason, 'invalid payload: userId missing');
    assert.equal(b.attemptsMade, 1, 'unrecoverable: no retry despite attempts: 3');
    assert.match(out, new RegExp(`rewarding u1 \\(job ${good.id}\\)`));
  }
  // the installed admin tool reads what the workers left
  const counts = execFileSync(path.join(prefix, 'bin', 'bullc'), ['--redis', redis.url, 'counts', 'events']);
  assert.match(counts.toString(), /^completed 2$/m);
  assert.match(counts.toString(), /^failed 2$/m);
});
