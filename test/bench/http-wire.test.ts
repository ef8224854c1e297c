import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createNet } from 'node:net';
import { test } from 'node:test';
import { ResponseParser } from '../../bench/viewers/http-wire.js';
import {
  ConnectionPool,
  KeepAliveConnection,
  RequestWatchdog,
} from '../../bench/viewers/keep-alive-connection.js';

function collect() {
  const out: { heads: any[]; bodies: Buffer[]; ends: number } = { heads: [], bodies: [], ends: 0 };
  let cur: Buffer[] = [];
  const p = new ResponseParser({
    onHead: (h) => out.heads.push(h),
    onBody: (b, s, e) => cur.push(Buffer.from(b.subarray(s, e))),
    onEnd: () => {
      out.bodies.push(Buffer.concat(cur));
      cur = [];
      out.ends++;
    },
  });
  return { p, out };
}

test('parses content-length and chunked responses fed a byte at a time', () => {
  const wire = Buffer.from(
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  );
  const { p, out } = collect();
  for (let i = 0; i < wire.length; i++) p.feed(wire, i, i + 1);
  assert.equal(out.ends, 1);
  assert.equal(out.bodies[0]?.toString(), 'hello');
  assert.equal(out.heads[0].status, 200);
  const ch = Buffer.from(
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
  );
  const c = collect();
  for (let i = 0; i < ch.length; i++) c.p.feed(ch, i, i + 1);
  assert.equal(c.out.ends, 1);
  assert.equal(c.out.bodies[0]?.toString(), 'hello world');
  const c2 = collect();
  c2.p.feed(ch, 0, ch.length);
  assert.equal(c2.out.bodies[0]?.toString(), 'hello world');
  const nb = Buffer.from('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n');
  const c3 = collect();
  c3.p.feed(nb, 0, nb.length);
  assert.equal(c3.out.ends, 1);
});

test('keep-alive connection against node http: chunked, length, close-delimited, pool', async () => {
  const big = Buffer.alloc(3_000_000, 7);
  const server = createServer((req, res) => {
    if (req.url === '/chunked') {
      res.write('abc');
      res.write(big);
      res.end('xyz');
      return;
    }
    if (req.url === '/404') {
      res.statusCode = 404;
      res.end('nope');
      return;
    }
    res.setHeader('content-length', big.length);
    res.end(big);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as any).port;
  const wd = new RequestWatchdog(5000);
  const counters = { connects: 0 };
  const c = new KeepAliveConnection(port, wd, counters);
  for (let i = 0; i < 3; i++) {
    const a = await c.request('/len', false);
    assert.equal(a.status, 200);
    assert.equal(a.bytes, big.length);
    const b = await c.request('/chunked', true);
    assert.equal(b.bytes, big.length + 6);
    assert.equal(b.body!.subarray(0, 3).toString(), 'abc');
    const d = await c.request('/404', true);
    assert.equal(d.status, 404);
    assert.equal(d.body!.toString(), 'nope');
  }
  assert.equal(counters.connects, 1);
  const pool = new ConnectionPool(port, 3, wd, counters);
  const rs = await Promise.all(Array.from({ length: 20 }, () => pool.request('/len', false)));
  assert.ok(rs.every((r) => r.bytes === big.length));
  assert.equal(counters.connects, 4);
  c.close();
  pool.close();
  wd.stop();
  server.close();
  server.closeAllConnections();
});

test('close-delimited body and timeouts', async () => {
  const srv = createNet((s) => {
    s.once('data', (d) => {
      if (d.toString().includes('/slow')) return; // never answers
      s.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close');
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as any).port;
  const wd = new RequestWatchdog(400);
  const counters = { connects: 0 };
  const c = new KeepAliveConnection(port, wd, counters);
  const r = await c.request('/x', true);
  assert.equal(r.body!.toString(), 'until-close');
  const r2 = await c.request('/y', true);
  assert.equal(r2.body!.toString(), 'until-close');
  assert.equal(counters.connects, 2);
  await assert.rejects(c.request('/slow', false), (e: any) => e.kind === 'timeout');
  wd.stop();
  srv.close();
});
