'use strict';
// Resolves our Lua scripts (lua/bullmq/<name>.lua, or lua/bull/<name>.lua with
// loadScript(name, BULL_LUA_DIR)) into one self-contained text.
// Rule (the C build implements the same one): a line that is exactly
// `--@include <name>` is replaced by the content of lua/bullmq/include/<name>.lua,
// itself resolved recursively; each include is inserted at most once per
// script, so later lines naming an already-inserted include become empty.
const fs = require('node:fs');
const path = require('node:path');

const LUA_DIR = process.env.BULLC_LUA_DIR || path.resolve(__dirname, '..', '..', '..', 'lua', 'bullmq');
const BULL_LUA_DIR = path.resolve(__dirname, '..', '..', '..', 'lua', 'bull');
const INCLUDE_RE = /^--@include (\S+)$/;

function expand(text, seen, chain, dir) {
  const lines = text.split('\n');
  const out = [];
  for (const line of lines) {
    const m = INCLUDE_RE.exec(line);
    if (!m) { out.push(line); continue; }
    const name = m[1];
    if (seen.has(name)) { out.push(''); continue; }
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`bad include name ${JSON.stringify(name)} in ${chain.join(' > ')}`);
    const file = path.join(dir, 'include', `${name}.lua`);
    if (!fs.existsSync(file)) throw new Error(`missing include ${name} (${chain.join(' > ')})`);
    seen.add(name);
    const body = expand(fs.readFileSync(file, 'utf8'), seen, [...chain, name], dir);
    out.push(body.endsWith('\n') ? body.slice(0, -1) : body);
  }
  return out.join('\n');
}

function loadScript(name, dir = LUA_DIR) {
  const file = path.join(dir, `${name}.lua`);
  return expand(fs.readFileSync(file, 'utf8'), new Set(), [name], dir);
}

module.exports = { loadScript, LUA_DIR, BULL_LUA_DIR };
