/** One measurement: fresh origin, live replay with pre-roll, the viewer swarm, full teardown. */
import type { BenchConfig, TargetName } from './config.js';
import type { Ladder } from './ladder-cache.js';
import { machineBusyCpuSeconds, machineIrqCpuSeconds, selfCpuSeconds } from './process-cpu.js';
import { SEGMENT_SECONDS } from './profiles.js';
import { LiveReplayer } from './replayer.js';
import { runSwarm, type SwarmResult } from './swarm.js';
import { startTarget } from './targets.js';
import { onTeardown } from './teardown.js';

export interface Measurement {
  readonly target: string;
  readonly viewers: number;
  readonly swarm: SwarmResult;
  readonly publishErrors: number;
}

const PREROLL_SEGMENTS = 4; // ~8 s in the window before the first viewer arrives

export async function measureTarget(
  name: TargetName,
  viewers: number,
  ladder: Ladder,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<Measurement> {
  const target = await startTarget(name, ladder, viewers);
  const removeTeardown = onTeardown(() => target.stop());
  const replayer = new LiveReplayer(ladder, target.sink, { windowSegments: 6, graceSegments: 6 });
  try {
    try {
      await replayer.start(PREROLL_SEGMENTS);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${target.label}: publishing the pre-roll failed: ${reason}`);
    }
    log(
      `${target.label} at ${target.origin}: ${viewers} viewers, ${config.warmupSeconds} s warm-up, ${config.measureSeconds} s measured`,
    );
    const swarm = await runSwarm(
      {
        origin: target.origin,
        masterPath: target.masterPath,
        viewers,
        mix: config.mix,
        workers: config.workers,
        connections: config.connections,
        pollMs: SEGMENT_SECONDS * 1000,
        startSegments: config.startSegments,
        requestTimeoutMs: config.requestTimeoutSeconds * 1000,
        warmupMs: config.warmupSeconds * 1000,
        measureMs: config.measureSeconds * 1000,
        drainMs: 2000,
      },
      {
        origin: () => target.cpuSeconds(),
        generator: selfCpuSeconds,
        machine: machineBusyCpuSeconds,
        irq: machineIrqCpuSeconds,
      },
    );
    if (replayer.publishErrors > 0) {
      const reason = replayer.lastError instanceof Error ? replayer.lastError.message : '';
      log(`${target.label}: ${replayer.publishErrors} publish errors, last: ${reason}`);
    }
    return { target: target.label, viewers, swarm, publishErrors: replayer.publishErrors };
  } finally {
    replayer.stop();
    removeTeardown();
    await target.stop();
  }
}
