/** Mergeable log-bucket latency histogram (2 % resolution, 1 µs to ~10 min) for p50/p99. */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
export const LATENCY_BUCKETS = Math.ceil(Math.log(600e6) / LOG_GROWTH) + 1;

/** A fresh histogram: counts per bucket, plain typed array so it crosses worker boundaries. */
export function newLatencyHistogram(): Uint32Array {
  return new Uint32Array(LATENCY_BUCKETS);
}

/** Counts one observation of `ms` milliseconds. */
export function recordLatency(histogram: Uint32Array, ms: number): void {
  const us = Math.max(1, ms * 1000);
  const index = Math.min(LATENCY_BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH));
  histogram[index] = (histogram[index] ?? 0) + 1;
}

/** Adds `from` into `into`. */
export function mergeLatency(into: Uint32Array, from: Uint32Array): void {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
}

/** The latency (ms, bucket upper bound) below which `q` (0..1) of observations fall; NaN if empty. */
export function latencyQuantile(histogram: Uint32Array, q: number): number {
  let total = 0;
  for (const count of histogram) total += count;
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i] ?? 0;
    if (seen >= rank) return GROWTH ** i / 1000;
  }
  return GROWTH ** (histogram.length - 1) / 1000;
}
