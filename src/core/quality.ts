import { DistributionError } from './errors.js';
import {
  ladderIndex,
  PROFILE_NAMES,
  PROFILES,
  type ProfileName,
  stepDown,
  stepUp,
} from './profiles.js';

export type ConnectionQuality = 'excellent' | 'good' | 'fair' | 'poor';

/** Buffer health at which the seed's policy (and connection quality) change band. */
export const BUFFER_THRESHOLDS = { critical: 20, low: 40, high: 85 } as const;

/**
 * Connection quality follows the same bands as the seed's adaptation, so the label a viewer
 * shows always explains what adaptation does to it:
 * poor < 20 <= fair < 40 <= good <= 85 < excellent.
 */
export function inferConnectionQuality(bufferHealth: number): ConnectionQuality {
  if (bufferHealth < BUFFER_THRESHOLDS.critical) return 'poor';
  if (bufferHealth < BUFFER_THRESHOLDS.low) return 'fair';
  if (bufferHealth > BUFFER_THRESHOLDS.high) return 'excellent';
  return 'good';
}

/** Rejects anything but a finite number in [0, 100]. */
export function checkBufferHealth(value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new DistributionError(
      'INVALID_BUFFER_HEALTH',
      `buffer_health must be a number from 0 to 100, got ${value}`,
      'buffer_health',
    );
  }
  return value;
}

export interface AdaptationInput {
  readonly current: ProfileName;
  /** 0-100 as today: how full the viewer's buffer is. */
  readonly bufferHealth: number;
  /** The player's buffer length in seconds (CMCD bl), when it reports one. */
  readonly bufferSec?: number | undefined;
  /** Throughput the player measured per segment (kbps), oldest first, at most 8; empty or absent when unknown. */
  readonly throughputKbps?: readonly number[] | undefined;
  /** Segment duration in seconds (2 for this ladder). */
  readonly segmentDurationSec?: number | undefined;
  /** Size in kbit of the next segment at each profile when known (else nominal bitrate x duration). */
  readonly nextSegmentKbit?: Partial<Record<ProfileName, number>> | undefined;
}

export interface AdaptationDecision {
  readonly profile: ProfileName;
  /** Why, in a few words (shown in switch history and logs), e.g. 'buffer 0.8 s < reservoir 2 s'. */
  readonly reason: string;
}

/** Chooses the profile a viewer should fetch next. Pure and stateless, so policies are swappable and testable. */
export interface AdaptationPolicy {
  readonly name: string;
  decide(input: AdaptationInput): AdaptationDecision;
}

/** The seed's rule: < 20 VeryLow, 20 to < 40 one down, > 85 one up, otherwise hold. */
export const seedBufferPolicy: AdaptationPolicy = {
  name: 'seed-buffer',
  decide({ current, bufferHealth }) {
    const { critical, low, high } = BUFFER_THRESHOLDS;
    if (bufferHealth < critical)
      return { profile: 'VeryLow', reason: `buffer health ${bufferHealth} < ${critical}: lowest` };
    if (bufferHealth < low)
      return {
        profile: stepDown(current),
        reason: `buffer health ${bufferHealth} < ${low}: one down`,
      };
    if (bufferHealth > high)
      return {
        profile: stepUp(current),
        reason: `buffer health ${bufferHealth} > ${high}: one up`,
      };
    return { profile: current, reason: `buffer health ${bufferHealth} in ${low}-${high}: hold` };
  },
};

/** Segments a live player holds when it sits where it should behind the live edge. */
export const LIVE_BUFFER_SEGMENTS = 3;

/**
 * Buffer health from a player's buffer length (CMCD `bl`, ms): the share of a full live buffer
 * (three segments, where players such as hls.js keep the playhead behind the live edge) the
 * player holds, capped at 100. With 2 s segments: 6 s or more is 100, 4.5 s is 75, 1 s is 16.7.
 * A live player cannot buffer much beyond the edge distance, so a target above it (such as the
 * profile's start buffer) would keep every viewer below the step-up threshold for good.
 */
export function bufferHealthFromBufferLength(bufferLengthMs: number, profile: ProfileName): number {
  const target = LIVE_BUFFER_SEGMENTS * PROFILES[profile].segmentDurationSec * 1000;
  const health = (Math.max(0, bufferLengthMs) / target) * 100;
  return Math.min(100, Math.round(health * 10) / 10);
}

/** Share of measured throughput a profile's bitrate may use, leaving headroom for audio and jitter. */
export const THROUGHPUT_HEADROOM = 0.8;

/** The highest profile whose bitrate fits in `throughputKbps` with headroom (VeryLow at least). */
export function throughputCap(throughputKbps: number): ProfileName {
  let best: ProfileName = 'VeryLow';
  for (const name of PROFILE_NAMES) {
    if (PROFILES[name].bitrateKbps <= throughputKbps * THROUGHPUT_HEADROOM) best = name;
  }
  return best;
}

/** The lower of two profiles. */
export function lowerOf(a: ProfileName, b: ProfileName): ProfileName {
  return ladderIndex(a) <= ladderIndex(b) ? a : b;
}
