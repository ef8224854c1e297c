import HLS from 'hls-parser';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

export interface PlaybackResult {
  readonly sessionId: string;
  readonly segments: number;
  /** Body bytes of every segment response, as received. */
  readonly bytes: number;
  readonly sequences: number[];
}

/**
 * A minimal live HLS player over fetch: opens the multivariant playlist, takes the variant of
 * `profile`, then polls its media playlist every target duration and downloads each new
 * segment, counting the bytes it really receives. Stops after `seconds`.
 */
export async function playHls(
  masterUrl: string,
  profile: string,
  seconds: number,
  headers: (kind: 'playlist' | 'segment') => Record<string, string> = () => ({}),
): Promise<PlaybackResult> {
  const masterResponse = await fetch(masterUrl, { headers: headers('playlist') });
  if (!masterResponse.ok) throw new Error(`master answered ${masterResponse.status}`);
  const master = HLS.parse(await masterResponse.text()) as MasterPlaylist;
  const variant = master.variants.find((v) => v.uri.startsWith(`${profile}/`));
  if (!variant) throw new Error(`no ${profile} variant`);
  const mediaUrl = new URL(variant.uri, masterUrl);
  const sessionId = mediaUrl.searchParams.get('session') ?? '';
  const end = Date.now() + seconds * 1000;
  const seen = new Set<number>();
  const sequences: number[] = [];
  let bytes = 0;
  while (Date.now() < end) {
    const response = await fetch(mediaUrl, { headers: headers('playlist') });
    const playlist = HLS.parse(await response.text()) as MediaPlaylist;
    // Like a player joining live: start three segments from the end.
    const listed = seen.size === 0 ? playlist.segments.slice(-3) : playlist.segments;
    for (const segment of listed) {
      if (seen.has(segment.mediaSequenceNumber)) continue;
      seen.add(segment.mediaSequenceNumber);
      const body = await fetch(new URL(segment.uri, mediaUrl), { headers: headers('segment') });
      if (!body.ok) throw new Error(`segment ${segment.uri} answered ${body.status}`);
      bytes += (await body.arrayBuffer()).byteLength;
      sequences.push(segment.mediaSequenceNumber);
    }
    if (playlist.endlist) break;
    await new Promise((r) =>
      setTimeout(r, Math.min(playlist.targetDuration * 1000, Math.max(0, end - Date.now()))),
    );
  }
  return { sessionId, segments: sequences.length, bytes, sequences };
}
