import { spawn } from 'node:child_process';
import type { MediaInfo } from '../core/media-info.js';
import { audioCodec, avcCodecFromMedia } from '../hls/codecs.js';
import { INGEST_DEFAULTS } from './ingest-service.js';

/** Reads what a rendition carries from the bytes of one of its segments. */
export type MediaProbe = (bytes: Uint8Array) => Promise<MediaInfo>;

interface ProbedStream {
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
}

/** A MediaProbe running ffprobe (VTP_FFPROBE or ffprobe on PATH) on the bytes through stdin. */
export function ffprobeMedia(
  ffprobe = process.env.VTP_FFPROBE ?? 'ffprobe',
  timeoutMs: number = INGEST_DEFAULTS.probeTimeoutMs,
): MediaProbe {
  return (bytes) =>
    new Promise((resolve, reject) => {
      const child = spawn(
        ffprobe,
        ['-v', 'error', '-show_streams', '-of', 'json', '-i', 'pipe:0'],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          timeout: timeoutMs,
        },
      );
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk;
      });
      child.on('error', reject);
      // ffprobe may stop reading once it has seen enough; that is not an error.
      child.stdin.on('error', () => {});
      child.stdin.end(bytes);
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`ffprobe exited with ${code}: ${err.trim()}`));
        try {
          const streams = (JSON.parse(out) as { streams?: ProbedStream[] }).streams ?? [];
          resolve(mediaInfo(streams, bytes));
        } catch (error) {
          reject(error);
        }
      });
    });
}

function mediaInfo(streams: ProbedStream[], bytes: Uint8Array): MediaInfo {
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  const codecs = [
    video?.codec_name === 'h264' ? avcCodecFromMedia(bytes) : undefined,
    audio ? audioCodec(audio.codec_name, audio.profile) : undefined,
  ].filter((c): c is string => c !== undefined);
  return {
    width: video?.width,
    height: video?.height,
    frameRate: rate(video?.avg_frame_rate) ?? rate(video?.r_frame_rate),
    codecs: codecs.length > 0 ? codecs.join(',') : undefined,
  };
}

function rate(fraction: string | undefined): number | undefined {
  const [num, den] = (fraction ?? '').split('/').map(Number);
  if (!num || !den) return undefined;
  return Math.round((num / den) * 1000) / 1000;
}
