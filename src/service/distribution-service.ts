import {
  type AdaptationResult,
  type DistributionStats,
  LiveDistributor,
} from '../core/distributor.js';
import {
  DistributionError,
  SegmentNotFoundError,
  StreamEndedError,
  StreamExistsError,
  StreamFullError,
  StreamNotFoundError,
} from '../core/errors.js';
import { DEFAULT_MAX_VIEWERS, PROFILES, type ProfileName } from '../core/profiles.js';
import type { AdaptationPolicy } from '../core/quality.js';
import type { Segment, SegmentInput } from '../core/segment.js';
import type { ViewerSession, ViewerSessionState } from '../core/viewer-session.js';
import { CdnForwarder, type CdnUpload } from './cdn.js';
import { contentTag, newIncarnation } from './content-tag.js';
import {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  DeliveryPool,
  type DeliveryPoolStats,
  type DeliveryStatus,
} from './delivery-pool.js';
import { randomIdGenerator } from './random-ids.js';
import { DeliveryNotFoundError } from './service-errors.js';
import { type LeaveReason, StreamEvents } from './stream-events.js';

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

/** A stream as restart recovery brings it back (see DistributionService.restoreStream). */
/** A seated session and the stream it watches. */
export interface SessionRef {
  readonly recordingId: string;
  readonly session: ViewerSession;
}

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

/** Priority of a delivery when the request names none (0 lowest, 10 highest). */
export const DEFAULT_PRIORITY = 5;

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

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  readonly accepting: boolean;
  readonly reasons: string[];
}

export interface QueuedDelivery {
  readonly deliveryId: string;
  readonly priority: number;
  readonly profile: ProfileName;
}

/** Failure share of recent delivery attempts above which health reports degraded. */
const DEGRADED_FAILURE_RATE = 0.1;
/** Queue fill above which health reports degraded. */
const DEGRADED_QUEUE_FILL = 0.9;

/**
 * Runs many live streams: their distributors, the delivery worker pool, the cleanup timer and
 * the CDN, with time and concurrency kept out of the core.
 */
export class DistributionService {
  private readonly streams = new Map<string, LiveDistributor>();
  /**
   * Every seated session by its id, with its stream: the lookup every HLS request makes. Only
   * this class seats and removes viewers (join, restore, leave, idle expiry, retire), and each
   * path keeps this map in step, so a hit is a live session without asking its distributor.
   */
  private readonly sessions = new Map<string, SessionRef>();
  private readonly publishWaiters = new Map<string, Set<() => void>>();
  private readonly retiredListeners: Array<(recordingId: string) => void> = [];
  /** Streams started and ended, viewers joined and left, caps reached. */
  readonly events: StreamEvents;
  private readonly pool: DeliveryPool;
  private readonly cdn: CdnForwarder;
  private readonly clock: () => number;
  private readonly newSessionId = randomIdGenerator('vs-');
  private readonly newDeliveryId = randomIdGenerator('dl-');
  private readonly newAnonymousId = randomIdGenerator('anon-');
  private readonly startedAt: number;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Totals of streams already removed, so system totals never go backwards. */
  private retired = { segments: 0, bytes: 0 };

  constructor(private readonly options: DistributionServiceOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.events = new StreamEvents(options.onListenerError);
    this.startedAt = this.clock();
    this.pool = new DeliveryPool({
      workers: options.workers ?? SERVICE_DEFAULTS.workers,
      queueCapacity: options.queueCapacity ?? SERVICE_DEFAULTS.queueCapacity,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      isPermanent: (error) => error instanceof DistributionError,
    });
    this.cdn = new CdnForwarder(options.cdnUpload);
    if (options.cdnBaseUrl) this.cdn.enable(options.cdnBaseUrl);
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
    const dvrSeconds = Math.min(
      MAX_DVR_SECONDS,
      settings.dvrSeconds ?? this.options.dvrSeconds ?? SERVICE_DEFAULTS.dvrSeconds,
    );
    const retentionMs =
      settings.retentionMs ?? this.options.retentionMs ?? SERVICE_DEFAULTS.retentionMs;
    const distributor = new LiveDistributor(recordingId, {
      startedAt: this.clock(),
      maxViewers: settings.maxViewers ?? this.options.defaultMaxViewers ?? DEFAULT_MAX_VIEWERS,
      // A segment leaves a DVR playlist dvrSeconds after it was published and stays fetchable
      // for the usual retention after that, as any segment leaving a playlist does
      // (docs/architecture.md, "Delivery rules").
      retentionMs: retentionMs + dvrSeconds * 1000,
      dvrSeconds,
      newSessionId: this.newSessionId,
      incarnation: newIncarnation(),
      ...(this.options.policy && { policy: this.options.policy }),
      ...(this.options.maxBacklog !== undefined && { maxBacklog: this.options.maxBacklog }),
    });
    this.streams.set(recordingId, distributor);
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
      this.sessions.set(viewer.sessionId, { recordingId: stream.recordingId, session });
    }
    this.streams.set(stream.recordingId, distributor);
    return distributor;
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

  /** Joins a viewer; `sessionId` keeps one handed out before the viewer took its seat. */
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
    let session: ViewerSession;
    try {
      session = distributor.joinViewer(viewerId, initialBitrate, this.clock(), sessionId);
    } catch (error) {
      if (error instanceof StreamFullError) throw this.streamFull(recordingId);
      throw error;
    }
    this.sessions.set(session.sessionId, { recordingId, session });
    this.events.publish('viewer_joined', {
      recordingId,
      viewerId,
      anonymous,
      profile: session.currentBitrate,
      at: session.joinedAt,
    });
    return session;
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
  endQuietStreams(quietMs: number): string[] {
    const now = this.clock();
    const ended: string[] = [];
    for (const [recordingId, distributor] of this.streams) {
      if (distributor.status !== 'live' || now - distributor.lastActivityAt() <= quietMs) continue;
      this.endLiveStream(recordingId);
      ended.push(recordingId);
    }
    return ended;
  }

  leaveStream(recordingId: string, viewerId: string): ViewerSession {
    const session = this.getDistributor(recordingId).leaveViewer(viewerId);
    this.forgetSession(recordingId, session, 'left');
    return session;
  }

  /** Finds a session by its id, or undefined when it is unknown or has left. */
  findSession(sessionId: string): SessionRef | undefined {
    return this.sessions.get(sessionId);
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
    const distributor = this.getDistributor(recordingId);
    const session = distributor.session(viewerId);
    const profile = PROFILES[session.currentBitrate];
    if (!distributor.window(profile.name).get(segmentId)) {
      throw new SegmentNotFoundError(segmentId, profile.name);
    }
    const deliveryId = this.newDeliveryId();
    this.pool.submit({
      id: deliveryId,
      priority,
      retries: profile.retryAttempts,
      timeoutMs: profile.timeoutMs,
      run: (signal) => this.deliver(distributor, viewerId, segmentId, signal),
    });
    return { deliveryId, priority, profile: profile.name };
  }

  deliveryStatus(deliveryId: string): DeliveryStatus {
    const status = this.pool.status(deliveryId);
    if (!status) throw new DeliveryNotFoundError(deliveryId);
    return status;
  }

  /** Records buffer health and adapts the viewer's bitrate (the seed's AdaptViewerQuality). */
  adaptViewerQuality(
    recordingId: string,
    viewerId: string,
    bufferHealth: number,
  ): AdaptationResult {
    return this.getDistributor(recordingId).adaptViewerQuality(
      viewerId,
      bufferHealth,
      this.clock(),
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
      await this.nextPublish(recordingId, remaining, signal);
    }
  }

  /** Ends a stream (the seed's EndLiveStream); it stays readable until its segments expire. */
  endLiveStream(recordingId: string): DistributionStats {
    const distributor = this.getDistributor(recordingId);
    if (distributor.status === 'ended') throw new StreamEndedError(recordingId);
    const now = this.clock();
    distributor.end(now);
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
    this.cdn.enable(baseUrl);
  }

  disableCDN(): void {
    this.cdn.disable();
  }

  /** Base URL segments are served from when a CDN is enabled. */
  get cdnBaseUrl(): string | undefined {
    return this.cdn.baseUrl;
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
    const queue = this.pool.stats();
    const cdnCounts = this.cdn.counts();
    return {
      totalDistributors: this.streams.size,
      liveStreams: live,
      totalActiveViewers: viewers,
      totalSegmentsServed: segments,
      totalBytesServed: bytes,
      totalDeliveryFailures: queue.failedAttempts,
      cdnEnabled: this.cdn.enabled,
      cdnBaseUrl: this.cdn.baseUrl,
      cdnCacheHitRate: this.cdn.hitRate(),
      cdnHits: cdnCounts.hits,
      cdnMisses: cdnCounts.misses,
      deliveryQueue: queue,
      uptimeMs: this.clock() - this.startedAt,
    };
  }

  /** Healthy unless draining, the delivery queue is nearly full, or recent deliveries fail. */
  health(): HealthReport {
    const queue = this.pool.stats();
    const reasons: string[] = [];
    if (!this.pool.isAccepting) reasons.push('shutting down');
    if (queue.queued >= queue.queueCapacity * DEGRADED_QUEUE_FILL) {
      reasons.push(`delivery queue ${queue.queued}/${queue.queueCapacity}`);
    }
    if (queue.recentFailureRate > DEGRADED_FAILURE_RATE) {
      reasons.push(
        `${Math.round(queue.recentFailureRate * 100)}% of recent delivery attempts failed`,
      );
    }
    return {
      status: reasons.length ? 'degraded' : 'healthy',
      accepting: this.pool.isAccepting,
      reasons,
    };
  }

  /**
   * Expires old segments and idle viewers, and removes ended streams once their last segment
   * expired.
   */
  cleanup(): void {
    const now = this.clock();
    const idleMs = this.options.idleTimeoutMs ?? SERVICE_DEFAULTS.idleTimeoutMs;
    for (const [recordingId, distributor] of this.streams) {
      for (const segment of distributor.expireSegments(now)) this.cdn.forget(recordingId, segment);
      for (const session of distributor.expireIdleViewers(now, idleMs))
        this.forgetSession(recordingId, session, 'idle');
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
    for (const recordingId of [...this.publishWaiters.keys()]) this.wake(recordingId);
    return this.pool.drain(deadlineMs);
  }

  private async deliver(
    distributor: LiveDistributor,
    viewerId: string,
    segmentId: string,
    signal: AbortSignal,
  ): Promise<void> {
    const profile = distributor.session(viewerId).currentBitrate;
    const segment = distributor.window(profile).get(segmentId);
    if (!segment) throw new SegmentNotFoundError(segmentId, profile);
    const viaCdn = this.cdn.enabled;
    const hit = viaCdn && this.cdn.holds(distributor.recordingId, segment);
    if (viaCdn && !hit) await this.cdn.push(distributor.recordingId, segment, signal);
    signal.throwIfAborted();
    distributor.deliverSegment(viewerId, segmentId, this.clock());
    if (viaCdn) this.cdn.recordDelivery(hit);
  }

  private retire(recordingId: string, distributor: LiveDistributor): void {
    const served = distributor.served;
    this.retired.segments += served.segments;
    this.retired.bytes += served.bytes;
    for (const session of distributor.getAllViewerSessions())
      this.forgetSession(recordingId, session, 'stream_removed');
    this.streams.delete(recordingId);
    this.wake(recordingId);
    for (const listener of this.retiredListeners) listener(recordingId);
  }

  private forgetSession(recordingId: string, session: ViewerSession, reason: LeaveReason): void {
    this.sessions.delete(session.sessionId);
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

  private nextPublish(recordingId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.publishWaiters.get(recordingId);
      if (!waiters) {
        waiters = new Set();
        this.publishWaiters.set(recordingId, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.publishWaiters.get(recordingId) === waiters) {
          this.publishWaiters.delete(recordingId);
        }
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  private wake(recordingId: string): void {
    const waiters = this.publishWaiters.get(recordingId);
    if (!waiters) return;
    for (const done of [...waiters]) done();
  }
}
