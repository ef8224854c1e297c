/** One simulated HLS viewer: master once, then poll the media playlist and fetch new segments. */
import { setTimeout as sleep } from 'node:timers/promises';
import HLS from 'hls-parser';
import { clock, type LoadClient } from './load-client.js';
import { PROFILE_NAMES, type ProfileName } from './profiles.js';

export interface ViewerContext {
  readonly client: LoadClient;
  readonly masterUrl: URL;
  readonly pollMs: number;
  readonly startSegments: number;
  /** Viewers stop issuing requests once this returns true. */
  readonly stopped: () => boolean;
}

/** A playlist the viewer cannot use (wrong kind, URIs off the origin). */
class PlaylistError extends Error {}

/** hls-parser's result, with its parse errors turned into PlaylistError. */
function parsePlaylist(text: string): ReturnType<typeof HLS.parse> {
  try {
    return HLS.parse(text);
  } catch (error) {
    throw new PlaylistError(`unparsable playlist: ${error instanceof Error ? error.message : ''}`);
  }
}

/** `uri` resolved against `base`, as a request path on the client's origin. */
function pathOn(ctx: ViewerContext, uri: string, base: URL): string {
  const url = new URL(uri, base);
  if (url.origin !== ctx.client.origin) throw new PlaylistError('URI leaves the origin');
  return url.pathname + url.search;
}

/** The variant for `profile`: the ladder is ordered by bandwidth, so pick by rank. */
async function pickVariant(ctx: ViewerContext, profile: ProfileName): Promise<URL | undefined> {
  const path = ctx.masterUrl.pathname + ctx.masterUrl.search;
  const { status, text } = await ctx.client.get(path, 'playlist', true);
  if (status !== 200 || text === undefined) return undefined;
  const master = parsePlaylist(text);
  if (!(master instanceof HLS.types.MasterPlaylist) || master.variants.length === 0) {
    throw new PlaylistError('master is not a multivariant playlist');
  }
  const variants = [...master.variants].sort((a, b) => a.bandwidth - b.bandwidth);
  const rank = Math.min(PROFILE_NAMES.indexOf(profile), variants.length - 1);
  const variant = variants[rank];
  return variant ? new URL(pathOn(ctx, variant.uri, ctx.masterUrl), ctx.masterUrl) : undefined;
}

/** Runs until `ctx.stopped()`; I/O errors are tallied by the client and the viewer carries on. */
export async function runViewer(ctx: ViewerContext, profile: ProfileName): Promise<void> {
  await sleep(Math.random() * ctx.pollMs);
  let mediaUrl: URL | undefined;
  while (!mediaUrl && !ctx.stopped()) {
    mediaUrl = await pickVariant(ctx, profile).catch((error: unknown) => {
      if (error instanceof PlaylistError) ctx.client.countError('playlist', error.message);
      return undefined;
    });
    if (!mediaUrl) await sleep(ctx.pollMs);
  }
  let lastSequence = -1;
  let playing = false;
  let dueAt = clock();
  while (mediaUrl && !ctx.stopped()) {
    try {
      const path = mediaUrl.pathname + mediaUrl.search;
      const { status, text } = await ctx.client.get(path, 'playlist', true);
      const playlist = status === 200 && text !== undefined ? parsePlaylist(text) : undefined;
      if (playlist && !(playlist instanceof HLS.types.MediaPlaylist)) {
        throw new PlaylistError('media playlist is multivariant');
      }
      if (playlist) {
        if (!playing) {
          playing = true;
          ctx.client.stats.viewersPlaying++;
        }
        const first = playlist.mediaSequenceBase ?? 0;
        const segments = playlist.segments;
        let from =
          lastSequence < 0 ? segments.length - ctx.startSegments : lastSequence + 1 - first;
        if (from < 0) {
          if (lastSequence >= 0 && ctx.client.measuring()) ctx.client.stats.missedSegments -= from;
          from = 0;
        }
        for (let i = from; i < segments.length && !ctx.stopped(); i++) {
          const segment = segments[i];
          if (!segment) continue;
          await ctx.client.get(pathOn(ctx, segment.uri, mediaUrl), 'segment', false);
          lastSequence = first + i;
        }
      }
    } catch (error) {
      // I/O errors are already counted by the client; either way, try again at the next poll.
      if (error instanceof PlaylistError) ctx.client.countError('playlist', error.message);
    }
    dueAt += ctx.pollMs;
    const now = clock();
    if (dueAt < now) {
      if (ctx.client.measuring()) ctx.client.stats.latePolls++;
      dueAt = now;
    }
    await sleep(dueAt - now);
  }
}
