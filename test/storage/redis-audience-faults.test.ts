import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  MirroredAudience,
  type MirroredAudienceOptions,
} from '../../src/service/audience-mirror.js';
import { DistributionService } from '../../src/service/distribution-service.js';
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

async function origin(
  mirror: MirroredAudienceOptions = {},
  warnings: string[] = [],
): Promise<DistributionService> {
  const service = new DistributionService({
    audience: new MirroredAudience(new RedisAudienceStore(redis.url), {
      flushIntervalMs: NEVER,
      ...mirror,
    }),
    idleTimeoutMs: 60_000,
    onSharedStateWarning: (message, error) => warnings.push(`${message}: ${error}`),
  });
  await service.connectShared();
  services.push(service);
  return service;
}

const sharedStream = (a: DistributionService, b: DistributionService) =>
  sharedStreamOn(a, b, `fault${++streamNo}`);

const exchangesRun = () => scriptCalls(client);

/** Holds redis-server stopped (SIGSTOP) while `body` runs: every command waits unanswered. */
async function stalled<T>(body: () => Promise<T>): Promise<T> {
  redis.child.kill('SIGSTOP');
  try {
    return await body();
  } finally {
    redis.child.kill('SIGCONT');
  }
}

before(async () => {
  await run('bash', ['scripts/ensure-system-deps.sh', 'redis-server']);
  redis = await startRedis();
  client = new Redis(redis.url);
});

after(async () => {
  redis?.child.kill('SIGCONT');
  for (const service of services) {
    await service.shutdown(100);
    await service.closeShared(1000);
  }
  client?.disconnect();
  await redis?.stop();
});

describe('a slow or stalled Redis', { timeout: 60_000 }, () => {
  it('refuses joins with a 503 instead of queueing them, degrades health, and closes in time', async () => {
    const warnings: string[] = [];
    const [a, b] = [await origin({ maxWaitingExchanges: 2 }, warnings), await origin()];
    const id = await sharedStream(a, b);
    await stalled(async () => {
      // Two wait for their exchange; the rest are refused at once rather than queued.
      const joins = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => a.admitViewer(id, `queued-${i}`)),
      );
      for (const join of joins) {
        assert.equal(join.status, 'rejected');
        assert.equal((join.reason as { code?: string }).code, 'SHARED_STATE_UNAVAILABLE');
      }
      assert.ok(
        joins.some((j) => j.status === 'rejected' && /wait for it already/.test(String(j.reason))),
      );
      // An exchange still unanswered (or failed by the command timeout) degrades health.
      const exchange = a.refreshAudience(id).catch(() => undefined);
      await waitFor(
        async () => (a.health().status === 'degraded' ? true : undefined),
        10_000,
        'degraded health',
        20,
      );
      await exchange;
      // Closing while Redis still stalls ends within the time it is given.
      services.splice(services.indexOf(a), 1);
      await a.shutdown(100);
      await a.closeShared(300);
      assert.ok(warnings.some((w) => /not sent to the shared state in time|last counts/.test(w)));
    });
  });

  it('lets a viewer whose join got no answer join again on the same origin', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const joined: string[] = [];
    a.events.on('viewer_joined', (detail) => joined.push(detail.viewerId));
    // The admission reaches Redis but its answer comes after the command timeout.
    await stalled(() =>
      assert.rejects(a.admitViewer(id, 'unanswered'), { code: 'SHARED_STATE_UNAVAILABLE' }),
    );
    const viewers = `vtp:aud:${id}:${a.getDistributor(id).incarnation}:viewers`;
    const seated = await waitFor(
      async () => (await client.hget(viewers, 'unanswered')) ?? undefined,
      10_000,
      'the unanswered admission seated in Redis',
      20,
    );
    const session = await a.admitViewer(id, 'unanswered');
    assert.equal(session.sessionId, seated);
    assert.deepEqual(joined, ['unanswered']);
    // Another origin still refuses the viewer a second seat.
    await assert.rejects(b.admitViewer(id, 'unanswered'), { code: 'VIEWER_EXISTS' });
  });

  it('sends a leave noted while an exchange runs right after it, not a batch later', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const first = await b.admitViewer(id, 'first');
    const second = await b.admitViewer(id, 'second');
    await a.refreshAudience(id);
    await stalled(async () => {
      b.leaveStream(id, 'first');
      // The leave's exchange has left (and waits on Redis) before the second leave.
      await new Promise((resolve) => setImmediate(resolve));
      b.leaveStream(id, 'second');
    });
    await waitFor(
      async () => {
        await a.refreshAudience(id);
        return a.findSession(second.sessionId) === undefined || undefined;
      },
      10_000,
      'the second leave shared',
    );
    assert.equal(a.findSession(first.sessionId), undefined);
  });

  it('shares one exchange among the look-ups of a stream waiting together', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    await a.refreshAudience(id);
    const before = await exchangesRun();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        Promise.all([a.refreshAudience(id), a.lookUpSession(id, `vs-unknown-${i}`)]),
      ),
    );
    // At most the one running when they came plus the one they share.
    assert.ok((await exchangesRun()) - before <= 2);
  });
});

describe('Redis losing the audience', { timeout: 60_000 }, () => {
  it('keeps the viewers and puts them and the stream back after Redis lost its keys', async () => {
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const left: string[] = [];
    for (const service of [a, b]) service.events.on('viewer_left', (d) => left.push(d.viewerId));
    const ada = await a.admitViewer(id, 'ada');
    const bob = await b.admitViewer(id, 'bob');
    await a.refreshAudience(id);
    await b.refreshAudience(id);
    const segment = a.addSegmentToStream(id, segmentInput(0, 'Low', 500));
    a.getDistributor(id).recordFetch('ada', segment, 500, a.now());
    await client.flushall();
    await a.refreshAudience(id);
    // The reply of the emptied store asked for them back: the next exchange sends them.
    await a.refreshAudience(id);
    await b.refreshAudience(id);
    const incarnation = a.getDistributor(id).incarnation;
    const prefix = `vtp:aud:${id}:${incarnation}:`;
    assert.equal(await client.zcard(`${prefix}seats`), 2);
    assert.equal(await client.hget(`vtp:stream:${id}`, 'inc'), incarnation);
    assert.equal(await client.hget(`vtp:sess:${ada.sessionId}`, 'seg'), '1');
    for (const service of [a, b]) {
      assert.ok(service.findSession(ada.sessionId));
      assert.ok(service.findSession(bob.sessionId));
    }
    assert.deepEqual(left, []);
    // Shared again: a leave on b is a leave on a.
    b.leaveStream(id, 'ada');
    await b.refreshAudience(id);
    await a.refreshAudience(id);
    assert.equal(a.findSession(ada.sessionId), undefined);
  });

  it('shares again the viewers a restarted origin restored', async () => {
    const warnings: string[] = [];
    const [a, b] = [await origin(), await origin()];
    const id = await sharedStream(a, b);
    const ada = await a.admitViewer(id, 'ada');
    const distributor = a.getDistributor(id);
    const state = distributor.session('ada');
    // A restart of a: a new process restores the stream and its viewer from its database.
    const restarted = await origin({}, warnings);
    restarted.restoreStream({
      recordingId: id,
      incarnation: distributor.incarnation,
      startedAt: distributor.startedAt,
      endedAt: undefined,
      maxViewers: distributor.maxViewers,
      retentionMs: distributor.retentionMs,
      nextSequence: 0,
      served: { segments: 0, bytes: 0 },
      viewers: [{ ...state, bitrateHistory: [] }],
    });
    await restarted.refreshAudience(id);
    const segment = restarted.addSegmentToStream(id, segmentInput(0, 'Low', 500));
    restarted.getDistributor(id).recordFetch('ada', segment, 500, restarted.now());
    await restarted.refreshAudience(id);
    assert.deepEqual(warnings, []);
    assert.equal(await client.hget(`vtp:sess:${ada.sessionId}`, 'seg'), '1');
    await b.refreshAudience(id);
    assert.equal(b.getDistributor(id).session('ada').segmentsReceived, 1);
  });
});
