import HLS from 'hls-parser';
import type { Segment } from '../core/segment.js';
import { mediaPlaylistText } from './media-playlist-text.js';
import { mediaPlaylistVersion } from './playlist-version.js';

const { MediaPlaylist, Segment: HlsSegment, MediaInitializationSection } = HLS.types;
type HlsSegmentType = InstanceType<typeof HlsSegment>;

export interface MediaPlaylistInput {
  /** The segments to list, oldest first. */
  readonly segments: readonly Segment[];
  readonly ended: boolean;
  /** The stream's fixed EXT-X-TARGETDURATION (every listed EXTINF rounds to no more). */
  readonly targetDurationSec: number;
  /** URI of a segment as listed (relative, or absolute on a CDN). */
  readonly segmentUri: (segment: Segment) => string;
  /** URI of the init section `initId` that `segment` needs. */
  readonly initUri: (initId: string, segment: Segment) => string;
  /** URI listed for a lost media sequence number (EXT-X-GAP), formed like `next`'s. */
  readonly gapUri: (sequence: number, next: Segment) => string;
  /**
   * The version this rendition's playlists declared so far (1 when none was written): a
   * playlist never declares less, since a player must never see EXT-X-VERSION change.
   */
  readonly minVersion?: number;
}

/** A written media playlist and the EXT-X-VERSION it declares (the next one's minVersion). */
export interface WrittenMediaPlaylist {
  readonly text: string;
  readonly version: number;
}

/**
 * A live media playlist: sliding window with media and discontinuity sequence numbers, a
 * program date-time on every segment, EXT-X-GAP for numbers the rendition lost, EXT-X-MAP for
 * fMP4, EXT-X-ENDLIST once ended, and the lowest EXT-X-VERSION its features allow that is not
 * below `minVersion`.
 */
export function writeMediaPlaylist(input: MediaPlaylistInput): WrittenMediaPlaylist {
  const listed = afterLastHole(input.segments);
  const first = listed[0];
  const entries: HlsSegmentType[] = [];
  let decimalDurations = false;
  let initSections = false;
  for (const [i, segment] of listed.entries()) {
    if (i > 0) {
      // Numbers lost before this one keep their place, so later numbers never shift.
      for (const [k, duration] of (segment.gapBefore ?? []).entries()) {
        const sequence = segment.sequence - (segment.gapBefore?.length ?? 0) + k;
        decimalDurations ||= !Number.isInteger(duration);
        entries.push(
          new HlsSegment({
            uri: input.gapUri(sequence, segment),
            duration,
            mediaSequenceNumber: sequence,
            discontinuitySequence: segment.discontinuitySequence - (segment.discontinuity ? 1 : 0),
            gap: true,
          }),
        );
      }
    }
    decimalDurations ||= !Number.isInteger(segment.durationSec);
    initSections ||= segment.initId !== undefined;
    entries.push(
      new HlsSegment({
        uri: input.segmentUri(segment),
        duration: segment.durationSec,
        mediaSequenceNumber: segment.sequence,
        discontinuitySequence: segment.discontinuitySequence,
        discontinuity: segment.discontinuity,
        programDateTime: new Date(segment.programDateTime),
        ...(segment.initId !== undefined && {
          map: new MediaInitializationSection({ uri: input.initUri(segment.initId, segment) }),
        }),
      }),
    );
  }
  const version = Math.max(
    input.minVersion ?? 1,
    mediaPlaylistVersion({ decimalDurations, initSections }),
  );
  const playlist = new MediaPlaylist({
    version,
    independentSegments: true,
    targetDuration: input.targetDurationSec,
    mediaSequenceBase: first?.sequence ?? 0,
    discontinuitySequenceBase: first
      ? first.discontinuitySequence - (first.discontinuity ? 1 : 0)
      : 0,
    endlist: input.ended,
    segments: entries,
  });
  return {
    text: mediaPlaylistText(playlist, version),
    version,
  };
}

/**
 * The segments from just after the last hole no gap entries describe (an encoder that jumped
 * its numbers): listing across it would give later segments the wrong media sequence numbers.
 */
function afterLastHole(segments: readonly Segment[]): readonly Segment[] {
  for (let i = segments.length - 1; i > 0; i--) {
    const segment = segments[i] as Segment;
    const previous = segments[i - 1] as Segment;
    if (segment.sequence - previous.sequence - 1 !== (segment.gapBefore?.length ?? 0)) {
      return segments.slice(i);
    }
  }
  return segments;
}
