import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { run } from './exec.js';

export interface EncodedSegment {
  readonly file: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The EXTINF ffmpeg wrote for it. */
  readonly duration: string;
}

/**
 * Real MPEG-TS segments (H.264 + AAC test pattern, 320x180) that real ffmpeg encodes into a
 * temporary folder as fast as it can: real media to push by hand, one file at a time, when a
 * test needs to lose or spoil some of them.
 */
export async function encodeSegments(count: number, segmentSec = 1): Promise<EncodedSegment[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vtp-segments-'));
  try {
    const fps = 25;
    const result = await run(process.env.VTP_FFMPEG ?? 'ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=320x180:rate=${fps}`,
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-t',
      String(count * segmentSec),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-g',
      String(fps * segmentSec),
      '-keyint_min',
      String(fps * segmentSec),
      '-sc_threshold',
      '0',
      '-c:a',
      'aac',
      '-b:a',
      '64k',
      '-f',
      'hls',
      '-hls_time',
      String(segmentSec),
      '-hls_list_size',
      '0',
      '-hls_segment_filename',
      join(dir, 'seg_%d.ts'),
      join(dir, 'index.m3u8'),
    ]);
    if (result.code !== 0) throw new Error(`ffmpeg failed: ${result.stderr}`);
    const playlist = HLS.parse(readFileSync(join(dir, 'index.m3u8'), 'utf8')) as InstanceType<
      typeof HLS.types.MediaPlaylist
    >;
    return playlist.segments.map((segment) => ({
      file: segment.uri,
      bytes: new Uint8Array(readFileSync(join(dir, segment.uri))),
      duration: segment.duration.toFixed(6),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
