import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/viewers/free-port.js';
import { waitFor } from './wait.js';

/** A system daemon (nginx, redis-server) a test runs in the foreground. */
export interface RunningDaemon {
  readonly port: number;
  /** Its own temp directory (removed by stop). */
  readonly dir: string;
  readonly child: ChildProcess;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface DaemonSpec {
  /** Names it in its temp directory and in errors. */
  readonly name: string;
  /** Writes what it needs into `dir`, then says how to run it listening on `port`. */
  command(dir: string, port: number): Promise<{ file: string; args: readonly string[] }>;
  /** Resolves once it serves; by default, once it accepts TCP connections on its port. */
  ready?(child: ChildProcess, port: number): Promise<unknown>;
  /** More to say when it does not start (a log file it wrote, say). */
  detail?(dir: string): Promise<string>;
}

const running = new Set<ChildProcess>();
// A test process that dies without its after hooks must not leave a daemon behind.
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
 * Resolves once `child` accepts TCP connections on `port` (within 10 s); polling ends when it
 * exits too (spawnDaemon's `ready` has failed then).
 */
export function untilAccepting(child: ChildProcess, port: number, name: string): Promise<true> {
  return waitFor(
    () => (hasExited(child) ? Promise.resolve(true) : accepting(port)),
    10_000,
    `${name} on port ${port}`,
    50,
  );
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Stops `child`: SIGTERM, SIGKILL after 5 s; resolves once it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited.catch(() => undefined);
  clearTimeout(kill);
}

/**
 * Spawns `file` with its output piped and kept (the last 4,000 characters, for errors), killed
 * when the test process exits; `ready` resolves once `until` does, and rejects if the process
 * exits first.
 */
export function spawnDaemon(
  file: string,
  args: readonly string[],
  until: (child: ChildProcess) => Promise<unknown>,
): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const died = once(child, 'exit')
    .finally(() => running.delete(child))
    .then(([code, signal]) => {
      throw new Error(`exited (${code ?? signal})`);
    });
  // Handled here too: a daemon exits (when stopped) long after the race.
  died.catch(() => undefined);
  const ready = Promise.race([until(child), died]).then(() => undefined);
  return { child, output: () => output, ready };
}

/**
 * Starts a daemon on a free loopback port in a new temp directory; resolves once it is ready,
 * or stops it and throws with what it said.
 */
export async function startDaemon(spec: DaemonSpec): Promise<RunningDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `vtp-${spec.name}-`));
  const port = await freePort();
  let stopped: Promise<void> | undefined;
  let child: ChildProcess | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child) await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  let output = () => '';
  try {
    const { file, args } = await spec.command(dir, port);
    const ready = (started: ChildProcess) =>
      spec.ready ? spec.ready(started, port) : untilAccepting(started, port, spec.name);
    const spawned = spawnDaemon(file, args, ready);
    child = spawned.child;
    output = spawned.output;
    await spawned.ready;
  } catch (error) {
    const detail = (await spec.detail?.(dir).catch(() => '')) ?? '';
    await stop();
    throw new Error(
      `${spec.name} did not start: ${(error as Error).message}\n${output()}${detail}`.trim(),
    );
  }
  return { port, dir, child, stop };
}
