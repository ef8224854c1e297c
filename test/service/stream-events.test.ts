import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import {
  DistributionService,
  type DistributionServiceOptions,
} from '../../src/service/distribution-service.js';
import { type StreamEventMap, StreamEvents } from '../../src/service/stream-events.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

type Recorded = {
  [K in keyof StreamEventMap]: { type: K; event: StreamEventMap[K][0] };
}[keyof StreamEventMap];

const services: DistributionService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.shutdown(100);
});

/** A service on a fake clock (no timers started) and every event it publishes, in order. */
function recorded(options: DistributionServiceOptions = {}) {
  const clock = { now: 1_700_000_000_000 };
  const service = new DistributionService({ clock: () => clock.now, ...options });
  services.push(service);
  const events: Recorded[] = [];
  for (const type of [
    'stream_started',
    'stream_ended',
    'viewer_joined',
    'viewer_left',
    'viewer_cap_reached',
  ] as const) {
    const record = (event: unknown) => events.push({ type, event } as Recorded);
    service.events.on(type, record);
  }
  const of = <K extends keyof StreamEventMap>(type: K): StreamEventMap[K][0][] =>
    events.filter((e) => e.type === type).map((e) => e.event as StreamEventMap[K][0]);
  return { service, clock, events, of };
}

function publish(s: DistributionService, rec: string, from: number, to: number): void {
  for (let i = from; i < to; i++)
    for (const p of ALL_PROFILES) s.addSegmentToStream(rec, segmentInput(i, p));
}

describe('stream events from DistributionService', () => {
  it('announces a started stream with its cap and start time', () => {
    const { service, clock, events } = recorded();
    service.startLiveStream('lecture', 25);
    assert.deepEqual(events, [
      {
        type: 'stream_started',
        event: { recordingId: 'lecture', maxViewers: 25, at: clock.now },
      },
    ]);
  });

  it('announces a named join with its profile and an anonymous join as anonymous', () => {
    const { service, clock, of } = recorded();
    service.startLiveStream('lecture');
    clock.now += 1000;
    service.joinStream('lecture', 'alice', 'High');
    const anonymous = service.joinAnonymous('lecture');
    assert.deepEqual(of('viewer_joined'), [
      {
        recordingId: 'lecture',
        viewerId: 'alice',
        anonymous: false,
        profile: 'High',
        at: clock.now,
      },
      {
        recordingId: 'lecture',
        viewerId: anonymous.viewerId,
        anonymous: true,
        profile: 'Low',
        at: clock.now,
      },
    ]);
    assert.match(anonymous.viewerId, /^anon-/);
  });

  it('announces a leave with what the viewer received and when it joined and was last seen', async () => {
    const { service, clock, of } = recorded();
    service.startLiveStream('lecture');
    publish(service, 'lecture', 0, 3);
    const joinedAt = clock.now;
    service.joinStream('lecture', 'alice', 'Medium');
    clock.now += 2000;
    await service.waitForNextSegment('lecture', 'alice', 0);
    clock.now += 2000;
    await service.waitForNextSegment('lecture', 'alice', 0);
    const lastSeenAt = clock.now;
    clock.now += 500;
    service.leaveStream('lecture', 'alice');
    const bytes =
      segmentInput(0, 'Medium').data.byteLength + segmentInput(1, 'Medium').data.byteLength;
    assert.deepEqual(of('viewer_left'), [
      {
        recordingId: 'lecture',
        viewerId: 'alice',
        reason: 'left',
        joinedAt,
        lastSeenAt,
        at: clock.now,
        segmentsReceived: 2,
        bytesReceived: bytes,
      },
    ]);
  });

  it('announces an idle viewer as leaving for idleness when cleanup finds it past the timeout', () => {
    const { service, clock, of } = recorded({ idleTimeoutMs: 10_000 });
    service.startLiveStream('lecture');
    service.joinStream('lecture', 'quiet');
    service.joinStream('lecture', 'busy');
    const joinedAt = clock.now;
    clock.now += 8000;
    service.adaptViewerQuality('lecture', 'busy', 80);
    clock.now += 2001;
    service.cleanup();
    assert.deepEqual(
      of('viewer_left').map((e) => [e.viewerId, e.reason, e.lastSeenAt, e.at]),
      [['quiet', 'idle', joinedAt, clock.now]],
    );
    clock.now += 10_000;
    service.cleanup();
    assert.deepEqual(
      of('viewer_left').map((e) => [e.viewerId, e.reason]),
      [
        ['quiet', 'idle'],
        ['busy', 'idle'],
      ],
    );
    assert.equal(service.getStreamViewers('lecture').length, 0);
  });

  it('announces the end with the peak of viewers and the start and end times', () => {
    const { service, clock, of } = recorded();
    const startedAt = clock.now;
    service.startLiveStream('lecture');
    for (const v of ['a', 'b', 'c']) service.joinStream('lecture', v);
    service.leaveStream('lecture', 'a');
    service.leaveStream('lecture', 'b');
    clock.now += 60_000;
    service.endLiveStream('lecture');
    assert.deepEqual(of('stream_ended'), [
      { recordingId: 'lecture', startedAt, at: clock.now, peakViewers: 3 },
    ]);
    assert.throws(() => service.endLiveStream('lecture'), { code: 'STREAM_ENDED' });
    assert.equal(of('stream_ended').length, 1, 'a refused second end announces nothing');
  });

  it('announces viewers still present when an ended stream is removed as stream_removed', () => {
    const { service, clock, of } = recorded({ retentionMs: 30_000, idleTimeoutMs: 3_600_000 });
    service.startLiveStream('lecture');
    service.joinStream('lecture', 'stays');
    service.endLiveStream('lecture');
    clock.now += 30_001;
    service.cleanup();
    assert.deepEqual(
      of('viewer_left').map((e) => [e.viewerId, e.reason, e.at]),
      [['stays', 'stream_removed', clock.now]],
    );
    assert.throws(() => service.getDistributor('lecture'), { code: 'STREAM_NOT_FOUND' });
  });

  it('announces the viewers of an ended stream replaced by a new start, before the new start', () => {
    const { service, events } = recorded({ idleTimeoutMs: 3_600_000 });
    service.startLiveStream('lecture');
    service.joinStream('lecture', 'stays');
    service.endLiveStream('lecture');
    service.startLiveStream('lecture');
    assert.deepEqual(
      events.map((e) => e.type),
      ['stream_started', 'viewer_joined', 'stream_ended', 'viewer_left', 'stream_started'],
    );
    assert.deepEqual(events[3]?.event, {
      ...(events[3]?.event as object),
      viewerId: 'stays',
      reason: 'stream_removed',
    });
  });

  it('announces a refused join at the cap, and no join', () => {
    const { service, clock, of } = recorded();
    service.startLiveStream('small', 1);
    service.joinStream('small', 'first');
    assert.throws(() => service.joinStream('small', 'second'), { code: 'STREAM_FULL' });
    assert.throws(() => service.joinAnonymous('small'), { code: 'STREAM_FULL' });
    assert.deepEqual(of('viewer_cap_reached'), [
      { recordingId: 'small', maxViewers: 1, at: clock.now },
      { recordingId: 'small', maxViewers: 1, at: clock.now },
    ]);
    assert.deepEqual(
      of('viewer_joined').map((e) => e.viewerId),
      ['first'],
    );
  });

  it('announces nothing for a refused duplicate join or a leave of an unknown viewer', () => {
    const { service, events } = recorded();
    service.startLiveStream('lecture');
    service.joinStream('lecture', 'alice');
    const before = events.length;
    assert.throws(() => service.joinStream('lecture', 'alice'), { code: 'VIEWER_EXISTS' });
    assert.throws(() => service.leaveStream('lecture', 'bob'), { code: 'VIEWER_NOT_FOUND' });
    assert.equal(events.length, before);
  });

  it('keeps serving when a listener throws, still tells the other listeners, and reports the error', () => {
    const errors: unknown[] = [];
    const { service, of } = recorded({ onListenerError: (error) => errors.push(error) });
    service.events.prependListener('viewer_joined', () => {
      throw new Error('listener broke');
    });
    service.startLiveStream('lecture');
    const session = service.joinStream('lecture', 'alice');
    assert.equal(service.findSession(session.sessionId)?.session.viewerId, 'alice');
    assert.deepEqual(
      of('viewer_joined').map((e) => e.viewerId),
      ['alice'],
      'the listener after the throwing one heard the join',
    );
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /listener broke/);
  });

  it('reports a rejecting async listener instead of leaving the rejection unhandled', async () => {
    const errors: unknown[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { service } = recorded({ onListenerError: (error) => errors.push(error) });
      service.events.on('stream_started', async () => {
        throw new Error('async listener broke');
      });
      service.startLiveStream('lecture');
      await tick();
      await tick();
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /async listener broke/);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps serving when the error handler itself throws', () => {
    const { service } = recorded({
      onListenerError: () => {
        throw new Error('handler broke too');
      },
    });
    service.events.on('stream_started', () => {
      throw new Error('listener broke');
    });
    assert.equal(service.startLiveStream('lecture').recordingId, 'lecture');
  });
});

describe('StreamEvents', () => {
  it('calls a once listener a single time', () => {
    const events = new StreamEvents();
    const heard: string[] = [];
    events.once('stream_started', (e) => heard.push(e.recordingId));
    events.publish('stream_started', { recordingId: 'a', maxViewers: 1, at: 0 });
    events.publish('stream_started', { recordingId: 'b', maxViewers: 1, at: 0 });
    assert.deepEqual(heard, ['a']);
    assert.equal(events.listenerCount('stream_started'), 0);
  });
});
