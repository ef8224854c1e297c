import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../bench/viewers/free-port.js';

export interface RunningRedis {
  /** `redis://127.0.0.1:{port}` */
  readonly url: string;
  readonly port: number;
  /** Stops redis-server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A test process that dies without its after hooks must not leave redis-server behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A real redis-server on a free loopback port, in a temp directory of its own, keeping nothing
 * on disk (`--save ''`, no append-only file); resolves once it accepts connections.
 */
export async function startRedis(): Promise<RunningRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'vtp-redis-'));
  const port = await freePort();
  const child = spawn(
    process.env.VTP_REDIS_SERVER ?? 'redis-server',
    [
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
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const exited = once(child, 'exit').finally(() => running.delete(child));
  const output: string[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited.catch(() => undefined);
        clearTimeout(kill);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no start within 10 s')), 10_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        output.push(line);
        if (line.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.on('data', (chunk) => output.push(String(chunk)));
      exited.then(([code]) => reject(new Error(`exited ${code}`)), reject);
    });
  } catch (error) {
    await stop();
    throw new Error(
      `redis-server did not start: ${(error as Error).message}\n${output.join('\n')}`,
    );
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
