'use strict';
// A TCP relay on a free 127.0.0.1 port that forwards bytes both ways to a
// target (a Redis, usually). blackhole() makes it a silent network failure:
// the connections stay open, nothing is closed or reset, but no byte passes
// in either direction anymore, so a client only notices through its own
// timeouts. resume() lets bytes pass again.
const net = require('node:net');
const { freePort } = require('./harness');

// startRelay(targetPort, targetHost) resolves:
//   port, host, url        where clients connect (url is redis://)
//   blackhole({ newToo = false, drop = false })
//                          stop forwarding on every open connection. By
//                          default reading is paused, so what was sent stays
//                          queued and arrives after resume(); drop: true
//                          reads and throws the bytes away instead (the
//                          streams are then broken for good). Connections
//                          accepted later forward normally unless newToo.
//   resume()               forward again on every connection, new ones too
//   holed()                whether blackhole() is in force
//   connections()          how many client connections are open
//   accepted()             how many client connections were accepted in all
//   close()                destroys every connection and the listener
async function startRelay(targetPort, targetHost = '127.0.0.1') {
  const port = await freePort();
  const pairs = new Set();
  let accepted = 0;
  let hole = null; // the blackhole mode now in force: null, 'pause' or 'drop'
  let holeNew = false; // whether new connections are born blackholed

  // One direction of a pair: forwards src's bytes to dst unless the pair is
  // blackholed; pauses src while dst's buffer is full.
  const pipe = (pair, src, dst) => {
    src.on('data', (chunk) => {
      if (pair.hole === 'drop') return;
      // A paused socket emits no more data; should a chunk still come, it
      // is kept for resume() rather than lost.
      if (pair.hole === 'pause') {
        pair.held.push([dst, chunk]);
        return;
      }
      if (!dst.write(chunk)) {
        src.pause();
        dst.once('drain', () => { if (!pair.hole) src.resume(); });
      }
    });
    src.on('end', () => dst.end());
  };
  const apply = (pair, mode) => {
    pair.hole = mode;
    if (mode === 'pause') {
      pair.client.pause();
      pair.upstream.pause();
    } else {
      if (mode === null) for (const [dst, chunk] of pair.held.splice(0)) dst.write(chunk);
      pair.client.resume();
      pair.upstream.resume();
    }
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, upstream, hole: null, held: [] };
    accepted++;
    pairs.add(pair);
    const gone = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on('error', gone);
      s.on('close', gone);
    }
    pipe(pair, client, upstream);
    pipe(pair, upstream, client);
    if (holeNew && hole) apply(pair, hole);
  });
  server.unref();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  return {
    port,
    host: '127.0.0.1',
    url: `redis://127.0.0.1:${port}`,
    blackhole({ newToo = false, drop = false } = {}) {
      hole = drop ? 'drop' : 'pause';
      holeNew = newToo;
      for (const p of pairs) apply(p, hole);
    },
    resume() {
      hole = null;
      holeNew = false;
      for (const p of pairs) apply(p, null);
    },
    holed: () => hole !== null,
    connections: () => pairs.size,
    accepted: () => accepted,
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startRelay };
