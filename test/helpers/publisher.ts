import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait.js';

/** A real ffmpeg publishing like OBS does; `exited` resolves with its exit code. */
export interface Publisher {
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly exited: Promise<number | null>;
  /** Its stderr so far (ffmpeg at -loglevel error: why it failed). */
  readonly stderr: () => string;
  stop(): Promise<number | null>;
}

export interface PublishOptions {
  readonly seconds: number;
  /** Picture size and rate of the test pattern. */
  readonly size?: string;
  readonly fps?: number;
  readonly videoKbps?: number;
}

/**
 * OBS's recommended output as ffmpeg arguments: x264 CBR, keyframes every 2 s, zerolatency,
 * no B-frames, AAC audio; a moving test pattern with a tone, in real time, for `seconds`.
 */
function obsLikeArguments({
  seconds,
  size = '640x360',
  fps = 30,
  videoKbps = 1500,
}: PublishOptions) {
  // biome-ignore format: ffmpeg arguments read best as pairs
  return ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0',
    '-g', String(2 * fps), '-keyint_min', String(2 * fps), '-sc_threshold', '0',
    '-b:v', `${videoKbps}k`, '-maxrate', `${videoKbps}k`, '-bufsize', `${videoKbps}k`,
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-ar', '48000'];
}

/** Publishes over RTMP (`-f flv rtmp://…/live/KEY`), as OBS does. */
export function publishRtmp(url: string, options: PublishOptions): Publisher {
  return start([...obsLikeArguments(options), '-f', 'flv', url]);
}

/** Publishes over SRT as a caller (MPEG-TS), as OBS does with an srt:// server URL. */
export function publishSrt(url: string, options: PublishOptions): Publisher {
  return start([...obsLikeArguments(options), '-f', 'mpegts', url]);
}

const running = new Set<Publisher>();

/** Kills every publisher still running (an `after` hook: nothing outlives its test). */
export async function stopPublishers(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

function start(args: string[]): Publisher {
  const child = spawn(process.env.VTP_FFMPEG ?? 'ffmpeg', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  const publisher: Publisher = {
    child,
    startedAt: performance.now(),
    exited,
    stderr: () => stderr,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
  running.add(publisher);
  void exited.then(() => running.delete(publisher));
  return publisher;
}

/**
 * Resolves once stream `id` at `serverUrl` is playable: its master lists four probed renditions
 * and each has a segment. Polls reuse the session the first master handed out, as a player
 * does: a master without one opens a new anonymous session, and one client holds only a few.
 */
export async function untilPlayable(
  serverUrl: string,
  id: string,
  timeoutMs: number,
): Promise<void> {
  let session: string | undefined;
  await waitFor(
    async () => {
      const query = session === undefined ? '' : `?session=${session}`;
      const response = await fetch(`${serverUrl}/live/${id}/master.m3u8${query}`);
      session = response.headers.get('x-vtp-session') ?? session;
      const master = await response.text();
      if ((master.match(/CODECS=/g) ?? []).length !== 4) return undefined;
      const status = await fetch(`${serverUrl}/api/v1/streams/${id}`);
      const counts = Object.values(
        ((await status.json()) as { segments_available: object }).segments_available,
      );
      return counts.length === 4 && counts.every((n) => n >= 1) ? true : undefined;
    },
    timeoutMs,
    `${id} to be playable`,
    100,
  );
}
