import { Gauge, type Registry } from 'prom-client';
import type { EncoderStatus } from './encoder-job.js';
import type { EncoderManager } from './encoder-manager.js';

/** How many built-in encoders run, and how many of them do not keep real time (or stalled). */
export interface EncoderCounts {
  readonly running: number;
  readonly behindRealTime: number;
}

/** The one count of encoders that /metrics and /api/v1/distribution/metrics both report. */
export function countEncoders(jobs: readonly EncoderStatus[]): EncoderCounts {
  let running = 0;
  let behindRealTime = 0;
  for (const job of jobs) {
    if (job.state === 'running') running++;
    if (job.behind) behindRealTime++;
  }
  return { running, behindRealTime };
}

/**
 * The built-in encoders' Prometheus metrics, read at scrape time: how many run, how many are
 * behind real time, and each running job's recent speed. Only running jobs have a speed series,
 * so ended jobs leave nothing behind (one job per stream at a time).
 */
export function registerEncoderMetrics(registry: Registry, encoders: EncoderManager): void {
  const registers = [registry];
  // One reading of the jobs per scrape: every collect() of a scrape runs before the next turn.
  let snapshot: { jobs: EncoderStatus[]; counts: EncoderCounts } | undefined;
  const read = () => {
    if (!snapshot) {
      const jobs = encoders.list();
      snapshot = { jobs, counts: countEncoders(jobs) };
      setImmediate(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };
  new Gauge({
    name: 'vtp_encoders_running',
    help: 'Built-in encoders running',
    registers,
    collect() {
      this.set(read().counts.running);
    },
  });
  new Gauge({
    name: 'vtp_encoders_behind_real_time',
    help: 'Built-in encoders not keeping real time (or stalled)',
    registers,
    collect() {
      this.set(read().counts.behindRealTime);
    },
  });
  new Gauge({
    name: 'vtp_encoder_speed',
    help: 'Media seconds a built-in encoder encoded per wall-clock second over the last window (1 = real time, 0 = stalled)',
    labelNames: ['stream', 'job'],
    registers,
    collect() {
      this.reset();
      for (const job of read().jobs) {
        if (job.state !== 'running' || job.recentSpeed === undefined) continue;
        this.set({ stream: job.recordingId, job: job.jobId }, job.recentSpeed);
      }
    },
  });
}
