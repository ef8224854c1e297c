import { ADAPTATION_POLICIES, DEFAULT_ADAPTATION_POLICY } from './adaptation/index.js';
import {
  ProfileFullError,
  SegmentNotFoundError,
  StreamEndedError,
  StreamFullError,
  ViewerBacklogFullError,
  ViewerExistsError,
  ViewerNotFoundError,
} from './errors.js';
import type { MediaInfo } from './media-info.js';
import { MediaTimeline } from './media-timeline.js';
import {
  PROFILE_NAMES,
  PROFILES,
  type ProfileName,
  profileCaps,
  profilesAtOrBelow,
} from './profiles.js';
import {
  type AdaptationDecision,
  type AdaptationPolicy,
  bufferHealthFromBufferLength,
  checkBufferHealth,
  lowerOf,
  seedBufferPolicy,
  throughputCap,
} from './quality.js';
import { type InitSection, MPEG_TS, type Segment, type SegmentInput } from './segment.js';
import { SegmentWindow } from './segment-window.js';
import { SteeredRendition } from './steered-rendition.js';
import { TargetDuration } from './target-duration.js';
import { adaptationInput } from './viewer-adaptation.js';
import { type SwitchReason, ViewerSession, type ViewerSessionState } from './viewer-session.js';

export interface DistributorOptions {
  readonly maxViewers: number;
  /** When the stream started (ms): a stream that never gets media ends after the encoder timeout. */
  readonly startedAt?: number;
  /** How long a segment stays in the window after it was published. */
  readonly retentionMs: number;
  /**
   * Seconds of history the live media playlist lists (a DVR window), 0 for the usual sliding
   * window; the retention must cover it (DistributionService adds it).
   */
  readonly dvrSeconds?: number;
  /** Makes unguessable session ids; the core has no randomness of its own. */
  readonly newSessionId: () => string;
  readonly policy?: AdaptationPolicy;
  /** Delivered-but-unfetched segments one viewer may hold. */
  readonly maxBacklog?: number;
  /**
   * Lost media sequence numbers a rendition lists as EXT-X-GAP before a segment; a longer hole
   * (an encoder jumping its numbers) starts the playlist after it instead.
   */
  readonly maxGapSegments?: number;
  /**
   * What tells this stream apart from every other of the same recording id (a reused id, a
   * restarted server): segment URLs carry it, so a cached URL never names other bytes.
   */
  readonly incarnation?: string;
}

export type StreamStatus = 'live' | 'ended';

/** A stream's figures without its viewers. */
export interface StreamSummary {
  readonly recordingId: string;
  readonly status: StreamStatus;
  readonly maxViewers: number;
  readonly activeViewers: number;
  readonly peakViewers: number;
  readonly totalSegmentsServed: number;
  readonly totalBytesServed: number;
  readonly viewersByProfile: Readonly<Record<ProfileName, number>>;
  readonly segmentsAvailable: Readonly<Record<ProfileName, number>>;
}

export interface DistributionStats extends StreamSummary {
  readonly viewers: readonly ViewerSession[];
}

export interface AdaptationResult {
  readonly previous: ProfileName;
  readonly current: ProfileName;
  readonly switched: boolean;
  /** The policy's reason for its choice. */
  readonly reason: string;
}

/** What a stream's DistributorOptions default to (see the options for what each means). */
export const DISTRIBUTOR_DEFAULTS = {
  maxBacklog: 32,
  maxGapSegments: 8,
} as const satisfies Partial<DistributorOptions>;

/** The segment duration the ladder is encoded for (the longest of the profiles'). */
const NOMINAL_SEGMENT_SEC = Math.max(...PROFILE_NAMES.map((p) => PROFILES[p].segmentDurationSec));

/** A segment fetch as another process reports it (see LiveDistributor.recordRemoteFetch). */
export interface RemoteFetch {
  readonly profile: ProfileName;
  readonly sequence: number;
  /** Bytes sent: the whole segment, or a byte range of it. */
  readonly bytes: number;
  /** Whether every byte of the segment was sent (a range short of it counts bytes only). */
  readonly whole: boolean;
}

/** One page of a stream's viewers, in join order. */
export interface ViewerPage {
  readonly sessions: readonly ViewerSession[];
  /** Pass as `after` for the next page; undefined on the last page. */
  readonly nextAfter: number | undefined;
}

/** One live stream: a segment window per rendition and the sessions watching it. */
export class LiveDistributor {
  readonly maxViewers: number;
  readonly retentionMs: number;
  /** See DistributorOptions.dvrSeconds. */
  readonly dvrSeconds: number;
  private readonly windows: Record<ProfileName, SegmentWindow>;
  private readonly viewers = new Map<string, ViewerSession>();
  private readonly perProfile: Record<ProfileName, number> = {
    VeryLow: 0,
    Low: 0,
    Medium: 0,
    High: 0,
  };
  private readonly caps: Record<ProfileName, number>;
  private readonly policy: AdaptationPolicy;
  private readonly maxBacklog: number;
  private readonly maxGapSegments: number;
  private readonly newSessionId: () => string;
  private readonly media: Partial<Record<ProfileName, MediaInfo>> = {};
  private peak = 0;
  private joins = 0;
  private segmentsServed = 0;
  private bytesServed = 0;
  private endedAt: number | undefined;
  private readonly target = new TargetDuration(NOMINAL_SEGMENT_SEC);
  private readonly timeline = new MediaTimeline(NOMINAL_SEGMENT_SEC);
  private highestSequence = Number.NEGATIVE_INFINITY;
  private readonly publishedAt: Partial<Record<ProfileName, number>> = {};
  /** Activity before this time does not count (a stream restored at a restart starts here). */
  private activeSince: number;

  /** When the stream started (ms). */
  readonly startedAt: number;
  /** This stream's incarnation (see DistributorOptions.incarnation). */
  readonly incarnation: string;

  constructor(
    readonly recordingId: string,
    options: DistributorOptions,
  ) {
    this.startedAt = options.startedAt ?? 0;
    this.activeSince = this.startedAt;
    this.incarnation = options.incarnation ?? '0';
    this.maxViewers = options.maxViewers;
    this.retentionMs = options.retentionMs;
    this.dvrSeconds = options.dvrSeconds ?? 0;
    this.newSessionId = options.newSessionId;
    this.policy = options.policy ?? ADAPTATION_POLICIES[DEFAULT_ADAPTATION_POLICY];
    this.maxBacklog = options.maxBacklog ?? DISTRIBUTOR_DEFAULTS.maxBacklog;
    this.maxGapSegments = options.maxGapSegments ?? DISTRIBUTOR_DEFAULTS.maxGapSegments;
    this.caps = profileCaps(options.maxViewers);
    this.windows = {
      VeryLow: new SegmentWindow(),
      Low: new SegmentWindow(),
      Medium: new SegmentWindow(),
      High: new SegmentWindow(),
    };
  }

  get status(): StreamStatus {
    return this.endedAt === undefined ? 'live' : 'ended';
  }

  /** When the stream ended (ms), if it has. */
  get endedAtMs(): number | undefined {
    return this.endedAt;
  }

  get activeViewers(): number {
    return this.viewers.size;
  }

  /** Active viewers per profile. */
  get viewersByProfile(): Readonly<Record<ProfileName, number>> {
    return this.perProfile;
  }

  /** Segments and bytes handed to viewers so far (what getStats reports, without the rows). */
  get served(): { readonly segments: number; readonly bytes: number } {
    return { segments: this.segmentsServed, bytes: this.bytesServed };
  }

  /** Per-profile viewer caps of this stream. */
  get profileCaps(): Readonly<Record<ProfileName, number>> {
    return this.caps;
  }

  window(profile: ProfileName): SegmentWindow {
    return this.windows[profile];
  }

  /** EXT-X-TARGETDURATION of every rendition: fixed at the first segment (TargetDuration). */
  get targetDurationSec(): number {
    return this.target.seconds;
  }

  /**
   * Times a segment longer than this stream's fixed target raised it (0 while the promise
   * holds), for health; IngestService.targetDurationRaises sums it over the process's life (a
   * counter that survives the stream).
   */
  get targetDurationRaises(): number {
    return this.target.raises;
  }

  /**
   * When each rendition last published a segment (ms); a rendition that never did is absent.
   * Kept apart from the windows, which let a stalled rendition's last segment expire.
   */
  get lastSegmentAtByProfile(): Readonly<Partial<Record<ProfileName, number>>> {
    return this.publishedAt;
  }

  /** One past the highest media sequence number this stream ever published (0 before any). */
  get nextSequence(): number {
    return Math.max(0, this.highestSequence + 1);
  }

  /**
   * Publishes a segment into its rendition's window (the seed's EnqueueSegment), with its
   * program date-time from the stream's media timeline and, after lost numbers, their gap.
   */
  enqueueSegment(input: SegmentInput, now: number): Segment {
    this.assertLive();
    const window = this.windows[input.profile];
    const discontinuity = input.discontinuity ?? false;
    const programDateTime = this.timeline.startOf(
      input.sequence,
      input.durationSec,
      discontinuity,
      now,
    );
    const segment: Segment = {
      id: input.id,
      sequence: input.sequence,
      profile: input.profile,
      durationSec: input.durationSec,
      data: input.data,
      contentType: input.contentType ?? MPEG_TS,
      createdAt: now,
      programDateTime,
      discontinuity,
      discontinuitySequence: window.discontinuitySequence + (discontinuity ? 1 : 0),
      initId: input.initId,
      etag: input.etag,
      gapBefore: this.gapBefore(window, input.sequence),
    };
    window.push(segment);
    this.timeline.place(segment.sequence, programDateTime, segment.durationSec);
    this.target.admit(segment.durationSec, input.declaredTargetSec);
    if (segment.sequence > this.highestSequence) this.highestSequence = segment.sequence;
    this.publishedAt[segment.profile] = now;
    return segment;
  }

  /** Durations of the numbers missing between the rendition's newest segment and `sequence`. */
  private gapBefore(window: SegmentWindow, sequence: number): number[] | undefined {
    const newest = window.newest;
    if (!newest) return undefined;
    const missing = sequence - newest.sequence - 1;
    if (missing <= 0 || missing > this.maxGapSegments) return undefined;
    const durations: number[] = [];
    for (let s = newest.sequence + 1; s < sequence; s++) {
      // Another rendition's duration when one got it; the nominal one fits any target.
      durations.push(this.timeline.durationOf(s) ?? NOMINAL_SEGMENT_SEC);
    }
    return durations;
  }

  /** Stores an fMP4 initialization section of one rendition. */
  putInit(profile: ProfileName, init: InitSection): void {
    this.assertLive();
    this.windows[profile].putInit(init);
  }

  /**
   * Registers a viewer at `initialBitrate`, or at the next lower profile with room when that
   * one is full (the landing is recorded in its switch history).
   */
  joinViewer(
    viewerId: string,
    initialBitrate: ProfileName,
    now: number,
    sessionId: string = this.newSessionId(),
  ): ViewerSession {
    this.assertLive();
    if (this.viewers.has(viewerId)) throw new ViewerExistsError(this.recordingId, viewerId);
    if (this.viewers.size >= this.maxViewers) {
      throw new StreamFullError(this.recordingId, this.maxViewers);
    }
    const landing = this.landingProfile(initialBitrate, undefined);
    if (!landing) throw new ProfileFullError(initialBitrate);
    const session = new ViewerSession(viewerId, sessionId, initialBitrate, now, ++this.joins);
    if (landing !== initialBitrate) session.switchTo(landing, now, 'profile_full');
    this.viewers.set(viewerId, session);
    this.perProfile[landing]++;
    if (this.viewers.size > this.peak) this.peak = this.viewers.size;
    return session;
  }

  /**
   * Restart recovery: what this stream had served, the media sequence it reached (new segments
   * continue after it, so a URL already served never names other bytes), its ended flag, and
   * `now` as its last sign of life (its encoder gets the whole timeout to come back).
   */
  restore(
    state: {
      readonly served?: { readonly segments: number; readonly bytes: number };
      readonly nextSequence?: number;
      readonly endedAt?: number | undefined;
    },
    now: number,
  ): void {
    if (state.served) {
      this.segmentsServed = state.served.segments;
      this.bytesServed = state.served.bytes;
    }
    if (state.nextSequence !== undefined && state.nextSequence - 1 > this.highestSequence) {
      this.highestSequence = state.nextSequence - 1;
    }
    if (state.endedAt !== undefined) this.end(state.endedAt);
    this.activeSince = Math.max(this.activeSince, now);
  }

  /**
   * Restart recovery: puts back what the stream's renditions held before the restart (read
   * from its segment files): each segment as it was published (number, URL, duration, date-time,
   * discontinuity, ETag, creation time), oldest first per rendition, the init sections they name,
   * the fixed target duration and each rendition's discontinuity sequence. The media timeline
   * continues from the restored date-times. Call before anything new is published.
   */
  restoreMedia(media: {
    readonly segments: readonly Segment[];
    readonly inits: readonly { readonly profile: ProfileName; readonly init: InitSection }[];
    readonly targetDurationSec?: number | undefined;
    readonly discontinuitySequences?: Readonly<Partial<Record<ProfileName, number>>>;
  }): void {
    for (const { profile, init } of media.inits) this.windows[profile].putInit(init);
    const ordered = [...media.segments].sort((a, b) => a.sequence - b.sequence);
    for (const segment of ordered) {
      this.windows[segment.profile].push(segment);
      this.timeline.place(segment.sequence, segment.programDateTime, segment.durationSec);
      // A target the store lost (a crash before its write) is at least what its segments need.
      this.target.restore(Math.max(1, Math.round(segment.durationSec)));
      if (segment.sequence > this.highestSequence) this.highestSequence = segment.sequence;
      const last = this.publishedAt[segment.profile];
      if (last === undefined || segment.createdAt > last) {
        this.publishedAt[segment.profile] = segment.createdAt;
      }
    }
    if (media.targetDurationSec !== undefined) this.target.restore(media.targetDurationSec);
    for (const name of PROFILE_NAMES) {
      const reached = media.discontinuitySequences?.[name];
      if (reached !== undefined) this.windows[name].resumeDiscontinuitySequence(reached);
    }
  }

  /**
   * Restart recovery: brings back a viewer with its session id, counters and history. No cap
   * is checked: the viewer held its seat before the restart.
   */
  restoreViewer(state: ViewerSessionState): ViewerSession {
    if (this.viewers.has(state.viewerId)) {
      throw new ViewerExistsError(this.recordingId, state.viewerId);
    }
    const session = ViewerSession.restore(state);
    this.viewers.set(session.viewerId, session);
    this.perProfile[session.currentBitrate]++;
    if (this.viewers.size > this.peak) this.peak = this.viewers.size;
    if (state.joinSeq > this.joins) this.joins = state.joinSeq;
    return session;
  }

  /** Removes a viewer (the seed's LeaveViewer) and returns its final session. */
  leaveViewer(viewerId: string): ViewerSession {
    const session = this.session(viewerId);
    this.viewers.delete(viewerId);
    this.perProfile[session.currentBitrate]--;
    return session;
  }

  session(viewerId: string): ViewerSession {
    const session = this.viewers.get(viewerId);
    if (!session) throw new ViewerNotFoundError(this.recordingId, viewerId);
    return session;
  }

  hasViewer(viewerId: string): boolean {
    return this.viewers.has(viewerId);
  }

  /**
   * Moves a viewer to `to`, or to the next lower profile with room. Returns the profile it is
   * on afterwards; throws ProfileFullError when neither `to` nor any lower profile has room.
   */
  switchBitrate(
    viewerId: string,
    to: ProfileName,
    now: number,
    reason: SwitchReason = 'manual',
    detail?: string,
  ): ProfileName {
    const session = this.session(viewerId);
    const from = session.currentBitrate;
    if (to === from) {
      session.targetBitrate = to;
      return to;
    }
    const landing = this.landingProfile(to, from);
    if (!landing) throw new ProfileFullError(to);
    if (landing !== from) {
      this.perProfile[from]--;
      this.perProfile[landing]++;
    }
    if (landing === to) session.switchTo(landing, now, reason, detail);
    else session.switchTo(landing, now, 'profile_full');
    return landing;
  }

  /** Records a viewer's buffer health (0-100) and the connection quality it implies. */
  updateViewerBuffer(viewerId: string, bufferHealth: number, now: number): ViewerSession {
    checkBufferHealth(bufferHealth);
    const session = this.session(viewerId);
    session.updateBuffer(bufferHealth, now);
    return session;
  }

  /**
   * Updates buffer health (and the throughput the player measured, when it says), then lets the
   * adaptation policy pick the viewer's profile.
   */
  adaptViewerQuality(
    viewerId: string,
    bufferHealth: number,
    now: number,
    throughputKbps?: number,
  ): AdaptationResult {
    const session = this.updateViewerBuffer(viewerId, bufferHealth, now);
    // This report is the newest word on the buffer: a buffer length from an earlier request's
    // CMCD must not outvote it (the next request's CMCD brings one again).
    session.bufferSec = undefined;
    if (throughputKbps !== undefined) session.recordThroughput(throughputKbps);
    // Decide from the server's last choice: a player may not have followed it yet, and deciding
    // from what it still fetches would undo the choice before the player ever saw it.
    const previous = session.targetBitrate;
    const decision = this.decide(session, now);
    const current = this.switchBitrate(
      viewerId,
      decision.profile,
      now,
      'adaptation',
      decision.reason,
    );
    return { previous, current, switched: current !== previous, reason: decision.reason };
  }

  /** The adaptation policy's choice for a viewer from what the server knows of it now. */
  private decide(
    session: ViewerSession,
    now: number,
    current = session.targetBitrate,
  ): AdaptationDecision {
    return this.policy.decide(adaptationInput(session, (p) => this.windows[p], now, current));
  }

  /**
   * Makes a viewer steered (README "Server-side steering"): the server chooses its renditions
   * within one media playlist from now on. Returns its steering state.
   */
  steer(viewerId: string): SteeredRendition {
    const session = this.session(viewerId);
    session.steering ??= new SteeredRendition();
    return session.steering;
  }

  /** The steered viewer's choice for new segments: the policy's, held as its target. */
  private steerByPolicy(session: ViewerSession, now: number): void {
    const decision = this.decide(session, now);
    if (decision.profile === session.targetBitrate) return;
    session.targetBitrate = decision.profile;
    session.steeringReason = decision.reason;
  }

  /**
   * Hands segment `segmentId` at the viewer's current bitrate to the viewer (the seed's
   * DeliverSegment): it is counted as served now and its next getNextSegment returns it first.
   */
  deliverSegment(viewerId: string, segmentId: string, now: number): Segment {
    const session = this.session(viewerId);
    const segment = this.windows[session.currentBitrate].get(segmentId);
    if (!segment) throw new SegmentNotFoundError(segmentId, session.currentBitrate);
    if (session.backlogSize >= this.maxBacklog)
      throw new ViewerBacklogFullError(viewerId, this.maxBacklog);
    session.pushBacklog(segment);
    this.account(session, segment, now);
    return segment;
  }

  /**
   * The next segment for a viewer (the seed's GetNextSegment): first anything delivered to it,
   * then the segment after the last one it received at its current bitrate. A viewer that has
   * received nothing starts its profile's buffer size behind the live edge.
   */
  getNextSegment(viewerId: string, now: number): Segment | undefined {
    const session = this.session(viewerId);
    session.lastSeenAt = now;
    const delivered = session.shiftBacklog();
    if (delivered) return delivered;
    const window = this.windows[session.currentBitrate];
    const next =
      session.lastSequence < 0
        ? window.liveStart(PROFILES[session.currentBitrate].bufferSegments)
        : window.nextAfter(session.lastSequence);
    if (next) this.account(session, next, now);
    return next;
  }

  /**
   * Counts `bytes` of `segment` fetched by a viewer's own request (a player over HLS), and moves
   * the viewer to the bitrate it is actually fetching.
   */
  recordFetch(
    viewerId: string,
    segment: Pick<Segment, 'profile' | 'sequence'>,
    bytes: number,
    now: number,
  ): ViewerSession {
    const session = this.observeBitrate(viewerId, segment.profile, now);
    session.receive(segment, now, bytes);
    this.segmentsServed++;
    this.bytesServed += bytes;
    if (session.steering) {
      const held = this.windows[segment.profile].nextAfter(segment.sequence - 1);
      const duration = held?.sequence === segment.sequence ? held.durationSec : NOMINAL_SEGMENT_SEC;
      session.noteFetched(duration, now);
      // A player reporting no buffer of its own is steered by the server's count of it.
      if (session.bufferSec === undefined) this.steerByPolicy(session, now);
    }
    return session;
  }

  /**
   * Counts `bytes` of a byte range of `segment` sent to a viewer: bytes, not a segment received
   * (a player fetching ranges has not necessarily taken the whole segment).
   */
  recordPartialFetch(
    viewerId: string,
    segment: Pick<Segment, 'profile'>,
    bytes: number,
    now: number,
  ): ViewerSession {
    const session = this.observeBitrate(viewerId, segment.profile, now);
    session.bytesReceived += bytes;
    this.bytesServed += bytes;
    return session;
  }

  /**
   * Counts a segment fetch another process served and reported (a cluster worker's batch,
   * src/cluster/): what recordFetch (`whole`) or recordPartialFetch would have counted at `now`,
   * the time of the request, from the fetch's figures; to the stream alone when the viewer has
   * left meanwhile (as a request naming a gone session is).
   */
  recordRemoteFetch(viewerId: string, fetch: RemoteFetch, now: number): ViewerSession | undefined {
    if (!this.viewers.has(viewerId)) {
      this.recordUnattributedFetch(fetch.bytes, fetch.whole);
      return undefined;
    }
    return fetch.whole
      ? this.recordFetch(viewerId, fetch, fetch.bytes, now)
      : this.recordPartialFetch(viewerId, fetch, fetch.bytes, now);
  }

  /**
   * A cluster worker's copy of this stream (src/cluster/): puts a segment another process
   * published into its rendition's window exactly as it was published there (number, URL,
   * duration, date-time, discontinuity, gaps, ETag, creation time), with the init section it
   * names and that process's target duration, so playlists render here as they do there.
   */
  replicateSegment(
    segment: Segment,
    init: InitSection | undefined,
    targetDurationSec: number,
  ): void {
    if (init !== undefined && this.windows[segment.profile].getInit(init.id) === undefined) {
      this.windows[segment.profile].putInit(init);
    }
    this.restoreMedia({ segments: [segment], inits: [], targetDurationSec });
  }

  /**
   * Counts bytes served to a request no session claims (a CDN filling its cache, say); a byte
   * range (`whole` false) counts its bytes but not a segment.
   */
  recordUnattributedFetch(bytes: number, whole = true): void {
    if (whole) this.segmentsServed++;
    this.bytesServed += bytes;
  }

  /**
   * Records that a viewer fetches `profile` (a player's own choice, seen in its requests). The
   * viewer moves there even past the profile's cap: caps govern joins and server-made switches,
   * not what a player already does.
   */
  observeBitrate(viewerId: string, profile: ProfileName, now: number): ViewerSession {
    const session = this.session(viewerId);
    session.lastSeenAt = now;
    if (session.currentBitrate !== profile) {
      this.perProfile[session.currentBitrate]--;
      this.perProfile[profile]++;
      // A steered player fetching the rendition the policy chose follows the server.
      if (session.steering && profile === session.targetBitrate) {
        session.switchTo(profile, now, 'adaptation', session.steeringReason);
      } else session.observe(profile, now);
    }
    return session;
  }

  /** Notes activity of a viewer that fetched something other than a segment. */
  touch(viewerId: string, now: number): ViewerSession {
    const session = this.session(viewerId);
    session.lastSeenAt = now;
    return session;
  }

  /** Removes viewers with no activity for more than `idleMs`; returns them. */
  expireIdleViewers(now: number, idleMs: number): ViewerSession[] {
    const idle: ViewerSession[] = [];
    for (const session of this.viewers.values()) {
      if (now - session.lastSeenAt > idleMs) idle.push(session);
    }
    for (const session of idle) this.leaveViewer(session.viewerId);
    return idle;
  }

  /**
   * Applies what a player reports about itself (CMCD): buffer length sets buffer health,
   * measured throughput feeds the estimate, and the viewer's recommended bitrate becomes the
   * adaptation policy's choice capped by what the throughput carries. Players that choose their
   * own bitrate (HLS) get a recommendation rather than a forced switch.
   */
  applyClientReport(
    viewerId: string,
    report: { bufferLengthMs?: number | undefined; throughputKbps?: number | undefined },
    now: number,
  ): ViewerSession {
    const session = this.touch(viewerId, now);
    if (report.throughputKbps !== undefined) session.recordThroughput(report.throughputKbps);
    if (report.bufferLengthMs !== undefined) {
      session.bufferSec = Math.max(0, report.bufferLengthMs) / 1000;
      session.updateBuffer(
        bufferHealthFromBufferLength(report.bufferLengthMs, session.currentBitrate),
        now,
      );
    }
    if (session.steering) {
      this.steerByPolicy(session, now);
      return session;
    }
    // A player choosing its own rendition is advised from the one it fetches.
    const byPolicy = this.decide(session, now, session.currentBitrate).profile;
    // The seed's rule reads no throughput: its recommendation never exceeds what that carries.
    session.recommendedBitrate =
      this.policy === seedBufferPolicy && session.throughputKbps > 0
        ? lowerOf(byPolicy, throughputCap(session.throughputKbps))
        : byPolicy;
    return session;
  }

  /** Records what a rendition's media really is (for the multivariant playlist). */
  setMediaInfo(profile: ProfileName, info: MediaInfo): void {
    this.media[profile] = info;
  }

  mediaInfo(profile: ProfileName): MediaInfo | undefined {
    return this.media[profile];
  }

  /** Statistics of this stream (the seed's GetDistributionStats). */
  getStats(): DistributionStats {
    return { ...this.getSummary(), viewers: this.getAllViewerSessions() };
  }

  /** The stream's figures without its viewers (no per-viewer work). */
  getSummary(): StreamSummary {
    const segmentsAvailable = {} as Record<ProfileName, number>;
    for (const name of PROFILE_NAMES) segmentsAvailable[name] = this.windows[name].size;
    return {
      recordingId: this.recordingId,
      status: this.status,
      maxViewers: this.maxViewers,
      activeViewers: this.viewers.size,
      peakViewers: this.peak,
      totalSegmentsServed: this.segmentsServed,
      totalBytesServed: this.bytesServed,
      viewersByProfile: { ...this.perProfile },
      segmentsAvailable,
    };
  }

  /**
   * Up to `limit` viewers that joined after join number `after` (0 for the first page), in join
   * order. Walks the sessions without copying them, so a page costs no more than a scan.
   */
  viewerPage(after: number, limit: number): ViewerPage {
    const sessions: ViewerSession[] = [];
    for (const session of this.viewers.values()) {
      if (session.joinSeq <= after) continue;
      if (sessions.length === limit) {
        return { sessions, nextAfter: sessions[sessions.length - 1]?.joinSeq };
      }
      sessions.push(session);
    }
    return { sessions, nextAfter: undefined };
  }

  /** When the stream last showed life (ms): its newest segment, or its start. */
  lastActivityAt(): number {
    let latest = this.activeSince;
    for (const name of PROFILE_NAMES) {
      const created = this.windows[name].newest?.createdAt;
      if (created !== undefined && created > latest) latest = created;
    }
    return latest;
  }

  /** Every active session (the seed's GetAllViewerSessions). */
  getAllViewerSessions(): ViewerSession[] {
    return [...this.viewers.values()];
  }

  /** Drops segments older than the retention window from every rendition. */
  expireSegments(now: number): Segment[] {
    const expired: Segment[] = [];
    for (const name of PROFILE_NAMES) {
      for (const segment of this.windows[name].expire(now, this.retentionMs)) expired.push(segment);
    }
    return expired;
  }

  /** Ends the stream: no more segments or joins; present viewers may drain what is left. */
  end(now: number): void {
    this.endedAt ??= now;
  }

  private account(session: ViewerSession, segment: Segment, now: number): void {
    session.receive(segment, now, segment.data.byteLength);
    this.segmentsServed++;
    this.bytesServed += segment.data.byteLength;
  }

  private assertLive(): void {
    if (this.endedAt !== undefined) throw new StreamEndedError(this.recordingId);
  }

  /**
   * First profile from `wanted` downwards with room; the viewer's own profile always has room.
   * VeryLow's cap equals the stream's, so below the stream cap this always finds one.
   */
  private landingProfile(
    wanted: ProfileName,
    own: ProfileName | undefined,
  ): ProfileName | undefined {
    for (const name of profilesAtOrBelow(wanted)) {
      if (name === own || this.perProfile[name] < this.caps[name]) return name;
    }
    return undefined;
  }
}
