/** Runs the VTP Live server from this checkout as a child process and starts the bench stream. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stopChild, track } from './child-process.js';
import { freePort } from './free-port.js';
import { REPO_ROOT, VTP_CLI } from './vtp-cli.js';
import { waitForHttp } from './wait-http.js';

export interface VtpServer {
  readonly origin: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The server exited before it answered: a flag it does not know, a bad value. */
export class ServerRefusedError extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`VTP Live exited (${exitCode}) before answering: ${stderr.trim().slice(-500)}`);
  }
}

/**
 * Starts the built server (`dist/cli.js serve`, with the Node flags `bin/vtp-live.js` uses) on a
 * free port chosen here (so readiness does not depend on the log level printing the URL), waits
 * for the health route, then starts `recordingId`. BENCH_ORIGIN_NODE_ARGS adds Node flags to
 * the server alone (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it under load);
 * `serveArgs` adds `serve` flags (the multi-core row's `--processes N`). Each server gets a
 * fresh data directory (as deployed: state and segments on disk), removed when it stops, so no
 * row inherits another's streams.
 */
export async function startVtpServer(
  recordingId: string,
  maxViewers: number,
  serveArgs: readonly string[] = [],
): Promise<VtpServer> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'vtp-bench-data-'));
  const extra = (process.env.BENCH_ORIGIN_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [...extra, '--max-semi-space-size=64', VTP_CLI, 'serve', '--port', String(port)];
  args.push('--data-dir', dataDir, '--log-level', 'warn', '--max-viewers', String(maxViewers));
  // Every simulated viewer comes from 127.0.0.1: one address standing for a lecture hall.
  args.push('--anonymous-per-client', String(Math.min(maxViewers, 10_000)));
  args.push(...serveArgs);
  const child: ChildProcess = track(
    spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      // No RTMP listener: not measured here (an environment variable, which older builds ignore).
      env: { ...process.env, VTP_RTMP_PORT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/api/v1/distribution/health`, child, 30_000, () => true);
    const response = await request(`${origin}/api/v1/streams/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ recording_id: recordingId, max_viewers: maxViewers }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300 && response.statusCode !== 409) {
      throw new Error(`POST /api/v1/streams/start: ${response.statusCode} ${text.slice(0, 300)}`);
    }
  } catch (error) {
    const exited = child.exitCode !== null || child.signalCode !== null;
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
    if (exited) throw new ServerRefusedError(child.exitCode, stderr);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`VTP Live did not start: ${reason}\n${stderr}`.trim());
  }
  if (child.pid === undefined) throw new Error('VTP Live has no pid');
  const stop = async () => {
    await stopChild(child, 15_000);
    await rm(dataDir, { recursive: true, force: true });
  };
  return { origin, pid: child.pid, stop };
}
