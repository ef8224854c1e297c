import type { LiveDistributor } from '../core/distributor.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { HealthReport } from './distribution-service.js';

/** When a live stream counts as healthy. */
export const STREAM_HEALTH_DEFAULTS = {
  /** A rendition is stalled once its newest segment is older than this many target durations. */
  freshTargetDurations: 3,
  /** A raised target duration (an encoder breaking its segment-length promise) shows this long. */
  targetRaiseShownMs: 60_000,
} as const;

export type StreamHealthSettings = { readonly [K in keyof typeof STREAM_HEALTH_DEFAULTS]: number };

/**
 * What health needs to know of the built-in encoder feeding a stream; the encoder judges its
 * own pace (the ingest layer owns that threshold).
 */
export interface EncoderPace {
  readonly jobId: string;
  readonly state: 'starting' | 'running' | 'restarting' | 'finished' | 'stopped';
  /** Media seconds encoded per wall-clock second lately (0 while stalled), once known. */
  readonly recentSpeed: number | undefined;
  /** Not keeping real time. */
  readonly behind: boolean;
}

/** The encoders, as health sees them (EncoderManager provides this). */
export interface EncoderPaces {
  statusFor(recordingId: string): EncoderPace | undefined;
}

/**
 * `waiting`: no segment yet (a stream started through the API before its encoder connected).
 * It does not degrade the server: the encoder timeout ends a stream that never gets media.
 */
export type StreamHealthStatus = 'healthy' | 'degraded' | 'waiting';

export interface StreamHealth {
  readonly recordingId: string;
  readonly status: StreamHealthStatus;
  /** Each names the stream, so they read on their own in the system's list. */
  readonly reasons: string[];
  /** Age of the newest segment of any rendition (ms); undefined before the first one. */
  readonly lastSegmentAgeMs: number | undefined;
  /** Age of each rendition's newest segment (ms), for the renditions that published one. */
  readonly renditionAgesMs: Readonly<Partial<Record<ProfileName, number>>>;
  readonly targetDurationSec: number;
  readonly encoder: EncoderPace | undefined;
}

/** The service's health with every live stream's, the stream reasons added to the system's. */
export interface SystemHealth extends HealthReport {
  readonly streams: StreamHealth[];
}

/** What health reads besides the streams and their encoders. */
export interface StreamHealthContext {
  readonly encoders: EncoderPaces;
  /** When a stream's target duration was last raised (target-raises.ts), if ever. */
  readonly targetRaisedAt?: (recordingId: string) => number | undefined;
  readonly settings?: StreamHealthSettings;
}

/**
 * Judges every live stream. Healthy when each rendition that has published keeps publishing (a
 * segment within `freshTargetDurations` target durations: one rendition stalling while the
 * others go on is a fault players switching to it meet), its target duration was not raised
 * lately, and a built-in encoder feeding it runs and keeps real time. A stream with no segment
 * yet is `waiting` unless its encoder is failing.
 */
export function streamHealth(
  streams: readonly LiveDistributor[],
  context: StreamHealthContext,
  now: number,
): StreamHealth[] {
  const settings = context.settings ?? STREAM_HEALTH_DEFAULTS;
  const judged: StreamHealth[] = [];
  for (const stream of streams) {
    if (stream.status !== 'live') continue;
    const id = stream.recordingId;
    const reasons: string[] = [];
    const target = stream.targetDurationSec;
    const limitMs = settings.freshTargetDurations * target * 1000;
    const limit = `more than ${settings.freshTargetDurations} target durations of ${target} s`;
    const published = stream.lastSegmentAtByProfile;
    const ages: Partial<Record<ProfileName, number>> = {};
    const stale: ProfileName[] = [];
    let newestAge: number | undefined;
    for (const profile of PROFILE_NAMES) {
      const at = published[profile];
      if (at === undefined) continue;
      const age = now - at;
      ages[profile] = age;
      if (newestAge === undefined || age < newestAge) newestAge = age;
      if (age > limitMs) stale.push(profile);
    }
    if (newestAge !== undefined && newestAge > limitMs) {
      reasons.push(`stream '${id}': no new segment for ${seconds(newestAge)} s (${limit})`);
    } else {
      for (const profile of stale)
        reasons.push(
          `stream '${id}': no new ${profile} segment for ${seconds(ages[profile] ?? 0)} s (${limit}) while other renditions go on`,
        );
    }
    const raisedAt = context.targetRaisedAt?.(id);
    if (raisedAt !== undefined && now - raisedAt < settings.targetRaiseShownMs) {
      reasons.push(
        `stream '${id}': a segment longer than promised raised the target duration to ${target} s ${seconds(now - raisedAt)} s ago`,
      );
    }
    const encoder = context.encoders.statusFor(id);
    if (encoder?.state === 'restarting') {
      reasons.push(`stream '${id}': encoder ${encoder.jobId} is restarting after ffmpeg exited`);
    } else if (encoder?.behind) {
      reasons.push(
        encoder.recentSpeed === 0
          ? `stream '${id}': encoder ${encoder.jobId} stalled (no progress)`
          : `stream '${id}': encoder ${encoder.jobId} behind real time (${encoder.recentSpeed}x)`,
      );
    }
    judged.push({
      recordingId: id,
      status: reasons.length ? 'degraded' : newestAge === undefined ? 'waiting' : 'healthy',
      reasons,
      lastSegmentAgeMs: newestAge,
      renditionAgesMs: ages,
      targetDurationSec: target,
      encoder,
    });
  }
  return judged;
}

/** The service's own health (queue, failures, draining) joined with every live stream's. */
export function systemHealth(
  service: HealthReport,
  streams: StreamHealth[],
  /** Reasons of the server's other parts (the RTMP listener restarting, say). */
  others: readonly string[] = [],
): SystemHealth {
  const reasons = [...service.reasons, ...others, ...streams.flatMap((s) => s.reasons)];
  return {
    status: reasons.length ? 'degraded' : 'healthy',
    accepting: service.accepting,
    reasons,
    streams,
  };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
