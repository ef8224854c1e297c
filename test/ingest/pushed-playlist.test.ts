import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parsePushedPlaylist } from '../../src/ingest/pushed-playlist.js';

it('reads durations, sequence numbers, discontinuities and maps from a pushed playlist', () => {
  const { entries, ended } = parsePushedPlaylist(
    '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n' +
      '#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.002,\nhttp://h/x/seg_41.m4s?key=k\n' +
      '#EXT-X-DISCONTINUITY\n#EXTINF:1.5,\nseg_42.m4s\n#EXT-X-ENDLIST\n',
  );
  assert.equal(ended, true);
  assert.deepEqual(entries, [
    {
      file: 'seg_41.m4s',
      encoderSequence: 41,
      durationSec: 2.002,
      discontinuity: false,
      mapFile: 'init.mp4',
    },
    {
      file: 'seg_42.m4s',
      encoderSequence: 42,
      durationSec: 1.5,
      discontinuity: true,
      mapFile: 'init.mp4',
    },
  ]);
});

it('rejects text that is not a media playlist', () => {
  assert.throws(() => parsePushedPlaylist('hello'), /not a valid HLS playlist/);
  assert.throws(
    () => parsePushedPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n'),
    /expected a media playlist/,
  );
  assert.throws(
    () => parsePushedPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:500,\nseg.ts\n'),
    /duration 500/,
  );
});
