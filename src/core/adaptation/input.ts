import { PROFILE_NAMES, PROFILES, type ProfileName } from '../profiles.js';
import { type AdaptationInput, LIVE_BUFFER_SEGMENTS } from '../quality.js';

// What the policies read from an AdaptationInput, with every optional figure filled in.

/** Segment duration the input names, else the current profile's. */
export function segmentSeconds(input: AdaptationInput): number {
  const given = input.segmentDurationSec;
  return given !== undefined && given > 0 ? given : PROFILES[input.current].segmentDurationSec;
}

/** The buffer a live player holds when it sits where it should behind the live edge (s). */
export function liveBufferTargetSec(input: AdaptationInput): number {
  return LIVE_BUFFER_SEGMENTS * segmentSeconds(input);
}

/**
 * The player's buffer in seconds: its own report when it gives one, else buffer health read back
 * as a share of the live buffer target (the inverse of bufferHealthFromBufferLength).
 */
export function bufferSeconds(input: AdaptationInput): number {
  if (input.bufferSec !== undefined && Number.isFinite(input.bufferSec)) {
    return Math.max(0, input.bufferSec);
  }
  return (Math.max(0, input.bufferHealth) / 100) * liveBufferTargetSec(input);
}

/** Size of the next segment at `profile` in kbit: the known size, else nominal bitrate x duration. */
export function segmentKbit(input: AdaptationInput, profile: ProfileName): number {
  const known = input.nextSegmentKbit?.[profile];
  if (known !== undefined && Number.isFinite(known) && known > 0) return known;
  return PROFILES[profile].bitrateKbps * segmentSeconds(input);
}

/** Bitrate of the next segment at `profile` (kbps), from its size when known. */
export function segmentRateKbps(input: AdaptationInput, profile: ProfileName): number {
  return segmentKbit(input, profile) / segmentSeconds(input);
}

/** The throughput samples (kbps, oldest first), finite and non-negative; negative reads as 0. */
export function throughputSamples(input: AdaptationInput): readonly number[] {
  const given = input.throughputKbps ?? [];
  // Usually every sample is fine already: no copy then (policies run on every player report).
  if (given.every((kbps) => Number.isFinite(kbps) && kbps >= 0)) return given;
  return given.filter(Number.isFinite).map((kbps) => Math.max(0, kbps));
}

/** Harmonic mean; 0 when any sample is 0 (an outage dominates), NaN when there are none. */
export function harmonicMean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  let inverse = 0;
  for (const kbps of samples) {
    if (kbps <= 0) return 0;
    inverse += 1 / kbps;
  }
  return samples.length / inverse;
}

/** The highest profile `fits` accepts, VeryLow when none does. */
export function highestThat(fits: (profile: ProfileName) => boolean): ProfileName {
  let best: ProfileName = 'VeryLow';
  for (const name of PROFILE_NAMES) if (fits(name)) best = name;
  return best;
}

/** Seconds with one decimal, for reasons. */
export function sec(value: number): string {
  return `${Math.round(value * 10) / 10} s`;
}

/** kbps rounded, for reasons. */
export function kbps(value: number): string {
  return `${Math.round(value)} kbps`;
}
