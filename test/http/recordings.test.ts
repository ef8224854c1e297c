import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { PlaybackTokens } from '../../src/service/playback-tokens.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';

const dirs: string[] = [];
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vtp-recordings-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));
async function server(
  recordings: { maxAgeSeconds?: number; maxBytes?: number } = {},
): Promise<TestServer> {
  const started = await startTestServer({}, 200, {
    dataDir: await dataDir(),
    recordings: { sweepIntervalMs: 3_600_000, ...recordings },
  });
  servers.push(started);
  return started;
}

async function end(base: string, id: string): Promise<void> {
  assert.equal((await call(`${base}/api/v1/streams/${id}/end`, 'POST')).status, 200);
}

/** Bytes of `count` fake Low segments from 0, as pushSegments stores them. */
const lowBytes = (count: number) =>
  Array.from({ length: count }, (_, s) => fakeSegment('Low', s).byteLength).reduce((a, b) => a + b);

describe('recordings', () => {
  it('lists a live stream as being written and refuses to play or delete it with 409', async () => {
    const s = await server();
    await pushSegments(s.url, 'live1', 'Low', 0, 2);
    const list = await call(`${s.url}/api/v1/recordings`, 'GET');
    assert.equal(list.status, 200);
    assert.equal(list.body.count, 1);
    assert.equal(list.body.recordings[0].status, 'recording');
    assert.equal(list.body.recordings[0].master_url, null);
    const vod = await fetch(`${s.url}/vod/live1/master.m3u8`);
    assert.equal(vod.status, 409);
    assert.equal((await vod.json()).error.code, 'RECORDING_IN_PROGRESS');
    const del = await call(`${s.url}/api/v1/recordings/live1`, 'DELETE');
    assert.equal(del.status, 409);
    assert.equal(del.body.error.code, 'RECORDING_IN_PROGRESS');
  });

  it('after the stream ended: describes, plays as VOD with ranges and ETags from disk, and deletes it', async () => {
    const s = await server();
    await pushSegments(s.url, 'lecture', 'Low', 0, 4);
    await pushSegments(s.url, 'lecture', 'High', 0, 3);
    await end(s.url, 'lecture');

    const one = await call(`${s.url}/api/v1/recordings/lecture`, 'GET');
    assert.equal(one.status, 200);
    assert.equal(one.body.status, 'complete');
    assert.equal(one.body.duration_seconds, 8);
    assert.deepEqual(one.body.renditions, ['Low', 'High']);
    assert.equal(
      one.body.bytes,
      lowBytes(4) + [0, 1, 2].reduce((n, q) => n + fakeSegment('High', q).byteLength, 0),
    );
    assert.equal(one.body.master_url, '/vod/lecture/master.m3u8');
    assert.ok(Date.parse(one.body.ended_at) - Date.parse(one.body.started_at) >= 6000);

    const master = await fetch(`${s.url}/vod/lecture/master.m3u8`);
    assert.equal(master.status, 200);
    assert.equal(master.headers.get('access-control-allow-origin'), '*');
    const variants = (
      HLS.parse(await master.text()) as InstanceType<typeof HLS.types.MasterPlaylist>
    ).variants.map((v) => v.uri);
    assert.deepEqual(variants.sort(), ['High/index.m3u8', 'Low/index.m3u8']);

    const text = await (await fetch(`${s.url}/vod/lecture/Low/index.m3u8`)).text();
    assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD/);
    assert.ok(text.trimEnd().endsWith('#EXT-X-ENDLIST'));
    const playlist = HLS.parse(text) as InstanceType<typeof HLS.types.MediaPlaylist>;
    assert.equal(playlist.segments.length, 4);

    const uri = playlist.segments[1]?.uri ?? '';
    const whole = await fetch(`${s.url}/vod/lecture/Low/${uri}`);
    assert.equal(whole.status, 200);
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), fakeSegment('Low', 1));
    assert.match(whole.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(whole.headers.get('access-control-allow-origin'), '*');
    const etag = whole.headers.get('etag') ?? '';
    assert.match(etag, /^"[A-Za-z0-9_-]{22}"$/);
    const again = await fetch(`${s.url}/vod/lecture/Low/${uri}`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);
    const part = await fetch(`${s.url}/vod/lecture/Low/${uri}`, {
      headers: { range: 'bytes=10-19' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-19/${fakeSegment('Low', 1).length}`);
    assert.deepEqual(
      new Uint8Array(await part.arrayBuffer()),
      fakeSegment('Low', 1).subarray(10, 20),
    );
    const head = await fetch(`${s.url}/vod/lecture/Low/${uri}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(fakeSegment('Low', 1).length));
    const preflight = await fetch(`${s.url}/vod/lecture/Low/${uri}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://lms.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Range/);
    const past = await fetch(`${s.url}/vod/lecture/Low/${uri}`, {
      headers: { range: 'bytes=999999-' },
    });
    assert.equal(past.status, 416);
    assert.equal((await fetch(`${s.url}/vod/lecture/Low/nothing-9.ts`)).status, 404);
    assert.equal((await fetch(`${s.url}/vod/lecture/Medium/index.m3u8`)).status, 404);

    const del = await call(`${s.url}/api/v1/recordings/lecture`, 'DELETE');
    assert.equal(del.status, 200);
    assert.equal(del.body.bytes_freed, one.body.bytes);
    const gone = await call(`${s.url}/api/v1/recordings/lecture`, 'GET');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'RECORDING_NOT_FOUND');
    assert.equal((await fetch(`${s.url}/vod/lecture/master.m3u8`)).status, 404);
    assert.equal((await fetch(`${s.url}/vod/lecture/Low/${uri}`)).status, 404);
    assert.equal((await call(`${s.url}/api/v1/recordings`, 'GET')).body.count, 0);
  });

  it("deleting a recording deletes its lecture's attendance with it", async () => {
    const s = await server();
    await pushSegments(s.url, 'kept', 'Low', 0, 2);
    const joined = await call(`${s.url}/api/v1/streams/kept`, 'POST', { viewer_id: 'ada' });
    assert.equal(joined.status, 201);
    await end(s.url, 'kept');
    const report = await call(`${s.url}/api/v1/streams/kept/report`, 'GET');
    assert.equal(report.status, 200);
    assert.deepEqual(
      report.body.viewers.map((v: { viewer_id: string }) => v.viewer_id),
      ['ada'],
    );
    assert.equal((await call(`${s.url}/api/v1/recordings/kept`, 'DELETE')).status, 200);
    const gone = await call(`${s.url}/api/v1/streams/kept/report`, 'GET');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'STREAM_NOT_FOUND');
  });

  it('replaces the recording of an id when a stream with that id starts again', async () => {
    const s = await server();
    await pushSegments(s.url, 'again', 'Low', 0, 3);
    await end(s.url, 'again');
    const first = s.service.getDistributor('again').incarnation;
    assert.equal(
      (await call(`${s.url}/api/v1/streams/start`, 'POST', { recording_id: 'again' })).status,
      201,
    );
    // Replaced as soon as the stream starts, before its first segment.
    assert.equal((await call(`${s.url}/api/v1/recordings/again`, 'GET')).status, 404);
    await pushSegments(s.url, 'again', 'Low', 0, 2);
    await end(s.url, 'again');
    const second = s.service.getDistributor('again').incarnation;
    assert.notEqual(first, second);
    const one = await call(`${s.url}/api/v1/recordings/again`, 'GET');
    assert.equal(one.body.duration_seconds, 4);
    assert.equal(one.body.bytes, lowBytes(2));
    assert.deepEqual(
      new Set(s.segmentFiles?.list('again').map((f) => f.incarnation)),
      new Set([second]),
    );
  });

  it('has no recordings without a data directory', async () => {
    const s = await startTestServer();
    servers.push(s);
    await pushSegments(s.url, 'memory', 'Low', 0, 2);
    await end(s.url, 'memory');
    assert.equal((await call(`${s.url}/api/v1/recordings`, 'GET')).body.count, 0);
    assert.equal((await call(`${s.url}/api/v1/recordings/memory`, 'GET')).status, 404);
    assert.equal((await fetch(`${s.url}/vod/memory/master.m3u8`)).status, 404);
  });

  it('retention deletes recordings that ended longer ago than the age limit, never a live one', async () => {
    const s = await server({ maxAgeSeconds: 1 });
    await pushSegments(s.url, 'old', 'Low', 0, 2);
    await end(s.url, 'old');
    await pushSegments(s.url, 'onair', 'Low', 0, 2);
    await s.recordings?.sweep();
    const ids = async () =>
      (await call(`${s.url}/api/v1/recordings`, 'GET')).body.recordings.map(
        (r: { recording_id: string }) => r.recording_id,
      );
    assert.deepEqual(await ids(), ['old', 'onair']);
    // Both now last written over a second ago; only the ended one may go.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await s.recordings?.sweep();
    assert.deepEqual(await ids(), ['onair']);
    assert.equal(s.segmentFiles?.bytes('old'), 0);
  });

  it('retention deletes the oldest recordings while all hold more than the size limit, never a live one', async () => {
    const budget = lowBytes(2) * 2 + 1;
    const s = await server({ maxBytes: budget, maxAgeSeconds: 0 });
    for (const id of ['a', 'b', 'c']) {
      await pushSegments(s.url, id, 'Low', 0, 2);
      await end(s.url, id);
    }
    await pushSegments(s.url, 'd', 'Low', 0, 2);
    await s.recordings?.sweep();
    const left = (await call(`${s.url}/api/v1/recordings`, 'GET')).body.recordings.map(
      (r: { recording_id: string }) => r.recording_id,
    );
    // a and b go (oldest first) until c and the live d fit; d is never a candidate.
    assert.deepEqual(left, ['c', 'd']);
    assert.ok((s.segmentFiles?.totalBytes() ?? 0) <= budget);
  });

  it('with a playback secret a recording needs the token of its stream, carried to its variants', async () => {
    const secret = 'playback-secret-of-24-chars';
    const s = await startTestServer({}, 200, {
      dataDir: await dataDir(),
      playbackSecret: secret,
      recordings: { sweepIntervalMs: 3_600_000 },
    });
    servers.push(s);
    await pushSegments(s.url, 'guarded', 'Low', 0, 2);
    await end(s.url, 'guarded');
    const tokens = new PlaybackTokens(secret);
    const vod = `${s.url}/vod/guarded`;
    for (const path of ['master.m3u8', 'Low/index.m3u8']) {
      const none = await fetch(`${vod}/${path}`);
      assert.equal(none.status, 401, path);
      assert.equal(((await none.json()) as any).error.code, 'PLAYBACK_TOKEN_REQUIRED');
      const other = await fetch(`${vod}/${path}?token=${await tokens.issue('another')}`);
      assert.equal(other.status, 403, path);
      await other.body?.cancel();
    }
    const token = await tokens.issue('guarded');
    const master = await fetch(`${vod}/master.m3u8?token=${encodeURIComponent(token)}`);
    assert.equal(master.status, 200);
    const variants = (
      HLS.parse(await master.text()) as InstanceType<typeof HLS.types.MasterPlaylist>
    ).variants;
    assert.deepEqual(
      variants.map((v) => v.uri),
      [`Low/index.m3u8?token=${encodeURIComponent(token)}`],
    );
    const media = await fetch(`${vod}/${variants[0]?.uri}`);
    assert.equal(media.status, 200);
    const segments = (HLS.parse(await media.text()) as InstanceType<typeof HLS.types.MediaPlaylist>)
      .segments;
    assert.equal(segments.length, 2);
    const segment = await fetch(`${vod}/Low/${segments[0]?.uri}`);
    assert.equal(segment.status, 200);
    assert.equal((await segment.arrayBuffer()).byteLength, fakeSegment('Low', 0).byteLength);
  });
});
