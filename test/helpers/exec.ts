import { execFile } from 'node:child_process';

/** Runs a program to completion (bounded by `timeoutMs`); never rejects on a non-zero exit. */
export function run(
  file: string,
  args: string[],
  timeoutMs = 60_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** ffprobe's duration of `input` (a file or playlist URL): the container's, in seconds. */
export async function probedDuration(input: string): Promise<number> {
  const probed = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=duration',
    '-of',
    'csv=p=0',
    input,
  ]);
  if (probed.code !== 0) throw new Error(`ffprobe ${input} failed: ${probed.stderr}`);
  return Number(probed.stdout.trim());
}
