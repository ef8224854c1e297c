import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config.js';
import { PROFILE_NAMES } from '../core/profiles.js';
import type { PresetName } from '../ingest/encoder-manager.js';
import { type RunningServer, startServer } from '../server.js';
import { watchHls } from './hls-viewer.js';

export interface DemoOptions {
  readonly stream: string;
  readonly preset: PresetName;
  /** Headless viewers to run inside the demo, so the dashboard has an audience. */
  readonly viewers: number;
  /** Server flags (port, host, log level...), as for `serve`. */
  readonly serverFlags: Record<string, string | undefined>;
}

/**
 * `vtp-live demo`: the server on embedded defaults, the built-in test-pattern encoder feeding
 * one stream through the normal ingest path, and a few headless viewers.
 */
export async function runDemo(
  options: DemoOptions,
): Promise<{ server: RunningServer; stop: () => Promise<void> }> {
  const config = loadConfig({ 'log-level': 'warn', ...options.serverFlags }, process.env);
  const server = await startServer(config);
  server.service.startLiveStream(options.stream);
  server.encoders.start({
    recordingId: options.stream,
    source: { type: 'test-pattern' },
    preset: options.preset,
  });
  const viewers = new AbortController();
  const master = `${server.url}/live/${encodeURIComponent(options.stream)}/master.m3u8`;
  for (let i = 0; i < options.viewers; i++) {
    void keepWatching(master, PROFILE_NAMES[i % PROFILE_NAMES.length] ?? 'Low', viewers.signal);
  }
  return {
    server,
    async stop() {
      viewers.abort();
      await server.close();
    },
  };
}

/** One headless viewer, rejoining after errors (the stream may not have media yet). */
async function keepWatching(master: string, profile: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      await watchHls({ masterUrl: master, profile, seconds: 3600, signal, cmcd: true });
    } catch {
      await sleep(2000, undefined, { signal }).catch(() => {});
    }
  }
}
