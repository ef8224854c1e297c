import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import HLS from 'hls-parser';
import {
  type VodSegment,
  writeVodMediaPlaylist,
  writeVodMultivariantPlaylist,
} from '../../src/hls/vod-playlist.js';
import { run } from '../helpers/exec.js';
import {
  assertConformantMedia,
  assertConformantMultivariant,
  mediaPlaylistProblems,
  reloadProblems,
} from '../helpers/hls-conformance.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const T0 = Date.parse('2024-05-01T10:00:00.000Z');

/** `count` segments of one incarnation, numbered from `first`, dated on from `startMs`. */
function incarnation(
  name: string,
  first: number,
  durations: readonly number[],
  startMs: number,
  extra: Partial<VodSegment> = {},
): VodSegment[] {
  let at = startMs;
  return durations.map((durationSec, i) => {
    const segment: VodSegment = {
      uri: `${name}-${first + i}.ts`,
      sequence: first + i,
      durationSec,
      discontinuity: false,
      programDateTime: at,
      incarnation: name,
      ...extra,
    };
    at += durationSec * 1000;
    return segment;
  });
}

const parse = (text: string) => HLS.parse(text) as MediaPlaylist;
/** The lines of `text` that carry `tag`. */
const tagged = (text: string, tag: string) => text.split('\n').filter((l) => l.startsWith(tag));

describe('VOD media playlist', () => {
  it('lists every segment once, closed, with a fixed target of the longest one rounded', () => {
    const segments = incarnation('a', 5, [2, 2.4, 1.6, 2], T0);
    const text = writeVodMediaPlaylist({ segments });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    assert.match(
      text,
      /^#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-PLAYLIST-TYPE:VOD\n/,
    );
    assert.match(text, /\n#EXT-X-ENDLIST$/);
    const parsed = parse(text);
    assert.equal(parsed.playlistType, 'VOD');
    assert.deepEqual(
      parsed.segments.map((s) => [s.uri, s.mediaSequenceNumber, s.duration]),
      segments.map((s) => [s.uri, s.sequence, s.durationSec]),
    );
    // One date-time, on the first segment: the others follow from the durations.
    assert.deepEqual(tagged(text, '#EXT-X-PROGRAM-DATE-TIME'), [
      '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:00.000Z',
    ]);
    assert.deepEqual(reloadProblems(text, writeVodMediaPlaylist({ segments })), []);
    const longer = writeVodMediaPlaylist({ segments: incarnation('a', 5, [2, 2.6], T0) });
    assert.match(longer, /#EXT-X-TARGETDURATION:3\n/);
  });

  it('declares the lowest version: 1 for whole seconds, 3 for decimals, 6 with init sections', () => {
    const whole = writeVodMediaPlaylist({ segments: incarnation('a', 0, [2, 2], T0) });
    assert.match(whole, /#EXT-X-VERSION:1\n/);
    assert.match(whole, /#EXTINF:2,\n/);
    assertConformantMedia(whole, { programDateTimes: 'anchors' });
    const fmp4 = writeVodMediaPlaylist({
      segments: incarnation('a', 0, [2, 2], T0, { initUri: 'init-a-0.mp4' }),
    });
    assert.match(fmp4, /#EXT-X-VERSION:6\n/);
    assertConformantMedia(fmp4, { programDateTimes: 'anchors' });
  });

  it('marks each encoder restart and incarnation change as a discontinuity, dated anew', () => {
    const segments = [
      ...incarnation('a', 0, [2, 2, 2], T0),
      // The encoder restarted within incarnation a: numbers go on.
      ...incarnation('a', 3, [2, 2], T0 + 10_000).map((s, i) =>
        i === 0 ? { ...s, discontinuity: true } : s,
      ),
      // A new incarnation (server restart or reused id): numbers start again at 0.
      ...incarnation('b', 0, [2, 2], T0 + 60_000),
    ];
    const text = writeVodMediaPlaylist({ segments });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    const parsed = parse(text);
    assert.deepEqual(
      parsed.segments.map((s) => [s.uri, s.discontinuity === true, s.programDateTime?.getTime()]),
      [
        ['a-0.ts', false, T0],
        ['a-1.ts', false, undefined],
        ['a-2.ts', false, undefined],
        ['a-3.ts', true, T0 + 10_000],
        ['a-4.ts', false, undefined],
        ['b-0.ts', true, T0 + 60_000],
        ['b-1.ts', false, undefined],
      ],
    );
    assert.equal(parsed.discontinuitySequenceBase ?? 0, 0);
    assert.equal(tagged(text, '#EXT-X-DISCONTINUITY-SEQUENCE').length, 0, 'starts at 0');
  });

  it('breaks the timeline where numbers jump with no gap entries, and never before the first', () => {
    const segments = [
      { ...incarnation('a', 0, [2], T0)[0], discontinuity: true } as VodSegment,
      ...incarnation('a', 1, [2], T0 + 2000),
      ...incarnation('a', 7, [2], T0 + 14_000),
    ];
    const text = writeVodMediaPlaylist({ segments });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    assert.deepEqual(
      parse(text).segments.map((s) => s.discontinuity === true),
      [false, false, true],
    );
  });

  it('writes EXT-X-MAP where the init section changes and only there', () => {
    const segments = [
      ...incarnation('a', 0, [2, 2], T0, { initUri: 'init-a-0.mp4' }),
      ...incarnation('a', 2, [2], T0 + 4000, { initUri: 'init-a-1.mp4' }),
      ...incarnation('b', 0, [2, 2], T0 + 9000, { initUri: 'init-b-0.mp4' }),
    ];
    const text = writeVodMediaPlaylist({ segments });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    assert.deepEqual(tagged(text, '#EXT-X-MAP'), [
      '#EXT-X-MAP:URI="init-a-0.mp4"',
      '#EXT-X-MAP:URI="init-a-1.mp4"',
      '#EXT-X-MAP:URI="init-b-0.mp4"',
    ]);
    assert.deepEqual(
      parse(text).segments.map((s) => s.map?.uri),
      segments.map((s) => s.initUri),
    );
  });

  it('lists lost numbers as gaps in place, undated, and dates the segment after them', () => {
    const segments = incarnation('a', 0, [2, 2, 2, 2], T0).map((s) =>
      s.sequence === 1 || s.sequence === 2 ? { ...s, gap: true } : s,
    );
    const text = writeVodMediaPlaylist({ segments });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    const parsed = parse(text);
    assert.deepEqual(
      parsed.segments.map((s) => [s.mediaSequenceNumber, s.gap === true, s.discontinuity === true]),
      [
        [0, false, false],
        [1, true, false],
        [2, true, false],
        [3, false, false],
      ],
    );
    assert.deepEqual(
      parsed.segments.map((s) => s.programDateTime?.getTime()),
      [T0, undefined, undefined, T0 + 6000],
    );
  });

  it('writes a closed, conformant playlist for a recording that kept nothing', () => {
    const text = writeVodMediaPlaylist({ segments: [] });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    assert.match(text, /#EXT-X-TARGETDURATION:1\n/);
    assert.match(text, /\n#EXT-X-ENDLIST$/);
  });
});

describe('conformance checker, VOD rules', () => {
  const vod = writeVodMediaPlaylist({
    segments: [
      ...incarnation('a', 0, [2, 2], T0),
      ...incarnation('b', 0, [2, 2], T0 + 9000),
      ...incarnation('b', 2, [2, 2], T0 + 13_000).map((s, i) =>
        i === 0 ? { ...s, gap: true } : s,
      ),
    ],
  });

  it('accepts the writer’s VOD playlist and refuses it broken', () => {
    assert.deepEqual(mediaPlaylistProblems(vod, { programDateTimes: 'anchors' }), []);
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      [vod.replace('#EXT-X-ENDLIST', ''), /VOD playlist without EXT-X-ENDLIST/],
      [vod.replace('PLAYLIST-TYPE:VOD', 'PLAYLIST-TYPE:LIVE'), /neither VOD nor EVENT/],
      [
        vod.replace('#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:09.000Z\n', ''),
        /'b-0.ts' has no EXT-X-PROGRAM-DATE-TIME/,
      ],
      [
        vod.replace('#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:15.000Z\n', ''),
        /'b-3.ts' has no EXT-X-PROGRAM-DATE-TIME/,
      ],
    ];
    for (const [text, problem] of cases) {
      assert.notEqual(text, vod, `the mutation for ${problem} changed nothing`);
      const problems = mediaPlaylistProblems(text, { programDateTimes: 'anchors' });
      assert.ok(
        problems.some((p) => problem.test(p)),
        `${problem} not found in ${problems.join('; ')}`,
      );
    }
  });

  it('finds a VOD playlist that changed between reads', () => {
    const grown = vod.replace('#EXT-X-ENDLIST', '#EXTINF:2,\nb-4.ts\n#EXT-X-ENDLIST');
    assert.deepEqual(reloadProblems(vod, grown), ['a VOD playlist changed between two reads']);
    const event = vod.replace('PLAYLIST-TYPE:VOD', 'PLAYLIST-TYPE:EVENT');
    const eventGrown = grown.replace('PLAYLIST-TYPE:VOD', 'PLAYLIST-TYPE:EVENT');
    assert.deepEqual(reloadProblems(event, eventGrown), []);
    assert.equal(reloadProblems(eventGrown, event).length, 1);
  });
});

describe('VOD multivariant playlist', () => {
  const media = { width: 640, height: 360, frameRate: 25, codecs: 'avc1.64001e,mp4a.40.2' };
  const low = {
    profile: 'Low' as const,
    nominalKbps: 1000,
    segments: [
      { bytes: 1000, durationSec: 2 },
      { bytes: 3000, durationSec: 2 },
    ],
    media,
    uri: 'Low/index.m3u8',
  };

  it('lists Medium first with bandwidth measured over the whole recording', () => {
    const medium = {
      ...low,
      profile: 'Medium' as const,
      nominalKbps: 2000,
      segments: [{ bytes: 5000, durationSec: 2 }],
      uri: 'Medium/index.m3u8',
    };
    const text = writeVodMultivariantPlaylist([low, medium]);
    assertConformantMultivariant(text);
    assert.deepEqual(tagged(text, '#EXT-X-STREAM-INF'), [
      '#EXT-X-STREAM-INF:BANDWIDTH=20000,AVERAGE-BANDWIDTH=20000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000',
      '#EXT-X-STREAM-INF:BANDWIDTH=12000,AVERAGE-BANDWIDTH=8000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000',
    ]);
  });

  it('falls back to the nominal bitrate for a rendition that kept no segment', () => {
    const text = writeVodMultivariantPlaylist([{ ...low, segments: [] }]);
    assert.match(text, /#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS=/);
  });
});

describe('VOD playlist of real media across an encoder restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtp-vod-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ffmpeg = process.env.VTP_FFMPEG ?? 'ffmpeg';
  const fps = 25;

  /**
   * One encoder run: `seconds` of a test pattern in 2 s MPEG-TS segments named `{name}-N.ts`.
   * Its first packets carry the discontinuity indicator, as a restarted encoder's should: the
   * continuity counters start again at a restart, and a reader that keeps one demuxer across
   * the playlist (ffmpeg) otherwise takes the jump for corruption.
   */
  async function encode(name: string, pattern: string, seconds: number) {
    const result = await run(ffmpeg, [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi'],
      ...['-i', `${pattern}=size=320x180:rate=${fps}`],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
      ...['-g', String(2 * fps), '-keyint_min', String(2 * fps), '-sc_threshold', '0'],
      ...['-c:a', 'aac', '-b:a', '64k', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0'],
      ...['-hls_ts_options', 'mpegts_flags=+initial_discontinuity'],
      ...['-hls_segment_filename', join(dir, `${name}-%d.ts`), join(dir, `${name}.m3u8`)],
    ]);
    assert.equal(result.code, 0, result.stderr);
    return parse(readFileSync(join(dir, `${name}.m3u8`), 'utf8')).segments.map((s) => s.duration);
  }

  it('is read by ffprobe at the recorded length and decoded by ffmpeg end to end', async () => {
    // Two runs of the encoder, the second restarting its timestamps (and its numbers) at zero.
    const first = await encode('a', 'testsrc2', 6);
    const second = await encode('b', 'testsrc', 6);
    const segments = [
      ...incarnation('a', 0, first, T0),
      ...incarnation('b', 0, second, T0 + 8000).map((s, i) =>
        i === 0 ? { ...s, discontinuity: true } : s,
      ),
    ];
    const text = writeVodMediaPlaylist({ segments });
    assertConformantMedia(text, { programDateTimes: 'anchors' });
    assert.equal(tagged(text, '#EXT-X-DISCONTINUITY').length, 1);
    const playlist = join(dir, 'vod.m3u8');
    writeFileSync(playlist, text);
    const total = [...first, ...second].reduce((a, b) => a + b, 0);
    const longest = Math.max(...first, ...second);
    assert.ok(Math.abs(total - 12) < longest, `the encoders wrote ${total} s`);

    const probe = await run('ffprobe', [
      ...['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', playlist],
    ]);
    assert.equal(probe.code, 0, probe.stderr);
    assert.equal(probe.stderr, '');
    const probed = Number(probe.stdout.trim());
    assert.ok(Math.abs(probed - total) <= longest, `ffprobe reads ${probed} s of ${total} s`);

    // Decoding counts the frames: every segment of both runs must be there, not only the listing.
    // The restart sets the timestamps back, which ffmpeg passes on as they are: the output is
    // renumbered so its null muxer does not refuse them (the input is decoded untouched).
    const decode = await run(ffmpeg, [
      ...['-hide_banner', '-nostats', '-v', 'error', '-xerror', '-i', playlist],
      ...['-map', '0:v', '-map', '0:a', '-vf', 'setpts=N/FRAME_RATE/TB', '-af', 'asetpts=N/SR/TB'],
      ...['-f', 'null', '-progress', 'pipe:1', '-'],
    ]);
    assert.equal(decode.code, 0, decode.stderr);
    assert.equal(decode.stderr, '', 'no error lines');
    const frames = Number([...decode.stdout.matchAll(/^frame=(\d+)$/gm)].at(-1)?.[1]);
    assert.ok(
      Math.abs(frames / fps - total) <= longest,
      `ffmpeg decoded ${frames} frames (${frames / fps} s) of ${total} s`,
    );
  });
});
