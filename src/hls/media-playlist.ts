import HLS from 'hls-parser';
import { programDateTime, type Segment } from '../core/segment.js';

const { MediaPlaylist, Segment: HlsSegment, MediaInitializationSection } = HLS.types;

export interface MediaPlaylistInput {
  /** The segments to list, oldest first. */
  readonly segments: readonly Segment[];
  readonly ended: boolean;
  /** URI of a segment as listed (relative, or absolute on a CDN). */
  readonly segmentUri: (segment: Segment) => string;
  readonly initUri: (initId: string) => string;
}

/**
 * A live media playlist: sliding window with media and discontinuity sequence numbers, a
 * program date-time on every segment, EXT-X-MAP for fMP4, and EXT-X-ENDLIST once ended.
 */
export function writeMediaPlaylist(input: MediaPlaylistInput): string {
  const first = input.segments[0];
  const longest = input.segments.reduce((max, s) => Math.max(max, s.durationSec), 0);
  const playlist = new MediaPlaylist({
    version: input.segments.some((s) => s.initId !== undefined) ? 7 : 6,
    independentSegments: true,
    // Rounded as RFC 8216 4.3.3.1 requires: no EXTINF may exceed it once rounded.
    targetDuration: Math.max(1, Math.round(longest)),
    mediaSequenceBase: first?.sequence ?? 0,
    discontinuitySequenceBase: first
      ? first.discontinuitySequence - (first.discontinuity ? 1 : 0)
      : 0,
    endlist: input.ended,
    segments: input.segments.map(
      (segment) =>
        new HlsSegment({
          uri: input.segmentUri(segment),
          duration: segment.durationSec,
          mediaSequenceNumber: segment.sequence,
          discontinuitySequence: segment.discontinuitySequence,
          discontinuity: segment.discontinuity,
          programDateTime: new Date(programDateTime(segment)),
          ...(segment.initId !== undefined && {
            map: new MediaInitializationSection({ uri: input.initUri(segment.initId) }),
          }),
        }),
    ),
  });
  return HLS.stringify(playlist);
}
