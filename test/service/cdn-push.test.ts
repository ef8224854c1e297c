import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import HLS from 'hls-parser';
import type { ProfileName } from '../../src/core/profiles.js';
import { CdnPusher, type CdnPushOptions, PushWorkersError } from '../../src/service/cdn-push.js';
import { parsePushTargets } from '../../src/service/cdn-push-target.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { type PushTargetServer, startPushTarget } from '../helpers/push-target.js';
import { segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

const SECRET = 'push-secret-0123';
let now = 1_700_000_000_000;
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  extra: Partial<CdnPushOptions> = {},
  targetUrl = (url: string) => url,
): Promise<{ service: DistributionService; pusher: CdnPusher; target: PushTargetServer }> {
  const target = await startPushTarget();
  cleanups.push(() => target.close());
  const service = new DistributionService({
    clock: () => now,
    retentionMs: 20_000,
    backoff: { minMs: 5, maxMs: 20, factor: 2 },
  });
  const pusher = new CdnPusher({
    targets: parsePushTargets(targetUrl(target.url)),
    submitter: service,
    streams: service,
    events: service.events,
    playlistSegments: 3,
    sweepIntervalMs: 20,
    retryPauseMs: 20,
    clock: () => now,
    ...extra,
  });
  pusher.start();
  cleanups.push(
    () => service.shutdown(1000),
    () => pusher.stop(),
  );
  service.startLiveStream('rec');
  return { service, pusher, target };
}

function publish(service: DistributionService, from: number, to: number, profiles: ProfileName[]) {
  for (let n = from; n <= to; n++) {
    for (const profile of profiles) service.addSegmentToStream('rec', segmentInput(n, profile));
  }
}

/** The target's media playlist of `profile`, once it lists `sequence` last. */
function playlistAt(target: PushTargetServer, profile: ProfileName, sequence: number) {
  return waitFor(
    async () => {
      const text = target.files.get(`/live/rec/${profile}/index.m3u8`)?.toString();
      const parsed = text ? (HLS.parse(text) as MediaPlaylist) : undefined;
      return parsed?.segments.at(-1)?.uri === `seg-${sequence}` ? parsed : undefined;
    },
    5000,
    `the ${profile} playlist at the target to reach seg-${sequence}`,
    5,
  );
}

/** Every media playlist PUT named only segments the target had by then. */
function assertPlaylistsNeverAhead(target: PushTargetServer): number {
  let checked = 0;
  for (const request of target.requests) {
    if (request.method !== 'PUT' || !request.path.endsWith('/index.m3u8')) continue;
    const dir = request.path.slice(0, -'index.m3u8'.length);
    for (const segment of (HLS.parse(request.body.toString()) as MediaPlaylist).segments) {
      assert.ok(request.heldBefore.has(dir + segment.uri), `${request.path} named ${segment.uri}`);
    }
    checked++;
  }
  return checked;
}

describe('CdnPusher', { timeout: 30_000 }, () => {
  it('pushes every segment, each playlist only after what it lists, then the master', async () => {
    const { service, pusher, target } = await setup();
    publish(service, 0, 5, ['VeryLow', 'Low']);
    const low = await playlistAt(target, 'Low', 5);
    await playlistAt(target, 'VeryLow', 5);
    assert.deepEqual(
      low.segments.map((s) => s.uri),
      ['seg-3', 'seg-4', 'seg-5'],
    );
    for (const profile of ['VeryLow', 'Low'] as const) {
      for (const segment of service.getDistributor('rec').window(profile).segments()) {
        const held = target.files.get(`/live/rec/${profile}/${segment.id}`);
        assert.deepEqual(held, Buffer.from(segment.data), `${profile} ${segment.id}`);
      }
    }
    const master = await waitFor(
      async () => {
        const text = target.files.get('/live/rec/master.m3u8')?.toString();
        const parsed = text ? (HLS.parse(text) as MasterPlaylist) : undefined;
        return parsed?.variants.length === 2 ? parsed : undefined;
      },
      5000,
      'a master listing both renditions',
    );
    assert.deepEqual(master.variants.map((v) => v.uri).sort(), [
      'Low/index.m3u8',
      'VeryLow/index.m3u8',
    ]);
    assert.ok(assertPlaylistsNeverAhead(target) >= 2);
    for (const request of target.requests) {
      if (request.path.endsWith('.m3u8')) assert.ok(!request.body.includes('?'), request.path);
      if (request.path.endsWith('master.m3u8')) {
        const master = HLS.parse(request.body.toString()) as MasterPlaylist;
        for (const variant of master.variants) {
          const playlist = `/live/rec/${variant.uri}`;
          assert.ok(request.heldBefore.has(playlist), `master named ${playlist} too early`);
        }
      }
    }
    // The target holds a push before the pusher has its answer: read the counts once none is
    // in flight or waiting.
    const status = await waitFor(
      async () => {
        const [now] = pusher.status();
        return now && now.inFlight === 0 && now.backlog === 0 ? now : undefined;
      },
      5000,
      'every push answered',
    );
    assert.equal(status?.segmentsPushed, 12);
    assert.ok((status?.playlistsPushed ?? 0) >= 3);
    const putBytes = target.requests
      .filter((r) => r.method === 'PUT')
      .reduce((sum, r) => sum + r.body.length, 0);
    assert.equal(status?.bytesPushed, putBytes);
    assert.deepEqual([status?.up, status?.failures, status?.failedAttempts], [true, 0, 0]);
    assert.equal(typeof status?.lastSuccessAt, 'number');
  });

  it('removes expired segments once no playlist at the target lists them, and a removed stream altogether', async () => {
    const { service, target } = await setup();
    publish(service, 0, 3, ['Low']);
    await playlistAt(target, 'Low', 3);
    now += 30_000;
    publish(service, 4, 6, ['Low']);
    service.cleanup();
    await waitFor(
      async () => (target.files.has('/live/rec/Low/seg-0') ? undefined : true),
      5000,
      'seg-0 to leave the target',
    );
    await playlistAt(target, 'Low', 6);
    for (const request of target.requests.filter((r) => r.method === 'DELETE')) {
      const before = target.requests.slice(0, target.requests.indexOf(request));
      const playlist = before.reverse().find((r) => r.path === '/live/rec/Low/index.m3u8');
      const name = request.path.split('/').at(-1) ?? '';
      assert.ok(!playlist?.body.toString().split('\n').includes(name), `${name} was still listed`);
    }
    assert.deepEqual([...target.files.keys()].filter((p) => /seg-\d$/.test(p)).sort(), [
      '/live/rec/Low/seg-4',
      '/live/rec/Low/seg-5',
      '/live/rec/Low/seg-6',
    ]);
    service.endLiveStream('rec');
    now += 60_000;
    service.cleanup();
    await waitFor(
      async () => (target.files.size === 0 ? true : undefined),
      5000,
      'the removed stream to leave the target',
    );
  });

  it('retries and counts failures while the target is down, then catches up with the newest playlist and the window', async () => {
    const { service, pusher, target } = await setup();
    target.failWith = 503;
    publish(service, 0, 2, ['Low']);
    const down = await waitFor(
      async () => {
        const [status] = pusher.status();
        return status && !status.up && status.failures > 0 ? status : undefined;
      },
      5000,
      'the target to count as down',
    );
    // Low has 3 retries: four attempts before the first push gives up.
    assert.ok(down.failedAttempts >= 4, `failed attempts ${down.failedAttempts}`);
    assert.equal(down.segmentsPushed, 0);
    assert.match(down.lastError ?? '', /^PUT \/live\/rec\/Low\/seg-\d answered 503$/);
    publish(service, 3, 5, ['Low']);
    target.failWith = undefined;
    await playlistAt(target, 'Low', 5);
    await waitFor(
      async () =>
        service
          .getDistributor('rec')
          .window('Low')
          .segments()
          .every((s) => target.files.has(`/live/rec/Low/${s.id}`)) || undefined,
      5000,
      'every segment of the window at the target',
    );
    const [back] = pusher.status();
    assert.equal(back?.up, true);
    assert.equal(back?.segmentsPushed, 6);
    assert.ok((back?.failures ?? 0) >= 1);
    assertPlaylistsNeverAhead(target);
  });

  it('holds a bounded backlog while the target is down, dropping the oldest, and still catches up', async () => {
    const { service, pusher, target } = await setup({ maxBacklog: 4, retryPauseMs: 200 });
    target.failWith = 503;
    for (let n = 0; n < 10; n++) {
      publish(service, n, n, ['VeryLow', 'Low']);
      const [status] = pusher.status();
      assert.ok((status?.backlog ?? 0) <= 4, `backlog ${status?.backlog}`);
    }
    const [down] = pusher.status();
    assert.ok((down?.dropped ?? 0) > 0, 'the oldest pushes were dropped');
    target.failWith = undefined;
    await playlistAt(target, 'Low', 9);
    await playlistAt(target, 'VeryLow', 9);
    await waitFor(
      async () =>
        (['VeryLow', 'Low'] as const).every((profile) =>
          service
            .getDistributor('rec')
            .window(profile)
            .segments()
            .every((s) => target.files.has(`/live/rec/${profile}/${s.id}`)),
        ) || undefined,
      5000,
      'the dropped segments to arrive in the catch-up',
    );
    assertPlaylistsNeverAhead(target);
  });

  it('keeps the secrets of a target URL out of its status, and stops pushing when stopped', async () => {
    const { service, pusher, target } = await setup({}, (url) => {
      const u = new URL(url);
      return `http://pusher:${SECRET}@${u.host}/?token=${SECRET}`;
    });
    target.failWith = 401;
    publish(service, 0, 0, ['Low']);
    const status = await waitFor(
      async () => pusher.status().find((s) => s.failures > 0),
      5000,
      'a failure',
    );
    assert.ok(!JSON.stringify(status).includes(SECRET), JSON.stringify(status));
    assert.match(status.target, /^http:\/\/\*\*\*@127\.0\.0\.1:\d+\?token=\[REDACTED\]$/);
    assert.equal(target.requests[0]?.query, `?token=${SECRET}`);
    pusher.stop();
    await waitFor(
      async () => (pusher.status()[0]?.inFlight === 0 ? true : undefined),
      5000,
      'the pushes in the pool to finish',
    );
    const seen = target.requests.length;
    // A second pusher of the same service shows when the new segment has gone out.
    const other = await startPushTarget();
    cleanups.push(() => other.close());
    const witness = new CdnPusher({
      targets: parsePushTargets(other.url),
      submitter: service,
      streams: service,
      events: service.events,
    });
    witness.start();
    cleanups.push(() => witness.stop());
    target.failWith = undefined;
    publish(service, 1, 1, ['Low']);
    await waitFor(
      async () => other.files.has('/live/rec/Low/seg-1') || undefined,
      5000,
      'the witness to get seg-1',
    );
    assert.equal(target.requests.length, seen);
  });

  it('removes a removed stream without evicting uploads waiting for the target, even while it is down', async () => {
    const { service, pusher, target } = await setup({ maxBacklog: 16, retryPauseMs: 50 });
    const profiles = ['VeryLow', 'Low', 'Medium', 'High'] as const;
    publish(service, 0, 5, [...profiles]);
    for (const profile of profiles) await playlistAt(target, profile, 5);
    await waitFor(
      async () => target.files.has('/live/rec/master.m3u8') || undefined,
      5000,
      'the master at the target',
    );
    const recFiles = () => [...target.files.keys()].filter((p) => p.startsWith('/live/rec/'));
    await waitFor(
      async () => (recFiles().length === 4 * 6 + 4 + 1 ? true : undefined),
      5000,
      'every segment of rec at the target',
      10,
    );
    service.endLiveStream('rec');
    now += 60_000;
    // The target goes away while another lecture fills its backlog with uploads.
    target.failWith = 503;
    service.startLiveStream('other');
    for (let n = 0; n < 12; n++) {
      for (const profile of ['VeryLow', 'Low'] as const) {
        service.addSegmentToStream('other', segmentInput(n, profile));
      }
    }
    const [full] = pusher.status();
    assert.ok((full?.backlog ?? 0) >= 8, `backlog ${full?.backlog}`);
    const droppedBefore = full?.dropped ?? 0;
    // rec goes: its 29 removals wait for room instead of taking the uploads' places.
    service.cleanup();
    assert.throws(() => service.getDistributor('rec'));
    target.failWith = undefined;
    const gone = await waitFor(
      async () => {
        const [status] = pusher.status();
        const idle = status?.backlog === 0 && status.inFlight === 0;
        return idle && recFiles().length === 0 ? status : undefined;
      },
      10_000,
      'rec to leave the target',
      10,
    );
    assert.equal(gone.deleted, 29, JSON.stringify(gone));
    for (const profile of ['VeryLow', 'Low'] as const) {
      const played = HLS.parse(
        (
          await waitFor(
            async () => {
              const text = target.files.get(`/live/other/${profile}/index.m3u8`)?.toString();
              return text?.includes('seg-11') ? text : undefined;
            },
            5000,
            `the other ${profile} playlist`,
            10,
          )
        ).toString(),
      ) as MediaPlaylist;
      for (const segment of played.segments) {
        assert.ok(target.files.has(`/live/other/${profile}/${segment.uri}`), segment.uri);
      }
    }
    const [after] = pusher.status();
    assert.equal(after?.dropped, droppedBefore, 'no upload was evicted by a removal');
    assert.equal(after?.deletesGivenUp, 0);
  });

  it('gives up removals the target refuses after three tries, and those beyond the bound, counting them', async () => {
    const { service, pusher, target } = await setup({ maxDeletes: 3 });
    // seg-0 lands last, as it may under load: the removal held is still the first by name.
    target.delayMs = (method, path) => (method === 'PUT' && path.endsWith('/seg-0') ? 300 : 0);
    publish(service, 0, 2, ['Low']);
    await playlistAt(target, 'Low', 2);
    await waitFor(
      async () => target.files.has('/live/rec/master.m3u8') || undefined,
      5000,
      'the master at the target',
    );
    service.endLiveStream('rec');
    now += 60_000;
    // Removals refused (405, as a target without DELETE answers); uploads are over.
    target.failWith = 405;
    service.cleanup();
    await waitFor(
      async () => {
        const [status] = pusher.status();
        return status && status.deletesGivenUp === 5 && status.backlog === 0 ? status : undefined;
      },
      5000,
      'every removal given up',
      10,
    );
    const deletes = target.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    // Held: the master, the playlist, one segment (the bound); the two other segments given up.
    assert.deepEqual([...new Set(deletes)].sort(), [
      '/live/rec/Low/index.m3u8',
      '/live/rec/Low/seg-0',
      '/live/rec/master.m3u8',
    ]);
    assert.equal(deletes.length, 9, 'three tries each');
    const [status] = pusher.status();
    assert.deepEqual([status?.up, status?.deleted, status?.segmentsPushed], [true, 0, 3]);
  });

  it('refuses a delivery pool of one worker: pushes would leave viewers none', () => {
    const service = new DistributionService({ workers: 1 });
    assert.throws(
      () =>
        new CdnPusher({
          targets: parsePushTargets('http://127.0.0.1:9'),
          submitter: service,
          streams: service,
          events: service.events,
        }),
      (error: unknown) => error instanceof PushWorkersError && /at least 2/.test(error.message),
    );
  });
});
