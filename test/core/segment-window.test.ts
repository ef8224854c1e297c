import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Segment } from '../../src/core/segment.js';
import { SegmentWindow } from '../../src/core/segment-window.js';
import { segmentInput } from '../helpers/segments.js';

function seg(sequence: number, createdAt = 0): Segment {
  return {
    ...segmentInput(sequence),
    contentType: 'video/mp2t',
    createdAt,
    programDateTime: createdAt - 2000,
    discontinuity: false,
    discontinuitySequence: 0,
  };
}

describe('SegmentWindow', () => {
  it('keeps segments in sequence order and counts their bytes', () => {
    const w = new SegmentWindow();
    for (const s of [1, 2, 3]) w.push(seg(s));
    assert.equal(w.size, 3);
    assert.equal(w.bytes, seg(1).data.byteLength + seg(2).data.byteLength + seg(3).data.byteLength);
    assert.equal(w.oldest?.sequence, 1);
    assert.equal(w.newest?.sequence, 3);
    assert.equal(w.get('seg-2')?.sequence, 2);
  });

  it('refuses a duplicate id and a sequence that does not advance', () => {
    const w = new SegmentWindow();
    w.push(seg(5));
    assert.throws(() => w.push(seg(5)), { code: 'SEGMENT_EXISTS' });
    assert.throws(() => w.push({ ...seg(4), id: 'other' }), { code: 'SEGMENT_OUT_OF_ORDER' });
    assert.equal(w.size, 1);
  });

  it('finds the next segment after a sequence, across gaps', () => {
    const w = new SegmentWindow();
    for (const s of [10, 11, 12, 15, 16]) w.push(seg(s));
    assert.equal(w.nextAfter(3)?.sequence, 10);
    assert.equal(w.nextAfter(10)?.sequence, 11);
    assert.equal(w.nextAfter(12)?.sequence, 15);
    assert.equal(w.nextAfter(13)?.sequence, 15);
    assert.equal(w.nextAfter(16), undefined);
  });

  it('starts new viewers the given number of segments behind the live edge', () => {
    const w = new SegmentWindow();
    assert.equal(w.liveStart(3), undefined);
    for (let s = 0; s < 10; s++) w.push(seg(s));
    assert.equal(w.liveStart(3)?.sequence, 7);
    assert.equal(w.liveStart(50)?.sequence, 0);
  });

  it('expires segments older than the retention window, with fake time', () => {
    const w = new SegmentWindow();
    for (let s = 0; s < 5; s++) w.push(seg(s, s * 2000));
    assert.deepEqual(
      w.expire(30_000 + 2000, 30_000).map((s) => s.sequence),
      [0],
      'a segment exactly 30 s old stays; older goes',
    );
    assert.equal(w.get('seg-0'), undefined);
    assert.equal(w.oldest?.sequence, 1);
    assert.equal(w.expire(100_000, 30_000).length, 4);
    assert.equal(w.size, 0);
    assert.equal(w.bytes, 0);
  });

  it('stays correct after many expiries compact its storage', () => {
    const w = new SegmentWindow();
    for (let s = 0; s < 1000; s++) {
      w.push(seg(s, s));
      w.expire(s, 10);
    }
    assert.equal(w.size, 11);
    assert.deepEqual(
      w.segments().map((s) => s.sequence),
      Array.from({ length: 11 }, (_, i) => 989 + i),
    );
    assert.equal(w.nextAfter(995)?.sequence, 996);
  });
});
