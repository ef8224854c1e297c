/**
 * How HLS objects go out over HTTP, wherever they are served from (the HLS and VOD routes, a
 * cluster worker, the push to CDN targets): one place for the delivery rules of
 * docs/architecture.md ("Delivery rules players and CDNs rely on").
 */

/** The media type of every playlist (RFC 8216, 4). */
export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

/** Segments and init sections never change once published: a day, immutable, for everyone. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=86400, immutable';

/**
 * A live media playlist's max-age: no longer than half a target duration, so players polling
 * every target duration see news; at least a second.
 */
export function playlistMaxAgeSec(targetDurationSec: number): number {
  return Math.max(1, Math.floor(targetDurationSec / 2));
}
