import {
  type AdaptationResult,
  type DistributionStats,
  LiveDistributor,
} from '../core/distributor.js';
import {
  DistributionError,
  StreamEndedError,
  StreamExistsError,
  StreamFullError,
  StreamNotFoundError,
} from '../core/errors.js';
import { DEFAULT_MAX_VIEWERS, type ProfileName } from '../core/profiles.js';
import type { AdaptationPolicy } from '../core/quality.js';
import type { Segment, SegmentInput } from '../core/segment.js';
import type { ViewerSession, ViewerSessionState } from '../core/viewer-session.js';
import type { CacheCounts } from './cache-counts.js';
import type { CdnUpload } from './cdn.js';
import { contentTag, newIncarnation } from './content-tag.js';
import { DEFAULT_PRIORITY, Deliveries, type QueuedDelivery } from './deliveries.js';
import { deliveryHealth, type HealthReport } from './delivery-health.js';
import type {
  BackoffOptions,
  DeliveryPoolStats,
  DeliveryStatus,
  DeliveryTask,
} from './delivery-pool.js';
import { LiveEdgeWaiters } from './live-edge-waiters.js';
import { randomIdGenerator } from './random-ids.js';
import { SessionIndex, type SessionRef } from './session-index.js';
import { type AdmissionHost, SharedAdmission } from './shared-admission.js';
import {
  type AudienceHost,
  LocalAudience,
  type SharedAudience,
  SharedStateUnavailableError,
} from './shared-audience.js';
import { type LeaveReason, StreamEvents } from './stream-events.js';

// Callers import these from here, where they were declared before the service was split up.
export { DEFAULT_PRIORITY, type HealthReport, type QueuedDelivery, type SessionRef };

export interface DistributionServiceOptions {
  readonly workers?: number;
  readonly queueCapacity?: number;
  readonly retentionMs?: number;
  readonly cleanupIntervalMs?: number;
  readonly defaultMaxViewers?: number;
  readonly backoff?: BackoffOptions;
  readonly clock?: () => number;
  readonly cdnBaseUrl?: string;
  readonly cdnUpload?: CdnUpload;
  readonly policy?: AdaptationPolicy;
  readonly maxBacklog?: number;
  /** Viewers with no request for this long leave by themselves. */
  readonly idleTimeoutMs?: number;
  /** DVR window (seconds) of a stream started without dvr_seconds; 0 means none. */
  readonly dvrSeconds?: number;
  /** Streams (live, or ended and still readable) the server holds at most. */
  readonly maxStreams?: number;
  /** Where an event listener's error goes (it never reaches the code that emitted). */
  readonly onListenerError?: (error: unknown) => void;
  /**
   * The audience shared with other origins (`--state-url`); LocalAudience (the default) shares
   * nothing: sessions, caps and counters are this process's alone.
   */
  readonly audience?: SharedAudience;
  /** Where problems of the shared audience go (an exchange that failed, say). */
  readonly onSharedStateWarning?: (message: string, error: unknown) => void;
}

export const SERVICE_DEFAULTS = {
  workers: 4,
  queueCapacity: 1000,
  retentionMs: 30_000,
  cleanupIntervalMs: 1000,
  // 3 target durations plus a 6-segment playlist of 2 s segments.
  idleTimeoutMs: 18_000,
  maxStreams: 100,
  dvrSeconds: 0,
} as const;

/**
 * Longest DVR window a stream may have. DVR history is held in memory (the window serves it
 * like any live segment): an hour of the four-rendition ladder is about 3.4 GB, so the cap
 * bounds what one stream can make the server hold (docs/architecture.md, "Rules the code keeps").
 */
export const MAX_DVR_SECONDS = 3600;

export class TooManyStreamsError extends DistributionError {
  constructor(limit: number) {
    super(
      'TOO_MANY_STREAMS',
      `the server already holds ${limit} streams (--max-streams); retry when one has ended`,
      'recording_id',
    );
  }
}

/** Session ids carry this prefix (a bearer token is told from an admin token by it). */
export const SESSION_PREFIX = 'vs-';

/** A stream as restart recovery brings it back (see DistributionService.restoreStream). */
export interface RestoredStream {
  readonly recordingId: string;
  readonly incarnation: string;
  readonly startedAt: number;
  readonly endedAt: number | undefined;
  readonly maxViewers: number;
  readonly retentionMs: number;
  /** Its DVR window (seconds), 0 or absent when it has none. */
  readonly dvrSeconds?: number | undefined;
  /** One past the highest media sequence number it published. */
  readonly nextSequence: number;
  /** Segments and bytes it had served. */
  readonly served: { readonly segments: number; readonly bytes: number };
  /** Its viewers that had not left, in join order. */
  readonly viewers: readonly ViewerSessionState[];
}

export interface SystemMetrics {
  readonly totalDistributors: number;
  readonly liveStreams: number;
  readonly totalActiveViewers: number;
  readonly totalSegmentsServed: number;
  readonly totalBytesServed: number;
  readonly totalDeliveryFailures: number;
  readonly cdnEnabled: boolean;
  readonly cdnBaseUrl: string | undefined;
  readonly cdnCacheHitRate: number;
  readonly cdnHits: number;
  readonly cdnMisses: number;
  readonly deliveryQueue: DeliveryPoolStats;
  readonly uptimeMs: number;
}

/**
 * Runs many live streams: the registry of their distributors and the cleanup timer, with time
 * and concurrency kept out of the core. The rest is delegated, one job per file: the session
 * index (session-index.ts), deliveries through the pool and the CDN (deliveries.ts), requests
 * waiting at the live edge (live-edge-waiters.ts) and the health rule (delivery-health.ts).
 */
export class DistributionService {
  private readonly streams = new Map<string, LiveDistributor>();
  private readonly sessions = new SessionIndex();
  private readonly waiters = new LiveEdgeWaiters();
  private readonly retiredListeners: Array<(recordingId: string) => void> = [];
  /** Streams started and ended, viewers joined and left, caps reached. */
  readonly events: StreamEvents;
  private readonly deliveries: Deliveries;
  private readonly clock: () => number;
  private readonly newSessionId = randomIdGenerator(SESSION_PREFIX);
  private readonly newAnonymousId = randomIdGenerator('anon-');
  private readonly startedAt: number;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Totals of streams already removed, so system totals never go backwards. */
  private retired = { segments: 0, bytes: 0 };
  private readonly audience: SharedAudience;
  private readonly admission: SharedAdmission;

  constructor(private readonly options: DistributionServiceOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.events = new StreamEvents(options.onListenerError);
    this.startedAt = this.clock();
    this.deliveries = new Deliveries({
      workers: options.workers ?? SERVICE_DEFAULTS.workers,
      queueCapacity: options.queueCapacity ?? SERVICE_DEFAULTS.queueCapacity,
      backoff: options.backoff,
      cdnBaseUrl: options.cdnBaseUrl,
      cdnUpload: options.cdnUpload,
      clock: this.clock,
    });
    this.audience = options.audience ?? new LocalAudience();
    this.audience.attach(this.audienceHost());
    this.admission = new SharedAdmission(this.audience, this.admissionHost());
  }

  /** Starts the cleanup timer that expires segments and retires ended streams. */
  start(): void {
    this.cleanupTimer ??= setInterval(
      () => this.cleanup(),
      this.options.cleanupIntervalMs ?? SERVICE_DEFAULTS.cleanupIntervalMs,
    );
    this.cleanupTimer.unref();
  }

  /**
   * Creates the distributor of a new stream with its own cap and retention (the seed's
   * CreateDistributor). An ended stream of the same id is replaced; a live one is a conflict.
   */
  createDistributor(
    recordingId: string,
    settings: {
      maxViewers?: number | undefined;
      retentionMs?: number | undefined;
      dvrSeconds?: number | undefined;
    } = {},
  ): LiveDistributor {
    const existing = this.streams.get(recordingId);
    if (existing?.status === 'live') throw new StreamExistsError(recordingId);
    if (existing) this.retire(recordingId, existing);
    const maxStreams = this.options.maxStreams ?? SERVICE_DEFAULTS.maxStreams;
    if (this.streams.size >= maxStreams) throw new TooManyStreamsError(maxStreams);
    // Another origin may hold this stream: its URLs and cap are the ones agreed (prepareStream).
    const agreed = this.audience.identity(recordingId);
    const dvrSeconds = Math.min(
      MAX_DVR_SECONDS,
      settings.dvrSeconds ??
        agreed?.dvrSeconds ??
        this.options.dvrSeconds ??
        SERVICE_DEFAULTS.dvrSeconds,
    );
    const retentionMs =
      settings.retentionMs ?? this.options.retentionMs ?? SERVICE_DEFAULTS.retentionMs;
    const distributor = new LiveDistributor(recordingId, {
      startedAt: this.clock(),
      maxViewers:
        settings.maxViewers ??
        agreed?.maxViewers ??
        this.options.defaultMaxViewers ??
        DEFAULT_MAX_VIEWERS,
      // A segment leaves a DVR playlist dvrSeconds after it was published and stays fetchable
      // for the usual retention after that, as any segment leaving a playlist does
      // (docs/architecture.md, "Delivery rules").
      retentionMs: retentionMs + dvrSeconds * 1000,
      dvrSeconds,
      newSessionId: this.newSessionId,
      incarnation: agreed?.incarnation ?? newIncarnation(),
      ...(this.options.policy && { policy: this.options.policy }),
      ...(this.options.maxBacklog !== undefined && { maxBacklog: this.options.maxBacklog }),
    });
    this.streams.set(recordingId, distributor);
    this.admission.follow(distributor, agreed === undefined);
    this.events.publish('stream_started', {
      recordingId,
      maxViewers: distributor.maxViewers,
      at: distributor.startedAt,
    });
    return distributor;
  }

  /**
   * Restart recovery: brings back a stream with its own incarnation (its segment URLs stay
   * valid), settings, ended flag, served totals and viewers (their session ids stay valid).
   * Announces nothing: the stream and its viewers were announced when they started and joined.
   */
  restoreStream(stream: RestoredStream): LiveDistributor {
    if (this.streams.has(stream.recordingId)) throw new StreamExistsError(stream.recordingId);
    const maxStreams = this.options.maxStreams ?? SERVICE_DEFAULTS.maxStreams;
    if (this.streams.size >= maxStreams) throw new TooManyStreamsError(maxStreams);
    const distributor = new LiveDistributor(stream.recordingId, {
      startedAt: stream.startedAt,
      maxViewers: stream.maxViewers,
      retentionMs: stream.retentionMs,
      dvrSeconds: stream.dvrSeconds ?? 0,
      newSessionId: this.newSessionId,
      incarnation: stream.incarnation,
      ...(this.options.policy && { policy: this.options.policy }),
      ...(this.options.maxBacklog !== undefined && { maxBacklog: this.options.maxBacklog }),
    });
    distributor.restore(stream, this.clock());
    for (const viewer of stream.viewers) {
      const session = distributor.restoreViewer(viewer);
      this.sessions.add(stream.recordingId, session);
    }
    this.streams.set(stream.recordingId, distributor);
    this.admission.follow(distributor, false);
    return distributor;
  }

  /**
   * Before a stream is created here by a push or a start (`exclusive`: refused with
   * StreamExistsError when live on another origin): agrees its identity with the other origins,
   * so every origin names its segments alike. Nothing to do without a shared state.
   */
  async prepareStream(
    recordingId: string,
    settings: { maxViewers?: number | undefined; dvrSeconds?: number | undefined },
    exclusive: boolean,
  ): Promise<void> {
    if (!this.admission.shared || this.streams.get(recordingId)?.status === 'live') return;
    const proposal = {
      incarnation: newIncarnation(),
      maxViewers: settings.maxViewers ?? this.options.defaultMaxViewers ?? DEFAULT_MAX_VIEWERS,
      dvrSeconds: Math.min(
        MAX_DVR_SECONDS,
        settings.dvrSeconds ?? this.options.dvrSeconds ?? SERVICE_DEFAULTS.dvrSeconds,
      ),
    };
    await this.admission.claimStream(recordingId, proposal, exclusive);
  }

  /**
   * Restart recovery: the service totals resume from `stored` (what the last process had
   * counted), so segments and bytes served never go back across a restart. Call after the
   * streams are restored: their own served totals are part of `stored`.
   */
  resumeTotals(stored: { readonly segments: number; readonly bytes: number }): void {
    let segments = 0;
    let bytes = 0;
    for (const distributor of this.streams.values()) {
      segments += distributor.served.segments;
      bytes += distributor.served.bytes;
    }
    this.retired = {
      segments: Math.max(this.retired.segments, stored.segments - segments),
      bytes: Math.max(this.retired.bytes, stored.bytes - bytes),
    };
  }

  /** Starts a stream with the service's defaults (the seed's StartLiveStream). */
  startLiveStream(recordingId: string, maxViewers?: number, dvrSeconds?: number): LiveDistributor {
    return this.createDistributor(recordingId, { maxViewers, dvrSeconds });
  }

  /** Whether a stream of this id is held (live, or ended and not yet removed). */
  hasStream(recordingId: string): boolean {
    return this.streams.has(recordingId);
  }

  getDistributor(recordingId: string): LiveDistributor {
    const distributor = this.streams.get(recordingId);
    if (!distributor) throw new StreamNotFoundError(recordingId);
    return distributor;
  }

  /**
   * Publishes a segment (its ETag hashed from its bytes) and wakes viewers at the live edge;
   * `arrivedAt` (ms) is when its bytes came in, for the ingest lag of `segment_published`.
   */
  addSegmentToStream(recordingId: string, input: SegmentInput, arrivedAt?: number): Segment {
    const now = this.clock();
    const segment = this.getDistributor(recordingId).enqueueSegment(
      { ...input, etag: input.etag ?? contentTag(input.data) },
      now,
    );
    this.wake(recordingId);
    this.events.publish('segment_published', {
      recordingId,
      profile: segment.profile,
      sequence: segment.sequence,
      durationSec: segment.durationSec,
      at: now,
      lagMs: arrivedAt === undefined ? undefined : Math.max(0, now - arrivedAt),
    });
    return segment;
  }

  /**
   * Joins a viewer; `sessionId` keeps one handed out before the viewer took its seat. With a
   * shared audience joins go through admitViewer.
   */
  joinStream(
    recordingId: string,
    viewerId: string,
    initialBitrate: ProfileName = 'Low',
    sessionId?: string,
  ): ViewerSession {
    return this.join(recordingId, viewerId, initialBitrate, sessionId, false);
  }

  /** Joins a viewer that came without an identity (a player opening the playlist). */
  joinAnonymous(recordingId: string, sessionId?: string): ViewerSession {
    return this.join(recordingId, this.newAnonymousId(), 'Low', sessionId, true);
  }

  /** Whether the audience is shared with other origins (`--state-url`). */
  get sharesAudience(): boolean {
    return this.admission.shared;
  }

  /**
   * Joins a viewer, admitted under the stream's cap across every origin when they share one
   * (the join route calls it once the request is authorised: nothing is seated before).
   */
  async admitViewer(
    recordingId: string,
    viewerId: string,
    initialBitrate: ProfileName = 'Low',
  ): Promise<ViewerSession> {
    if (!this.admission.shared) return this.joinStream(recordingId, viewerId, initialBitrate);
    return this.admission.join(recordingId, viewerId, initialBitrate);
  }

  /**
   * With a shared audience: seats an anonymous session handed out by a playlist at its first
   * segment, under the stream's cap across every origin, and announces it.
   */
  admitAnonymous(recordingId: string, sessionId: string): Promise<ViewerSession> {
    return this.admission.admitAnonymous(recordingId, sessionId);
  }

  /**
   * A request names a session unknown here: with a shared audience, brings its stream's
   * audience up to date (it is seated here afterwards if another origin seated it).
   */
  lookUpSession(recordingId: string, sessionId: string): Promise<void> {
    return this.admission.lookUp(recordingId, sessionId);
  }

  /** With a shared audience: whether another origin handed out this anonymous session for the stream. */
  handedOutElsewhere(recordingId: string, sessionId: string): Promise<boolean> {
    return this.admission.handedOutElsewhere(recordingId, sessionId);
  }

  /** With a shared audience: brings a stream's audience up to date now (a viewer unknown here). */
  refreshAudience(recordingId: string): Promise<void> {
    return this.admission.refresh(recordingId);
  }

  /** An anonymous session handed out here: other origins may see its first segment. */
  handOutSession(recordingId: string, sessionId: string): Promise<void> {
    return this.admission.handOut(recordingId, sessionId);
  }

  /** The error refusing a new viewer of a full stream, announced as `viewer_cap_reached`. */
  streamFull(recordingId: string): StreamFullError {
    const distributor = this.getDistributor(recordingId);
    this.events.publish('viewer_cap_reached', {
      recordingId,
      maxViewers: distributor.maxViewers,
      at: this.clock(),
    });
    return new StreamFullError(recordingId, distributor.maxViewers);
  }

  private join(
    recordingId: string,
    viewerId: string,
    initialBitrate: ProfileName,
    sessionId: string | undefined,
    anonymous: boolean,
  ): ViewerSession {
    const distributor = this.getDistributor(recordingId);
    // With a shared audience a seat is admitted across origins first (admitViewer, admitAnonymous).
    if (this.admission.shared) {
      throw new SharedStateUnavailableError('a join must be admitted by the shared state first');
    }
    let session: ViewerSession;
    try {
      session = distributor.joinViewer(viewerId, initialBitrate, this.clock(), sessionId);
    } catch (error) {
      if (error instanceof StreamFullError) throw this.streamFull(recordingId);
      throw error;
    }
    this.sessions.add(recordingId, session);
    this.announceJoin(recordingId, session, anonymous);
    return session;
  }

  private announceJoin(recordingId: string, session: ViewerSession, anonymous: boolean): void {
    this.events.publish('viewer_joined', {
      recordingId,
      viewerId: session.viewerId,
      anonymous,
      profile: session.currentBitrate,
      at: session.joinedAt,
    });
  }

  /** Makes an unguessable session id (for a viewer that will take its seat later). */
  newSession(): string {
    return this.newSessionId();
  }

  /** Calls `listener` with the id of every stream removed from memory. */
  onStreamRetired(listener: (recordingId: string) => void): void {
    this.retiredListeners.push(listener);
  }

  /**
   * Ends live streams that showed no life (no segment, or no start) for `quietMs`: an encoder
   * that went away, or a stream started through the API that never got media. Returns their ids.
   */
  endQuietStreams(
    quietMs: number,
    /** Streams held open anyway (`published`: the stream has had a segment). */
    waiting: (recordingId: string, published: boolean) => boolean = () => false,
  ): string[] {
    const now = this.clock();
    const ended: string[] = [];
    for (const [recordingId, distributor] of this.streams) {
      if (distributor.status !== 'live' || now - distributor.lastActivityAt() <= quietMs) continue;
      if (waiting(recordingId, distributor.nextSequence > 0)) continue;
      // Each origin ends its own copy when its feed stops: the others may still be fed.
      this.end(recordingId, false);
      ended.push(recordingId);
    }
    return ended;
  }

  leaveStream(recordingId: string, viewerId: string): ViewerSession {
    const session = this.getDistributor(recordingId).leaveViewer(viewerId);
    this.forgetSession(recordingId, session, 'left');
    this.audience.left(recordingId, session.sessionId);
    return session;
  }

  /** Finds a session by its id, or undefined when it is unknown or has left. */
  findSession(sessionId: string): SessionRef | undefined {
    return this.sessions.find(sessionId);
  }

  /**
   * Queues delivery of a segment to a viewer (the seed's DeliverSegmentToViewer). Unknown
   * stream, viewer or segment fail now; the worker then hands the segment over, through the
   * CDN when one is enabled, with the retries and timeout of the viewer's profile.
   */
  deliverSegmentToViewer(
    recordingId: string,
    viewerId: string,
    segmentId: string,
    priority: number = DEFAULT_PRIORITY,
  ): QueuedDelivery {
    return this.deliveries.deliverSegmentToViewer(
      this.getDistributor(recordingId),
      viewerId,
      segmentId,
      priority,
    );
  }

  /** Queues a task on the delivery pool; throws QueueFullError / ShuttingDownError as submit does. */
  submitDelivery(task: DeliveryTask): void {
    this.deliveries.submit(task);
  }

  /** The delivery pool's workers (other work on the pool leaves viewers some of them). */
  get deliveryWorkers(): number {
    return this.deliveries.stats().workers;
  }

  /** Takes the CDN's hit and miss counts from `source` (undefined: the forwarder's own). */
  useCacheCounts(source: CacheCounts | undefined): void {
    this.deliveries.useCacheCounts(source);
  }

  deliveryStatus(deliveryId: string): DeliveryStatus {
    return this.deliveries.status(deliveryId);
  }

  /**
   * Records buffer health (and the player's measured throughput) and adapts the viewer's
   * bitrate (the seed's AdaptViewerQuality).
   */
  adaptViewerQuality(
    recordingId: string,
    viewerId: string,
    bufferHealth: number,
    throughputKbps?: number,
  ): AdaptationResult {
    return this.getDistributor(recordingId).adaptViewerQuality(
      viewerId,
      bufferHealth,
      this.clock(),
      throughputKbps,
    );
  }

  /** Moves a viewer to another bitrate; returns the profile it lands on. */
  switchViewerBitrate(recordingId: string, viewerId: string, to: ProfileName): ProfileName {
    return this.getDistributor(recordingId).switchBitrate(viewerId, to, this.clock());
  }

  getStreamViewers(recordingId: string): ViewerSession[] {
    return this.getDistributor(recordingId).getAllViewerSessions();
  }

  getStreamStatistics(recordingId: string): DistributionStats {
    return this.getDistributor(recordingId).getStats();
  }

  /** Every stream's distributor, for summaries that need no per-viewer rows. */
  streamDistributors(): LiveDistributor[] {
    return [...this.streams.values()];
  }

  getAllStreamStatistics(): DistributionStats[] {
    return [...this.streams.values()].map((d) => d.getStats());
  }

  /**
   * The viewer's next segment; at the live edge waits up to `waitMs` for one to be published.
   * Resolves undefined when none arrives in time, the stream ended, or `signal` aborts.
   */
  async waitForNextSegment(
    recordingId: string,
    viewerId: string,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<Segment | undefined> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const distributor = this.getDistributor(recordingId);
      const segment = distributor.getNextSegment(viewerId, this.clock());
      if (segment) return segment;
      const remaining = deadline - performance.now();
      if (distributor.status === 'ended' || remaining <= 0 || signal?.aborted || this.closing) {
        return undefined;
      }
      await this.waiters.next(recordingId, remaining, signal);
    }
  }

  /** Ends a stream (the seed's EndLiveStream); it stays readable until its segments expire. */
  endLiveStream(recordingId: string): DistributionStats {
    return this.end(recordingId, true);
  }

  /** Ends a stream here; `everywhere`: every origin holding it ends it too. */
  private end(recordingId: string, everywhere: boolean): DistributionStats {
    const distributor = this.getDistributor(recordingId);
    if (distributor.status === 'ended') throw new StreamEndedError(recordingId);
    const now = this.clock();
    distributor.end(now);
    if (everywhere) this.audience.ended(recordingId, now);
    this.wake(recordingId);
    const stats = distributor.getStats();
    this.events.publish('stream_ended', {
      recordingId,
      startedAt: distributor.startedAt,
      at: now,
      peakViewers: stats.peakViewers,
    });
    return stats;
  }

  enableCDN(baseUrl: string): void {
    this.deliveries.enableCdn(baseUrl);
  }

  disableCDN(): void {
    this.deliveries.disableCdn();
  }

  /** Base URL segments are served from when a CDN is enabled. */
  get cdnBaseUrl(): string | undefined {
    return this.deliveries.cdnBaseUrl;
  }

  /** The service clock (ms). */
  now(): number {
    return this.clock();
  }

  getMetrics(): SystemMetrics {
    let viewers = 0;
    let live = 0;
    let segments = this.retired.segments;
    let bytes = this.retired.bytes;
    // Totals only: no per-viewer rows are built, so metrics stay cheap with many viewers.
    for (const distributor of this.streams.values()) {
      const served = distributor.served;
      viewers += distributor.activeViewers;
      segments += served.segments;
      bytes += served.bytes;
      if (distributor.status === 'live') live++;
    }
    const queue = this.deliveries.stats();
    const cdn = this.deliveries.cdnFigures();
    return {
      totalDistributors: this.streams.size,
      liveStreams: live,
      totalActiveViewers: viewers,
      totalSegmentsServed: segments,
      totalBytesServed: bytes,
      totalDeliveryFailures: queue.failedAttempts,
      cdnEnabled: cdn.enabled,
      cdnBaseUrl: cdn.baseUrl,
      cdnCacheHitRate: cdn.hitRate,
      cdnHits: cdn.hits,
      cdnMisses: cdn.misses,
      deliveryQueue: queue,
      uptimeMs: this.clock() - this.startedAt,
    };
  }

  /**
   * Healthy unless draining, the delivery queue is nearly full, recent deliveries fail, or the
   * state shared with other origins cannot be reached.
   */
  health(): HealthReport {
    return deliveryHealth(
      this.deliveries.stats(),
      this.deliveries.isAccepting,
      this.audience.problems(),
    );
  }

  /**
   * Expires old segments and idle viewers, and removes ended streams once their last segment
   * expired.
   */
  cleanup(): void {
    const now = this.clock();
    const idleMs = this.options.idleTimeoutMs ?? SERVICE_DEFAULTS.idleTimeoutMs;
    for (const [recordingId, distributor] of this.streams) {
      for (const segment of distributor.expireSegments(now)) {
        this.deliveries.forget(recordingId, segment);
      }
      // A shared audience expires idle viewers for every origin (by their last request anywhere).
      if (this.audience.expiresIdleLocally) {
        for (const session of distributor.expireIdleViewers(now, idleMs))
          this.forgetSession(recordingId, session, 'idle');
      }
      const ended = distributor.endedAtMs;
      if (ended !== undefined && now - ended > distributor.retentionMs) {
        this.retire(recordingId, distributor);
      }
    }
  }

  /** Stops taking deliveries, drains the queue within `deadlineMs`, stops timers and waiters. */
  async shutdown(deadlineMs: number): Promise<boolean> {
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.cleanupTimer = undefined;
    this.closing = true;
    this.waiters.wakeAll();
    return this.deliveries.drain(deadlineMs);
  }

  /** Connects to the state shared with other origins (start-up; throws naming the setting). */
  async connectShared(): Promise<void> {
    await this.audience.connect();
    this.audience.start();
  }

  /**
   * Sends the last counts to the shared state and disconnects (after the requests finished),
   * within `timeoutMs` when given.
   */
  async closeShared(timeoutMs?: number): Promise<void> {
    await this.audience.close(timeoutMs);
  }

  private retire(recordingId: string, distributor: LiveDistributor): void {
    const served = distributor.served;
    this.retired.segments += served.segments;
    this.retired.bytes += served.bytes;
    // With a shared audience, the origin that admitted a viewer announces its leave.
    for (const session of distributor.getAllViewerSessions()) {
      if (this.audience.announces(session.sessionId)) {
        this.forgetSession(recordingId, session, 'stream_removed');
      } else {
        this.sessions.remove(session.sessionId);
      }
    }
    this.audience.unfollow(recordingId);
    this.streams.delete(recordingId);
    this.wake(recordingId);
    for (const listener of this.retiredListeners) listener(recordingId);
  }

  private forgetSession(recordingId: string, session: ViewerSession, reason: LeaveReason): void {
    this.sessions.remove(session.sessionId);
    this.announceLeave(recordingId, session, reason);
  }

  private announceLeave(recordingId: string, session: ViewerSession, reason: LeaveReason): void {
    this.events.publish('viewer_left', {
      recordingId,
      viewerId: session.viewerId,
      reason,
      joinedAt: session.joinedAt,
      lastSeenAt: session.lastSeenAt,
      at: this.clock(),
      segmentsReceived: session.segmentsReceived,
      bytesReceived: session.bytesReceived,
    });
  }

  private wake(recordingId: string): void {
    this.waiters.wake(recordingId);
  }

  private warn(message: string, error: unknown): void {
    if (this.options.onSharedStateWarning) this.options.onSharedStateWarning(message, error);
    else process.emitWarning(`${message}: ${error instanceof Error ? error.message : error}`);
  }

  /** What shared admission may do here: find, seat, announce and give back seats. */
  private admissionHost(): AdmissionHost {
    return {
      distributor: (recordingId) => this.streams.get(recordingId),
      streamFull: (recordingId) => this.streamFull(recordingId),
      findSession: (sessionId) => this.sessions.find(sessionId),
      announceJoin: (recordingId, session, anonymous) =>
        this.announceJoin(recordingId, session, anonymous),
      newSessionId: () => this.newSessionId(),
      newAnonymousId: () => this.newAnonymousId(),
      handOutTtlMs: this.options.idleTimeoutMs ?? SERVICE_DEFAULTS.idleTimeoutMs,
      warn: (message, error) => this.warn(message, error),
    };
  }

  /** What the shared audience may do to this service: seat, remove and end what it is told. */
  private audienceHost(): AudienceHost {
    return {
      now: () => this.clock(),
      newAnonymousId: () => this.newAnonymousId(),
      idleTimeoutMs: this.options.idleTimeoutMs ?? SERVICE_DEFAULTS.idleTimeoutMs,
      distributor: (recordingId) => this.streams.get(recordingId),
      seated: (recordingId, session) => this.sessions.add(recordingId, session),
      unseated: (recordingId, session, reason) => {
        this.sessions.remove(session.sessionId);
        if (reason) this.announceLeave(recordingId, session, reason);
      },
      endedElsewhere: (recordingId) => {
        if (this.streams.get(recordingId)?.status === 'live') this.end(recordingId, false);
      },
      warn: (message, error) => this.warn(message, error),
    };
  }
}
