import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/viewers/free-port.js';
import { waitFor } from './wait.js';

/** The system nginx (Debian puts it in /usr/sbin, not always on a test's PATH). */
export const NGINX = process.env.VTP_NGINX ?? '/usr/sbin/nginx';

export interface RunningNginx {
  /** `http://127.0.0.1:{port}` */
  readonly url: string;
  readonly port: number;
  /** Its own temp directory: configuration, run files, logs (removed by stop). */
  readonly dir: string;
  readonly child: ChildProcess;
  /** Stops nginx (SIGTERM, SIGKILL after 5 s) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A test process that dies without its after hooks must not leave nginx behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepting(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/**
 * Starts nginx in the foreground with the configuration `conf(dir, port)` returns, `dir` a new
 * temp directory and `port` a free loopback port; resolves once it accepts connections.
 */
export async function startNginx(
  conf: (dir: string, port: number) => string,
): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'vtp-nginx-'));
  const port = await freePort();
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, conf(dir, port));
  const startupLog = join(dir, 'startup.log');
  const child = spawn(NGINX, ['-c', confPath, '-p', dir, '-e', startupLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = once(child, 'exit').finally(() => running.delete(child));
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
    const died = exited.then(([code, signal]) => {
      throw new Error(`nginx exited (${code ?? signal})`);
    });
    // Handled here, since nginx exits (when stopped) long after the race.
    died.catch(() => undefined);
    await Promise.race([waitFor(() => accepting(port), 10_000, `nginx on port ${port}`, 50), died]);
  } catch (error) {
    const log = await readFile(startupLog, 'utf8').catch(() => '');
    await stop();
    throw new Error(`nginx did not start: ${(error as Error).message}\n${stderr}${log}`.trim());
  }
  return { url: `http://127.0.0.1:${port}`, port, dir, child, stop };
}
