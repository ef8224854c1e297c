import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveDistributor } from '../../src/core/distributor.js';
import { segmentInput } from '../helpers/segments.js';

let ids = 0;
function distributor(): LiveDistributor {
  return new LiveDistributor('lecture', {
    maxViewers: 10,
    retentionMs: 30_000,
    newSessionId: () => `vs-${++ids}`,
    incarnation: 'abc',
  });
}

describe('LiveDistributor for the cluster', () => {
  it('recordRemoteFetch counts what recordFetch and recordPartialFetch count', () => {
    const local = distributor();
    const remote = distributor();
    for (const d of [local, remote]) {
      for (let n = 0; n < 3; n++) d.enqueueSegment(segmentInput(n, 'High'), 1000);
      d.joinViewer('ada', 'Low', 1000);
    }
    const seg = (n: number) => {
      const segment = local.window('High').get(`seg-${n}`);
      assert.ok(segment);
      return segment;
    };
    local.recordFetch('ada', seg(1), 1021, 2000);
    local.recordPartialFetch('ada', seg(2), 100, 3000);
    remote.recordRemoteFetch(
      'ada',
      { profile: 'High', sequence: 1, bytes: 1021, whole: true },
      2000,
    );
    remote.recordRemoteFetch(
      'ada',
      { profile: 'High', sequence: 2, bytes: 100, whole: false },
      3000,
    );
    const a = local.session('ada');
    const b = remote.session('ada');
    assert.deepEqual(
      [
        b.segmentsReceived,
        b.bytesReceived,
        b.lastSequence,
        b.lastSeenAt,
        b.currentBitrate,
        b.bitrateHistory,
      ],
      [
        a.segmentsReceived,
        a.bytesReceived,
        a.lastSequence,
        a.lastSeenAt,
        a.currentBitrate,
        a.bitrateHistory,
      ],
    );
    assert.deepEqual(remote.served, local.served);
    assert.deepEqual(remote.served, { segments: 1, bytes: 1121 });
    assert.deepEqual(remote.viewersByProfile, local.viewersByProfile);
  });

  it('recordRemoteFetch of a viewer gone since counts to the stream only', () => {
    const d = distributor();
    assert.equal(
      d.recordRemoteFetch('gone', { profile: 'Low', sequence: 0, bytes: 50, whole: false }, 1),
      undefined,
    );
    d.recordRemoteFetch('gone', { profile: 'Low', sequence: 0, bytes: 70, whole: true }, 1);
    assert.deepEqual(d.served, { segments: 1, bytes: 120 });
  });

  it('replicateSegment holds a segment exactly as published elsewhere, with its init and target', () => {
    const source = distributor();
    source.enqueueSegment(
      { ...segmentInput(0, 'Low'), durationSec: 2, declaredTargetSec: 4 },
      5000,
    );
    source.enqueueSegment({ ...segmentInput(2, 'Low'), discontinuity: true }, 9000);
    const copy = distributor();
    const init = { id: 'init-abc-0.mp4', data: new Uint8Array([9]), contentType: 'video/mp4' };
    for (const segment of source.window('Low').segments()) {
      copy.replicateSegment(segment, init, source.targetDurationSec);
    }
    assert.deepEqual(copy.window('Low').segments(), source.window('Low').segments());
    assert.equal(copy.window('Low').getInit(init.id), init);
    assert.equal(copy.targetDurationSec, 4);
    assert.equal(
      copy.window('Low').discontinuitySequence,
      source.window('Low').discontinuitySequence,
    );
    assert.equal(copy.lastSegmentAtByProfile.Low, 9000);
    // Its window expires by the publication times, as the source's does.
    copy.expireSegments(5000 + 30_001);
    assert.equal(copy.window('Low').size, 1);
  });
});
