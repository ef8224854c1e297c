import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../bench/viewers/free-port.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import {
  type Publisher,
  publishRtmp,
  stopPublishers,
  untilPlayable,
} from '../helpers/publisher.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

/** Seconds without a segment after a publisher left before its stream ends (the encoder timeout). */
const ENCODER_TIMEOUT_MS = 8000;

let server: TestServer;
let rtmpPort: number;

/** Starts `id` asking for a stream key; resolves with the publish URL the answer names. */
async function startWithKey(id: string): Promise<{ url: string; key: string }> {
  const started = await call(`${server.url}/api/v1/streams/start`, 'POST', {
    recording_id: id,
    stream_key: true,
  });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  return { url: started.body.ingest.rtmp_url, key: started.body.ingest.stream_key };
}

async function status(id: string): Promise<any> {
  return (await call(`${server.url}/api/v1/streams/${id}`, 'GET')).body;
}

/** The stream's Low media playlist, once it lists at least `segments` segments. */
function lowPlaylist(id: string, segments: number): Promise<string> {
  return waitFor(
    async () => {
      const response = await fetch(`${server.url}/live/${id}/Low/index.m3u8`);
      const text = await response.text();
      return (text.match(/#EXTINF/g) ?? []).length >= segments ? text : undefined;
    },
    60_000,
    `${segments} segments of ${id}`,
    100,
  );
}

/** Waits for the publisher to exit; resolves with its code and how long it ran (ms). */
async function refused(publisher: Publisher): Promise<{ code: number | null; ranMs: number }> {
  const code = await waitFor(
    async () => publisher.exited.then((c) => ({ c })),
    15_000,
    'the refused publisher to exit',
  );
  return { code: code.c, ranMs: performance.now() - publisher.startedAt };
}

describe('lecturers publish over RTMP with a stream key, into the ladder', {
  timeout: 240_000,
}, () => {
  before(async () => {
    rtmpPort = await freePort();
    server = await startTestServer({ cleanupIntervalMs: 250 }, 200, {
      ingest: { probe: ffprobeMedia(), encoderTimeoutMs: ENCODER_TIMEOUT_MS },
      encoders: { minBackoffMs: 250 },
      publishing: { host: '127.0.0.1', rtmpPort, preset: 'light' },
    });
  });

  after(async () => {
    await stopPublishers();
    await server?.close();
  });

  it('plays what ffmpeg publishes as OBS: four renditions that decode, with the ingest shown', async () => {
    const { url, key } = await startWithKey('lecture');
    assert.equal(url, `rtmp://127.0.0.1:${rtmpPort}/live/${key}`);
    assert.match(key, /^[A-Za-z0-9_-]{32}$/);
    const publisher = publishRtmp(url, { seconds: 20 });
    await untilPlayable(server.url, 'lecture', 60_000);
    const playableMs = performance.now() - publisher.startedAt;
    console.log(`publish to first playable segment: ${(playableMs / 1000).toFixed(1)} s`);

    const probe = await run('ffprobe', [
      ...['-v', 'error', '-of', 'json', '-show_programs'],
      `${server.url}/live/lecture/master.m3u8`,
    ]);
    assert.equal(probe.code, 0, probe.stderr);
    const programs = (JSON.parse(probe.stdout) as { programs: any[] }).programs;
    const videos = programs.map((p) => p.streams.find((s: any) => s.codec_type === 'video'));
    const audios = programs.map((p) => p.streams.find((s: any) => s.codec_type === 'audio'));
    assert.deepEqual(
      videos.map((v) => v?.height).sort((a, b) => a - b),
      [144, 240, 360, 480],
    );
    assert.ok(audios.every((a) => a?.codec_name === 'aac'));

    const decoded = await run('ffmpeg', [
      ...['-v', 'error', '-xerror', '-i', `${server.url}/live/lecture/Low/index.m3u8`],
      ...['-t', '4', '-f', 'null', '-'],
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.equal(decoded.stderr.trim(), '', 'decodes without an error');

    // What the lecturer sends, as the RTMP server measured it (the rate needs two reports).
    const shown = await waitFor(
      async () => {
        const body = await status('lecture');
        return body.ingest.bitrate_kbps === null ? undefined : body;
      },
      15_000,
      'the incoming bitrate',
    );
    assert.deepEqual([shown.ingest.width, shown.ingest.height], [640, 360]);
    // Measured from the frames' timestamps (FLV keeps milliseconds): 30 give or take rounding.
    assert.ok(Math.abs(shown.ingest.fps - 30) < 0.5, `${shown.ingest.fps} fps`);
    assert.deepEqual([shown.ingest.video_codec, shown.ingest.audio_codec], ['h264', 'aac']);
    // 1500 kb/s of video and 128 of audio, give or take the encoder's rate control (and a
    // publisher that falls behind real time on a busy machine sends less).
    assert.ok(
      shown.ingest.bitrate_kbps > 400 && shown.ingest.bitrate_kbps < 3200,
      `incoming ${shown.ingest.bitrate_kbps} kb/s`,
    );
    assert.equal(shown.ingest.protocol, 'rtmp');
    assert.equal(shown.ingest.connected, true);
    assert.equal(shown.ingest.reconnects, 0);
    assert.ok(Date.parse(shown.ingest.connected_since) <= Date.now());
    assert.ok(!JSON.stringify(shown).includes(key), 'the status never shows the key');
    const listed = (await call(`${server.url}/api/v1/streams`, 'GET')).body;
    assert.ok(!JSON.stringify(listed).includes(key), 'nor does the stream list');

    const urls = await call(`${server.url}/api/v1/streams/lecture/ingest`, 'GET');
    assert.equal(urls.status, 200);
    assert.equal(urls.body.rtmp_url, url);
    assert.equal(urls.body.rtmp_server, `rtmp://127.0.0.1:${rtmpPort}/live`);
    assert.equal(urls.body.srt_url, null, 'no SRT without --srt-ports');
    await publisher.stop();
  });

  it('refuses an unknown key, a wrong key and a second publisher, and no stream appears', async () => {
    const { url, key } = await startWithKey('refusals');
    const first = publishRtmp(url, { seconds: 40 });
    await waitFor(
      async () => ((await status('refusals')).ingest.connected ? true : undefined),
      15_000,
      'the first publisher to be connected',
    );
    const before = (await lowPlaylist('refusals', 1)).match(/#EXTINF/g)?.length ?? 0;
    const wrong = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    const unknown = randomBytes(24).toString('base64url');
    const base = `rtmp://127.0.0.1:${rtmpPort}/live`;
    const attempts = {
      unknown: publishRtmp(`${base}/${unknown}`, { seconds: 10 }),
      wrong: publishRtmp(`${base}/${wrong}`, { seconds: 10 }),
      second: publishRtmp(url, { seconds: 10 }),
    };
    for (const [what, publisher] of Object.entries(attempts)) {
      const outcome = await refused(publisher);
      assert.notEqual(outcome.code, 0, `the ${what} publisher is refused`);
      console.log(`${what} key refused, publisher gone after ${outcome.ranMs.toFixed(0)} ms`);
    }
    const ids = (await call(`${server.url}/api/v1/streams`, 'GET')).body.streams.map(
      (s: any) => s.recording_id,
    );
    // Only streams started through the API: a refused publish makes none.
    assert.ok(
      ids.every((id: string) => ['lecture', 'refusals'].includes(id)),
      ids.join(),
    );
    // The first publisher goes on: still connected, still feeding the stream, no reconnect.
    await lowPlaylist('refusals', before + 2);
    const shown = await status('refusals');
    assert.equal(shown.ingest.connected, true);
    assert.equal(shown.ingest.reconnects, 0);
    assert.equal(first.child.exitCode, null, 'the first publisher was not cut');
    await first.stop();
  });

  it('continues the stream with a discontinuity when the lecturer reconnects, and ends it after the encoder timeout', async () => {
    const { url } = await startWithKey('rejoin');
    const first = publishRtmp(url, { seconds: 8 });
    const firstPlaylist = await lowPlaylist('rejoin', 2);
    assert.equal(await first.exited, 0);
    await waitFor(
      async () => ((await status('rejoin')).ingest.connected ? undefined : true),
      10_000,
      'the publish to end',
    );
    const second = publishRtmp(url, { seconds: 6 });
    const rejoined = await waitFor(
      async () => {
        const text = await (await fetch(`${server.url}/live/rejoin/Low/index.m3u8`)).text();
        return text.includes('#EXT-X-DISCONTINUITY') ? text : undefined;
      },
      30_000,
      'a discontinuity in the playlist',
      100,
    );
    const shown = await status('rejoin');
    assert.equal(shown.status, 'live', 'one stream throughout');
    assert.equal(shown.ingest.reconnects, 1);
    // The same stream goes on: the segment after the discontinuity is the next of the same
    // incarnation (its name's prefix), and what the first publish made is still listed.
    const uris = (text: string) => text.split('\n').filter((line) => line.endsWith('.ts'));
    const [before, after] = rejoined.split('#EXT-X-DISCONTINUITY\n');
    assert.ok(before !== undefined && after !== undefined, rejoined);
    for (const uri of uris(firstPlaylist)) assert.ok(uris(before).includes(uri), uri);
    const last = uris(before).at(-1) ?? '';
    const next = uris(after)[0] ?? '';
    const [prefix, number] = last.replace('.ts', '').split('-');
    assert.equal(next, `${prefix}-${Number(number) + 1}.ts`, rejoined);
    assert.equal(await second.exited, 0);
    // After the second publish, nobody comes back: the stream ends.
    await waitFor(
      async () => ((await status('rejoin')).status === 'ended' ? true : undefined),
      ENCODER_TIMEOUT_MS + 15_000,
      'the stream to end after the encoder timeout',
      250,
    );
    // Too late: the stream is over, and a publish must not start it again (it would replace
    // the recording of the lecture so far).
    const ended = await status('rejoin');
    const late = await refused(publishRtmp(url, { seconds: 10 }));
    assert.notEqual(late.code, 0, 'a publish to an ended stream is refused');
    const now = await status('rejoin');
    assert.equal(now.status, 'ended');
    assert.deepEqual(now.segments_available, ended.segments_available, 'nothing replaced it');
  });

  it('disconnects the publisher when the stream is ended through the API', async () => {
    const { url } = await startWithKey('ended-live');
    const publisher = publishRtmp(url, { seconds: 40 });
    await lowPlaylist('ended-live', 1);
    const ended = await call(`${server.url}/api/v1/streams/ended-live/end`, 'POST');
    assert.equal(ended.status, 200);
    assert.notEqual(await publisher.exited, 0, 'the publisher is cut off');
    await waitFor(
      async () => ((await status('ended-live')).ingest.connected ? undefined : true),
      10_000,
      'the publish to be over',
    );
  });

  it('restarts a killed RTMP server: the origin serves viewers throughout, and the lecturer publishes again', async () => {
    // A stream fed some other way, watched by a viewer the whole time.
    server.service.startLiveStream('steady');
    let sequence = 0;
    const publish = () => {
      for (const p of ALL_PROFILES)
        server.service.addSegmentToStream('steady', segmentInput(sequence, p));
      sequence += 1;
    };
    publish(); // media before the viewer's first request
    const feed = setInterval(publish, 250);
    const answers: number[] = [];
    let watching = true;
    const viewer = (async () => {
      while (watching) {
        const playlist = await fetch(`${server.url}/live/steady/Low/index.m3u8`);
        const text = await playlist.text();
        answers.push(playlist.status);
        const last = text
          .split('\n')
          .filter((line) => line.startsWith('seg-'))
          .at(-1);
        if (last) answers.push((await fetch(`${server.url}/live/steady/Low/${last}`)).status);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      const { url } = await startWithKey('survivor');
      const first = publishRtmp(url, { seconds: 60 });
      await lowPlaylist('survivor', 1);
      const pid = server.publishing?.rtmpPid;
      assert.ok(pid, 'the RTMP child runs');
      process.kill(pid, 'SIGKILL');
      // Until it is back (a second at first), the health check says why lecturers cannot publish.
      const health = await waitFor(
        async () => {
          const body = (await call(`${server.url}/api/v1/distribution/health`, 'GET')).body;
          return body.status === 'degraded' ? body : undefined;
        },
        5000,
        'the health check to name the RTMP listener',
        50,
      );
      assert.ok(health.reasons.some((r: string) => r.includes('RTMP listener is down')));
      // The lecturer's connection dies with the child; the ladder fed by it stops.
      assert.notEqual(await first.exited, 0);
      await waitFor(
        async () => ((await status('survivor')).ingest.connected ? undefined : true),
        10_000,
        'the publish to end with the child',
      );
      await waitFor(
        async () => {
          const now = server.publishing?.listenerStatus();
          return now?.up && server.publishing?.rtmpPid !== pid ? true : undefined;
        },
        20_000,
        'a new RTMP child',
      );
      // OBS reconnects: the same key publishes again, and the same stream goes on.
      const again = publishRtmp(url, { seconds: 60 });
      await waitFor(
        async () => {
          const text = await (await fetch(`${server.url}/live/survivor/Low/index.m3u8`)).text();
          return text.includes('#EXT-X-DISCONTINUITY') ? true : undefined;
        },
        30_000,
        'segments of the second publish',
        100,
      );
      const shown = await status('survivor');
      assert.equal(shown.ingest.connected, true);
      assert.equal(shown.ingest.reconnects, 1);
      assert.equal(server.publishing?.listenerStatus().restarts, 1);
      await again.stop();
    } finally {
      watching = false;
      await viewer;
      clearInterval(feed);
    }
    assert.ok(answers.length > 20, `the viewer asked ${answers.length} times`);
    assert.deepEqual(
      answers.filter((status) => status !== 200),
      [],
      'every playlist and segment request answered 200 throughout',
    );
  });
});
