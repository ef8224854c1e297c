/** Turns measurements into the Markdown tables, the ratios to nginx and the JSON result. */
import { cpus } from 'node:os';
import { latencyQuantile, mergeLatency, newLatencyHistogram } from './latency.js';
import type { Measurement } from './measure-target.js';
import { SEGMENT_SECONDS } from './profiles.js';
import { TARGET_LABELS } from './targets.js';

export interface ResultRow {
  readonly target: string;
  readonly viewers: number;
  readonly connections: string;
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
  /** Every process of the target (origin, its workers, its edges). */
  readonly targetCpuSeconds: number;
  readonly targetCpuPercentOfCore: number;
  /** Target CPU per viewer: microseconds of CPU per second of watching. */
  readonly cpuMicrosPerViewerSecond: number;
  readonly generatorCpuPercentOfCore: number;
  readonly publisherCpuPercentOfCore: number;
  readonly machineCpuPercentOfCore: number;
  readonly irqCpuPercentOfCore: number;
  readonly listenDrops: number;
  readonly connects: number;
  readonly segmentsChecked: number;
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
  const percent = (cpuSeconds: number) => (100 * cpuSeconds) / seconds;
  return {
    target: m.target,
    viewers: m.viewers,
    connections: m.connections,
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
    targetCpuSeconds: m.swarm.targetCpuSeconds,
    targetCpuPercentOfCore: percent(m.swarm.targetCpuSeconds),
    cpuMicrosPerViewerSecond: (1e6 * m.swarm.targetCpuSeconds) / seconds / m.viewers,
    generatorCpuPercentOfCore: percent(m.swarm.generatorCpuSeconds),
    publisherCpuPercentOfCore: percent(m.swarm.publisherCpuSeconds),
    machineCpuPercentOfCore: percent(m.swarm.machineCpuSeconds),
    irqCpuPercentOfCore: percent(m.swarm.irqCpuSeconds),
    listenDrops: m.swarm.listenDrops,
    connects: stats.connects,
    segmentsChecked: stats.segmentsChecked,
    latePolls: stats.latePolls,
    missedSegments: stats.missedSegments,
    viewersPlaying: stats.viewersPlaying,
    generatorLoopDelayP99Ms: stats.loopDelayP99Ms,
    publishErrors: m.publishErrors,
  };
}

const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** The nginx row measured with the same viewers in this run, if any. */
function baselineOf(rows: readonly ResultRow[], row: ResultRow): ResultRow | undefined {
  return rows.find((r) => r.viewers === row.viewers && r.target === TARGET_LABELS.nginx);
}

/** Who limited the run, judged from demand met, late polls, CPU and the generator's lag. */
export function verdict(row: ResultRow): string {
  const capacity = cpus().length * 100;
  const met = row.requestsPerSec / row.expectedRequestsPerSec;
  const keepsUp = met >= 0.95 && row.latePolls <= row.viewers * 0.01;
  const rest =
    row.machineCpuPercentOfCore -
    row.targetCpuPercentOfCore -
    row.generatorCpuPercentOfCore -
    row.publisherCpuPercentOfCore -
    row.irqCpuPercentOfCore;
  const pace = `${fixed(met * 100, 0)} % of demand, ${row.latePolls} late polls`;
  const cpu = `CPU % of ${capacity}: target ${fixed(row.targetCpuPercentOfCore, 0)}, generator ${fixed(row.generatorCpuPercentOfCore, 0)}, publisher ${fixed(row.publisherCpuPercentOfCore, 0)}, softirq ${fixed(row.irqCpuPercentOfCore, 0)}, unattributed ${fixed(Math.max(0, rest), 0)} (kernel threads, other processes)`;
  const saturated = row.machineCpuPercentOfCore >= capacity * 0.85 ? '; machine CPU saturated' : '';
  const lag = row.generatorLoopDelayP99Ms;
  const lagNote = `generator event-loop p99 ${fixed(lag, 0)} ms`;
  const where =
    lag > 50
      ? `${lagNote}: the generator lags, latency is partly client-side`
      : row.p99Ms > 3 * lag
        ? `${lagNote}: the latency tail is the target's`
        : `${lagNote}: the latency tail is within generator jitter`;
  const shared = rest > 40 ? '; much unattributed CPU: rerun on an idle machine' : '';
  const drops =
    row.listenDrops > 0 ? `; ${row.listenDrops} connections dropped at a full listen queue` : '';
  return `${row.target} ${row.viewers}: ${keepsUp ? 'keeps up' : 'falls behind'} (${pace}); ${cpu}${saturated}; ${where}${drops}${shared}`;
}

/** The summary table with ratios to nginx, the detail table, verdicts and error kinds. */
export function markdown(rows: readonly ResultRow[]): string {
  const summary = [
    '| target | viewers | requests/s | p50 ms | p99 ms | errors | target CPU % of a core | CPU µs/s per viewer | CPU per viewer ÷ nginx | p99 ÷ nginx | generator CPU % of a core |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const base = baselineOf(rows, r);
    const cpuRatio = base
      ? fixed(r.cpuMicrosPerViewerSecond / base.cpuMicrosPerViewerSecond, 2)
      : 'n/a';
    const p99Ratio = base ? fixed(r.p99Ms / base.p99Ms, 2) : 'n/a';
    summary.push(
      `| ${r.target} | ${r.viewers} | ${fixed(r.requestsPerSec, 0)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${r.errors} | ${fixed(r.targetCpuPercentOfCore, 0)} | ${fixed(r.cpuMicrosPerViewerSecond, 1)} | ${cpuRatio} | ${p99Ratio} | ${fixed(r.generatorCpuPercentOfCore, 0)} |`,
    );
  }
  const detail = [
    '| target | viewers | connections | MB/s | segments checked | late polls | missed segments | listen drops | connects | publisher CPU % | softirq CPU % | machine CPU % |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    detail.push(
      `| ${r.target} | ${r.viewers} | ${r.connections} | ${fixed(r.megabytesPerSec, 1)} | ${r.segmentsChecked} | ${r.latePolls} | ${r.missedSegments} | ${r.listenDrops} | ${r.connects} | ${fixed(r.publisherCpuPercentOfCore, 0)} | ${fixed(r.irqCpuPercentOfCore, 0)} | ${fixed(r.machineCpuPercentOfCore, 0)} |`,
    );
  }
  const errors = rows
    .filter((r) => r.errors > 0)
    .map((r) => {
      const kinds = Object.entries(r.errorKinds).map(([what, n]) => `${what} ×${n}`);
      return `- ${r.target} ${r.viewers} errors: ${kinds.join(', ')}`;
    });
  return [...summary, '', ...detail, '', ...rows.map((r) => `- ${verdict(r)}`), ...errors].join(
    '\n',
  );
}
