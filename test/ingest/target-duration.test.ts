import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { assertConformantMedia } from '../helpers/hls-conformance.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

describe('target duration of a pushed stream', () => {
  let server: TestServer;
  const warnings: string[] = [];
  before(async () => {
    server = await startTestServer({}, 200, { ingest: { warn: (m) => warnings.push(m) } });
  });
  after(() => server.close());

  async function served(stream: string, profile = 'Low') {
    const text = await (await fetch(`${server.url}/live/${stream}/${profile}/index.m3u8`)).text();
    assertConformantMedia(text);
    return HLS.parse(text) as MediaPlaylist;
  }

  it("fixes it at the first segment from the encoder's declared target, for every rendition, whatever it declares later", async () => {
    await pushSegments(server.url, 'declared', 'Low', 0, 2, '', { declaredTarget: 4 });
    await pushSegments(server.url, 'declared', 'High', 0, 2, '', { declaredTarget: 2 });
    await pushSegments(server.url, 'declared', 'Low', 2, 4, '', {
      declaredTarget: 3,
      duration: (s) => (s === 3 ? '3.700' : '2.000'),
    });
    assert.equal((await served('declared')).targetDuration, 4);
    assert.equal((await served('declared', 'High')).targetDuration, 4);
  });

  it("keeps it across an encoder restart that declares another (the stream's promise stands)", async () => {
    await pushSegments(server.url, 'restarted', 'Low', 0, 4, '', { declaredTarget: 2 });
    const before = await served('restarted');
    assert.equal(before.targetDuration, 2);
    // The encoder restarts from sequence 0, declaring 6 s, with segments that fit 2 s.
    await pushSegments(server.url, 'restarted', 'Low', 0, 3, '', {
      declaredTarget: 6,
      duration: () => '1.960',
    });
    const after = await served('restarted');
    assert.ok(
      after.segments.some((s) => s.discontinuity),
      'the restart is in the playlist',
    );
    assert.equal(after.targetDuration, 2);
  });

  it('rises once to a segment that breaks it, with a warning and a count of raises, rather than list an EXTINF beyond it', async () => {
    await pushSegments(server.url, 'broken', 'Low', 0, 3, '', {
      duration: (s) => (s === 2 ? '4.600' : '2.000'),
    });
    const playlist = await served('broken');
    assert.equal(playlist.targetDuration, 5);
    assert.equal(warnings.filter((w) => w.startsWith('broken/Low:')).length, 1);
    assert.match(
      warnings.find((w) => w.startsWith('broken/Low:')) ?? '',
      /4.6 s segment .* 2 s; raised to 5 s/,
    );
    assert.equal(server.service.getDistributor('broken').targetDurationRaises, 1);
    await pushSegments(server.url, 'broken', 'Low', 3, 9);
    assert.equal((await served('broken')).targetDuration, 5, 'it never falls back');
    assert.equal(
      server.service.getDistributor('broken').targetDurationRaises,
      1,
      'segments that fit count none',
    );
  });
});
