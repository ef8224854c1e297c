import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { PROFILE_NAMES } from '../../src/core/profiles.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { parsePushTargets } from '../../src/service/cdn-push-target.js';
import { startWebDavTarget, type WebDavTarget } from '../helpers/cdn-webdav.js';
import { run } from '../helpers/exec.js';
import { playHls } from '../helpers/hls-client.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const SECRET = 'webdav-secret-0123';
const LECTURE_SEC = 30;
let webdav: WebDavTarget;
let server: TestServer;
let ladder: RunningLadder;
/** Added to the service clock at the end, so the lecture's segments expire at once. */
let clockOffset = 0;

/** The target's file at `rel` (under /live/lecture), or undefined. */
function onTarget(rel: string): Buffer | undefined {
  const file = path.join(webdav.root, 'live', 'lecture', rel);
  return existsSync(file) ? readFileSync(file) : undefined;
}

function targetPlaylist(profile: string): MediaPlaylist | undefined {
  const text = onTarget(`${profile}/index.m3u8`)?.toString();
  return text ? (HLS.parse(text) as MediaPlaylist) : undefined;
}

/** Every playlist on the target names only files the target has (read the playlist first). */
function assertPlaylistsComplete(): number {
  let named = 0;
  for (const profile of PROFILE_NAMES) {
    const playlist = targetPlaylist(profile);
    for (const segment of playlist?.segments ?? []) {
      for (const uri of [segment.uri, segment.map?.uri]) {
        if (uri === undefined) continue;
        assert.ok(
          onTarget(`${profile}/${uri}`),
          `${profile}/index.m3u8 names ${uri} the target lacks`,
        );
        named++;
      }
    }
  }
  return named;
}

async function pushMetrics(): Promise<any> {
  const metrics = await call(`${server.url}/api/v1/distribution/metrics`, 'GET');
  assert.equal(metrics.status, 200);
  assert.ok(!JSON.stringify(metrics.body).includes(SECRET), 'no secret in the metrics');
  return metrics.body.cdn_push?.targets?.[0];
}

async function promValue(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.ok(!text.includes(SECRET), 'no secret in the Prometheus metrics');
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  const sample = family?.metrics.find((m) => m.labels?.target?.startsWith('http://***@127.0.0.1'));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    statSync(path.join(dir, f)).isFile(),
  );
}

describe('push delivery of a real lecture to nginx over WebDAV', { timeout: 180_000 }, () => {
  before(async () => {
    webdav = await startWebDavTarget();
    const host = new URL(webdav.url).host;
    server = await startTestServer(
      {
        cleanupIntervalMs: 250,
        // The whole lecture stays in the window, so every segment can be compared at the end.
        retentionMs: 120_000,
        clock: () => Date.now() + clockOffset,
        backoff: { minMs: 50, maxMs: 400, factor: 2 },
      },
      200,
      {
        ingest: { probe: ffprobeMedia() },
        // nginx ignores the credentials and the token; the pusher must still keep them secret.
        cdnPush: {
          targets: parsePushTargets(`http://pusher:${SECRET}@${host}/?token=${SECRET}`),
          retryPauseMs: 300,
        },
      },
    );
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'lecture' });
    ladder = startLadder(`${server.url}/ingest/lecture`, LECTURE_SEC, { fmp4: true });
  });

  after(async () => {
    await ladder?.stop();
    await server?.close();
    await webdav?.close();
  });

  it('pushes the lecture as it goes: a player on the target plays, and no playlist names a file the target lacks', async () => {
    await waitFor(
      async () =>
        onTarget('master.m3u8') && (targetPlaylist('Low')?.segments.length ?? 0) >= 3
          ? true
          : undefined,
      30_000,
      'the master and three Low segments on the target',
    );
    const master = onTarget('master.m3u8')?.toString() ?? '';
    assert.doesNotMatch(master, /\?|session|token/);
    let checks = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        checks += assertPlaylistsComplete() > 0 ? 1 : 0;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const played = await playHls(`${webdav.url}/live/lecture/master.m3u8`, 'Low', 6).finally(() => {
      sampling = false;
    });
    await sampler;
    assert.ok(played.segments >= 4, `the player fetched ${played.segments} segments`);
    assert.ok(played.bytes > 0);
    assert.ok(checks > 10, `sampled the target's playlists ${checks} times`);
    const status = await pushMetrics();
    assert.equal(status.up, true);
    assert.equal(status.failures, 0);
    assert.match(status.target, /^http:\/\/\*\*\*@127\.0\.0\.1:\d+\?token=\[REDACTED\]$/);
  });

  it('counts retries and failures while the target is down, and catches up when it is back', async () => {
    await webdav.stop();
    const down = await waitFor(
      async () => {
        const status = await pushMetrics();
        return status && !status.up && status.failures > 0 ? status : undefined;
      },
      20_000,
      'the metrics to show the target down',
    );
    assert.ok(down.failed_attempts > down.failures, 'each failure came after retries');
    assert.match(down.last_error, /ECONNREFUSED/);
    const failuresTotal = (await promValue('vtp_cdn_push_failures_total')) ?? 0;
    assert.ok(failuresTotal >= down.failures, `vtp_cdn_push_failures_total ${failuresTotal}`);
    assert.equal(await promValue('vtp_cdn_push_up'), 0);
    const lastBefore = targetPlaylist('Low')?.segments.at(-1)?.mediaSequenceNumber ?? -1;
    // Segments go on being published while the target is away.
    const published = () => server.service.getDistributor('lecture').window('Low').newest?.sequence;
    await waitFor(
      async () => ((published() ?? -1) >= lastBefore + 2 ? true : undefined),
      15_000,
      'two segments published during the outage',
    );

    await webdav.start();
    const back = await waitFor(
      async () => {
        const status = await pushMetrics();
        const last = targetPlaylist('Low')?.segments.at(-1)?.mediaSequenceNumber ?? -1;
        return status?.up && last > lastBefore + 1 ? status : undefined;
      },
      20_000,
      'the target back, its playlist past the outage',
    );
    assert.ok(back.segments_pushed > down.segments_pushed, 'segments arrived after the failures');
    assert.ok(Date.parse(back.last_success_at) > Date.parse(down.last_success_at));
    assert.ok(back.failures >= down.failures);
    assert.equal(await promValue('vtp_cdn_push_up'), 1);
    assert.ok(assertPlaylistsComplete() > 0);
  });

  it('has every segment of the lecture on the target, byte for byte, and a decoder plays a rendition from it', async () => {
    const exited = await ladder.exited;
    assert.equal(exited.code, 0, exited.stderr.slice(-2000));
    await call(`${server.url}/api/v1/streams/lecture/end`, 'POST');
    const distributor = server.service.getDistributor('lecture');
    await waitFor(
      async () =>
        PROFILE_NAMES.every((p) => targetPlaylist(p)?.endlist) &&
        PROFILE_NAMES.every((p) =>
          distributor
            .window(p)
            .segments()
            .every((s) => onTarget(`${p}/${s.id}`)),
        )
          ? true
          : undefined,
      30_000,
      'every segment and the final playlists on the target',
    );
    for (const profile of PROFILE_NAMES) {
      const segments = distributor.window(profile).segments();
      assert.ok(segments.length >= LECTURE_SEC / 2 - 1, `${profile}: ${segments.length} segments`);
      for (const segment of segments) {
        assert.deepEqual(
          onTarget(`${profile}/${segment.id}`),
          Buffer.from(segment.data),
          segment.id,
        );
        const init = segment.initId && distributor.window(profile).getInit(segment.initId);
        if (init) assert.deepEqual(onTarget(`${profile}/${init.id}`), Buffer.from(init.data));
      }
      assert.doesNotMatch(onTarget(`${profile}/index.m3u8`)?.toString() ?? '', /\?|session/);
    }
    const decoded = await run('ffmpeg', [
      '-v',
      'error',
      '-xerror',
      '-i',
      `${webdav.url}/live/lecture/Medium/index.m3u8`,
      '-f',
      'null',
      '-',
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.equal(decoded.stderr.trim(), '', 'no decoding errors');
  });

  it('removes the lecture from the target once the origin let it go', async () => {
    assert.ok(filesUnder(path.join(webdav.root, 'live', 'lecture')).length > 0);
    clockOffset = 300_000;
    await waitFor(
      async () =>
        filesUnder(path.join(webdav.root, 'live', 'lecture')).length === 0 ? true : undefined,
      20_000,
      'the lecture to leave the target',
    );
    const status = await pushMetrics();
    assert.ok(status.deleted > 0);
  });
});

/** A push target that takes connections and never answers a byte (packets silently dropped). */
async function startSilentTarget(): Promise<{
  url: string;
  connections: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('push targets that never answer', { timeout: 60_000 }, () => {
  let origin: TestServer;
  const silent: Awaited<ReturnType<typeof startSilentTarget>>[] = [];

  before(async () => {
    silent.push(await startSilentTarget(), await startSilentTarget());
    origin = await startTestServer({}, 200, {
      cdnPush: { targets: parsePushTargets(silent.map((t) => t.url).join(',')) },
    });
  });

  after(async () => {
    await origin?.close();
    for (const target of silent) await target.close();
  });

  async function targets(): Promise<any[]> {
    const metrics = await call(`${origin.url}/api/v1/distribution/metrics`, 'GET');
    return metrics.body.cdn_push.targets;
  }

  it('leave a worker to viewers: a delivery completes while every push hangs', async () => {
    const workers = origin.service.deliveryWorkers;
    assert.equal(workers, 4);
    const started = await call(`${origin.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'hang',
    });
    assert.equal(started.status, 201);
    const joined = await call(`${origin.url}/api/v1/streams/hang`, 'POST', { viewer_id: 'ada' });
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    // 32 uploads (8 segments, every rendition) for each target: far more than the pool's workers.
    for (let n = 0; n < 8; n++) {
      for (const profile of ALL_PROFILES) {
        origin.service.addSegmentToStream('hang', segmentInput(n, profile));
      }
    }
    const stuck = await waitFor(
      async () => {
        const all = await targets();
        const inFlight = all.reduce((sum, t) => sum + t.in_flight, 0);
        const connected = silent.reduce((sum, t) => sum + t.connections(), 0);
        return inFlight === workers - 1 && connected === workers - 1 ? all : undefined;
      },
      10_000,
      'the pushes to fill their share of the pool',
      20,
    );
    assert.ok(
      stuck.every((t) => t.in_flight >= 1),
      'each target holds a place',
    );
    const queued = await call(`${origin.url}/api/v1/segments/deliver`, 'POST', {
      recording_id: 'hang',
      viewer_id: 'ada',
      segment_id: 'seg-7',
    });
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    const delivery = `${origin.url}/api/v1/segments/deliveries/${queued.body.delivery_id}`;
    await waitFor(
      async () => {
        const status = await call(delivery, 'GET');
        return status.body.status === 'delivered' ? true : undefined;
      },
      10_000,
      'the viewer delivery',
      20,
    );
    // It did not wait for a push to time out and free a worker: every push still hangs.
    const after = await targets();
    assert.deepEqual(
      after.map((t) => [t.up, t.failed_attempts, t.failures]),
      [
        [true, 0, 0],
        [true, 0, 0],
      ],
    );
    assert.equal(
      after.reduce((sum, t) => sum + t.in_flight, 0),
      workers - 1,
    );
    assert.equal(
      silent.reduce((sum, t) => sum + t.connections(), 0),
      workers - 1,
      'never more pushes at once',
    );
  });

  it('count nothing against the targets when a shutdown abandons their pushes', async () => {
    const pusher = origin.cdnPush;
    assert.ok(pusher);
    assert.equal(await origin.close(), false, 'the hanging pushes could not drain');
    // The pool aborted them at the deadline; they settle as their requests end.
    const status = await waitFor(
      async () => {
        const all = pusher.status();
        return all.every((t) => t.inFlight === 0) ? all : undefined;
      },
      5000,
      'the aborted pushes to settle',
      20,
    );
    assert.deepEqual(
      status.map((t) => [t.up, t.failures, t.failedAttempts, t.inFlight]),
      [
        [true, 0, 0, 0],
        [true, 0, 0, 0],
      ],
    );
  });
});
