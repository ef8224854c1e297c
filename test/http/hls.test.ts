import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import HLS from 'hls-parser';
import { seedBufferPolicy } from '../../src/core/quality.js';
import { segmentFileName } from '../../src/core/segment.js';
import { assertConformantMedia } from '../helpers/hls-conformance.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';
import { rawGet } from '../helpers/raw-get.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

let server: TestServer;
let live: string;

/** The file name segment `n` of a stream is served under (its incarnation and sequence). */
function seg(stream: string, n: number, on: TestServer = server): string {
  return segmentFileName(on.service.getDistributor(stream).incarnation, n, false);
}

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

/**
 * The viewer's row once `ready` holds for it: segments are counted when their response has
 * been fully sent, which a client may see before the server does.
 */
async function rowWhen(
  stream: string,
  sessionId: string,
  ready: (viewer: any) => boolean,
  what: string,
): Promise<any> {
  return waitFor(
    async () => {
      const viewer = await row(stream, sessionId);
      return viewer && ready(viewer) ? viewer : undefined;
    },
    5000,
    what,
    10,
  );
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
  // The seed's rule, whose bands the CMCD recommendations below are written in.
  server = await startTestServer({ policy: seedBufferPolicy });
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

  it('joins an anonymous viewer whose session rides on every variant URI, Medium first and then the others lowest first', async () => {
    const res = await fetch(`${live}/hls/master.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('cache-control'), 'private, no-store');
    const session = res.headers.get('x-vtp-session') ?? '';
    const master = HLS.parse(await res.text()) as MasterPlaylist;
    // Players that start with the first variant listed start with Medium (README: HLS delivery).
    assert.deepEqual(
      master.variants.map((v) => v.uri),
      ['Medium', 'VeryLow', 'Low', 'High'].map((p) => `${p}/index.m3u8?session=${session}`),
    );
    const bandwidths = master.variants.slice(1).map((v) => v.bandwidth);
    assert.deepEqual(
      bandwidths,
      [...bandwidths].sort((a, b) => a - b),
    );
    // Measured from the pushed segments: the largest one's bits over its 2 s.
    assert.equal(
      master.variants[1]?.bandwidth,
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
      [4, 5, 6, 7, 8, 9].map((n) => `${seg('hls', n)}?session=${session}`),
    );
    assert.ok(playlist.segments.every((s) => s.programDateTime instanceof Date));
    assert.equal(playlist.endlist, false);
    assertConformantMedia(text);
    const anonymous = await fetch(`${live}/hls/Low/index.m3u8`);
    assert.equal(anonymous.headers.get('cache-control'), 'public, max-age=1');
    assert.ok((await anonymous.text()).includes(`\n${seg('hls', 4)}\n`), 'no session, no query');
    server.service.leaveStream('hls', 'window');
  });

  it("keeps EXT-X-VERSION for the stream's life: a 1.5 s segment raises it to 3, and it stays 3 once that segment slid out", async () => {
    const versions: string[] = [];
    let text = '';
    for (let s = 0; s < 8; s++) {
      await pushSegments(server.url, 'versioned', 'Low', s, s + 1, '', {
        duration: (n) => (n === 0 ? '1.500' : '2.000'),
      });
      text = await (await fetch(`${live}/versioned/Low/index.m3u8`)).text();
      assertConformantMedia(text);
      versions.push(/^#EXT-X-VERSION:(\d+)$/m.exec(text)?.[1] ?? 'none');
    }
    assert.deepEqual(versions, Array(8).fill('3'));
    const playlist = HLS.parse(text) as MediaPlaylist;
    assert.equal(playlist.mediaSequenceBase, 2, 'the 1.5 s segment has slid out');
    assert.deepEqual(
      playlist.segments.map((s) => s.duration),
      Array(6).fill(2),
    );
    assert.match(
      text,
      /\n#EXTINF:2\.000,\n/,
      'whole seconds written as decimals, as version 3 allows',
    );
  });

  it('serves immutable segment bytes with a strong ETag and answers If-None-Match with 304', async () => {
    const res = await fetch(`${live}/hls/Medium/${seg('hls', 9)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp2t');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=86400, immutable');
    const etag = res.headers.get('etag') ?? '';
    assert.match(etag, /^"[^"]+"$/);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), fakeSegment('Medium', 9));
    const again = await fetch(`${live}/hls/Medium/${seg('hls', 9)}`, {
      headers: { 'if-none-match': `"other", ${etag}` },
    });
    assert.equal(again.status, 304, 'any tag of the list may match');
    assert.equal(again.headers.get('etag'), etag);
  });

  it('keeps segments fetchable after they leave the playlist, and 404s unknown ones briefly', async () => {
    assert.equal(
      (await fetch(`${live}/hls/Medium/${seg('hls', 0)}`)).status,
      200,
      'sequence 0 left the playlist long ago',
    );
    const missing = await fetch(`${live}/hls/Medium/${seg('hls', 10)}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(((await missing.json()) as any).error.code, 'SEGMENT_NOT_FOUND');
  });

  it('attributes segment bytes to the session and records the bitrate it really fetches', async () => {
    const session = await join('hls', 'fetcher');
    let bytes = 0;
    for (const [profile, n] of [
      ['Low', 8],
      ['Low', 9],
      ['High', 9],
    ] as const) {
      const res = await fetch(`${live}/hls/${profile}/${seg('hls', n)}?session=${session}`);
      bytes += (await res.arrayBuffer()).byteLength;
    }
    const viewer = await rowWhen('hls', session, (v) => v.bytes_received >= bytes, 'every byte');
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
    const res = await fetch(`${live}/hls/VeryLow/${seg('hls', 9)}?session=vs-gone`);
    const size = (await res.arrayBuffer()).byteLength;
    assert.equal(res.status, 200);
    const after = await waitFor(
      async () => {
        const stats = (await call(`${server.url}/api/v1/streams/hls`, 'GET')).body;
        return stats.total_bytes_served - before.total_bytes_served >= size ? stats : undefined;
      },
      5000,
      'the bytes counted to the stream',
      10,
    );
    assert.equal(after.total_bytes_served - before.total_bytes_served, size);
    assert.equal(after.total_segments_served - before.total_segments_served, 1);
  });

  it('rejects an unknown profile naming the field', async () => {
    const res = await fetch(`${live}/hls/Ultra/index.m3u8`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.field, 'profile');
  });
});

describe('compression', () => {
  for (const [encoding, decode] of [
    ['gzip', gunzipSync],
    ['br', brotliDecompressSync],
  ] as const) {
    it(`sends playlists ${encoding}-compressed to a client that accepts it, varying on Accept-Encoding`, async () => {
      const session = await join('hls', `compressed-${encoding}`);
      for (const path of ['master.m3u8', 'Low/index.m3u8']) {
        const plain = await rawGet(`${live}/hls/${path}?session=${session}`);
        assert.equal(plain.headers['content-encoding'], undefined);
        assert.match(String(plain.headers.vary), /accept-encoding/i, 'caches key on the encoding');
        const packed = await rawGet(`${live}/hls/${path}?session=${session}`, {
          'accept-encoding': `${encoding}, identity`,
        });
        assert.equal(packed.status, 200);
        assert.equal(packed.headers['content-encoding'], encoding);
        assert.equal(packed.headers['content-type'], 'application/vnd.apple.mpegurl');
        assert.match(String(packed.headers.vary), /accept-encoding/i);
        assert.ok(packed.body.byteLength < plain.body.byteLength, 'smaller than the plain text');
        assert.equal(decode(packed.body).toString('utf8'), plain.body.toString('utf8'));
      }
      server.service.leaveStream('hls', `compressed-${encoding}`);
    });
  }

  it('prefers gzip when the client takes both (cheaper per request), brotli when it asks for it first', async () => {
    const session = await join('hls', 'compressed-both');
    const url = `${live}/hls/Low/index.m3u8?session=${session}`;
    const both = await rawGet(url, { 'accept-encoding': 'br, gzip, deflate' });
    assert.equal(both.headers['content-encoding'], 'gzip');
    const brFirst = await rawGet(url, { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
    assert.equal(brFirst.headers['content-encoding'], 'br');
    assert.equal(
      gunzipSync(both.body).toString('utf8'),
      brotliDecompressSync(brFirst.body).toString('utf8'),
    );
    server.service.leaveStream('hls', 'compressed-both');
  });

  it('sends a playlist under 256 bytes as it is, still varying on Accept-Encoding', async () => {
    await pushSegments(server.url, 'tiny', 'Low', 0, 1);
    const res = await rawGet(`${live}/tiny/Low/index.m3u8`, { 'accept-encoding': 'gzip, br' });
    assert.equal(res.status, 200);
    assert.ok(res.body.byteLength < 256, `${res.body.byteLength} bytes`);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.match(String(res.headers.vary), /accept-encoding/i);
    assertConformantMedia(res.body.toString('utf8'));
  });

  it('compresses nothing outside the HLS routes (the plugin stays in their scope)', async () => {
    const api = await rawGet(`${server.url}/api/v1/streams/hls`, { 'accept-encoding': 'gzip' });
    assert.equal(api.status, 200);
    assert.equal(api.headers['content-encoding'], undefined);
  });

  it('never compresses segments, whatever the client accepts', async () => {
    const res = await rawGet(`${live}/hls/High/${seg('hls', 9)}`, {
      'accept-encoding': 'gzip, br',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.deepEqual(new Uint8Array(res.body), fakeSegment('High', 9));
  });
});

describe('byte ranges', () => {
  const url = () => `${live}/hls/Medium/${seg('hls', 8)}`;
  const whole = () => fakeSegment('Medium', 8);

  it('answers a range with 206, Content-Range and just those bytes', async () => {
    const size = whole().byteLength;
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, size - 1],
      ['bytes=-50', size - 50, size - 1],
      [`bytes=10-${size + 1000}`, 10, size - 1],
    ] as const) {
      const res = await rawGet(url(), { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${size}`, range);
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.equal(res.headers['content-length'], String(end - start + 1));
      assert.deepEqual(new Uint8Array(res.body), whole().subarray(start, end + 1), range);
    }
  });

  it('answers a range past the end with 416, Content-Range: bytes */size and a JSON error', async () => {
    const size = whole().byteLength;
    const res = await rawGet(url(), { range: `bytes=${size}-` });
    assert.equal(res.status, 416);
    assert.equal(res.headers['content-range'], `bytes */${size}`);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.notEqual(res.headers['cache-control'], 'public, max-age=86400, immutable');
    const body = JSON.parse(res.body.toString('utf8'));
    assert.equal(body.error.code, 'RANGE_NOT_SATISFIABLE');
    assert.equal(body.error.field, 'range');
  });

  it('sends the whole segment for several ranges, a malformed range or a stale If-Range', async () => {
    const res200 = async (headers: Record<string, string>) => {
      const res = await rawGet(url(), headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.deepEqual(new Uint8Array(res.body), whole());
      return res;
    };
    const first = await res200({});
    await res200({ range: 'bytes=0-1,5-9' });
    await res200({ range: 'pages=1-2' });
    await res200({ range: 'bytes=x-9' });
    await res200({ range: 'bytes=0-9', 'if-range': '"not-these-bytes"' });
    const current = await rawGet(url(), {
      range: 'bytes=0-9',
      'if-range': String(first.headers.etag),
    });
    assert.equal(current.status, 206, 'an If-Range naming the current bytes keeps the range');
  });

  it('answers HEAD with the headers of the GET and no body, for segments and init sections alike', async () => {
    const res = await rawGet(url(), {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers['content-length'], String(whole().byteLength));
    assert.match(String(res.headers.etag), /^"[^"]+"$/);
    assert.equal(res.body.byteLength, 0);
    const ranged = await rawGet(url(), { range: 'bytes=0-9' }, 'HEAD');
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers['content-range'], `bytes 0-9/${whole().byteLength}`);
  });

  it("counts a range's bytes to the viewer but not as a segment received, and a full range as one", async () => {
    const session = await join('hls', 'ranger');
    const size = whole().byteLength;
    for (const range of ['bytes=0-99', 'bytes=100-199']) {
      const res = await rawGet(`${url()}?session=${session}`, { range });
      assert.equal(res.status, 206);
    }
    let viewer = await rowWhen('hls', session, (v) => v.bytes_received >= 200, 'both ranges');
    assert.equal(viewer.bytes_received, 200);
    assert.equal(viewer.segments_received, 0, 'two ranges are not a segment received');
    const all = await rawGet(`${url()}?session=${session}`, { range: 'bytes=0-' });
    assert.equal(all.status, 206);
    viewer = await rowWhen('hls', session, (v) => v.bytes_received >= 200 + size, 'all bytes');
    assert.equal(viewer.bytes_received, 200 + size);
    assert.equal(viewer.segments_received, 1, 'a range of every byte is the whole segment');
    server.service.leaveStream('hls', 'ranger');
  });
});

describe('CMCD', () => {
  it('takes the session from sid and buffer length and throughput from the CMCD query', async () => {
    const session = await join('hls', 'cmcd-query');
    const cmcd = encodeURIComponent(`bl=4500,br=1000,mtp=2500,ot=v,sid="${session}"`);
    const res = await fetch(`${live}/hls/Low/${seg('hls', 9)}?CMCD=${cmcd}`);
    await res.arrayBuffer();
    const viewer = await rowWhen('hls', session, (v) => v.bytes_received > 0, 'the segment');
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
        [0, 1, 2].map((n) => `https://cdn.example.com/live/cdn/Medium/${seg('cdn', n, cdnServer)}`),
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
