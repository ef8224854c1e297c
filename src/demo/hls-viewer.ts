import { setTimeout as sleep } from 'node:timers/promises';
import HLS from 'hls-parser';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

export interface HlsViewerOptions {
  /** The multivariant playlist URL (with `?session=` to play as a joined viewer). */
  readonly masterUrl: string;
  /** The rendition to play (by profile name in its URI). */
  readonly profile: string;
  /** Stop after this long. */
  readonly seconds: number;
  /** Stop early; a fetch under way completes first, so byte counts stay exact. */
  readonly signal?: AbortSignal | undefined;
  /** Send CMCD (sid, a simulated buffer length, object type) on every request. */
  readonly cmcd?: boolean;
}

export interface HlsViewerResult {
  readonly sessionId: string;
  readonly segments: number;
  /** Body bytes of every segment response, as received. */
  readonly bytes: number;
  readonly sequences: number[];
}

/**
 * A headless live HLS player over fetch: opens the multivariant playlist, takes one variant,
 * starts three segments from the live edge, then polls the media playlist every target
 * duration and downloads each new segment, counting the bytes it really receives. The demo
 * runs a few of these so the dashboard has viewers; tests use it as a real HTTP client.
 */
export async function watchHls(options: HlsViewerOptions): Promise<HlsViewerResult> {
  const master = await fetch(options.masterUrl);
  if (!master.ok) throw new Error(`multivariant playlist answered ${master.status}`);
  const variants = (HLS.parse(await master.text()) as MasterPlaylist).variants;
  const variant = variants.find((v) => v.uri.startsWith(`${options.profile}/`));
  if (!variant) throw new Error(`no ${options.profile} variant`);
  const mediaUrl = new URL(variant.uri, options.masterUrl);
  const sessionId = mediaUrl.searchParams.get('session') ?? '';
  const end = Date.now() + options.seconds * 1000;
  const sequences: number[] = [];
  let bytes = 0;
  // Simulated playback buffer: grows by each segment's duration and, once three segments are
  // in (as players start live playback), drains in real time.
  let bufferMs = 0;
  let playing = false;
  let lastTick = Date.now();
  const headers = (objectType: 'm' | 'v'): Record<string, string> => {
    if (!options.cmcd) return {};
    const now = Date.now();
    if (playing) bufferMs = Math.max(0, bufferMs - (now - lastTick));
    lastTick = now;
    return {
      'cmcd-request': `bl=${Math.round(bufferMs / 100) * 100}`,
      'cmcd-object': `ot=${objectType}`,
      'cmcd-session': `sid="${sessionId}"`,
    };
  };
  while (Date.now() < end && !options.signal?.aborted) {
    const response = await fetch(mediaUrl, { headers: headers('m') });
    if (!response.ok) throw new Error(`media playlist answered ${response.status}`);
    const playlist = HLS.parse(await response.text()) as MediaPlaylist;
    const last = sequences.at(-1);
    const listed =
      last === undefined
        ? playlist.segments.slice(-3)
        : playlist.segments.filter((segment) => segment.mediaSequenceNumber > last);
    const before = sequences.length;
    for (const segment of listed) {
      if (options.signal?.aborted) break;
      const body = await fetch(new URL(segment.uri, mediaUrl), { headers: headers('v') });
      if (!body.ok) throw new Error(`segment ${segment.uri} answered ${body.status}`);
      bytes += (await body.arrayBuffer()).byteLength;
      bufferMs += segment.duration * 1000;
      if (sequences.length >= 2) playing = true;
      sequences.push(segment.mediaSequenceNumber);
    }
    if (playlist.endlist) break;
    // RFC 8216 6.3.4: reload after a target duration, or half of one when nothing was new.
    const reloadMs = (playlist.targetDuration * 1000) / (sequences.length > before ? 1 : 2);
    const wait = Math.min(reloadMs, Math.max(0, end - Date.now()));
    await sleep(wait, undefined, { signal: options.signal }).catch(() => {});
  }
  return { sessionId, segments: sequences.length, bytes, sequences };
}
