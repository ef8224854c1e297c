import { PROFILES, type ProfileName } from '../../src/core/profiles.js';

/** Deterministic stand-in segment bytes: larger for higher profiles, distinct per sequence. */
export function fakeSegment(profile: ProfileName, sequence: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(PROFILES[profile].bitrateKbps * 5 + sequence * 7).fill(sequence % 251);
}

/** What a push may vary: the bytes and durations of its segments, the target it declares. */
export interface PushOptions {
  readonly body?: (profile: ProfileName, sequence: number) => Uint8Array<ArrayBuffer>;
  /** EXTINF of each segment, written as given (default '2.000'). */
  readonly duration?: (sequence: number) => string;
  /** EXT-X-TARGETDURATION the encoder's playlist declares (default 2). */
  readonly declaredTarget?: number;
}

/**
 * Pushes segments [from, to) of one rendition the way ffmpeg's hls muxer does: each segment
 * file, then the media playlist listing the newest six.
 */
export async function pushSegments(
  base: string,
  recordingId: string,
  profile: ProfileName,
  from: number,
  to: number,
  query = '',
  options: PushOptions = {},
): Promise<void> {
  const body = options.body ?? fakeSegment;
  const duration = options.duration ?? (() => '2.000');
  for (let seq = from; seq < to; seq++) {
    const put = await fetch(`${base}/ingest/${recordingId}/${profile}/seg_${seq}.ts${query}`, {
      method: 'PUT',
      body: body(profile, seq),
    });
    if (put.status !== 201)
      throw new Error(`segment PUT answered ${put.status}: ${await put.text()}`);
    const first = Math.max(0, seq - 5);
    let text = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${options.declaredTarget ?? 2}\n#EXT-X-MEDIA-SEQUENCE:${first}\n`;
    for (let s = first; s <= seq; s++) text += `#EXTINF:${duration(s)},\nseg_${s}.ts\n`;
    const playlist = await fetch(`${base}/ingest/${recordingId}/${profile}/index.m3u8${query}`, {
      method: 'PUT',
      body: text,
    });
    if (playlist.status !== 201)
      throw new Error(`playlist PUT answered ${playlist.status}: ${await playlist.text()}`);
  }
}
