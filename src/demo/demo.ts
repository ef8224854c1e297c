import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
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
  // The demo starts afresh each run: a restored stream of the last run would clash with it.
  const server = await startServer(config, { inMemory: true });
  server.service.startLiveStream(options.stream);
  server.encoders.start({
    recordingId: options.stream,
    source: { type: 'test-pattern' },
    preset: options.preset,
  });
  const viewers = new AbortController();
  for (let i = 0; i < options.viewers; i++) {
    const profile = PROFILE_NAMES[i % PROFILE_NAMES.length] ?? 'Low';
    void keepWatching(server, options.stream, `demo-viewer-${i + 1}`, profile, viewers.signal);
  }
  return {
    server,
    async stop() {
      viewers.abort();
      await server.close();
    },
  };
}

/**
 * One named headless viewer, joined as a student would be (so it shows on the dashboard under its
 * name), rejoining after errors (the stream may not have media yet).
 */
async function keepWatching(
  server: RunningServer,
  stream: string,
  viewerId: string,
  profile: ProfileName,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const existing = server.service.getDistributor(stream);
      if (existing.hasViewer(viewerId)) server.service.leaveStream(stream, viewerId);
      const session = server.service.joinStream(stream, viewerId, profile);
      const masterUrl = `${server.url}/live/${encodeURIComponent(stream)}/master.m3u8?session=${session.sessionId}`;
      await watchHls({ masterUrl, profile, seconds: 3600, signal, cmcd: true });
    } catch {
      await sleep(2000, undefined, { signal }).catch(() => {});
    }
  }
}
