import type { LiveDistributor } from '../core/distributor.js';
import type { HealthReport } from './distribution-service.js';

/** When a live stream counts as healthy. */
export const STREAM_HEALTH_DEFAULTS = {
  /** Ingest is stalled once the newest segment is older than this many target durations. */
  freshTargetDurations: 3,
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

export interface StreamHealth {
  readonly recordingId: string;
  readonly status: 'healthy' | 'degraded';
  /** Each names the stream, so they read on their own in the system's list. */
  readonly reasons: string[];
  /** Age of the newest segment (ms); undefined before the first one. */
  readonly lastSegmentAgeMs: number | undefined;
  readonly targetDurationSec: number;
  readonly encoder: EncoderPace | undefined;
}

/** The service's health with every live stream's, the stream reasons added to the system's. */
export interface SystemHealth extends HealthReport {
  readonly streams: StreamHealth[];
}

/**
 * Judges every live stream: healthy when its ingest is fresh (a segment within
 * `freshTargetDurations` target durations, counted from its start before the first one) and,
 * when a built-in encoder feeds it, that encoder runs and keeps real time.
 */
export function streamHealth(
  streams: readonly LiveDistributor[],
  encoders: EncoderPaces,
  now: number,
  settings: StreamHealthSettings = STREAM_HEALTH_DEFAULTS,
): StreamHealth[] {
  const judged: StreamHealth[] = [];
  for (const stream of streams) {
    if (stream.status !== 'live') continue;
    const id = stream.recordingId;
    const reasons: string[] = [];
    const target = stream.targetDurationSec;
    const lastActivity = stream.lastActivityAt();
    const hasSegment = stream.nextSequence > 0;
    const quietMs = now - lastActivity;
    const limitMs = settings.freshTargetDurations * target * 1000;
    if (quietMs > limitMs) {
      reasons.push(
        `stream '${id}': ${hasSegment ? 'no new segment' : 'no segment since it started'} for ${seconds(quietMs)} s (more than ${settings.freshTargetDurations} target durations of ${target} s)`,
      );
    }
    const encoder = encoders.statusFor(id);
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
      status: reasons.length ? 'degraded' : 'healthy',
      reasons,
      lastSegmentAgeMs: hasSegment ? quietMs : undefined,
      targetDurationSec: target,
      encoder,
    });
  }
  return judged;
}

/** The service's own health (queue, failures, draining) joined with every live stream's. */
export function systemHealth(service: HealthReport, streams: StreamHealth[]): SystemHealth {
  const reasons = [...service.reasons, ...streams.flatMap((s) => s.reasons)];
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
