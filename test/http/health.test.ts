import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RuntimeOptions } from '../../src/server.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { ALL_PROFILES } from '../helpers/segments.js';
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
  renditions: Array<{ profile: string; last_segment_age_seconds: number }>;
  target_duration_seconds: number;
  encoder: { job_id: string; state: string; recent_speed: number | null } | null;
}

async function health(server: TestServer) {
  const res = await call(`${server.url}/api/v1/distribution/health`, 'GET');
  const streams = res.body.streams as StreamHealthJson[];
  return { ...res, stream: (id: string) => streams.find((s) => s.recording_id === id) };
}

/**
 * A server whose service clock the test moves (ingest, freshness and health read it), so time
 * passes without waiting for it. Closed after the test.
 */
async function clockedServer(
  t: { after(fn: () => Promise<unknown>): void },
  extra: Omit<RuntimeOptions, 'service' | 'longPollMs'> = {},
) {
  const clock = { now: Date.now() };
  const s = await startTestServer({ clock: () => clock.now }, 200, extra);
  t.after(() => s.close());
  return { server: s, advance: (ms: number) => (clock.now += ms) };
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
    let stallAt = 0;
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
        assert.match(stalledMetrics, /^vtp_encoders_running 1$/m);
        // The JSON metrics count the encoders the same way.
        const json = await call(`${server.url}/api/v1/distribution/metrics`, 'GET');
        assert.deepEqual(json.body.encoders, { running: 1, behind_real_time: 1 });
        assert.match(
          stalledMetrics,
          new RegExp(`^vtp_encoder_speed\\{stream="slow",job="${job}"\\} 0$`, 'm'),
        );
        // The once-a-second pace check announces it while the stall lasts. Events before the
        // stall (a busy machine may have slowed the encoder, and it caught up) are not this one.
        stallAt = await waitFor(
          async () => {
            const at = encoderEvents.findIndex(
              (e, i) => i >= stoppedAt && e.event === 'behind' && e.detail.jobId === job,
            );
            return at >= 0 ? at : undefined;
          },
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
          encoderEvents
            .slice(stallAt)
            .some((e) => e.event === 'caught_up' && e.detail.jobId === job) || undefined,
        3000,
        'the encoder to announce it caught up',
      );
    } finally {
      await call(`${server.url}/api/v1/transcode/${job}/stop`, 'POST');
    }
    assert.ok(encoderEvents.some((e) => e.event === 'started' && e.detail.jobId === job));
    // From the stall's announcement on.
    const announced = encoderEvents.slice(stallAt).filter((e) => e.detail.jobId === job);
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

  it('names the rendition that stalls while the others go on, and is healthy again once it publishes', async (t) => {
    const { server, advance } = await clockedServer(t);
    for (const profile of ALL_PROFILES) await pushSegments(server.url, 'ladder', profile, 0, 2);
    const fresh = await health(server);
    assert.equal(fresh.stream('ladder')?.status, 'healthy', JSON.stringify(fresh.body));
    assert.deepEqual(
      fresh.stream('ladder')?.renditions.map((r) => r.profile),
      ['VeryLow', 'Low', 'Medium', 'High'],
    );

    // 2 s segments: three target durations are 6 s. High stops; the others publish on.
    advance(7000);
    for (const profile of ['VeryLow', 'Low', 'Medium'] as const)
      await pushSegments(server.url, 'ladder', profile, 2, 3);
    const stalled = await health(server);
    assert.equal(stalled.status, 200);
    assert.equal(stalled.body.status, 'degraded', JSON.stringify(stalled.body));
    const stream = stalled.stream('ladder');
    assert.equal(stream?.status, 'degraded');
    assert.deepEqual(stream?.reasons, [
      "stream 'ladder': no new High segment for 7.0 s (more than 3 target durations of 2 s) while other renditions go on",
    ]);
    assert.deepEqual(stalled.body.reasons, stream?.reasons, 'the system reasons name it');
    assert.equal(stream?.last_segment_age_seconds, 0, 'the newest segment of any rendition');
    assert.deepEqual(
      stream?.renditions.map((r) => [r.profile, r.last_segment_age_seconds]),
      [
        ['VeryLow', 0],
        ['Low', 0],
        ['Medium', 0],
        ['High', 7],
      ],
    );

    await pushSegments(server.url, 'ladder', 'High', 2, 3);
    const recovered = await health(server);
    assert.equal(recovered.body.status, 'healthy', JSON.stringify(recovered.body));
    assert.equal(recovered.stream('ladder')?.status, 'healthy');
  });

  it('reports a stream started through the API as waiting until its first segment, without degrading the server, until the encoder timeout ends it', {
    timeout: 20_000,
  }, async (t) => {
    const { server, advance } = await clockedServer(t);
    const started = await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'early',
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    // Past the three target durations that would stall a stream with segments, short of the
    // encoder timeout (10 s).
    advance(8000);
    const waiting = await health(server);
    assert.equal(waiting.body.status, 'healthy', JSON.stringify(waiting.body));
    assert.deepEqual(waiting.body.reasons, []);
    const stream = waiting.stream('early');
    assert.equal(stream?.status, 'waiting');
    assert.deepEqual(stream?.reasons, []);
    assert.equal(stream?.last_segment_age_seconds, null);
    assert.deepEqual(stream?.renditions, []);

    await pushSegments(server.url, 'early', 'Low', 0, 1);
    assert.equal((await health(server)).stream('early')?.status, 'healthy');

    // A second stream that never gets media is ended by the encoder timeout (checked each second).
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'never' });
    assert.equal((await health(server)).stream('never')?.status, 'waiting');
    advance(11_000);
    await waitFor(
      async () => ((await health(server)).stream('never') === undefined ? true : undefined),
      5000,
      'the encoder timeout to end the stream that never got media',
    );
  });

  it('reports a raised target duration (a segment longer than the encoder promised) for a minute', async (t) => {
    // A long encoder timeout, so the minute can pass without the stream being ended meanwhile.
    const { server, advance } = await clockedServer(t, { ingest: { encoderTimeoutMs: 600_000 } });
    const stretched = { duration: (seq: number) => (seq === 2 ? '5.000' : '2.000') };
    await pushSegments(server.url, 'stretch', 'Low', 0, 2, '', stretched);
    assert.equal((await health(server)).stream('stretch')?.status, 'healthy');
    await pushSegments(server.url, 'stretch', 'Low', 2, 3, '', stretched);
    advance(1000);
    const raised = await health(server);
    assert.equal(raised.body.status, 'degraded', JSON.stringify(raised.body));
    assert.deepEqual(raised.stream('stretch')?.reasons, [
      "stream 'stretch': a segment longer than promised raised the target duration to 5 s 1.0 s ago",
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^vtp_target_duration_raises_total\{stream="stretch"\} 1$/m);

    advance(59_000);
    await pushSegments(server.url, 'stretch', 'Low', 3, 4, '', stretched);
    const later = await health(server);
    assert.equal(later.stream('stretch')?.status, 'healthy', JSON.stringify(later.body));
    assert.equal(later.body.status, 'healthy');
  });
});
