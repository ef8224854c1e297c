import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Segment } from '../../src/core/segment.js';
import { SegmentWindow } from '../../src/core/segment-window.js';
import { listedSegments, liveRenditions } from '../../src/hls/live-listing.js';
import { segmentInput } from '../helpers/segments.js';

/** A window of 2-second segments numbered 1 to `count`. */
function windowOf(count: number): SegmentWindow {
  const window = new SegmentWindow();
  for (let sequence = 1; sequence <= count; sequence++) {
    window.push({
      ...segmentInput(sequence),
      contentType: 'video/mp2t',
      createdAt: 0,
      programDateTime: 0,
      discontinuity: false,
      discontinuitySequence: 0,
    });
  }
  return window;
}

const sequences = (segments: readonly Segment[]) => segments.map((s) => s.sequence);

describe('what a live playlist lists', () => {
  it('lists the newest playlistSegments without a DVR window', () => {
    assert.deepEqual(sequences(listedSegments(windowOf(10), 0, 3)), [8, 9, 10]);
  });

  it('lists as much as a DVR window spans, never fewer than playlistSegments', () => {
    assert.deepEqual(sequences(listedSegments(windowOf(10), 10, 3)), [6, 7, 8, 9, 10]);
    assert.deepEqual(sequences(listedSegments(windowOf(10), 2, 3)), [8, 9, 10]);
  });

  it('lists each rendition with its nominal bitrate, segments, media and URI', () => {
    const window = windowOf(2);
    const [low] = liveRenditions(
      { window: () => window, mediaInfo: () => undefined },
      ['Low'],
      (profile) => `${profile}/index.m3u8?session=s`,
    );
    assert.equal(low?.profile, 'Low');
    assert.equal(low?.nominalKbps, 1000);
    assert.deepEqual(sequences(low?.segments ?? []), [1, 2]);
    assert.equal(low?.media, undefined);
    assert.equal(low?.uri, 'Low/index.m3u8?session=s');
  });
});
