import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  LADDER_PRESETS,
  type LadderOptions,
  ladderArguments,
} from '../../src/ingest/ffmpeg-ladder.js';

export interface RunningLadder {
  readonly child: ChildProcess;
  /** Resolves with ffmpeg's exit code and what it printed on stderr. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  stop(): Promise<void>;
}

/** Real ffmpeg encoding the light test-pattern ladder and pushing it to `ingestUrl`. */
export function startLadder(
  ingestUrl: string,
  durationSec: number,
  extra: Partial<LadderOptions> = {},
): RunningLadder {
  const args = ladderArguments({
    source: { kind: 'test-pattern' },
    preset: LADDER_PRESETS.light,
    ingestUrl,
    durationSec,
    ...extra,
  });
  const child = spawn(process.env.VTP_FFMPEG ?? 'ffmpeg', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
