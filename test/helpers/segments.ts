import type { ProfileName } from '../../src/core/profiles.js';
import type { SegmentInput } from '../../src/core/segment.js';

/** A segment whose size is distinct per profile and sequence, so byte counts prove which was served. */
export function segmentInput(
  sequence: number,
  profile: ProfileName = 'Low',
  size?: number,
): SegmentInput {
  const bytes = size ?? 1000 + sequence * 10 + profile.length;
  return {
    id: `seg-${sequence}`,
    sequence,
    profile,
    durationSec: 2,
    data: new Uint8Array(bytes).fill(sequence % 256),
  };
}

export const ALL_PROFILES: readonly ProfileName[] = ['VeryLow', 'Low', 'Medium', 'High'];
