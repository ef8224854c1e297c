import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

let server: TestServer;
let api: string;

async function playlist(stream: string): Promise<MediaPlaylist> {
  const res = await fetch(`${server.url}/live/${stream}/Low/index.m3u8`);
  if (!res.ok) throw new Error(`playlist answered ${res.status}`);
  return HLS.parse(await res.text()) as MediaPlaylist;
}

describe('built-in ladder encoder', { timeout: 120_000 }, () => {
  before(async () => {
    server = await startTestServer({ cleanupIntervalMs: 250 }, 200, {
      ingest: { probe: ffprobeMedia() },
      encoders: { minBackoffMs: 300, mediaDir: 'test' },
    });
    api = `${server.url}/api/v1`;
  });
  after(() => server?.close());

  it('publishes the test pattern through ingest, restarts a killed ffmpeg and continues with a discontinuity', async () => {
    const started = await call(`${api}/transcode/start`, 'POST', {
      recording_id: 'pattern',
      preset: 'light',
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const jobId = started.body.job_id as string;
    assert.equal(started.body.state, 'running');
    const first = await waitFor(
      async () => {
        const p = await playlist('pattern');
        return p.segments.length >= 2 ? p : undefined;
      },
      20_000,
      'segments from the built-in encoder',
    );
    const lastBefore = first.segments.at(-1)?.mediaSequenceNumber ?? -1;
    const status = await waitFor(
      async () => {
        const s = (await call(`${api}/transcode/${jobId}`, 'GET')).body;
        return s.speed !== null ? s : undefined;
      },
      10_000,
      'a real-time factor from ffmpeg',
    );
    assert.equal(typeof status.pid, 'number');
    assert.ok(status.speed > 0.5, `reports its real-time factor (${status.speed})`);
    assert.equal(status.behind_real_time, false);

    process.kill(status.pid, 'SIGKILL');
    const restarted = await waitFor(
      async () => {
        const s = (await call(`${api}/transcode/${jobId}`, 'GET')).body;
        return s.restarts >= 1 && s.state === 'running' && s.pid !== status.pid ? s : undefined;
      },
      10_000,
      'the encoder to restart',
    );
    assert.match(restarted.last_error ?? '', /^ffmpeg exited with SIGKILL/);
    const continued = await waitFor(
      async () => {
        const p = await playlist('pattern');
        return p.segments.some((s) => s.discontinuity && s.mediaSequenceNumber > lastBefore)
          ? p
          : undefined;
      },
      20_000,
      'a discontinuity after the restart',
    );
    const sequences = continued.segments.map((s) => s.mediaSequenceNumber);
    assert.deepEqual(
      sequences,
      [...sequences].sort((a, b) => a - b),
      'the playlist continues in order',
    );
    assert.equal((await call(`${api}/streams/pattern`, 'GET')).body.status, 'live');

    const metrics = (await call(`${api}/distribution/metrics`, 'GET')).body;
    assert.equal(metrics.encoders.running, 1);

    const ended = await call(`${api}/streams/pattern/end`, 'POST');
    assert.equal(ended.status, 200);
    const stopped = (await call(`${api}/transcode/${jobId}`, 'GET')).body;
    assert.equal(stopped.state, 'stopped', 'ending the stream stops its encoder');
    assert.equal(existsSync(`/proc/${restarted.pid}`), false, 'no ffmpeg left behind');
  });

  it('lists, stops, and refuses a second encoder for the same stream', async () => {
    const started = await call(`${api}/transcode/start`, 'POST', { recording_id: 'twice' });
    assert.equal(started.status, 201);
    const again = await call(`${api}/transcode/start`, 'POST', { recording_id: 'twice' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'ENCODER_EXISTS');
    const list = (await call(`${api}/transcode`, 'GET')).body.encoders;
    assert.ok(list.some((e: any) => e.job_id === started.body.job_id));
    const stop = await call(`${api}/transcode/${started.body.job_id}/stop`, 'POST');
    assert.equal(stop.body.state, 'stopped');
    assert.equal(existsSync(`/proc/${started.body.pid}`), false);
    assert.equal((await call(`${api}/transcode/enc-none`, 'GET')).status, 404);
  });

  const bad: [string, unknown, string][] = [
    ['a path out of the media directory', { type: 'file', path: '../package.json' }, 'source.path'],
    ['an absolute path', { type: 'file', path: '/etc/passwd' }, 'source.path'],
    ['a file that is not there', { type: 'file', path: 'nothing.mp4' }, 'source.path'],
    [
      'a URL scheme ffmpeg should not open',
      { type: 'url', url: 'file:///etc/passwd' },
      'source.url',
    ],
    ['an unknown source type', { type: 'webcam' }, 'source.type'],
  ];
  for (const [name, source, field] of bad) {
    it(`refuses ${name} with 400 naming ${field}`, async () => {
      const res = await call(`${api}/transcode/start`, 'POST', {
        recording_id: 'bad-source',
        source,
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.field, field);
    });
  }
});
