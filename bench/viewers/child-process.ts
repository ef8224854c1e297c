/** Spawning helpers: run a command to completion, check a binary exists, stop a child for sure. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** Runs `command` and resolves with its exit code, its stdout and the tail of its stderr. */
export async function run(
  command: string,
  args: readonly string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = track(spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  const { stdout: stdoutOf, stderr: stderrOf } = child;
  if (!stdoutOf || !stderrOf) throw new Error(`${command}: no output pipes`);
  let stdout = '';
  let stderr = '';
  stdoutOf.setEncoding('utf8');
  stdoutOf.on('data', (chunk: string) => {
    stdout += chunk;
  });
  stderrOf.setEncoding('utf8');
  stderrOf.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, stdout, stderr };
}

/** True when `command -version`-style probing finds the binary. */
export async function hasBinary(command: string, probeArgs: readonly string[]): Promise<boolean> {
  try {
    return (await run(command, probeArgs)).code === 0;
  } catch {
    return false;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Remembers a long-running child so it is SIGKILLed if this process exits without stopping it. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  return child;
}

/** Sends SIGTERM, then SIGKILL after `graceMs` if the child is still alive; resolves on exit. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
