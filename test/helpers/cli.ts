import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const SRC = new URL('../../src/', import.meta.url).pathname;
/** The entry production runs (`npx vtp-live serve`), over the build in dist/. */
const BIN = new URL('../../bin/vtp-live.js', import.meta.url).pathname;
const BUILT = new URL('../../dist/cli.js', import.meta.url).pathname;

/** Throws unless dist/ was built after the last change to src/: a test must not run old code. */
function assertBuildFresh(): void {
  const built = statSync(BUILT, { throwIfNoEntry: false })?.mtimeMs;
  const newest = Math.max(
    ...readdirSync(SRC, { recursive: true, encoding: 'utf8' }).map(
      (file) => statSync(path.join(SRC, file)).mtimeMs,
    ),
  );
  if (built === undefined || built < newest) {
    throw new Error('dist/ is missing or older than src/: run `npm run build` (npm test does)');
  }
}

export interface CliOptions {
  /**
   * Runs the built server as production does (bin/vtp-live.js over dist/) instead of the
   * sources through tsx: it starts about twice as fast, for tests that time a restart.
   */
  readonly built?: boolean;
}

export interface Cli {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  /** Every stdout and stderr line so far. */
  readonly output: string[];
}

/**
 * `vtp-live serve --port 0` (or the `--port` in `args`) as a real process (extra `args` and `env` added); resolves with its
 * URL from the startup log line. Without a `--data-dir` it gets a temporary one of its own
 * (removed when it exits): one server per data directory, and tests run side by side.
 */
export async function startCli(
  args: string[] = [],
  env: Record<string, string> = {},
  options: CliOptions = {},
): Promise<Cli> {
  if (options.built) assertBuildFresh();
  const ownDir =
    args.includes('--data-dir') || env.VTP_DATA_DIR !== undefined
      ? undefined
      : mkdtempSync(path.join(tmpdir(), 'vtp-cli-'));
  const dirArgs = ownDir === undefined ? [] : ['--data-dir', ownDir];
  // A caller's own --port (a restart on the port its players know) replaces the free one.
  const portArgs = args.includes('--port') ? [] : ['--port', '0'];
  // Servers run side by side: RTMP publishing (port 1935 by default) only where a test asks.
  const rtmpArgs = args.includes('--rtmp-port') ? [] : ['--rtmp-port', '0'];
  const argv = ['serve', ...portArgs, ...dirArgs, ...rtmpArgs, ...args];
  const entry = options.built ? ['--max-semi-space-size=64', BIN] : ['--import', 'tsx', CLI];
  const child = spawn(process.execPath, [...entry, ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  if (ownDir !== undefined) {
    child.once('exit', () => rmSync(ownDir, { recursive: true, force: true }));
  }
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A server that never said it listens must not outlive the test that waited for it.
      child.kill('SIGKILL');
      reject(new Error(`no start within 20 s: ${output.join('\n')}`));
    }, 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const parsed = JSON.parse(line) as { url?: string };
      if (parsed.url) {
        clearTimeout(timer);
        resolve(parsed.url);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${output.join('\n')}`)));
  });
  return { child, url, output };
}

/** SIGTERM, then SIGKILL after 8 s if it lingers. */
export async function stopCli(cli: Cli): Promise<void> {
  if (cli.child.exitCode !== null || cli.child.signalCode !== null) return;
  const exited = once(cli.child, 'exit');
  cli.child.kill('SIGTERM');
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}
