import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROFILES } from '../../src/core/profiles.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { run } from '../helpers/exec.js';
import { playHls } from '../helpers/hls-client.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { waitFor } from '../helpers/wait.js';

const IDLE_MS = 4000;
let server: TestServer;
let ladder: RunningLadder;
let live: string;

/** The viewer's own row, asked for with its session as the bearer token. */
async function viewerRow(sessionId: string): Promise<any> {
  const stats = await call(`${server.url}/api/v1/streams/lecture`, 'GET', undefined, {
    authorization: `Bearer ${sessionId}`,
  });
  return stats.body.viewers?.[0];
}

describe('a real ffmpeg ladder pushed in and played out', { timeout: 120_000 }, () => {
  before(async () => {
    server = await startTestServer({ idleTimeoutMs: IDLE_MS, cleanupIntervalMs: 250 }, 200, {
      ingest: { probe: ffprobeMedia() },
    });
    live = `${server.url}/live/lecture`;
    await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'lecture',
      max_viewers: 50,
    });
    ladder = startLadder(`${server.url}/ingest/lecture`, 45);
    // Ready once every rendition has three segments and the media has been probed.
    await waitFor(
      async () => {
        const text = await (await fetch(`${live}/master.m3u8`)).text();
        const ready = (text.match(/CODECS=/g) ?? []).length === 4;
        const stats = (await call(`${server.url}/api/v1/streams/lecture`, 'GET')).body;
        return ready &&
          Object.values(stats.segments_available as Record<string, number>).every((n) => n >= 3)
          ? true
          : undefined;
      },
      30_000,
      'four probed renditions with three segments each',
    );
  });

  after(async () => {
    await ladder?.stop();
    await server?.close();
  });

  it('ffprobe reads the multivariant playlist and finds four video renditions at the four bitrates', async () => {
    const probe = await run('ffprobe', [
      '-v',
      'error',
      '-of',
      'json',
      '-show_programs',
      `${live}/master.m3u8`,
    ]);
    assert.equal(probe.code, 0, probe.stderr);
    const programs = (JSON.parse(probe.stdout) as { programs: any[] }).programs;
    assert.equal(programs.length, 4);
    const rows = programs
      .map((p) => ({
        bitrate: Number(p.tags.variant_bitrate),
        video: p.streams.find((s: any) => s.codec_type === 'video'),
        audio: p.streams.find((s: any) => s.codec_type === 'audio'),
      }))
      .sort((a, b) => a.bitrate - b.bitrate);
    const nominal = [PROFILES.VeryLow, PROFILES.Low, PROFILES.Medium, PROFILES.High].map(
      (p) => p.bitrateKbps * 1000,
    );
    rows.forEach((row, i) => {
      assert.equal(row.video?.codec_name, 'h264');
      assert.equal(row.audio?.codec_name, 'aac');
      const ratio = row.bitrate / (nominal[i] ?? 1);
      // Peak segment bitrate: the nominal video rate plus audio and MPEG-TS overhead.
      assert.ok(
        ratio > 0.9 && ratio < 1.8,
        `rendition ${i} at ${row.bitrate} b/s vs ${nominal[i]}`,
      );
    });
    assert.deepEqual(
      rows.map((r) => r.video.height),
      [144, 240, 360, 480],
    );
  });

  it("plays a rendition back: ffmpeg decodes 10 s cleanly, and a player's bytes match its stats", async () => {
    const joined = await call(`${server.url}/api/v1/streams/lecture`, 'POST', {
      viewer_id: 'student-1',
    });
    const decoder = await call(`${server.url}/api/v1/streams/lecture`, 'POST', {
      viewer_id: 'decoder',
    });
    // The decoder's row is read as soon as ffmpeg exits: it may finish seconds before the
    // player, and its session expires IDLE_MS after its last fetch.
    const [[decoded, decoderRow], played] = await Promise.all([
      run('ffmpeg', [
        '-v',
        'error',
        '-xerror',
        '-i',
        `${live}/Medium/index.m3u8?session=${decoder.body.session_id}`,
        '-t',
        '10',
        '-f',
        'null',
        '-',
      ]).then(async (result) => [result, await viewerRow(decoder.body.session_id)] as const),
      playHls(`${live}/master.m3u8?session=${joined.body.session_id}`, 'Low', 10),
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.equal(decoded.stderr.trim(), '', 'no decoding errors');
    assert.equal(decoderRow.viewer_id, 'decoder');
    assert.equal(decoderRow.current_bitrate, 'Medium');
    assert.ok(
      decoderRow.segments_received >= 5,
      `decoder fetched ${decoderRow.segments_received} segments`,
    );

    assert.equal(played.sessionId, joined.body.session_id);
    assert.ok(played.segments >= 6, `player fetched ${played.segments} segments`);
    const row = await viewerRow(joined.body.session_id);
    assert.equal(row.viewer_id, 'student-1');
    assert.equal(row.current_bitrate, 'Low');
    assert.equal(row.segments_received, played.segments);
    assert.equal(row.bytes_received, played.bytes);
  });

  it('counts and attributes two anonymous players and one joined viewer, then expires them when idle', async () => {
    const joined = await call(`${server.url}/api/v1/streams/lecture`, 'POST', {
      viewer_id: 'student-2',
    });
    const [a, b, c] = await Promise.all([
      playHls(`${live}/master.m3u8`, 'VeryLow', 6),
      playHls(`${live}/master.m3u8`, 'High', 6),
      playHls(`${live}/master.m3u8?session=${joined.body.session_id}`, 'Medium', 6),
    ]);
    const rows = await Promise.all([a, b, c].map((p) => viewerRow(p.sessionId)));
    assert.equal(new Set([a, b, c].map((p) => p.sessionId)).size, 3);
    assert.equal(new Set(rows.map((r) => r.viewer_id)).size, 3);
    assert.match(rows[0].viewer_id, /^anon-/);
    assert.match(rows[1].viewer_id, /^anon-/);
    assert.equal(rows[2].viewer_id, 'student-2');
    assert.deepEqual(
      rows.map((r) => [r.current_bitrate, r.segments_received, r.bytes_received]),
      [
        ['VeryLow', a.segments, a.bytes],
        ['High', b.segments, b.bytes],
        ['Medium', c.segments, c.bytes],
      ],
    );
    const stats = (await call(`${server.url}/api/v1/streams/lecture`, 'GET')).body;
    assert.ok(stats.active_viewers >= 3);
    assert.ok(stats.peak_viewers >= 3);

    await waitFor(
      async () => {
        // Asked as the operator: an expired session is no longer a viewer's bearer token.
        const all = (await call(`${server.url}/api/v1/streams/lecture?limit=1000`, 'GET')).body;
        const present = new Set(all.viewers.map((v: { viewer_id: string }) => v.viewer_id));
        return rows.every((row) => !present.has(row.viewer_id)) ? true : undefined;
      },
      IDLE_MS + 5000,
      'idle sessions to leave',
    );
  });
});
