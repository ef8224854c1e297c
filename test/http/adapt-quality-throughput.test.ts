import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADAPTATION_POLICIES } from '../../src/core/adaptation/index.js';
import { PROFILES } from '../../src/core/profiles.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

/**
 * The player page's report to `adapt-quality` with the throughput its downloads measured, on a
 * server running the `vtp` policy: the policy reads the samples (with buffer health and the
 * renditions' real segment sizes), the answer gives its reason and the switch history keeps it.
 */

let server: TestServer;
let api: string;

before(async () => {
  server = await startTestServer({ policy: ADAPTATION_POLICIES.vtp });
  api = `${server.url}/api/v1`;
  await call(`${api}/streams/start`, 'POST', { recording_id: 'tp' });
  // Segments of each rendition's nominal size (2 s at its bitrate), so rates are as nominal.
  for (let n = 0; n < 3; n++) {
    for (const p of ALL_PROFILES) {
      const bytes = (PROFILES[p].bitrateKbps * 1000 * 2) / 8;
      server.service.addSegmentToStream('tp', segmentInput(n, p, bytes));
    }
  }
  await call(`${api}/streams/tp`, 'POST', { viewer_id: 'student', initial_bitrate: 'Low' });
});
after(() => server.close());

const report = (body: Record<string, unknown>) =>
  call(`${api}/viewers/adapt-quality`, 'POST', {
    recording_id: 'tp',
    viewer_id: 'student',
    ...body,
  });

describe('adapt-quality with measured throughput', () => {
  it('steps up on a full buffer and a sample that carries the next rendition', async () => {
    const up = await report({ buffer_health: 100, throughput_kbps: 5000 });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual([up.body.previous_bitrate, up.body.new_bitrate], ['Low', 'Medium']);
    assert.match(up.body.reason, /up to Medium/);
  });

  it('drops to what the last sample carries when the buffer is nearly empty', async () => {
    const down = await report({ buffer_health: 30, throughput_kbps: 700 });
    assert.deepEqual([down.body.previous_bitrate, down.body.new_bitrate], ['Medium', 'VeryLow']);
    assert.match(down.body.reason, /estimate or last 700 kbps/);
    const history = (await call(`${api}/streams/tp`, 'GET')).body.viewers[0].bitrate_history;
    assert.deepEqual(
      history.map((h: { to: string; reason: string; detail: string }) => [h.to, h.reason]),
      [
        ['Medium', 'adaptation'],
        ['VeryLow', 'adaptation'],
      ],
    );
    assert.equal(history[1].detail, down.body.reason, 'the history keeps the reason');
  });

  it('without throughput, falls back on the seed bands and says so', async () => {
    await call(`${api}/streams/tp`, 'POST', { viewer_id: 'quiet', initial_bitrate: 'Medium' });
    const res = await call(`${api}/viewers/adapt-quality`, 'POST', {
      recording_id: 'tp',
      viewer_id: 'quiet',
      buffer_health: 10,
    });
    assert.equal(res.body.new_bitrate, 'VeryLow');
    assert.match(res.body.reason, /^no throughput: buffer health 10 < 20/);
  });

  it("recommends from a player's CMCD samples to a player that picks its own rendition", async () => {
    const joined = await call(`${api}/streams/tp`, 'POST', { viewer_id: 'cmcd' });
    const session = joined.body.session_id as string;
    const poll = async (cmcd: string) => {
      const res = await fetch(`${server.url}/live/tp/Low/index.m3u8?session=${session}`, {
        headers: { 'cmcd-request': cmcd },
      });
      await res.text();
      const rows = (await call(`${api}/streams/tp`, 'GET')).body.viewers;
      return rows.find((r: { viewer_id: string }) => r.viewer_id === 'cmcd').recommended_bitrate;
    };
    // 6 s buffered and samples that carry Medium's 2000 kbps: one step up from Low.
    assert.equal(await poll('bl=6000,mtp=2100'), 'Medium');
    for (let i = 0; i < 3; i++) assert.equal(await poll('bl=6000,mtp=2100'), 'Medium');
    // Four samples of 2100 and one of 700: harmonic mean 1500, the last under half of it, a drop
    // that counts at once: 700 x 1.2 carries only VeryLow.
    assert.equal(await poll('bl=6000,mtp=700'), 'VeryLow');
  });

  it('refuses a throughput that is not a non-negative number, naming the field', async () => {
    for (const bad of [-1, 'fast', 1e9]) {
      const res = await report({ buffer_health: 50, throughput_kbps: bad });
      assert.equal(res.status, 400, String(bad));
      assert.equal(res.body.error.field, 'throughput_kbps', String(bad));
    }
  });
});
