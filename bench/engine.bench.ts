/**
 * npm run bench: in-process micro-benchmarks of the engine's hot paths, each next to a
 * baseline measured in the same run (a bare Map insert / lookup), so the ratio is comparable
 * across machines.
 */
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import { LiveDistributor } from '../src/core/distributor.js';
import { PROFILE_NAMES, type ProfileName } from '../src/core/profiles.js';
import { type Segment, segmentFileName } from '../src/core/segment.js';
import { writeMediaPlaylist } from '../src/hls/media-playlist.js';
import { PLAYLIST_COMPRESSION } from '../src/http/routes/hls.js';
import { DistributionService } from '../src/service/distribution-service.js';
import { HlsDelivery } from '../src/service/hls-delivery.js';
import { PlaybackTokens } from '../src/service/playback-tokens.js';
import { randomIdGenerator } from '../src/service/random-ids.js';
import { populateLiveStream } from './live-stream.js';
import { formatRate, type Measurement, measure, measureAsync, retainedBytes } from './measure.js';
import { storeSessionRows } from './store-rows.js';

const SIZES = [10_000, 100_000];
const SEGMENT = new Uint8Array(1024);
const newSessionId = randomIdGenerator('vs-');

function distributor(maxViewers: number): LiveDistributor {
  return new LiveDistributor('bench', { maxViewers, retentionMs: 30_000, newSessionId });
}

function viewerIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `viewer-${i}`);
}

/** A distributor with `n` viewers spread over the ladder and `segments` live segments. */
function populated(n: number, segments: number): LiveDistributor {
  const d = distributor(n);
  const ids = viewerIds(n);
  for (let i = 0; i < n; i++)
    d.joinViewer(ids[i] as string, PROFILE_NAMES[i & 3] as ProfileName, 0);
  for (let s = 0; s < segments; s++) {
    for (const profile of PROFILE_NAMES) {
      d.enqueueSegment({ id: `seg-${s}`, sequence: s, profile, durationSec: 2, data: SEGMENT }, 0);
    }
  }
  return d;
}

/** A setup that builds its state once and hands the same state to every round. */
function once<T>(build: () => T): () => T {
  let state: T | undefined;
  return () => {
    state ??= build();
    return state;
  };
}

const rows: { op: string; n: number; m: Measurement; baseline: Measurement }[] = [];
const memory: { n: number; perSession: number; baselinePerEntry: number }[] = [];
const playlistSizes: { encoding: string; bytes: number }[] = [];

for (const n of SIZES) {
  const ids = viewerIds(n);

  // JoinViewer: n joins into an empty stream, against inserting n bare objects into a Map.
  rows.push({
    op: 'JoinViewer',
    n,
    // Viewers ask for every rung of the ladder, so all land within the per-profile caps.
    m: measure(
      'join',
      n,
      () => distributor(n),
      (d, i) => d.joinViewer(ids[i] as string, PROFILE_NAMES[i & 3] as ProfileName, i),
    ),
    baseline: measure(
      'map insert',
      n,
      () => new Map<string, { id: string }>(),
      (m, i) => {
        const id = ids[i] as string;
        return m.set(id, { id });
      },
    ),
  });

  // EnqueueSegment: n segments into one rendition with expiry running as it would live.
  rows.push({
    op: 'EnqueueSegment',
    n,
    m: measure(
      'enqueue',
      n,
      () => distributor(100),
      (d, i) => {
        d.enqueueSegment(
          { id: `s${i}`, sequence: i, profile: 'Low', durationSec: 2, data: SEGMENT },
          i,
        );
        if ((i & 1023) === 0) d.expireSegments(i);
      },
    ),
    baseline: measure(
      'map insert',
      n,
      () => new Map<string, Uint8Array>(),
      (m, i) => m.set(`s${i}`, SEGMENT),
    ),
  });

  // GetNextSegment: each of n viewers takes its next segment, round robin.
  rows.push({
    op: 'GetNextSegment',
    n,
    m: measure(
      'next',
      n,
      once(() => populated(n, 64)),
      (d, i) => d.getNextSegment(ids[i] as string, 1),
    ),
    baseline: measure(
      'map lookup',
      n,
      () => new Map(ids.map((id) => [id, { id }])),
      (m, i) => m.get(ids[i] as string),
    ),
  });

  // AdaptViewerQuality: a buffer report per viewer, cycling through all policy bands.
  const reports = [10, 30, 60, 90];
  rows.push({
    op: 'AdaptViewerQuality',
    n,
    m: measure(
      'adapt',
      n,
      once(() => populated(n, 1)),
      (d, i) => d.adaptViewerQuality(ids[i] as string, reports[i & 3] as number, i),
    ),
    baseline: measure(
      'map lookup',
      n,
      () => new Map(ids.map((id) => [id, { id }])),
      (m, i) => m.get(ids[i] as string),
    ),
  });

  const session = retainedBytes(() => {
    const d = distributor(n);
    for (let i = 0; i < n; i++)
      d.joinViewer(ids[i] as string, PROFILE_NAMES[i & 3] as ProfileName, 0);
    return d;
  });
  const bare = retainedBytes(() => new Map(ids.map((id) => [id, { id }])));
  memory.push({ n, perSession: session / n, baselinePerEntry: bare / n });
}

// HLS hot paths on a service holding the largest session count.
{
  const n = SIZES[SIZES.length - 1] as number;
  const service = new DistributionService({ defaultMaxViewers: n });
  const sessions = populateLiveStream(service, n, SEGMENT);
  const plain = new Map(sessions.map((id) => [id, { id }]));
  rows.push({
    op: 'findSession (by session id)',
    n,
    m: measure(
      'find',
      n,
      () => service,
      (svc, i) => svc.findSession(sessions[i] as string),
    ),
    baseline: measure(
      'map lookup',
      n,
      () => plain,
      (m, i) => m.get(sessions[i] as string),
    ),
  });
  // A media playlist request: cached text with the viewer's session put after each segment URI,
  // against writing the same playlist from scratch with hls-parser on every request.
  const hls = new HlsDelivery(service, { playlistSegments: 6 });
  const window = service.getDistributor('bench').window('Low');
  rows.push({
    op: 'media playlist for a session',
    n,
    m: measure(
      'playlist',
      n,
      () => hls,
      (h, i) => h.mediaPlaylist('bench', 'Low', { sessionId: sessions[i] }),
    ),
    baseline: measure(
      'hls-parser write',
      n / 10,
      () => window,
      (w, i) =>
        writeMediaPlaylist({
          segments: w.latest(6),
          ended: false,
          targetDurationSec: 2,
          segmentUri: (seg) => `${seg.id}?session=${sessions[i]}`,
          initUri: (id) => id,
          gapUri: (sequence) => `${sequence}.ts?session=${sessions[i]}`,
        }).text,
    ),
  });
  compressedPlaylistRows(service);
  // A segment request for a session: find the segment and account the bytes sent to the viewer
  // (with the throughput sample), against a bare map lookup of the session.
  const segment = window.get('14.ts') as Segment;
  rows.push({
    op: 'segment fetch for a session',
    n,
    m: measure(
      'segment',
      n,
      () => hls,
      (h, i) => {
        const report = { sessionId: sessions[i] };
        h.claimSeat('bench', report);
        h.object('bench', 'Low', '14.ts');
        return h.recordSegmentSent('bench', segment, SEGMENT.byteLength, 1, report);
      },
    ),
    baseline: measure(
      'map lookup',
      n,
      () => plain,
      (m, i) => m.get(sessions[i] as string),
    ),
  });
  // A playlist request's playback token check: verified once (HMAC), then a cached grant.
  const tokens = new PlaybackTokens('bench-playback-secret-0123456789');
  const token = await tokens.issue('bench');
  await tokens.check(token, 'bench');
  rows.push({
    op: 'playback token check (cached)',
    n,
    m: await measureAsync(
      'token',
      n,
      () => tokens,
      (t) => t.check(token, 'bench'),
    ),
    baseline: await measureAsync(
      'map lookup',
      n,
      () => plain,
      async (m, i) => m.get(sessions[i] as string),
    ),
  });
}

/**
 * A media playlist request as a player with a session sends it, compressed as the HLS routes
 * do (gzip at zlib's default level, brotli at the routes' quality; brotli's own default of 11
 * for comparison), against rendering it uncompressed: on a stream named as live ones are
 * (incarnation in the segment names, encoder-made durations), so the sizes are real ones.
 */
function compressedPlaylistRows(service: DistributionService): void {
  const viewers = 2000;
  service.startLiveStream('lecture');
  const incarnation = service.getDistributor('lecture').incarnation;
  for (let s = 1000; s < 1015; s++) {
    for (const profile of PROFILE_NAMES) {
      service.addSegmentToStream('lecture', {
        id: segmentFileName(incarnation, s, false),
        sequence: s,
        profile,
        durationSec: s % 2 === 0 ? 2.002 : 1.998,
        data: SEGMENT,
      });
    }
  }
  const sessions = Array.from(
    { length: viewers },
    (_, i) => service.joinStream('lecture', `lecture-viewer-${i}`, 'Low').sessionId,
  );
  const hls = new HlsDelivery(service, { playlistSegments: 6 });
  const render = (i: number) =>
    Buffer.from(hls.mediaPlaylist('lecture', 'Low', { sessionId: sessions[i % viewers] }));
  const brotli = (quality: number) => ({
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: quality,
      [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
    },
  });
  const baseline = measure(
    'render, uncompressed',
    viewers,
    () => hls,
    (_, i) => render(i),
  );
  const sample = render(0);
  playlistSizes.push(
    { encoding: 'none', bytes: sample.byteLength },
    { encoding: 'gzip', bytes: gzipSync(sample).byteLength },
    {
      encoding: `br q${PLAYLIST_COMPRESSION.brotliQuality}`,
      bytes: brotliCompressSync(sample, brotli(PLAYLIST_COMPRESSION.brotliQuality)).byteLength,
    },
    { encoding: 'br q11', bytes: brotliCompressSync(sample, brotli(11)).byteLength },
  );
  rows.push(
    {
      op: 'media playlist + gzip',
      n: viewers,
      m: measure(
        'gzip',
        viewers,
        () => hls,
        (_, i) => gzipSync(render(i)),
      ),
      baseline,
    },
    {
      op: `media playlist + br q${PLAYLIST_COMPRESSION.brotliQuality}`,
      n: viewers,
      m: measure(
        'br',
        viewers,
        () => hls,
        (_, i) => brotliCompressSync(render(i), brotli(PLAYLIST_COMPRESSION.brotliQuality)),
      ),
      baseline,
    },
    {
      op: 'media playlist + br q11 (not used)',
      n: viewers,
      m: measure(
        'br 11',
        viewers / 20,
        () => hls,
        (_, i) => brotliCompressSync(render(i), brotli(11)),
      ),
      baseline,
    },
  );
}

// Recording a session update through the state store, against a bare Map.set.
rows.push(...storeSessionRows());

console.log(
  `VTP Live engine benchmark (node ${process.version}, ${process.platform}/${process.arch})\n`,
);
console.log('| operation | sessions | ops/s | baseline | baseline ops/s | ratio |');
console.log('|---|---:|---:|---|---:|---:|');
for (const { op, n, m, baseline } of rows) {
  console.log(
    `| ${op} | ${n.toLocaleString('en-US')} | ${formatRate(m.opsPerSec)} | ${baseline.name} | ${formatRate(baseline.opsPerSec)} | ${(m.opsPerSec / baseline.opsPerSec).toFixed(2)} |`,
  );
}
console.log('\n| idle sessions | bytes per session | bare Map entry (baseline) | ratio |');
console.log('|---:|---:|---:|---:|');
for (const { n, perSession, baselinePerEntry } of memory) {
  console.log(
    `| ${n.toLocaleString('en-US')} | ${Math.round(perSession)} | ${Math.round(baselinePerEntry)} | ${(perSession / baselinePerEntry).toFixed(2)} |`,
  );
}
console.log('\n| six-segment media playlist with a session | bytes |');
console.log('|---|---:|');
for (const { encoding, bytes } of playlistSizes) console.log(`| ${encoding} | ${bytes} |`);
