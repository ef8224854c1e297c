import { PROFILE_NAMES, PROFILES, type ProfileName } from '../core/profiles.js';

/** Frame sizes and encoder speed of a ladder preset. */
export interface LadderPreset {
  readonly name: string;
  readonly sizes: Readonly<Record<ProfileName, readonly [number, number]>>;
  readonly fps: number;
  readonly x264Preset: string;
}

export const LADDER_PRESETS = {
  /** The full ladder: 240p, 360p, 720p, 1080p at 30 fps. */
  full: {
    name: 'full',
    sizes: { VeryLow: [426, 240], Low: [640, 360], Medium: [1280, 720], High: [1920, 1080] },
    fps: 30,
    x264Preset: 'veryfast',
  },
  /** Same four profiles and bitrates at smaller frames and 15 fps, for a 2-core machine. */
  light: {
    name: 'light',
    sizes: { VeryLow: [256, 144], Low: [426, 240], Medium: [640, 360], High: [854, 480] },
    fps: 15,
    x264Preset: 'ultrafast',
  },
} as const satisfies Record<string, LadderPreset>;

export type LadderSource =
  /** A synthetic test pattern with a tone. */
  | { readonly kind: 'test-pattern' }
  /** A media file, optionally looped forever. */
  | { readonly kind: 'file'; readonly path: string; readonly loop: boolean }
  /** Anything ffmpeg can open: rtmp://, srt://, http(s)://. */
  | { readonly kind: 'url'; readonly url: string };

export interface LadderOptions {
  readonly source: LadderSource;
  readonly preset: LadderPreset;
  /** Where to push, e.g. http://127.0.0.1:8080/ingest/lecture-1 */
  readonly ingestUrl: string;
  /** Stop after this many seconds of media (omit for as long as the source lasts). */
  readonly durationSec?: number | undefined;
  readonly segmentSec?: number;
  /** fMP4 (CMAF) segments instead of MPEG-TS. */
  readonly fmp4?: boolean;
  /**
   * Sent as `Authorization: Bearer` on every push. argv is readable by every local user
   * (/proc/PID/cmdline) and ffmpeg 5.1 cannot read a header from a file, so this is a job token
   * valid for one stream while its job runs, never the publish key.
   */
  readonly bearerToken?: string | undefined;
  readonly audioKbps?: number;
  /** Report progress (speed, media time) as key=value lines on stdout every second. */
  readonly progress?: boolean;
}

/**
 * The ffmpeg arguments that encode one source into the four-profile ladder (H.264 + AAC,
 * GOP-aligned segments) and push it with the hls muxer over HTTP PUT, one variant per profile.
 */
export function ladderArguments(options: LadderOptions): string[] {
  const { preset } = options;
  const segmentSec = options.segmentSec ?? 2;
  const gop = preset.fps * segmentSec;
  const input = inputArguments(options.source, preset);
  const args = ['-hide_banner', '-nostats', '-loglevel', 'error'];
  if (options.progress) args.push('-progress', 'pipe:1', '-stats_period', '1');
  args.push(...input.args);
  if (options.durationSec !== undefined) args.push('-t', String(options.durationSec));
  const split = PROFILE_NAMES.map((_, i) => `[v${i}]`).join('');
  const scales = PROFILE_NAMES.map((name, i) => {
    const [w, h] = preset.sizes[name];
    return `[v${i}]scale=${w}:${h},setsar=1[o${i}]`;
  });
  args.push(
    '-filter_complex',
    `[0:v]fps=${preset.fps},split=${PROFILE_NAMES.length}${split};${scales.join(';')}`,
  );
  PROFILE_NAMES.forEach((_, i) => {
    args.push('-map', `[o${i}]`, '-map', input.audio);
  });
  args.push(
    '-c:v',
    'libx264',
    '-preset',
    preset.x264Preset,
    '-tune',
    'zerolatency',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    '-c:a',
    'aac',
    '-b:a',
    `${options.audioKbps ?? 64}k`,
    '-ac',
    '2',
    '-ar',
    '48000',
  );
  PROFILE_NAMES.forEach((name, i) => {
    const kbps = PROFILES[name].bitrateKbps;
    args.push(
      `-b:v:${i}`,
      `${kbps}k`,
      `-maxrate:v:${i}`,
      `${kbps}k`,
      `-bufsize:v:${i}`,
      `${kbps * 2}k`,
    );
  });
  const extension = options.fmp4 ? 'm4s' : 'ts';
  args.push(
    '-f',
    'hls',
    '-hls_time',
    String(segmentSec),
    '-hls_list_size',
    '6',
    '-hls_flags',
    'independent_segments',
    '-method',
    'PUT',
    '-http_persistent',
    '1',
    ...(options.bearerToken
      ? ['-headers', `Authorization: Bearer ${options.bearerToken}\r\n`]
      : []),
    // MPEG-TS segments of a new run start with their discontinuity indicator set, so a player
    // reading a recording across an encoder restart (ffmpeg with -xerror, say) resets its
    // timestamps there instead of failing; fMP4 has no such flag and relies on the playlist's
    // EXT-X-DISCONTINUITY. (-hls_segment_options is the name of -hls_ts_options that is not
    // deprecated.)
    ...(options.fmp4
      ? ['-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4']
      : ['-hls_segment_options', 'mpegts_flags=+initial_discontinuity']),
    '-var_stream_map',
    PROFILE_NAMES.map((name, i) => `v:${i},a:${i},name:${name}`).join(' '),
    '-hls_segment_filename',
    `${options.ingestUrl}/%v/seg_%05d.${extension}`,
    `${options.ingestUrl}/%v/index.m3u8`,
  );
  return args;
}

/** Input arguments, and the input that carries the audio. */
function inputArguments(
  source: LadderSource,
  preset: LadderPreset,
): { args: string[]; audio: string } {
  const [w, h] = preset.sizes.High;
  switch (source.kind) {
    case 'test-pattern':
      return {
        args: [
          '-re',
          '-f',
          'lavfi',
          '-i',
          `testsrc2=size=${w}x${h}:rate=${preset.fps}`,
          '-re',
          '-f',
          'lavfi',
          '-i',
          'sine=frequency=440:sample_rate=48000',
        ],
        audio: '1:a:0',
      };
    case 'file':
      return {
        args: ['-re', ...(source.loop ? ['-stream_loop', '-1'] : []), '-i', source.path],
        audio: '0:a:0',
      };
    case 'url':
      return { args: ['-re', '-i', source.url], audio: '0:a:0' };
  }
}
