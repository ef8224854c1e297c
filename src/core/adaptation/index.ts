import { type AdaptationPolicy, seedBufferPolicy } from '../quality.js';
import { bbaPolicy } from './bba.js';
import { bolaPolicy } from './bola.js';
import { robustMpcPolicy } from './robust-mpc.js';
import { throughputPolicy } from './throughput.js';
import { vtpPolicy } from './vtp.js';

export { BBA_POLICY, bbaPolicy, bbaRate } from './bba.js';
export { BOLA_POLICY, bolaParameters, bolaPolicy, bolaThresholds } from './bola.js';
export { ROBUST_MPC_POLICY, robustMpcPolicy, robustPrediction } from './robust-mpc.js';
export { ewmaEstimateKbps, THROUGHPUT_POLICY, throughputPolicy } from './throughput.js';
export { createVtpPolicy, VTP_POLICY, type VtpParameters, vtpPolicy } from './vtp.js';
export { seedBufferPolicy };

/**
 * Every adaptation policy by the name it is selected with. The policies are written by hand:
 * players (hls.js, dash.js) embed their rules in their own loaders, and no maintained library
 * offers them as pure functions of a server-side report.
 */
export const ADAPTATION_POLICIES = {
  seed: seedBufferPolicy,
  throughput: throughputPolicy,
  bba: bbaPolicy,
  bola: bolaPolicy,
  'robust-mpc': robustMpcPolicy,
  vtp: vtpPolicy,
} as const satisfies Readonly<Record<string, AdaptationPolicy>>;

export type AdaptationPolicyName = keyof typeof ADAPTATION_POLICIES;

/**
 * The policy a stream uses when none is named (--adaptation, DistributorOptions.policy): bench:abr's
 * winner, which also stalled no more than hls.js's own adaptation in Chromium
 * (test/e2e/abr-browser.test.ts).
 */
export const DEFAULT_ADAPTATION_POLICY: AdaptationPolicyName = 'vtp';

/** True when `value` names a policy of ADAPTATION_POLICIES. */
export function isAdaptationPolicyName(value: unknown): value is AdaptationPolicyName {
  return typeof value === 'string' && Object.hasOwn(ADAPTATION_POLICIES, value);
}
