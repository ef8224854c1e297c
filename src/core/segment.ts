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
}

export const MPEG_TS = 'video/mp2t';
