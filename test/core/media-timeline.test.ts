import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveDistributor } from '../../src/core/distributor.js';
import type { ProfileName } from '../../src/core/profiles.js';
import { segmentInput } from '../helpers/segments.js';

function stream(): LiveDistributor {
  return new LiveDistributor('t', { maxViewers: 10, retentionMs: 60_000, newSessionId: () => 'x' });
}

function push(
  d: LiveDistributor,
  sequence: number,
  profile: ProfileName,
  now: number,
  durationSec = 2,
  discontinuity = false,
) {
  return d.enqueueSegment({ ...segmentInput(sequence, profile), durationSec, discontinuity }, now)
    .programDateTime;
}

describe('program date-times from the media timeline', () => {
  it("anchors the stream's first segment to the wall clock: its first frame one duration before publication", () => {
    assert.equal(push(stream(), 0, 'Low', 100_000, 2), 98_000);
  });

  it('spaces segments published at the same instant by their durations, not by their arrival', () => {
    const d = stream();
    const at = 500_000;
    const times = [
      push(d, 0, 'Low', at, 2.0),
      push(d, 1, 'Low', at, 1.5),
      push(d, 2, 'Low', at, 2.5),
    ];
    assert.deepEqual(times, [498_000, 500_000, 501_500]);
  });

  it('gives a media sequence number the same date-time in every rendition, whenever each publishes it', () => {
    const d = stream();
    const low = [push(d, 0, 'Low', 10_000), push(d, 1, 'Low', 12_000), push(d, 2, 'Low', 14_000)];
    // High comes late and at odd times, with a slightly different duration for 0.
    const high = [
      push(d, 0, 'High', 15_003, 2.04),
      push(d, 1, 'High', 15_004),
      push(d, 2, 'High', 19_000),
    ];
    assert.deepEqual(high, low);
    // A number High publishes first is placed by High, and Low follows it.
    const three = push(d, 3, 'High', 20_000);
    assert.equal(three, (low[2] ?? 0) + 2000);
    assert.equal(push(d, 3, 'Low', 25_000), three);
  });

  it('anchors anew after a discontinuity, never before the segments already placed', () => {
    const d = stream();
    push(d, 0, 'Low', 10_000);
    push(d, 1, 'Low', 12_000);
    // The encoder restarts 30 s later: the wall clock, not the old timeline, dates it.
    assert.equal(push(d, 2, 'Low', 42_000, 2, true), 40_000);
    // Pushed faster than real time, then restarted at once: still after what came before.
    const e = stream();
    for (let s = 0; s < 5; s++) push(e, s, 'Low', 10_000);
    assert.equal(push(e, 5, 'Low', 10_001, 2, true), 8_000 + 5 * 2000);
  });

  it('anchors a segment whose predecessor no rendition got to the wall clock, leaving room for the lost one', () => {
    const d = stream();
    push(d, 0, 'Low', 10_000);
    // 1 was lost everywhere; 2 arrives at once (pushed back to back).
    const two = push(d, 2, 'Low', 10_001);
    assert.equal(two, 8_000 + 2000 + 2000, 'after 0 and a nominal 2 s for the lost 1');
    const e = stream();
    push(e, 0, 'Low', 10_000);
    assert.equal(push(e, 2, 'Low', 60_000), 58_000, 'late: the wall clock');
  });
});
