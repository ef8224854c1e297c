import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { LiveDistributor } from '../../src/core/distributor.js';
import { type AdaptationPolicy, seedBufferPolicy } from '../../src/core/quality.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

let ids = 0;
function distributor(
  maxViewers = 100,
  extra: Partial<{ policy: AdaptationPolicy; maxBacklog: number }> = {},
) {
  // The seed's rule, whose bands these tests are written in (the default policy is vtp's).
  return new LiveDistributor('rec-1', {
    maxViewers,
    retentionMs: 30_000,
    newSessionId: () => `vs-${++ids}`,
    policy: seedBufferPolicy,
    ...extra,
  });
}

/** Publishes sequences [from, to) in every profile at time `at`. */
function publish(d: LiveDistributor, from: number, to: number, at = 0): void {
  for (let s = from; s < to; s++)
    for (const p of ALL_PROFILES) d.enqueueSegment(segmentInput(s, p), at);
}

describe('LiveDistributor', () => {
  let d: LiveDistributor;
  beforeEach(() => {
    d = distributor();
  });

  it('starts live, empty, with the seed caps', () => {
    assert.equal(d.status, 'live');
    assert.equal(d.activeViewers, 0);
    assert.deepEqual(d.profileCaps, { VeryLow: 100, Low: 75, Medium: 50, High: 25 });
  });

  it('enqueues segments per bitrate, stamped with the publish time', () => {
    const s = d.enqueueSegment(segmentInput(1, 'High'), 1234);
    assert.equal(s.createdAt, 1234);
    assert.equal(s.contentType, 'video/mp2t');
    assert.equal(d.window('High').size, 1);
    assert.equal(d.window('Low').size, 0);
  });

  it('joins a viewer at its initial bitrate with a unique session and default buffer health', () => {
    const a = d.joinViewer('a', 'Medium', 10);
    const b = d.joinViewer('b', 'Medium', 10);
    assert.equal(a.currentBitrate, 'Medium');
    assert.equal(a.bufferHealth, 50);
    assert.equal(a.connectionQuality, 'good');
    assert.notEqual(a.sessionId, b.sessionId);
    assert.deepEqual(a.bitrateHistory, []);
    assert.equal(d.getStats().viewersByProfile.Medium, 2);
  });

  it('refuses a viewer that already joined', () => {
    d.joinViewer('a', 'Low', 0);
    assert.throws(() => d.joinViewer('a', 'Low', 0), { code: 'VIEWER_EXISTS' });
  });

  it('refuses a join beyond the stream cap with a clear error', () => {
    const small = distributor(3);
    for (const v of ['a', 'b', 'c']) small.joinViewer(v, 'VeryLow', 0);
    assert.throws(() => small.joinViewer('d', 'VeryLow', 0), {
      code: 'STREAM_FULL',
      message: /max_viewers 3/,
    });
    small.leaveViewer('a');
    assert.equal(small.joinViewer('d', 'VeryLow', 0).viewerId, 'd');
  });

  it('lands a join into a full profile on the next lower profile with room, recorded in history', () => {
    for (let i = 0; i < 25; i++) d.joinViewer(`h${i}`, 'High', 0);
    const late = d.joinViewer('late', 'High', 5);
    assert.equal(late.currentBitrate, 'Medium');
    assert.deepEqual(late.bitrateHistory, [
      { from: 'High', to: 'Medium', at: 5, reason: 'profile_full' },
    ]);
    assert.deepEqual(d.getStats().viewersByProfile, { VeryLow: 0, Low: 0, Medium: 1, High: 25 });
  });

  it('walks down past every full profile, and always finds room at VeryLow below the stream cap', () => {
    const small = distributor(4); // caps: VeryLow 4, Low 3, Medium 2, High 1
    const landed = ['a', 'b', 'c', 'd'].map((v) => small.joinViewer(v, 'High', 0).currentBitrate);
    assert.deepEqual(landed, ['High', 'Medium', 'Medium', 'Low']);
    assert.deepEqual(
      small.session('d').bitrateHistory.map((h) => [h.from, h.to, h.reason]),
      [['High', 'Low', 'profile_full']],
    );
  });

  it('leaves a viewer and frees its profile slot', () => {
    d.joinViewer('a', 'High', 0);
    const left = d.leaveViewer('a');
    assert.equal(left.viewerId, 'a');
    assert.equal(d.activeViewers, 0);
    assert.equal(d.getStats().viewersByProfile.High, 0);
    assert.throws(() => d.leaveViewer('a'), { code: 'VIEWER_NOT_FOUND', field: 'viewer_id' });
  });

  it('tracks peak viewers after they leave', () => {
    for (const v of ['a', 'b', 'c']) d.joinViewer(v, 'Low', 0);
    d.leaveViewer('a');
    d.leaveViewer('b');
    const stats = d.getStats();
    assert.equal(stats.activeViewers, 1);
    assert.equal(stats.peakViewers, 3);
  });

  it('switches bitrate with history, and lands lower when the target is full', () => {
    d.joinViewer('a', 'Low', 0);
    assert.equal(d.switchBitrate('a', 'High', 1), 'High');
    assert.equal(d.switchBitrate('a', 'High', 2), 'High', 'no-op switch');
    for (let i = 0; i < 24; i++) d.joinViewer(`h${i}`, 'High', 3);
    d.joinViewer('b', 'Low', 3);
    assert.equal(d.switchBitrate('b', 'High', 4), 'Medium');
    assert.deepEqual(
      d.session('b').bitrateHistory.map((h) => [h.from, h.to, h.reason]),
      [['Low', 'Medium', 'profile_full']],
    );
    assert.deepEqual(
      d.session('a').bitrateHistory.map((h) => [h.from, h.to, h.at, h.reason]),
      [['Low', 'High', 1, 'manual']],
    );
    assert.deepEqual(d.getStats().viewersByProfile, { VeryLow: 0, Low: 0, Medium: 1, High: 25 });
  });

  it('updates buffer health and infers connection quality', () => {
    d.joinViewer('a', 'Low', 0);
    const s = d.updateViewerBuffer('a', 90, 7);
    assert.equal(s.bufferHealth, 90);
    assert.equal(s.connectionQuality, 'excellent');
    assert.equal(s.lastSeenAt, 7);
    assert.equal(d.updateViewerBuffer('a', 10, 8).connectionQuality, 'poor');
    assert.throws(() => d.updateViewerBuffer('a', 101, 9), { code: 'INVALID_BUFFER_HEALTH' });
    assert.equal(s.bufferHealth, 10, 'a rejected report changes nothing');
  });

  it('adapts quality by the seed policy and records the switch as adaptation', () => {
    d.joinViewer('a', 'Medium', 0);
    assert.deepEqual(d.adaptViewerQuality('a', 30, 1), {
      previous: 'Medium',
      current: 'Low',
      switched: true,
      reason: 'buffer health 30 < 40: one down',
    });
    assert.deepEqual(d.adaptViewerQuality('a', 60, 2), {
      previous: 'Low',
      current: 'Low',
      switched: false,
      reason: 'buffer health 60 in 40-85: hold',
    });
    assert.deepEqual(d.adaptViewerQuality('a', 5, 3), {
      previous: 'Low',
      current: 'VeryLow',
      switched: true,
      reason: 'buffer health 5 < 20: lowest',
    });
    assert.deepEqual(d.adaptViewerQuality('a', 95, 4), {
      previous: 'VeryLow',
      current: 'Low',
      switched: true,
      reason: 'buffer health 95 > 85: one up',
    });
    assert.deepEqual(
      d.session('a').bitrateHistory.map((h) => [h.reason, h.detail]),
      [
        ['adaptation', 'buffer health 30 < 40: one down'],
        ['adaptation', 'buffer health 5 < 20: lowest'],
        ['adaptation', 'buffer health 95 > 85: one up'],
      ],
      'each switch keeps the policy reason',
    );
  });

  it('holds the profile when adaptation wants a full profile and nothing between has room', () => {
    const small = distributor(4); // caps: VeryLow 4, Low 3, Medium 2, High 1
    small.joinViewer('a', 'Medium', 0);
    small.joinViewer('b', 'Medium', 0);
    small.joinViewer('c', 'Low', 0);
    assert.deepEqual(small.adaptViewerQuality('c', 95, 1), {
      previous: 'Low',
      current: 'Low',
      switched: false,
      reason: 'buffer health 95 > 85: one up',
    });
    assert.deepEqual(small.session('c').bitrateHistory, []);
    assert.equal(small.session('c').connectionQuality, 'excellent');
  });

  it('decides from its own last choice when a player has not followed it yet', () => {
    d.joinViewer('a', 'High', 0);
    assert.equal(d.adaptViewerQuality('a', 5, 1).current, 'VeryLow');
    d.observeBitrate('a', 'High', 2); // the player still fetches High for a moment
    const session = d.session('a');
    assert.deepEqual([session.currentBitrate, session.targetBitrate], ['High', 'VeryLow']);
    assert.deepEqual(d.adaptViewerQuality('a', 95, 3), {
      previous: 'VeryLow',
      current: 'Low',
      switched: true,
      reason: 'buffer health 95 > 85: one up',
    });
    assert.deepEqual(
      session.bitrateHistory.map((h) => [h.from, h.to, h.reason]),
      [
        ['High', 'VeryLow', 'adaptation'],
        ['VeryLow', 'High', 'observed'],
        ['High', 'Low', 'adaptation'],
      ],
    );
    assert.deepEqual(d.getStats().viewersByProfile, { VeryLow: 0, Low: 1, Medium: 0, High: 0 });
  });

  it('uses a swapped-in adaptation policy', () => {
    const alwaysHigh: AdaptationPolicy = {
      name: 'always-high',
      decide: () => ({ profile: 'High', reason: 'always' }),
    };
    const custom = distributor(100, { policy: alwaysHigh });
    custom.joinViewer('a', 'VeryLow', 0);
    assert.equal(custom.adaptViewerQuality('a', 1, 1).current, 'High');
  });

  it('serves a fresh viewer its profile buffer behind the live edge, then each next segment', () => {
    publish(d, 0, 10);
    d.joinViewer('a', 'Low', 0); // Low buffers 4 segments
    const got = [1, 2, 3, 4, 5].map(() => d.getNextSegment('a', 1)?.sequence);
    assert.deepEqual(got, [6, 7, 8, 9, undefined]);
    publish(d, 10, 11);
    assert.equal(d.getNextSegment('a', 2)?.sequence, 10);
  });

  it('continues the cursor at the new bitrate after a switch', () => {
    publish(d, 0, 10);
    d.joinViewer('a', 'High', 0);
    assert.equal(d.getNextSegment('a', 0)?.profile, 'High');
    const first = d.session('a').lastSequence;
    d.switchBitrate('a', 'VeryLow', 1);
    const next = d.getNextSegment('a', 1);
    assert.equal(next?.profile, 'VeryLow');
    assert.equal(next?.sequence, first + 1);
  });

  it('skips to the oldest segment still held when the viewer fell behind expiry', () => {
    d.joinViewer('a', 'Low', 0);
    publish(d, 0, 3, 0);
    assert.equal(d.getNextSegment('a', 0)?.sequence, 0);
    publish(d, 3, 6, 20_000);
    d.expireSegments(40_000);
    assert.equal(d.getNextSegment('a', 40_000)?.sequence, 3);
  });

  it('delivers a segment at the viewer bitrate, counted once, returned first by getNextSegment', () => {
    publish(d, 0, 10);
    const viewer = d.joinViewer('a', 'Medium', 0);
    const delivered = d.deliverSegment('a', 'seg-2', 1);
    assert.equal(delivered.profile, 'Medium');
    assert.equal(viewer.segmentsReceived, 1);
    assert.equal(viewer.bytesReceived, delivered.data.byteLength);
    assert.equal(d.getNextSegment('a', 2), delivered, 'the delivered segment comes first');
    assert.equal(viewer.segmentsReceived, 1, 'handing it out again does not count twice');
    assert.equal(d.getNextSegment('a', 3)?.sequence, 3, 'then the cursor continues after it');
    assert.equal(viewer.segmentsReceived, 2);
  });

  it('refuses delivery of a segment unknown at the viewer bitrate', () => {
    d.enqueueSegment(segmentInput(1, 'High'), 0);
    d.joinViewer('a', 'Low', 0);
    assert.throws(() => d.deliverSegment('a', 'seg-1', 0), {
      code: 'SEGMENT_NOT_FOUND',
      field: 'segment_id',
    });
    assert.throws(() => d.deliverSegment('zz', 'seg-1', 0), { code: 'VIEWER_NOT_FOUND' });
  });

  it('bounds the delivered-but-unfetched backlog of a viewer', () => {
    const small = distributor(100, { maxBacklog: 2 });
    publish(small, 0, 5);
    small.joinViewer('a', 'Low', 0);
    small.deliverSegment('a', 'seg-0', 0);
    small.deliverSegment('a', 'seg-1', 0);
    assert.throws(() => small.deliverSegment('a', 'seg-2', 0), { code: 'VIEWER_BACKLOG_FULL' });
    assert.equal(small.session('a').segmentsReceived, 2);
  });

  it('reports stats whose totals are the real bytes handed to viewers', () => {
    publish(d, 0, 6);
    d.joinViewer('a', 'VeryLow', 0);
    d.joinViewer('b', 'High', 0);
    let expected = 0;
    for (const v of ['a', 'b']) {
      for (let i = 0; i < 3; i++) expected += d.getNextSegment(v, 1)?.data.byteLength ?? 0;
    }
    const stats = d.getStats();
    assert.equal(stats.totalSegmentsServed, 6);
    assert.equal(stats.totalBytesServed, expected);
    assert.equal(
      stats.viewers.reduce((sum, v) => sum + v.bytesReceived, 0),
      expected,
    );
    assert.deepEqual(stats.segmentsAvailable, { VeryLow: 6, Low: 6, Medium: 6, High: 6 });
    assert.equal(d.getAllViewerSessions().length, 2);
  });

  it('expires segments older than the retention window in every rendition', () => {
    publish(d, 0, 2, 0);
    publish(d, 2, 4, 20_000);
    assert.equal(d.expireSegments(30_000).length, 0);
    const expired = d.expireSegments(30_001);
    assert.equal(expired.length, 8);
    assert.deepEqual(d.getStats().segmentsAvailable, { VeryLow: 2, Low: 2, Medium: 2, High: 2 });
  });

  it('ends: no more segments or joins, while present viewers drain what is left', () => {
    publish(d, 0, 2);
    d.joinViewer('a', 'Low', 0);
    d.end(100);
    assert.equal(d.status, 'ended');
    assert.equal(d.endedAtMs, 100);
    assert.throws(() => d.enqueueSegment(segmentInput(9), 101), { code: 'STREAM_ENDED' });
    assert.throws(() => d.joinViewer('b', 'Low', 101), { code: 'STREAM_ENDED' });
    assert.equal(d.getNextSegment('a', 102)?.sequence, 0);
  });

  it('keeps counters exact through hundreds of interleaved joins, deliveries and leaves', () => {
    const big = distributor(1000);
    publish(big, 0, 20);
    let bytes = 0;
    for (let i = 0; i < 600; i++) {
      big.joinViewer(`v${i}`, ALL_PROFILES[i % 4] ?? 'Low', i);
      bytes += big.deliverSegment(`v${i}`, `seg-${i % 20}`, i).data.byteLength;
      if (i % 3 === 0) big.leaveViewer(`v${i}`);
    }
    const stats = big.getStats();
    assert.equal(stats.activeViewers, 400);
    assert.equal(stats.peakViewers, 400);
    assert.equal(stats.totalSegmentsServed, 600);
    assert.equal(stats.totalBytesServed, bytes);
    const byProfile = Object.values(stats.viewersByProfile).reduce((a, b) => a + b, 0);
    assert.equal(byProfile, 400);
  });
});

describe('LiveDistributor: incarnation, target duration, gaps', () => {
  it('carries the incarnation it was given and numbers on from the highest sequence it ever published', () => {
    const d = new LiveDistributor('r', {
      maxViewers: 1,
      retentionMs: 1000,
      newSessionId: () => 'x',
      incarnation: 'abc123',
    });
    assert.equal(d.incarnation, 'abc123');
    assert.equal(d.nextSequence, 0);
    d.enqueueSegment(segmentInput(7, 'Low'), 0);
    d.enqueueSegment(segmentInput(3, 'High'), 0);
    d.expireSegments(10_000);
    assert.equal(d.window('Low').size, 0);
    assert.equal(d.nextSequence, 8, 'expired segments still count');
  });

  it("fixes the stream's target duration at its first segment, for every rendition", () => {
    const d = distributor();
    assert.equal(d.targetDurationSec, 2);
    d.enqueueSegment({ ...segmentInput(0, 'Low'), declaredTargetSec: 4 }, 0);
    d.enqueueSegment({ ...segmentInput(0, 'High'), durationSec: 1, declaredTargetSec: 2 }, 0);
    d.enqueueSegment({ ...segmentInput(1, 'Low'), durationSec: 3.9, declaredTargetSec: 10 }, 0);
    assert.equal(d.targetDurationSec, 4);
    assert.equal(d.targetDurationRaises, 0);
    d.enqueueSegment({ ...segmentInput(2, 'Low'), durationSec: 5.2 }, 0);
    assert.equal(d.targetDurationSec, 5);
    assert.equal(d.targetDurationRaises, 1);
  });

  it('leaves nothing behind when the window refuses a segment', () => {
    const d = distributor();
    d.enqueueSegment(segmentInput(5, 'Low'), 0);
    assert.throws(() => d.enqueueSegment({ ...segmentInput(4, 'Low'), durationSec: 9 }, 0));
    assert.equal(d.targetDurationSec, 2);
    assert.equal(d.nextSequence, 6);
  });

  it('records the numbers a rendition lost with the durations other renditions got for them', () => {
    const d = distributor();
    for (const s of [0, 1, 2, 3])
      d.enqueueSegment({ ...segmentInput(s, 'High'), durationSec: 1.5 + s / 10 }, 0);
    d.enqueueSegment(segmentInput(0, 'Low'), 0);
    const after = d.enqueueSegment(segmentInput(3, 'Low'), 0);
    assert.deepEqual(after.gapBefore, [1.6, 1.7]);
    // Lost everywhere: the nominal duration.
    const far = d.enqueueSegment(segmentInput(5, 'Low'), 0);
    assert.deepEqual(far.gapBefore, [2]);
    // A jump beyond what a playlist lists as gaps is no gap: the playlist starts after it.
    assert.equal(d.enqueueSegment(segmentInput(500, 'Low'), 0).gapBefore, undefined);
    assert.equal(d.window('Low').newest?.gapBefore, undefined);
  });

  it('counts a byte range to the viewer and the stream as bytes, not as a segment', () => {
    const d = distributor();
    publish(d, 0, 2);
    const viewer = d.joinViewer('v', 'Low', 0);
    const segment = d.window('High').get('seg-1');
    assert.ok(segment);
    d.recordPartialFetch('v', segment, 100, 1);
    d.recordUnattributedFetch(50, false);
    assert.deepEqual(
      [viewer.segmentsReceived, viewer.bytesReceived, viewer.currentBitrate],
      [0, 100, 'High'],
    );
    assert.deepEqual(d.served, { segments: 0, bytes: 150 });
    d.recordFetch('v', segment, segment.data.byteLength, 2);
    assert.equal(viewer.segmentsReceived, 1);
  });
});
