import { ladderIndex, PROFILE_NAMES, type ProfileName } from '../profiles.js';
import type { AdaptationInput, AdaptationPolicy } from '../quality.js';
import { kbps, segmentRateKbps, throughputSamples } from './input.js';

/**
 * Throughput rule as hls.js does it: the lower of a fast and a slow EWMA of the measured
 * throughput, times a safety factor (stricter for going up), then the highest profile that fits.
 */
export const THROUGHPUT_POLICY = {
  /** Half-lives of the two averages, in samples (hls.js abrEwmaFastLive / abrEwmaSlowLive). */
  fastHalfLife: 3,
  slowHalfLife: 9,
  /** Estimate before any sample (hls.js abrEwmaDefaultEstimate). */
  defaultEstimateKbps: 500,
  /** Share of the estimate a profile at or below the current one may use (abrBandWidthFactor). */
  keepFactor: 0.95,
  /** Share of the estimate a profile above the current one may use (abrBandWidthUpFactor). */
  upFactor: 0.7,
} as const;

/**
 * One EWMA, zero-bias corrected as hls.js's is (written in its incremental form, which keeps a
 * constant series exactly constant). hls.js weighs a sample by its download time; the input
 * carries no download times, so every sample weighs one and the half-lives count samples.
 */
function ewma(samples: readonly number[], halfLife: number): number {
  const alpha = Math.exp(Math.log(0.5) / halfLife);
  let estimate = 0;
  samples.forEach((sample, i) => {
    estimate += (sample - estimate) * ((1 - alpha) / (1 - alpha ** (i + 1)));
  });
  return estimate;
}

/** The bandwidth estimate (kbps): min of the fast and slow EWMA, the default with no samples. */
export function ewmaEstimateKbps(samples: readonly number[]): number {
  if (samples.length === 0) return THROUGHPUT_POLICY.defaultEstimateKbps;
  return Math.min(
    ewma(samples, THROUGHPUT_POLICY.fastHalfLife),
    ewma(samples, THROUGHPUT_POLICY.slowHalfLife),
  );
}

export const throughputPolicy: AdaptationPolicy = {
  name: 'throughput',
  decide(input: AdaptationInput) {
    const samples = throughputSamples(input);
    const estimate = ewmaEstimateKbps(samples);
    const basis = samples.length === 0 ? `no samples: default ${kbps(estimate)}` : kbps(estimate);
    const at = ladderIndex(input.current);
    for (let i = PROFILE_NAMES.length - 1; i >= 0; i--) {
      const profile = PROFILE_NAMES[i] as ProfileName;
      const factor = i > at ? THROUGHPUT_POLICY.upFactor : THROUGHPUT_POLICY.keepFactor;
      const rate = segmentRateKbps(input, profile);
      if (estimate * factor >= rate) {
        return {
          profile,
          reason: `estimate ${basis} x ${factor} >= ${profile} ${kbps(rate)}`,
        };
      }
    }
    return {
      profile: 'VeryLow',
      reason: `estimate ${basis} x ${THROUGHPUT_POLICY.keepFactor} fits no profile: lowest`,
    };
  },
};
