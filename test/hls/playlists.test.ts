import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import HLS from 'hls-parser';
import { LiveDistributor } from '../../src/core/distributor.js';
import { audioCodec, avcCodecFromMedia } from '../../src/hls/codecs.js';
import { writeMediaPlaylist } from '../../src/hls/media-playlist.js';
import {
  measuredBandwidth,
  writeMultivariantPlaylist,
} from '../../src/hls/multivariant-playlist.js';
import { PlaylistTemplate } from '../../src/hls/playlist-template.js';
import { segmentInput } from '../helpers/segments.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

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
        writeMediaPlaylist({
          segments: window.latest(count),
          ended: false,
          segmentUri: (s) => s.id,
          initUri: (i) => i,
        }),
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
    const text = writeMediaPlaylist({
      segments: window.latest(2),
      ended: true,
      segmentUri: (s) => s.id,
      initUri: (i) => i,
    });
    const parsed = HLS.parse(text) as MediaPlaylist;
    assert.equal(parsed.segments[0]?.programDateTime?.getTime(), 6 * 2000 - 2000);
    assert.equal(parsed.endlist, true);
    assert.ok(text.trimEnd().endsWith('#EXT-X-ENDLIST'));
  });
});

describe('multivariant playlist', () => {
  it('measures peak and average bandwidth from the segments', () => {
    const segments = [1000, 3000].map((bytes, i) => ({
      ...segmentInput(i, 'Low', bytes),
      contentType: 'video/mp2t',
      createdAt: 0,
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
