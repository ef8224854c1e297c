import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import type { ProfileName } from '../../src/core/profiles.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

/** Segment bytes of one "take": the same media sequence numbers, different pictures. */
const take =
  (fill: number) =>
  (_profile: ProfileName, sequence: number): Uint8Array<ArrayBuffer> =>
    new Uint8Array(3000 + sequence).fill(fill);

/** What a CDN would have cached of a rendition: each listed URL with its bytes and ETag. */
async function cached(
  base: string,
  stream: string,
): Promise<{ path: string; bytes: Uint8Array; etag: string }[]> {
  const text = await (await fetch(`${base}/live/${stream}/Low/index.m3u8`)).text();
  const playlist = HLS.parse(text) as MediaPlaylist;
  const out = [];
  for (const segment of playlist.segments) {
    const path = `/live/${stream}/Low/${segment.uri}`;
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=86400, immutable');
    out.push({
      path,
      bytes: new Uint8Array(await res.arrayBuffer()),
      etag: res.headers.get('etag') ?? '',
    });
  }
  return out;
}

/** Checks a URL a CDN cached: gone (404 with a short max-age), or still exactly its bytes. */
async function neverOtherBytes(base: string, old: { path: string; bytes: Uint8Array }) {
  const res = await fetch(`${base}${old.path}`);
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status === 404) {
    assert.equal(res.headers.get('cache-control'), 'public, max-age=1');
    return;
  }
  assert.equal(res.status, 200);
  assert.deepEqual(body, old.bytes, `${old.path} now serves other bytes`);
}

/** The newest listed segment's path, its bytes and ETag, and a revalidation with `etag`. */
async function revalidate(base: string, stream: string, etag: string) {
  const text = await (await fetch(`${base}/live/${stream}/Low/index.m3u8`)).text();
  const uri = (HLS.parse(text) as MediaPlaylist).segments.at(-1)?.uri ?? '';
  const res = await fetch(`${base}/live/${stream}/Low/${uri}`, {
    headers: { 'if-none-match': etag },
  });
  return { status: res.status, etag: res.headers.get('etag'), bytes: await res.arrayBuffer() };
}

describe('cache-safe URLs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ cleanupIntervalMs: 100, retentionMs: 300 }, 200, {
      ingest: { encoderTimeoutMs: 300 },
    });
  });
  after(() => server.close());

  it('serves a reused recording id under new URLs: an old URL answers 404 briefly, never the new bytes', async () => {
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'reused' });
    await pushSegments(server.url, 'reused', 'Low', 0, 4, '', { body: take(1) });
    const first = await cached(server.url, 'reused');
    // Ended through the API and started again at once: the ended stream is replaced.
    assert.equal((await call(`${server.url}/api/v1/streams/reused/end`, 'POST')).status, 200);
    assert.equal(
      (await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'reused' })).status,
      201,
    );
    await pushSegments(server.url, 'reused', 'Low', 0, 4, '', { body: take(2) });
    const second = await cached(server.url, 'reused');
    assert.equal(second.length, first.length);
    for (const old of first) {
      assert.ok(!second.some((s) => s.path === old.path), `${old.path} is listed again`);
      await neverOtherBytes(server.url, old);
    }
    // A CDN revalidating with the ETag of the old bytes gets the new bytes, not a 304.
    const old = first.at(-1)?.etag ?? '';
    const fresh = await revalidate(server.url, 'reused', old);
    assert.equal(fresh.status, 200);
    assert.notEqual(fresh.etag, old);
    assert.deepEqual(new Uint8Array(fresh.bytes), take(2)('Low', 3));
  });

  it('serves a stream whose encoder came back after the stream ended and retired under new URLs too', async () => {
    await pushSegments(server.url, 'returning', 'Low', 0, 3, '', { body: take(3) });
    const first = await cached(server.url, 'returning');
    // The encoder goes quiet: the stream ends, then retires once its segments expired.
    await waitFor(
      async () =>
        (await call(`${server.url}/api/v1/streams/returning`, 'GET')).status === 404 || undefined,
      10_000,
      'the quiet stream to retire',
    );
    await pushSegments(server.url, 'returning', 'Low', 0, 3, '', { body: take(4) });
    const second = await cached(server.url, 'returning');
    for (const old of first) {
      assert.ok(!second.some((s) => s.path === old.path), `${old.path} is listed again`);
      await neverOtherBytes(server.url, old);
    }
  });

  it('derives ETags from the bytes: the same bytes share one under any URL, other bytes never do', async () => {
    await pushSegments(server.url, 'tags-a', 'Low', 0, 2, '', { body: take(5) });
    await pushSegments(server.url, 'tags-b', 'Low', 0, 2, '', { body: take(5) });
    await pushSegments(server.url, 'tags-c', 'Low', 0, 2, '', { body: take(6) });
    const [a, b, c] = await Promise.all(
      ['tags-a', 'tags-b', 'tags-c'].map((s) => cached(server.url, s)),
    );
    assert.deepEqual(
      a?.map((s) => s.etag),
      b?.map((s) => s.etag),
    );
    assert.notEqual(a?.[0]?.etag, a?.[1]?.etag, 'two segments, two tags');
    for (const segment of c ?? []) assert.ok(!a?.some((s) => s.etag === segment.etag));
  });
});

describe('cache-safe URLs across a server restart', () => {
  it('never serves other bytes under a URL the previous server served, and revalidation gets the new bytes', async () => {
    const first = await startTestServer();
    let old: Awaited<ReturnType<typeof cached>>;
    try {
      await pushSegments(first.url, 'lecture', 'Low', 0, 4, '', { body: take(7) });
      old = await cached(first.url, 'lecture');
    } finally {
      await first.close();
    }
    // The same recording id on the restarted server, numbered from 0 again, other pictures.
    const second = await startTestServer();
    try {
      await pushSegments(second.url, 'lecture', 'Low', 0, 4, '', { body: take(8) });
      const now = await cached(second.url, 'lecture');
      for (const segment of old) {
        assert.ok(!now.some((s) => s.path === segment.path), `${segment.path} is listed again`);
        await neverOtherBytes(second.url, segment);
      }
      const revalidated = await revalidate(second.url, 'lecture', old.at(-1)?.etag ?? '');
      assert.equal(revalidated.status, 200);
      assert.deepEqual(new Uint8Array(revalidated.bytes), take(8)('Low', 3));
    } finally {
      await second.close();
    }
  });
});
