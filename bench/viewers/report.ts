/** Turns measurements into the Markdown table, the VTP/nginx ratios and the JSON result. */
import { cpus } from 'node:os';
import { latencyQuantile, mergeLatency, newLatencyHistogram } from './latency.js';
import type { Measurement } from './measure-target.js';
import { SEGMENT_SECONDS } from './profiles.js';

export interface ResultRow {
  readonly target: string;
  readonly viewers: number;
  readonly seconds: number;
  readonly requestsPerSec: number;
  /** Steady-state demand: one playlist and one segment per viewer per target duration. */
  readonly expectedRequestsPerSec: number;
  readonly megabytesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly segmentP99Ms: number;
  readonly playlistP99Ms: number;
  readonly errors: number;
  readonly errorKinds: Record<string, number>;
  readonly originCpuSeconds: number;
  readonly originCpuPercentOfCore: number;
  readonly generatorCpuSeconds: number;
  readonly generatorCpuPercentOfCore: number;
  readonly machineCpuPercentOfCore: number;
  readonly irqCpuPercentOfCore: number;
  readonly latePolls: number;
  readonly missedSegments: number;
  readonly viewersPlaying: number;
  readonly generatorLoopDelayP99Ms: number;
  readonly publishErrors: number;
}

export function toRow(m: Measurement): ResultRow {
  const { stats, seconds } = m.swarm;
  const all = newLatencyHistogram();
  mergeLatency(all, stats.playlist.latency);
  mergeLatency(all, stats.segment.latency);
  const requests = stats.playlist.requests + stats.segment.requests;
  const bytes = stats.playlist.bytes + stats.segment.bytes;
  return {
    target: m.target,
    viewers: m.viewers,
    seconds,
    requestsPerSec: requests / seconds,
    expectedRequestsPerSec: (2 * m.viewers) / SEGMENT_SECONDS,
    megabytesPerSec: bytes / 1e6 / seconds,
    p50Ms: latencyQuantile(all, 0.5),
    p99Ms: latencyQuantile(all, 0.99),
    segmentP99Ms: latencyQuantile(stats.segment.latency, 0.99),
    playlistP99Ms: latencyQuantile(stats.playlist.latency, 0.99),
    errors: stats.playlist.errors + stats.segment.errors,
    errorKinds: stats.errorKinds,
    originCpuSeconds: m.swarm.originCpuSeconds,
    originCpuPercentOfCore: (100 * m.swarm.originCpuSeconds) / seconds,
    generatorCpuSeconds: m.swarm.generatorCpuSeconds,
    generatorCpuPercentOfCore: (100 * m.swarm.generatorCpuSeconds) / seconds,
    machineCpuPercentOfCore: (100 * m.swarm.machineCpuSeconds) / seconds,
    irqCpuPercentOfCore: (100 * m.swarm.irqCpuSeconds) / seconds,
    latePolls: stats.latePolls,
    missedSegments: stats.missedSegments,
    viewersPlaying: stats.viewersPlaying,
    generatorLoopDelayP99Ms: stats.loopDelayP99Ms,
    publishErrors: m.publishErrors,
  };
}

const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** Who limited the run, judged from demand met, late polls, CPU and the generator's lag. */
export function verdict(row: ResultRow): string {
  const capacity = cpus().length * 100;
  const met = row.requestsPerSec / row.expectedRequestsPerSec;
  const keepsUp = met >= 0.95 && row.latePolls <= row.viewers * 0.01;
  const rest =
    row.machineCpuPercentOfCore -
    row.originCpuPercentOfCore -
    row.generatorCpuPercentOfCore -
    row.irqCpuPercentOfCore;
  const pace = `${fixed(met * 100, 0)} % of demand, ${row.latePolls} late polls`;
  const cpu = `CPU % of ${capacity}: origin ${fixed(row.originCpuPercentOfCore, 0)}, generator ${fixed(row.generatorCpuPercentOfCore, 0)}, softirq ${fixed(row.irqCpuPercentOfCore, 0)}, unattributed ${fixed(Math.max(0, rest), 0)} (kernel threads, other processes)`;
  const saturated = row.machineCpuPercentOfCore >= capacity * 0.85 ? '; machine CPU saturated' : '';
  const lag = row.generatorLoopDelayP99Ms;
  const lagNote = `generator event-loop p99 ${fixed(lag, 0)} ms`;
  const where =
    lag > 50
      ? `${lagNote}: the generator lags, latency is partly client-side`
      : row.p99Ms > 3 * lag
        ? `${lagNote}: the latency tail is the origin's`
        : `${lagNote}: the latency tail is within generator jitter`;
  const shared = rest > 40 ? '; much unattributed CPU: rerun on an idle machine' : '';
  return `${row.target} ${row.viewers}: ${keepsUp ? 'keeps up' : 'falls behind'} (${pace}); ${cpu}${saturated}; ${where}${shared}`;
}

/** The Markdown table and, per viewer count, the VTP Live / nginx requests/s ratio. */
export function markdown(rows: readonly ResultRow[]): string {
  const lines = [
    '| target | viewers | requests/s | MB/s | p50 ms | p99 ms | errors | origin CPU s | origin CPU % core | generator CPU % core | machine CPU % core | late polls |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.target} | ${r.viewers} | ${fixed(r.requestsPerSec, 0)} | ${fixed(r.megabytesPerSec, 1)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${r.errors} | ${fixed(r.originCpuSeconds, 2)} | ${fixed(r.originCpuPercentOfCore, 0)} | ${fixed(r.generatorCpuPercentOfCore, 0)} | ${fixed(r.machineCpuPercentOfCore, 0)} | ${r.latePolls} |`,
    );
  }
  const ratios: string[] = [];
  for (const viewers of new Set(rows.map((r) => r.viewers))) {
    const nginx = rows.find((r) => r.viewers === viewers && r.target === 'nginx');
    const vtp = rows.find((r) => r.viewers === viewers && r.target === 'VTP Live');
    if (nginx && vtp) {
      ratios.push(
        `- ${viewers} viewers: VTP Live / nginx requests/s = ${fixed(vtp.requestsPerSec / nginx.requestsPerSec, 3)}`,
      );
    }
  }
  return [
    ...lines,
    '',
    ...ratios,
    ...(ratios.length ? [''] : []),
    ...rows.map((r) => `- ${verdict(r)}`),
  ].join('\n');
}
