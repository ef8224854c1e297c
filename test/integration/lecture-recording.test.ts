import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import { LADDER_PRESETS } from '../../src/ingest/ffmpeg-ladder.js';
import { INGEST_DEFAULTS } from '../../src/ingest/ingest-service.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { probedDuration, run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { startLadder } from '../helpers/ladder.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

/** A lecture of a minute, as the light ladder encodes it in real time. */
const LECTURE_SEC = 60;
/** The ladder's segment duration: the tolerance on every duration measured. */
const SEGMENT_SEC = 2;
const ID = 'lecture';

/** What the ingest accepted of one rendition: its published segments, by sequence. */
type Accepted = Map<number, number>;

/** Seconds of media a playlist or a list of durations adds up to. */
const sum = (durations: Iterable<number>) => [...durations].reduce((a, b) => a + b, 0);

/**
 * Media time of the video `input` really holds: from its first packet's timestamp to the end
 * of its last, read packet by packet (not from the playlist's EXTINF).
 */
async function videoSpan(input: string): Promise<{ seconds: number; frames: number }> {
  const probed = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,duration_time',
    '-of',
    'csv=p=0',
    input,
  ]);
  assert.equal(probed.code, 0, probed.stderr);
  // One `pts,duration` line per packet (ffprobe puts empty lines between some).
  const packets = probed.stdout
    .split('\n')
    .filter((line) => /^[\d.]+,[\d.]+/.test(line))
    .map((line) => line.split(',').map(Number) as [number, number]);
  assert.ok(packets.length > 0, 'ffprobe listed packets');
  const starts = packets.map(([pts]) => pts);
  const last = packets.reduce((a, b) => (b[0] > a[0] ? b : a));
  return { seconds: last[0] + last[1] - Math.min(...starts), frames: packets.length };
}

describe('a 60 s lecture ends and becomes a recording', { timeout: 240_000 }, () => {
  let dir: string;
  let server: TestServer;
  const accepted = new Map<ProfileName, Accepted>(PROFILE_NAMES.map((p) => [p, new Map()]));

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-lecture-'));
    server = await startTestServer({}, 200, {
      dataDir: dir,
      ingest: { probe: ffprobeMedia() },
    });
    server.service.events.on(
      'segment_published',
      ({ recordingId, profile, sequence, durationSec }) => {
        if (recordingId === ID) accepted.get(profile)?.set(sequence, durationSec);
      },
    );
    const ladder = startLadder(`${server.url}/ingest/${ID}`, LECTURE_SEC);
    const exited = await ladder.exited;
    assert.equal(exited.code, 0, exited.stderr.slice(-2000));
    // The encoder is gone: the stream ends by itself once it has been quiet for the encoder
    // timeout, and its recording is complete.
    await waitFor(
      async () => {
        const one = await call(`${server.url}/api/v1/recordings/${ID}`, 'GET');
        return one.body?.status === 'complete' || undefined;
      },
      INGEST_DEFAULTS.encoderTimeoutMs + 20_000,
      'the stream to end and its recording to be complete',
    );
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every segment the ingest accepted, first to last with no gap, in every rendition', async (t) => {
    const incarnation = server.segmentFiles?.list(ID)[0]?.incarnation;
    assert.ok(incarnation !== undefined, 'the recording has files');
    const first = new Set<number>();
    const last = new Set<number>();
    for (const profile of PROFILE_NAMES) {
      const response = await fetch(`${server.url}/vod/${ID}/${profile}/index.m3u8`);
      assert.equal(response.status, 200, profile);
      const text = await response.text();
      assert.match(text, /^#EXT-X-PLAYLIST-TYPE:VOD$/m, profile);
      assert.ok(text.trimEnd().endsWith('#EXT-X-ENDLIST'), `${profile} ends with EXT-X-ENDLIST`);
      // One encoder run: one timeline, nothing lost.
      assert.doesNotMatch(text, /^#EXT-X-GAP$/m, profile);
      assert.doesNotMatch(text, /^#EXT-X-DISCONTINUITY$/m, profile);
      const playlist = HLS.parse(text) as MediaPlaylist;
      const listed = playlist.segments.map((s, i) => ({
        sequence: (playlist.mediaSequenceBase ?? 0) + i,
        uri: s.uri,
        duration: s.duration,
      }));

      const published = [...(accepted.get(profile) ?? [])].sort(([a], [b]) => a - b);
      assert.ok(published.length > 0, `${profile}: the ingest accepted segments`);
      const numbers = published.map(([sequence]) => sequence);
      const from = numbers[0] as number;
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => from + i),
        `${profile}: the ingest accepted a run without holes`,
      );
      assert.deepEqual(
        listed.map((s) => s.sequence),
        numbers,
        `${profile}: the recording lists exactly what was accepted`,
      );
      for (const [i, [sequence, durationSec]] of published.entries()) {
        const entry = listed[i];
        assert.equal(entry?.uri, `${incarnation}-${sequence}.ts`, profile);
        assert.ok(
          Math.abs((entry?.duration ?? -1) - durationSec) < 0.001,
          `${profile}/${sequence}`,
        );
      }
      first.add(from);
      last.add(numbers.at(-1) as number);
      t.diagnostic(
        `${profile}: ${listed.length} segments (${from}..${numbers.at(-1)}), ${sum(listed.map((s) => s.duration)).toFixed(3)} s listed`,
      );
    }
    assert.equal(first.size, 1, 'every rendition starts at the same number');
    assert.equal(last.size, 1, 'every rendition ends at the same number');
  });

  it('lasts the lecture for ffprobe, within one segment', async (t) => {
    const master = await probedDuration(`${server.url}/vod/${ID}/master.m3u8`);
    assert.ok(
      Math.abs(master - LECTURE_SEC) <= SEGMENT_SEC,
      `ffprobe reads ${master} s of the master`,
    );
    const figures = [`master ${master} s`];
    for (const profile of PROFILE_NAMES) {
      const url = `${server.url}/vod/${ID}/${profile}/index.m3u8`;
      const seconds = await probedDuration(url);
      assert.ok(Math.abs(seconds - LECTURE_SEC) <= SEGMENT_SEC, `${profile}: ${seconds} s`);
      figures.push(`${profile} ${seconds} s`);
    }
    // What the media itself holds, packet by packet, not what the playlist says.
    const span = await videoSpan(`${server.url}/vod/${ID}/High/index.m3u8`);
    assert.ok(
      Math.abs(span.seconds - LECTURE_SEC) <= SEGMENT_SEC,
      `High's video spans ${span.seconds} s`,
    );
    const { fps } = LADDER_PRESETS.light;
    assert.ok(
      Math.abs(span.frames - LECTURE_SEC * fps) <= SEGMENT_SEC * fps,
      `High holds ${span.frames} frames`,
    );
    t.diagnostic(
      `ffprobe: ${figures.join(', ')}; High video ${span.seconds.toFixed(3)} s in ${span.frames} frames`,
    );
  });

  it('decodes end to end without an error, every rendition, video and audio', async () => {
    for (const profile of PROFILE_NAMES) {
      const decoded = await run(
        'ffmpeg',
        [
          '-v',
          'error',
          '-xerror',
          '-i',
          `${server.url}/vod/${ID}/${profile}/index.m3u8`,
          '-map',
          '0',
          '-f',
          'null',
          '-',
        ],
        120_000,
      );
      assert.equal(decoded.code, 0, `${profile}: ${decoded.stderr}`);
      assert.equal(decoded.stderr.trim(), '', `${profile}: ffmpeg reported nothing`);
    }
  });

  it('is described by the API as the files on disk are: duration, bytes, renditions', async (t) => {
    const one = await call(`${server.url}/api/v1/recordings/${ID}`, 'GET');
    assert.equal(one.status, 200);
    const recording = one.body;
    assert.equal(recording.status, 'complete');
    assert.equal(recording.master_url, `/vod/${ID}/master.m3u8`);

    // What is on disk: one incarnation, a directory per rendition, each segment with its record.
    const root = path.join(dir, 'segments', ID);
    const incarnations = await readdir(root);
    assert.equal(incarnations.length, 1);
    const base = path.join(root, incarnations[0] as string);
    const onDisk = PROFILE_NAMES.filter((p) => (accepted.get(p)?.size ?? 0) > 0);
    assert.deepEqual((await readdir(base)).sort(), [...onDisk].sort());
    let bytes = 0;
    const durations = new Map<ProfileName, number>();
    for (const profile of onDisk) {
      const names = await readdir(path.join(base, profile));
      const segments = names.filter((n) => n.endsWith('.ts'));
      assert.equal(segments.length, accepted.get(profile)?.size, `${profile}: a file per segment`);
      for (const name of segments) {
        bytes += (await stat(path.join(base, profile, name))).size;
        const stored = JSON.parse(await readFile(path.join(base, profile, `${name}.json`), 'utf8'));
        durations.set(profile, (durations.get(profile) ?? 0) + stored.meta.durationSec);
      }
    }
    assert.deepEqual(recording.renditions, onDisk);
    assert.equal(recording.bytes, bytes, 'bytes: the segment files on disk');
    const longest = Math.max(...durations.values());
    assert.ok(
      Math.abs(recording.duration_seconds - longest) < 0.001,
      `duration_seconds ${recording.duration_seconds} is the longest rendition's ${longest}`,
    );
    assert.ok(Math.abs(recording.duration_seconds - LECTURE_SEC) <= SEGMENT_SEC);
    const wallSec = (Date.parse(recording.ended_at) - Date.parse(recording.started_at)) / 1000;
    assert.ok(
      Math.abs(wallSec - recording.duration_seconds) <= SEGMENT_SEC,
      `started_at to ended_at is ${wallSec} s`,
    );
    t.diagnostic(
      `API: ${recording.duration_seconds} s, ${recording.bytes} bytes, ${recording.renditions.join('/')}`,
    );
  });
});
