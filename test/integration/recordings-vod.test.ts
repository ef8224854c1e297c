import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { startLadder } from '../helpers/ladder.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

let server: TestServer;
let dir: string;
/** Seconds of media each encoder run pushes (a restart between the two). */
const RUN_SEC = 7;

describe('a real ladder becomes a VOD recording', { timeout: 90_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-vod-'));
    server = await startTestServer({}, 200, {
      dataDir: dir,
      ingest: { probe: ffprobeMedia(), encoderTimeoutMs: 30_000 },
    });
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
    const probed = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration',
      '-of',
      'csv=p=0',
      master,
    ]);
    assert.equal(probed.code, 0, probed.stderr);
    const duration = Number(probed.stdout.trim());
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
});
