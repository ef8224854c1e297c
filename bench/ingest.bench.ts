/**
 * npm run bench:ingest: what writing every accepted segment to the data directory adds to
 * publishing it, as a ratio against the in-memory path measured in the same run (README,
 * "Segments on disk"). Per segment size of the ladder (2 s at 0.5-4 Mbps) and for the whole
 * ladder pushed at once, it times N publishes per mode, alternating modes round by round so the
 * machine's drift falls on all of them alike:
 *
 * - memory: the content ETag (SHA-256 of the bytes) and a Map insert, as publishing costs now;
 * - fsync each: SegmentFiles.write as the server does it (fsync of file, record and directory
 *   before the write resolves), the ETag taken from the hash the write computed;
 * - no fsync: the same writes, not fsynced (what the fsyncs cost);
 * - fsync batch: writes not fsynced, then one round of fsyncs per batch of BATCH segments, the
 *   cost counted to the batch's segments (the policy not chosen: acknowledging a segment would
 *   wait for its batch).
 *
 * Then the same over HTTP (bench/ingest-http.ts): a ladder pushed to a server with a data
 * directory and to one without, in the same run, from the segment's PUT until the live playlist
 * lists it and until the push is acknowledged.
 *
 * Options: --dir PATH (a directory on the disk to measure; default the system's temp dir),
 * --writes N (per mode and size, default 60), --pushes N (ladder segments per mode over HTTP,
 * default 40).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../src/core/profiles.js';
import { segmentFileName } from '../src/core/segment.js';
import { contentTag } from '../src/service/content-tag.js';
import { syncDirectory } from '../src/storage/atomic-write.js';
import { type SegmentFileMeta, SegmentFiles } from '../src/storage/segment-files.js';
import { benchHttpPush } from './ingest-http.js';

const { values: options } = parseArgs({
  options: {
    dir: { type: 'string' },
    writes: { type: 'string', default: '60' },
    pushes: { type: 'string', default: '40' },
  },
});
const WRITES = Math.max(4, Number(options.writes));
const ROUNDS = 4;
const BATCH = 4;
const MODES = ['memory', 'fsync each', 'no fsync', 'fsync batch'] as const;
type Mode = (typeof MODES)[number];

/** A 2 s segment's bytes at each rendition's bitrate: 125 KB to 1 MB. */
const SIZE_OF: Record<ProfileName, number> = Object.fromEntries(
  PROFILE_NAMES.map((p) => [p, (PROFILES[p].bitrateKbps * 1000 * 2) / 8]),
) as Record<ProfileName, number>;

const root = await mkdtemp(path.join(options.dir ?? tmpdir(), 'vtp-bench-ingest-'));
const durable = new SegmentFiles(path.join(root, 'durable'));
const lazy = new SegmentFiles(path.join(root, 'lazy'), { durable: false });
const batched = new SegmentFiles(path.join(root, 'batched'), { durable: false });
const memory = new Map<string, { data: Uint8Array; etag: string }>();
let sequence = 0;

function meta(seq: number): SegmentFileMeta {
  const now = Date.now();
  return {
    kind: 'segment',
    sequence: seq,
    durationSec: 2,
    discontinuity: false,
    discontinuitySequence: 0,
    programDateTime: now,
    contentType: 'video/mp2t',
    createdAt: now,
  };
}

/** Publishes one segment in `mode`; the batch mode returns the files it still has to fsync. */
async function publish(mode: Mode, profile: ProfileName, data: Uint8Array): Promise<string[]> {
  const seq = sequence++;
  const name = segmentFileName('0123456789ab', seq, false);
  if (mode === 'memory') {
    memory.set(`${profile}/${name}`, { data, etag: contentTag(data) });
    return [];
  }
  const files = mode === 'fsync each' ? durable : mode === 'no fsync' ? lazy : batched;
  const stored = await files.write('bench', '0123456789ab', profile, name, data, meta(seq));
  memory.set(`${profile}/${name}`, { data, etag: `"${stored.sha256.slice(0, 22)}"` });
  if (mode !== 'fsync batch') return [];
  const file = path.join(files.segmentsDir, 'bench', '0123456789ab', profile, name);
  return [file, `${file}.json`];
}

async function fsyncAll(files: string[]): Promise<void> {
  const dirs = new Set(files.map((f) => path.dirname(f)));
  await Promise.all(
    files.map(async (f) => {
      const handle = await open(f, 'r');
      await handle.sync();
      await handle.close();
    }),
  );
  await Promise.all([...dirs].map(syncDirectory));
}

interface Row {
  readonly label: string;
  readonly mode: Mode;
  /** Time until each segment was safe as its mode defines it, ms. */
  readonly latencies: number[];
  bytes: number;
  ns: number;
}

/**
 * One round of `writes` publishes in `mode`, one profile at a time (`ladder` false) or the four
 * renditions of a media sequence at once (`ladder` true, as an encoder pushes them).
 */
async function round(row: Row, profiles: readonly ProfileName[], writes: number): Promise<void> {
  const buffers = profiles.map((p) => randomBytes(SIZE_OF[p]));
  memory.clear();
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.hrtime.bigint();
  let pending: { started: bigint; files: string[] }[] = [];
  for (let i = 0; i < writes; i += profiles.length) {
    const started = process.hrtime.bigint();
    const results = await Promise.all(
      profiles.map((p, k) => publish(row.mode, p, buffers[k] as Uint8Array)),
    );
    const done = process.hrtime.bigint();
    row.bytes += buffers.reduce((sum, b) => sum + b.length, 0);
    if (row.mode !== 'fsync batch') {
      for (const _ of profiles) row.latencies.push(Number(done - started) / 1e6);
      continue;
    }
    pending.push({ started, files: results.flat() });
    if (pending.length * profiles.length >= BATCH || i + profiles.length >= writes) {
      await fsyncAll(pending.flatMap((p) => p.files));
      const synced = process.hrtime.bigint();
      for (const p of pending)
        for (const _ of profiles) row.latencies.push(Number(synced - p.started) / 1e6);
      pending = [];
    }
  }
  row.ns += Number(process.hrtime.bigint() - start);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const cases: { label: string; profiles: readonly ProfileName[] }[] = [
  { label: '250 KB (1 Mbps)', profiles: ['Low'] },
  { label: '500 KB (2 Mbps)', profiles: ['Medium'] },
  { label: '1 MB (4 Mbps)', profiles: ['High'] },
  { label: 'ladder, 4 at once (1.9 MB)', profiles: PROFILE_NAMES },
];

const began = Date.now();
const rows: Row[] = [];
try {
  for (const c of cases) {
    const byMode = MODES.map((mode) => ({ label: c.label, mode, latencies: [], bytes: 0, ns: 0 }));
    // Round 0 warms up (directories, JIT) and is not counted.
    for (let r = 0; r <= ROUNDS; r++) {
      for (const row of byMode) {
        const target = r === 0 ? { ...row, latencies: [], bytes: 0, ns: 0 } : row;
        await round(
          target,
          c.profiles,
          Math.ceil(WRITES / ROUNDS / c.profiles.length) * c.profiles.length,
        );
      }
      await Promise.all([durable, lazy, batched].map((f) => f.removeStream('bench')));
    }
    rows.push(...byMode);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);
console.log(
  `\nSegments written to ${options.dir ?? tmpdir()}; ${WRITES} per mode and size, ${ROUNDS} alternating rounds; ${((Date.now() - began) / 1000).toFixed(1)} s\n`,
);
console.log(
  '| segment                    | mode        | p50 ms | p99 ms |   MB/s | p50 / memory | MB/s / memory |',
);
console.log(
  '| -------------------------- | ----------- | -----: | -----: | -----: | -----------: | ------------: |',
);
for (const c of cases) {
  const group = rows.filter((r) => r.label === c.label);
  const base = group.find((r) => r.mode === 'memory');
  if (!base) continue;
  const baseP50 = percentile(base.latencies, 50);
  const baseRate = base.bytes / 1e6 / (base.ns / 1e9);
  for (const row of group) {
    const p50 = percentile(row.latencies, 50);
    const rate = row.bytes / 1e6 / (row.ns / 1e9);
    console.log(
      `| ${row.label.padEnd(26)} | ${row.mode.padEnd(11)} | ${fmt(p50).padStart(6)} | ${fmt(percentile(row.latencies, 99)).padStart(6)} | ${fmt(rate, 0).padStart(6)} | ${fmt(p50 / baseP50, 1).padStart(12)} | ${fmt(rate / baseRate, 3).padStart(13)} |`,
    );
  }
}

const pushes = Math.max(4, Number(options.pushes));
const http = await benchHttpPush(pushes, options.dir ?? tmpdir());
console.log(
  `\nOver HTTP to 127.0.0.1: ${pushes} ladder segments (4 renditions, each segment then its playlist) per mode, alternating rounds\n`,
);
console.log('| server   | measured to   | p50 ms | p99 ms | p50 / memory | p99 / memory |');
console.log('| -------- | ------------- | -----: | -----: | -----------: | -----------: |');
const httpBase = http.find((h) => h.mode === 'memory');
for (const what of ['inPlaylist', 'acknowledged'] as const) {
  for (const h of http) {
    const p50 = percentile(h[what], 50);
    const p99 = percentile(h[what], 99);
    const base50 = httpBase ? percentile(httpBase[what], 50) : Number.NaN;
    const base99 = httpBase ? percentile(httpBase[what], 99) : Number.NaN;
    console.log(
      `| ${h.mode.padEnd(8)} | ${(what === 'inPlaylist' ? 'in playlist' : 'acknowledged').padEnd(13)} | ${fmt(p50).padStart(6)} | ${fmt(p99).padStart(6)} | ${fmt(p50 / base50, 2).padStart(12)} | ${fmt(p99 / base99, 2).padStart(12)} |`,
    );
  }
}
