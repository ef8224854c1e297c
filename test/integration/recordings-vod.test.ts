import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import { LADDER_PRESETS } from '../../src/ingest/ffmpeg-ladder.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { SERVICE_DEFAULTS } from '../../src/service/distribution-service.js';
import { probedDuration, run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { startLadder } from '../helpers/ladder.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

let server: TestServer;
let dir: string;
/** Seconds of media each encoder run pushes (a restart between the two). */
const RUN_SEC = 7;
/**
 * Added to the servers' clock: moved past the retention of ended streams, it makes the service
 * let an ended stream go at its next cleanup (and a restarted server not bring it back).
 */
let clockOffsetMs = 0;
const clock = () => Date.now() + clockOffsetMs;

function startServer(): Promise<TestServer> {
  return startTestServer({ clock }, 200, {
    dataDir: dir,
    ingest: { probe: ffprobeMedia(), encoderTimeoutMs: 30_000 },
  });
}

/** CODECS, RESOLUTION and FRAME-RATE of each rendition of a recording's VOD master. */
async function vodVariants(url: string, id: string) {
  const response = await fetch(`${url}/vod/${id}/master.m3u8`);
  assert.equal(response.status, 200);
  const master = HLS.parse(await response.text()) as MasterPlaylist;
  return new Map(
    master.variants.map((v) => [
      v.uri.split('/')[0] as ProfileName,
      { codecs: v.codecs, resolution: v.resolution, frameRate: v.frameRate },
    ]),
  );
}

/** Each of the four renditions described as the light ladder encodes it (probed by ffprobe). */
function assertDescribed(variants: Awaited<ReturnType<typeof vodVariants>>, when: string): void {
  assert.deepEqual([...variants.keys()].sort(), [...PROFILE_NAMES].sort(), when);
  for (const [profile, variant] of variants) {
    const [width, height] = LADDER_PRESETS.light.sizes[profile];
    assert.deepEqual(variant.resolution, { width, height }, `${when}: ${profile} RESOLUTION`);
    assert.match(
      variant.codecs ?? '',
      /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/,
      `${when}: ${profile} CODECS`,
    );
  }
}

describe('a real ladder becomes a VOD recording', { timeout: 90_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-vod-'));
    server = await startServer();
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('plays end to end in ffmpeg after the stream ended, as long as what was pushed, across an encoder restart', async (t) => {
    for (let i = 0; i < 2; i++) {
      const ladder = startLadder(`${server.url}/ingest/talk`, RUN_SEC);
      const exited = await ladder.exited;
      assert.equal(exited.code, 0, exited.stderr.slice(-2000));
    }
    const playing = await fetch(`${server.url}/vod/talk/master.m3u8`);
    assert.equal(playing.status, 409, 'not VOD while the stream is live');
    await playing.arrayBuffer();
    assert.equal((await call(`${server.url}/api/v1/streams/talk/end`, 'POST')).status, 200);

    const recording = await call(`${server.url}/api/v1/recordings/talk`, 'GET');
    assert.equal(recording.status, 200);
    assert.equal(recording.body.status, 'complete');
    assert.deepEqual(recording.body.renditions, ['VeryLow', 'Low', 'Medium', 'High']);

    const lowText = await (await fetch(`${server.url}/vod/talk/Low/index.m3u8`)).text();
    const low = HLS.parse(lowText) as MediaPlaylist;
    assert.equal(low.playlistType, 'VOD');
    assert.ok(low.endlist);
    assert.equal(
      low.segments.filter((s) => s.discontinuity).length,
      1,
      'one discontinuity, at the encoder restart',
    );
    const listed = low.segments.reduce((sum, s) => sum + s.duration, 0);
    const segmentSec = 2;
    assert.ok(
      Math.abs(listed - 2 * RUN_SEC) <= segmentSec,
      `the playlist lists ${listed} s of ${2 * RUN_SEC} s pushed`,
    );

    const master = `${server.url}/vod/talk/master.m3u8`;
    const duration = await probedDuration(master);
    assert.ok(
      Math.abs(duration - 2 * RUN_SEC) <= segmentSec,
      `ffprobe reads ${duration} s of ${2 * RUN_SEC} s pushed`,
    );

    t.diagnostic(`pushed ${2 * RUN_SEC} s; Low lists ${listed} s; ffprobe reads ${duration} s`);
    const decoded = await run('ffmpeg', [
      '-v',
      'error',
      '-xerror',
      '-i',
      `${server.url}/vod/talk/High/index.m3u8`,
      '-f',
      'null',
      '-',
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
  });

  it('keeps CODECS and RESOLUTION in the VOD master once the stream left memory, and after a restart', async (t) => {
    // Runs after the test above: the stream ended and is still held in memory.
    const held = await vodVariants(server.url, 'talk');
    assertDescribed(held, 'while the ended stream is held');
    const incarnation = server.service.getDistributor('talk').incarnation;

    clockOffsetMs += SERVICE_DEFAULTS.retentionMs + 1000;
    server.service.cleanup();
    // The ended stream left memory.
    assert.throws(() => server.service.getDistributor('talk'), { code: 'STREAM_NOT_FOUND' });
    const retired = await vodVariants(server.url, 'talk');
    assert.deepEqual(retired, held, 'after the stream left memory');

    // Stored beside the segments before the server goes: what a restart reads back.
    const files = server.segmentFiles;
    await waitFor(
      async () =>
        PROFILE_NAMES.every((p) => files?.media('talk', incarnation, p) !== undefined) || undefined,
      10_000,
      'every rendition described on disk',
    );
    await server.close();
    server = await startServer();
    // Not brought back: its retention passed while the server was down.
    assert.throws(() => server.service.getDistributor('talk'), { code: 'STREAM_NOT_FOUND' });
    const restarted = await vodVariants(server.url, 'talk');
    assert.deepEqual(restarted, held, 'after a restart');
    t.diagnostic(
      `High: CODECS=${held.get('High')?.codecs} RESOLUTION=${JSON.stringify(held.get('High')?.resolution)}`,
    );
  });
});
