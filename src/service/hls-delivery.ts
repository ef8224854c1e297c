import type { LiveDistributor } from '../core/distributor.js';
import { DistributionError } from '../core/errors.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import { type InitSection, MP4, type Segment, segmentFileName } from '../core/segment.js';
import { steeredListing } from '../core/steered-rendition.js';
import type { ViewerSession } from '../core/viewer-session.js';
import { listedSegments, liveRenditions } from '../hls/live-listing.js';
import { writeMediaPlaylist } from '../hls/media-playlist.js';
import { writeMultivariantPlaylist } from '../hls/multivariant-playlist.js';
import { PlaylistTemplate } from '../hls/playlist-template.js';
import { AnonymousSeats } from './anonymous-seats.js';
import { type DistributionService, SERVICE_DEFAULTS } from './distribution-service.js';
import { SharedStateUnavailableError } from './shared-audience.js';

export interface HlsOptions {
  /** Segments a media playlist lists (the sliding window players see). */
  readonly playlistSegments: number;
  /** Anonymous sessions one client address may hold at once. */
  readonly anonymousPerClient?: number;
  /** How long a session handed out by a playlist waits for its first segment (the idle timeout). */
  readonly anonymousPendingMs?: number;
  /** Anonymous sessions that may wait for their first segment at once, server-wide. */
  readonly maxPendingAnonymous?: number;
  /**
   * How long a multivariant playlist waits for a running probe when a rendition has no media
   * description yet: a master without CODECS and RESOLUTION is what a player keeps for the whole
   * session, and ffprobe takes a fraction of a second.
   */
  readonly probeWaitMs?: number;
  /** Smallest segment response whose timing is taken as a throughput sample (shorter ones mislead). */
  readonly minThroughputSampleBytes?: number;
  /**
   * With a shared audience: session ids found nowhere that are remembered, so a client repeating
   * one costs no further look-up (a valid id is in the shared state before any client has it).
   */
  readonly unknownSessionsRemembered?: number;
  /**
   * Behind caching edges (the edge tier): a segment may be answered from an edge's cache and
   * never reach the origin, so a media playlist takes an anonymous session's seat and stands for
   * the rendition a viewer plays, as behind a push CDN.
   */
  readonly seatAtPlaylist?: boolean;
}

/** The folder of a stream's steered playlists: `/live/{id}/auto/index.m3u8?session=ID`. */
export const STEERED_FOLDER = 'auto';

export const HLS_DEFAULTS = {
  playlistSegments: 6,
  anonymousPerClient: 4,
  maxPendingAnonymous: 10_000,
  probeWaitMs: 2000,
  minThroughputSampleBytes: 16 * 1024,
  unknownSessionsRemembered: 10_000,
} as const satisfies HlsOptions;

/** What a player reports about itself on a request (decoded CMCD). */
export interface ClientReport {
  readonly sessionId?: string | undefined;
  /** The client's address (the forwarded one behind a trusted proxy). */
  readonly client?: string | undefined;
  readonly bufferLengthMs?: number | undefined;
  readonly throughputKbps?: number | undefined;
  /** CMCD `bs`: the player starved since its previous request; undefined without CMCD. */
  readonly bufferStarvation?: boolean | undefined;
}

/**
 * What HLS delivery needs to know of probing (ingest knows): a promise settling when a stream's
 * running probes finish, or undefined when none runs.
 */
export interface MediaProbing {
  probing(recordingId: string): Promise<void> | undefined;
}

export class SteeringSessionRequiredError extends DistributionError {
  constructor(recordingId: string) {
    super(
      'STEERING_SESSION_REQUIRED',
      `a steered playlist is a viewer's own: open /live/${recordingId}/master.m3u8?abr=server, whose variant names the session`,
      'session',
    );
  }
}

export class NoMediaYetError extends DistributionError {
  constructor(recordingId: string) {
    super('NO_MEDIA_YET', `stream '${recordingId}' has no published segments yet; retry shortly`);
  }
}

interface CachedPlaylist {
  readonly revision: number;
  readonly incarnation: string;
  readonly target: number;
  readonly ended: boolean;
  readonly cdnBase: string | undefined;
  /** EXT-X-VERSION it declares: the next playlist of this incarnation declares no less. */
  readonly version: number;
  readonly template: PlaylistTemplate;
}

/**
 * HLS delivery: playlists (cached per window revision) and segments from memory, with every
 * request attributed to a viewer session.
 */
export class HlsDelivery {
  private readonly playlists = new Map<string, CachedPlaylist>();
  private readonly seats: AnonymousSeats;
  /**
   * Session ids no origin knows (see HlsOptions.unknownSessionsRemembered), oldest first, with
   * when: remembered for a hand-out's lifetime only (one may be handed out by then after all).
   */
  private readonly unknown = new Map<string, number>();

  constructor(
    private readonly service: DistributionService,
    private readonly options: HlsOptions = HLS_DEFAULTS,
    private readonly probes?: MediaProbing,
  ) {
    this.seats = new AnonymousSeats(
      {
        perClient: options.anonymousPerClient ?? HLS_DEFAULTS.anonymousPerClient,
        pendingMs: options.anonymousPendingMs ?? SERVICE_DEFAULTS.idleTimeoutMs,
        maxPending: options.maxPendingAnonymous ?? HLS_DEFAULTS.maxPendingAnonymous,
      },
      (sessionId) => service.findSession(sessionId) !== undefined,
    );
    service.onStreamRetired((recordingId) => this.forget(recordingId));
  }

  /** The stream's fixed target duration, which players poll at (for cache lifetimes). */
  targetDurationSec(recordingId: string): number {
    return this.service.getDistributor(recordingId).targetDurationSec;
  }

  /**
   * The multivariant playlist for a session. A request naming none (or one that is gone) gets a
   * new anonymous session that takes its seat at its first segment; `probe` (HEAD) gets none.
   * Variant URIs carry the session, and `token` when playback needs one. When a listed rendition
   * has no media description yet and its probe runs, waits for it up to `probeWaitMs`.
   */
  async multivariant(
    recordingId: string,
    report: ClientReport,
    options: { probe?: boolean; token?: string | undefined; steered?: boolean } = {},
  ): Promise<{ text: string; sessionId: string | undefined }> {
    if (!PROFILE_NAMES.some((p) => this.service.getDistributor(recordingId).window(p).size > 0)) {
      throw new NoMediaYetError(recordingId);
    }
    await this.mediaDescribed(recordingId);
    // The stream may have been replaced while waiting: answer for the one there now.
    const distributor = this.service.getDistributor(recordingId);
    const profiles = PROFILE_NAMES.filter((p) => distributor.window(p).size > 0);
    if (profiles.length === 0) throw new NoMediaYetError(recordingId);
    const seated = this.sessionFor(recordingId, report.sessionId);
    let sessionId = seated?.sessionId ?? this.waitingSession(recordingId, report.sessionId);
    if (seated) this.report(distributor, seated, report);
    if (sessionId === undefined && !options.probe) {
      if (distributor.activeViewers >= distributor.maxViewers) {
        throw this.service.streamFull(recordingId);
      }
      sessionId = this.service.newSession();
      this.seats.issue(report.client ?? '', recordingId, sessionId, this.service.now());
      // Its next request may reach another origin: they must know it waits for a seat.
      await this.service.handOutSession(recordingId, sessionId);
    }
    const params = new URLSearchParams();
    if (sessionId !== undefined) params.set('session', sessionId);
    if (options.token !== undefined) params.set('token', options.token);
    const query = params.size > 0 ? `?${params}` : '';
    // Steered (`?abr=server`): one variant, the viewer's steered playlist, described as the
    // highest rendition it may carry, so a player never picks a rendition of its own.
    const listed = options.steered ? profiles.slice(-1) : profiles;
    const uri = (profile: ProfileName) =>
      `${options.steered ? STEERED_FOLDER : profile}/index.m3u8${query}`;
    const text = writeMultivariantPlaylist(liveRenditions(distributor, listed, uri));
    return { text, sessionId };
  }

  /**
   * Waits (up to `probeWaitMs` in all) while a rendition with media has no description yet and
   * a probe runs: renditions publish their first segments one after another, so a probe may
   * start while the playlist waits for another.
   */
  private async mediaDescribed(recordingId: string): Promise<void> {
    const deadline = performance.now() + (this.options.probeWaitMs ?? HLS_DEFAULTS.probeWaitMs);
    for (;;) {
      const distributor = this.service.getDistributor(recordingId);
      const undescribed = PROFILE_NAMES.some(
        (p) => distributor.window(p).size > 0 && distributor.mediaInfo(p) === undefined,
      );
      const running = undescribed ? this.probes?.probing(recordingId) : undefined;
      const left = deadline - performance.now();
      if (!running || left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        running,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /**
   * With an audience shared by several origins, before a request of `kind` is handled: a
   * session it names that this origin does not know is looked up (seated by another origin, or
   * handed out by one and waiting: it then waits here too, so this origin's playlists carry
   * it), and a waiting anonymous session takes its seat across origins where claimSeat would
   * (its first segment; behind a CDN, a media playlist). Nothing to do without one.
   */
  async prepare(
    recordingId: string,
    report: Pick<ClientReport, 'sessionId' | 'client'>,
    kind: 'master' | 'media' | 'segment',
  ): Promise<void> {
    const sessionId = report.sessionId;
    if (!this.service.sharesAudience || sessionId === undefined) return;
    if (this.service.findSession(sessionId) || this.isUnknown(sessionId)) return;
    if (!this.service.streamDistributors().some((d) => d.recordingId === recordingId)) return;
    if (this.waitingSession(recordingId, sessionId) === undefined) {
      try {
        await this.service.lookUpSession(recordingId, sessionId);
        if (this.service.findSession(sessionId)) return;
        if (!(await this.service.handedOutElsewhere(recordingId, sessionId))) {
          this.rememberUnknown(sessionId);
          return;
        }
      } catch (error) {
        // The shared state is away: the request is served as one naming no known session.
        if (error instanceof SharedStateUnavailableError) return;
        throw error;
      }
      this.seats.issue(report.client ?? '', recordingId, sessionId, this.service.now());
    }
    const seating = kind === 'segment' || (kind === 'media' && this.segmentsHidden());
    if (!seating) return;
    await this.service.admitAnonymous(recordingId, sessionId);
    this.seats.seat(sessionId);
  }

  /**
   * Seats the anonymous session a segment request names, if it is still waiting: its first
   * segment is where it takes a viewer's place (503 when the stream is full). With a shared
   * audience, prepare() seated it already.
   */
  claimSeat(recordingId: string, report: ClientReport): void {
    const sessionId = this.waitingSession(recordingId, report.sessionId);
    if (sessionId === undefined) return;
    this.service.joinAnonymous(recordingId, sessionId);
    this.seats.seat(sessionId);
  }

  /** A rendition's media playlist; segment URIs carry the session unless a CDN serves them. */
  mediaPlaylist(recordingId: string, profile: ProfileName, report: ClientReport): string {
    const distributor = this.service.getDistributor(recordingId);
    const window = distributor.window(profile);
    if (window.size === 0) throw new NoMediaYetError(recordingId);
    const cdnBase = this.service.cdnBaseUrl;
    // Behind a CDN or edges the origin may never see segment requests: the playlist is where a
    // seat is taken.
    const hidden = this.segmentsHidden();
    if (hidden) this.claimSeat(recordingId, report);
    const session = this.sessionFor(recordingId, report.sessionId);
    const waiting = session ? undefined : this.waitingSession(recordingId, report.sessionId);
    if (session) {
      // Segment fetches show the bitrate a player really takes (players such as ffmpeg open every
      // variant's playlist); only when a CDN or an edge hides those fetches does the playlist
      // stand in.
      if (hidden) distributor.observeBitrate(session.viewerId, profile, this.service.now());
      this.report(distributor, session, report);
    }
    const key = `${recordingId}/${profile}`;
    let cached = this.playlists.get(key);
    const ended = distributor.status === 'ended';
    const target = distributor.targetDurationSec;
    if (
      !cached ||
      cached.revision !== window.revision ||
      cached.incarnation !== distributor.incarnation ||
      cached.target !== target ||
      cached.ended !== ended ||
      cached.cdnBase !== cdnBase
    ) {
      const prefix = cdnBase
        ? `${cdnBase}/live/${encodeURIComponent(recordingId)}/${profile}/`
        : '';
      const { text, version } = writeMediaPlaylist({
        segments: this.listed(distributor, profile),
        ended,
        targetDurationSec: target,
        segmentUri: (segment) => prefix + segment.id,
        initUri: (initId) => initId,
        gapUri: (sequence, next) =>
          prefix + segmentFileName(distributor.incarnation, sequence, next.contentType === MP4),
        // A version only rises while the stream lives: players must never see it change back.
        minVersion: cached?.incarnation === distributor.incarnation ? cached.version : 1,
      });
      cached = {
        revision: window.revision,
        incarnation: distributor.incarnation,
        target,
        ended,
        cdnBase,
        version,
        template: new PlaylistTemplate(text),
      };
      this.playlists.set(key, cached);
    }
    const sessionId = session?.sessionId ?? waiting;
    const query = sessionId && !cdnBase ? `?session=${encodeURIComponent(sessionId)}` : '';
    return cached.template.render(query);
  }

  /**
   * A steered viewer's media playlist (README "Server-side steering"): one playlist whose new
   * segments come from the rendition the adaptation policy chose for the viewer, so a player
   * that picks no rendition of its own follows the server. Per viewer, so it seats a waiting
   * anonymous session; segment URIs point into the renditions' own folders.
   */
  steeredPlaylist(recordingId: string, report: ClientReport): string {
    const distributor = this.service.getDistributor(recordingId);
    this.claimSeat(recordingId, report);
    const session = this.sessionFor(recordingId, report.sessionId);
    if (!session) throw new SteeringSessionRequiredError(recordingId);
    const steering = distributor.steer(session.viewerId);
    this.report(distributor, session, report);
    // The chosen rendition, or while it has published nothing yet, the highest one that has.
    const published = PROFILE_NAMES.filter((p) => distributor.window(p).size > 0);
    const target = published.includes(session.targetBitrate)
      ? session.targetBitrate
      : published.at(-1);
    if (target === undefined) throw new NoMediaYetError(recordingId);
    const segments = steeredListing(steering, target, this.listed(distributor, target), (p) =>
      distributor.window(p),
    );
    if (segments.length === 0) throw new NoMediaYetError(recordingId);
    const cdnBase = this.service.cdnBaseUrl;
    const folder = (profile: ProfileName) =>
      cdnBase ? `${cdnBase}/live/${encodeURIComponent(recordingId)}/${profile}/` : `../${profile}/`;
    const { text } = writeMediaPlaylist({
      segments,
      ended: distributor.status === 'ended',
      targetDurationSec: distributor.targetDurationSec,
      segmentUri: (segment) => folder(segment.profile) + segment.id,
      initUri: (initId, segment) => folder(segment.profile) + initId,
      gapUri: (sequence, next) =>
        folder(next.profile) +
        segmentFileName(distributor.incarnation, sequence, next.contentType === MP4),
    });
    const query = cdnBase ? '' : `?session=${encodeURIComponent(session.sessionId)}`;
    return new PlaylistTemplate(text).render(query);
  }

  /** What a rendition's media playlist lists (see listedSegments). */
  private listed(distributor: LiveDistributor, profile: ProfileName): readonly Segment[] {
    const window = distributor.window(profile);
    return listedSegments(window, distributor.dvrSeconds, this.options.playlistSegments);
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
   * of this stream, otherwise to the stream alone. `elapsedMs` yields a throughput sample. A
   * byte range (`whole` false) counts its bytes only, not a segment received.
   */
  recordSegmentSent(
    recordingId: string,
    segment: Segment,
    bytes: number,
    elapsedMs: number,
    report: ClientReport,
    whole = true,
  ): ViewerSession | undefined {
    const distributor = this.service.getDistributor(recordingId);
    const session = this.sessionFor(recordingId, report.sessionId);
    if (!session) {
      distributor.recordUnattributedFetch(bytes, whole);
      return undefined;
    }
    const now = this.service.now();
    if (whole) distributor.recordFetch(session.viewerId, segment, bytes, now);
    else distributor.recordPartialFetch(session.viewerId, segment, bytes, now);
    const minSample =
      this.options.minThroughputSampleBytes ?? HLS_DEFAULTS.minThroughputSampleBytes;
    if (elapsedMs > 0 && bytes >= minSample)
      session.recordThroughput((bytes * 8) / elapsedMs, 'server');
    this.report(distributor, session, report);
    return session;
  }

  private isUnknown(sessionId: string): boolean {
    const at = this.unknown.get(sessionId);
    if (at === undefined) return false;
    const lifetime = this.options.anonymousPendingMs ?? SERVICE_DEFAULTS.idleTimeoutMs;
    if (this.service.now() - at < lifetime) return true;
    this.unknown.delete(sessionId);
    return false;
  }

  private rememberUnknown(sessionId: string): void {
    // Deleted first: a session remembered again goes to the end, as the newest.
    this.unknown.delete(sessionId);
    this.unknown.set(sessionId, this.service.now());
    const limit = this.options.unknownSessionsRemembered ?? HLS_DEFAULTS.unknownSessionsRemembered;
    for (const oldest of this.unknown.keys()) {
      if (this.unknown.size <= limit) break;
      this.unknown.delete(oldest);
    }
  }

  /**
   * Whether segment requests may not reach this origin (a CDN serves them, or edges cache them):
   * a media playlist then stands for the rendition a viewer plays (cluster workers ask too).
   */
  segmentsHidden(): boolean {
    return this.service.cdnBaseUrl !== undefined || this.options.seatAtPlaylist === true;
  }

  /** Drops anonymous sessions that waited too long for their first segment. */
  prune(): void {
    this.seats.prune(this.service.now());
  }

  /** Forgets the cached playlists and waiting sessions of a removed stream. */
  private forget(recordingId: string): void {
    for (const profile of PROFILE_NAMES) this.playlists.delete(`${recordingId}/${profile}`);
    this.seats.forgetStream(recordingId);
  }

  /** `sessionId` when it is an anonymous session of this stream still waiting for a segment. */
  private waitingSession(recordingId: string, sessionId: string | undefined): string | undefined {
    return sessionId !== undefined && this.seats.streamOf(sessionId) === recordingId
      ? sessionId
      : undefined;
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
    if (report.bufferStarvation !== undefined) session.reportStarvation(report.bufferStarvation);
    if (report.bufferLengthMs === undefined && report.throughputKbps === undefined) {
      distributor.touch(session.viewerId, this.service.now());
      return;
    }
    distributor.applyClientReport(session.viewerId, report, this.service.now());
  }
}
