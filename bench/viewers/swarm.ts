/** Runs N viewers spread over load-generator child processes and merges their stats. */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './child-process.js';
import { mergeLatency } from './latency.js';
import { clock, newSwarmStats } from './load-client.js';
import { PROFILE_NAMES, type ProfileName } from './profiles.js';
import type {
  ConnectionMode,
  FromGenerator,
  GeneratorData,
  SwarmStats,
  ToGenerator,
} from './swarm-protocol.js';
import { onTeardown } from './teardown.js';

export interface SwarmOptions {
  /** Entry points; viewers are dealt over them in turn (one origin, or several edges). */
  readonly origins: readonly string[];
  readonly masterPath: string;
  readonly viewers: number;
  /** Relative weights of VeryLow, Low, Medium, High. */
  readonly mix: readonly number[];
  readonly generators: number;
  readonly connections: ConnectionMode;
  readonly pollMs: number;
  readonly startSegments: number;
  readonly requestTimeoutMs: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly drainMs: number;
  readonly expectedBytes: Readonly<Record<ProfileName, readonly number[]>>;
}

/** CPU seconds used so far by whatever is sampled. */
export type CpuProbe = () => number;

/** What is sampled at the window's edges (the generators are sampled by the swarm itself). */
export interface CpuProbes {
  /** Every process of the target: origin, its workers, its edges. */
  readonly target: CpuProbe;
  /** The bench's own process: the live publisher (replayer) and this coordinator. */
  readonly publisher: CpuProbe;
  readonly machine: CpuProbe;
  readonly irq: CpuProbe;
  /** Machine-wide counters read over the whole run (connection ramp included). */
  readonly listenDrops: CpuProbe;
  /** CPU seconds of one generator process. */
  readonly processCpu: (pid: number) => number;
}

export interface SwarmResult {
  readonly stats: SwarmStats;
  readonly seconds: number;
  readonly targetCpuSeconds: number;
  readonly generatorCpuSeconds: number;
  readonly publisherCpuSeconds: number;
  /** Busy CPU of the whole machine, all processes and the kernel. */
  readonly machineCpuSeconds: number;
  /** Of which interrupts and softirqs (loopback TCP). */
  readonly irqCpuSeconds: number;
  /** SYNs or connections the kernel dropped because a listen queue was full, over the run. */
  readonly listenDrops: number;
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
  into.segmentsChecked += from.segmentsChecked;
  into.connects += from.connects;
  into.loopDelayP99Ms = Math.max(into.loopDelayP99Ms, from.loopDelayP99Ms);
}

const GENERATOR_ENTRY = fileURLToPath(new URL('./generator-process.ts', import.meta.url));

/** A generator child, set up with `data`; resolves once it is ready to start. */
async function startGenerator(data: GeneratorData): Promise<ChildProcess> {
  const child = track(
    fork(GENERATOR_ENTRY, [], {
      // BENCH_GENERATOR_NODE_ARGS adds Node flags (e.g. `--cpu-prof`) to the generators alone.
      execArgv: [
        ...(process.env.BENCH_GENERATOR_NODE_ARGS ?? '').split(' ').filter(Boolean),
        '--import',
        'tsx',
      ],
      // Typed arrays (latency histograms) cross as themselves.
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.once('message', (message: FromGenerator) =>
      message.type === 'ready' ? resolve() : reject(new Error('generator did not get ready')),
    );
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`generator exited (${code}) before ready`)));
  });
  const setup: ToGenerator = { type: 'setup', data };
  child.send(setup);
  try {
    await ready;
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return child;
}

function result(child: ChildProcess): Promise<SwarmStats> {
  return new Promise<SwarmStats>((resolve, reject) => {
    child.on('message', (message: FromGenerator) => {
      if (message.type === 'done') resolve(message.stats);
      if (message.type === 'failed') reject(new Error(`generator: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`generator exited (${code}) before its stats`)));
  });
}

/** Warm-up, then a measured window; CPU of target, generators and machine sampled at its edges. */
export async function runSwarm(options: SwarmOptions, probes: CpuProbes): Promise<SwarmResult> {
  const profiles = assignProfiles(options.viewers, options.mix);
  const viewers = profiles.map((profile, i) => ({ profile, origin: i % options.origins.length }));
  const count = Math.max(1, Math.min(options.generators, options.viewers));
  // A shared pool is split over generators and origins; `per-viewer` needs no split.
  const perGenerator = (total: number) =>
    Math.max(1, Math.round(total / count / options.origins.length));
  const connections =
    options.connections === 'per-viewer' ? 'per-viewer' : perGenerator(options.connections);
  const children: ChildProcess[] = [];
  const removeTeardown = onTeardown(async () => {
    await Promise.all(children.map((c) => stopChild(c, 1000)));
  });
  try {
    const started = Array.from({ length: count }, (_, g) =>
      startGenerator({
        origins: options.origins,
        masterPath: options.masterPath,
        viewers: viewers.filter((_, i) => i % count === g),
        connections,
        pollMs: options.pollMs,
        startSegments: options.startSegments,
        requestTimeoutMs: options.requestTimeoutMs,
        expectedBytes: options.expectedBytes,
      }).then((child) => {
        children.push(child);
        return child;
      }),
    );
    const settled = await Promise.allSettled(started);
    const refused = settled.find((s) => s.status === 'rejected');
    if (refused) throw refused.reason;
    const generators = children.slice();
    const generatorCpu = () =>
      generators.reduce((sum, child) => sum + (child.pid ? probes.processCpu(child.pid) : 0), 0);
    const results = Promise.all(generators.map(result));
    results.catch(() => {}); // awaited below; avoids an unhandled rejection meanwhile
    const dropsBefore = probes.listenDrops();
    const startAt = clock() + 100;
    const schedule = {
      startAt,
      measureFrom: startAt + options.warmupMs,
      measureUntil: startAt + options.warmupMs + options.measureMs,
      drainMs: options.drainMs,
    };
    const start: ToGenerator = { type: 'start', schedule };
    for (const child of generators) child.send(start);
    const at = async (time: number) => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, time - clock())));
      return {
        target: probes.target(),
        generator: generatorCpu(),
        publisher: probes.publisher(),
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
      targetCpuSeconds: last.target - first.target,
      generatorCpuSeconds: last.generator - first.generator,
      publisherCpuSeconds: last.publisher - first.publisher,
      machineCpuSeconds: last.machine - first.machine,
      irqCpuSeconds: last.irq - first.irq,
      listenDrops: probes.listenDrops() - dropsBefore,
      viewersByProfile,
    };
  } finally {
    removeTeardown();
    // Generators exit by themselves once they have reported (profiles get written); then force.
    await Promise.all(children.map((c) => exited(c, 3000).then(() => stopChild(c, 1000))));
  }
}

/** Resolves when `child` has exited or `ms` have passed, whichever is first. */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
