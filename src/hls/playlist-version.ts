/**
 * The lowest EXT-X-VERSION a playlist's features allow (RFC 8216 section 7): players older than
 * a version refuse the playlist, so declaring more than the features need only shuts them out.
 */

/** What a media playlist uses that raises its version. */
export interface MediaPlaylistFeatures {
  /** Some EXTINF is not a whole number of seconds (version 3; below it durations are integers). */
  readonly decimalDurations: boolean;
  /** EXT-X-MAP outside an I-frame playlist (version 6). */
  readonly initSections: boolean;
}

/** The lowest version of a media playlist with these features. */
export function mediaPlaylistVersion(features: MediaPlaylistFeatures): number {
  if (features.initSections) return 6;
  if (features.decimalDurations) return 3;
  return 1;
}

/**
 * The lowest version of our multivariant playlist: BANDWIDTH, AVERAGE-BANDWIDTH, CODECS,
 * RESOLUTION, FRAME-RATE and EXT-X-INDEPENDENT-SEGMENTS are all version 1.
 */
export const MULTIVARIANT_VERSION = 1;
