/** One simulated HLS viewer: master once, then poll the media playlist and fetch new segments. */
import { setTimeout as sleep } from 'node:timers/promises';
import HLS from 'hls-parser';
import type { Requester } from './keep-alive-connection.js';
import { clock, type LoadClient } from './load-client.js';
import { PlaylistError, resolvePath, scanMediaPlaylist } from './media-playlist-scan.js';
import { PROFILE_NAMES, type ProfileName } from './profiles.js';

export interface ViewerContext {
  readonly client: LoadClient;
  readonly masterPath: string;
  readonly pollMs: number;
  readonly startSegments: number;
  /** Sizes of the ladder's segments per profile, indexed by media sequence modulo their count. */
  readonly expectedBytes: Readonly<Record<ProfileName, readonly number[]>>;
  /** Viewers stop issuing requests once this returns true. */
  readonly stopped: () => boolean;
}

/** Where one viewer sends its requests: its own connection or a shared pool, on its origin. */
export interface ViewerLink {
  readonly origin: string;
  readonly requester: Requester;
}

/** The media playlist path for `profile`: the ladder is ordered by bandwidth, so pick by rank. */
async function pickVariant(ctx: ViewerContext, link: ViewerLink, profile: ProfileName) {
  const fetched = await ctx.client.get(link.requester, ctx.masterPath, 'playlist', true, 'master');
  const { status, text } = fetched;
  if (status !== 200 || text === undefined) return undefined;
  let master: ReturnType<typeof HLS.parse>;
  try {
    master = HLS.parse(text);
  } catch (error) {
    throw new PlaylistError(`unparsable master: ${error instanceof Error ? error.message : ''}`);
  }
  if (!(master instanceof HLS.types.MasterPlaylist) || master.variants.length === 0) {
    throw new PlaylistError('master is not a multivariant playlist');
  }
  const variants = [...master.variants].sort((a, b) => a.bandwidth - b.bandwidth);
  const rank = Math.min(PROFILE_NAMES.indexOf(profile), variants.length - 1);
  const variant = variants[rank];
  return variant ? resolvePath(variant.uri, ctx.masterPath, link.origin) : undefined;
}

/** Runs until `ctx.stopped()`; I/O errors are tallied by the client and the viewer carries on. */
export async function runViewer(
  ctx: ViewerContext,
  link: ViewerLink,
  profile: ProfileName,
): Promise<void> {
  const client = ctx.client;
  const requester = link.requester;
  const expected = ctx.expectedBytes[profile];
  // Arrivals spread over one poll interval, as a lecture hall's players would not start at once.
  await sleep(Math.random() * ctx.pollMs);
  let mediaPath: string | undefined;
  while (!mediaPath && !ctx.stopped()) {
    mediaPath = await pickVariant(ctx, link, profile).catch((error: unknown) => {
      if (error instanceof PlaylistError) client.countError('playlist', error.message);
      return undefined;
    });
    if (!mediaPath) await sleep(ctx.pollMs);
  }
  let lastSequence = -1;
  let playing = false;
  let dueAt = clock();
  while (mediaPath && !ctx.stopped()) {
    try {
      const { status, text } = await client.get(requester, mediaPath, 'playlist', true, 'media');
      const playlist = status === 200 && text !== undefined ? scanMediaPlaylist(text) : undefined;
      if (playlist) {
        if (!playing) {
          playing = true;
          client.stats.viewersPlaying++;
        }
        const first = playlist.mediaSequence;
        const uris = playlist.uris;
        let from = lastSequence < 0 ? uris.length - ctx.startSegments : lastSequence + 1 - first;
        if (from < 0) {
          if (lastSequence >= 0 && client.measuring()) client.stats.missedSegments -= from;
          from = 0;
        }
        for (let i = from; i < uris.length && !ctx.stopped(); i++) {
          const uri = uris[i];
          if (uri === undefined) continue;
          const sequence = first + i;
          const path = resolvePath(uri, mediaPath, link.origin);
          const fetched = await client.get(requester, path, 'segment', false);
          lastSequence = sequence;
          // Every body is checked against the file the replayer published for this sequence.
          const want = expected[sequence % expected.length];
          if (fetched.status === 200 && client.measuring()) {
            if (fetched.bytes === want) client.stats.segmentsChecked++;
            else client.countError('segment', 'size differs from the file (segment)');
          }
        }
      }
    } catch (error) {
      // I/O errors are already counted by the client; either way, try again at the next poll.
      if (error instanceof PlaylistError) client.countError('playlist', error.message);
    }
    dueAt += ctx.pollMs;
    const now = clock();
    if (dueAt < now) {
      if (client.measuring()) client.stats.latePolls++;
      dueAt = now;
    }
    await sleep(dueAt - now);
  }
}
