/**
 * One bench:publish round: a server with RTMP publishing (in this process, 127.0.0.1, the light
 * ladder), N streams with stream keys, N ffmpeg publishers sending as OBS does, the time from
 * each publisher's spawn to its playable stream, then CPU sampled once a second over a steady
 * window. Everything it starts is stopped before it returns, also on failure.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { call, startTestServer, type TestServer } from '../../test/helpers/http.js';
import {
  type Publisher,
  publishRtmp,
  stopPublishers,
  untilPlayable,
} from '../../test/helpers/publisher.js';
import { freePort } from '../viewers/free-port.js';
import {
  machineBusyCpuSeconds,
  processCpuSeconds,
  processTreeCpuSeconds,
} from '../viewers/process-cpu.js';
import { CpuMeter } from './cpu-meter.js';
import type { RoundMeasurement } from './report.js';

/** What the publishers send: OBS's recommended output, kept small for a 2-core machine. */
export const PUBLISHED = { size: '640x360', fps: 30, videoKbps: 1500 } as const;
export interface RoundSettings {
  readonly publishers: number;
  readonly windowSeconds: number;
  readonly playableTimeoutSeconds: number;
  readonly log: (line: string) => void;
}

type Group = 'rtmpChild' | 'publishers' | 'ladders' | 'machine';

export async function runRound(settings: RoundSettings): Promise<RoundMeasurement> {
  const { publishers: n, log } = settings;
  const rtmpPort = await freePort();
  let server: TestServer | undefined;
  try {
    server = await startTestServer({}, 200, {
      ingest: { probe: ffprobeMedia() },
      publishing: { host: '127.0.0.1', rtmpPort, preset: 'light' },
    });
    const ids = Array.from({ length: n }, (_, i) => `bench-publish-${i + 1}`);
    const urls = await Promise.all(ids.map((id) => startWithKey(server as TestServer, id)));
    // Publishers outlive the round's longest possible course; they are killed at its end.
    const seconds = settings.playableTimeoutSeconds + settings.windowSeconds + 15;
    const publishers = urls.map((url) => publishRtmp(url, { seconds, ...PUBLISHED }));
    log(`${n} publisher(s) started; waiting for playable streams`);
    const playableSeconds = await Promise.all(
      ids.map((id, i) =>
        playableAfter(server as TestServer, id, publishers[i] as Publisher, settings),
      ),
    );
    const failed = publishers.filter((p) => p.child.exitCode !== null);
    if (failed.length > 0)
      throw new Error(`a publisher exited early: ${failed[0]?.stderr().trim() || 'no message'}`);
    log(
      `playable after ${playableSeconds.map((s) => (s === null ? 'never' : `${s.toFixed(1)} s`)).join(', ')}; sampling CPU for ${settings.windowSeconds} s`,
    );
    return { ...(await sampleWindow(server, ids, publishers, settings)), playableSeconds };
  } finally {
    await stopPublishers();
    await server?.close();
  }
}

/** Starts `id` with a stream key; resolves with the RTMP URL to publish to. */
async function startWithKey(server: TestServer, id: string): Promise<string> {
  const started = await call(`${server.url}/api/v1/streams/start`, 'POST', {
    recording_id: id,
    stream_key: true,
  });
  if (started.status !== 201)
    throw new Error(`starting ${id}: ${started.status} ${JSON.stringify(started.body)}`);
  return started.body.ingest.rtmp_url as string;
}

/**
 * Seconds from the publisher's spawn until its stream is playable: the master lists the four
 * probed renditions and each has a segment. Null when that did not happen in time.
 */
async function playableAfter(
  server: TestServer,
  id: string,
  publisher: Publisher,
  settings: RoundSettings,
): Promise<number | null> {
  try {
    await untilPlayable(server.url, id, settings.playableTimeoutSeconds * 1000);
    return (performance.now() - publisher.startedAt) / 1000;
  } catch {
    settings.log(`${id} was not playable within ${settings.playableTimeoutSeconds} s`);
    return null;
  }
}

/** CPU of the RTMP child, the publishers and the ladders, and the ladders' pace, once a second. */
async function sampleWindow(
  server: TestServer,
  ids: readonly string[],
  publishers: readonly Publisher[],
  settings: RoundSettings,
): Promise<Omit<RoundMeasurement, 'playableSeconds'>> {
  const meter = new CpuMeter<Group>();
  const speeds: number[] = [];
  const recentSpeeds: number[] = [];
  let behindSamples = 0;
  let samples = 0;
  const read = () => {
    const rtmpPid = server.publishing?.rtmpPid;
    if (rtmpPid === undefined) throw new Error('the RTMP child is not running');
    meter.take('rtmpChild', rtmpPid, processTreeCpuSeconds(rtmpPid));
    for (const p of publishers)
      if (p.child.pid !== undefined)
        meter.take('publishers', p.child.pid, processCpuSeconds(p.child.pid));
    for (const id of ids) {
      const pid = server.encoders.statusFor(id)?.pid;
      if (pid !== undefined) meter.take('ladders', pid, processCpuSeconds(pid));
    }
    meter.take('machine', 0, machineBusyCpuSeconds());
  };
  const restartsAtStart = restarts(server, ids);
  const start = performance.now();
  read();
  for (let s = 1; s <= settings.windowSeconds; s++) {
    // Pace the samples on the window's clock, not on the time each read took.
    await sleep(Math.max(0, start + s * 1000 - performance.now()));
    read();
    for (const id of ids) {
      const status = server.encoders.statusFor(id);
      if (!status) continue;
      samples++;
      if (status.speed !== undefined) speeds.push(status.speed);
      if (status.recentSpeed !== undefined) recentSpeeds.push(status.recentSpeed);
      if (status.behind) behindSamples++;
    }
  }
  const windowSeconds = (performance.now() - start) / 1000;
  return {
    publishers: publishers.length,
    windowSeconds,
    cpuSeconds: {
      rtmpChild: meter.total('rtmpChild'),
      publishers: meter.total('publishers'),
      ladders: meter.total('ladders'),
      machine: meter.total('machine'),
    },
    cores: os.availableParallelism(),
    encoder: {
      speeds,
      recentSpeeds,
      behindSamples,
      samples,
      restarts: restarts(server, ids) - restartsAtStart,
    },
  };
}

function restarts(server: TestServer, ids: readonly string[]): number {
  return ids.reduce((sum, id) => sum + (server.encoders.statusFor(id)?.restarts ?? 0), 0);
}
