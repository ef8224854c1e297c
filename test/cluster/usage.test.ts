import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyUsage, UsageBatch, type UsageOp, type UsageReport } from '../../src/cluster/usage.js';
import type { ProfileName } from '../../src/core/profiles.js';
import type { ViewerSession } from '../../src/core/viewer-session.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { HlsDelivery } from '../../src/service/hls-delivery.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

/** A service with one stream, two seated viewers of known session ids, on a clock the test moves. */
function setUp(clock: { now: number }) {
  const service = new DistributionService({ clock: () => clock.now });
  service.startLiveStream('lecture');
  for (let n = 0; n < 4; n++) {
    for (const profile of ALL_PROFILES)
      service.addSegmentToStream('lecture', segmentInput(n, profile, 20_000 + n));
  }
  service.joinStream('lecture', 'ada', 'Low', 'vs-ada');
  service.joinStream('lecture', 'bob', 'Low', 'vs-bob');
  return { service, hls: new HlsDelivery(service, { playlistSegments: 6 }) };
}

function state(session: ViewerSession) {
  return {
    segments: session.segmentsReceived,
    bytes: session.bytesReceived,
    lastSequence: session.lastSequence,
    lastSeenAt: session.lastSeenAt,
    current: session.currentBitrate,
    target: session.targetBitrate,
    history: session.bitrateHistory,
    buffer: session.bufferHealth,
    throughput: session.throughputKbps,
    recommended: session.recommendedBitrate,
    lowBufferEvents: session.lowBufferEvents,
    stalls: session.stalls,
    switches: session.switchCount,
    profileMs: session.profileMs(),
  };
}

describe('usage a worker reports, applied on the primary', () => {
  it('leaves sessions and totals exactly as serving the same requests on the primary would', async () => {
    const clock = { now: 1_000_000 };
    const reference = setUp(clock);
    const primary = setUp(clock);
    const incarnation = primary.service.getDistributor('lecture').incarnation;
    const batch = new UsageBatch();
    const segment = (n: number, profile: ProfileName) => {
      const found = reference.service.getDistributor('lecture').window(profile).get(`seg-${n}`);
      assert.ok(found);
      return found;
    };
    /** One segment response: served on the reference, reported in the batch. */
    const fetch = (
      sessionId: string | undefined,
      n: number,
      profile: ProfileName,
      bytes: number,
      elapsedMs: number,
      report: UsageReport,
    ) => {
      const whole = bytes === segment(n, profile).data.byteLength;
      reference.hls.recordSegmentSent(
        'lecture',
        segment(n, profile),
        bytes,
        elapsedMs,
        { ...report, sessionId },
        whole,
      );
      batch.add({
        kind: 'fetch',
        recordingId: 'lecture',
        incarnation,
        sessionId,
        profile,
        sequence: n,
        bytes,
        whole,
        sampleKbps:
          sessionId !== undefined && bytes >= 16 * 1024 ? (bytes * 8) / elapsedMs : undefined,
        report,
        at: clock.now,
      });
    };
    const playlist = (sessionId: string, profile: ProfileName, report: UsageReport) => {
      reference.hls.mediaPlaylist('lecture', profile, { ...report, sessionId });
      batch.add({
        kind: 'report',
        recordingId: 'lecture',
        incarnation,
        sessionId,
        observed: undefined,
        report,
        at: clock.now,
      });
    };
    fetch('vs-ada', 0, 'Low', 20_000, 10, {
      bufferLengthMs: 4000,
      throughputKbps: 3000,
      bufferStarvation: false,
    });
    clock.now += 2000;
    // The player takes High on its own: an observed switch, at the request's time.
    fetch('vs-ada', 1, 'High', 20_001, 40, { bufferLengthMs: 500, bufferStarvation: true });
    clock.now += 500;
    playlist('vs-ada', 'High', { bufferLengthMs: 300, bufferStarvation: true });
    clock.now += 1500;
    // A byte range counts bytes, not a segment.
    fetch('vs-ada', 2, 'High', 1000, 1, {});
    playlist('vs-bob', 'Low', {});
    fetch('vs-bob', 2, 'Low', 20_002, 0, { bufferLengthMs: 6000 });
    fetch(undefined, 3, 'Medium', 20_003, 5, {});
    await reference.hls.multivariant('lecture', { sessionId: 'vs-bob', bufferLengthMs: 100 });
    batch.add({
      kind: 'report',
      recordingId: 'lecture',
      incarnation,
      sessionId: 'vs-bob',
      observed: undefined,
      report: { bufferLengthMs: 100 },
      at: clock.now,
    });
    assert.equal(batch.size, 8);
    applyUsage(primary.service, batch.take());
    assert.equal(batch.size, 0);
    for (const viewer of ['ada', 'bob']) {
      assert.deepEqual(
        state(primary.service.getDistributor('lecture').session(viewer)),
        state(reference.service.getDistributor('lecture').session(viewer)),
        viewer,
      );
    }
    assert.deepEqual(
      primary.service.getDistributor('lecture').getSummary(),
      reference.service.getDistributor('lecture').getSummary(),
    );
    const ada = primary.service.getDistributor('lecture').session('ada');
    assert.equal(ada.segmentsReceived, 2);
    assert.equal(ada.bytesReceived, 20_000 + 20_001 + 1000);
    assert.equal(ada.stalls, 1);
    assert.equal(ada.currentBitrate, 'High');
    await reference.service.shutdown(0);
    await primary.service.shutdown(0);
  });

  it('counts a session gone since to its stream only, and skips a stream replaced since', async () => {
    const clock = { now: 1_000_000 };
    const { service } = setUp(clock);
    const incarnation = service.getDistributor('lecture').incarnation;
    const op = (sessionId: string, inc: string): UsageOp => ({
      kind: 'fetch',
      recordingId: 'lecture',
      incarnation: inc,
      sessionId,
      profile: 'Low',
      sequence: 1,
      bytes: 20_001,
      whole: true,
      sampleKbps: 8000,
      report: {},
      at: clock.now,
    });
    service.leaveStream('lecture', 'bob');
    applyUsage(service, [op('vs-bob', incarnation), op('vs-ada', 'another-incarnation')]);
    const summary = service.getDistributor('lecture').getSummary();
    assert.equal(summary.totalSegmentsServed, 1);
    assert.equal(summary.totalBytesServed, 20_001);
    assert.equal(service.getDistributor('lecture').session('ada').segmentsReceived, 0);
    applyUsage(service, [{ ...op('vs-ada', incarnation), recordingId: 'gone' }]);
    await service.shutdown(0);
  });

  it('keeps a viewer’s last request as its last sign of life when batches arrive out of time order', async () => {
    const clock = { now: 1_000_000 };
    const { service } = setUp(clock);
    const incarnation = service.getDistributor('lecture').incarnation;
    const at = (t: number): UsageOp => ({
      kind: 'report',
      recordingId: 'lecture',
      incarnation,
      sessionId: 'vs-ada',
      observed: undefined,
      report: {},
      at: t,
    });
    applyUsage(service, [at(1_005_000)]);
    applyUsage(service, [at(1_004_000)]);
    assert.equal(service.getDistributor('lecture').session('ada').lastSeenAt, 1_005_000);
    await service.shutdown(0);
  });
});
