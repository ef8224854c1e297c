import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import type { DistributionService } from '../../src/service/distribution-service.js';
import { type RunningDaemon, startDaemon } from './daemon.js';

export interface RunningRedis extends RunningDaemon {
  /** `redis://127.0.0.1:{port}` */
  readonly url: string;
}

/** Resolves once redis-server says it serves (it may take connections a moment before). */
function readyLine(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no start within 10 s')), 10_000);
    // The running child keeps the test alive; a dead one must not be waited for 10 s.
    timer.unref();
    if (!child.stdout) return reject(new Error('no output to read'));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (!line.includes('Ready to accept connections')) return;
      clearTimeout(timer);
      lines.close();
      resolve();
    });
  });
}

/**
 * A real redis-server on a free loopback port, in a temp directory of its own, keeping nothing
 * on disk (`--save ''`, no append-only file); resolves once it accepts connections.
 */
export async function startRedis(): Promise<RunningRedis> {
  const daemon = await startDaemon({
    name: 'redis-server',
    command: async (dir, port) => ({
      file: process.env.VTP_REDIS_SERVER ?? 'redis-server',
      args: [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
    }),
    ready: readyLine,
  });
  return { ...daemon, url: `redis://127.0.0.1:${daemon.port}` };
}

/** How many exchanges `client`'s Redis has run so far (each is one script call). */
export async function scriptCalls(client: Redis): Promise<number> {
  const stats = await client.info('commandstats');
  const calls = (name: string) =>
    Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

/** Stream `id` on two origins sharing a Redis: started on `a` (capped), created on `b` by a push. */
export async function sharedStream(
  a: DistributionService,
  b: DistributionService,
  id: string,
  maxViewers = 100,
): Promise<string> {
  await a.prepareStream(id, { maxViewers }, true);
  a.startLiveStream(id, maxViewers);
  await b.prepareStream(id, {}, false);
  b.startLiveStream(id);
  return id;
}
