import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { call, startFakeCdn, startTestServer } from '../helpers/http.js';
import { segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Sends a raw HTTP/1.1 request in two parts, the second once `between` has resolved, and
 * resolves with everything the server wrote until it closed the connection.
 */
function inTwoParts(url: string, first: string, between: () => Promise<unknown>, second: string) {
  const { hostname, port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(first, () => void between().then(() => socket.write(second), reject));
  });
}

/** The JSON body of a raw HTTP answer. */
function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

describe('probes', () => {
  it('GET /livez answers 200 with a tiny JSON body, without auth, however hard it is hit', async () => {
    const server = await startTestServer({}, 200, {
      adminToken: 'admin-token-0123456789',
      http: { apiRateLimit: 2 },
    });
    try {
      for (let i = 0; i < 10; i++) {
        const res = await call(`${server.url}/livez`, 'GET');
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, { status: 'alive' });
        assert.equal(res.headers.get('cache-control'), 'no-store');
      }
      const ready = await Promise.all(
        Array.from({ length: 10 }, () => call(`${server.url}/readyz`, 'GET')),
      );
      assert.deepEqual(
        ready.map((r) => r.status),
        Array(10).fill(200),
        'probes are not rate-limited',
      );
      // The control API on the same server is limited: the probes really are exempt.
      const api = await Promise.all(
        Array.from({ length: 4 }, () => call(`${server.url}/api/v1/distribution/metrics`, 'GET')),
      );
      assert.ok(
        api.some((r) => r.status === 429),
        api.map((r) => r.status).join(),
      );
    } finally {
      await server.close();
    }
  });

  it('GET /readyz answers 200 with no reasons while listening, and 503 naming the reason once the service drains', async () => {
    const server = await startTestServer();
    try {
      const ready = await call(`${server.url}/readyz`, 'GET');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ready', reasons: [] });
      await server.service.shutdown(100);
      const draining = await call(`${server.url}/readyz`, 'GET');
      assert.equal(draining.status, 503);
      assert.deepEqual(draining.body, { status: 'not_ready', reasons: ['shutting down'] });
      const alive = await call(`${server.url}/livez`, 'GET');
      assert.equal(alive.status, 200, 'a draining process is still alive');
    } finally {
      await server.close();
    }
  });

  it('answers probes that arrive while the server shuts down: /readyz 503 with its reasons, /livez 200', async () => {
    const cdn = await startFakeCdn(() => new Promise((r) => setTimeout(() => r(201), 100)));
    const server = await startTestServer({ workers: 1, cdnBaseUrl: cdn.url });
    try {
      // Deliveries through a slow CDN keep the shutdown draining for a while.
      const api = `${server.url}/api/v1`;
      await call(`${api}/streams/start`, 'POST', { recording_id: 'drain' });
      server.service.addSegmentToStream('drain', segmentInput(0, 'Low'));
      await call(`${api}/streams/drain`, 'POST', { viewer_id: 'v' });
      for (let i = 0; i < 5; i++)
        await call(`${api}/segments/deliver`, 'POST', {
          recording_id: 'drain',
          viewer_id: 'v',
          segment_id: 'seg-0',
        });
      // Each probe's connection is open (headers under way) when the shutdown starts, so the
      // closed listener does not turn it away; it completes during the drain.
      const host = `Host: ${new URL(server.url).host}\r\n`;
      const connected = new Promise<void>((resolve) => {
        let count = 0;
        server.app.server.on('connection', () => {
          if (++count === 2) resolve();
        });
      });
      let closing: Promise<boolean> | undefined;
      const closeStarted = connected.then(async () => {
        closing = server.close();
        // Fastify stops the listener after its preClose hooks, the drain guard's among them.
        await waitFor(
          async () => (server.app.server.listening ? undefined : true),
          5000,
          'the close to begin',
          5,
        );
      });
      const [ready, live] = await Promise.all(
        ['/readyz', '/livez'].map((path) =>
          inTwoParts(
            server.url,
            `GET ${path} HTTP/1.1\r\n${host}`,
            () => closeStarted,
            'Connection: close\r\n\r\n',
          ),
        ),
      );
      assert.match(ready ?? '', /^HTTP\/1\.1 503 /, ready);
      assert.deepEqual(bodyOf(ready ?? ''), { status: 'not_ready', reasons: ['shutting down'] });
      assert.match(live ?? '', /^HTTP\/1\.1 200 /, live);
      assert.deepEqual(bodyOf(live ?? ''), { status: 'alive' });
      assert.equal(await closing, true, 'the deliveries drained meanwhile');
    } finally {
      await server.close();
      await cdn.close();
    }
  });
});
