import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type MeasuredServer, startMeasuredServer } from '../helpers/measured-server.js';
import { pieces, rawPut } from '../helpers/raw-put.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * Ceiling on the server's RSS growth. Bounded, ingest keeps at most 4 init sections (4 MiB)
 * and the rest is allocator slack; unbounded, the flood alone kept 100 MiB and parsing the
 * 16 MiB playlist took the process to about 1 GB.
 */
const RSS_CEILING = 48 * MiB;

// The server runs in a process of its own, so its memory is measured without the clients'.
let server: MeasuredServer;
let url: string;
before(async () => {
  server = await startMeasuredServer();
  url = server.url;
});
after(() => server.close());
const measure = () => server.measure();

it('keeps the server memory bounded under an init flood and oversized playlists', async (t) => {
  const init = new Uint8Array(MiB).fill(7);
  let text = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n';
  for (let i = 0; text.length < 16 * MiB; i++) text += `#EXTINF:2,\ns${i}.ts\n`; // ~800,000 entries
  const bigPlaylist = Buffer.from(text);
  const longPlaylist = bigPlaylist.subarray(0, 250 * KiB); // ~12,000 entries, under the size limit
  // One push first, so what the first request loads is not counted as growth.
  await fetch(`${url}/ingest/warm/Low/init.mp4`, { method: 'PUT', body: init });
  const baseline = await measure();

  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/ingest/flood/Low/init_${i}.mp4`, { method: 'PUT', body: init });
    assert.equal(res.status, 201);
  }
  for (let i = 0; i < 3; i++) {
    const declared = await rawPut(`${url}/ingest/flood/Low/index.m3u8`, {
      chunks: [bigPlaylist],
      contentLength: bigPlaylist.byteLength,
    });
    assert.equal(declared.status, 413);
    const chunked = await rawPut(`${url}/ingest/flood/Low/index.m3u8`, {
      chunks: pieces(256, 64 * KiB, 0x0a),
      intervalMs: 2,
    });
    assert.equal(chunked.status, 413);
    await Promise.all([declared.closed, chunked.closed]);
    const long = await fetch(`${url}/ingest/flood/Low/index.m3u8`, {
      method: 'PUT',
      body: longPlaylist,
    });
    assert.equal(long.status, 400);
  }

  const end = await measure();
  const growth = end.rss - baseline.rss;
  t.diagnostic(
    `server rss grew ${(growth / MiB).toFixed(1)} MiB; ingest holds ${(end.held / MiB).toFixed(1)} MiB`,
  );
  // The flood's 4 kept init sections and the warm-up's one.
  assert.ok(end.held <= 5 * MiB, `ingest holds ${end.held} bytes`);
  assert.ok(growth < RSS_CEILING, `server rss grew ${(growth / MiB).toFixed(1)} MiB`);
});
