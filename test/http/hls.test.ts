import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

let server: TestServer;
let live: string;

async function join(stream: string, viewer: string): Promise<string> {
  return (await call(`${server.url}/api/v1/streams/${stream}`, 'POST', { viewer_id: viewer })).body
    .session_id;
}

/** The viewer's own row, asked for with its session as the bearer token. */
async function row(stream: string, sessionId: string): Promise<any> {
  const stats = await call(`${server.url}/api/v1/streams/${stream}`, 'GET', undefined, {
    authorization: `Bearer ${sessionId}`,
  });
  return stats.body.viewers?.[0];
}

/** Fetches the newest segment of a rendition as the session's player would; returns the status. */
async function fetchSegment(stream: string, profile: string, session: string): Promise<number> {
  const media = await fetch(`${live}/${stream}/${profile}/index.m3u8?session=${session}`);
  const playlist = HLS.parse(await media.text()) as MediaPlaylist;
  const uri = playlist.segments.at(-1)?.uri ?? '';
  const res = await fetch(new URL(uri, `${live}/${stream}/${profile}/`));
  await res.arrayBuffer();
  return res.status;
}

before(async () => {
  server = await startTestServer();
  live = `${server.url}/live`;
  await call(`${server.url}/api/v1/streams/start`, 'POST', {
    recording_id: 'hls',
    max_viewers: 50,
  });
  for (const profile of ['VeryLow', 'Low', 'Medium', 'High'] as const)
    await pushSegments(server.url, 'hls', profile, 0, 10);
});
after(() => server.close());

describe('multivariant playlist', () => {
  it('answers 404 with a one-second max-age before any media', async () => {
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'empty' });
    const res = await fetch(`${live}/empty/master.m3u8`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(((await res.json()) as any).error.code, 'NO_MEDIA_YET');
  });

  it('joins an anonymous viewer whose session rides on every variant URI, lowest bitrate first', async () => {
    const res = await fetch(`${live}/hls/master.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('cache-control'), 'private, no-store');
    const session = res.headers.get('x-vtp-session') ?? '';
    const master = HLS.parse(await res.text()) as MasterPlaylist;
    assert.deepEqual(
      master.variants.map((v) => v.uri),
      ['VeryLow', 'Low', 'Medium', 'High'].map((p) => `${p}/index.m3u8?session=${session}`),
    );
    const bandwidths = master.variants.map((v) => v.bandwidth);
    assert.deepEqual(
      bandwidths,
      [...bandwidths].sort((a, b) => a - b),
    );
    // Measured from the pushed segments: the largest one's bits over its 2 s.
    assert.equal(
      master.variants[0]?.bandwidth,
      Math.ceil((fakeSegment('VeryLow', 9).byteLength * 8) / 2),
    );
    // The session takes a viewer's seat at its first segment, not before.
    assert.equal(await row('hls', session), undefined);
    assert.equal(await fetchSegment('hls', 'VeryLow', session), 200);
    assert.match((await row('hls', session)).viewer_id, /^anon-/);
  });

  it('keeps a known session rather than joining another viewer', async () => {
    const session = await join('hls', 'known');
    const res = await fetch(`${live}/hls/master.m3u8?session=${session}`);
    assert.equal(res.headers.get('x-vtp-session'), session);
    await res.text();
  });

  it('answers 503 with a clear body when the stream is full', async () => {
    await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'tiny',
      max_viewers: 1,
    });
    await pushSegments(server.url, 'tiny', 'VeryLow', 0, 1);
    const first = await fetch(`${live}/tiny/master.m3u8`);
    const second = await fetch(`${live}/tiny/master.m3u8`);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200, 'a playlist alone takes no seat');
    const seated = first.headers.get('x-vtp-session') ?? '';
    const late = second.headers.get('x-vtp-session') ?? '';
    assert.equal(await fetchSegment('tiny', 'VeryLow', seated), 200);
    assert.equal(await fetchSegment('tiny', 'VeryLow', late), 503);
    const res = await fetch(`${live}/tiny/master.m3u8`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'STREAM_FULL');
    assert.match(body.error.message, /max_viewers 1/);
  });
});

describe('media playlists and segments', () => {
  it('lists a sliding window of six with sequence numbers and program date-times', async () => {
    const session = await join('hls', 'window');
    const res = await fetch(`${live}/hls/Low/index.m3u8?session=${session}`);
    assert.equal(res.headers.get('cache-control'), 'private, max-age=1');
    const text = await res.text();
    const playlist = HLS.parse(text) as MediaPlaylist;
    assert.equal(playlist.targetDuration, 2);
    assert.equal(playlist.mediaSequenceBase, 4);
    assert.deepEqual(
      playlist.segments.map((s) => s.uri),
      [4, 5, 6, 7, 8, 9].map((n) => `${n}.ts?session=${session}`),
    );
    assert.ok(playlist.segments.every((s) => s.programDateTime instanceof Date));
    assert.equal(playlist.endlist, false);
    const anonymous = await fetch(`${live}/hls/Low/index.m3u8`);
    assert.equal(anonymous.headers.get('cache-control'), 'public, max-age=1');
    assert.ok((await anonymous.text()).includes('\n4.ts\n'), 'no session, no query');
    server.service.leaveStream('hls', 'window');
  });

  it('serves immutable segment bytes with a strong ETag and answers If-None-Match with 304', async () => {
    const res = await fetch(`${live}/hls/Medium/9.ts`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp2t');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=86400, immutable');
    const etag = res.headers.get('etag') ?? '';
    assert.match(etag, /^"[^"]+"$/);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), fakeSegment('Medium', 9));
    const again = await fetch(`${live}/hls/Medium/9.ts`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('keeps segments fetchable after they leave the playlist, and 404s unknown ones briefly', async () => {
    assert.equal(
      (await fetch(`${live}/hls/Medium/0.ts`)).status,
      200,
      'sequence 0 left the playlist long ago',
    );
    const missing = await fetch(`${live}/hls/Medium/10.ts`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(((await missing.json()) as any).error.code, 'SEGMENT_NOT_FOUND');
  });

  it('attributes segment bytes to the session and records the bitrate it really fetches', async () => {
    const session = await join('hls', 'fetcher');
    let bytes = 0;
    for (const path of ['Low/8.ts', 'Low/9.ts', 'High/9.ts']) {
      const res = await fetch(`${live}/hls/${path}?session=${session}`);
      bytes += (await res.arrayBuffer()).byteLength;
    }
    await new Promise((r) => setTimeout(r, 50));
    const viewer = await row('hls', session);
    assert.equal(viewer.segments_received, 3);
    assert.equal(viewer.bytes_received, bytes);
    assert.equal(viewer.current_bitrate, 'High');
    assert.deepEqual(
      viewer.bitrate_history.map((h: any) => [h.from, h.to, h.reason]),
      [['Low', 'High', 'observed']],
    );
    assert.ok(viewer.throughput_kbps >= 0);
    server.service.leaveStream('hls', 'fetcher');
  });

  it('serves requests without a known session, counting them to the stream only', async () => {
    const before = (await call(`${server.url}/api/v1/streams/hls`, 'GET')).body;
    const res = await fetch(`${live}/hls/VeryLow/9.ts?session=vs-gone`);
    const size = (await res.arrayBuffer()).byteLength;
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 50));
    const after = (await call(`${server.url}/api/v1/streams/hls`, 'GET')).body;
    assert.equal(after.total_bytes_served - before.total_bytes_served, size);
    assert.equal(after.total_segments_served - before.total_segments_served, 1);
  });

  it('rejects an unknown profile naming the field', async () => {
    const res = await fetch(`${live}/hls/Ultra/index.m3u8`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.field, 'profile');
  });
});

describe('CMCD', () => {
  it('takes the session from sid and buffer length and throughput from the CMCD query', async () => {
    const session = await join('hls', 'cmcd-query');
    const cmcd = encodeURIComponent(`bl=4500,br=1000,mtp=2500,ot=v,sid="${session}"`);
    const res = await fetch(`${live}/hls/Low/9.ts?CMCD=${cmcd}`);
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 50));
    const viewer = await row('hls', session);
    assert.equal(viewer.segments_received, 1, 'attributed through sid');
    assert.equal(viewer.buffer_health, 75, 'a full live buffer is 3 x 2 s: 4.5 s is 75 %');
    assert.equal(viewer.connection_quality, 'good');
    assert.equal(viewer.recommended_bitrate, 'Low');
    server.service.leaveStream('hls', 'cmcd-query');
  });

  it('reads the CMCD headers too, and recommends less when the buffer runs dry', async () => {
    const session = await join('hls', 'cmcd-headers');
    const res = await fetch(`${live}/hls/Low/index.m3u8?session=${session}`, {
      headers: { 'cmcd-request': 'bl=1000,mtp=900', 'cmcd-session': `sid="${session}"` },
    });
    await res.text();
    const viewer = await row('hls', session);
    assert.equal(viewer.buffer_health, 16.7);
    assert.equal(viewer.connection_quality, 'poor');
    assert.equal(viewer.throughput_kbps, 900);
    assert.equal(viewer.recommended_bitrate, 'VeryLow');
    const healthy = await fetch(`${live}/hls/Low/index.m3u8?session=${session}`, {
      headers: { 'cmcd-request': 'bl=6000,mtp=20000' },
    });
    await healthy.text();
    const better = await row('hls', session);
    assert.equal(better.buffer_health, 100);
    assert.equal(better.recommended_bitrate, 'Medium', 'one step up from Low');
    server.service.leaveStream('hls', 'cmcd-headers');
  });

  it('ignores malformed CMCD rather than failing the media request', async () => {
    const res = await fetch(`${live}/hls/Low/index.m3u8?CMCD=${encodeURIComponent('bl=="')}`);
    assert.equal(res.status, 200);
    await res.text();
  });
});

describe('behind a CDN', () => {
  it('points segment URIs at the CDN without viewer identity, and attributes the playlist fetch', async () => {
    const cdnServer = await startTestServer({ cdnBaseUrl: 'https://cdn.example.com/' });
    try {
      await pushSegments(cdnServer.url, 'cdn', 'Medium', 0, 3);
      const session = (
        await call(`${cdnServer.url}/api/v1/streams/cdn`, 'POST', { viewer_id: 'v' })
      ).body.session_id;
      const text = await (
        await fetch(`${cdnServer.url}/live/cdn/Medium/index.m3u8?session=${session}`)
      ).text();
      const playlist = HLS.parse(text) as MediaPlaylist;
      assert.deepEqual(
        playlist.segments.map((s) => s.uri),
        [0, 1, 2].map((n) => `https://cdn.example.com/live/cdn/Medium/${n}.ts`),
      );
      const viewer = (await call(`${cdnServer.url}/api/v1/streams/cdn`, 'GET')).body.viewers[0];
      assert.equal(
        viewer.current_bitrate,
        'Medium',
        'the playlist fetch stands in for the hidden segment fetches',
      );
    } finally {
      await cdnServer.close();
    }
  });
});
