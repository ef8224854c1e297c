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
} as const;

/** Worker processes for a `--processes` value: 0 (`auto`) is one per core. */
export function resolveProcesses(processes: number): number {
  return processes === 0 ? availableParallelism() : processes;
}
