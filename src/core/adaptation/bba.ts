import { ladderIndex, PROFILE_NAMES, type ProfileName, stepDown, stepUp } from '../profiles.js';
import type { AdaptationInput, AdaptationPolicy } from '../quality.js';
import {
  bufferSeconds,
  kbps,
  liveBufferTargetSec,
  sec,
  segmentRateKbps,
  segmentSeconds,
} from './input.js';

/**
 * BBA-0 (Huang et al.'s buffer-based rate selection) scaled to a live buffer: a reservoir of one
 * segment, and a cushion from there up to the live buffer target (three segments, 6 s with 2 s
 * segments). Over the cushion the buffer maps linearly to a rate from the lowest to the highest
 * profile; the viewer moves only when that rate passes the next profile up or down.
 */
export const BBA_POLICY = {
  /** Reservoir, in segments: at or below it, the lowest profile. */
  reservoirSegments: 1,
} as const;

/** The rate f(B) the buffer maps to (kbps), and the reservoir and cushion top it used (s). */
export function bbaRate(input: AdaptationInput): { rate: number; reservoir: number; top: number } {
  const reservoir = BBA_POLICY.reservoirSegments * segmentSeconds(input);
  const top = Math.max(liveBufferTargetSec(input), reservoir);
  const lowest = segmentRateKbps(input, 'VeryLow');
  const highest = segmentRateKbps(input, 'High');
  const buffer = bufferSeconds(input);
  const share = top > reservoir ? (buffer - reservoir) / (top - reservoir) : 1;
  const rate = lowest + (highest - lowest) * Math.min(1, Math.max(0, share));
  return { rate, reservoir, top };
}

export const bbaPolicy: AdaptationPolicy = {
  name: 'bba',
  decide(input: AdaptationInput) {
    const buffer = bufferSeconds(input);
    const { rate, reservoir, top } = bbaRate(input);
    if (buffer <= reservoir) {
      return { profile: 'VeryLow', reason: `buffer ${sec(buffer)} <= reservoir ${sec(reservoir)}` };
    }
    if (buffer >= top) {
      return { profile: 'High', reason: `buffer ${sec(buffer)} >= cushion top ${sec(top)}` };
    }
    const { current } = input;
    const rates = PROFILE_NAMES.map((name) => segmentRateKbps(input, name));
    const at = ladderIndex(current);
    const plus = segmentRateKbps(input, stepUp(current));
    const minus = segmentRateKbps(input, stepDown(current));
    const mapped = `buffer ${sec(buffer)} maps to ${kbps(rate)}`;
    let next: ProfileName = current;
    if (at < PROFILE_NAMES.length - 1 && rate >= plus) {
      // Up to the highest profile strictly below f(B).
      for (let i = at + 1; i < rates.length; i++) {
        if ((rates[i] as number) < rate) next = PROFILE_NAMES[i] as ProfileName;
      }
    } else if (at > 0 && rate <= minus) {
      // Down to the lowest profile strictly above f(B).
      for (let i = at - 1; i >= 0; i--) {
        if ((rates[i] as number) > rate) next = PROFILE_NAMES[i] as ProfileName;
      }
    }
    if (next !== current) {
      const way = ladderIndex(next) > at ? 'up' : 'down';
      return { profile: next, reason: `${mapped}: ${way} to ${next}` };
    }
    return { profile: current, reason: `${mapped}: hold ${current}` };
  },
};
