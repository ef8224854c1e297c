import type { ProfileName } from './profiles.js';

/** One encoded media segment of one rendition. Immutable once published. */
export interface Segment {
  /** Shared by every rendition of the same media time, e.g. `seg-42`. */
  readonly id: string;
  /** Media sequence number; renditions of one stream are aligned on it. */
  readonly sequence: number;
  readonly profile: ProfileName;
  readonly durationSec: number;
  readonly data: Uint8Array;
  readonly contentType: string;
  /** When it was published, in ms since the epoch. */
  readonly createdAt: number;
  /** True when the encoder restarted before this segment. */
  readonly discontinuity: boolean;
  /** Discontinuities in this rendition up to and including this segment. */
  readonly discontinuitySequence: number;
  /** Id of the fMP4 initialization section this segment needs, if any. */
  readonly initId?: string | undefined;
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
}

/** An fMP4 initialization section (EXT-X-MAP) shared by the segments that name it. */
export interface InitSection {
  readonly id: string;
  readonly data: Uint8Array;
  readonly contentType: string;
}

export const MPEG_TS = 'video/mp2t';
export const MP4 = 'video/mp4';

/** Wall-clock time of the segment's first frame: published when its last frame was encoded. */
export function programDateTime(segment: Segment): number {
  return segment.createdAt - segment.durationSec * 1000;
}
