'use strict';
// A private PostgreSQL cluster for the inventory tests (and `make bench`): initdb in a temporary
// folder, the server on a free loopback port with its unix socket in that folder, run as the
// `postgres` user when we are root (PostgreSQL refuses to run as root). psql does the queries
// (-At: unaligned, tuples only), so the tests need no npm package for PostgreSQL.
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const H = require('./harness');

const SQL_DIR = path.join(H.ROOT, 'sql');

// PostgreSQL's server binaries: $PG_BIN, else pg_config --bindir, else the newest
// /usr/lib/postgresql/*/bin, else PATH.
function pgBin() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const ok = (d) => d && fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl'));
  try {
    const d = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (ok(d)) return d;
  } catch (_) { /* no pg_config */ }
  try {
    const vs = fs.readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a);
    for (const v of vs) if (ok(`/usr/lib/postgresql/${v}/bin`)) return `/usr/lib/postgresql/${v}/bin`;
  } catch (_) { /* not Debian */ }
  return '';
}

function run(file, args, { asUser, timeout = 60000 } = {}) {
  const [cmd, argv] = asUser ? ['runuser', ['-u', asUser, '--', file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n${stderr}`;
        reject(err);
      } else resolve(stdout);
    });
  });
}

// durable: keep fsync and synchronous commits on (for benchmarks); tests turn them off.
async function startPostgres({ durable = false } = {}) {
  const bin = pgBin();
  const tool = (n) => (bin ? path.join(bin, n) : n);
  const asUser = process.getuid && process.getuid() === 0 ? 'postgres' : undefined;
  // as root the cluster runs as `postgres`, which can always reach /tmp (not a TMPDIR under /root)
  const base = fs.mkdtempSync(path.join(asUser ? '/tmp' : os.tmpdir(), 'bullc-pg-'));
  if (asUser) {
    const uid = Number(execFileSync('id', ['-u', asUser], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', asUser], { encoding: 'utf8' }));
    fs.chownSync(base, uid, gid);
  }
  const data = path.join(base, 'data');
  await run(tool('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8',
    '--locale=C', '--no-sync'], { asUser });
  const port = await H.freePort();
  const pg = {
    port, dir: base,
    url: (db = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${db}`,
    running: false,
  };
  // Durability off unless asked: these are throw-away clusters.
  const opts = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c max_connections=200` +
    (durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off');
  pg.start = async () => {
    await run(tool('pg_ctl'), ['-D', data, '-l', path.join(base, 'log'), '-w', '-t', '60', '-o', opts, 'start'],
      { asUser });
    pg.running = true;
  };
  pg.stop = async (mode = 'fast') => {
    if (!pg.running) return;
    pg.running = false;
    await run(tool('pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'], { asUser });
  };
  // psql -At: the rows as text lines, columns separated by '|'.
  pg.query = async (sql, db = 'postgres') => (await run('psql',
    ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', pg.url(db), '-c', sql])).replace(/\n$/, '');
  pg.rows = async (sql, db) => {
    const out = await pg.query(sql, db);
    return out === '' ? [] : out.split('\n').map((l) => l.split('|'));
  };
  pg.applySchema = (db = 'postgres') => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pg.url(db),
    '-f', path.join(SQL_DIR, 'schema.sql'), '-f', path.join(SQL_DIR, 'seed.sql')]);
  // A new database with the schema and seed applied; returns its URL.
  let n = 0;
  pg.createDb = async () => {
    const db = `inv_${process.pid}_${++n}`;
    await pg.query(`CREATE DATABASE ${db}`);
    await pg.applySchema(db);
    return { name: db, url: pg.url(db) };
  };
  pg.cleanup = async () => {
    try { await pg.stop('immediate'); } catch (_) { /* already down */ }
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    await pg.start();
  } catch (e) {
    await pg.cleanup();
    throw e;
  }
  return pg;
}

module.exports = { startPostgres, pgBin, SQL_DIR };
