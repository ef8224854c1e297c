import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import type { Segment } from '../../src/core/segment.js';
import { SegmentWindow } from '../../src/core/segment-window.js';
import { SteeredRendition, steeredListing } from '../../src/core/steered-rendition.js';
import { ViewerSession } from '../../src/core/viewer-session.js';

/** Four renditions with segments `from`..`to` each (optionally missing some numbers in one). */
function ladder(from: number, to: number, missing: Partial<Record<ProfileName, number[]>> = {}) {
  const windows = {} as Record<ProfileName, SegmentWindow>;
  for (const profile of PROFILE_NAMES) {
    windows[profile] = new SegmentWindow();
    for (let n = from; n <= to; n++) {
      if (missing[profile]?.includes(n)) continue;
      windows[profile].push(segment(profile, n));
    }
  }
  return windows;
}

function segment(profile: ProfileName, sequence: number): Segment {
  return {
    id: `${profile}-${sequence}`,
    sequence,
    profile,
    durationSec: 2,
    data: new Uint8Array(10),
    contentType: 'video/mp2t',
    createdAt: sequence * 2000,
    programDateTime: sequence * 2000,
    discontinuity: false,
    discontinuitySequence: 0,
  };
}

/** What a steered playlist lists when the policy wants `target` and the windows hold `w`. */
function list(
  steering: SteeredRendition,
  target: ProfileName,
  w: Record<ProfileName, SegmentWindow>,
) {
  return steeredListing(steering, target, w[target].latest(4), (p) => w[p]).map((s) => ({
    id: s.id,
    discontinuity: s.discontinuity,
    dseq: s.discontinuitySequence,
  }));
}

describe('steeredListing', () => {
  it('lists the chosen rendition and keeps earlier choices when the choice changes', () => {
    const steering = new SteeredRendition();
    let w = ladder(1, 4);
    assert.deepEqual(
      list(steering, 'Medium', w).map((s) => s.id),
      ['Medium-1', 'Medium-2', 'Medium-3', 'Medium-4'],
    );
    w = ladder(1, 6);
    const after = list(steering, 'VeryLow', w);
    assert.deepEqual(after, [
      { id: 'Medium-3', discontinuity: false, dseq: 0 },
      { id: 'Medium-4', discontinuity: false, dseq: 0 },
      { id: 'VeryLow-5', discontinuity: true, dseq: 1 },
      { id: 'VeryLow-6', discontinuity: false, dseq: 1 },
    ]);
    // A reload with nothing new lists the same (the choice of 5 and 6 is kept).
    assert.deepEqual(list(steering, 'High', w), after);
  });

  it('keeps discontinuity sequence numbers when the change slides out of the listing', () => {
    const steering = new SteeredRendition();
    list(steering, 'Low', ladder(1, 4));
    list(steering, 'High', ladder(1, 5)); // 5 is High: one change
    list(steering, 'Low', ladder(1, 6)); // 6 is Low: two changes
    const slid = list(steering, 'Low', ladder(4, 9));
    assert.deepEqual(slid, [
      { id: 'Low-6', discontinuity: true, dseq: 2 },
      { id: 'Low-7', discontinuity: false, dseq: 2 },
      { id: 'Low-8', discontinuity: false, dseq: 2 },
      { id: 'Low-9', discontinuity: false, dseq: 2 },
    ]);
    // Once the changes have slid out, later segments keep the count they had.
    const again = list(steering, 'Low', ladder(6, 10));
    assert.deepEqual(again.at(0), { id: 'Low-7', discontinuity: false, dseq: 2 });
  });

  it('never ends before what it listed, when the new choice has fewer segments yet', () => {
    const steering = new SteeredRendition();
    list(steering, 'Low', ladder(1, 6));
    const w = ladder(1, 6);
    w.High = new SegmentWindow();
    for (let n = 1; n <= 5; n++) w.High.push(segment('High', n)); // High lags by one
    assert.deepEqual(
      list(steering, 'High', w).map((s) => s.id),
      ['Low-3', 'Low-4', 'Low-5', 'Low-6'],
    );
    w.High.push(segment('High', 6));
    w.High.push(segment('High', 7));
    assert.deepEqual(
      list(steering, 'High', w).map((s) => s.id),
      ['Low-4', 'Low-5', 'Low-6', 'High-7'],
    );
  });

  it('lists only what the chosen rendition has published, not a newer segment of another', () => {
    const steering = new SteeredRendition();
    const w = ladder(1, 5, { Medium: [5] });
    assert.deepEqual(
      list(steering, 'Medium', w).map((s) => s.id),
      ['Medium-1', 'Medium-2', 'Medium-3', 'Medium-4'],
    );
    assert.equal(steering.lastAssigned, 4, 'number 5 is chosen once Medium has it');
  });

  it('skips a number its rendition lost, keeping later ones', () => {
    const steering = new SteeredRendition();
    const w = ladder(1, 5, { Low: [3] });
    assert.deepEqual(
      steeredListing(steering, 'Low', w.Low.latest(5), (p) => w[p]).map((s) => s.id),
      ['Low-1', 'Low-2', 'Low-4', 'Low-5'],
    );
  });

  it('refuses to choose a number twice', () => {
    const steering = new SteeredRendition();
    steering.assign(3, 'Low');
    assert.throws(() => steering.assign(3, 'High'), RangeError);
    assert.equal(steering.profileAt(2), undefined);
    assert.equal(steering.profileAt(3), 'Low');
    assert.equal(steering.profileAt(4), undefined, 'not chosen yet');
  });
});

describe('a steered session as the server counts it', () => {
  it('estimates the buffer of a player that reports none from what it fetched and the time', () => {
    const session = new ViewerSession('v', 's', 'Low', 0);
    assert.equal(session.estimatedBufferSec(0), undefined, 'not steered: nothing to estimate');
    session.steering = new SteeredRendition();
    assert.equal(session.estimatedBufferSec(0), undefined, 'nothing fetched yet');
    session.noteFetched(2, 1000);
    session.noteFetched(2, 1500);
    session.noteFetched(2, 2000);
    assert.equal(session.estimatedBufferSec(2000), 5, '6 s fetched, 1 s played');
    assert.equal(session.estimatedBufferSec(5000), 2);
    assert.equal(session.estimatedBufferSec(9000), 0, 'never below empty (it stalled)');
    session.noteFetched(2, 9000);
    assert.equal(session.estimatedBufferSec(9000), 2, 'a stall does not count against it later');
  });

  it("keeps the player's throughput samples and lets the server's timing stand in only before them", () => {
    const session = new ViewerSession('v', 's', 'Low', 0);
    session.recordThroughput(900_000, 'server');
    assert.deepEqual(session.throughputSamples, [900_000]);
    session.recordThroughput(1200);
    session.recordThroughput(800_000, 'server');
    assert.deepEqual(session.throughputSamples, [1200], "the server's samples are dropped");
    assert.equal(session.throughputKbps, 1200);
    for (let i = 0; i < 10; i++) session.recordThroughput(1000 + i);
    assert.deepEqual(session.throughputSamples, [1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]);
  });
});
