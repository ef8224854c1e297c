/** Messages between the bench's main thread and its viewer-swarm worker threads. */
import type { ProfileName } from './profiles.js';

export interface SwarmWorkerData {
  readonly origin: string;
  /** Path of the multivariant playlist on `origin`, e.g. `/live/bench/master.m3u8`. */
  readonly masterPath: string;
  /** One entry per viewer this worker simulates: the rendition it watches. */
  readonly profiles: readonly ProfileName[];
  readonly connections: number;
  readonly pollMs: number;
  /** Segments a new viewer fetches from the live edge on its first poll. */
  readonly startSegments: number;
  readonly requestTimeoutMs: number;
}

/** Absolute times (ms since the epoch, `performance.timeOrigin + now()`) for this run. */
export interface SwarmSchedule {
  readonly startAt: number;
  readonly measureFrom: number;
  readonly measureUntil: number;
  /** In-flight requests get this long after `measureUntil` before the pool is destroyed. */
  readonly drainMs: number;
}

export type ToWorker = { readonly type: 'start'; readonly schedule: SwarmSchedule };

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
  /** Worst worker's p99 event-loop delay (ms) in the window: high means the generator lags. */
  loopDelayP99Ms: number;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly stats: SwarmStats }
  | { readonly type: 'failed'; readonly message: string };
