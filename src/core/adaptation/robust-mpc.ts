import { PROFILE_NAMES, PROFILES, type ProfileName } from '../profiles.js';
import type { AdaptationInput, AdaptationPolicy } from '../quality.js';
import {
  bufferSeconds,
  harmonicMean,
  kbps,
  liveBufferTargetSec,
  segmentKbit,
  segmentSeconds,
  throughputSamples,
} from './input.js';

/**
 * RobustMPC (Yin et al.): predict throughput as the harmonic mean of the last five samples,
 * discounted by the largest recent prediction error, then search every plan of profiles for
 * the next five segments and take the first step of the plan with the best QoE_lin.
 */
export const ROBUST_MPC_POLICY = {
  /** Samples the harmonic mean covers, and prediction errors the discount looks back over. */
  window: 5,
  /** Segments planned ahead. */
  horizon: 5,
  /** QoE_lin's penalty per rebuffer second, in Mbps. */
  rebufferPenalty: 4.3,
  /** Floor of the predicted throughput (kbps), so an outage still ranks plans (lowest first). */
  floorKbps: 1,
} as const;

/**
 * Throughput prediction without memory across calls: each sample of the window is predicted
 * from the harmonic mean of the (up to five) samples before it; the discount is 1 + the largest
 * relative error of the last five such predictions.
 */
export function robustPrediction(samples: readonly number[]): {
  harmonic: number;
  maxError: number;
  predicted: number;
} {
  const { window, floorKbps } = ROBUST_MPC_POLICY;
  const errors: number[] = [];
  for (let k = 1; k < samples.length; k++) {
    const predicted = harmonicMean(samples.slice(Math.max(0, k - window), k));
    const actual = Math.max(floorKbps, samples[k] as number);
    errors.push(Math.abs(predicted - actual) / actual);
  }
  const maxError = errors.length === 0 ? 0 : Math.max(...errors.slice(-window));
  const harmonic = harmonicMean(samples.slice(-window));
  return { harmonic, maxError, predicted: Math.max(floorKbps, harmonic / (1 + maxError)) };
}

/** The best plan found: its QoE_lin and its first profile (ladder index). */
interface Best {
  qoe: number;
  first: number;
}

/**
 * Exhaustive search over every plan of `horizon` profiles (4^5 = 1024 for this ladder), depth
 * first so plans sharing a prefix share its work. Each segment downloads at the predicted
 * throughput; the buffer drains meanwhile (a stall once empty) and gains a segment after.
 * QoE_lin = sum of Mbps - 4.3 x stall s - sum of |Mbps change|, from the current profile on.
 * Plans are tried lowest first and a tie keeps the earlier plan, so ties go to the lower switch.
 */
function search(input: AdaptationInput, buffer: number, throughput: number): Best {
  const duration = segmentSeconds(input);
  // A live player cannot buffer past the live edge: the buffer tops out at the target.
  const cap = Math.max(liveBufferTargetSec(input), buffer);
  const download = PROFILE_NAMES.map((name) => segmentKbit(input, name) / throughput);
  const mbps = PROFILE_NAMES.map((name) => PROFILES[name].bitrateKbps / 1000);
  const { horizon, rebufferPenalty } = ROBUST_MPC_POLICY;
  const best: Best = { qoe: Number.NEGATIVE_INFINITY, first: 0 };
  const walk = (step: number, level: number, previous: number, qoe: number, first: number) => {
    if (step === horizon) {
      if (qoe > best.qoe) {
        best.qoe = qoe;
        best.first = first;
      }
      return;
    }
    for (let i = 0; i < mbps.length; i++) {
      const time = download[i] as number;
      const rate = mbps[i] as number;
      const stall = Math.max(0, time - level);
      const next = Math.min(cap, Math.max(0, level - time) + duration);
      const gained = rate - rebufferPenalty * stall - Math.abs(rate - previous);
      walk(step + 1, next, rate, qoe + gained, step === 0 ? i : first);
    }
  };
  walk(0, buffer, PROFILES[input.current].bitrateKbps / 1000, 0, 0);
  return best;
}

export const robustMpcPolicy: AdaptationPolicy = {
  name: 'robust-mpc',
  decide(input: AdaptationInput) {
    const samples = throughputSamples(input);
    if (samples.length === 0) {
      return { profile: 'VeryLow', reason: 'no throughput measured: lowest' };
    }
    const { harmonic, maxError, predicted } = robustPrediction(samples);
    const best = search(input, bufferSeconds(input), predicted);
    const discount = Math.round((1 + maxError) * 100) / 100;
    const qoe = Math.round(best.qoe * 10) / 10;
    return {
      profile: PROFILE_NAMES[best.first] as ProfileName,
      reason: `predicted ${kbps(predicted)} (${kbps(harmonic)} / ${discount}), plan QoE ${qoe}`,
    };
  },
};
