'use strict';
// The generated script table (lua/luagen.sh): every script in lua/bullmq/ is built into the
// library with its includes resolved exactly as the sources say (the same text Redis gets),
// and with the SHA1 of that text, which EVALSHA relies on.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const H = require('./lib/harness');
const { loadScript, LUA_DIR } = require('./lib/lua');

test('every script is embedded byte for byte, with its SHA1', () => {
  const tool = path.join(H.ROOT, process.env.BULLC_BUILD || 'build', 'tests', 'tools', 'scripts_dump');
  const out = execFileSync(tool, { maxBuffer: 64 * 1024 * 1024 });
  const embedded = new Map();
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(10, at);
    const [name, sha, len] = out.subarray(at, nl).toString().split(' ');
    const text = out.subarray(nl + 1, nl + 1 + Number(len));
    embedded.set(name, { sha, text });
    at = nl + 1 + Number(len) + 1;
  }
  const sources = fs.readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4));
  assert.deepEqual([...embedded.keys()].sort(), sources.sort(), 'one table entry per script file');
  for (const name of sources) {
    const { sha, text } = embedded.get(name);
    const source = Buffer.from(`${loadScript(name)}\n`.replace(/\n\n$/, '\n'));
    assert.equal(text.toString('hex'), source.toString('hex'), `${name}: embedded text`);
    assert.equal(sha, crypto.createHash('sha1').update(text).digest('hex'), `${name}: SHA1`);
  }
});
