/** Encodes the synthetic test-pattern ladder once (cached by parameters) and loads it into memory. */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { run } from './child-process.js';
import { AUDIO_KBPS, FPS, LADDER, type ProfileName, SEGMENT_SECONDS } from './profiles.js';

export interface LadderSegment {
  readonly duration: number;
  readonly bytes: Buffer;
}

export interface Ladder {
  readonly dir: string;
  /** ffmpeg's multivariant playlist; its variant URIs are `{profile}/index.m3u8`. */
  readonly masterPlaylist: string;
  readonly segments: ReadonlyMap<ProfileName, readonly LadderSegment[]>;
}

export interface LadderOptions {
  readonly cacheDir: string;
  readonly seconds: number;
  readonly preset: string;
}

function ffmpegArgs(options: LadderOptions, outDir: string): string[] {
  const n = LADDER.length;
  const split = LADDER.map((_, i) => `[s${i}]`).join('');
  const scales = LADDER.map((r, i) => `[s${i}]scale=${r.width}:${r.height}[v${i}]`).join(';');
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=${FPS}:duration=${options.seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${options.seconds}`],
    ...['-filter_complex', `[0:v]split=${n}${split};${scales}`],
  ];
  LADDER.forEach((_, i) => {
    args.push('-map', `[v${i}]`, '-map', '1:a');
  });
  args.push(
    ...['-c:v', 'libx264', '-preset', options.preset, '-pix_fmt', 'yuv420p'],
    ...['-g', String(FPS * SEGMENT_SECONDS), '-keyint_min', String(FPS * SEGMENT_SECONDS)],
    ...['-sc_threshold', '0', '-r', String(FPS)],
  );
  LADDER.forEach((r, i) => {
    const k = `${r.videoKbps}k`;
    args.push(`-b:v:${i}`, k, `-maxrate:v:${i}`, k, `-bufsize:v:${i}`, `${r.videoKbps * 2}k`);
  });
  args.push(
    ...['-c:a', 'aac', '-b:a', `${AUDIO_KBPS}k`, '-ac', '2'],
    ...['-f', 'hls', '-hls_time', String(SEGMENT_SECONDS), '-hls_playlist_type', 'vod'],
    ...['-hls_segment_filename', join(outDir, '%v', 'seg_%05d.ts')],
    ...['-master_pl_name', 'master.m3u8'],
    ...['-var_stream_map', LADDER.map((r, i) => `v:${i},a:${i},name:${r.name}`).join(' ')],
    join(outDir, '%v', 'index.m3u8'),
  );
  return args;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Directory of the encoded ladder for these options, encoding it first unless cached. */
export async function ensureLadder(options: LadderOptions, log: (line: string) => void) {
  const key = createHash('sha256')
    .update(JSON.stringify({ args: ffmpegArgs(options, 'OUT'), v: 1 }))
    .digest('hex')
    .slice(0, 12);
  const dir = join(options.cacheDir, `ladder-${key}`);
  if (await exists(join(dir, 'master.m3u8'))) return dir;
  // Leftovers of interrupted encodes of this ladder, then a fresh working directory.
  for (const entry of await readdir(options.cacheDir)) {
    if (entry.startsWith(`ladder-${key}.tmp-`)) {
      await rm(join(options.cacheDir, entry), { recursive: true, force: true });
    }
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true });
  log(`encoding a ${options.seconds} s ladder with ffmpeg (${options.preset}) into ${dir} ...`);
  const started = Date.now();
  try {
    const { code, stderr } = await run('ffmpeg', ffmpegArgs(options, tmp));
    if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`);
    // ffmpeg puts the master playlist next to the first variant's playlist.
    const master = (await exists(join(tmp, 'master.m3u8')))
      ? join(tmp, 'master.m3u8')
      : join(tmp, LADDER[0]?.name ?? 'VeryLow', 'master.m3u8');
    await writeFile(join(tmp, 'master.m3u8.final'), await readFile(master));
    await rename(join(tmp, 'master.m3u8.final'), join(tmp, 'master.m3u8'));
    await rename(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  log(`encoded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}

/** Reads the encoded ladder (all segments) into memory so replay costs no disk reads. */
export async function loadLadder(dir: string): Promise<Ladder> {
  const segments = new Map<ProfileName, LadderSegment[]>();
  for (const rendition of LADDER) {
    const renditionDir = join(dir, rendition.name);
    const text = await readFile(join(renditionDir, 'index.m3u8'), 'utf8');
    const playlist = HLS.parse(text);
    if (!(playlist instanceof HLS.types.MediaPlaylist) || playlist.segments.length === 0) {
      throw new Error(`${renditionDir}/index.m3u8 is not a media playlist with segments`);
    }
    const list: LadderSegment[] = [];
    for (const segment of playlist.segments) {
      list.push({
        duration: segment.duration,
        bytes: await readFile(join(renditionDir, segment.uri)),
      });
    }
    segments.set(rendition.name, list);
  }
  const files = await readdir(dir);
  if (!files.includes('master.m3u8')) throw new Error(`${dir} has no master.m3u8`);
  return { dir, masterPlaylist: await readFile(join(dir, 'master.m3u8'), 'utf8'), segments };
}
