import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import type { ProfileName } from '../../src/core/profiles.js';
import { MAX_DVR_SECONDS } from '../../src/service/distribution-service.js';
import { assertConformantMedia, reloadProblems } from '../helpers/hls-conformance.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const LADDER: readonly ProfileName[] = ['VeryLow', 'Low', 'Medium', 'High'];
const clock = { now: Date.now() };
let server: TestServer;
let defaulted: TestServer;

async function start(on: TestServer, body: Record<string, unknown>) {
  return call(`${on.url}/api/v1/streams/start`, 'POST', body);
}

async function push(on: TestServer, stream: string, from: number, to: number): Promise<void> {
  for (const profile of LADDER) await pushSegments(on.url, stream, profile, from, to);
}

/** The Low rendition's live playlist, checked for conformance, as text and parsed. */
async function lowPlaylist(on: TestServer, stream: string) {
  const text = await (await fetch(`${on.url}/live/${stream}/Low/index.m3u8`)).text();
  assertConformantMedia(text);
  return { text, playlist: HLS.parse(text) as MediaPlaylist };
}

before(async () => {
  server = await startTestServer({ clock: () => clock.now });
  defaulted = await startTestServer({ dvrSeconds: 30 });
});
after(async () => {
  await server?.close();
  await defaulted?.close();
});

describe('DVR window', () => {
  it('lists up to dvr_seconds of history where a stream without one lists the newest 6 segments', async () => {
    assert.equal((await start(server, { recording_id: 'dvr', dvr_seconds: 20 })).status, 201);
    assert.equal((await start(server, { recording_id: 'plain' })).status, 201);
    await push(server, 'dvr', 0, 16);
    await push(server, 'plain', 0, 16);

    const dvr = (await lowPlaylist(server, 'dvr')).playlist;
    assert.equal(dvr.segments.length, 10, '20 s of 2 s segments');
    assert.equal(dvr.mediaSequenceBase, 6);
    assert.equal(dvr.targetDuration, 2, 'the target duration is the same as without DVR');
    assert.deepEqual(
      dvr.segments.map((s) => s.mediaSequenceNumber),
      Array.from({ length: 10 }, (_, i) => 6 + i),
    );
    const plain = (await lowPlaylist(server, 'plain')).playlist;
    assert.equal(plain.segments.length, 6);
    assert.equal(plain.mediaSequenceBase, 10);
    // The live edge is the same segment in both.
    assert.equal(
      dvr.segments.at(-1)?.mediaSequenceNumber,
      plain.segments.at(-1)?.mediaSequenceNumber,
    );
  });

  it('holds the DVR history on top of the usual retention, so every listed segment is fetchable', async () => {
    const distributor = server.service.getDistributor('dvr');
    assert.equal(distributor.dvrSeconds, 20);
    assert.equal(distributor.retentionMs, 30_000 + 20_000);
    assert.equal(server.service.getDistributor('plain').retentionMs, 30_000);
    const { playlist } = await lowPlaylist(server, 'dvr');
    const oldest = await fetch(
      new URL(playlist.segments[0]?.uri ?? '', `${server.url}/live/dvr/Low/`),
    );
    assert.equal(oldest.status, 200);
    await oldest.arrayBuffer();
  });

  it('slides the window with correct media and discontinuity sequence numbers across a restart', async () => {
    const before = await lowPlaylist(server, 'dvr');
    // The encoder restarts: its next segment carries a discontinuity.
    server.service.addSegmentToStream('dvr', {
      id: 'restart-16',
      sequence: 16,
      profile: 'Low',
      durationSec: 2,
      data: new Uint8Array(500).fill(16),
      discontinuity: true,
    });
    for (let n = 17; n < 28; n++) {
      server.service.addSegmentToStream('dvr', {
        id: `restart-${n}`,
        sequence: n,
        profile: 'Low',
        durationSec: 2,
        data: new Uint8Array(500).fill(n),
      });
      const later = await lowPlaylist(server, 'dvr');
      assert.deepEqual(reloadProblems(before.text, later.text), []);
      assert.equal(later.playlist.mediaSequenceBase, n - 9);
      assert.equal(later.playlist.segments.length, 10);
      const discontinuityAt = later.playlist.segments.findIndex((s) => s.discontinuity);
      // Once the restart slides out of the window, the base counts it instead.
      assert.equal(later.playlist.discontinuitySequenceBase, discontinuityAt === -1 ? 1 : 0);
      if (discontinuityAt !== -1)
        assert.equal(later.playlist.segments[discontinuityAt]?.mediaSequenceNumber, 16);
    }
  });

  it('expires DVR segments once they are older than the DVR window plus the retention', async () => {
    const window = server.service.getDistributor('dvr').window('Low');
    const held = window.size;
    clock.now += 30_000 + 1000;
    server.service.cleanup();
    assert.equal(window.size, held, 'past the usual retention, still within the DVR window');
    assert.equal(server.service.getDistributor('plain').window('Low').size, 0);
    clock.now += 20_000;
    server.service.cleanup();
    assert.equal(window.size, 0);
  });

  it('takes the server default when the start names none, and dvr_seconds 0 turns it off', async () => {
    assert.equal((await start(defaulted, { recording_id: 'lecture' })).status, 201);
    assert.equal((await start(defaulted, { recording_id: 'off', dvr_seconds: 0 })).status, 201);
    await push(defaulted, 'lecture', 0, 20);
    await push(defaulted, 'off', 0, 20);
    assert.equal((await lowPlaylist(defaulted, 'lecture')).playlist.segments.length, 15);
    assert.equal((await lowPlaylist(defaulted, 'off')).playlist.segments.length, 6);
  });

  it("keeps a stream's DVR window across a restart on the same data directory", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vtp-dvr-'));
    try {
      const first = await startTestServer({}, 200, { dataDir: dir });
      assert.equal((await start(first, { recording_id: 'kept', dvr_seconds: 20 })).status, 201);
      await push(first, 'kept', 0, 14);
      await first.close();
      const second = await startTestServer({}, 200, { dataDir: dir });
      try {
        assert.equal(second.service.getDistributor('kept').dvrSeconds, 20);
        assert.equal((await lowPlaylist(second, 'kept')).playlist.segments.length, 10);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a dvr_seconds that is not a whole number of seconds from 0 to the cap with a 400 naming it', async () => {
    for (const dvr_seconds of [-1, 1.5, MAX_DVR_SECONDS + 1, '60']) {
      const answer = await start(server, { recording_id: 'bad', dvr_seconds });
      assert.equal(answer.status, 400, JSON.stringify(dvr_seconds));
      assert.equal(answer.body.error.code, 'INVALID_REQUEST');
      assert.equal(answer.body.error.field, 'dvr_seconds');
    }
    assert.equal(
      (await start(server, { recording_id: 'longest', dvr_seconds: MAX_DVR_SECONDS })).status,
      201,
    );
  });
});
