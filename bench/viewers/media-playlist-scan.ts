/**
 * What a polling viewer needs from a live media playlist: its first media sequence number and
 * its segment URIs. Hand-written rather than hls-parser (which reads the master playlist once
 * per viewer): this runs on every poll of every viewer, and the generator's CPU must stay small
 * next to the origin it measures.
 */

export interface MediaScan {
  /** EXT-X-MEDIA-SEQUENCE (0 when absent, as RFC 8216 says). */
  readonly mediaSequence: number;
  readonly uris: readonly string[];
}

const SEQUENCE_TAG = '#EXT-X-MEDIA-SEQUENCE:';

/** A playlist the viewer cannot use (wrong kind, URIs off the origin). */
export class PlaylistError extends Error {}

/** The playlist's sequence and URIs; throws PlaylistError unless it is a media playlist. */
export function scanMediaPlaylist(text: string): MediaScan {
  if (!text.startsWith('#EXTM3U')) throw new PlaylistError('not a playlist (no #EXTM3U)');
  if (text.includes('#EXT-X-STREAM-INF')) throw new PlaylistError('media playlist is multivariant');
  let mediaSequence = 0;
  const uris: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    if (line.charCodeAt(0) !== 35 /* # */) uris.push(line.trim());
    else if (line.startsWith(SEQUENCE_TAG)) {
      mediaSequence = Number(line.slice(SEQUENCE_TAG.length));
      if (!Number.isSafeInteger(mediaSequence) || mediaSequence < 0) {
        throw new PlaylistError(`bad ${line}`);
      }
    }
  }
  return { mediaSequence, uris };
}

/** `uri` as a request path on `origin`, resolved against the playlist's `basePath`. */
export function resolvePath(uri: string, basePath: string, origin: string): string {
  if (uri.startsWith('/') && !uri.startsWith('//')) return uri;
  const plainRelative = !uri.includes(':') && !uri.startsWith('.') && !uri.startsWith('//');
  if (plainRelative) {
    const query = basePath.indexOf('?');
    const dir = (query < 0 ? basePath : basePath.slice(0, query)).replace(/[^/]*$/, '');
    return dir + uri;
  }
  const url = new URL(uri, origin + basePath);
  if (url.origin !== origin) throw new PlaylistError(`URI leaves the origin: ${uri}`);
  return url.pathname + url.search;
}
