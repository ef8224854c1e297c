import assert from 'node:assert/strict';
import { it } from 'node:test';
import { countEntries, parsePushedPlaylist } from '../../src/ingest/pushed-playlist.js';

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

const media = (sequence: string, ...durations: string[]) =>
  `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${sequence}\n${durations
    .map((d, i) => `#EXTINF:${d},\nseg_${i}.ts\n`)
    .join('')}`;

it('refuses a playlist with more entries than allowed before parsing it', () => {
  const text = media('0', ...Array.from({ length: 11 }, () => '2'));
  assert.equal(parsePushedPlaylist(text, 11).entries.length, 11);
  assert.throws(() => parsePushedPlaylist(text, 10), /more than 10 segments/);
  // Not even a playlist: the count alone refuses it, so the parser never sees it.
  assert.throws(() => parsePushedPlaylist('#EXTINF'.repeat(11), 10), /more than 10 segments/);
});

it('counts #EXTINF tags and stops once past the bound', () => {
  assert.equal(countEntries(media('0', '2', '2', '2')), 3);
  assert.equal(countEntries('#EXTINF'.repeat(1000), 5), 6);
  assert.equal(countEntries('#EXTM3U\n'), 0);
});

it('refuses media sequences that are not whole numbers from 0 to 2^53 - 1', () => {
  for (const sequence of [`1${'0'.repeat(30)}`, '-1', '1.5', String(2 ** 53), 'x']) {
    assert.throws(
      () => parsePushedPlaylist(media(sequence, '2')),
      /EXT-X-MEDIA-SEQUENCE|media sequence/,
      sequence,
    );
  }
  const top = String(Number.MAX_SAFE_INTEGER - 1);
  assert.deepEqual(
    parsePushedPlaylist(media(top, '2', '2')).entries.map((e) => e.encoderSequence),
    [Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER],
  );
  assert.throws(() => parsePushedPlaylist(media(top, '2', '2', '2')), /media sequence/);
});

it('refuses segment durations that are not finite, above 0 and at most 60 s', () => {
  for (const duration of ['0', '-2', '60.5', 'NaN', 'Infinity', '1e400']) {
    assert.throws(() => parsePushedPlaylist(media('0', duration)), /duration/, duration);
  }
  assert.equal(parsePushedPlaylist(media('0', '60')).entries[0]?.durationSec, 60);
});
