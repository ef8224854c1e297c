import { ladderIndex, type ProfileName, stepUp } from '../profiles.js';
import {
  type AdaptationDecision,
  type AdaptationInput,
  type AdaptationPolicy,
  lowerOf,
  seedBufferPolicy,
} from '../quality.js';
import {
  bufferSeconds,
  harmonicMean,
  highestThat,
  kbps,
  sec,
  segmentKbit,
  segmentRateKbps,
  segmentSeconds,
  throughputSamples,
} from './input.js';

/**
 * Ours, for a server steering live players: 2 s segments and a buffer that cannot grow past the
 * distance to the live edge (about three segments, 6 s), so the buffer bands are fractions of
 * that and the throughput the player measured picks the level. Tuned on bench:abr's traces
 * (seeds 1-3); the README has the figures.
 */
export const VTP_POLICY = {
  /** Samples the harmonic mean covers: a spike cannot lift it, a dip pulls it down. */
  window: 5,
  /**
   * Buffer (segments) under which the policy never steps up and decides downs from the lower of
   * the estimate and the last sample (a fresh drop counts at once).
   */
  upBufferSegments: 2,
  /** Buffer (segments) under which the next download must also land before the buffer empties. */
  panicSegments: 1,
  /**
   * With a healthy buffer the current profile stays while its rate is at most this times the
   * estimate: a download a little over a segment's duration drains a few tenths of a second,
   * which the buffer absorbs (hysteresis against noise; downs start at 1 / 1.2 = 83 %).
   */
  keepFactor: 1.2,
  /**
   * A last sample under this share of the estimate is a drop that counts at once, whatever the
   * buffer: the link fell, and the mean of older samples would hide it for several segments.
   */
  dropShare: 0.5,
  /** Under upBufferSegments a profile stays only while the estimate carries it in full. */
  keepLowFactor: 1,
  /** Samples (at most) that must each carry the next profile up, as must the estimate. */
  upSamples: 3,
  /** Share of each of those samples the next profile up may use. */
  upFactor: 1,
} as const;

export type VtpParameters = { readonly [K in keyof typeof VTP_POLICY]: number };

/** The policy with `params` (VTP_POLICY by default), so the benchmark can tune it. */
export function createVtpPolicy(params: VtpParameters = VTP_POLICY): AdaptationPolicy {
  return { name: 'vtp', decide: (input) => decide(input, params) };
}

export const vtpPolicy: AdaptationPolicy = createVtpPolicy();

function decide(input: AdaptationInput, p: VtpParameters): AdaptationDecision {
  const samples = throughputSamples(input);
  if (samples.length === 0) {
    // Without a measurement the buffer alone cannot tell how fast the link is: the seed's bands.
    const seed = seedBufferPolicy.decide(input);
    return { profile: seed.profile, reason: `no throughput: ${seed.reason}` };
  }
  const { current } = input;
  const duration = segmentSeconds(input);
  const buffer = bufferSeconds(input);
  const estimate = harmonicMean(samples.slice(-p.window));
  const healthy = buffer >= p.upBufferSegments * duration;
  const last = samples.at(-1) as number;
  const dropped = last < estimate * p.dropShare;
  const guard = healthy && !dropped ? estimate : Math.min(estimate, last);
  const keep = healthy ? p.keepFactor : p.keepLowFactor;
  const basis = `buffer ${sec(buffer)}, ${healthy && !dropped ? 'estimate' : 'estimate or last'} ${kbps(guard)}`;
  // What the estimate carries (with the hold margin); a step down goes straight there.
  const carried = highestThat((name) => segmentRateKbps(input, name) <= guard * keep);

  if (buffer < p.panicSegments * duration) {
    // Nearly empty: also the next segment must be in before the buffer runs out.
    const inTime = highestThat((name) => guard > 0 && segmentKbit(input, name) / guard <= buffer);
    const profile = lowerOf(current, lowerOf(carried, inTime));
    const way = profile === current ? `hold ${current}` : `down to ${profile}`;
    return { profile, reason: `${basis}, under ${sec(p.panicSegments * duration)}: ${way}` };
  }
  if (ladderIndex(carried) < ladderIndex(current)) {
    return { profile: carried, reason: `${basis} x ${keep}: down to ${carried}` };
  }

  const up: ProfileName = stepUp(current);
  if (healthy && up !== current) {
    // One profile at a time, when the estimate and each recent sample carry it.
    const need = segmentRateKbps(input, up) / p.upFactor;
    const recent = samples.slice(-p.upSamples);
    if (estimate >= need && recent.every((sample) => sample >= need)) {
      return {
        profile: up,
        reason: `${basis}, last ${recent.length} samples >= ${kbps(need)}: up to ${up}`,
      };
    }
  }
  return { profile: current, reason: `${basis}: hold ${current}` };
}
