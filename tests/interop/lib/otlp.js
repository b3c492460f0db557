'use strict';
// A tiny OpenTelemetry collector for the tests: an OTLP/HTTP JSON receiver (node:http) that
// records every span posted to it, closed when the test ends.
const http = require('node:http');
const { defer } = require('./interop');

// Records every span posted to /v1/traces as {service, scope, ...span}; `silent` accepts and
// never answers.
async function useReceiver(t, { silent = false } = {}) {
  const spans = [];
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ url: req.url, type: req.headers['content-type'], auth: req.headers.authorization });
      if (silent) return;
      try {
        const doc = JSON.parse(body);
        for (const rs of doc.resourceSpans || []) {
          const svc = attrsOf(rs.resource.attributes)['service.name'];
          for (const ss of rs.scopeSpans || []) {
            for (const s of ss.spans || []) spans.push({ service: svc, scope: ss.scope && ss.scope.name, ...s });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } catch (e) {
        if (process.env.OTEL_DEBUG) console.error('bad body', String(e), body.slice(0, 1500));
        res.writeHead(400);
        res.end(String(e));
      }
    });
  });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  defer(t, () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); });
  return { spans, requests, url: `http://127.0.0.1:${server.address().port}` };
}

// OTLP attributes as {key: value} (intValue may come as a number or a string).
function attrsOf(list) {
  const o = {};
  for (const a of list || []) {
    const v = a.value;
    if ('stringValue' in v) o[a.key] = v.stringValue;
    else if ('intValue' in v) o[a.key] = Number(v.intValue);
    else if ('boolValue' in v) o[a.key] = v.boolValue;
    else if ('doubleValue' in v) o[a.key] = v.doubleValue;
    else o[a.key] = JSON.stringify(v);
  }
  return o;
}

module.exports = { useReceiver, attrsOf };
