/**
 * What the origin's live playlists list, shared by the playlists it serves (HlsDelivery) and
 * those it pushes to a CDN (PushPlaylists): both list the same segments and renditions.
 */
import type { MediaInfo } from '../core/media-info.js';
import { PROFILES, type ProfileName } from '../core/profiles.js';
import type { Segment } from '../core/segment.js';
import type { RenditionSummary } from './multivariant-playlist.js';

/** What listedSegments reads of a rendition's window (SegmentWindow has it). */
export interface ListableWindow {
  latest(count: number): readonly Segment[];
  latestSpanning(seconds: number, atLeast: number): readonly Segment[];
}

/**
 * What a live media playlist lists: the newest `playlistSegments`, or for a stream with a DVR
 * window (`dvrSeconds` > 0) as much history as it spans (never less). Either way the live edge
 * is the same, so players start at it; the rest is a seekable range behind it. The origin's
 * playlists and those pushed to a CDN both list these, so they cannot list different segments.
 */
export function listedSegments(
  window: ListableWindow,
  dvrSeconds: number,
  playlistSegments: number,
): readonly Segment[] {
  return dvrSeconds > 0
    ? window.latestSpanning(dvrSeconds, playlistSegments)
    : window.latest(playlistSegments);
}

/** What liveRenditions reads of a stream (LiveDistributor has it). */
export interface RenditionSource {
  window(profile: ProfileName): { segments(): readonly Segment[] };
  mediaInfo(profile: ProfileName): MediaInfo | undefined;
}

/** The renditions a live multivariant playlist lists, each at the URI `uri` gives it. */
export function liveRenditions(
  stream: RenditionSource,
  profiles: readonly ProfileName[],
  uri: (profile: ProfileName) => string,
): RenditionSummary[] {
  return profiles.map((profile) => ({
    profile,
    nominalKbps: PROFILES[profile].bitrateKbps,
    segments: stream.window(profile).segments(),
    media: stream.mediaInfo(profile),
    uri: uri(profile),
  }));
}
