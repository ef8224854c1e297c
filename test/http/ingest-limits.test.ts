import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';
import { pieces, rawPut } from '../helpers/raw-put.js';
import { waitFor } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A media playlist listing `count` 2 s segments from `first`. */
function playlist(first: number, count: number, sequence: number | string = first): string {
  let text = `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${sequence}\n`;
  for (let s = first; s < first + count; s++) text += `#EXTINF:2,\ns${s}.ts\n`;
  return text;
}

/** Playlist text of at least `bytes` bytes (about 21 bytes an entry). */
function hugePlaylist(bytes: number): Buffer {
  return Buffer.from(playlist(0, Math.ceil(bytes / 21)));
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

let server: TestServer;
/** Small budgets: 256 KiB a stream, 512 KiB in all, 64 KiB segments. */
let tight: TestServer;
/** The default minimum pace (8 KiB/s) after a 1 s grace instead of 5 s. */
let paced: TestServer;
before(async () => {
  server = await startTestServer();
  tight = await startTestServer({}, 200, {
    maxSegmentBytes: 64 * KiB,
    ingest: { limits: { streamBudgetBytes: 256 * KiB, totalBudgetBytes: 512 * KiB } },
  });
  paced = await startTestServer({}, 200, { ingest: { limits: { uploadGraceMs: 1000 } } });
});
after(() => Promise.all([server.close(), tight.close(), paced.close()]));

const put = (base: string, path: string, body: string | Uint8Array<ArrayBuffer>) =>
  fetch(`${base}${path}`, { method: 'PUT', body });

describe('ingest limits', () => {
  describe('body size by what the file is', () => {
    it('answers a media playlist whose Content-Length is over 256 KiB with 413 before reading it', async () => {
      const body = hugePlaylist(16 * MiB); // about 800,000 entries
      const res = await rawPut(`${server.url}/ingest/big/Low/index.m3u8`, {
        chunks: [body],
        contentLength: body.byteLength,
      });
      assert.equal(res.status, 413, JSON.stringify(res.body));
      assert.deepEqual([res.body.error.code, res.body.error.field], ['BODY_TOO_LARGE', 'body']);
      assert.match(res.body.error.message, /media playlist may be at most 262144 bytes/);
      assert.equal(res.headers.connection, 'close');
      assert.ok(res.answeredAfterMs < 1000, `answered after ${res.answeredAfterMs} ms`);
      assert.ok((await res.closed) < 2000, 'the server closes the connection');
    });

    it('cuts a chunked media playlist with 413 as soon as it passes 256 KiB', async () => {
      const res = await rawPut(`${server.url}/ingest/big/Low/index.m3u8`, {
        chunks: pieces(256, 64 * KiB, 0x0a), // 16 MiB if nobody stopped it
        intervalMs: 10,
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.error.field, 'body');
      assert.ok(res.sentBytes < 2 * MiB, `sent ${res.sentBytes} bytes before the answer`);
      await res.closed;
      assert.equal(server.ingest.budget.arrivingBytes(), 0, 'nothing stays reserved');
    });

    it('takes an init section of 1 MiB and refuses one byte more', async () => {
      assert.equal(
        (await put(server.url, '/ingest/sized/Low/init.mp4', new Uint8Array(MiB))).status,
        201,
      );
      const over = await put(server.url, '/ingest/sized/Low/init.mp4', new Uint8Array(MiB + 1));
      assert.equal(over.status, 413);
      assert.match(((await over.json()) as any).error.message, /init section may be at most/);
    });
  });

  describe('pushed playlists', () => {
    it('refuses a playlist of more than 2000 entries with 400 naming file, without parsing it', async () => {
      const text = playlist(0, 12_000);
      assert.ok(text.length < 256 * KiB);
      const started = performance.now();
      const res = await put(server.url, '/ingest/long/Low/index.m3u8', text);
      const elapsed = performance.now() - started;
      const json = (await res.json()) as any;
      assert.equal(res.status, 400);
      assert.deepEqual([json.error.code, json.error.field], ['INVALID_INGEST', 'file']);
      assert.match(json.error.message, /more than 2000 segments/);
      assert.ok(elapsed < 500, `answered after ${elapsed.toFixed(0)} ms`);
      const exact = await put(server.url, '/ingest/long/Low/index.m3u8', playlist(0, 2000));
      assert.equal(exact.status, 201, '2000 entries are fine');
    });

    it('refuses EXT-X-MEDIA-SEQUENCE 1e30 with 400 and still publishes later good pushes', async () => {
      assert.equal(
        (await put(server.url, '/ingest/huge-seq/Low/s0.ts', fakeSegment('Low', 0))).status,
        201,
      );
      const bad = await put(
        server.url,
        '/ingest/huge-seq/Low/index.m3u8',
        playlist(0, 1, `1${'0'.repeat(30)}`),
      );
      const json = (await bad.json()) as any;
      assert.equal(bad.status, 400);
      assert.deepEqual([json.error.code, json.error.field], ['INVALID_INGEST', 'file']);
      assert.match(json.error.message, /EXT-X-MEDIA-SEQUENCE/);
      const good = await put(server.url, '/ingest/huge-seq/Low/index.m3u8', playlist(0, 1));
      assert.equal(((await good.json()) as any).published, 1);
      await put(server.url, '/ingest/huge-seq/Low/s1.ts', fakeSegment('Low', 1));
      const next = await put(server.url, '/ingest/huge-seq/Low/index.m3u8', playlist(0, 2));
      assert.equal(((await next.json()) as any).published, 1);
      const window = server.service.getDistributor('huge-seq').window('Low');
      assert.deepEqual(
        window.segments().map((s) => s.sequence),
        [0, 1],
      );
    });

    for (const [name, sequence] of [
      ['negative', '-1'],
      ['fractional', '1.5'],
      ['beyond 2^53', String(2 ** 53)],
    ]) {
      it(`refuses a ${name} EXT-X-MEDIA-SEQUENCE with 400`, async () => {
        const res = await put(
          server.url,
          '/ingest/odd-seq/Low/index.m3u8',
          playlist(0, 1, sequence),
        );
        assert.equal(res.status, 400);
      });
    }
  });

  describe('init sections', () => {
    it('keeps at most 4 init sections per rendition under a flood of 100 of 1 MiB', async () => {
      const init = new Uint8Array(MiB).fill(7);
      for (let i = 0; i < 100; i++) {
        const res = await put(server.url, `/ingest/flood/Low/init_${i}.mp4`, init);
        assert.equal(res.status, 201);
      }
      const held = server.ingest.heldBytes('flood');
      assert.ok(held <= 4 * MiB, `holds ${held} bytes`);
    });

    it('refuses a fifth init section with 409 while the playlist names all four kept ones', async () => {
      for (const name of ['a', 'b', 'c', 'd'])
        await put(server.url, `/ingest/maps/Low/init_${name}.mp4`, new Uint8Array(100));
      let text = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n';
      ['a', 'b', 'c', 'd'].forEach((name, i) => {
        text += `#EXT-X-MAP:URI="init_${name}.mp4"\n#EXTINF:2,\ns${i}.m4s\n`;
      });
      assert.equal((await put(server.url, '/ingest/maps/Low/index.m3u8', text)).status, 201);
      const refused = await put(server.url, '/ingest/maps/Low/init_e.mp4', new Uint8Array(100));
      const json = (await refused.json()) as any;
      assert.equal(refused.status, 409);
      assert.deepEqual([json.error.code, json.error.field], ['INIT_SECTIONS_FULL', 'file']);
      // Once the playlist moves on, the oldest section it no longer names makes room.
      const later =
        '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-MAP:URI="init_d.mp4"\n#EXTINF:2,\ns3.m4s\n';
      assert.equal((await put(server.url, '/ingest/maps/Low/index.m3u8', later)).status, 201);
      assert.equal(
        (await put(server.url, '/ingest/maps/Low/init_e.mp4', new Uint8Array(100))).status,
        201,
      );
    });
  });

  describe('memory budgets', () => {
    const junk = new Uint8Array(60 * KiB).fill(1);

    it('answers 413 naming file once a stream would hold more than its budget', async () => {
      for (let i = 0; i < 4; i++)
        assert.equal((await put(tight.url, `/ingest/hog/Low/junk_${i}.ts`, junk)).status, 201);
      const over = await put(tight.url, '/ingest/hog/Low/junk_4.ts', junk);
      const json = (await over.json()) as any;
      assert.equal(over.status, 413);
      assert.deepEqual([json.error.code, json.error.field], ['STREAM_BUDGET_EXCEEDED', 'file']);
      assert.ok(tight.ingest.heldBytes('hog') <= 256 * KiB);
      assert.equal((await put(tight.url, '/ingest/other/Low/junk_0.ts', junk)).status, 201);
    });

    it('refuses from the Content-Length alone, before the body arrives', async () => {
      const res = await rawPut(`${tight.url}/ingest/hog/Low/junk_5.ts`, {
        chunks: [],
        contentLength: junk.byteLength,
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'STREAM_BUDGET_EXCEEDED');
      await res.closed;
    });

    it('answers 503 with Retry-After once all streams together would pass the server budget', async () => {
      let status = 201;
      let res: Response | undefined;
      for (let i = 0; i < 4 && status === 201; i++) {
        res = await put(tight.url, `/ingest/third/Low/junk_${i}.ts`, junk);
        status = res.status;
      }
      assert.equal(status, 503);
      const json = (await res?.json()) as any;
      assert.deepEqual([json.error.code, json.error.field], ['INGEST_BUDGET_EXCEEDED', 'file']);
      assert.ok(res?.headers.get('retry-after'));
      assert.ok(tight.ingest.heldBytes() <= 512 * KiB);
    });

    it('counts published segments in the budget', async () => {
      const fresh = await startTestServer({}, 200, {
        ingest: { limits: { streamBudgetBytes: 12 * KiB } },
      });
      try {
        await pushSegments(fresh.url, 'pub', 'Low', 0, 2); // two segments of about 5 KB
        const window = fresh.service.getDistributor('pub').window('Low');
        assert.equal(fresh.ingest.heldBytes('pub'), window.bytes);
        const third = await put(fresh.url, '/ingest/pub/Low/seg_2.ts', fakeSegment('Low', 2));
        assert.equal(third.status, 413);
      } finally {
        await fresh.close();
      }
    });
  });

  describe('upload pace', () => {
    it('cuts a chunked upload trickling one byte a second with 408 and closes its socket', async () => {
      const before = timers();
      const res = await rawPut(`${paced.url}/ingest/trickle/Low/seg_0.ts`, {
        chunks: pieces(60, 1), // a minute at this pace
        intervalMs: 1000,
      });
      assert.equal(res.status, 408, JSON.stringify(res.body));
      assert.deepEqual([res.body.error.code, res.body.error.field], ['UPLOAD_TOO_SLOW', 'body']);
      assert.equal(res.headers.connection, 'close');
      assert.ok(res.answeredAfterMs < 4000, `answered after ${res.answeredAfterMs} ms`);
      const closedAt = await res.closed;
      assert.ok(closedAt - res.answeredAfterMs < 2000, `closed ${closedAt} ms in`);
      assert.ok(res.sentBytes < 5);
      assert.equal(paced.ingest.budget.arrivingBytes(), 0);
      assert.equal(paced.ingest.heldBytes('trickle'), 0, 'nothing of it is kept');
      await waitFor(async () => timers() <= before || undefined, 2000, 'the pace timer to go');
    });

    it('takes an upload streamed at a real encoder pace past the grace period', async () => {
      // 32 KiB/s for 2.5 s, as ffmpeg streams a segment it is still encoding.
      const res = await rawPut(`${paced.url}/ingest/steady/Low/seg_0.ts`, {
        chunks: pieces(25, 3.2 * KiB),
        intervalMs: 100,
      });
      res.dispose();
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });

    it('leaves nothing behind when the client disconnects mid-body', async () => {
      const before = timers();
      const req = request(`${paced.url}/ingest/gone/Low/seg_0.ts`, {
        method: 'PUT',
        headers: { 'content-length': String(100 * KiB) },
      });
      req.on('error', () => {});
      req.write(new Uint8Array(40 * KiB));
      await waitFor(
        async () => paced.ingest.budget.arrivingBytes('gone') > 0 || undefined,
        2000,
        'the body to start',
        20,
      );
      req.destroy();
      await waitFor(
        async () => paced.ingest.budget.arrivingBytes() === 0 || undefined,
        2000,
        'the reservation to go',
        20,
      );
      assert.equal(paced.ingest.heldBytes('gone'), 0);
      await waitFor(async () => timers() <= before || undefined, 2000, 'the pace timer to go');
    });
  });

  describe('a 201 means the segment was kept', () => {
    it('answers 409 naming the file for a segment the stream refused, after publishing the rest', async () => {
      await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'clash' });
      // Something else already holds the id of sequence 1 (at an earlier sequence): the push's
      // second segment collides.
      const incarnation = server.service.getDistributor('clash').incarnation;
      server.service.addSegmentToStream('clash', {
        id: `${incarnation}-1.ts`,
        sequence: -5,
        profile: 'Low',
        durationSec: 2,
        data: new Uint8Array(10),
      });
      for (const s of [0, 1, 2])
        assert.equal(
          (await put(server.url, `/ingest/clash/Low/s${s}.ts`, fakeSegment('Low', s))).status,
          201,
        );
      const res = await put(server.url, '/ingest/clash/Low/index.m3u8', playlist(0, 3));
      const json = (await res.json()) as any;
      assert.equal(res.status, 409);
      assert.deepEqual([json.error.code, json.error.field], ['SEGMENT_REFUSED', 'file']);
      assert.match(json.error.message, /'s1\.ts' was not published/);
      const window = server.service.getDistributor('clash').window('Low');
      assert.deepEqual(
        window.segments().map((s) => s.id),
        [1, 0, 2].map((n) => `${incarnation}-${n}.ts`),
      );
    });

    it('still answers a normal push with 201 and publishes it', async () => {
      await pushSegments(server.url, 'normal', 'Medium', 0, 3);
      assert.equal(server.service.getDistributor('normal').window('Medium').size, 3);
    });
  });
});
