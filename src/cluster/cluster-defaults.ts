import { availableParallelism } from 'node:os';

/**
 * Defaults of running on every core (`--processes`, src/cluster/). A module importing nothing
 * of ours, so the settings table can read it without a cycle.
 */
export const CLUSTER_DEFAULTS = {
  /**
   * HLS-serving worker processes; 1 serves from the one process as always (no workers), 0 is
   * one worker per core. One is the default: see the README, "Running on every core".
   */
  processes: 1,
  /** Most worker processes a server may run. */
  maxProcesses: 256,
  /** How often a worker sends what its viewers fetched to the primary. */
  usageIntervalMs: 100,
  /** Longest a control API read waits for the workers' pending counts. */
  flushWaitMs: 250,
  /** How often the primary checks settings it has no event for (CDN, media descriptions). */
  syncIntervalMs: 250,
  /** Wait before replacing a worker that died within `quickDeathMs` of its start (a crash loop). */
  restartDelayMs: 1000,
  quickDeathMs: 5000,
  /**
   * Bytes written to a worker's IPC channel that it has not taken yet, past which the primary
   * waits before writing more (a snapshot of a DVR window is gigabytes: it goes in steps).
   */
  maxInFlightBytes: 8 * 1024 * 1024,
  /**
   * Bytes of updates (segments, seats) a worker may leave unread before it counts as stuck and
   * is replaced: the backlog keeps segments alive past their retention. About four minutes of
   * one full ladder; its snapshot does not count.
   */
  maxUnsentBytes: 256 * 1024 * 1024,
  /** Of the shutdown deadline, what a draining worker keeps to send its last counts and exit. */
  workerExitMs: 250,
} as const;

/** Worker processes for a `--processes` value: 0 (`auto`) is one per core. */
export function resolveProcesses(processes: number): number {
  return processes === 0 ? availableParallelism() : processes;
}
