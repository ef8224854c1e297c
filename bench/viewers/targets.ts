/** The origins under test: each starts fresh, takes the live ladder through a sink, and stops. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetName } from './config.js';
import { DirSink } from './dir-sink.js';
import { IngestSink } from './ingest-sink.js';
import type { Ladder } from './ladder-cache.js';
import { startNginx } from './nginx.js';
import { processTreeCpuSeconds } from './process-cpu.js';
import type { LiveSink } from './replayer.js';
import { startVtpServer } from './vtp-server.js';

export const RECORDING_ID = 'bench';

export interface RunningTarget {
  readonly label: string;
  readonly origin: string;
  readonly masterPath: string;
  readonly sink: LiveSink;
  /** CPU seconds used so far by the origin's processes (/proc/<pid>/stat, whole tree). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

async function startNginxTarget(ladder: Ladder): Promise<RunningTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'vtp-bench-nginx-'));
  try {
    const root = join(dir, 'www');
    const sink = await DirSink.create(root, ladder.masterPlaylist);
    const nginx = await startNginx(join(dir, 'conf'), root);
    return {
      label: 'nginx',
      origin: nginx.origin,
      masterPath: '/master.m3u8',
      sink,
      cpuSeconds: () => processTreeCpuSeconds(nginx.pid),
      stop: async () => {
        await nginx.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startVtpTarget(maxViewers: number): Promise<RunningTarget> {
  const server = await startVtpServer(RECORDING_ID, maxViewers);
  const sink = new IngestSink(server.origin, RECORDING_ID);
  return {
    label: 'VTP Live',
    origin: server.origin,
    masterPath: `/live/${RECORDING_ID}/master.m3u8`,
    sink,
    cpuSeconds: () => processTreeCpuSeconds(server.pid),
    stop: async () => {
      await sink.close();
      await server.stop();
    },
  };
}

/** Starts `name` ready to take segments; the caller must `stop()` it. */
export function startTarget(name: TargetName, ladder: Ladder, viewers: number) {
  // Room above the swarm so a cap never turns the measurement into a 503 test.
  return name === 'nginx'
    ? startNginxTarget(ladder)
    : startVtpTarget(Math.max(10_000, viewers * 2));
}
