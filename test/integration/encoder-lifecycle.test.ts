import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { startLadder } from '../helpers/ladder.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

let server: TestServer;
const ENCODER_TIMEOUT_MS = 8000;

async function mediaPlaylist(
  stream: string,
  profile: string,
): Promise<{ text: string; parsed: MediaPlaylist }> {
  const text = await (await fetch(`${server.url}/live/${stream}/${profile}/index.m3u8`)).text();
  return { text, parsed: HLS.parse(text) as MediaPlaylist };
}

describe('encoder lifecycle', { timeout: 120_000 }, () => {
  before(async () => {
    server = await startTestServer({ cleanupIntervalMs: 250 }, 200, {
      // Longer than a second ladder takes to publish its first segment on a busy machine:
      // the stream must still be live when the encoder comes back.
      ingest: { probe: ffprobeMedia(), encoderTimeoutMs: ENCODER_TIMEOUT_MS },
    });
  });
  after(() => server?.close());

  it('continues with a discontinuity when the encoder restarts, and ends the stream when it stops', async () => {
    const first = startLadder(`${server.url}/ingest/restart`, 6);
    assert.equal((await first.exited).code, 0);
    const before = await mediaPlaylist('restart', 'Low');
    const lastBefore = before.parsed.segments.at(-1)?.mediaSequenceNumber ?? -1;
    assert.ok(lastBefore >= 1, 'the first run published segments');
    assert.ok(!before.text.includes('#EXT-X-DISCONTINUITY\n'));

    const second = startLadder(`${server.url}/ingest/restart`, 6);
    const after = await waitFor(
      async () => {
        const playlist = await mediaPlaylist('restart', 'Low');
        return playlist.parsed.segments.some(
          (s) => s.discontinuity && s.mediaSequenceNumber > lastBefore,
        )
          ? playlist
          : undefined;
      },
      15_000,
      'a discontinuity after the restart',
    );
    const restartedAt = after.parsed.segments.find((s) => s.discontinuity);
    assert.equal(
      restartedAt?.mediaSequenceNumber,
      lastBefore + 1,
      'sequence numbers carry on across the restart',
    );
    const sequences = after.parsed.segments.map((s) => s.mediaSequenceNumber);
    assert.deepEqual(
      sequences,
      [...sequences].sort((a, b) => a - b),
    );
    for (const profile of ['VeryLow', 'Medium', 'High']) {
      const other = await mediaPlaylist('restart', profile);
      const marked = other.parsed.segments.find((s) => s.discontinuity);
      if (marked)
        assert.equal(
          marked.mediaSequenceNumber,
          lastBefore + 1,
          `${profile} restarts at the same sequence`,
        );
    }
    assert.equal((await second.exited).code, 0);

    const ended = await waitFor(
      async () => {
        const playlist = await mediaPlaylist('restart', 'Low');
        return playlist.parsed.endlist ? playlist : undefined;
      },
      ENCODER_TIMEOUT_MS + 7000,
      'EXT-X-ENDLIST after the encoder timeout',
    );
    assert.ok(ended.text.trimEnd().endsWith('#EXT-X-ENDLIST'));
    assert.equal((await call(`${server.url}/api/v1/streams/restart`, 'GET')).body.status, 'ended');
    const decoded = await run('ffmpeg', [
      '-v',
      'error',
      '-i',
      `${server.url}/live/restart/Low/index.m3u8`,
      '-f',
      'null',
      '-',
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
  });

  it('takes fMP4 segments with their init section and serves them with EXT-X-MAP', async () => {
    const ladder = startLadder(`${server.url}/ingest/cmaf`, 8, { fmp4: true });
    try {
      const playlist = await waitFor(
        async () => {
          const p = await mediaPlaylist('cmaf', 'Medium');
          return p.parsed.segments.length >= 2 ? p : undefined;
        },
        20_000,
        'fMP4 segments',
      );
      // Init sections and segments carry the stream's incarnation (README: HLS delivery).
      const incarnation = server.service.getDistributor('cmaf').incarnation;
      const map = playlist.parsed.segments[0]?.map?.uri;
      assert.equal(map, `init-${incarnation}-0.mp4`);
      assert.match(
        playlist.parsed.segments[0]?.uri ?? '',
        new RegExp(`^${incarnation}-\\d+\\.m4s$`),
      );
      const init = await fetch(`${server.url}/live/cmaf/Medium/${map}`);
      assert.equal(init.status, 200);
      assert.equal(init.headers.get('content-type'), 'video/mp4');
      await init.arrayBuffer();
      const decoded = await run('ffmpeg', [
        '-v',
        'error',
        '-xerror',
        '-i',
        `${server.url}/live/cmaf/Medium/index.m3u8`,
        '-t',
        '3',
        '-f',
        'null',
        '-',
      ]);
      assert.equal(decoded.code, 0, decoded.stderr);
      const master = await waitFor(
        async () => {
          const text = await (await fetch(`${server.url}/live/cmaf/master.m3u8`)).text();
          return (text.match(/CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/g) ?? []).length === 4
            ? text
            : undefined;
        },
        10_000,
        'codecs probed from the fMP4 media',
      );
      assert.match(master, /RESOLUTION=854x480/);
    } finally {
      await ladder.stop();
    }
  });
});
