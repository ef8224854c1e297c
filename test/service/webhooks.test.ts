import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistributionService } from '../../src/service/distribution-service.js';
import type { WebhookEventInput } from '../../src/service/webhook-payloads.js';
import {
  retryAfterMs,
  type WebhookOptions,
  type WebhookRequest,
  WebhookSender,
  type WebhookTransport,
} from '../../src/service/webhooks.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'lms-webhook-secret-0123456789';
const T0 = Date.UTC(2026, 0, 15, 10, 30, 45);
const senders: WebhookSender[] = [];
const services: DistributionService[] = [];

afterEach(async () => {
  for (const s of senders.splice(0)) await s.flush(0);
  for (const s of services.splice(0)) await s.shutdown(100);
});

interface Sent extends Omit<WebhookRequest, 'signal'> {
  readonly json: any;
  readonly at: number;
}

/** A transport that records every request and answers what `answer` says (204 by default). */
function recording(
  answer: (request: Sent, index: number) => ReturnType<WebhookTransport> | number = () => 204,
) {
  const sent: Sent[] = [];
  const transport: WebhookTransport = async ({ url, body, headers }) => {
    const request = { url, body, headers, json: JSON.parse(body), at: performance.now() };
    const index = sent.push(request) - 1;
    const result = answer(request, index);
    return typeof result === 'number' ? { status: result, retryAfter: null } : result;
  };
  return { sent, transport };
}

/** A logger that keeps every line. */
function memoryLogger() {
  const lines: Array<{ level: string; detail: object; message: string }> = [];
  return {
    lines,
    warn: (detail: object, message: string) => lines.push({ level: 'warn', detail, message }),
    info: (detail: object, message: string) => lines.push({ level: 'info', detail, message }),
  };
}

function sender(options: Partial<WebhookOptions> & Pick<WebhookOptions, 'transport'>) {
  const s = new WebhookSender({
    url: 'http://127.0.0.1:9/hook',
    secret: SECRET,
    minDelayMs: 1,
    maxDelayMs: 5,
    retries: 3,
    ...options,
  });
  senders.push(s);
  return s;
}

function event(recordingId: string, n: number): WebhookEventInput {
  return {
    type: 'viewer.joined',
    occurredAt: T0,
    recordingId,
    data: { recording_id: recordingId, viewer_id: `v${n}` },
  };
}

async function settled(s: WebhookSender): Promise<void> {
  await waitFor(
    async () => {
      const stats = s.stats();
      return stats.queued === 0 && stats.inFlight === 0 ? true : undefined;
    },
    5000,
    'webhook queue to settle',
    2,
  );
}

describe('webhook bodies', () => {
  it('posts each stream and viewer event with its fields and times, and never a session id', async () => {
    const clock = { now: T0 };
    const service = new DistributionService({ clock: () => clock.now, idleTimeoutMs: 10_000 });
    services.push(service);
    const { sent, transport } = recording();
    const sentAt = T0 + 99_000;
    const s = sender({ transport, now: () => sentAt });
    s.attach(service.events);

    service.startLiveStream('lecture', 50);
    clock.now += 1000;
    const alice = service.joinStream('lecture', 'alice', 'High');
    const anonymous = service.joinAnonymous('lecture');
    clock.now += 65_000;
    service.leaveStream('lecture', 'alice');
    service.cleanup(); // the anonymous viewer, silent since it joined, leaves for idleness
    clock.now += 1000;
    service.endLiveStream('lecture');
    await settled(s);

    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    assert.deepEqual(
      sent.map((r) => [r.json.type, r.json.occurred_at, r.json.sent_at, r.json.data]),
      [
        ['stream.started', iso(T0), iso(sentAt), { recording_id: 'lecture', max_viewers: 50 }],
        [
          'viewer.joined',
          iso(T0 + 1000),
          iso(sentAt),
          {
            recording_id: 'lecture',
            viewer_id: 'alice',
            anonymous: false,
            initial_bitrate: 'High',
          },
        ],
        [
          'viewer.joined',
          iso(T0 + 1000),
          iso(sentAt),
          {
            recording_id: 'lecture',
            viewer_id: anonymous.viewerId,
            anonymous: true,
            initial_bitrate: 'Low',
          },
        ],
        [
          'viewer.left',
          iso(T0 + 66_000),
          iso(sentAt),
          {
            recording_id: 'lecture',
            viewer_id: 'alice',
            reason: 'left',
            joined_at: iso(T0 + 1000),
            last_seen_at: iso(T0 + 1000),
            duration_seconds: 65,
            segments_received: 0,
            bytes_received: 0,
          },
        ],
        [
          'viewer.left',
          iso(T0 + 66_000),
          iso(sentAt),
          {
            recording_id: 'lecture',
            viewer_id: anonymous.viewerId,
            reason: 'idle',
            joined_at: iso(T0 + 1000),
            last_seen_at: iso(T0 + 1000),
            duration_seconds: 0,
            segments_received: 0,
            bytes_received: 0,
          },
        ],
        [
          'stream.ended',
          iso(T0 + 67_000),
          iso(sentAt),
          {
            recording_id: 'lecture',
            started_at: iso(T0),
            duration_seconds: 67,
            peak_viewers: 2,
          },
        ],
      ],
    );
    for (const request of sent) {
      assert.deepEqual(Object.keys(request.json), ['id', 'type', 'occurred_at', 'sent_at', 'data']);
      for (const secret of [alice.sessionId, anonymous.sessionId, SECRET])
        assert.ok(!request.body.includes(secret), `${request.json.type} leaks nothing`);
    }
    assert.equal(new Set(sent.map((r) => r.json.id)).size, sent.length, 'ids are unique');
  });

  it('signs the exact body with HMAC-SHA256 in hex and names the event and delivery in headers', async () => {
    const { sent, transport } = recording();
    const s = sender({ transport });
    const id = s.enqueue(event('lecture', 1));
    await settled(s);
    const [request] = sent;
    assert.ok(request);
    const expected = createHmac('sha256', SECRET).update(request.body).digest('hex');
    const forged = createHmac('sha256', 'another-secret-of-length-20').update(request.body);
    assert.equal(request.headers['x-vtp-signature'], expected);
    assert.notEqual(request.headers['x-vtp-signature'], forged.digest('hex'));
    assert.match(expected, /^[0-9a-f]{64}$/);
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['x-vtp-event'], 'viewer.joined');
    assert.equal(request.headers['x-vtp-delivery'], id);
    assert.equal(request.json.id, id);
    assert.ok(request.json.sent_at, 'the signed body carries when it was sent');
  });
});

describe('webhook retries', () => {
  for (const status of [500, 502, 503, 504, 408, 429]) {
    it(`retries a ${status} until the retries run out`, async () => {
      const { sent, transport } = recording(() => status);
      const s = sender({ transport, retries: 3 });
      s.enqueue(event('lecture', 1));
      await settled(s);
      assert.equal(sent.length, 4);
      assert.deepEqual(
        [s.stats().delivered, s.stats().failed, s.stats().failedAttempts],
        [0, 1, 4],
      );
    });
  }

  for (const status of [400, 401, 403, 404, 410, 422, 301]) {
    it(`gives up on a ${status} at once`, async () => {
      const { sent, transport } = recording(() => status);
      const s = sender({ transport, retries: 3 });
      s.enqueue(event('lecture', 1));
      await settled(s);
      assert.equal(sent.length, 1);
      assert.deepEqual([s.stats().failed, s.stats().failedAttempts], [1, 1]);
    });
  }

  it('retries a network error and delivers on the next attempt, with the same delivery id', async () => {
    const ids: Array<string | undefined> = [];
    const s = sender({
      transport: async ({ headers }) => {
        ids.push(headers['x-vtp-delivery']);
        if (ids.length === 1)
          throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
        return { status: 200, retryAfter: null };
      },
    });
    const id = s.enqueue(event('lecture', 1));
    await settled(s);
    assert.deepEqual(ids, [id, id]);
    assert.deepEqual([s.stats().delivered, s.stats().failedAttempts], [1, 1]);
  });

  it('cuts an attempt that gets no answer within the timeout and tries again', async () => {
    let calls = 0;
    const s = sender({
      timeoutMs: 40,
      transport: ({ signal }) => {
        calls++;
        if (calls > 1) return Promise.resolve({ status: 200, retryAfter: null });
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        );
      },
    });
    const started = performance.now();
    s.enqueue(event('lecture', 1));
    await settled(s);
    assert.equal(calls, 2);
    assert.ok(performance.now() - started >= 35, 'the first attempt waited for its deadline');
    assert.deepEqual([s.stats().delivered, s.stats().failedAttempts], [1, 1]);
  });

  it('waits at least what Retry-After asks, cut to the longest wait allowed', {
    timeout: 20_000,
  }, async () => {
    // An hour asked, 150 ms allowed: only the cut lets the retry come within the test's time.
    const { sent, transport } = recording((_, i) =>
      Promise.resolve(
        i === 0 ? { status: 429, retryAfter: '3600' } : { status: 200, retryAfter: null },
      ),
    );
    const s = sender({ transport, maxRetryAfterMs: 150 });
    s.enqueue(event('lecture', 1));
    await waitFor(
      async () => (s.stats().delivered === 1 ? true : undefined),
      15_000,
      'the retry after the cut wait',
      5,
    );
    assert.equal(sent.length, 2);
    // A lower bound only: timers never fire early, however loaded the machine.
    const gap = (sent[1]?.at ?? 0) - (sent[0]?.at ?? 0);
    assert.ok(gap >= 145, `waited ${gap} ms, not the few ms of backoff`);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs(' 0 ', now), 0);
    assert.equal(retryAfterMs('Wed, 21 Oct 2026 07:28:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('Wed, 21 Oct 2026 07:27:00 GMT', now), 0, 'a past date: at once');
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs('-5', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });
});

describe('webhook queue', () => {
  /** A transport whose answers wait until `release()`. */
  function held() {
    const { sent, transport } = recording();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const heldTransport: WebhookTransport = async (request) => {
      const answer = transport(request);
      // Like fetch, a held request ends when its signal aborts (timeout or shutdown).
      await Promise.race([
        gate,
        new Promise((_, reject) =>
          request.signal.addEventListener('abort', () => reject(request.signal.reason)),
        ),
      ]);
      return answer;
    };
    return { sent, transport: heldTransport, release: () => open() };
  }

  it('holds at most its capacity, dropping the oldest waiting event and logging it once', async () => {
    const { sent, transport, release } = held();
    const logger = memoryLogger();
    const s = sender({ transport, queueCapacity: 5, concurrency: 1, logger });
    // enqueue returns at once (it is not async) and nothing is sent on this turn: queuing never
    // waits for the receiver, which holds every answer until release().
    for (let n = 0; n < 21; n++) assert.equal(typeof s.enqueue(event('lecture', n)), 'string');
    assert.equal(sent.length, 0, 'nothing sent while queuing');
    assert.deepEqual(s.stats(), {
      delivered: 0,
      failed: 0,
      dropped: 16,
      queued: 5,
      inFlight: 0,
      failedAttempts: 0,
    });
    await new Promise((resolve) => setImmediate(resolve)); // the turn on which posting starts
    for (let n = 21; n < 24; n++) s.enqueue(event('lecture', n));
    assert.deepEqual(
      [s.stats().inFlight, s.stats().queued, s.stats().dropped],
      [1, 5, 18],
      'one went out; the queue still holds five',
    );
    assert.equal(logger.lines.filter((l) => /queue full/.test(l.message)).length, 1);
    release();
    await settled(s);
    assert.deepEqual(
      sent.map((r) => r.json.data.viewer_id),
      ['v16', 'v19', 'v20', 'v21', 'v22', 'v23'],
      'the one in flight, then the newest five in order',
    );
    assert.equal(s.stats().delivered, 6);
  });

  it('drops the oldest event of all streams, whichever stream the new one is for', async () => {
    const { sent, transport } = recording();
    const s = sender({ transport, queueCapacity: 3, concurrency: 1 });
    s.enqueue(event('a', 0));
    s.enqueue(event('b', 1));
    s.enqueue(event('a', 2));
    s.enqueue(event('b', 3)); // drops a's v0
    s.enqueue(event('b', 4)); // drops b's v1
    assert.deepEqual([s.stats().queued, s.stats().dropped], [3, 2]);
    await settled(s);
    assert.deepEqual(
      sent.map((r) => r.json.data.viewer_id),
      ['v2', 'v3', 'v4'],
    );
  });

  it("sends one stream's events one at a time in order, and other streams' alongside", async () => {
    const { sent, transport, release } = held();
    const s = sender({ transport, concurrency: 4 });
    s.enqueue(event('a', 1));
    s.enqueue(event('a', 2));
    s.enqueue(event('b', 3));
    await sleep(20);
    assert.deepEqual(
      sent.map((r) => r.json.data.viewer_id),
      ['v1', 'v3'],
      "a's second event waits for its first; b does not wait for a",
    );
    release();
    await settled(s);
    assert.deepEqual(
      sent.map((r) => r.json.data.viewer_id),
      ['v1', 'v3', 'v2'],
    );
  });

  it('logs a failure streak once when it starts and once when it ends, without the secret', async () => {
    const { transport } = recording((_, i) => (i < 5 ? 503 : 200));
    const logger = memoryLogger();
    const s = sender({
      transport,
      logger,
      concurrency: 1,
      url: `http://127.0.0.1:9/hook?token=${SECRET}`,
    });
    s.enqueue(event('lecture', 1)); // attempts 0-3 fail: given up
    s.enqueue(event('lecture', 2)); // attempt 4 fails, 5 succeeds
    await settled(s);
    assert.deepEqual(
      logger.lines.map((l) => l.level),
      ['warn', 'info'],
    );
    assert.match(logger.lines[0]?.message ?? '', /retrying/);
    assert.deepEqual(logger.lines[1]?.detail, {
      url: 'http://127.0.0.1:9/hook?token=[REDACTED]',
      failed_attempts: 5,
      events_given_up: 1,
    });
    assert.ok(!JSON.stringify(logger.lines).includes(SECRET));
    assert.deepEqual([s.stats().delivered, s.stats().failed], [1, 1]);
  });

  it('flushes what is queued, then takes no more events', async () => {
    const { sent, transport } = recording(() =>
      sleep(5).then(() => ({ status: 200, retryAfter: null })),
    );
    const s = sender({ transport, concurrency: 1 });
    for (let n = 0; n < 5; n++) s.enqueue(event('lecture', n));
    assert.equal(await s.flush(2000), true);
    assert.equal(sent.length, 5);
    s.enqueue(event('lecture', 9));
    assert.deepEqual([s.stats().queued, s.stats().dropped], [0, 1]);
  });

  it('abandons at the flush deadline what the receiver did not take, counting it failed', async () => {
    const { transport } = held();
    const logger = memoryLogger();
    const s = sender({ transport, concurrency: 1, logger });
    for (let n = 0; n < 4; n++) s.enqueue(event('lecture', n));
    // The receiver never answers: flush resolving at all shows it gave up at its deadline.
    assert.equal(await s.flush(60), false);
    await settled(s);
    assert.deepEqual([s.stats().failed, s.stats().delivered, s.stats().queued], [4, 0, 0]);
    assert.equal(logger.lines.filter((l) => /abandoned/.test(l.message)).length, 1);
  });
});
