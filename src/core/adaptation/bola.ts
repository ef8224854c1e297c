import { ladderIndex, PROFILE_NAMES, type ProfileName } from '../profiles.js';
import type { AdaptationInput, AdaptationPolicy } from '../quality.js';
import {
  bufferSeconds,
  kbps,
  liveBufferTargetSec,
  sec,
  segmentRateKbps,
  throughputSamples,
} from './input.js';
import { ewmaEstimateKbps } from './throughput.js';

/**
 * BOLA-BASIC as dash.js's BolaRule does it, with its buffer parameters rescaled from its 18 s
 * default buffer to the live buffer target (three segments, 6 s with 2 s segments).
 * dash.js: minimum buffer 10 s, 2 s more per profile, buffer time max(18, 10 + 2 x profiles).
 */
export const BOLA_POLICY = {
  /** dash.js's minimum buffer over its default buffer time (10 s of 18 s). */
  minimumBufferShare: 10 / 18,
  /** dash.js's extra buffer per profile over its default buffer time (2 s of 18 s). */
  perProfileShare: 2 / 18,
  /** dash.js's safe throughput: the average throughput times this. */
  throughputSafetyFactor: 0.9,
} as const;

export interface BolaParameters {
  /** Utility of each profile, ln(bitrate / lowest bitrate), ladder order. */
  readonly utilities: readonly number[];
  /** Bitrate of each profile (kbps), ladder order. */
  readonly rates: readonly number[];
  readonly gp: number;
  readonly vp: number;
  /** Minimum buffer (s): dash.js never delays a request while the buffer is below it. */
  readonly minimumBufferSec: number;
}

/** dash.js's _calculateBolaParameters on this ladder and buffer target. */
export function bolaParameters(input: AdaptationInput): BolaParameters {
  const target = liveBufferTargetSec(input);
  const minimumBufferSec = BOLA_POLICY.minimumBufferShare * target;
  const rates = PROFILE_NAMES.map((name) => segmentRateKbps(input, name));
  const lowest = rates[0] as number;
  const utilities = rates.map((rate) => Math.log(rate / lowest));
  const top = Math.max(...utilities);
  const bufferTime = Math.max(
    target,
    minimumBufferSec + BOLA_POLICY.perProfileShare * target * rates.length,
  );
  const gp = top / (bufferTime / minimumBufferSec - 1);
  return { utilities, rates, gp, vp: minimumBufferSec / gp, minimumBufferSec };
}

/**
 * Buffer levels (s) at which each profile above the lowest starts to win over the one below it
 * (where their scores tie; a tie goes to the higher), ladder order from Low up.
 */
export function bolaThresholds(params: BolaParameters): number[] {
  const { rates, utilities, vp, gp } = params;
  return rates.slice(1).map((upper, i) => {
    const lower = rates[i] as number;
    const uLower = (utilities[i] as number) + gp;
    const uUpper = (utilities[i + 1] as number) + gp;
    return (vp * (upper * uLower - lower * uUpper)) / (upper - lower);
  });
}

/** The profile maximising (Vp (utility + gp) - buffer) / bitrate; ties go to the higher. */
function byBuffer(params: BolaParameters, buffer: number): ProfileName {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  params.rates.forEach((rate, i) => {
    const score = (params.vp * ((params.utilities[i] as number) + params.gp) - buffer) / rate;
    if (score >= bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return PROFILE_NAMES[best] as ProfileName;
}

/**
 * Stateless: dash.js's placeholder buffer (time BOLA itself delayed requests) and its startup
 * state (throughput rule until one segment is buffered) need memory across calls, and a live
 * player cannot delay past the edge, so both are left out. The throughput guard is kept: BOLA
 * does not climb above both the current profile and what the safe throughput carries.
 */
export const bolaPolicy: AdaptationPolicy = {
  name: 'bola',
  decide(input: AdaptationInput) {
    const params = bolaParameters(input);
    const buffer = bufferSeconds(input);
    let profile = byBuffer(params, buffer);
    let reason = `buffer ${sec(buffer)}: BOLA picks ${profile}`;
    const samples = throughputSamples(input);
    const at = ladderIndex(input.current);
    if (samples.length > 0 && ladderIndex(profile) > at) {
      const safe = ewmaEstimateKbps(samples) * BOLA_POLICY.throughputSafetyFactor;
      let carried = 0;
      params.rates.forEach((rate, i) => {
        if (rate <= safe) carried = i;
      });
      if (ladderIndex(profile) > carried) {
        const capped = PROFILE_NAMES[Math.max(carried, at)] as ProfileName;
        reason = `${reason}, capped at ${capped} by safe throughput ${kbps(safe)}`;
        profile = capped;
      }
    }
    return { profile, reason };
  },
};
