import type { MediaInfo } from '../core/media-info.js';
import type { ProfileName } from '../core/profiles.js';
import { type InitSection, MP4, type Segment, segmentFileName } from '../core/segment.js';
import { type ListableWindow, listedSegments, liveRenditions } from '../hls/live-listing.js';
import { writeMediaPlaylist } from '../hls/media-playlist.js';
import { writeMultivariantPlaylist } from '../hls/multivariant-playlist.js';

/** What the pusher reads of a rendition's window (SegmentWindow has it). */
export interface PushedRendition extends ListableWindow {
  readonly revision: number;
  readonly size: number;
  segments(): readonly Segment[];
  get(id: string): Segment | undefined;
  getInit(id: string): InitSection | undefined;
}

/** What the pusher reads of a stream (LiveDistributor has it). */
export interface PushedStream {
  readonly recordingId: string;
  /** New for every stream of a recording id: its segment names are new too. */
  readonly incarnation: string;
  readonly status: 'live' | 'ended';
  readonly targetDurationSec: number;
  readonly dvrSeconds: number;
  window(profile: ProfileName): PushedRendition;
  mediaInfo(profile: ProfileName): MediaInfo | undefined;
}

/** A media playlist for a static target, and the object names it lists (segments and inits). */
export interface TargetPlaylist {
  readonly text: string;
  readonly names: readonly string[];
}

/** A multivariant playlist for a target, and what decides whether to push it again. */
export interface TargetMaster {
  readonly text: string;
  /** See PushPlaylists.masterShape. */
  readonly shape: string;
}

interface Cached {
  readonly incarnation: string;
  readonly revision: number;
  readonly ended: boolean;
  readonly target: number;
  readonly version: number;
  readonly playlist: TargetPlaylist;
}

/**
 * Playlists as a push target serves them: written as the origin writes its own (the same
 * segments listed, src/hls/ writes both) but with every URI relative and no session or token, so
 * a plain file server mirroring `/live/{id}/…` plays them. One text per window revision serves
 * every target.
 */
export class PushPlaylists {
  private readonly cache = new Map<string, Cached>();

  /** `playlistSegments`: what a media playlist lists, as the origin's (--playlist-segments). */
  constructor(private readonly playlistSegments: number) {}

  /** The rendition's media playlist now, or undefined while it has no segment. */
  media(stream: PushedStream, profile: ProfileName): TargetPlaylist | undefined {
    const window = stream.window(profile);
    if (window.size === 0) return undefined;
    const key = `${stream.recordingId}/${profile}`;
    const cached = this.cache.get(key);
    const ended = stream.status === 'ended';
    const target = stream.targetDurationSec;
    if (
      cached?.incarnation === stream.incarnation &&
      cached.revision === window.revision &&
      cached.ended === ended &&
      cached.target === target
    ) {
      return cached.playlist;
    }
    const listed = this.listed(stream, profile);
    const { text, version } = writeMediaPlaylist({
      segments: listed,
      ended,
      targetDurationSec: target,
      segmentUri: (segment) => segment.id,
      initUri: (initId) => initId,
      gapUri: (sequence, next) =>
        segmentFileName(stream.incarnation, sequence, next.contentType === MP4),
      // A version only rises while the stream lives: players must never see it change back.
      minVersion: cached?.incarnation === stream.incarnation ? cached.version : 1,
    });
    const names = new Set<string>();
    for (const segment of listed) {
      if (segment.initId !== undefined) names.add(segment.initId);
      names.add(segment.id);
    }
    const playlist = { text, names: [...names] };
    this.cache.set(key, {
      incarnation: stream.incarnation,
      revision: window.revision,
      ended,
      target,
      version,
      playlist,
    });
    return playlist;
  }

  /** What the origin's media playlist lists (see listedSegments). */
  listed(stream: PushedStream, profile: ProfileName): readonly Segment[] {
    return listedSegments(stream.window(profile), stream.dvrSeconds, this.playlistSegments);
  }

  /** The multivariant playlist listing `profiles` (those whose media playlist the target has). */
  master(stream: PushedStream, profiles: readonly ProfileName[]): TargetMaster {
    const text = writeMultivariantPlaylist(
      liveRenditions(stream, profiles, (profile) => `${profile}/index.m3u8`),
    );
    return { text, shape: this.masterShape(stream, profiles) };
  }

  /**
   * What decides whether a target's multivariant playlist is worth pushing again: the renditions
   * it lists and their media description (codecs and resolution arrive with the first probe).
   * Measured bandwidths move with every segment and are left as first pushed.
   */
  masterShape(stream: PushedStream, profiles: readonly ProfileName[]): string {
    return JSON.stringify(profiles.map((p) => [p, stream.mediaInfo(p) ?? null]));
  }

  /** Forgets the cached playlists of streams no longer `held`. */
  keepOnly(held: ReadonlySet<string>): void {
    for (const key of this.cache.keys()) {
      if (!held.has(key.slice(0, key.lastIndexOf('/')))) this.cache.delete(key);
    }
  }
}
