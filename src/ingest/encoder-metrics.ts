import { Gauge, type Registry } from 'prom-client';
import type { EncoderManager } from './encoder-manager.js';

/**
 * The built-in encoders' Prometheus metrics, read at scrape time: how many run, how many are
 * behind real time, and each running job's recent speed. Only running jobs have a speed series,
 * so ended jobs leave nothing behind (one job per stream at a time).
 */
export function registerEncoderMetrics(registry: Registry, encoders: EncoderManager): void {
  const registers = [registry];
  new Gauge({
    name: 'vtp_encoders_running',
    help: 'Built-in encoders running',
    registers,
    collect() {
      this.set(encoders.list().filter((e) => e.state === 'running').length);
    },
  });
  new Gauge({
    name: 'vtp_encoders_behind_real_time',
    help: 'Built-in encoders not keeping real time (or stalled)',
    registers,
    collect() {
      this.set(encoders.list().filter((e) => e.behind).length);
    },
  });
  new Gauge({
    name: 'vtp_encoder_speed',
    help: 'Media seconds a built-in encoder encoded per wall-clock second over the last window (1 = real time, 0 = stalled)',
    labelNames: ['stream', 'job'],
    registers,
    collect() {
      this.reset();
      for (const job of encoders.list()) {
        if (job.state !== 'running' || job.recentSpeed === undefined) continue;
        this.set({ stream: job.recordingId, job: job.jobId }, job.recentSpeed);
      }
    },
  });
}
