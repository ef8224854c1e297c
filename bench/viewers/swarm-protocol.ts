/** Messages between the bench's main process and its load-generator child processes. */
import type { ProfileName } from './profiles.js';

/** One keep-alive connection per viewer, as players have, or a pool of N shared by all viewers. */
export type ConnectionMode = 'per-viewer' | number;

export interface GeneratorData {
  /** Entry points (`http://127.0.0.1:PORT`); a viewer uses `origins[viewer.origin]`. */
  readonly origins: readonly string[];
  /** Path of the multivariant playlist, e.g. `/live/bench/master.m3u8`. */
  readonly masterPath: string;
  /** The viewers this generator simulates. */
  readonly viewers: readonly { readonly profile: ProfileName; readonly origin: number }[];
  /** `per-viewer`, or this generator's share of the shared pool, per origin. */
  readonly connections: ConnectionMode;
  readonly pollMs: number;
  /** Segments a new viewer fetches from the live edge on its first poll. */
  readonly startSegments: number;
  readonly requestTimeoutMs: number;
  /** Byte sizes of the ladder's segments per profile, indexed by media sequence modulo count. */
  readonly expectedBytes: Readonly<Record<ProfileName, readonly number[]>>;
}

/** Absolute times (ms since the epoch, `performance.timeOrigin + now()`) for this run. */
export interface SwarmSchedule {
  readonly startAt: number;
  readonly measureFrom: number;
  readonly measureUntil: number;
  /** In-flight requests get this long after `measureUntil` before connections are closed. */
  readonly drainMs: number;
}

export type ToGenerator =
  | { readonly type: 'setup'; readonly data: GeneratorData }
  | { readonly type: 'start'; readonly schedule: SwarmSchedule };

export interface KindStats {
  requests: number;
  bytes: number;
  errors: number;
  /** Log-bucket histogram (see latency.ts) of time to the full response body. */
  latency: Uint32Array;
}

export interface SwarmStats {
  readonly playlist: KindStats;
  readonly segment: KindStats;
  readonly errorKinds: Record<string, number>;
  /** Polls that came due while the viewer was still busy with the previous cycle. */
  latePolls: number;
  /** Segments that left the playlist before the viewer got to fetch them. */
  missedSegments: number;
  /** Viewers that got a usable media playlist at least once. */
  viewersPlaying: number;
  /** Segment bodies in the window whose byte count equalled the published file's size. */
  segmentsChecked: number;
  /** TCP connections opened over the whole run (warm-up included). */
  connects: number;
  /** Worst generator's p99 event-loop delay (ms) in the window: high means the generator lags. */
  loopDelayP99Ms: number;
}

export type FromGenerator =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly stats: SwarmStats }
  | { readonly type: 'failed'; readonly message: string };
