import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { call } from '../helpers/http.js';
import { type EncodedSegment, encodeSegments } from '../helpers/media-segments.js';
import type { RunningNginx } from '../helpers/nginx.js';
import { startLoadBalancer } from '../helpers/nginx-lb.js';
import { pushSegments } from '../helpers/push.js';
import { type RunningRedis, startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** Segments of real media each stream gets (1 s each). */
const SEGMENTS = 6;

interface Row {
  readonly viewer_id: string;
  readonly segments_received: number;
  readonly bytes_received: number;
}

interface Stats {
  readonly active_viewers: number;
  readonly viewers: Row[];
}

let redis: RunningRedis;
let originA: Cli;
let originB: Cli;
let lb: RunningNginx;
let media: EncodedSegment[];
/** The seminar's admitted viewers: viewer id -> session id. */
const seminar = new Map<string, string>();

/** Pushes the same encoded segments to an origin, as an encoder feeding redundant origins does. */
function feed(origin: string, recordingId: string): Promise<void> {
  return pushSegments(origin, recordingId, 'Low', 0, SEGMENTS, '', {
    body: (_profile, sequence) => (media[sequence] as EncodedSegment).bytes,
    duration: (sequence) => (media[sequence] as EncodedSegment).duration,
    declaredTarget: 1,
  });
}

/** Starts a stream through the load balancer and feeds its segments to both origins. */
async function startFed(recordingId: string, maxViewers: number): Promise<void> {
  const started = await call(`${lb.url}/api/v1/streams/start`, 'POST', {
    recording_id: recordingId,
    max_viewers: maxViewers,
  });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  await Promise.all([feed(originA.url, recordingId), feed(originB.url, recordingId)]);
}

async function stats(origin: string, recordingId: string): Promise<Stats> {
  const answer = await call(`${origin}/api/v1/streams/${recordingId}?limit=100`, 'GET');
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body as Stats;
}

/** A media playlist's segment URIs (each carrying the session). */
async function segmentUris(origin: string, recordingId: string, session: string) {
  const response = await fetch(`${origin}/live/${recordingId}/Low/index.m3u8?session=${session}`);
  assert.equal(response.status, 200);
  return (await response.text()).split('\n').filter((line) => line.includes('.ts'));
}

before(async () => {
  await run('bash', ['scripts/ensure-system-deps.sh', 'redis-server', 'nginx', 'ffmpeg']);
  [redis, media] = await Promise.all([startRedis(), encodeSegments(SEGMENTS)]);
  // Viewers and streams outlast the test however slow the machine: nothing idles out midway.
  const args = ['--state-url', redis.url, '--idle-timeout', '600', '--encoder-timeout', '600'];
  [originA, originB] = await Promise.all([startCli(args), startCli(args)]);
  lb = await startLoadBalancer([originA.url, originB.url]);
});

after(async () => {
  await lb?.stop();
  for (const origin of [originA, originB]) if (origin) await stopCli(origin);
  await redis?.stop();
});

describe('two origins sharing their audience through Redis, behind nginx', () => {
  it('serves one viewer alternating between origins as one session with exact counts', async () => {
    await startFed('lecture', 50);
    const joined = await call(`${lb.url}/api/v1/streams/lecture`, 'POST', { viewer_id: 'ada' });
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    const session = joined.body.session_id as string;

    // Both origins name the stream's segments alike (the same incarnation), so a player may
    // take its playlist from one and its segments from the other.
    const uris = await segmentUris(originA.url, 'lecture', session);
    assert.equal(uris.length, SEGMENTS);
    assert.deepEqual(await segmentUris(originB.url, 'lecture', session), uris);

    const master = await fetch(`${lb.url}/live/lecture/master.m3u8?session=${session}`);
    assert.equal(master.status, 200);
    assert.match(await master.text(), new RegExp(`Low/index.m3u8\\?session=${session}`));
    // Each segment through another door: the balancer (round robin), then each origin itself.
    let segments = 0;
    let bytes = 0;
    const answeredBy = new Set<string>();
    for (const [i, uri] of uris.entries()) {
      const base = [lb.url, originA.url, originB.url][i % 3] as string;
      const response = await fetch(`${base}/live/lecture/Low/${uri}`);
      assert.equal(response.status, 200);
      bytes += (await response.arrayBuffer()).byteLength;
      segments++;
      answeredBy.add(response.headers.get('x-upstream') ?? base);
    }
    const again = await fetch(`${lb.url}/live/lecture/Low/${uris[0]}`);
    bytes += (await again.arrayBuffer()).byteLength;
    segments++;
    answeredBy.add(again.headers.get('x-upstream') ?? '');
    assert.ok(answeredBy.size >= 3, `answered by ${[...answeredBy].join(', ')}`);

    // Read from either origin once its batch went out: one viewer, every fetch counted once.
    for (const origin of [originA.url, originB.url, lb.url]) {
      const seen = await waitFor(
        async () => {
          const s = await stats(origin, 'lecture');
          const ada = s.viewers.find((v) => v.viewer_id === 'ada');
          return ada && ada.segments_received === segments && ada.bytes_received === bytes
            ? s
            : undefined;
        },
        10_000,
        `ada's ${segments} segments and ${bytes} bytes on ${origin}`,
        100,
      );
      assert.equal(seen.active_viewers, 1);
      assert.deepEqual(
        seen.viewers.map((v) => v.viewer_id),
        ['ada'],
      );
    }
  });

  it('seats an anonymous player once, whichever origin hands out its session or serves it', async () => {
    const master = await fetch(`${originA.url}/live/lecture/master.m3u8`);
    assert.equal(master.status, 200);
    await master.text();
    const session = master.headers.get('x-vtp-session') as string;
    assert.ok(session);
    // B never saw this session, yet its playlist carries it (A handed it out, seatless so far).
    const uris = await segmentUris(originB.url, 'lecture', session);
    assert.ok(uris.every((uri) => uri.endsWith(`?session=${session}`)));
    let bytes = 0;
    for (const [i, origin] of [originB.url, originA.url, originB.url].entries()) {
      const response = await fetch(`${origin}/live/lecture/Low/${uris[i]}`);
      assert.equal(response.status, 200);
      bytes += (await response.arrayBuffer()).byteLength;
    }
    for (const origin of [originA.url, originB.url]) {
      const anonymous = await waitFor(
        async () => {
          const rows = (await stats(origin, 'lecture')).viewers.filter(
            (v) => v.viewer_id !== 'ada',
          );
          const [only] = rows;
          return rows.length === 1 && only?.segments_received === 3 && only.bytes_received === bytes
            ? only
            : undefined;
        },
        10_000,
        `one anonymous viewer with 3 segments on ${origin}`,
        100,
      );
      assert.match(anonymous.viewer_id, /^anon-/);
    }
  });

  it('admits exactly max_viewers across both origins when joins race', async () => {
    await startFed('seminar', 10);
    // 16 joins at once, half to each origin.
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        call(`${[originA.url, originB.url][i % 2]}/api/v1/streams/seminar`, 'POST', {
          viewer_id: `student-${i}`,
        }),
      ),
    );
    const admitted = answers.filter((a) => a.status === 201);
    for (const a of admitted) seminar.set(a.body.viewer_id, a.body.session_id);
    const refused = answers.filter((a) => a.status !== 201);
    assert.equal(admitted.length, 10);
    assert.equal(refused.length, 6);
    for (const r of refused) {
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'STREAM_FULL');
    }
    // Both origins admitted some, and each knows all ten.
    const byOrigin = [0, 1].map((o) => answers.filter((a, i) => i % 2 === o && a.status === 201));
    assert.ok(byOrigin.every((list) => list.length > 0));
    for (const origin of [originA.url, originB.url]) {
      await waitFor(
        async () => ((await stats(origin, 'seminar')).active_viewers === 10 ? true : undefined),
        10_000,
        `ten viewers on ${origin}`,
        100,
      );
    }
    const late = await call(`${lb.url}/api/v1/streams/seminar`, 'POST', { viewer_id: 'late' });
    assert.equal(late.status, 503);
    assert.equal(late.body.error.code, 'STREAM_FULL');
  });

  it('loses no session when an origin is killed: the other knows and serves every one', async () => {
    assert.equal(seminar.size, 10);
    const [first] = await segmentUris(originB.url, 'seminar', 'x');
    const segmentFile = (first as string).split('?')[0];
    const fetchSegment = async (origin: string, session: string) => {
      const response = await fetch(`${origin}/live/seminar/Low/${segmentFile}?session=${session}`);
      assert.equal(response.status, 200);
      return (await response.arrayBuffer()).byteLength;
    };
    // Every viewer, whichever origin admitted it, fetches a segment from A before A dies.
    let size = 0;
    for (const session of seminar.values()) size = await fetchSegment(originA.url, session);
    const counted = (origin: string, segments: number) =>
      waitFor(
        async () => {
          const rows = (await stats(origin, 'seminar')).viewers;
          return rows.length === 10 &&
            rows.every(
              (r) => r.segments_received === segments && r.bytes_received === segments * size,
            )
            ? rows
            : undefined;
        },
        10_000,
        `ten viewers with ${segments} segments on ${origin}`,
        100,
      );
    await counted(originB.url, 1);
    const lectureBefore = await stats(originB.url, 'lecture');

    const exited = once(originA.child, 'exit');
    originA.child.kill('SIGKILL');
    await exited;

    // The balancer reaches B alone now: it holds every session, with its counts.
    await counted(lb.url, 1);
    const figures = (rows: Row[]) =>
      rows.map((r) => [r.viewer_id, r.segments_received, r.bytes_received]);
    assert.deepEqual(
      figures((await stats(lb.url, 'lecture')).viewers),
      figures(lectureBefore.viewers),
    );
    // And serves each: playlists carry its session, segments are counted to it.
    for (const session of seminar.values()) {
      const master = await fetch(`${lb.url}/live/seminar/master.m3u8?session=${session}`);
      assert.equal(master.status, 200);
      assert.equal(master.headers.get('x-vtp-session'), session);
      await fetchSegment(lb.url, session);
    }
    const rows = await counted(originB.url, 2);
    assert.deepEqual(rows.map((r) => r.viewer_id).sort(), [...seminar.keys()].sort());
  });
});
