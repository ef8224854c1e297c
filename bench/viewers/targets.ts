/** The targets under test: each starts fresh, takes the live ladder through a sink, and stops. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchConfig, TargetName } from './config.js';
import { DirSink } from './dir-sink.js';
import { startEdge } from './edges.js';
import { IngestSink } from './ingest-sink.js';
import type { Ladder } from './ladder-cache.js';
import { type NginxServer, startNginx } from './nginx.js';
import { processTreeCpuSeconds } from './process-cpu.js';
import type { LiveSink } from './replayer.js';
import { RowSkipped } from './row-skipped.js';
import { ServerRefusedError, startVtpServer, type VtpServer } from './vtp-server.js';

export const RECORDING_ID = 'bench';

export const TARGET_LABELS: Record<TargetName, string> = {
  nginx: 'nginx',
  vtp: 'VTP Live',
  'vtp-multi': 'VTP Live multi-core',
  'vtp-edges': 'VTP Live behind 2 nginx edges',
};

export interface RunningTarget {
  readonly label: string;
  /** Where viewers connect; viewers are dealt over these in turn. */
  readonly origins: readonly string[];
  readonly masterPath: string;
  readonly sink: LiveSink;
  /** CPU seconds used so far by every process of the target (/proc/<pid>/stat, whole trees). */
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
      label: TARGET_LABELS.nginx,
      origins: [nginx.origin],
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

/** The server with `serveArgs`; RowSkipped when it exits on a flag this checkout lacks. */
async function startServer(maxViewers: number, serveArgs: readonly string[]): Promise<VtpServer> {
  try {
    return await startVtpServer(RECORDING_ID, maxViewers, serveArgs);
  } catch (error) {
    const flag = serveArgs[0];
    if (error instanceof ServerRefusedError && flag && error.stderr.includes(flag)) {
      const said = error.stderr.trim().split('\n')[0];
      throw new RowSkipped(`\`serve ${serveArgs.join(' ')}\` was refused (${said})`);
    }
    throw error;
  }
}

async function startVtpTarget(
  name: 'vtp' | 'vtp-multi',
  maxViewers: number,
  serveArgs: readonly string[],
): Promise<RunningTarget> {
  const server = await startServer(maxViewers, serveArgs);
  const sink = new IngestSink(server.origin, RECORDING_ID);
  return {
    label: TARGET_LABELS[name],
    origins: [server.origin],
    masterPath: `/live/${RECORDING_ID}/master.m3u8`,
    sink,
    cpuSeconds: () => processTreeCpuSeconds(server.pid),
    stop: async () => {
      await sink.close();
      await server.stop();
    },
  };
}

const EDGES = 2;

/** The single-process origin with two nginx edges in front; CPU is origin plus both edges. */
async function startEdgesTarget(maxViewers: number): Promise<RunningTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'vtp-bench-edges-'));
  const server = await startVtpServer(RECORDING_ID, maxViewers).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const edges: NginxServer[] = [];
  const sink = new IngestSink(server.origin, RECORDING_ID);
  const stop = async () => {
    await Promise.all(edges.map((edge) => edge.stop()));
    await sink.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < EDGES; i++)
      edges.push(await startEdge(join(dir, `edge-${i}`), server.origin));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    label: TARGET_LABELS['vtp-edges'],
    origins: edges.map((edge) => edge.origin),
    masterPath: `/live/${RECORDING_ID}/master.m3u8`,
    sink,
    cpuSeconds: () =>
      processTreeCpuSeconds(server.pid) +
      edges.reduce((sum, edge) => sum + processTreeCpuSeconds(edge.pid), 0),
    stop,
  };
}

/** Starts `name` ready to take segments; the caller must `stop()` it. */
export function startTarget(
  name: TargetName,
  ladder: Ladder,
  viewers: number,
  config: BenchConfig,
): Promise<RunningTarget> {
  // Room above the swarm so a cap never turns the measurement into a 503 test.
  const maxViewers = Math.max(10_000, viewers * 2);
  switch (name) {
    case 'nginx':
      return startNginxTarget(ladder);
    case 'vtp':
      return startVtpTarget(name, maxViewers, []);
    case 'vtp-multi':
      return startVtpTarget(name, maxViewers, [
        '--processes',
        String(config.processes),
        ...config.multiArgs,
      ]);
    case 'vtp-edges':
      return startEdgesTarget(maxViewers);
  }
}
