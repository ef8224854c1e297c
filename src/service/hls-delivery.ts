import type { LiveDistributor } from '../core/distributor.js';
import { DistributionError, StreamNotFoundError } from '../core/errors.js';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../core/profiles.js';
import type { InitSection, Segment } from '../core/segment.js';
import type { ViewerSession } from '../core/viewer-session.js';
import { writeMediaPlaylist } from '../hls/media-playlist.js';
import { writeMultivariantPlaylist } from '../hls/multivariant-playlist.js';
import { PlaylistTemplate } from '../hls/playlist-template.js';
import type { DistributionService } from './distribution-service.js';

export interface HlsOptions {
  /** Segments a media playlist lists (the sliding window players see). */
  readonly playlistSegments: number;
}

export const HLS_DEFAULTS: HlsOptions = { playlistSegments: 6 };

/** What a player reports about itself on a request (decoded CMCD). */
export interface ClientReport {
  readonly sessionId?: string | undefined;
  readonly bufferLengthMs?: number | undefined;
  readonly throughputKbps?: number | undefined;
}

export class NoMediaYetError extends DistributionError {
  constructor(recordingId: string) {
    super('NO_MEDIA_YET', `stream '${recordingId}' has no published segments yet; retry shortly`);
  }
}

interface CachedPlaylist {
  readonly revision: number;
  readonly ended: boolean;
  readonly cdnBase: string | undefined;
  readonly template: PlaylistTemplate;
}

/**
 * HLS delivery: playlists (cached per window revision) and segments from memory, with every
 * request attributed to a viewer session.
 */
export class HlsDelivery {
  private readonly playlists = new Map<string, CachedPlaylist>();

  constructor(
    private readonly service: DistributionService,
    private readonly options: HlsOptions = HLS_DEFAULTS,
  ) {}

  /** Target duration players should poll at, for cache lifetimes. */
  targetDurationSec(recordingId: string, profile: ProfileName): number {
    const newest = this.service.getDistributor(recordingId).window(profile).newest;
    return Math.max(1, Math.round(newest?.durationSec ?? PROFILES[profile].segmentDurationSec));
  }

  /**
   * The multivariant playlist for a session, joining an anonymous viewer when the request
   * names none (or one that is gone). Variant URIs carry the session.
   */
  multivariant(
    recordingId: string,
    report: ClientReport,
  ): { text: string; session: ViewerSession } {
    const distributor = this.service.getDistributor(recordingId);
    const profiles = PROFILE_NAMES.filter((p) => distributor.window(p).size > 0);
    if (profiles.length === 0) throw new NoMediaYetError(recordingId);
    const session =
      this.sessionFor(recordingId, report.sessionId) ?? this.service.joinAnonymous(recordingId);
    this.report(distributor, session, report);
    const query = `?session=${encodeURIComponent(session.sessionId)}`;
    const text = writeMultivariantPlaylist(
      profiles.map((profile) => ({
        profile,
        nominalKbps: PROFILES[profile].bitrateKbps,
        segments: distributor.window(profile).segments(),
        media: distributor.mediaInfo(profile),
        uri: `${profile}/index.m3u8${query}`,
      })),
    );
    return { text, session };
  }

  /** A rendition's media playlist; segment URIs carry the session unless a CDN serves them. */
  mediaPlaylist(recordingId: string, profile: ProfileName, report: ClientReport): string {
    const distributor = this.service.getDistributor(recordingId);
    const window = distributor.window(profile);
    if (window.size === 0) throw new NoMediaYetError(recordingId);
    const session = this.sessionFor(recordingId, report.sessionId);
    const cdnBase = this.service.cdnBaseUrl;
    if (session) {
      // Segment fetches show the bitrate a player really takes (players such as ffmpeg open every
      // variant's playlist); only when a CDN hides those fetches does the playlist stand in.
      if (cdnBase) distributor.observeBitrate(session.viewerId, profile, this.service.now());
      this.report(distributor, session, report);
    }
    const key = `${recordingId}/${profile}`;
    let cached = this.playlists.get(key);
    const ended = distributor.status === 'ended';
    if (
      !cached ||
      cached.revision !== window.revision ||
      cached.ended !== ended ||
      cached.cdnBase !== cdnBase
    ) {
      const prefix = cdnBase
        ? `${cdnBase}/live/${encodeURIComponent(recordingId)}/${profile}/`
        : '';
      const text = writeMediaPlaylist({
        segments: window.latest(this.options.playlistSegments),
        ended,
        segmentUri: (segment) => prefix + segment.id,
        initUri: (initId) => initId,
      });
      cached = { revision: window.revision, ended, cdnBase, template: new PlaylistTemplate(text) };
      this.playlists.set(key, cached);
    }
    const query = session && !cdnBase ? `?session=${encodeURIComponent(session.sessionId)}` : '';
    return cached.template.render(query);
  }

  /** A segment or initialization section held in the rendition's window. */
  object(
    recordingId: string,
    profile: ProfileName,
    file: string,
  ): Segment | InitSection | undefined {
    const window = this.service.getDistributor(recordingId).window(profile);
    return window.get(file) ?? window.getInit(file);
  }

  /**
   * Accounts `bytes` of a segment fully sent to a request: to its session when it names one
   * of this stream, otherwise to the stream alone. `elapsedMs` yields a throughput sample.
   */
  recordSegmentSent(
    recordingId: string,
    segment: Segment,
    bytes: number,
    elapsedMs: number,
    report: ClientReport,
  ): ViewerSession | undefined {
    const distributor = this.service.getDistributor(recordingId);
    const session = this.sessionFor(recordingId, report.sessionId);
    if (!session) {
      distributor.recordUnattributedFetch(bytes);
      return undefined;
    }
    distributor.recordFetch(session.viewerId, segment, bytes, this.service.now());
    if (elapsedMs > 0 && bytes >= 16 * 1024) session.recordThroughput((bytes * 8) / elapsedMs);
    this.report(distributor, session, report);
    return session;
  }

  /** Drops cached playlists of streams that no longer exist. */
  prune(): void {
    for (const key of this.playlists.keys()) {
      const recordingId = key.slice(0, key.lastIndexOf('/'));
      try {
        this.service.getDistributor(recordingId);
      } catch (error) {
        if (error instanceof StreamNotFoundError) this.playlists.delete(key);
      }
    }
  }

  private sessionFor(
    recordingId: string,
    sessionId: string | undefined,
  ): ViewerSession | undefined {
    if (!sessionId) return undefined;
    const found = this.service.findSession(sessionId);
    return found?.recordingId === recordingId ? found.session : undefined;
  }

  private report(distributor: LiveDistributor, session: ViewerSession, report: ClientReport): void {
    if (report.bufferLengthMs === undefined && report.throughputKbps === undefined) {
      distributor.touch(session.viewerId, this.service.now());
      return;
    }
    distributor.applyClientReport(session.viewerId, report, this.service.now());
  }
}
