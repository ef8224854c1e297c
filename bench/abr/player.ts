/**
 * A live HLS player over a network trace, one segment at a time, asking an AdaptationPolicy before
 * every download but the first. The model:
 * - segment k holds media [kD, (k+1)D) and is published at wall time (k+1)D (D = 2 s), so at
 *   wall time t the newest segment is floor(t/D) - 1 and media time equals capture time;
 * - the player starts at the live edge minus the hold-back (LIVE_BUFFER_SEGMENTS = 3 segments,
 *   hls.js's liveSyncDurationCount as our page sets it), fetches its first segment at the join's
 *   profile (no report has reached the server yet), and starts playing when that segment is in
 *   (that wait is the startup delay, not a stall);
 * - a download takes the RTT, then the segment's size at the trace's bandwidth, integrated
 *   second by second (an outage, 0 kbps, moves no data); the player measures size / (RTT +
 *   transfer) as hls.js does, and keeps the last 8 samples;
 * - it never fetches a segment before it is published, so its buffer is capped by the distance to
 *   the edge (the latency target): at the edge it waits for the next segment;
 * - when the buffer empties it stalls until the next segment is in;
 * - when the segment it needs has left the live playlist (CATCH_UP_SEGMENTS = HLS_DEFAULTS
 *   .playlistSegments = 6 segments behind the newest, after stalls) it jumps to the edge minus
 *   the hold-back, dropping its buffer, and stalls until that segment is in (as hls.js does when
 *   its position falls out of the sliding window).
 */
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import {
  type AdaptationDecision,
  type AdaptationPolicy,
  bufferHealthFromBufferLength,
  LIVE_BUFFER_SEGMENTS,
} from '../../src/core/quality.js';
import { HLS_DEFAULTS } from '../../src/service/hls-delivery.js';
import type { SegmentSizes } from './ladder.js';
import type { NetworkTrace } from './traces.js';

export const HOLD_BACK_SEGMENTS = LIVE_BUFFER_SEGMENTS;
export const CATCH_UP_SEGMENTS = HLS_DEFAULTS.playlistSegments;
/** The profile a join gets when it names none (the service's default). */
export const START_PROFILE: ProfileName = 'Low';
const SAMPLES_KEPT = 8;
/** Below this a leftover of float arithmetic, not a stall. */
const EPSILON = 1e-9;

export interface PlayerOptions {
  readonly sizes: SegmentSizes;
  /** Session length (wall seconds); the trace's length by default. */
  readonly durationSec?: number;
  readonly startProfile?: ProfileName;
  /** Which of the ladder's recorded segments the session's segment 0 is (sizes cycle). */
  readonly sizeOffset?: number;
}

export interface SegmentRecord {
  readonly index: number;
  readonly profile: ProfileName;
  readonly kbit: number;
  readonly requestedSec: number;
  readonly doneSec: number;
  readonly reason: string;
}

export interface SessionLog {
  readonly trace: string;
  readonly policy: string;
  readonly durationSec: number;
  /** Wall seconds from the first request to the first frame. */
  readonly startupSec: number;
  /** Seconds stalled after the first frame (catch-up waits included). */
  readonly rebufferSec: number;
  readonly stalls: number;
  readonly catchUps: number;
  /** Mean of (wall time - media time shown) from the first frame to the end. */
  readonly latencySecMean: number;
  /** Wall seconds from the first frame to the end (playing or stalled). */
  readonly watchSec: number;
  /** Every segment downloaded in full before the end, in order. */
  readonly segments: readonly SegmentRecord[];
}

/** Wall time at which `kbit` has arrived when the transfer starts at `start`, Infinity past `limit`. */
export function transferEnd(
  trace: NetworkTrace,
  start: number,
  kbit: number,
  limit: number,
): number {
  const n = trace.kbps.length;
  let t = start;
  let left = kbit;
  while (t < limit) {
    const second = Math.floor(t);
    const rate = trace.kbps[second % n] as number;
    const span = second + 1 - t;
    if (rate * span >= left) return t + left / rate;
    left -= rate * span;
    t = second + 1;
  }
  return Number.POSITIVE_INFINITY;
}

/** Plays one live session over `trace` with `policy`; deterministic. */
export function simulateSession(
  trace: NetworkTrace,
  policy: AdaptationPolicy,
  options: PlayerOptions,
): SessionLog {
  const { sizes } = options;
  const D = sizes.segmentSec;
  const end = options.durationSec ?? trace.kbps.length;
  const rtt = trace.rttMs / 1000;
  const offset = options.sizeOffset ?? 0;
  const sizeOf = (profile: ProfileName, index: number) => {
    const list = sizes.kbit[profile];
    return list[(((index + offset) % list.length) + list.length) % list.length] as number;
  };

  let t = 0;
  let next = -HOLD_BACK_SEGMENTS; // at t = 0 the newest published segment is -1
  let playhead = next * D;
  let buffer = 0;
  let started = false;
  let stalled = false;
  let startupSec = 0;
  let rebufferSec = 0;
  let stalls = 0;
  let catchUps = 0;
  let latencyIntegral = 0;
  let watchSec = 0;
  let current = options.startProfile ?? START_PROFILE;
  const samples: number[] = [];
  const segments: SegmentRecord[] = [];

  /** Plays (or stalls) from t to `until`. */
  const advance = (until: number) => {
    const dt = until - t;
    if (dt <= 0) return;
    if (started) {
      const play = Math.min(dt, buffer);
      const stall = dt - play;
      // Latency holds while playing and grows by the stall.
      latencyIntegral += (t - playhead) * dt + (stall * stall) / 2;
      watchSec += dt;
      buffer -= play;
      playhead += play;
      if (stall > EPSILON) {
        if (!stalled) stalls++;
        stalled = true;
        rebufferSec += stall;
      }
    }
    t = until;
  };

  while (t < end) {
    const newest = Math.floor(t / D + EPSILON) - 1;
    if (started && newest - next >= CATCH_UP_SEGMENTS) {
      catchUps++;
      next = newest - HOLD_BACK_SEGMENTS + 1;
      playhead = next * D;
      buffer = 0;
    }
    const publishedAt = (next + 1) * D;
    if (publishedAt > t + EPSILON) {
      advance(Math.min(publishedAt, end));
      continue;
    }
    const nextSegmentKbit: Partial<Record<ProfileName, number>> = {};
    for (const name of PROFILE_NAMES) nextSegmentKbit[name] = sizeOf(name, next);
    // The first segment goes at the join's profile, as the server hands it out before any report.
    const decision: AdaptationDecision =
      segments.length === 0
        ? { profile: current, reason: 'join profile' }
        : policy.decide({
            current,
            bufferHealth: bufferHealthFromBufferLength(buffer * 1000, current),
            bufferSec: buffer,
            throughputKbps: [...samples],
            segmentDurationSec: D,
            nextSegmentKbit,
          });
    current = decision.profile;
    const kbit = sizeOf(current, next);
    const requestedSec = t;
    const doneSec = transferEnd(trace, t + rtt, kbit, end);
    if (doneSec > end) break;
    advance(doneSec);
    samples.push(kbit / Math.max(doneSec - requestedSec, EPSILON));
    if (samples.length > SAMPLES_KEPT) samples.shift();
    segments.push({
      index: next,
      profile: current,
      kbit,
      requestedSec,
      doneSec,
      reason: decision.reason,
    });
    buffer += D;
    next++;
    stalled = false;
    if (!started) {
      started = true;
      startupSec = t;
    }
  }
  advance(end);
  return {
    trace: trace.name,
    policy: policy.name,
    durationSec: end,
    startupSec,
    rebufferSec,
    stalls,
    catchUps,
    latencySecMean: watchSec > 0 ? latencyIntegral / watchSec : 0,
    watchSec,
    segments,
  };
}
