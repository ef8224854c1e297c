import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import HLS from 'hls-parser';
import { LiveDistributor } from '../../src/core/distributor.js';
import type { Segment } from '../../src/core/segment.js';
import { audioCodec, avcCodecFromMedia } from '../../src/hls/codecs.js';
import { type MediaPlaylistInput, writeMediaPlaylist } from '../../src/hls/media-playlist.js';
import {
  measuredBandwidth,
  writeMultivariantPlaylist,
} from '../../src/hls/multivariant-playlist.js';
import { PlaylistTemplate } from '../../src/hls/playlist-template.js';
import { assertConformantMedia, assertConformantMultivariant } from '../helpers/hls-conformance.js';
import { segmentInput } from '../helpers/segments.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

/** The text of a media playlist written from scratch (no version declared before). */
const mediaText = (input: MediaPlaylistInput) => writeMediaPlaylist(input).text;

/** How the tests name what a playlist lists: ids as they are, a 2 s target. */
const plain = {
  targetDurationSec: 2,
  segmentUri: (s: Segment) => s.id,
  initUri: (i: string) => i,
  gapUri: (sequence: number) => `${sequence}.ts`,
};

/** A Low rendition with a restart (discontinuity) before sequence 3 and another before 6. */
function rendition() {
  const d = new LiveDistributor('r', {
    maxViewers: 10,
    retentionMs: 10_000,
    newSessionId: () => 'x',
  });
  for (let s = 0; s < 8; s++) {
    d.enqueueSegment(
      { ...segmentInput(s, 'Low'), id: `${s}.ts`, discontinuity: s === 3 || s === 6 },
      s * 2000,
    );
  }
  return d.window('Low');
}

describe('media playlist', () => {
  it('numbers discontinuities so a sliding window keeps its discontinuity sequence', () => {
    const window = rendition();
    const write = (count: number) =>
      HLS.parse(
        mediaText({ ...plain, segments: window.latest(count), ended: false }),
      ) as MediaPlaylist;
    const all = write(8);
    assert.equal(all.discontinuitySequenceBase ?? 0, 0);
    assert.deepEqual(
      all.segments.map((s) => [s.mediaSequenceNumber, s.discontinuity === true]),
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => [n, n === 3 || n === 6]),
    );
    const tail = write(4); // sequences 4..7: one discontinuity (before 3) has slid out
    assert.equal(tail.mediaSequenceBase, 4);
    assert.equal(tail.discontinuitySequenceBase, 1);
    const edge = write(2); // starts on 6, which itself carries the tag
    assert.equal(edge.discontinuitySequenceBase, 1);
    assert.equal(edge.segments[0]?.discontinuity, true);
  });

  it('stamps each segment with the wall-clock time of its first frame and ends with ENDLIST', () => {
    const window = rendition();
    const text = mediaText({ ...plain, segments: window.latest(2), ended: true });
    const parsed = HLS.parse(text) as MediaPlaylist;
    assert.equal(parsed.segments[0]?.programDateTime?.getTime(), 6 * 2000 - 2000);
    assert.equal(parsed.endlist, true);
    assert.ok(text.trimEnd().endsWith('#EXT-X-ENDLIST'));
  });
});

/** A distributor whose Low rendition gets `durations` (seconds) at sequences 0, 1, ... */
function withDurations(durations: readonly number[], extra: object = {}) {
  const d = new LiveDistributor('r', {
    maxViewers: 10,
    retentionMs: 60_000,
    newSessionId: () => 'x',
  });
  durations.forEach((durationSec, s) => {
    d.enqueueSegment({ ...segmentInput(s, 'Low'), id: `${s}.ts`, durationSec, ...extra }, 0);
  });
  return d;
}

describe('media playlist: version, target duration, gaps', () => {
  const write = (d: LiveDistributor, count = 6) =>
    mediaText({
      ...plain,
      targetDurationSec: d.targetDurationSec,
      segments: d.window('Low').latest(count),
      ended: false,
    });

  it('declares the lowest EXT-X-VERSION its features need: 1, 3 for decimal EXTINF, 6 for EXT-X-MAP', () => {
    const whole = write(withDurations([2, 2, 1]));
    assert.match(whole, /^#EXTM3U\n#EXT-X-VERSION:1\n/);
    assert.match(whole, /#EXTINF:2,\n/);
    assertConformantMedia(whole);
    const decimal = write(withDurations([2, 1.96, 2.04]));
    assert.match(decimal, /^#EXTM3U\n#EXT-X-VERSION:3\n/);
    assert.match(decimal, /#EXTINF:1.96,/);
    assertConformantMedia(decimal);
    const fmp4 = write(withDurations([2, 2], { initId: 'init-a-0.mp4', contentType: 'video/mp4' }));
    assert.match(fmp4, /^#EXTM3U\n#EXT-X-VERSION:6\n/);
    assert.match(fmp4, /#EXT-X-MAP:URI="init-a-0.mp4"/);
    assertConformantMedia(fmp4);
  });

  it('never declares less than the version declared before, writing whole seconds as decimals from version 3 on', () => {
    const input = {
      ...plain,
      segments: withDurations([2, 2, 2]).window('Low').latest(6),
      ended: false,
    };
    const fresh = writeMediaPlaylist(input);
    assert.equal(fresh.version, 1);
    assert.match(fresh.text, /^#EXTM3U\n#EXT-X-VERSION:1\n/);
    const held = writeMediaPlaylist({ ...input, minVersion: 3 });
    assert.equal(held.version, 3);
    assert.match(held.text, /^#EXTM3U\n#EXT-X-VERSION:3\n/);
    assert.deepEqual(held.text.match(/#EXTINF:.*/g), Array(3).fill('#EXTINF:2.000,'));
    assertConformantMedia(held.text);
    // What the features need still wins over a lower version declared before.
    const fmp4 = writeMediaPlaylist({
      ...plain,
      segments: withDurations([2, 2], { initId: 'init-a-0.mp4', contentType: 'video/mp4' })
        .window('Low')
        .latest(6),
      ended: false,
      minVersion: 3,
    });
    assert.equal(fmp4.version, 6);
    assertConformantMedia(fmp4.text);
  });

  it("writes the stream's fixed target duration, not the longest segment in the window", () => {
    const d = withDurations([2, 2, 2]);
    d.enqueueSegment({ ...segmentInput(0, 'High'), durationSec: 2, declaredTargetSec: 4 }, 0);
    const text = write(withDurations([2, 3.4, 2], { declaredTargetSec: 4 }));
    assert.match(text, /#EXT-X-TARGETDURATION:4\n/);
    assertConformantMedia(text);
    // Once the long segment has slid out, the target stays.
    const slid = withDurations([2, 3.4, 2, 2, 2], { declaredTargetSec: 4 });
    assert.match(write(slid, 2), /#EXT-X-TARGETDURATION:4\n/);
  });

  it('lists numbers the rendition lost as EXT-X-GAP entries, so every later segment keeps its media sequence number', () => {
    const d = new LiveDistributor('r', {
      maxViewers: 10,
      retentionMs: 60_000,
      newSessionId: () => 'x',
    });
    for (const s of [0, 1, 2, 3, 4, 5]) {
      // High got every number; the ones Low loses ran 2.5 s.
      const durationSec = s === 2 || s === 4 ? 2.5 : 2;
      d.enqueueSegment({ ...segmentInput(s, 'High'), id: `${s}.ts`, durationSec }, 0);
    }
    for (const s of [0, 1, 3, 5]) d.enqueueSegment({ ...segmentInput(s, 'Low'), id: `${s}.ts` }, 0);
    const text = mediaText({
      ...plain,
      targetDurationSec: d.targetDurationSec,
      segments: d.window('Low').latest(6),
      ended: false,
    });
    assertConformantMedia(text);
    const parsed = HLS.parse(text) as MediaPlaylist;
    assert.deepEqual(
      parsed.segments.map((s) => [s.mediaSequenceNumber, s.uri, s.gap === true, s.duration]),
      [
        [0, '0.ts', false, 2],
        [1, '1.ts', false, 2],
        [2, '2.ts', true, 2.5],
        [3, '3.ts', false, 2],
        [4, '4.ts', true, 2.5],
        [5, '5.ts', false, 2],
      ],
    );
    assert.ok(text.includes('#EXT-X-GAP\n#EXTINF:2.5,\n2.ts\n'));
  });

  it('starts the playlist after a jump in numbers too long to list as gaps', () => {
    const d = withDurations([2, 2]);
    d.enqueueSegment({ ...segmentInput(1000, 'Low'), id: '1000.ts' }, 0);
    const text = write(d);
    assertConformantMedia(text);
    const parsed = HLS.parse(text) as MediaPlaylist;
    assert.equal(parsed.mediaSequenceBase, 1000);
    assert.deepEqual(
      parsed.segments.map((s) => s.uri),
      ['1000.ts'],
    );
  });
});

describe('multivariant playlist', () => {
  it('lists Medium first (where players that take the first variant start), then the others from the lowest', () => {
    const rendition = (profile: 'VeryLow' | 'Low' | 'Medium' | 'High', kbps: number) => ({
      profile,
      nominalKbps: kbps,
      segments: [],
      media: { width: 640, height: 360, frameRate: 30, codecs: 'avc1.64001e,mp4a.40.2' },
      uri: `${profile}/index.m3u8`,
    });
    const text = writeMultivariantPlaylist([
      rendition('VeryLow', 500),
      rendition('Low', 1000),
      rendition('Medium', 2000),
      rendition('High', 4000),
    ]);
    const master = HLS.parse(text) as InstanceType<typeof HLS.types.MasterPlaylist>;
    assert.deepEqual(
      master.variants.map((v) => v.uri),
      ['Medium', 'VeryLow', 'Low', 'High'].map((p) => `${p}/index.m3u8`),
    );
    assert.match(text, /^#EXTM3U\n#EXT-X-VERSION:1\n#EXT-X-INDEPENDENT-SEGMENTS\n/);
  });

  it('measures peak and average bandwidth from the segments', () => {
    const segments = [1000, 3000].map((bytes, i) => ({
      ...segmentInput(i, 'Low', bytes),
      contentType: 'video/mp2t',
      createdAt: 0,
      programDateTime: 0,
      discontinuity: false,
      discontinuitySequence: 0,
    }));
    assert.deepEqual(measuredBandwidth(segments), { peak: 12_000, average: 8000 });
    assert.equal(measuredBandwidth([]), undefined);
  });

  it('writes every attribute the media gave, and the nominal bitrate before any segment', () => {
    const text = writeMultivariantPlaylist([
      {
        profile: 'Low',
        nominalKbps: 1000,
        segments: [],
        media: { width: 640, height: 360, frameRate: 29.97, codecs: 'avc1.64001e,mp4a.40.2' },
        uri: 'Low/index.m3u8?session=s',
      },
    ]);
    assert.match(
      text,
      /#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1\.64001e,mp4a\.40\.2",RESOLUTION=640x360,FRAME-RATE=29\.970/,
    );
    assert.match(text, /\nLow\/index\.m3u8\?session=s/);
  });

  it('writes a playlist the conformance checker accepts once segments are measured', () => {
    const d = withDurations([2, 1.9]);
    const text = writeMultivariantPlaylist([
      {
        profile: 'Low',
        nominalKbps: 1000,
        segments: d.window('Low').segments(),
        media: { width: 640, height: 360, frameRate: 29.97, codecs: 'avc1.64001e,mp4a.40.2' },
        uri: 'Low/index.m3u8',
      },
    ]);
    assertConformantMultivariant(text);
  });
});

describe('codec strings', () => {
  it('reads profile, constraints and level from an Annex-B SPS', () => {
    const ts = new Uint8Array([
      0x47, 0x40, 0, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac,
    ]);
    assert.equal(avcCodecFromMedia(ts), 'avc1.64001f');
  });

  it('reads them from an avcC box', () => {
    const mp4 = new Uint8Array([0, 0, 0, 20, ...Buffer.from('avcC'), 1, 0x4d, 0x40, 0x1e, 0xff]);
    assert.equal(avcCodecFromMedia(mp4), 'avc1.4d401e');
  });

  it('names AAC flavours and finds nothing in bytes without H.264', () => {
    assert.equal(audioCodec('aac', 'LC'), 'mp4a.40.2');
    assert.equal(audioCodec('aac', 'HE-AAC'), 'mp4a.40.5');
    assert.equal(audioCodec('vorbis', undefined), undefined);
    assert.equal(avcCodecFromMedia(new Uint8Array(64)), undefined);
  });
});

describe('playlist template', () => {
  it('puts a query after every segment URI and nowhere else', () => {
    const template = new PlaylistTemplate(
      '#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:2,\n1.m4s\n#EXTINF:2,\n2.m4s\n',
    );
    assert.equal(
      template.render('?session=a'),
      '#EXTM3U\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:2,\n1.m4s?session=a\n#EXTINF:2,\n2.m4s?session=a\n',
    );
    assert.equal(template.render(''), template.text);
  });
});
