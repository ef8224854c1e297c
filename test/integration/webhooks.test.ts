import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { WebhookOptions } from '../../src/service/webhooks.js';
import { startCli, stopCli } from '../helpers/cli.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'lms-shared-webhook-secret-2026';
const FAST = { minDelayMs: 20, maxDelayMs: 200, factor: 2, retries: 20 } as const;

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly json: any;
  readonly at: number;
}

type Answer = number | { status: number; headers?: Record<string, string> };

/** A learning platform's webhook endpoint on 127.0.0.1: records every POST, answers `respond`. */
async function startReceiver(
  respond: (request: Received, index: number) => Answer | Promise<Answer> = () => 204,
  port = 0,
) {
  const received: Received[] = [];
  const server: Server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const request = { headers: req.headers, raw, json: JSON.parse(raw), at: performance.now() };
    const index = received.push(request) - 1;
    const answer = await respond(request, index);
    const { status, headers = {} } = typeof answer === 'number' ? { status: answer } : answer;
    res.writeHead(status, headers).end();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/hooks/vtp`,
    port: bound,
    received,
    /** The events that got a 2xx, by type. */
    types: () => received.map((r) => r.json.type as string),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

/** The real server posting its events to `url`; `lines` collects its JSON log lines. */
async function serverFor(
  url: string,
  webhooks: Partial<WebhookOptions> = {},
): Promise<{ server: TestServer; api: string; lines: string[] }> {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const server = await startTestServer({}, 200, {
    logger,
    webhooks: { url, secret: SECRET, ...FAST, ...webhooks },
  });
  cleanups.push(() => server.close());
  return { server, api: `${server.url}/api/v1`, lines };
}

function signature(raw: string, secret: string): string {
  return createHmac('sha256', secret).update(raw).digest('hex');
}

async function received(r: Receiver, count: number): Promise<void> {
  await waitFor(
    async () => (r.received.length >= count ? true : undefined),
    10_000,
    `${count} webhook requests (got ${r.types().join(', ')})`,
    10,
  );
}

describe('webhooks against a real receiver', () => {
  it('tells the receiver of a stream, a viewer joining and leaving, and the end, each signed', async () => {
    const lms = await receiver();
    const { server, api } = await serverFor(lms.url);
    assert.equal(
      (await call(`${api}/streams/start`, 'POST', { recording_id: 'lecture' })).status,
      201,
    );
    await pushSegments(server.url, 'lecture', 'Low', 0, 2);
    const join = await call(`${api}/streams/lecture`, 'POST', {
      viewer_id: 'alice',
      initial_bitrate: 'Low',
    });
    assert.equal(join.status, 201);
    let bytes = 0;
    for (let i = 0; i < 2; i++) {
      const segment = await fetch(`${api}/streams/lecture/viewers/alice/next`);
      assert.equal(segment.status, 200);
      bytes += (await segment.arrayBuffer()).byteLength;
    }
    assert.equal(bytes, fakeSegment('Low', 0).length + fakeSegment('Low', 1).length);
    assert.equal((await call(`${api}/streams/lecture?viewer_id=alice`, 'DELETE')).status, 200);
    assert.equal((await call(`${api}/streams/lecture/end`, 'POST')).status, 200);
    await received(lms, 4);

    assert.deepEqual(lms.types(), [
      'stream.started',
      'viewer.joined',
      'viewer.left',
      'stream.ended',
    ]);
    const [started, joined, left, ended] = lms.received.map((r) => r.json);
    assert.equal(started.data.recording_id, 'lecture');
    assert.deepEqual(joined.data, {
      recording_id: 'lecture',
      viewer_id: 'alice',
      anonymous: false,
      initial_bitrate: 'Low',
    });
    assert.deepEqual(
      [
        left.data.viewer_id,
        left.data.reason,
        left.data.segments_received,
        left.data.bytes_received,
      ],
      ['alice', 'left', 2, bytes],
    );
    assert.equal(typeof left.data.duration_seconds, 'number');
    assert.equal(ended.data.peak_viewers, 1);
    for (const request of lms.received) {
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(request.headers['x-vtp-event'], request.json.type);
      assert.equal(request.headers['x-vtp-delivery'], request.json.id);
      assert.match(request.json.occurred_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(Math.abs(Date.parse(request.json.sent_at) - Date.now()) < 60_000, 'sent_at is now');
      assert.equal(request.headers['x-vtp-signature'], signature(request.raw, SECRET));
      assert.notEqual(
        request.headers['x-vtp-signature'],
        signature(request.raw, 'some-other-secret-of-length'),
      );
      assert.ok(!request.raw.includes(join.body.session_id), 'no session id in any event');
      assert.ok(!request.raw.includes(SECRET));
    }
    // The receiver has the bodies before the sender has read the answers: wait for the count.
    await waitFor(
      async () => (server.webhooks?.stats().delivered === 4 ? true : undefined),
      2000,
      'the deliveries to count',
    );
    assert.deepEqual(server.webhooks?.stats(), {
      delivered: 4,
      failed: 0,
      dropped: 0,
      queued: 0,
      inFlight: 0,
      failedAttempts: 0,
    });
  });

  it('delivers on the third attempt after two 500s, waiting longer before each retry', async () => {
    const lms = await receiver((_, i) => (i < 2 ? 500 : 204));
    const { server, api } = await serverFor(lms.url, {
      minDelayMs: 100,
      factor: 4,
      maxDelayMs: 2000,
    });
    await call(`${api}/streams/start`, 'POST', { recording_id: 'flaky' });
    await received(lms, 3);
    const [first, second, third] = lms.received;
    assert.ok(first && second && third);
    assert.deepEqual(
      lms.received.map((r) => [r.json.type, r.headers['x-vtp-delivery']]),
      Array(3).fill(['stream.started', first.json.id]),
      'the same event and delivery id on every attempt',
    );
    const gaps = [second.at - first.at, third.at - second.at];
    // Jitter spreads each wait over [base, 2 * base]: the first in [100, 200] ms, the second in [400, 800].
    assert.ok(gaps[0] !== undefined && gaps[0] >= 95, `first retry after ${gaps[0]} ms`);
    // Lower bounds only (timers never fire early, however loaded the machine): the wait grew.
    assert.ok(gaps[1] !== undefined && gaps[1] >= 395, `waits grew: ${gaps.join(', ')} ms`);
    for (const request of lms.received)
      assert.equal(request.headers['x-vtp-signature'], signature(request.raw, SECRET));
    await waitFor(
      async () => (server.webhooks?.stats().delivered === 1 ? true : undefined),
      2000,
      'the delivery to count',
    );
    assert.deepEqual(
      [server.webhooks?.stats().failedAttempts, server.webhooks?.stats().failed],
      [2, 0],
    );
  });

  it('holds events while the receiver is down and delivers them in order once it is up, logging once', async () => {
    const probe = await startReceiver();
    const { port, url } = probe;
    await probe.close();
    const { server, api, lines } = await serverFor(url);
    await call(`${api}/streams/start`, 'POST', { recording_id: 'outage' });
    await call(`${api}/streams/outage`, 'POST', { viewer_id: 'bob' });
    await waitFor(
      async () => ((server.webhooks?.stats().failedAttempts ?? 0) >= 3 ? true : undefined),
      5000,
      'failed attempts while the receiver is down',
      10,
    );
    const lms = await receiver(() => 204, port);
    await received(lms, 2);
    assert.deepEqual(lms.types(), ['stream.started', 'viewer.joined']);
    await waitFor(
      async () => (server.webhooks?.stats().delivered === 2 ? true : undefined),
      2000,
      'the deliveries to count',
    );
    assert.deepEqual([server.webhooks?.stats().delivered, server.webhooks?.stats().failed], [2, 0]);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => /webhook/.test(l.msg));
    assert.deepEqual(
      logged.map((l) => [l.level, l.msg]),
      [
        [
          40,
          'webhook delivery failing: retrying with backoff (logged once until a delivery succeeds)',
        ],
        [30, 'webhook deliveries succeed again'],
      ],
      'one line when the streak starts and one when it ends, not one per attempt',
    );
    assert.match(logged[0].error, /ECONNREFUSED/);
    assert.ok(!lines.join('\n').includes(SECRET), 'the secret is never logged');
  });

  it('does not retry an event the receiver refuses with 400', async () => {
    const lms = await receiver((r) => (r.json.type === 'stream.started' ? 400 : 204));
    const { server, api } = await serverFor(lms.url);
    await call(`${api}/streams/start`, 'POST', { recording_id: 'refused' });
    await call(`${api}/streams/refused`, 'POST', { viewer_id: 'carol' });
    await received(lms, 2);
    // One stream's events go in order, so the join arriving means the start was given up.
    assert.deepEqual(lms.types(), ['stream.started', 'viewer.joined']);
    assert.deepEqual(
      [server.webhooks?.stats().failed, server.webhooks?.stats().failedAttempts],
      [1, 1],
    );
  });

  it('keeps at most the queue capacity while the receiver hangs, answering joins meanwhile', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lms = await receiver(async () => {
      await gate;
      return 204;
    });
    const { server, api } = await serverFor(lms.url, { queueCapacity: 10, timeoutMs: 30_000 });
    await call(`${api}/streams/start`, 'POST', { recording_id: 'crowd', max_viewers: 100 });
    await received(lms, 1); // stream.started is in flight, held by the receiver
    for (let n = 0; n < 30; n++) {
      assert.equal(
        (await call(`${api}/streams/crowd`, 'POST', { viewer_id: `v${n}` })).status,
        201,
      );
    }
    assert.deepEqual(server.webhooks?.stats(), {
      delivered: 0,
      failed: 0,
      dropped: 20,
      queued: 10,
      inFlight: 1,
      failedAttempts: 0,
    });
    release();
    await received(lms, 11);
    assert.deepEqual(
      lms.received.slice(1).map((r) => r.json.data.viewer_id),
      Array.from({ length: 10 }, (_, i) => `v${20 + i}`),
      'the newest ten joins survived',
    );
  });

  it('sends what is queued before close resolves', async () => {
    // The receiver holds its answers until the test releases them, so events are still queued
    // when close begins however fast or slow the machine is.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lms = await receiver(async () => {
      await gate;
      return 204;
    });
    const { server, api } = await serverFor(lms.url);
    await call(`${api}/streams/start`, 'POST', { recording_id: 'closing' });
    await received(lms, 1); // stream.started is in flight, held by the receiver
    for (let n = 0; n < 5; n++)
      await call(`${api}/streams/closing`, 'POST', { viewer_id: `v${n}` });
    assert.deepEqual(
      [server.webhooks?.stats().inFlight, server.webhooks?.stats().queued],
      [1, 5],
      'events were still queued when close began',
    );
    const closed = server.close();
    release();
    assert.equal(await closed, true);
    assert.deepEqual(lms.types(), ['stream.started', ...Array(5).fill('viewer.joined')]);
    assert.equal(server.webhooks?.stats().delivered, 6);
  });
});

describe('webhooks from the vtp-live command', () => {
  it('signs with the secret from the environment, logs a failing receiver without it, and flushes on SIGTERM', async () => {
    const lms = await receiver((_, i) => {
      if (i === 0) return { status: 503, headers: { 'retry-after': '0' } };
      // Slow enough that the joins below are still queued when the signal comes.
      return new Promise((r) => setTimeout(() => r(204), 100));
    });
    const cli = await startCli([], { VTP_WEBHOOK_URL: lms.url, VTP_WEBHOOK_SECRET: SECRET });
    cleanups.push(() => stopCli(cli));
    const api = `${cli.url}/api/v1`;
    await call(`${api}/streams/start`, 'POST', { recording_id: 'cli' });
    await received(lms, 2); // the 503, then the retry after the production backoff (1-2 s)
    for (let n = 0; n < 5; n++) await call(`${api}/streams/cli`, 'POST', { viewer_id: `v${n}` });
    await stopCli(cli);
    assert.equal(cli.child.exitCode, 0);
    assert.deepEqual(lms.types(), [
      'stream.started',
      'stream.started',
      ...Array(5).fill('viewer.joined'),
    ]);
    for (const request of lms.received)
      assert.equal(request.headers['x-vtp-signature'], signature(request.raw, SECRET));
    const webhookLines = cli.output.filter((line) => line.includes('webhook'));
    assert.equal(webhookLines.length, 2, webhookLines.join('\n'));
    assert.match(webhookLines[0] ?? '', /"status":503/);
    assert.ok(!cli.output.join('\n').includes(SECRET), 'the secret is never logged');
  });
});
