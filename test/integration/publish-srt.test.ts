import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, freeUdpPort, udpPortBound } from '../../bench/viewers/free-port.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { publishSrt, stopPublishers, untilPlayable } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';

let server: TestServer;

async function status(id: string): Promise<any> {
  return (await call(`${server.url}/api/v1/streams/${id}`, 'GET')).body;
}

describe('lecturers publish over SRT with the stream key as passphrase', {
  timeout: 120_000,
}, () => {
  let srtPort: number;

  before(async () => {
    srtPort = await freeUdpPort();
    server = await startTestServer({ cleanupIntervalMs: 250 }, 200, {
      ingest: { probe: ffprobeMedia() },
      encoders: { minBackoffMs: 250 },
      publishing: {
        host: '127.0.0.1',
        rtmpPort: await freePort(),
        srtPorts: { from: srtPort, to: srtPort },
        preset: 'light',
      },
    });
  });

  after(async () => {
    await stopPublishers();
    await server?.close();
  });

  it('refuses a wrong passphrase, then plays a publish with the right one', async () => {
    const started = await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'srt-lecture',
      stream_key: true,
    });
    assert.equal(started.status, 201);
    const key: string = started.body.ingest.stream_key;
    const ingest = await call(`${server.url}/api/v1/streams/srt-lecture/ingest`, 'GET');
    assert.equal(ingest.body.srt_port, srtPort);
    assert.equal(
      ingest.body.srt_url,
      `srt://127.0.0.1:${srtPort}?mode=caller&passphrase=${key}&latency=200000`,
    );

    // Once the relay listens, a caller with another passphrase is turned away.
    await waitFor(
      async () => (udpPortBound(srtPort) ? true : undefined),
      10_000,
      'the SRT listener',
    );
    const wrong = publishSrt(
      `srt://127.0.0.1:${srtPort}?mode=caller&passphrase=${'x'.repeat(32)}`,
      { seconds: 10 },
    );
    assert.notEqual(await wrong.exited, 0, 'a wrong passphrase is refused');
    // By the listener (libsrt's handshake), not for want of one.
    assert.match(wrong.stderr(), /Incorrect passphrase/);
    const afterWrong = await status('srt-lecture');
    assert.equal(afterWrong.ingest.connected, false);
    assert.equal(afterWrong.total_segments_served, 0);
    assert.deepEqual(Object.values(afterWrong.segments_available), [0, 0, 0, 0]);

    const publisher = publishSrt(ingest.body.srt_url, { seconds: 20 });
    await untilPlayable(server.url, 'srt-lecture', 60_000);
    const playableMs = performance.now() - publisher.startedAt;
    console.log(`SRT publish to first playable segment: ${(playableMs / 1000).toFixed(1)} s`);
    const shown = await status('srt-lecture');
    assert.equal(shown.ingest.protocol, 'srt');
    assert.equal(shown.ingest.connected, true);
    assert.deepEqual([shown.ingest.width, shown.ingest.height], [640, 360]);
    assert.ok(!JSON.stringify(shown).includes(key), 'the status never shows the key');

    const decoded = await run('ffmpeg', [
      ...['-v', 'error', '-xerror', '-i', `${server.url}/live/srt-lecture/VeryLow/index.m3u8`],
      ...['-t', '4', '-f', 'null', '-'],
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.equal(decoded.stderr.trim(), '');
    await publisher.stop();
  });
});
