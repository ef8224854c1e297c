import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({}, 200, { maxSegmentBytes: 64 * 1024 });
});
after(() => server.close());

const put = (
  path: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
) => fetch(`${server.url}${path}`, { method: 'PUT', body, headers });

describe('ingest', () => {
  it('starts a stream implicitly and publishes a segment once its playlist lists it', async () => {
    const seg = await put('/ingest/implicit/Low/seg_0.ts', fakeSegment('Low', 0), {
      'content-type': 'video/mp2t',
    });
    assert.equal(seg.status, 201);
    assert.equal(((await seg.json()) as any).published, 0);
    const playlist = await put(
      '/ingest/implicit/Low/index.m3u8',
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.968,\nseg_0.ts\n',
      { 'content-type': 'application/vnd.apple.mpegurl' },
    );
    assert.equal(((await playlist.json()) as any).published, 1);
    const stats = (await call(`${server.url}/api/v1/streams/implicit`, 'GET')).body;
    assert.equal(stats.status, 'live');
    assert.equal(stats.segments_available.Low, 1);
    const distributor = server.service.getDistributor('implicit');
    const segment = distributor.window('Low').newest;
    // Served under the stream's incarnation and its own sequence (README: HLS delivery).
    assert.deepEqual(
      [segment?.id, segment?.sequence, segment?.durationSec],
      [`${distributor.incarnation}-0.ts`, 0, 1.968],
    );
  });

  it("accepts the encoder's own multivariant playlist and deletes without disturbing what is published", async () => {
    await pushSegments(server.url, 'tidy', 'Low', 0, 2);
    const master = await put('/ingest/tidy/master.m3u8', '#EXTM3U\n');
    assert.equal(master.status, 201);
    const del = await fetch(`${server.url}/ingest/tidy/Low/seg_0.ts`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(server.service.getDistributor('tidy').window('Low').size, 2);
  });

  it('needs the stream publish key, by ?key= or bearer token', async () => {
    const start = await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'keyed',
      publish_key: 'correct-horse',
    });
    assert.equal(start.status, 201);
    assert.equal(
      JSON.stringify(start.body).includes('correct-horse'),
      false,
      'the key is not echoed',
    );
    const none = await put('/ingest/keyed/Low/seg_0.ts', fakeSegment('Low', 0));
    assert.equal(none.status, 401);
    assert.deepEqual(((await none.json()) as any).error.field, 'key');
    const wrong = await put('/ingest/keyed/Low/seg_0.ts?key=battery-staple', fakeSegment('Low', 0));
    assert.equal(wrong.status, 403);
    assert.equal(((await wrong.json()) as any).error.code, 'PUBLISH_KEY_INVALID');
    assert.equal(
      (await put('/ingest/keyed/Low/seg_0.ts?key=correct-horse', fakeSegment('Low', 0))).status,
      201,
    );
    const bearer = await put('/ingest/keyed/Low/index.m3u8', '#EXTM3U\n#EXTINF:2,\nseg_0.ts\n', {
      authorization: 'Bearer correct-horse',
    });
    assert.equal(bearer.status, 201);
    assert.equal(server.service.getDistributor('keyed').window('Low').size, 1);
  });

  it('applies a server-wide publish key to streams without their own', async () => {
    const keyed = await startTestServer({}, 200, { ingest: { publishKey: 'server-key' } });
    try {
      assert.equal(
        (await fetch(`${keyed.url}/ingest/x/Low/seg_0.ts`, { method: 'PUT', body: 'x' })).status,
        401,
      );
      await pushSegments(keyed.url, 'x', 'Low', 0, 1, '?key=server-key');
      assert.equal(keyed.service.getDistributor('x').window('Low').size, 1);
    } finally {
      await keyed.close();
    }
  });

  it('refuses pushes to a stream ended through the API', async () => {
    await pushSegments(server.url, 'over', 'Low', 0, 1);
    await call(`${server.url}/api/v1/streams/over/end`, 'POST');
    const late = await put('/ingest/over/Low/seg_1.ts', fakeSegment('Low', 1));
    assert.equal(late.status, 409);
    assert.equal(((await late.json()) as any).error.code, 'STREAM_ENDED');
  });

  describe('bad pushes get a clear 4xx and leave what is published alone', () => {
    before(() => pushSegments(server.url, 'guarded', 'Medium', 0, 3));

    const cases: [string, string, string | Uint8Array<ArrayBuffer>, number, string][] = [
      [
        'a file name with a path',
        '/ingest/guarded/Medium/..%2F..%2Fetc%2Fpasswd',
        'x',
        400,
        'file',
      ],
      ['a file type no encoder pushes', '/ingest/guarded/Medium/run.sh', 'x', 400, 'file'],
      ['an unknown profile', '/ingest/guarded/Ultra/seg_9.ts', 'x', 400, 'profile'],
      ['a bad recording id', '/ingest/bad%20id/Medium/seg_9.ts', 'x', 400, 'recording_id'],
      ['an empty segment', '/ingest/guarded/Medium/seg_9.ts', '', 400, 'file'],
      [
        'a segment over the size limit',
        '/ingest/guarded/Medium/seg_9.ts',
        new Uint8Array(65 * 1024),
        413,
        'body',
      ],
      [
        'a playlist that is not HLS',
        '/ingest/guarded/Medium/index.m3u8',
        'not a playlist',
        400,
        'file',
      ],
      [
        'a multivariant playlist in a profile folder',
        '/ingest/guarded/Medium/index.m3u8',
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n',
        400,
        'file',
      ],
      ['a segment file outside a profile folder', '/ingest/guarded/seg_9.ts', 'x', 400, 'file'],
    ];
    for (const [name, path, body, status, field] of cases) {
      it(`answers ${name} with ${status} naming ${field}`, async () => {
        const res = await put(path, body);
        const json = (await res.json()) as any;
        assert.equal(res.status, status, JSON.stringify(json));
        assert.equal(json.error.field, field);
        const window = server.service.getDistributor('guarded').window('Medium');
        assert.deepEqual(
          window.segments().map((s) => s.sequence),
          [0, 1, 2],
        );
      });
    }
  });
});
