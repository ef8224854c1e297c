import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

/** Pushes one-second segments [from, to) of a rendition as ffmpeg's hls muxer would. */
async function pushOneSecondSegments(
  base: string,
  recordingId: string,
  from: number,
  to: number,
): Promise<void> {
  for (let seq = from; seq < to; seq++) {
    const url = `${base}/ingest/${recordingId}/Low`;
    const segment = await fetch(`${url}/seg_${seq}.ts`, {
      method: 'PUT',
      body: new Uint8Array(2000).fill(seq % 251),
    });
    assert.equal(segment.status, 201);
    const first = Math.max(0, seq - 5);
    let text = `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:${first}\n`;
    for (let s = first; s <= seq; s++) text += `#EXTINF:1.000,\nseg_${s}.ts\n`;
    const playlist = await fetch(`${url}/index.m3u8`, { method: 'PUT', body: text });
    assert.equal(playlist.status, 201);
  }
}

interface StreamHealthJson {
  recording_id: string;
  status: string;
  reasons: string[];
  last_segment_age_seconds: number | null;
  target_duration_seconds: number;
  encoder: { job_id: string; state: string; recent_speed: number | null } | null;
}

async function health(server: TestServer) {
  const res = await call(`${server.url}/api/v1/distribution/health`, 'GET');
  const streams = res.body.streams as StreamHealthJson[];
  return { ...res, stream: (id: string) => streams.find((s) => s.recording_id === id) };
}

let server: TestServer;
/** What the built-in encoders announced (the server logs these lines). */
const encoderEvents: Array<{ event: string; detail: Record<string, unknown> }> = [];
before(async () => {
  server = await startTestServer({}, 200, {
    encoders: { onEvent: (event, detail) => encoderEvents.push({ event, detail }) },
  });
});
after(() => server.close());

describe('GET /api/v1/distribution/health per stream', () => {
  it('reports a stream degraded, naming it, once its ingest stalls for three target durations, and healthy again when segments flow', {
    timeout: 30_000,
  }, async () => {
    await pushOneSecondSegments(server.url, 'stall', 0, 3);
    const fresh = await health(server);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.status, 'healthy', JSON.stringify(fresh.body));
    assert.deepEqual(fresh.body.reasons, []);
    assert.equal(fresh.stream('stall')?.status, 'healthy');
    assert.equal(fresh.stream('stall')?.encoder, null);

    const stalled = await waitFor(
      async () => {
        const h = await health(server);
        return h.body.status === 'degraded' ? h : undefined;
      },
      12_000,
      'health to notice the stalled ingest',
    );
    assert.equal(stalled.status, 200, 'degraded still serves: 503 is for shutting down only');
    assert.equal(stalled.body.accepting, true);
    const stream = stalled.stream('stall');
    assert.equal(stream?.status, 'degraded');
    const target = stream?.target_duration_seconds ?? Number.NaN;
    assert.ok(target >= 1, JSON.stringify(stream));
    assert.ok((stream?.last_segment_age_seconds ?? 0) >= 3 * target, JSON.stringify(stream));
    assert.match(stream?.reasons[0] ?? '', /^stream 'stall': no new segment for \d+\.\d s/);
    assert.ok(stalled.body.reasons.includes(stream?.reasons[0]), 'the system reasons name it');
    assert.match(stalled.body.message, /degraded: stream 'stall'/);

    await pushOneSecondSegments(server.url, 'stall', 3, 4);
    const recovered = await health(server);
    assert.equal(recovered.body.status, 'healthy', JSON.stringify(recovered.body));
    assert.equal(recovered.stream('stall')?.status, 'healthy');
  });

  it('reports a stream degraded while its built-in encoder stalls (ffmpeg stopped), and healthy again once it catches up', {
    timeout: 60_000,
  }, async () => {
    const started = await call(`${server.url}/api/v1/transcode/start`, 'POST', {
      recording_id: 'slow',
      preset: 'light',
      duration_seconds: 60,
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const pid = started.body.pid as number;
    const job = started.body.job_id as string;
    let stoppedAt = Number.POSITIVE_INFINITY;
    try {
      // Healthy once it has run a full window at real time.
      const running = await waitFor(
        async () => {
          const h = await health(server);
          const s = h.stream('slow');
          return s?.status === 'healthy' && s.encoder?.recent_speed != null ? s : undefined;
        },
        20_000,
        'the encoder to publish at real time',
      );
      assert.equal(running.encoder?.job_id, job);
      assert.equal(running.encoder?.state, 'running');
      assert.ok((running.encoder?.recent_speed ?? 0) >= 0.9, JSON.stringify(running));
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(
        metrics,
        new RegExp(`^vtp_encoder_speed\\{stream="slow",job="${job}"\\} \\d`, 'm'),
      );

      stoppedAt = encoderEvents.length;
      process.kill(pid, 'SIGSTOP');
      let behind: Awaited<ReturnType<typeof health>>;
      try {
        behind = await waitFor(
          async () => {
            const h = await health(server);
            return h.stream('slow')?.reasons.some((r) => r.includes(`encoder ${job}`))
              ? h
              : undefined;
          },
          10_000,
          'health to notice the stopped encoder',
          100,
        );
        const stalledMetrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(stalledMetrics, /^vtp_encoders_behind_real_time 1$/m);
        assert.match(
          stalledMetrics,
          new RegExp(`^vtp_encoder_speed\\{stream="slow",job="${job}"\\} 0$`, 'm'),
        );
        // The once-a-second pace check announces it while the stall lasts.
        await waitFor(
          async () =>
            encoderEvents.some((e) => e.event === 'behind' && e.detail.jobId === job) || undefined,
          3000,
          'the encoder to announce it is behind',
          100,
        );
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      assert.equal(behind.body.status, 'degraded');
      assert.equal(behind.status, 200);
      assert.match(
        behind.stream('slow')?.reasons.find((r) => r.includes('encoder')) ?? '',
        new RegExp(`^stream 'slow': encoder ${job} stalled`),
      );
      assert.equal(behind.stream('slow')?.encoder?.recent_speed, 0);

      await waitFor(
        async () =>
          (await health(server)).stream('slow')?.status === 'healthy' ? true : undefined,
        20_000,
        'the encoder to catch up',
      );
      // The pace is announced by a once-a-second check, so the event may trail health a little.
      await waitFor(
        async () =>
          encoderEvents.some((e) => e.event === 'caught_up' && e.detail.jobId === job) || undefined,
        3000,
        'the encoder to announce it caught up',
      );
    } finally {
      await call(`${server.url}/api/v1/transcode/${job}/stop`, 'POST');
    }
    assert.ok(encoderEvents.some((e) => e.event === 'started' && e.detail.jobId === job));
    // From the stall on (a busy machine may have slowed the encoder before it, too).
    const announced = encoderEvents.slice(stoppedAt).filter((e) => e.detail.jobId === job);
    assert.deepEqual(
      announced.map((e) => e.event),
      ['behind', 'caught_up', 'stopped'],
      'each change of pace is announced once',
    );
    assert.equal(announced[0]?.detail.stalled, true);
    assert.equal(announced[0]?.detail.recordingId, 'slow');
  });

  it('lists only live streams: an ended stream is not judged', async () => {
    await pushOneSecondSegments(server.url, 'done', 0, 2);
    assert.equal((await call(`${server.url}/api/v1/streams/done/end`, 'POST')).status, 200);
    const h = await health(server);
    assert.equal(h.stream('done'), undefined);
  });
});
