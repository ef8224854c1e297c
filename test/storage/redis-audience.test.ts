import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { StreamFullError } from '../../src/core/errors.js';
import type { Segment } from '../../src/core/segment.js';
import { MirroredAudience } from '../../src/service/audience-mirror.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import type { StreamEventMap } from '../../src/service/stream-events.js';
import { RedisAudienceStore } from '../../src/storage/redis-audience.js';
import { run } from '../helpers/exec.js';
import {
  type RunningRedis,
  scriptCalls,
  sharedStream as sharedStreamOn,
  startRedis,
} from '../helpers/redis.js';
import { segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

/** No timer flushes: each test says when an origin exchanges (refreshAudience). */
const NEVER = 3_600_000;

let redis: RunningRedis;
let client: Redis;
const services: DistributionService[] = [];
let streamNo = 0;

/** One origin: its own service, sharing its audience through the test's Redis. */
async function origin(clock?: () => number, idleTimeoutMs = 10_000): Promise<DistributionService> {
  const service = new DistributionService({
    audience: new MirroredAudience(new RedisAudienceStore(redis.url), { flushIntervalMs: NEVER }),
    idleTimeoutMs,
    ...(clock && { clock }),
    onSharedStateWarning: (message, error) => assert.fail(`${message}: ${error}`),
  });
  await service.connectShared();
  services.push(service);
  return service;
}

/** A stream both origins hold, started on `a` (capped) and created on `b` by a push. */
const sharedStream = (a: DistributionService, b: DistributionService, maxViewers = 100) =>
  sharedStreamOn(a, b, `rec${++streamNo}`, maxViewers);

/** How many exchanges Redis has run so far (each is one script call). */
const exchangesRun = () => scriptCalls(client);

function recorded(service: DistributionService) {
  const events: Array<{ type: keyof StreamEventMap; detail: unknown }> = [];
  service.events.on('viewer_joined', (detail) => events.push({ type: 'viewer_joined', detail }));
  service.events.on('viewer_left', (detail) => events.push({ type: 'viewer_left', detail }));
  return events;
}

before(async () => {
  await run('bash', ['scripts/ensure-system-deps.sh', 'redis-server']);
  redis = await startRedis();
  client = new Redis(redis.url);
});

after(async () => {
  for (const service of services) {
    await service.shutdown(100);
    await service.closeShared();
  }
  client?.disconnect();
  await redis?.stop();
});

describe('audience shared through Redis', () => {
  it('gives every origin of a stream the incarnation and cap agreed first', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b, 7);
    assert.equal(b.getDistributor(id).incarnation, a.getDistributor(id).incarnation);
    assert.equal(b.getDistributor(id).maxViewers, 7);
    // A start is exclusive: the stream is live on another origin.
    const c = await origin();
    await assert.rejects(c.prepareStream(id, {}, true), { code: 'STREAM_EXISTS' });
  });

  it('admits exactly the cap across two origins when joins race', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b, 10);
    const joins = Array.from({ length: 16 }, (_, i) =>
      (i % 2 ? b : a).admitViewer(id, `viewer-${i}`, 'High'),
    );
    const settled = await Promise.allSettled(joins);
    const refused = settled.filter((s) => s.status === 'rejected');
    assert.equal(settled.length - refused.length, 10);
    for (const r of refused)
      assert.ok((r as PromiseRejectedResult).reason instanceof StreamFullError);
    await a.refreshAudience(id);
    await b.refreshAudience(id);
    for (const service of [a, b]) {
      const stream = service.getDistributor(id);
      assert.equal(stream.activeViewers, 10);
      // High holds a quarter of the cap (3 of 10): the rest landed lower, on every origin alike.
      assert.deepEqual(stream.viewersByProfile, a.getDistributor(id).viewersByProfile);
      assert.equal(stream.viewersByProfile.High, 3);
    }
  });

  it('sends counters in one exchange per stream per batch, not per fetch', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const session = await a.admitViewer(id, 'ada');
    const segment = a.addSegmentToStream(id, segmentInput(0, 'Low', 1000));
    b.addSegmentToStream(id, segmentInput(0, 'Low', 1000));
    await b.refreshAudience(id);
    const key = `vtp:sess:${session.sessionId}`;
    for (let i = 0; i < 50; i++) a.getDistributor(id).recordFetch('ada', segment, 1000, a.now());
    // Counted in memory only: nothing went to Redis per fetch.
    assert.equal(await client.hget(key, 'seg'), '0');
    const before = await exchangesRun();
    await a.refreshAudience(id);
    assert.equal((await exchangesRun()) - before, 1);
    assert.deepEqual(await client.hmget(key, 'seg', 'bytes'), ['50', '50000']);
    // The other origin sees them at its next exchange, and adds its own.
    await b.refreshAudience(id);
    const onB = b.getDistributor(id).session('ada');
    assert.equal(onB.segmentsReceived, 50);
    const segmentOnB = b.getDistributor(id).window('Low').get(segment.id) as Segment;
    for (let i = 0; i < 5; i++) b.getDistributor(id).recordFetch('ada', segmentOnB, 1000, b.now());
    await b.refreshAudience(id);
    await a.refreshAudience(id);
    for (const service of [a, b]) {
      const ada = service.getDistributor(id).session('ada');
      assert.equal(ada.segmentsReceived, 55);
      assert.equal(ada.bytesReceived, 55_000);
      assert.equal(service.getDistributor(id).served.segments, 55);
    }
  });

  it('counts an exchange sent twice once (each origin sends its whole share)', async () => {
    const store = new RedisAudienceStore(redis.url);
    await store.connect();
    try {
      const [a, b] = [await origin(), await origin()];
      const id = await sharedStream(a, b);
      const session = await a.admitViewer(id, 'grace');
      const request = {
        recordingId: id,
        incarnation: a.getDistributor(id).incarnation,
        live: true,
        maxViewers: 100,
        dvrSeconds: 0,
        since: 0,
        now: Date.now(),
        idleMs: 0,
        updates: [
          {
            sessionId: session.sessionId,
            mine: { segments: 4, bytes: 4000, stalls: 1, lowBufferEvents: 0 },
          },
        ],
        leaves: [],
      };
      await store.exchange([request]);
      const [reply] = await store.exchange([request]);
      const shared = reply?.sessions.find((s) => s.sessionId === session.sessionId);
      assert.deepEqual(shared?.counts, { segments: 4, bytes: 4000, stalls: 1, lowBufferEvents: 0 });
    } finally {
      await store.close();
    }
  });

  it('finds at first use a session another origin admitted since the last batch', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const session = await a.admitViewer(id, 'lin');
    assert.equal(b.findSession(session.sessionId), undefined);
    await b.lookUpSession(id, session.sessionId);
    assert.equal(b.findSession(session.sessionId)?.session.viewerId, 'lin');
  });

  it('a leave on one origin is a leave on every origin, and the viewer may join again', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const aEvents = recorded(a);
    const bEvents = recorded(b);
    const first = await a.admitViewer(id, 'kay');
    await b.refreshAudience(id);
    b.leaveStream(id, 'kay');
    await b.refreshAudience(id);
    await a.refreshAudience(id);
    assert.equal(a.findSession(first.sessionId), undefined);
    assert.equal(a.getDistributor(id).hasViewer('kay'), false);
    const again = await a.admitViewer(id, 'kay');
    assert.notEqual(again.sessionId, first.sessionId);
    // Announced once each: the join where admitted, the leave where it left.
    assert.deepEqual(
      aEvents.map((e) => e.type),
      ['viewer_joined', 'viewer_joined'],
    );
    assert.deepEqual(
      bEvents.map((e) => e.type),
      ['viewer_left'],
    );
  });

  it('expires an idle viewer for every origin, announced once', async () => {
    let now = Date.now();
    const [a, b] = [await origin(() => now, 2000), await origin(() => now, 2000)];
    const id = await sharedStream(a, b);
    const session = await b.admitViewer(id, 'idle-one');
    await a.refreshAudience(id);
    const aEvents = recorded(a);
    const bEvents = recorded(b);
    now += 10_001;
    // Local cleanup leaves shared sessions alone; the shared state expires them (by its clock).
    a.cleanup();
    assert.ok(a.findSession(session.sessionId));
    await waitFor(
      async () => {
        await a.refreshAudience(id);
        return a.findSession(session.sessionId) === undefined || undefined;
      },
      10_000,
      'the idle session expired',
    );
    await b.refreshAudience(id);
    assert.equal(a.findSession(session.sessionId), undefined);
    assert.equal(b.findSession(session.sessionId), undefined);
    assert.deepEqual(
      [...aEvents, ...bEvents].map((e) => [e.type, (e.detail as { reason?: string }).reason]),
      [['viewer_left', 'idle']],
    );
  });

  it('expires idle viewers by the shared clock, not by origins whose clocks differ', async () => {
    // b's clock runs an hour ahead: a session a saw a moment ago is not an hour idle to it.
    const [a, b] = [await origin(), await origin(() => Date.now() + 3_600_000)];
    const id = await sharedStream(a, b);
    const session = await a.admitViewer(id, 'on-time');
    await b.refreshAudience(id);
    await a.refreshAudience(id);
    assert.ok(a.findSession(session.sessionId));
    assert.ok(b.findSession(session.sessionId));
  });

  it('keeps a viewer served by an origin whose clock runs behind', async () => {
    // b's clock runs an hour behind a's: its requests still count as requests.
    const [a, b] = [
      await origin(undefined, 2000),
      await origin(() => Date.now() - 3_600_000, 2000),
    ];
    const id = await sharedStream(a, b);
    const session = await a.admitViewer(id, 'behind');
    await b.refreshAudience(id);
    const segment = b.addSegmentToStream(id, segmentInput(0, 'Low', 500));
    const seats = `vtp:aud:${id}:${b.getDistributor(id).incarnation}:seats`;
    const admitted = Number(await client.zscore(seats, session.sessionId));
    // Served by b for longer than the idle timeout.
    await waitFor(
      async () => {
        b.getDistributor(id).recordFetch('behind', segment, 500, b.now());
        await b.refreshAudience(id);
        const seen = await client.zscore(seats, session.sessionId);
        assert.notEqual(seen, null, 'expired while served');
        return Number(seen) > admitted + 3000 || undefined;
      },
      15_000,
      'requests on b past the idle timeout',
    );
    await a.refreshAudience(id);
    assert.ok(a.findSession(session.sessionId));
  });

  it('ends the stream on every origin when one ends it through the API, not when one times out', async () => {
    const [a, b] = [await origin(), await origin()];
    const quiet = await sharedStream(a, b);
    // An encoder timeout ends only the copy that stopped being fed.
    a.endQuietStreams(-1);
    await a.refreshAudience(quiet);
    await b.refreshAudience(quiet);
    assert.equal(a.getDistributor(quiet).status, 'ended');
    assert.equal(b.getDistributor(quiet).status, 'live');
    const id = await sharedStream(a, b);
    a.endLiveStream(id);
    await a.refreshAudience(id);
    await b.refreshAudience(id);
    assert.equal(b.getDistributor(id).status, 'ended');
  });

  it('sends what was counted since the last batch when it closes', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const session = await a.admitViewer(id, 'last');
    const segment = a.addSegmentToStream(id, segmentInput(0, 'Low', 500));
    for (let i = 0; i < 3; i++) a.getDistributor(id).recordFetch('last', segment, 500, a.now());
    services.splice(services.indexOf(a), 1);
    await a.shutdown(100);
    await a.closeShared();
    assert.deepEqual(await client.hmget(`vtp:sess:${session.sessionId}`, 'seg', 'bytes'), [
      '3',
      '1500',
    ]);
    await b.refreshAudience(id);
    assert.equal(b.getDistributor(id).session('last').segmentsReceived, 3);
  });
});

describe('shared state reachability', () => {
  it('stops start-up with a message naming --state-url when Redis cannot be reached', async () => {
    const spare = await startRedis();
    await spare.stop();
    const service = new DistributionService({
      audience: new MirroredAudience(new RedisAudienceStore(spare.url)),
    });
    await assert.rejects(service.connectShared(), (error: Error) => {
      assert.match(error.message, /--state-url/);
      assert.match(error.message, new RegExp(`redis://127\\.0\\.0\\.1:${spare.port}`));
      return true;
    });
  });

  it('reports degraded health while Redis is unreachable, naming it', async () => {
    const own = await startRedis();
    const warnings: string[] = [];
    const service = new DistributionService({
      audience: new MirroredAudience(new RedisAudienceStore(own.url), { flushIntervalMs: 50 }),
      onSharedStateWarning: (message) => warnings.push(message),
    });
    try {
      await service.connectShared();
      assert.equal(service.health().status, 'healthy');
      await own.stop();
      const health = await waitFor(
        async () => (service.health().status === 'degraded' ? service.health() : undefined),
        10_000,
        'degraded health',
        20,
      );
      assert.equal(health.status, 'degraded');
      assert.ok(
        health.reasons.some((r) => r.startsWith(`shared state ${own.url}: unreachable`)),
        health.reasons.join('; '),
      );
      // A join in the meantime is a 503 naming the shared state, not a 500.
      service.startLiveStream('offline');
      await assert.rejects(service.admitViewer('offline', 'x'), {
        code: 'SHARED_STATE_UNAVAILABLE',
      });
    } finally {
      await service.shutdown(100);
      await service.closeShared();
      await own.stop();
    }
  });
});
