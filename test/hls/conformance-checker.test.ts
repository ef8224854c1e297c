import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attributeList,
  mediaPlaylistProblems,
  multivariantProblems,
} from '../helpers/hls-conformance.js';

/** A conformant live media playlist as the server writes one. */
const MEDIA = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z
#EXTINF:2.000,
a-7.ts
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:02.000Z
#EXTINF:1.960,
a-8.ts
#EXT-X-GAP
#EXTINF:2,
a-9.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:01:00.000Z
#EXTINF:2.040,
a-10.ts
`;

/** A conformant multivariant playlist. */
const MASTER = `#EXTM3U
#EXT-X-VERSION:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2200000,AVERAGE-BANDWIDTH=2000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000
Medium/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=600000,AVERAGE-BANDWIDTH=550000,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=256x144,FRAME-RATE=30.000
VeryLow/index.m3u8
`;

/** `text` with `from` replaced by `to` (which must occur). */
function broken(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  assert.notEqual(out, text, `the mutation ${from} changed nothing`);
  return out;
}

describe('HLS conformance checker', () => {
  it('accepts conformant playlists', () => {
    assert.deepEqual(mediaPlaylistProblems(MEDIA), []);
    assert.deepEqual(multivariantProblems(MASTER), []);
    assert.deepEqual(mediaPlaylistProblems(`${MEDIA}#EXT-X-ENDLIST\n`), [], 'an ended playlist');
  });

  const mediaCases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['#EXTM3U not first', broken(MEDIA, '#EXTM3U\n', '\n#EXTM3U\n'), /first line must be #EXTM3U/],
    ['a version above what it uses', broken(MEDIA, 'VERSION:3', 'VERSION:7'), /above the 3/],
    [
      'a version below what it uses',
      broken(MEDIA, 'VERSION:3', 'VERSION:2'),
      /below the 3.*decimal EXTINF/,
    ],
    [
      'EXT-X-MAP at version 5',
      broken(
        broken(MEDIA, 'VERSION:3', 'VERSION:5'),
        '#EXT-X-MEDIA-SEQUENCE:7\n',
        '#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI="init.mp4"\n',
      ),
      /below the 6 .*EXT-X-MAP/,
    ],
    [
      'an EXTINF over the target',
      broken(MEDIA, '#EXTINF:1.960,', '#EXTINF:2.6,'),
      /EXTINF 2.6 rounds above EXT-X-TARGETDURATION 2/,
    ],
    [
      'no target duration',
      broken(MEDIA, '#EXT-X-TARGETDURATION:2\n', ''),
      /EXT-X-TARGETDURATION is missing/,
    ],
    [
      'a decimal target duration',
      broken(MEDIA, 'TARGETDURATION:2', 'TARGETDURATION:2.5'),
      /not an integer/,
    ],
    [
      'a repeated tag',
      broken(
        MEDIA,
        '#EXT-X-INDEPENDENT-SEGMENTS\n',
        '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:2\n',
      ),
      /EXT-X-TARGETDURATION repeats/,
    ],
    [
      'a media sequence after the first segment',
      broken(MEDIA, 'a-8.ts\n', 'a-8.ts\n#EXT-X-MEDIA-SEQUENCE:8\n'),
      /EXT-X-MEDIA-SEQUENCE after the first segment/,
    ],
    ['a segment without EXTINF', broken(MEDIA, '#EXTINF:1.960,\n', ''), /'a-8.ts' has no EXTINF/],
    [
      'a zero duration',
      broken(MEDIA, '#EXTINF:1.960,', '#EXTINF:0,'),
      /'0' is not a positive number/,
    ],
    [
      'a segment without a date-time',
      broken(MEDIA, '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:02.000Z\n', ''),
      /'a-8.ts' has no EXT-X-PROGRAM-DATE-TIME/,
    ],
    [
      'a date-time without a zone',
      broken(MEDIA, '10:00:02.000Z', '10:00:02.000'),
      /not a date-time with a time zone/,
    ],
    [
      'date-times that do not follow the durations',
      broken(MEDIA, '10:00:02.000Z', '10:00:02.500Z'),
      /2500 ms after the previous one, whose EXTINF is 2 s/,
    ],
    ['date-times that go back', broken(MEDIA, '10:01:00.000Z', '09:00:00.000Z'), /does not rise/],
    ['tags describing no segment', `${MEDIA}#EXTINF:2,\n`, /describes no segment/],
    [
      'a segment after ENDLIST',
      broken(MEDIA, '#EXT-X-DISCONTINUITY\n', '#EXT-X-ENDLIST\n#EXT-X-DISCONTINUITY\n'),
      /after EXT-X-ENDLIST/,
    ],
    [
      'a multivariant tag',
      broken(MEDIA, '#EXT-X-GAP\n', '#EXT-X-STREAM-INF:BANDWIDTH=1\n'),
      /EXT-X-STREAM-INF belongs in a multivariant/,
    ],
    [
      'no independent segments',
      broken(MEDIA, '#EXT-X-INDEPENDENT-SEGMENTS\n', ''),
      /EXT-X-INDEPENDENT-SEGMENTS is missing/,
    ],
  ];
  for (const [name, text, problem] of mediaCases) {
    it(`finds ${name} in a media playlist`, () => {
      const problems = mediaPlaylistProblems(text);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem} in ${JSON.stringify(problems)}`,
      );
    });
  }

  const masterCases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['a version above what it uses', broken(MASTER, 'VERSION:1', 'VERSION:6'), /above the 1/],
    ['no CODECS', broken(MASTER, 'CODECS="avc1.64001f,mp4a.40.2",', ''), /CODECS is missing/],
    ['malformed CODECS', broken(MASTER, 'avc1.64001f,', 'h264 high,'), /not a list of RFC 6381/],
    ['no RESOLUTION', broken(MASTER, 'RESOLUTION=256x144,', ''), /RESOLUTION is missing/],
    [
      'no FRAME-RATE',
      broken(MASTER, ',FRAME-RATE=30.000\nMedium', '\nMedium'),
      /FRAME-RATE is missing/,
    ],
    [
      'no AVERAGE-BANDWIDTH',
      broken(MASTER, 'AVERAGE-BANDWIDTH=550000,', ''),
      /AVERAGE-BANDWIDTH is missing/,
    ],
    [
      'an average above the peak',
      broken(MASTER, 'AVERAGE-BANDWIDTH=550000', 'AVERAGE-BANDWIDTH=650000'),
      /exceeds the peak/,
    ],
    ['no BANDWIDTH', broken(MASTER, 'BANDWIDTH=600000,AVERAGE', 'AVERAGE'), /BANDWIDTH is missing/],
    [
      'a repeated attribute',
      broken(MASTER, 'FRAME-RATE=30.000\nVeryLow', 'FRAME-RATE=30.000,FRAME-RATE=25\nVeryLow'),
      /does not parse/,
    ],
    ['a variant without a URI', broken(MASTER, 'Medium/index.m3u8\n', ''), /without a URI line/],
    [
      'a repeated variant URI',
      broken(MASTER, 'VeryLow/index.m3u8', 'Medium/index.m3u8'),
      /repeats/,
    ],
    [
      'a media playlist tag',
      broken(
        MASTER,
        '#EXT-X-INDEPENDENT-SEGMENTS\n',
        '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:2\n',
      ),
      /belongs in a media playlist/,
    ],
    [
      'no independent segments',
      broken(MASTER, '#EXT-X-INDEPENDENT-SEGMENTS\n', ''),
      /EXT-X-INDEPENDENT-SEGMENTS is missing/,
    ],
    [
      'a repeated version',
      broken(MASTER, '#EXT-X-VERSION:1\n', '#EXT-X-VERSION:1\n#EXT-X-VERSION:1\n'),
      /EXT-X-VERSION repeats/,
    ],
  ];
  for (const [name, text, problem] of masterCases) {
    it(`finds ${name} in a multivariant playlist`, () => {
      const problems = multivariantProblems(text);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem} in ${JSON.stringify(problems)}`,
      );
    });
  }

  it('reads attribute lists with quoted commas and refuses malformed ones', () => {
    assert.deepEqual(
      [...(attributeList('BANDWIDTH=1,CODECS="a,b",RESOLUTION=2x3') ?? [])],
      [
        ['BANDWIDTH', '1'],
        ['CODECS', '"a,b"'],
        ['RESOLUTION', '2x3'],
      ],
    );
    assert.equal(attributeList('BANDWIDTH'), undefined);
    assert.equal(attributeList('CODECS="a'), undefined);
  });
});
