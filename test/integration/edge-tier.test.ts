import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Agent, request } from 'undici';
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import { nginxEdgeConfig } from '../../src/edge/nginx-config.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { type RunningNginx, startNginx } from '../helpers/nginx.js';
import { waitFor } from '../helpers/wait.js';

const STREAM = 'lecture';
const EDGES = 2;
const VIEWERS_PER_EDGE = 200;
const SEGMENTS_PER_VIEWER = 3;
/** A player polls a live playlist that has nothing new at half a target duration. */
const POLL_MS = 1000;
const VIEWER_DEADLINE_MS = 40_000;

/** What one simulated viewer did through its edge. */
interface ViewerRun {
  readonly viewerId: string;
  readonly edge: number;
  sessionId: string;
  playbackUrl: string;
  /** CMCD buffer length it reports on every request, so the origin's buffer health is known. */
  readonly bufferLengthMs: number;
  requests: number;
  playlistRequests: number;
  readonly segments: { path: string; status: number; bytes: number; sameBytes: boolean }[];
  readonly cacheStatuses: string[];
  error?: string;
}

/** One line of an edge's access log file: the format nginxEdgeConfig declares. */
interface EdgeLine {
  readonly status: string;
  readonly cache: string;
  readonly bytes: number;
  readonly path: string;
  readonly session: string;
}

let server: TestServer;
let ladder: RunningLadder;
const edges: RunningNginx[] = [];
const agents: Agent[] = [];
/** Segment GETs the origin answered, per path, from its own request log. */
const originSegmentRequests = new Map<string, number>();
let originPlaylistRequests = 0;
let runs: ViewerRun[] = [];

/** The origin's request log (debug level): one line per answered request. */
function originLog(): pino.Logger {
  return pino(
    { level: 'debug' },
    {
      write(text: string) {
        const line = JSON.parse(text) as { msg?: string; method?: string; url?: string };
        if (line.msg !== 'request' || line.method !== 'GET' || !line.url) return;
        const path = line.url.split('?')[0] ?? '';
        if (!path.startsWith(`/live/${STREAM}/`)) return;
        if (path.endsWith('/index.m3u8')) originPlaylistRequests++;
        else if (!path.endsWith('.m3u8')) {
          originSegmentRequests.set(path, (originSegmentRequests.get(path) ?? 0) + 1);
        }
      },
    },
  );
}

async function readEdgeLog(edge: RunningNginx): Promise<EdgeLine[]> {
  const text = await readFile(join(edge.dir, 'access.log'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [, , status = '', cache = '', bytes = '', , path = '', session = ''] = line.split(' ');
      return { status, cache, bytes: Number(bytes), path, session };
    });
}

const isSegment = (path: string) => path.startsWith('/live/') && !path.endsWith('.m3u8');
const HIT = new Set(['HIT', 'STALE', 'UPDATING', 'REVALIDATED']);
const MISS = new Set(['MISS', 'EXPIRED']);

/** A lightweight player: join through the edge, open the master, poll one rendition, fetch segments. */
async function watch(run: ViewerRun, edgeUrl: string, profile: ProfileName): Promise<void> {
  const dispatcher = agents[run.edge];
  const cmcdInQuery = run.viewerId.endsWith('0') || run.viewerId.endsWith('5');
  const cmcd = `bl=${run.bufferLengthMs}`;
  const get = async (url: string) => {
    run.requests++;
    const target = new URL(url);
    if (cmcdInQuery) target.searchParams.set('CMCD', cmcd);
    const response = await request(target, {
      dispatcher,
      headers: cmcdInQuery ? {} : { 'cmcd-request': cmcd },
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    run.cacheStatuses.push(String(response.headers['x-cache-status'] ?? ''));
    return { status: response.statusCode, body, url: target };
  };

  run.requests++;
  const joined = await request(`${edgeUrl}/api/v1/streams/${STREAM}`, {
    dispatcher,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ viewer_id: run.viewerId }),
  });
  const join = (await joined.body.json()) as { session_id: string; playback_url: string };
  if (joined.statusCode !== 201) throw new Error(`join answered ${joined.statusCode}`);
  run.sessionId = join.session_id;
  run.playbackUrl = join.playback_url;

  const master = await get(join.playback_url);
  const variant = master.body
    .toString()
    .split('\n')
    .find((line) => line.startsWith(`${profile}/`));
  if (master.status !== 200 || !variant) throw new Error(`master: ${master.status}`);
  const playlistUrl = new URL(variant, join.playback_url).href;

  let next: number | undefined;
  const deadline = Date.now() + VIEWER_DEADLINE_MS;
  while (run.segments.length < SEGMENTS_PER_VIEWER) {
    if (Date.now() > deadline) throw new Error('no new segments before the deadline');
    run.playlistRequests++;
    const playlist = await get(playlistUrl);
    if (playlist.status !== 200) throw new Error(`playlist: ${playlist.status}`);
    const lines = playlist.body.toString().split('\n');
    const first = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist.body.toString())?.[1] ?? 0);
    const uris = lines.filter((line) => line !== '' && !line.startsWith('#'));
    // Start at the live edge, as every viewer of a lecture joining at once would.
    next ??= first + uris.length - 1;
    let fetched = false;
    while (next - first < uris.length && run.segments.length < SEGMENTS_PER_VIEWER) {
      const uri = uris[next - first] as string;
      const segment = await get(new URL(uri, playlistUrl).href);
      const file = segment.url.pathname.split('/').pop() ?? '';
      const held = server.hls.object(STREAM, profile, file);
      run.segments.push({
        path: segment.url.pathname,
        status: segment.status,
        bytes: segment.body.byteLength,
        sameBytes: held !== undefined && Buffer.from(held.data).equals(segment.body),
      });
      next++;
      fetched = true;
    }
    if (!fetched) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describe('two nginx edges in front of the origin, 200 viewers each', { timeout: 240_000 }, () => {
  before(async () => {
    server = await startTestServer(
      // Rows and segments outlast the test, so what the viewers did is still there to compare.
      { idleTimeoutMs: 120_000, retentionMs: 120_000 },
      200,
      {
        ingest: { probe: ffprobeMedia() },
        logger: originLog(),
        edgeReports: { listen: { host: '127.0.0.1', port: 0 } },
        // The edges are on loopback: their X-Forwarded-* name the viewer and the edge's host.
        http: { trustProxy: '127.0.0.1' },
      },
    );
    const reportTo = server.edgeReports?.address();
    assert.ok(reportTo, 'the origin takes edge reports');
    await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: STREAM,
      max_viewers: EDGES * VIEWERS_PER_EDGE + 50,
    });
    ladder = startLadder(`${server.url}/ingest/${STREAM}`, 120);
    await waitFor(
      async () => {
        const master = await fetch(`${server.url}/live/${STREAM}/master.m3u8`, { method: 'HEAD' });
        const stats = (await call(`${server.url}/api/v1/streams/${STREAM}`, 'GET')).body;
        const ready = Object.values(stats.segments_available as Record<string, number>);
        return master.status === 200 && ready.length === 4 && ready.every((n) => n >= 3)
          ? true
          : undefined;
      },
      60_000,
      'four renditions with three segments each',
    );
    for (let i = 0; i < EDGES; i++) {
      edges.push(
        await startNginx((dir, port) =>
          nginxEdgeConfig({
            origin: server.url,
            listen: { host: '127.0.0.1', port },
            cacheDir: join(dir, 'cache'),
            runDir: dir,
            accessLog: join(dir, 'access.log'),
            reportTo,
            edgeName: `edge-${i}`,
            workerProcesses: 1,
            workerConnections: 1024,
            ...(process.getuid?.() === 0 && { user: 'root' }),
          }),
        ),
      );
      agents.push(new Agent({ connections: 64 }));
    }
    runs = edges.flatMap((_, edge) =>
      Array.from({ length: VIEWERS_PER_EDGE }, (_, i) => ({
        viewerId: `edge${edge}-viewer${i}`,
        edge,
        sessionId: '',
        playbackUrl: '',
        bufferLengthMs: 600 * (1 + (i % 10)),
        requests: 0,
        playlistRequests: 0,
        segments: [],
        cacheStatuses: [],
      })),
    );
    await Promise.all(
      runs.map((run, i) =>
        watch(run, edges[run.edge]?.url ?? '', PROFILE_NAMES[i % 4] as ProfileName).catch(
          (error: unknown) => {
            run.error = error instanceof Error ? error.message : String(error);
          },
        ),
      ),
    );
  });

  after(async () => {
    await Promise.all(edges.map((edge) => edge.stop()));
    await Promise.all(agents.map((agent) => agent.close()));
    await ladder?.stop();
    await server?.close();
  });

  it('plays every viewer: each segment it asked for answered 200 with the bytes the origin holds', () => {
    assert.deepEqual(
      runs.filter((run) => run.error).map((run) => `${run.viewerId}: ${run.error}`),
      [],
    );
    for (const run of runs) {
      assert.equal(run.segments.length, SEGMENTS_PER_VIEWER, run.viewerId);
      for (const segment of run.segments) {
        assert.equal(segment.status, 200, `${run.viewerId} ${segment.path}`);
        assert.ok(segment.sameBytes, `${run.viewerId} got the origin's bytes of ${segment.path}`);
      }
      // The join through an edge hands out a playback URL on that edge (X-Forwarded-Host).
      assert.ok(run.playbackUrl.startsWith(`${edges[run.edge]?.url}/live/`), run.playbackUrl);
    }
  });

  it('sends the origin at most one request per segment per edge', async () => {
    // Every request of every viewer is in its edge's log before anything is compared.
    const logs = await waitFor(
      async () => {
        const read = await Promise.all(edges.map(readEdgeLog));
        return read.every(
          (lines, edge) =>
            lines.length ===
            runs.filter((run) => run.edge === edge).reduce((sum, run) => sum + run.requests, 0),
        )
          ? read
          : undefined;
      },
      10_000,
      'every request in the edge logs',
    );
    const missesPerPath = new Map<string, number>();
    for (const lines of logs) {
      const perEdge = new Map<string, number>();
      for (const line of lines) {
        if (!isSegment(line.path) || !MISS.has(line.cache)) continue;
        perEdge.set(line.path, (perEdge.get(line.path) ?? 0) + 1);
        missesPerPath.set(line.path, (missesPerPath.get(line.path) ?? 0) + 1);
      }
      for (const [path, count] of perEdge) assert.equal(count, 1, `one miss of ${path} per edge`);
    }
    // Measured at the origin: its own request log, path by path, matches the edges' misses.
    assert.deepEqual(
      [...originSegmentRequests].sort(),
      [...missesPerPath].sort(),
      'segment requests the origin answered, per path',
    );
    for (const [path, count] of originSegmentRequests) {
      assert.ok(count <= EDGES, `${path} reached the origin ${count} times`);
    }
    const distinct = new Set(runs.flatMap((run) => run.segments.map((s) => s.path))).size;
    assert.equal(originSegmentRequests.size, distinct, 'every segment a viewer fetched, once');
  });

  it("keeps every viewer's playlists going to the origin, never from the cache", async () => {
    const logs = await Promise.all(edges.map(readEdgeLog));
    const playlists = logs.flat().filter((line) => line.path.endsWith('.m3u8'));
    assert.ok(playlists.length > 0);
    assert.deepEqual(new Set(playlists.map((line) => line.cache)), new Set(['BYPASS']));
    const polled = runs.reduce((sum, run) => sum + run.playlistRequests, 0);
    assert.equal(originPlaylistRequests, polled, 'media playlist requests the origin answered');
  });

  it("attributes to each session what reached the origin: its playlists' CMCD, and the bytes of its misses", async () => {
    const logs = (await Promise.all(edges.map(readEdgeLog))).flat();
    const rows = new Map<string, any>();
    let cursor: string | null = null;
    do {
      const page: any = await call(
        `${server.url}/api/v1/streams/${STREAM}?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
        'GET',
      );
      for (const row of page.body.viewers) rows.set(row.viewer_id, row);
      cursor = page.body.next_cursor;
    } while (cursor);
    let attributedBytes = 0;
    for (const run of runs) {
      const row = rows.get(run.viewerId);
      assert.ok(row, `${run.viewerId} has a session on the origin`);
      // CMCD rode on every playlist poll, which always reaches the origin.
      const health = Math.round((run.bufferLengthMs / 6000) * 1000) / 10;
      assert.equal(row.buffer_health, Math.min(100, health), `${run.viewerId} buffer health`);
      const misses = logs.filter(
        (line) => line.session === run.sessionId && isSegment(line.path) && MISS.has(line.cache),
      );
      const bytes = misses.reduce((sum, line) => sum + line.bytes, 0);
      assert.equal(row.segments_received, misses.length, `${run.viewerId} segments`);
      assert.equal(row.bytes_received, bytes, `${run.viewerId} bytes`);
      attributedBytes += bytes;
    }
    const fetchedBytes = runs.reduce(
      (sum, run) => sum + run.segments.reduce((s, segment) => s + segment.bytes, 0),
      0,
    );
    assert.ok(attributedBytes < fetchedBytes, 'cache hits are bytes the origin never saw');
  });

  it("reports the edges' own hit rate as the CDN hit rate", async (t) => {
    const logs = (await Promise.all(edges.map(readEdgeLog))).flat();
    const segments = logs.filter((line) => isSegment(line.path));
    const hits = segments.filter((line) => HIT.has(line.cache)).length;
    const misses = segments.filter((line) => MISS.has(line.cache)).length;
    assert.equal(hits + misses, segments.length, 'every segment request was a hit or a miss');
    // The reports travel over UDP: wait until the origin counted every line the edges wrote.
    const metrics = await waitFor(
      async () => {
        const counted = server.edgeReports?.reports.perEdge().reduce(
          (sum, edge) =>
            sum +
            Object.values(edge.requests)
              .flatMap((outcomes) => Object.values(outcomes))
              .reduce((a, b) => a + b, 0),
          0,
        );
        if (counted !== logs.length) return undefined;
        return (await call(`${server.url}/api/v1/distribution/metrics`, 'GET')).body;
      },
      10_000,
      'every edge line counted at the origin',
    );
    assert.equal(metrics.cdn_hits, hits);
    assert.equal(metrics.cdn_misses, misses);
    assert.equal(metrics.cdn_cache_hit_rate, hits / (hits + misses));
    // The same counts on /metrics, per edge: segment hits (hit and stale) add up to the logs'.
    const scraped = await (await fetch(`${server.url}/metrics`)).text();
    const segmentHits = [...scraped.matchAll(/^vtp_edge_requests_total\{([^}]*)\} (\d+)$/gm)]
      .filter(
        ([, labels]) =>
          /kind="segment"/.test(labels ?? '') && /outcome="(hit|stale)"/.test(labels ?? ''),
      )
      .reduce((sum, [, , value]) => sum + Number(value), 0);
    assert.equal(segmentHits, hits);
    t.diagnostic(
      `segment requests: ${hits} hits, ${misses} misses, hit rate ${metrics.cdn_cache_hit_rate.toFixed(4)}; ${logs.length} edge lines`,
    );
    assert.ok(hits > misses, `${hits} hits, ${misses} misses`);
    assert.deepEqual(server.edgeReports?.reports.dropped(), { malformed: 0, sender: 0, edges: 0 });
    assert.deepEqual(
      server.edgeReports?.reports
        .perEdge()
        .map((edge) => edge.edge)
        .sort(),
      ['edge-0', 'edge-1'],
    );
  });

  it('marks every HLS response with X-Cache-Status, exposed to pages of other origins', async () => {
    const statuses = new Set(runs.flatMap((run) => run.cacheStatuses));
    assert.ok(
      statuses.has('HIT') && statuses.has('MISS') && statuses.has('BYPASS'),
      [...statuses].join(),
    );
    assert.ok(!statuses.has(''), 'every HLS response carries X-Cache-Status');
    const segment = runs[0]?.segments[0]?.path ?? '';
    const response = await fetch(`${edges[0]?.url}${segment}`, {
      headers: { origin: 'https://lms.example.edu' },
    });
    await response.arrayBuffer();
    assert.equal(response.headers.get('x-cache-status'), 'HIT');
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /X-Cache-Status/);
  });
  it('seats an anonymous player whose segments all come from the cache (its media playlist takes the seat)', async () => {
    const edge = edges[1]?.url ?? '';
    /** An anonymous player's first steps through the edge: master, media playlist, one segment. */
    const start = async () => {
      const master = await fetch(`${edge}/live/${STREAM}/master.m3u8`);
      assert.equal(master.status, 200);
      const variant = (await master.text()).split('\n').find((line) => line.includes('?session='));
      assert.ok(variant, 'the master hands out a session');
      const sessionId = new URL(variant, 'http://x/').searchParams.get('session') ?? '';
      const media = await fetch(`${edge}/live/${STREAM}/${variant}`);
      assert.equal(media.status, 200);
      const uris = (await media.text()).split('\n').filter((l) => l && !l.startsWith('#'));
      const segment = await fetch(new URL(uris[0] ?? '', media.url));
      await segment.arrayBuffer();
      assert.equal(segment.status, 200);
      return { sessionId, cache: segment.headers.get('x-cache-status') };
    };
    const first = await start();
    const second = await start();
    // The second player's segment never reached the origin: only its playlists did.
    assert.equal(second.cache, 'HIT');
    for (const { sessionId } of [first, second]) {
      const own = await call(`${server.url}/api/v1/streams/${STREAM}`, 'GET', undefined, {
        authorization: `Bearer ${sessionId}`,
      });
      assert.equal(own.status, 200, `session ${sessionId} is a seated viewer`);
      assert.equal(own.body.viewers?.length, 1);
    }
  });
});
