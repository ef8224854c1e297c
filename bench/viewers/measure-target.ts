/** One measurement: fresh target, live replay with pre-roll, the viewer swarm, full teardown. */
import type { BenchConfig, TargetName } from './config.js';
import type { Ladder } from './ladder-cache.js';
import { listenDrops } from './listen-drops.js';
import {
  machineBusyCpuSeconds,
  machineIrqCpuSeconds,
  processCpuSeconds,
  selfCpuSeconds,
} from './process-cpu.js';
import { PROFILE_NAMES, type ProfileName, SEGMENT_SECONDS } from './profiles.js';
import { LiveReplayer } from './replayer.js';
import { runSwarm, type SwarmResult } from './swarm.js';
import { startTarget } from './targets.js';
import { onTeardown } from './teardown.js';

export interface Measurement {
  readonly target: string;
  readonly viewers: number;
  readonly connections: string;
  readonly swarm: SwarmResult;
  readonly publishErrors: number;
}

const PREROLL_SEGMENTS = 4; // ~8 s in the window before the first viewer arrives

/** Byte sizes of the ladder's segments, as the replayer publishes them for sequence % count. */
function expectedBytes(ladder: Ladder): Record<ProfileName, number[]> {
  const loop = ladder.segments.get('VeryLow')?.length ?? 0;
  return Object.fromEntries(
    PROFILE_NAMES.map((name) => {
      const list = ladder.segments.get(name) ?? [];
      return [name, list.slice(0, loop).map((segment) => segment.bytes.byteLength)];
    }),
  ) as Record<ProfileName, number[]>;
}

export async function measureTarget(
  name: TargetName,
  viewers: number,
  ladder: Ladder,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<Measurement> {
  const target = await startTarget(name, ladder, viewers, config);
  const removeTeardown = onTeardown(() => target.stop());
  const replayer = new LiveReplayer(ladder, target.sink, { windowSegments: 6, graceSegments: 6 });
  try {
    try {
      await replayer.start(PREROLL_SEGMENTS);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${target.label}: publishing the pre-roll failed: ${reason}`);
    }
    const connections =
      config.connections === 'per-viewer' ? 'one per viewer' : `${config.connections} shared`;
    log(
      `${target.label} at ${target.origins.join(', ')}: ${viewers} viewers, connections: ${connections}, ${config.warmupSeconds} s warm-up, ${config.measureSeconds} s measured`,
    );
    const swarm = await runSwarm(
      {
        origins: target.origins,
        masterPath: target.masterPath,
        viewers,
        mix: config.mix,
        generators: config.generators,
        connections: config.connections,
        pollMs: SEGMENT_SECONDS * 1000,
        startSegments: config.startSegments,
        requestTimeoutMs: config.requestTimeoutSeconds * 1000,
        warmupMs: config.warmupSeconds * 1000,
        measureMs: config.measureSeconds * 1000,
        drainMs: 2000,
        expectedBytes: expectedBytes(ladder),
      },
      {
        target: () => target.cpuSeconds(),
        publisher: selfCpuSeconds,
        machine: machineBusyCpuSeconds,
        irq: machineIrqCpuSeconds,
        listenDrops,
        processCpu: processCpuSeconds,
      },
    );
    if (replayer.publishErrors > 0) {
      const reason = replayer.lastError instanceof Error ? replayer.lastError.message : '';
      log(`${target.label}: ${replayer.publishErrors} publish errors, last: ${reason}`);
    }
    return {
      target: target.label,
      viewers,
      connections,
      swarm,
      publishErrors: replayer.publishErrors,
    };
  } finally {
    replayer.stop();
    removeTeardown();
    await target.stop();
  }
}
