/**
 * Quality of experience of simulated sessions. QoE_lin (Pensieve's linear QoE, over a session):
 * the sum over downloaded segments of their bitrate in Mbps, minus 4.3 x the seconds stalled, minus
 * the sum of |bitrate changes| in Mbps between consecutive segments; bitrates are the profiles'
 * nominal ones (0.5/1/2/4 Mbps), as the benchmark compares decisions, not encodes.
 */
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../../src/core/profiles.js';
import type { SessionLog } from './player.js';

/** Seconds of stall that cost as much as one segment at 4.3 Mbps (Pensieve's QoE_lin weight). */
export const REBUFFER_PENALTY = 4.3;

export interface SessionQoe {
  readonly qoeLin: number;
  readonly rebufferRatio: number;
  readonly avgBitrateKbps: number;
  readonly switchesPerMin: number;
  /** Share of downloaded segments at each profile, 0-1. */
  readonly timeAtProfile: Readonly<Record<ProfileName, number>>;
  readonly latencySecMean: number;
  readonly rebufferSec: number;
  readonly watchSec: number;
  readonly segments: number;
  readonly switches: number;
}

const mbps = (profile: ProfileName) => PROFILES[profile].bitrateKbps / 1000;

/** The figures of one session (the parts of SessionLog they read). */
export function sessionQoe(
  log: Pick<SessionLog, 'segments' | 'rebufferSec' | 'watchSec' | 'latencySecMean'>,
): SessionQoe {
  let bitrateSum = 0;
  let changeSum = 0;
  let switches = 0;
  const counts = Object.fromEntries(PROFILE_NAMES.map((n) => [n, 0])) as Record<
    ProfileName,
    number
  >;
  let previous: ProfileName | undefined;
  for (const { profile } of log.segments) {
    bitrateSum += mbps(profile);
    counts[profile]++;
    if (previous !== undefined && previous !== profile) {
      switches++;
      changeSum += Math.abs(mbps(profile) - mbps(previous));
    }
    previous = profile;
  }
  const n = log.segments.length;
  const timeAtProfile = Object.fromEntries(
    PROFILE_NAMES.map((name) => [name, n > 0 ? counts[name] / n : 0]),
  ) as Record<ProfileName, number>;
  return {
    qoeLin: bitrateSum - REBUFFER_PENALTY * log.rebufferSec - changeSum,
    rebufferRatio: log.watchSec > 0 ? log.rebufferSec / log.watchSec : 0,
    avgBitrateKbps: n > 0 ? (bitrateSum * 1000) / n : 0,
    switchesPerMin: log.watchSec > 0 ? switches / (log.watchSec / 60) : 0,
    timeAtProfile,
    latencySecMean: log.latencySecMean,
    rebufferSec: log.rebufferSec,
    watchSec: log.watchSec,
    segments: n,
    switches,
  };
}

export interface AggregateQoe {
  readonly sessions: number;
  readonly qoeMean: number;
  /** 5th percentile of the sessions' QoE_lin (nearest rank). */
  readonly qoeP5: number;
  /** All sessions' stalled seconds over all their watched seconds. */
  readonly rebufferRatio: number;
  readonly avgBitrateKbps: number;
  readonly switchesPerMin: number;
  readonly latencySecMean: number;
  /** Share of all downloaded segments at each profile. */
  readonly timeAtProfile: Readonly<Record<ProfileName, number>>;
}

/** Nearest-rank percentile (p in 0-100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

const mean = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;

/** Figures over many sessions of one policy. */
export function aggregateQoe(sessions: readonly SessionQoe[]): AggregateQoe {
  const rebuffer = sessions.reduce((a, s) => a + s.rebufferSec, 0);
  const watched = sessions.reduce((a, s) => a + s.watchSec, 0);
  const segments = sessions.reduce((a, s) => a + s.segments, 0);
  const timeAtProfile = Object.fromEntries(
    PROFILE_NAMES.map((name) => [
      name,
      segments > 0
        ? sessions.reduce((a, s) => a + s.timeAtProfile[name] * s.segments, 0) / segments
        : 0,
    ]),
  ) as Record<ProfileName, number>;
  return {
    sessions: sessions.length,
    qoeMean: mean(sessions.map((s) => s.qoeLin)),
    qoeP5: percentile(
      sessions.map((s) => s.qoeLin),
      5,
    ),
    rebufferRatio: watched > 0 ? rebuffer / watched : 0,
    avgBitrateKbps: mean(sessions.map((s) => s.avgBitrateKbps)),
    switchesPerMin: mean(sessions.map((s) => s.switchesPerMin)),
    latencySecMean: mean(sessions.map((s) => s.latencySecMean)),
    timeAtProfile,
  };
}

/** What bench:abr writes to bench/.cache/abr-result.json, field for field. */
export interface AbrResult {
  readonly policies: readonly {
    readonly policy: string;
    readonly qoe_mean: number;
    readonly qoe_p5: number;
    readonly rebuffer_ratio: number;
    readonly avg_bitrate_kbps: number;
    readonly switches_per_min: number;
    /**
     * Rebuffer ratio over the traces whose bandwidth never falls below the lowest rendition's
     * mean bitrate (there a policy can avoid every stall), when the benchmark computed it.
     */
    readonly rebuffer_ratio_link_above_lowest?: number;
  }[];
  /** The policy the server uses when none is chosen. */
  readonly default: string;
}

export function abrResult(
  policies: readonly (readonly [string, AggregateQoe, AggregateQoe?])[],
  defaultPolicy: string,
): AbrResult {
  return {
    policies: policies.map(([policy, all, aboveLowest]) => ({
      policy,
      qoe_mean: all.qoeMean,
      qoe_p5: all.qoeP5,
      rebuffer_ratio: all.rebufferRatio,
      avg_bitrate_kbps: all.avgBitrateKbps,
      switches_per_min: all.switchesPerMin,
      ...(aboveLowest && { rebuffer_ratio_link_above_lowest: aboveLowest.rebufferRatio }),
    })),
    default: defaultPolicy,
  };
}
