import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { assertConformantMedia } from '../helpers/hls-conformance.js';
import { startTestServer, type TestServer } from '../helpers/http.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

describe('fMP4 init sections', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const put = async (path: string, body: string | Uint8Array<ArrayBuffer>) => {
    const res = await fetch(`${server.url}/ingest/cmaf/Low/${path}`, { method: 'PUT', body });
    assert.equal(res.status, 201, await res.text());
  };
  const playlist = (last: number) => {
    let text = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n';
    text += '#EXT-X-MAP:URI="init.mp4"\n';
    for (let s = 0; s <= last; s++) text += `#EXTINF:2.000,\nseg_${s}.m4s\n`;
    return text;
  };

  it('gives an init section new bytes a new URL, and keeps serving the old bytes under the old one', async () => {
    const first = new Uint8Array(600).fill(1);
    const second = new Uint8Array(600).fill(2);
    await put('init.mp4', first);
    await put('seg_0.m4s', new Uint8Array(900).fill(10));
    await put('index.m3u8', playlist(0));
    // The same bytes again under the same name: the same URL.
    await put('init.mp4', first);
    await put('seg_1.m4s', new Uint8Array(900).fill(11));
    await put('index.m3u8', playlist(1));
    // New bytes under the same file name (an encoder that rewrote it).
    await put('init.mp4', second);
    await put('seg_2.m4s', new Uint8Array(900).fill(12));
    await put('index.m3u8', playlist(2));

    const text = await (await fetch(`${server.url}/live/cmaf/Low/index.m3u8`)).text();
    assertConformantMedia(text);
    const maps = (HLS.parse(text) as MediaPlaylist).segments.map((s) => s.map?.uri);
    const incarnation = server.service.getDistributor('cmaf').incarnation;
    assert.deepEqual(
      maps,
      [0, 0, 1].map((n) => `init-${incarnation}-${n}.mp4`),
    );
    const bytes = async (uri: string) => {
      const res = await fetch(`${server.url}/live/cmaf/Low/${uri}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'video/mp4');
      assert.equal(res.headers.get('accept-ranges'), 'bytes');
      return { body: new Uint8Array(await res.arrayBuffer()), etag: res.headers.get('etag') };
    };
    const [a, b] = [await bytes(maps[0] ?? ''), await bytes(maps[2] ?? '')];
    assert.deepEqual(a.body, first);
    assert.deepEqual(b.body, second);
    assert.notEqual(a.etag, b.etag);
    const range = await fetch(`${server.url}/live/cmaf/Low/${maps[0]}`, {
      headers: { range: 'bytes=0-9' },
    });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), 'bytes 0-9/600');
    await range.arrayBuffer();
  });
});
