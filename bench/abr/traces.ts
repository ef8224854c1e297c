/**
 * Network traces for the ABR simulator: a bandwidth per second (kbps, the trace repeats after its
 * end) and a request round-trip time. Most come from a port of Pensieve's synthetic Markov
 * generator; the rest are hand-made shapes a lecture viewer meets (a step down, a ramp, a link
 * that oscillates, an outage). Everything is drawn from one seeded generator, so a seed names
 * the same traces on every machine.
 */

export type TraceKind = 'markov' | 'step' | 'ramp' | 'oscillating' | 'outage' | 'constant';

export interface NetworkTrace {
  readonly name: string;
  readonly kind: TraceKind;
  /** Round-trip time of every request, ms. */
  readonly rttMs: number;
  /** Bandwidth during second i of the trace, kbps; second i of a longer session is i mod length. */
  readonly kbps: readonly number[];
}

export const TRACE_SEC = 320;
export const MIN_KBPS = 200;
export const MAX_KBPS = 6000;

/**
 * mulberry32: a 32-bit seeded generator in a few lines (Math.random cannot be seeded, and the
 * benchmark needs the same traces on every run). Returns floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller) from a uniform generator. */
function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) is never taken
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function uniform(random: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}

function integer(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

const clampKbps = (kbps: number) => Math.min(MAX_KBPS, Math.max(MIN_KBPS, kbps));

export interface MarkovParams {
  /** Mean seconds in a state: the chance to stay each second is 1 - 1/stayMeanSec. */
  readonly stayMeanSec: number;
  /** Seconds a noise draw holds before the next one. */
  readonly noiseHoldSec: number;
  /** Noise standard deviation as a share of the state's mean. */
  readonly cov: number;
  /** Number of states, evenly spaced from minKbps to maxKbps. */
  readonly states: number;
  readonly minKbps: number;
  readonly maxKbps: number;
}

/**
 * The ratio r of Pensieve's geometric jump weights 1/r^d (d = 1..n states away), chosen so the
 * n weights sum to 1: the positive root of sum 1/r^d = 1, found by bisection on [1, 2].
 */
function switchParameter(n: number): number {
  const excess = (r: number) => {
    let sum = 0;
    for (let d = 1; d <= n; d++) sum += r ** -d;
    return sum - 1;
  };
  let lo = 1;
  let hi = 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (excess(mid) > 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Pensieve's synthetic trace generator: a Markov chain over `states` evenly spaced mean
 * bandwidths; each second it stays with probability 1 - 1/stayMeanSec, otherwise it jumps d states
 * up or down with probability proportional to 1/r^d (d up to the farthest state reachable,
 * either direction when both exist, at even odds); the bandwidth is the state's mean plus Gaussian
 * noise (standard deviation cov x mean) redrawn every noiseHoldSec seconds and on every jump.
 *
 * Bugs of the published code, fixed here:
 * - the drawn bin's 0-based index was used as the jump distance, so the likeliest "jump" moved
 *   zero states and the farthest state could never be reached in one jump: distance = bin + 1;
 * - the weight list stopped one distance short (range(1, steps - 1)): here d = 1..states - 1;
 * - the first state came from randint(0, steps - 1), whose upper bound is exclusive, so a trace
 *   never started in the top state: here any state;
 * - the ratio r was the real part of whichever root numpy listed first (the order is unspecified,
 *   so it could be a complex or negative root): here the positive real root;
 * - noise was only floored (at 0.1 Mbps) and could exceed the stated maximum: here every value is
 *   clamped to [MIN_KBPS, MAX_KBPS].
 * (The published code calls the noise's standard deviation its "variance"; it is used as a
 * standard deviation there and here.)
 */
export function markovTrace(
  params: MarkovParams,
  random: () => number,
  seconds = TRACE_SEC,
): number[] {
  const { states } = params;
  const means = Array.from({ length: states }, (_, i) =>
    states === 1
      ? params.minKbps
      : params.minKbps + ((params.maxKbps - params.minKbps) * i) / (states - 1),
  );
  const r = switchParameter(Math.max(1, states - 1));
  const stay = 1 - 1 / params.stayMeanSec;
  let state = integer(random, 0, states - 1);
  let noise = 0;
  let hold = 0;
  const out: number[] = [];
  for (let s = 0; s < seconds; s++) {
    const mean = means[state] as number;
    if (hold <= 0) {
      noise = normal(random) * params.cov * mean;
      hold = params.noiseHoldSec;
    }
    out.push(clampKbps(mean + noise));
    hold -= 1;
    const next = states > 1 && random() >= stay ? jump(state, states, r, random) : state;
    if (next !== state) hold = 0;
    state = next;
  }
  return out;
}

function jump(state: number, states: number, r: number, random: () => number): number {
  const farthest = Math.max(state, states - 1 - state);
  let total = 0;
  for (let d = 1; d <= farthest; d++) total += r ** -d;
  const draw = random() * total;
  let distance = farthest;
  let running = 0;
  for (let d = 1; d <= farthest; d++) {
    running += r ** -d;
    if (draw < running) {
      distance = d;
      break;
    }
  }
  const up = state + distance;
  const down = state - distance;
  if (up <= states - 1 && down >= 0) return random() < 0.5 ? up : down;
  return up <= states - 1 ? up : down;
}

/** A trace of `seconds` at `kbps` (for tests and the constant cases). */
export function constantTrace(kbps: number, rttMs = 0, seconds = TRACE_SEC): NetworkTrace {
  return {
    name: `constant-${kbps}`,
    kind: 'constant',
    rttMs,
    kbps: Array.from({ length: seconds }, () => kbps),
  };
}

/** `base` kbps with no bandwidth at all from `fromSec` for `lengthSec`. */
export function outageTrace(
  base: number,
  fromSec: number,
  lengthSec: number,
  rttMs = 0,
  seconds = TRACE_SEC,
): NetworkTrace {
  return {
    name: `outage-${base}-${lengthSec}s@${fromSec}`,
    kind: 'outage',
    rttMs,
    kbps: Array.from({ length: seconds }, (_, s) =>
      s >= fromSec && s < fromSec + lengthSec ? 0 : base,
    ),
  };
}

/** Counts of each kind in `generateTraces`. */
export const TRACE_MIX = { markov: 150, step: 15, ramp: 10, oscillating: 15, outage: 10 } as const;

/**
 * The benchmark's traces for a seed: TRACE_MIX of each kind, TRACE_SEC seconds each, bandwidth
 * within [MIN_KBPS, MAX_KBPS] (but 0 during an outage), round-trip times of 20-150 ms.
 */
export function generateTraces(seed: number): NetworkTrace[] {
  const random = mulberry32(seed);
  const rtt = () => Math.round(uniform(random, 20, 150));
  const level = () => Math.round(Math.exp(uniform(random, Math.log(MIN_KBPS), Math.log(MAX_KBPS))));
  const traces: NetworkTrace[] = [];
  for (let i = 0; i < TRACE_MIX.markov; i++) {
    const minKbps = Math.round(uniform(random, MIN_KBPS, 2500));
    const maxKbps = Math.round(uniform(random, Math.min(MAX_KBPS, minKbps + 300), MAX_KBPS));
    // Pensieve's ranges: noise 5-50% of the mean; states held seconds to a minute.
    const params: MarkovParams = {
      stayMeanSec: uniform(random, 5, 60),
      noiseHoldSec: integer(random, 1, 10),
      cov: uniform(random, 0.05, 0.5),
      states: integer(random, 2, 10),
      minKbps,
      maxKbps,
    };
    traces.push({
      name: `markov-${i}`,
      kind: 'markov',
      rttMs: rtt(),
      kbps: markovTrace(params, random),
    });
  }
  for (let i = 0; i < TRACE_MIX.step; i++) {
    // High, then low for a while, then high again (the baseline's 6 -> 0.8 -> 6 shape).
    const high = Math.max(level(), 1500);
    const low = Math.min(level(), high * 0.5);
    const from = integer(random, 30, 150);
    const length = integer(random, 20, 120);
    const kbps = Array.from({ length: TRACE_SEC }, (_, s) =>
      clampKbps(s >= from && s < from + length ? low : high),
    );
    traces.push({ name: `step-${i}`, kind: 'step', rttMs: rtt(), kbps });
  }
  for (let i = 0; i < TRACE_MIX.ramp; i++) {
    // A linear ramp over the whole trace, up or down.
    const a = level();
    const b = level();
    const kbps = Array.from({ length: TRACE_SEC }, (_, s) =>
      clampKbps(a + ((b - a) * s) / (TRACE_SEC - 1)),
    );
    traces.push({ name: `ramp-${i}`, kind: 'ramp', rttMs: rtt(), kbps });
  }
  for (let i = 0; i < TRACE_MIX.oscillating; i++) {
    // Two levels alternating every halfPeriod seconds (the baseline's 3 / 0.7 every 10 s).
    const high = Math.max(level(), 1000);
    const low = Math.min(level(), high * 0.6);
    const half = integer(random, 4, 30);
    const kbps = Array.from({ length: TRACE_SEC }, (_, s) =>
      clampKbps(Math.floor(s / half) % 2 === 0 ? high : low),
    );
    traces.push({ name: `oscillating-${i}`, kind: 'oscillating', rttMs: rtt(), kbps });
  }
  for (let i = 0; i < TRACE_MIX.outage; i++) {
    const base = Math.max(level(), 800);
    const trace = outageTrace(base, integer(random, 30, 200), integer(random, 3, 30), rtt());
    traces.push({ ...trace, name: `outage-${i}` });
  }
  return traces;
}
