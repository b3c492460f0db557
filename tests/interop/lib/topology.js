'use strict';
// "Production" Redis set-ups for the interop tests, all on 127.0.0.1 with free
// ports and temporary folders: test certificates made with the openssl CLI, a
// TLS redis-server (optionally asking for client certificates), a server with
// ACL users, a master and a replica watched by three sentinels, and a Redis
// Cluster with helpers to fail a master over and to move one slot by hand.
// Every start function returns an object with stop() and cleanup(); each
// server's log file stays in its folder (`dir`) until cleanup().
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const IORedis = require('ioredis');
const { REDIS_SERVER, freePort, waitFor, within, sleep } = require('./harness');

const HOST = '127.0.0.1';
const OPENSSL = process.env.OPENSSL || 'openssl';
const REDIS_CLI = process.env.REDIS_CLI || 'redis-cli';
const TIMED_OUT = Symbol('timed out');

function tempDir(kind) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bullc-${kind}-`));
}

// n distinct free ports (freePort alone may hand out the same port twice).
async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// ---------------------------------------------------------------------------
// Certificates

// One openssl.cnf for every certificate: the extension sections say what each
// one may be used for. Leaves carry both serverAuth and clientAuth because
// Redis presents its server certificate when it connects to other nodes too
// (replication, cluster bus, sentinels). openssl.cnf has no inheritance
// between sections, so the lines every leaf has are repeated in each.
const LEAF_EXT = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer`;
const OPENSSL_CNF = `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
${LEAF_EXT}
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[ name_only_ext ]
${LEAF_EXT}
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:redis.test
[ client_ext ]
${LEAF_EXT}
extendedKeyUsage = clientAuth
subjectAltName = DNS:bullc-test-client
`;

function openssl(args, cwd) {
  const r = spawnSync(OPENSSL, args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const DAYS = '3';

// Writes a CA (self-signed) as <name>.crt / <name>.key.
function makeCa(dir, name, cn) {
  openssl(['req', '-x509', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', DAYS, '-sha256', '-subj', `/CN=${cn}`, '-config', 'openssl.cnf',
    '-extensions', 'ca_ext'], dir);
}

// Writes a leaf key and certificate signed by the CA <ca>.crt / <ca>.key.
function makeLeaf(dir, name, cn, ca, ext) {
  openssl(['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`,
    '-subj', `/CN=${cn}`, '-config', 'openssl.cnf'], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', DAYS, '-sha256',
    '-extfile', 'openssl.cnf', '-extensions', ext, '-out', `${name}.crt`], dir);
  fs.rmSync(path.join(dir, `${name}.csr`));
}

// Test PKI (EC P-256 keys, SHA-256, valid 3 days):
//   ca.crt/.key               the CA the servers and clients trust
//   server.crt/.key           by ca, for IP:127.0.0.1 and DNS:localhost
//   name-only.crt/.key        by ca, for DNS:redis.test only (no IP)
//   client.crt/.key           by ca, a client certificate for mutual TLS
//   other-ca.crt/.key         an unrelated CA
//   other.crt/.key            by other-ca, for IP:127.0.0.1
// Returns absolute paths, `pairs` ({ server, 'name-only', client, other } ->
// { cert, key }), `dir` and cleanup() (removes the folder when makeCerts made
// it, otherwise only the files it wrote).
function makeCerts(dir = undefined) {
  const own = !dir;
  const where = own ? tempDir('certs') : path.resolve(dir);
  fs.mkdirSync(where, { recursive: true });
  fs.writeFileSync(path.join(where, 'openssl.cnf'), OPENSSL_CNF);
  makeCa(where, 'ca', 'bullc test CA');
  makeLeaf(where, 'server', 'localhost', 'ca', 'server_ext');
  makeLeaf(where, 'name-only', 'redis.test', 'ca', 'name_only_ext');
  makeLeaf(where, 'client', 'bullc-test-client', 'ca', 'client_ext');
  makeCa(where, 'other-ca', 'bullc unrelated CA');
  makeLeaf(where, 'other', 'localhost', 'other-ca', 'server_ext');
  const f = (name) => path.join(where, name);
  const pair = (name) => ({ cert: f(`${name}.crt`), key: f(`${name}.key`) });
  const written = ['openssl.cnf', 'ca', 'server', 'name-only', 'client', 'other-ca', 'other']
    .flatMap((n) => (n.endsWith('.cnf') ? [n] : [`${n}.crt`, `${n}.key`]));
  return {
    dir: where,
    ca: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    nameOnlyCert: f('name-only.crt'),
    nameOnlyKey: f('name-only.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.crt'),
    otherCaKey: f('other-ca.key'),
    otherCert: f('other.crt'),
    otherKey: f('other.key'),
    pairs: {
      server: pair('server'), 'name-only': pair('name-only'), client: pair('client'), other: pair('other'),
    },
    cleanup() {
      if (own) fs.rmSync(where, { recursive: true, force: true });
      else for (const n of written) fs.rmSync(path.join(where, n), { force: true });
    },
  };
}

// Node TLS options for a client of these certs: trusts ca.crt; presents
// client.crt when `client` is true (or another pair named by `client`);
// `servername` sets SNI and the name the server certificate must carry.
function tlsClientOptions(certs, { client = false, servername = undefined } = {}) {
  const o = { ca: [fs.readFileSync(certs.ca)] };
  if (client) {
    const p = certs.pairs[client === true ? 'client' : client];
    o.cert = fs.readFileSync(p.cert);
    o.key = fs.readFileSync(p.key);
  }
  if (servername) o.servername = servername;
  return o;
}

// redis-server arguments that make `port` a TLS port (the plain port is off
// unless the caller adds its own --port afterwards).
function tlsServerArgs(certs, port, { serverCert = 'server', authClients = false } = {}) {
  const p = certs.pairs[serverCert];
  if (!p) throw new Error(`unknown server certificate ${serverCert}`);
  return ['--port', '0', '--tls-port', String(port), '--tls-cert-file', p.cert,
    '--tls-key-file', p.key, '--tls-ca-cert-file', certs.ca,
    '--tls-auth-clients', authClients ? 'yes' : 'no'];
}

// ---------------------------------------------------------------------------
// Processes and small clients

// Arguments every server here gets: loopback only, no persistence, log file
// in its folder, no waiting for replicas on SIGTERM, and a full sync that
// starts at once (diskless sync otherwise waits 5 s for more replicas).
function baseArgs(dir) {
  return ['--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    '--maxmemory-policy', 'noeviction', '--logfile', path.join(dir, 'redis.log'),
    '--shutdown-timeout', '0', '--repl-diskless-sync-delay', '0'];
}

function running(proc) {
  return !!proc && proc.exitCode === null && proc.signalCode === null;
}

function spawnServer(args) {
  const proc = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
  proc.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.on('error', () => { /* a failed spawn shows up as "exited before ready" */ });
  proc.unref();
  return proc;
}

// SIGTERM (Redis then shuts down without saving: no save points are set),
// SIGKILL if it has not exited after `ms`.
async function stopProc(proc, ms = 3000) {
  if (!running(proc)) return;
  try { proc.kill('SIGTERM'); } catch (_) { /* already gone */ }
  await within(proc.exited, ms);
  if (running(proc)) {
    try { proc.kill('SIGKILL'); } catch (_) { /* already gone */ }
    await within(proc.exited, 2000);
  }
}

async function killProc(proc) {
  if (!running(proc)) return;
  proc.kill('SIGKILL');
  await within(proc.exited, 5000);
}

function logTail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (_) {
    return '(no log)';
  }
}

// Sends an inline PING on a fresh TCP (or TLS, when tlsOpts is given)
// connection and resolves the first reply line ("+PONG", "-NOAUTH ...",
// "-LOADING ..."), or null when nothing comes within ms.
function probe(port, tlsOpts = null, ms = 1000) {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const sock = tlsOpts
      ? tls.connect({ host: HOST, port, rejectUnauthorized: false, ...tlsOpts })
      : net.connect(port, HOST);
    const finish = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), ms);
    sock.once(tlsOpts ? 'secureConnect' : 'connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d;
      const eol = buf.indexOf('\r\n');
      if (eol >= 0) finish(buf.slice(0, eol));
    });
    sock.on('error', () => finish(null));
    sock.on('close', () => finish(null));
  });
}

// Waits until the server on `port` answers (any reply but -LOADING); fails
// at once, with the end of its log, when the process exits first.
async function waitServing(proc, port, { tlsOpts = null, log, what, timeout = 10000 }) {
  await waitFor(async () => {
    if (!running(proc)) throw new Error(`${what} exited before it was ready:\n${logTail(log)}`);
    const line = await probe(port, tlsOpts);
    return line !== null && !line.startsWith('-LOADING');
  }, { timeout, interval: 30, what });
}

// Runs one command on a fresh ioredis connection (no retries, no ready check)
// and closes it. `opts` are ioredis options (port, tls, username, ...).
// Resolves the raw reply; rejects with the server's error or when the server
// cannot be reached or does not answer within ms.
async function command(opts, args, ms = 5000) {
  const c = new IORedis({
    host: HOST, ...opts,
    lazyConnect: true, enableReadyCheck: false, enableOfflineQueue: true,
    retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: ms,
  });
  c.on('error', () => { /* reported through the rejected command */ });
  try {
    const r = await within((async () => {
      await c.connect();
      return c.call(...args.map(String));
    })(), ms, TIMED_OUT);
    if (r === TIMED_OUT) throw new Error(`no reply to ${args.join(' ')} on port ${opts.port} within ${ms} ms`);
    return r;
  } finally {
    c.disconnect();
  }
}

// INFO text -> { field: value }.
function parseInfo(text) {
  const o = {};
  for (const line of String(text).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && line[0] !== '#') o[line.slice(0, i)] = line.slice(i + 1);
  }
  return o;
}

// [k1, v1, k2, v2, ...] (how SENTINEL replies describe an instance) -> object.
function pairsToObject(list) {
  const o = {};
  for (let i = 0; i + 1 < list.length; i += 2) o[list[i]] = list[i + 1];
  return o;
}

// Waits until every replica has processed the master's replication stream up
// to where it stood when this was called. Compares INFO replication offsets,
// so it writes nothing.
async function waitReplicaOffsets(masterOpts, replicaOpts, timeout = 10000) {
  const m = parseInfo(await command(masterOpts, ['INFO', 'replication']));
  const target = Number(m.master_repl_offset);
  await waitFor(async () => {
    for (const o of replicaOpts) {
      const r = parseInfo(await command(o, ['INFO', 'replication']));
      if (r.master_link_status !== 'up' || Number(r.slave_repl_offset) < target) return false;
    }
    return true;
  }, { timeout, interval: 20, what: `replicas at offset ${target}` });
  return target;
}

// ---------------------------------------------------------------------------
// TLS

// A redis-server listening with TLS on `port` (and on `plainPort` without TLS
// when plainPort is true). serverCert names the pair it presents ('server',
// 'name-only' or 'other'); authClients makes it require a client certificate
// signed by ca.crt. `connection` (ioredis/bullmq options) trusts ca.crt,
// presents client.crt when clientCert (default: authClients) and sets
// servername (default: 'redis.test' for the name-only certificate).
async function startRedisTls({
  certs, serverCert = 'server', authClients = false, plainPort = false, extraArgs = [],
  clientCert = authClients, servername = serverCert === 'name-only' ? 'redis.test' : undefined,
} = {}) {
  if (!certs) throw new Error('startRedisTls needs certs (makeCerts())');
  const dir = tempDir('redis-tls');
  const [port, plain] = await freePorts(plainPort ? 2 : 1);
  const tlsOpts = tlsClientOptions(certs, { client: clientCert, servername });
  // cli() always presents the client certificate, so it works in every mode.
  const adminOpts = { host: HOST, port, tls: tlsClientOptions(certs, { client: true, servername }) };
  const r = {
    port, dir,
    host: HOST,
    url: `rediss://${HOST}:${port}`,
    plainPort: plainPort ? plain : null,
    plainUrl: plainPort ? `redis://${HOST}:${plain}` : null,
    connection: { host: HOST, port, tls: tlsOpts, maxRetriesPerRequest: null },
    proc: null,
  };
  r.proc = spawnServer([...tlsServerArgs(certs, port, { serverCert, authClients }), ...baseArgs(dir),
    ...(plainPort ? ['--port', String(plain)] : []), ...extraArgs]);
  r.cli = (...args) => command(adminOpts, args);
  r.stop = () => stopProc(r.proc);
  r.cleanup = async () => {
    await r.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitServing(r.proc, port, {
      tlsOpts: tlsClientOptions(certs, { client: true }), log: path.join(dir, 'redis.log'),
      what: `TLS redis on ${port}`,
    });
  } catch (e) {
    await r.cleanup();
    throw e;
  }
  return r;
}

// ---------------------------------------------------------------------------
// ACL

// The users of startRedisAcl, as ACL rules per user name.
const DEFAULT_ACL_USERS = {
  default: 'off',
  admin: 'on >adminpw ~* &* +@all',
  worker: 'on >s3cret ~bull:* resetchannels +@all -@dangerous +info',
};

// A redis-server whose users come from an ACL file written at start:
// DEFAULT_ACL_USERS merged with `users` ({ name: 'rules' }; a name mapped to
// null is left out). `url` and `connection` log in as `user`/`password`
// (worker / s3cret), `adminConnection` as admin / adminpw (cli() uses it).
async function startRedisAcl({
  users = {}, user = 'worker', password = 's3cret', extraArgs = [],
} = {}) {
  const dir = tempDir('redis-acl');
  const port = await freePort();
  const all = { ...DEFAULT_ACL_USERS, ...users };
  const aclFile = path.join(dir, 'users.acl');
  fs.writeFileSync(aclFile, Object.entries(all).filter(([, rules]) => rules !== null)
    .map(([name, rules]) => `user ${name} ${rules}\n`).join(''));
  const r = {
    port, dir, aclFile,
    host: HOST,
    url: `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${HOST}:${port}`,
    connection: { host: HOST, port, username: user, password, maxRetriesPerRequest: null },
    adminConnection: { host: HOST, port, username: 'admin', password: 'adminpw', maxRetriesPerRequest: null },
    proc: null,
  };
  r.proc = spawnServer(['--port', String(port), ...baseArgs(dir), '--aclfile', aclFile, ...extraArgs]);
  r.cli = (...args) => command(r.adminConnection, args);
  r.stop = () => stopProc(r.proc);
  r.cleanup = async () => {
    await r.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitServing(r.proc, port, { log: path.join(dir, 'redis.log'), what: `ACL redis on ${port}` });
  } catch (e) {
    await r.cleanup();
    throw e;
  }
  return r;
}

// ---------------------------------------------------------------------------
// Sentinel

// A master, a replica of it and three sentinels monitoring them (quorum 2).
// Returns once the replica is in sync and every sentinel knows the master,
// the replica and the two other sentinels. With `tls: certs` every node and
// sentinel speaks only TLS (replication and the sentinels' own links too) and
// `url` is rediss-sentinel://.
async function startSentinel({
  masterName = 'mymaster', downAfterMs = 1000, failoverTimeoutMs = 5000, quorum = 2,
  tls: certs = null, extraArgs = [],
} = {}) {
  const dir = tempDir('sentinel');
  const [mPort, rPort, ...sPorts] = await freePorts(5);
  const nodeTls = certs ? tlsClientOptions(certs, { client: true }) : null;
  const nodeOpts = (port) => (certs ? { host: HOST, port, tls: nodeTls } : { host: HOST, port });
  const portArgs = (port) => (certs
    ? [...tlsServerArgs(certs, port), '--tls-replication', 'yes']
    : ['--port', String(port)]);

  const s = {
    dir, masterName,
    url: `${certs ? 'rediss' : 'redis'}-sentinel://${sPorts.map((p) => `${HOST}:${p}`).join(',')}#${masterName}`,
    sentinels: sPorts.map((port) => ({ port, host: HOST, proc: null, dir: path.join(dir, `sentinel-${port}`) })),
    master: { port: mPort, host: HOST, proc: null, dir: path.join(dir, `node-${mPort}`) },
    replica: { port: rPort, host: HOST, proc: null, dir: path.join(dir, `node-${rPort}`) },
  };
  s.nodes = [s.master, s.replica];
  s.connection = {
    sentinels: sPorts.map((port) => ({ host: HOST, port })),
    name: masterName,
    maxRetriesPerRequest: null,
  };
  if (certs) {
    Object.assign(s.connection, {
      tls: tlsClientOptions(certs), sentinelTLS: tlsClientOptions(certs), enableTLSForSentinelMode: true,
    });
  }

  const startNode = (node, extra) => {
    fs.mkdirSync(node.dir);
    node.proc = spawnServer([...portArgs(node.port), ...baseArgs(node.dir),
      '--replica-announce-ip', HOST, ...extra, ...extraArgs]);
    return waitServing(node.proc, node.port, {
      tlsOpts: nodeTls, log: path.join(node.dir, 'redis.log'), what: `node ${node.port}`,
    });
  };
  // Sentinels rewrite their config file (ids, discovered peers): one
  // writable file each.
  const startSentinelProc = (sen) => {
    fs.mkdirSync(sen.dir);
    const conf = path.join(sen.dir, 'sentinel.conf');
    const lines = [
      ...(certs
        ? ['port 0', `tls-port ${sen.port}`, `tls-cert-file ${certs.serverCert}`,
          `tls-key-file ${certs.serverKey}`, `tls-ca-cert-file ${certs.ca}`,
          'tls-auth-clients no', 'tls-replication yes']
        : [`port ${sen.port}`]),
      `bind ${HOST}`,
      'daemonize no',
      `dir ${sen.dir}`,
      `logfile ${path.join(sen.dir, 'sentinel.log')}`,
      'sentinel resolve-hostnames no',
      `sentinel announce-ip ${HOST}`,
      `sentinel monitor ${masterName} ${HOST} ${mPort} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
    ];
    fs.writeFileSync(conf, `${lines.join('\n')}\n`);
    sen.proc = spawnServer([conf, '--sentinel']);
    return waitServing(sen.proc, sen.port, {
      tlsOpts: nodeTls, log: path.join(sen.dir, 'sentinel.log'), what: `sentinel ${sen.port}`,
    });
  };

  s.sentinelCommand = async (...args) => {
    let last;
    for (const sen of s.sentinels) {
      if (!running(sen.proc)) continue;
      try {
        return await command(nodeOpts(sen.port), ['SENTINEL', ...args], 2000);
      } catch (e) { last = e; }
    }
    throw last || new Error('no sentinel is running');
  };
  // A sentinel that reconfigures a node ends its normal clients (CLIENT KILL
  // TYPE normal), which can hit this one-shot connection mid-command: what the
  // tests send to the nodes (INFO, ZCARD, REPLICAOF ...) is safe to send again.
  s.nodeCommand = async (port, ...args) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await command(nodeOpts(port), args);
      } catch (e) {
        if (attempt >= 3 || !/Connection is closed/.test(String(e && e.message))) throw e;
      }
    }
  };
  // The master's port as a sentinel reports it.
  s.currentMaster = async () => Number((await s.sentinelCommand('get-master-addr-by-name', masterName))[1]);
  s.nodeAt = (port) => s.nodes.find((n) => n.port === port);
  s.killMaster = async () => {
    const port = await s.currentMaster();
    const node = s.nodeAt(port);
    if (!node) throw new Error(`sentinels name an unknown master ${port}`);
    await killProc(node.proc);
    return port;
  };
  // Waits until the replicas of the current master caught up with it.
  s.waitReplicated = async (timeout = 10000) => {
    const mport = await s.currentMaster();
    const replicas = s.nodes.filter((n) => n.port !== mport && running(n.proc));
    return waitReplicaOffsets(nodeOpts(mport), replicas.map((n) => nodeOpts(n.port)), timeout);
  };
  // Waits until every running sentinel names a master other than oldPort and
  // that node says role:master; resolves its port.
  s.waitFailover = async (oldPort, timeoutMs = 30000) => waitFor(async () => {
    const seen = new Set();
    for (const sen of s.sentinels) {
      if (!running(sen.proc)) continue;
      try {
        const addr = await command(nodeOpts(sen.port), ['SENTINEL', 'get-master-addr-by-name', masterName], 2000);
        seen.add(Number(addr[1]));
      } catch (_) { return false; }
    }
    if (seen.size !== 1) return false;
    const [port] = seen;
    if (port === oldPort) return false;
    try {
      const info = parseInfo(await command(nodeOpts(port), ['INFO', 'replication'], 2000));
      return info.role === 'master' ? port : false;
    } catch (_) { return false; }
  }, { timeout: timeoutMs, interval: 100, what: `a failover away from ${oldPort}` });

  // Sentinels first, so that stopping the nodes starts no failover.
  s.stop = async () => {
    await Promise.all(s.sentinels.map((x) => stopProc(x.proc)));
    await Promise.all(s.nodes.map((x) => stopProc(x.proc)));
  };
  s.cleanup = async () => {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all([startNode(s.master, []), startNode(s.replica, ['--replicaof', HOST, String(mPort)])]);
    // The replica is in sync before the sentinels start, so their first INFO
    // of the master already lists it.
    await waitFor(async () => parseInfo(await s.nodeCommand(rPort, 'INFO', 'replication'))
      .master_link_status === 'up', { timeout: 10000, interval: 30, what: 'replica in sync' });
    await Promise.all(s.sentinels.map(startSentinelProc));
    await waitFor(async () => {
      for (const sen of s.sentinels) {
        const o = nodeOpts(sen.port);
        const m = pairsToObject(await command(o, ['SENTINEL', 'master', masterName]));
        if (Number(m.port) !== mPort || !/\bmaster\b/.test(m.flags) || /down/.test(m.flags)) return false;
        const replicas = await command(o, ['SENTINEL', 'replicas', masterName]);
        const peers = await command(o, ['SENTINEL', 'sentinels', masterName]);
        if (replicas.length !== 1 || peers.length !== s.sentinels.length - 1) return false;
        if (/down|disconnected/.test(pairsToObject(replicas[0]).flags)) return false;
      }
      return true;
    }, { timeout: 15000, interval: 100, what: 'sentinels to know the master, the replica and each other' });
  } catch (e) {
    await s.cleanup();
    throw e;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Cluster

// CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection): the
// checksum Redis Cluster hashes keys with.
function crc16(buf) {
  let crc = 0;
  for (const byte of buf) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) {
      crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
      crc &= 0xffff;
    }
  }
  return crc;
}

// The cluster slot of a key: only the part between the first '{' and the
// first '}' after it is hashed, when that part is not empty.
function slotOf(key) {
  let buf = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const open = buf.indexOf(0x7b);
  if (open >= 0) {
    const close = buf.indexOf(0x7d, open + 1);
    if (close > open + 1) buf = buf.subarray(open + 1, close);
  }
  return crc16(buf) % 16384;
}

// A Redis Cluster of masters * (1 + replicasPer) nodes made with
// `redis-cli --cluster create`. Each node has an explicit cluster bus port
// (cluster-port), since port + 10000 may be taken or above 65535. Returns
// once every node says cluster_state:ok with all slots assigned and every
// replica is in sync. With `tls: certs` the nodes speak only TLS (clients,
// cluster bus and replication).
async function startCluster({
  masters = 3, replicasPer = 1, nodeTimeoutMs = 2000, tls: certs = null, extraArgs = [],
} = {}) {
  const count = masters * (1 + replicasPer);
  const dir = tempDir('cluster');
  const ports = await freePorts(2 * count);
  const nodeTls = certs ? tlsClientOptions(certs, { client: true }) : null;
  const nodeOpts = (port) => (certs ? { host: HOST, port, tls: nodeTls } : { host: HOST, port });
  const c = {
    dir,
    nodes: ports.slice(0, count).map((port, i) => ({
      port, host: HOST, busPort: ports[count + i], id: null, proc: null, dir: path.join(dir, `node-${port}`),
    })),
  };
  c.url = `${certs ? 'rediss' : 'redis'}://${HOST}:${c.nodes[0].port}`;
  c.startupNodes = c.nodes.map((n) => ({ host: HOST, port: n.port }));
  // Options for IORedis.Cluster; connection() builds one (bullmq takes the
  // instance as `connection`; the caller quits it after closing bullmq).
  c.clusterOptions = {
    redisOptions: { maxRetriesPerRequest: null, ...(certs ? { tls: tlsClientOptions(certs) } : {}) },
  };
  c.connection = (extra = {}) => new IORedis.Cluster(c.startupNodes, {
    ...c.clusterOptions, ...extra,
    redisOptions: { ...c.clusterOptions.redisOptions, ...(extra.redisOptions || {}) },
  });
  c.slotOf = slotOf;
  c.nodeAt = (port) => c.nodes.find((n) => n.port === port);
  c.nodeById = (id) => c.nodes.find((n) => n.id === id);
  c.liveNodes = () => c.nodes.filter((n) => running(n.proc));
  c.nodeCommand = (port, ...args) => command(nodeOpts(port), args);

  // The slot table as one node sees it: [{ start, end, master: {port, id},
  // replicas: [{port, id}] }].
  const slotsSeenBy = async (port) => (await command(nodeOpts(port), ['CLUSTER', 'SLOTS'])).map((e) => ({
    start: e[0],
    end: e[1],
    master: { port: Number(e[2][1]), id: e[2][2] },
    replicas: e.slice(3).map((r) => ({ port: Number(r[1]), id: r[2] })),
  }));
  const rangeOf = async (slot, port = undefined) => {
    const ask = port !== undefined ? [port] : c.liveNodes().map((n) => n.port);
    let last;
    for (const p of ask) {
      try {
        return (await slotsSeenBy(p)).find((r) => slot >= r.start && slot <= r.end) || null;
      } catch (e) { last = e; }
    }
    throw last || new Error('no node is running');
  };
  c.masterOfSlot = async (slot) => {
    const r = await rangeOf(slot);
    if (!r) throw new Error(`slot ${slot} has no owner`);
    return r.master;
  };
  c.replicaOfSlot = async (slot) => {
    const r = await rangeOf(slot);
    return r && r.replicas.length ? r.replicas[0] : null;
  };
  c.killNode = async (port) => {
    const n = c.nodeAt(port);
    if (!n) throw new Error(`no node on ${port}`);
    await killProc(n.proc);
  };

  // Every running node: cluster_state:ok, all slots, and the same owner for
  // `slot` (when given), which must not be on notPort. Resolves that owner.
  const agreed = async (slot = null, notPort = null) => {
    let owner = null;
    for (const n of c.liveNodes()) {
      try {
        const info = parseInfo(await command(nodeOpts(n.port), ['CLUSTER', 'INFO'], 2000));
        if (info.cluster_state !== 'ok' || info.cluster_slots_assigned !== '16384') return false;
        if (slot === null) continue;
        const r = await rangeOf(slot, n.port);
        if (!r || r.master.port === notPort) return false;
        if (owner && owner.id !== r.master.id) return false;
        owner = r.master;
      } catch (_) { return false; }
    }
    return slot === null ? true : owner;
  };
  // Waits until the running nodes agree that `slot` moved off oldPort, and
  // its new owner says role:master; resolves { port, id }.
  c.waitFailover = (slot, oldPort, timeoutMs = 30000) => waitFor(async () => {
    const owner = await agreed(slot, oldPort);
    if (!owner) return false;
    try {
      const info = parseInfo(await command(nodeOpts(owner.port), ['INFO', 'replication'], 2000));
      return info.role === 'master' ? owner : false;
    } catch (_) { return false; }
  }, { timeout: timeoutMs, interval: 100, what: `slot ${slot} failed over from ${oldPort}` });

  // Waits until every running replica caught up with its running master.
  c.waitReplicated = async (timeout = 10000) => {
    const byMaster = new Map();
    for (const n of c.liveNodes()) {
      const info = parseInfo(await command(nodeOpts(n.port), ['INFO', 'replication']));
      if (info.role !== 'slave') continue;
      const mport = Number(info.master_port);
      if (!running((c.nodeAt(mport) || {}).proc)) continue;
      if (!byMaster.has(mport)) byMaster.set(mport, []);
      byMaster.get(mport).push(nodeOpts(n.port));
    }
    await Promise.all([...byMaster].map(([mport, reps]) => waitReplicaOffsets(nodeOpts(mport), reps, timeout)));
  };

  // Moves one slot, with its keys, from its owner to the master toNodeId,
  // the way redis-cli does it but for that slot only: IMPORTING on the
  // target, MIGRATING on the source, the keys in batches of `batch` with
  // MIGRATE (pauseMs between batches, so that a test can run load meanwhile),
  // then SETSLOT NODE on the target, the source and the other masters.
  // Resolves { slot, from, to, keys } once every running node sees the move.
  c.reshardSlot = async (slot, toNodeId, { batch = 100, pauseMs = 0, timeoutMs = 10000 } = {}) => {
    const from = await c.masterOfSlot(slot);
    const to = c.nodeById(toNodeId);
    if (!to) throw new Error(`no node with id ${toNodeId}`);
    if (from.id === toNodeId) return { slot, from, to: { port: to.port, id: to.id }, keys: 0 };
    const src = (...args) => command(nodeOpts(from.port), args);
    const dst = (...args) => command(nodeOpts(to.port), args);
    await dst('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
    await src('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toNodeId);
    let moved = 0;
    for (;;) {
      const keys = await src('CLUSTER', 'GETKEYSINSLOT', slot, batch);
      if (keys.length === 0) break;
      await src('MIGRATE', HOST, to.port, '', 0, 10000, 'REPLACE', 'KEYS', ...keys);
      moved += keys.length;
      if (pauseMs) await sleep(pauseMs);
    }
    await dst('CLUSTER', 'SETSLOT', slot, 'NODE', toNodeId);
    await src('CLUSTER', 'SETSLOT', slot, 'NODE', toNodeId);
    for (const n of c.liveNodes()) {
      if (n.port === from.port || n.port === to.port) continue;
      const info = parseInfo(await c.nodeCommand(n.port, 'INFO', 'replication'));
      if (info.role === 'master') await c.nodeCommand(n.port, 'CLUSTER', 'SETSLOT', slot, 'NODE', toNodeId);
    }
    await waitFor(async () => {
      const owner = await agreed(slot);
      return owner && owner.id === toNodeId;
    }, { timeout: timeoutMs, interval: 50, what: `every node to see slot ${slot} on ${to.port}` });
    return { slot, from, to: { port: to.port, id: to.id }, keys: moved };
  };

  c.stop = () => Promise.all(c.nodes.map((n) => stopProc(n.proc)));
  c.cleanup = async () => {
    await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(c.nodes.map((n) => {
      fs.mkdirSync(n.dir);
      n.proc = spawnServer([
        ...(certs ? [...tlsServerArgs(certs, n.port), '--tls-cluster', 'yes', '--tls-replication', 'yes']
          : ['--port', String(n.port)]),
        ...baseArgs(n.dir),
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${n.port}.conf`,
        '--cluster-node-timeout', String(nodeTimeoutMs), '--cluster-announce-ip', HOST,
        '--cluster-port', String(n.busPort),
        // Replicas may always take over, however long they were cut off.
        '--cluster-replica-validity-factor', '0',
        // CLUSTER SLOTS leaves out replicas whose replication offset is still
        // 0, which on an idle master lasts until its first replication PING
        // (every 10 s by default).
        '--repl-ping-replica-period', '1',
        ...extraArgs,
      ]);
      return waitServing(n.proc, n.port, { tlsOpts: nodeTls, log: path.join(n.dir, 'redis.log'), what: `node ${n.port}` });
    }));
    for (const n of c.nodes) n.id = await c.nodeCommand(n.port, 'CLUSTER', 'MYID');
    const tlsCli = certs ? ['--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey] : [];
    const create = spawnSync(REDIS_CLI, [...tlsCli, '--cluster', 'create',
      ...c.nodes.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', String(replicasPer), '--cluster-yes'],
    { encoding: 'utf8', timeout: 30000 });
    if (create.status !== 0) {
      throw new Error(`redis-cli --cluster create failed (${create.status}):\n${create.stdout}\n${create.stderr}`);
    }
    await waitFor(async () => {
      if (!await agreed()) return false;
      for (const n of c.nodes) {
        const info = parseInfo(await c.nodeCommand(n.port, 'CLUSTER', 'INFO'));
        if (Number(info.cluster_known_nodes) !== count) return false;
        const rep = parseInfo(await c.nodeCommand(n.port, 'INFO', 'replication'));
        if (rep.role === 'slave' && rep.master_link_status !== 'up') return false;
        // ... and every node has heard which nodes replicate which master.
        if ((await slotsSeenBy(n.port)).some((r) => r.replicas.length !== replicasPer)) return false;
      }
      return true;
    }, { timeout: 20000, interval: 50, what: 'cluster_state:ok on every node, replicas in sync' });
  } catch (e) {
    await c.cleanup();
    throw e;
  }
  return c;
}

module.exports = {
  HOST, DEFAULT_ACL_USERS,
  makeCerts, tlsClientOptions, startRedisTls, startRedisAcl, startSentinel, startCluster,
  slotOf, crc16, parseInfo, command, probe,
};
