/**
 * Real per-segment sizes for the ABR simulator: a lecture-like source (the moving test pattern
 * with a tone) encoded once with the built-in encoder's own ffmpeg arguments (the light preset,
 * as the tests' ladder), every segment's size recorded per profile and cached in
 * bench/.cache/abr-ladder.json. The simulator cycles through these sizes, so a policy meets the
 * encoder's real bitrate swings rather than the nominal profile bitrates.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../../src/core/profiles.js';
import { LADDER_PRESETS, ladderArguments } from '../../src/ingest/ffmpeg-ladder.js';

export const SEGMENT_SEC = PROFILES.VeryLow.segmentDurationSec;

/** Per profile, every segment's size in kbit, in encoding order (all the same length). */
export interface SegmentSizes {
  readonly segmentSec: number;
  readonly kbit: Readonly<Record<ProfileName, readonly number[]>>;
}

const CACHE_VERSION = 1;
const SOURCE_SEC = 90;
export const LADDER_CACHE = fileURLToPath(new URL('../.cache/abr-ladder.json', import.meta.url));

interface CacheFile {
  readonly version: number;
  readonly preset: string;
  readonly sourceSec: number;
  readonly segmentSec: number;
  readonly bytes: Record<ProfileName, number[]>;
}

/** Sizes at the nominal bitrates (video plus 64 kbit/s audio): for tests and as a fallback shape. */
export function nominalSizes(segments = 1, segmentSec = SEGMENT_SEC): SegmentSizes {
  const kbit = {} as Record<ProfileName, number[]>;
  for (const name of PROFILE_NAMES) {
    kbit[name] = Array.from({ length: segments }, () => PROFILES[name].bitrateKbps * segmentSec);
  }
  return { segmentSec, kbit };
}

/** The cached real ladder, encoding it first when the cache is missing or stale. */
export async function loadLadderSizes(
  log: (line: string) => void = () => {},
  cacheFile = LADDER_CACHE,
): Promise<SegmentSizes> {
  if (existsSync(cacheFile)) {
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as CacheFile;
    if (cached.version === CACHE_VERSION && cached.sourceSec === SOURCE_SEC) return toSizes(cached);
  }
  log(`encoding ${SOURCE_SEC} s of the test pattern into the light ladder (once) ...`);
  const started = Date.now();
  const bytes = await encodeLadder(SOURCE_SEC);
  const file: CacheFile = {
    version: CACHE_VERSION,
    preset: LADDER_PRESETS.light.name,
    sourceSec: SOURCE_SEC,
    segmentSec: SEGMENT_SEC,
    bytes,
  };
  await mkdir(path.dirname(cacheFile), { recursive: true });
  await writeFile(`${cacheFile}.tmp`, `${JSON.stringify(file)}\n`);
  await rename(`${cacheFile}.tmp`, cacheFile);
  log(`encoded in ${((Date.now() - started) / 1000).toFixed(1)} s, cached in ${cacheFile}`);
  return toSizes(file);
}

function toSizes(file: CacheFile): SegmentSizes {
  const kbit = {} as Record<ProfileName, number[]>;
  for (const name of PROFILE_NAMES) kbit[name] = file.bytes[name].map((b) => (b * 8) / 1000);
  return { segmentSec: file.segmentSec, kbit };
}

/**
 * Encodes with ladderArguments into a local folder (the hls muxer writes files when its output
 * is a path; the PUT options only apply to http). `-re` is dropped: real-time pacing matters for
 * a live push, not for measuring sizes. Returns each segment's bytes per profile, without the
 * last segment (it may be short).
 */
async function encodeLadder(sourceSec: number): Promise<Record<ProfileName, number[]>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vtp-abr-ladder-'));
  try {
    const args = ladderArguments({
      source: { kind: 'test-pattern' },
      preset: LADDER_PRESETS.light,
      ingestUrl: dir,
      durationSec: sourceSec,
    }).filter((arg) => arg !== '-re');
    for (const name of PROFILE_NAMES) await mkdir(path.join(dir, name));
    await new Promise<void>((resolve, reject) => {
      execFile(process.env.VTP_FFMPEG ?? 'ffmpeg', args, { timeout: 600_000 }, (error, _o, err) =>
        error ? reject(new Error(`ffmpeg failed: ${error.message} ${err}`)) : resolve(),
      );
    });
    const bytes = {} as Record<ProfileName, number[]>;
    let count = Number.POSITIVE_INFINITY;
    for (const name of PROFILE_NAMES) {
      const files = (await readdir(path.join(dir, name))).filter((f) => f.endsWith('.ts')).sort();
      const sizes: number[] = [];
      for (const f of files) sizes.push((await stat(path.join(dir, name, f))).size);
      bytes[name] = sizes;
      count = Math.min(count, sizes.length);
    }
    if (!Number.isFinite(count) || count < 3) throw new Error(`ffmpeg wrote ${count} segments`);
    for (const name of PROFILE_NAMES) bytes[name] = bytes[name].slice(0, count - 1);
    return bytes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
