/**
 * The HTTP half of npm run bench:ingest: a whole ladder pushed over real HTTP, as ffmpeg's hls
 * muxer does (each rendition's segment, then its media playlist), to two servers on 127.0.0.1 in
 * one process, one with a data directory and one without, alternating round by round. Per push
 * of a segment it times:
 *
 * - in playlist: from the segment's PUT until it is published (the service's
 *   `segment_published`), when the live playlist lists it and viewers can fetch it;
 * - acknowledged: from the segment's PUT until the playlist PUT that published it answered 201,
 *   which with a data directory waits for the files to be on disk.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../src/core/profiles.js';
import { createRuntime, type Runtime } from '../src/server.js';

export interface HttpLatencies {
  readonly mode: 'memory' | 'data dir';
  readonly inPlaylist: number[];
  readonly acknowledged: number[];
}

const ROUNDS = 4;

/** Pushes `sequences` ladder segments per mode; resolves the latencies of each mode (ms). */
export async function benchHttpPush(sequences: number, dir: string): Promise<HttpLatencies[]> {
  const root = await mkdtemp(path.join(dir, 'vtp-bench-http-'));
  const modes: { latencies: HttpLatencies; runtime: Runtime; url: string }[] = [];
  try {
    for (const mode of ['memory', 'data dir'] as const) {
      const runtime = createRuntime({
        ...(mode === 'data dir' && { dataDir: path.join(root, 'data') }),
        http: { apiRateLimit: 0, joinRateLimit: 0 },
        service: { maxStreams: 1000 },
      });
      const url = await runtime.listen('127.0.0.1', 0);
      modes.push({ latencies: { mode, inPlaylist: [], acknowledged: [] }, runtime, url });
    }
    const bodies = Object.fromEntries(
      PROFILE_NAMES.map((p) => [
        p,
        new Uint8Array(randomBytes((PROFILES[p].bitrateKbps * 1000 * 2) / 8)),
      ]),
    ) as Record<ProfileName, Uint8Array<ArrayBuffer>>;
    const perRound = Math.max(1, Math.ceil(sequences / ROUNDS));
    // Round 0 warms up (sockets, directories, JIT) and is not counted.
    for (let r = 0; r <= ROUNDS; r++) {
      for (const { latencies, runtime, url } of modes) {
        const stream = `bench-${r}`;
        const published = new Map<string, bigint>();
        const onPublished = (e: { recordingId: string; profile: ProfileName; sequence: number }) =>
          published.set(`${e.profile}/${e.sequence}`, process.hrtime.bigint());
        runtime.service.events.on('segment_published', onPublished);
        for (let seq = 0; seq < perRound; seq++) {
          const pushes = await Promise.all(
            PROFILE_NAMES.map((p) => pushOne(url, stream, p, seq, bodies[p])),
          );
          if (r === 0) continue;
          PROFILE_NAMES.forEach((p, k) => {
            const push = pushes[k] as { started: bigint; acknowledged: bigint };
            const at = published.get(`${p}/${seq}`) ?? push.acknowledged;
            latencies.inPlaylist.push(Number(at - push.started) / 1e6);
            latencies.acknowledged.push(Number(push.acknowledged - push.started) / 1e6);
          });
        }
        runtime.service.events.off('segment_published', onPublished);
      }
    }
  } finally {
    await Promise.all(modes.map((m) => m.runtime.close(1000)));
    await rm(root, { recursive: true, force: true });
  }
  return modes.map((m) => m.latencies);
}

async function pushOne(
  url: string,
  stream: string,
  profile: ProfileName,
  seq: number,
  body: Uint8Array<ArrayBuffer>,
): Promise<{ started: bigint; acknowledged: bigint }> {
  const started = process.hrtime.bigint();
  const segment = await fetch(`${url}/ingest/${stream}/${profile}/seg_${seq}.ts`, {
    method: 'PUT',
    body,
  });
  await segment.arrayBuffer();
  const first = Math.max(0, seq - 5);
  let text = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${first}\n`;
  for (let s = first; s <= seq; s++) text += `#EXTINF:2.000,\nseg_${s}.ts\n`;
  const playlist = await fetch(`${url}/ingest/${stream}/${profile}/index.m3u8`, {
    method: 'PUT',
    body: text,
  });
  await playlist.arrayBuffer();
  if (segment.status !== 201 || playlist.status !== 201) {
    throw new Error(`push answered ${segment.status}/${playlist.status}`);
  }
  return { started, acknowledged: process.hrtime.bigint() };
}
