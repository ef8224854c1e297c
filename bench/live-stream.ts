import { PROFILE_NAMES, type ProfileName } from '../src/core/profiles.js';

/** What the HLS benchmarks need of a distribution service (of any revision). */
export interface BenchService {
  startLiveStream(recordingId: string): unknown;
  addSegmentToStream(recordingId: string, input: object): unknown;
  joinStream(recordingId: string, viewerId: string, initial: ProfileName): { sessionId: string };
}

/**
 * Fills `service` with the benchmarks' stream 'bench': 15 segments of `segment` in every
 * rendition and `n` viewers spread over the ladder. Returns their session ids.
 */
export function populateLiveStream(
  service: BenchService,
  n: number,
  segment: Uint8Array,
): string[] {
  service.startLiveStream('bench');
  for (let s = 0; s < 15; s++) {
    for (const profile of PROFILE_NAMES) {
      service.addSegmentToStream('bench', {
        id: `${s}.ts`,
        sequence: s,
        profile,
        durationSec: 2,
        data: segment,
      });
    }
  }
  return Array.from(
    { length: n },
    (_, i) =>
      service.joinStream('bench', `viewer-${i}`, PROFILE_NAMES[i & 3] as ProfileName).sessionId,
  );
}
