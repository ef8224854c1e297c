/** Runs N viewers spread over worker threads against one origin and merges their stats. */
import { Worker } from 'node:worker_threads';
import { mergeLatency } from './latency.js';
import { clock, newSwarmStats } from './load-client.js';
import { PROFILE_NAMES, type ProfileName } from './profiles.js';
import type { FromWorker, SwarmStats, SwarmWorkerData, ToWorker } from './swarm-protocol.js';
import { onTeardown } from './teardown.js';

export interface SwarmOptions {
  readonly origin: string;
  readonly masterPath: string;
  readonly viewers: number;
  /** Relative weights of VeryLow, Low, Medium, High. */
  readonly mix: readonly number[];
  readonly workers: number;
  readonly connections: number;
  readonly pollMs: number;
  readonly startSegments: number;
  readonly requestTimeoutMs: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly drainMs: number;
}

/** CPU seconds used so far by whatever is sampled (origin server, this process). */
export type CpuProbe = () => number;

/** What is sampled at the window's edges. */
export interface CpuProbes {
  readonly origin: CpuProbe;
  readonly generator: CpuProbe;
  readonly machine: CpuProbe;
  readonly irq: CpuProbe;
}

export interface SwarmResult {
  readonly stats: SwarmStats;
  readonly seconds: number;
  readonly originCpuSeconds: number;
  readonly generatorCpuSeconds: number;
  /** Busy CPU of the whole machine, all processes and the kernel. */
  readonly machineCpuSeconds: number;
  /** Of which interrupts and softirqs (loopback TCP). */
  readonly irqCpuSeconds: number;
  readonly viewersByProfile: Record<ProfileName, number>;
}

/** Exactly `total` profiles in the mix's proportions (largest remainder), shuffled. */
export function assignProfiles(total: number, mix: readonly number[]): ProfileName[] {
  const sum = mix.reduce((a, b) => a + b, 0);
  const exact = PROFILE_NAMES.map((_, i) => ((mix[i] ?? 0) / sum) * total);
  const counts = exact.map(Math.floor);
  const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r);
  for (let k = 0; k < total - counts.reduce((a, b) => a + b, 0); k++) {
    const slot = byRemainder[k % byRemainder.length];
    if (slot) counts[slot.i] = (counts[slot.i] ?? 0) + 1;
  }
  const profiles = PROFILE_NAMES.flatMap((name, i) =>
    Array<ProfileName>(counts[i] ?? 0).fill(name),
  );
  for (let i = profiles.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [profiles[i], profiles[j]] = [profiles[j] as ProfileName, profiles[i] as ProfileName];
  }
  return profiles;
}

function mergeStats(into: SwarmStats, from: SwarmStats): void {
  for (const kind of ['playlist', 'segment'] as const) {
    into[kind].requests += from[kind].requests;
    into[kind].bytes += from[kind].bytes;
    into[kind].errors += from[kind].errors;
    mergeLatency(into[kind].latency, from[kind].latency);
  }
  for (const [what, count] of Object.entries(from.errorKinds)) {
    into.errorKinds[what] = (into.errorKinds[what] ?? 0) + count;
  }
  into.latePolls += from.latePolls;
  into.missedSegments += from.missedSegments;
  into.viewersPlaying += from.viewersPlaying;
  into.loopDelayP99Ms = Math.max(into.loopDelayP99Ms, from.loopDelayP99Ms);
}

// Workers do not inherit tsx's loader hooks on Node 20, so each one registers tsx first.
const WORKER_BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./swarm-worker.ts', import.meta.url).href)}); })`;

function startWorker(data: SwarmWorkerData): { worker: Worker; ready: Promise<void> } {
  const worker = new Worker(WORKER_BOOTSTRAP, { eval: true, workerData: data });
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', (message: FromWorker) =>
      message.type === 'ready' ? resolve() : reject(new Error('worker did not get ready')),
    );
    worker.once('error', reject);
  });
  return { worker, ready };
}

function result(worker: Worker): Promise<SwarmStats> {
  return new Promise<SwarmStats>((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'done') resolve(message.stats);
      if (message.type === 'failed') reject(new Error(`viewer worker: ${message.message}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`viewer worker exited (${code}) early`)));
  });
}

/** Warm-up, then a measured window; origin and generator CPU are sampled at its edges. */
export async function runSwarm(options: SwarmOptions, probes: CpuProbes) {
  const profiles = assignProfiles(options.viewers, options.mix);
  const workerCount = Math.max(1, Math.min(options.workers, options.viewers));
  const started = Array.from({ length: workerCount }, (_, w) =>
    startWorker({
      origin: options.origin,
      masterPath: options.masterPath,
      profiles: profiles.filter((_, i) => i % workerCount === w),
      connections: Math.max(1, Math.round(options.connections / workerCount)),
      pollMs: options.pollMs,
      startSegments: options.startSegments,
      requestTimeoutMs: options.requestTimeoutMs,
    }),
  );
  const workers = started.map((s) => s.worker);
  const removeTeardown = onTeardown(async () => {
    await Promise.all(workers.map((w) => w.terminate()));
  });
  try {
    await Promise.all(started.map((s) => s.ready));
    const startAt = clock() + 100;
    const schedule = {
      startAt,
      measureFrom: startAt + options.warmupMs,
      measureUntil: startAt + options.warmupMs + options.measureMs,
      drainMs: options.drainMs,
    };
    const results = Promise.all(workers.map(result));
    results.catch(() => {}); // awaited below; avoids an unhandled rejection meanwhile
    const start: ToWorker = { type: 'start', schedule };
    for (const worker of workers) worker.postMessage(start);
    const at = async (time: number) => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, time - clock())));
      return {
        origin: probes.origin(),
        generator: probes.generator(),
        machine: probes.machine(),
        irq: probes.irq(),
      };
    };
    const first = await at(schedule.measureFrom);
    const last = await at(schedule.measureUntil);
    const stats = newSwarmStats();
    for (const s of await results) mergeStats(stats, s);
    const viewersByProfile = Object.fromEntries(
      PROFILE_NAMES.map((name) => [name, profiles.filter((p) => p === name).length]),
    ) as Record<ProfileName, number>;
    return {
      stats,
      seconds: options.measureMs / 1000,
      originCpuSeconds: last.origin - first.origin,
      generatorCpuSeconds: last.generator - first.generator,
      machineCpuSeconds: last.machine - first.machine,
      irqCpuSeconds: last.irq - first.irq,
      viewersByProfile,
    } satisfies SwarmResult;
  } finally {
    removeTeardown();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
