import type { ProfileName } from './profiles.js';

/** One encoded media segment of one rendition. Immutable once published. */
export interface Segment {
  /** The file name it is served under, e.g. `3f9a0c2d1e4b-42.ts` (incarnation and sequence). */
  readonly id: string;
  /** Media sequence number; renditions of one stream are aligned on it. */
  readonly sequence: number;
  readonly profile: ProfileName;
  readonly durationSec: number;
  readonly data: Uint8Array;
  readonly contentType: string;
  /** When it was published, in ms since the epoch. */
  readonly createdAt: number;
  /**
   * Wall-clock time of its first frame (ms), from the stream's media timeline: the same for this
   * media sequence number in every rendition (see MediaTimeline).
   */
  readonly programDateTime: number;
  /** True when the encoder restarted before this segment. */
  readonly discontinuity: boolean;
  /** Discontinuities in this rendition up to and including this segment. */
  readonly discontinuitySequence: number;
  /** Id of the fMP4 initialization section this segment needs, if any. */
  readonly initId?: string | undefined;
  /** Strong entity tag derived from the bytes (set by the service, which can hash). */
  readonly etag?: string | undefined;
  /**
   * Durations of the media sequence numbers this rendition never got right before this one (a
   * lost upload): playlists list them as EXT-X-GAP so every later number stays where it was.
   */
  readonly gapBefore?: readonly number[] | undefined;
}

/** What a publisher supplies; the distributor stamps the rest. */
export interface SegmentInput {
  readonly id: string;
  readonly sequence: number;
  readonly profile: ProfileName;
  readonly durationSec: number;
  readonly data: Uint8Array;
  readonly contentType?: string;
  readonly discontinuity?: boolean;
  readonly initId?: string | undefined;
  readonly etag?: string | undefined;
  /** The encoder's own EXT-X-TARGETDURATION, a hint for fixing the stream's target duration. */
  readonly declaredTargetSec?: number | undefined;
}

/** An fMP4 initialization section (EXT-X-MAP) shared by the segments that name it. */
export interface InitSection {
  readonly id: string;
  readonly data: Uint8Array;
  readonly contentType: string;
  readonly etag?: string | undefined;
}

export const MPEG_TS = 'video/mp2t';
export const MP4 = 'video/mp4';

/**
 * The file name of a stream incarnation's segment: `{incarnation}-{sequence}.ts` (or `.m4s`).
 * The incarnation makes the URL of a reused recording id, or of a restarted server, new, so a
 * URL once cached never names other bytes (docs/architecture.md, rules).
 */
export function segmentFileName(incarnation: string, sequence: number, fmp4: boolean): string {
  return `${incarnation}-${sequence}${fmp4 ? '.m4s' : '.ts'}`;
}

/** The file name of a stream incarnation's `n`th initialization section of a rendition. */
export function initFileName(incarnation: string, n: number): string {
  return `init-${incarnation}-${n}.mp4`;
}
