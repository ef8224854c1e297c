import type { ProfileName } from '../core/profiles.js';
import type { CdnPushStatusSource, CdnPushTargetStatus } from './cdn-push-metrics.js';
import { TargetMirror } from './cdn-push-mirror.js';
import { type PushedStream, PushPlaylists } from './cdn-push-playlists.js';
import { type DeliverySubmitter, TargetScheduler } from './cdn-push-scheduler.js';
import { PushSlots } from './cdn-push-slots.js';
import { fetchTransport, type PushTarget, type PushTransport } from './cdn-push-target.js';
import { HLS_DEFAULTS } from './hls-delivery.js';
import type { StreamEvents } from './stream-events.js';

/** The streams a pusher reads (DistributionService has them). */
export interface PushStreams {
  /** Every stream held (at most --max-streams: looking one up walks them). */
  streamDistributors(): Iterable<PushedStream>;
}

/** The service's events a pusher listens to. */
export type PushEvents = Pick<StreamEvents, 'on' | 'off'>;

export interface CdnPushOptions {
  readonly targets: readonly PushTarget[];
  readonly submitter: DeliverySubmitter;
  readonly streams: PushStreams;
  readonly events: PushEvents;
  /** Segments a media playlist lists, as the origin's (--playlist-segments). */
  readonly playlistSegments?: number;
  readonly transport?: PushTransport;
  readonly clock?: () => number;
  readonly maxBacklog?: number;
  readonly maxInFlight?: number;
  readonly maxDeletes?: number;
  readonly retryPauseMs?: number;
  readonly sweepIntervalMs?: number;
  /** Where an unexpected error of a sweep goes. */
  readonly onError?: (error: unknown) => void;
  /** Hears a target go down (an upload gave up) and come back (one succeeded again). */
  readonly onTargetState?: (status: CdnPushTargetStatus) => void;
}

/** Push targets on a pool of one worker: pushes would leave viewers' deliveries none. */
export class PushWorkersError extends Error {
  constructor(workers: number) {
    super(
      `push targets need at least 2 delivery workers (one always stays for viewers), got ${workers}`,
    );
  }
}

export const CDN_PUSH_DEFAULTS = {
  /** Pushes that may wait per target; beyond it the oldest is dropped (and counted). */
  maxBacklog: 256,
  /**
   * Pushes per target in the delivery pool at once (one while the target is down). All targets
   * together hold one worker fewer than the pool has, and each at most its share of those.
   */
  maxInFlight: 8,
  /** Removals per target waiting for room in its backlog; beyond it they are given up (counted). */
  maxDeletes: 16_384,
  /** Pause after a push gave up before probing the target again. */
  retryPauseMs: 1000,
  /** How often every stream is planned again: expiry, stream ends and removals, catch-up. */
  sweepIntervalMs: 1000,
} as const;

/**
 * Push delivery: every segment (and init section) of every live stream goes to every target by
 * PUT through the delivery pool, then each media playlist once the target has everything it
 * lists, then the multivariant playlist listing the renditions the target can play; what the
 * origin let go is removed (TargetMirror plans all of it for one target). Events start the work
 * at once; a sweep every second catches what they do not announce (expiry, removed streams) and
 * what a target still lacks. A target that is down is probed until it answers, then catches up
 * (TargetScheduler holds the bounds). Pushes never starve viewers: every target's together hold
 * one pool worker fewer than there are (PushSlots), and they rank below viewers' deliveries.
 */
export class CdnPusher implements CdnPushStatusSource {
  private readonly mirrors: TargetMirror[];
  readonly playlists: PushPlaylists;
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  private readonly onPublished = (event: { recordingId: string; profile: ProfileName }) => {
    const stream = this.find(event.recordingId);
    if (stream) for (const mirror of this.mirrors) mirror.planPublished(stream, event.profile);
  };

  private readonly onEnded = (event: { recordingId: string }) => {
    const stream = this.find(event.recordingId);
    if (stream) for (const mirror of this.mirrors) mirror.planStream(stream, true);
  };

  constructor(private readonly options: CdnPushOptions) {
    this.playlists = new PushPlaylists(options.playlistSegments ?? HLS_DEFAULTS.playlistSegments);
    const transport = options.transport ?? fetchTransport;
    const origin = { find: (id: string) => this.find(id), playlists: this.playlists };
    const workers = options.submitter.deliveryWorkers;
    if (workers < 2) throw new PushWorkersError(workers);
    // One worker always stays free for viewers' deliveries, whatever the targets do.
    const slots = new PushSlots(workers - 1);
    // Each target's share, so one that hangs leaves the others room too.
    const share = Math.ceil(slots.capacity / Math.max(1, options.targets.length));
    const maxInFlight = Math.min(options.maxInFlight ?? CDN_PUSH_DEFAULTS.maxInFlight, share);
    this.mirrors = options.targets.map((target) => {
      const scheduler: TargetScheduler = new TargetScheduler(
        target,
        options.submitter,
        {
          maxBacklog: options.maxBacklog ?? CDN_PUSH_DEFAULTS.maxBacklog,
          maxInFlight,
          slots,
          retryPauseMs: options.retryPauseMs ?? CDN_PUSH_DEFAULTS.retryPauseMs,
          clock: options.clock ?? Date.now,
        },
        (up) => {
          options.onTargetState?.(scheduler.status());
          // Back from an outage: the newest playlists and what the window holds, at once.
          if (up) this.guarded(() => this.sweepMirror(mirror));
        },
      );
      const mirror = new TargetMirror(
        { target, transport },
        scheduler,
        origin,
        options.maxDeletes ?? CDN_PUSH_DEFAULTS.maxDeletes,
      );
      return mirror;
    });
  }

  /** Listens to the service's events and starts the sweep. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.events.on('segment_published', this.onPublished);
    this.options.events.on('stream_ended', this.onEnded);
    this.timer = setInterval(
      () => this.sweep(),
      this.options.sweepIntervalMs ?? CDN_PUSH_DEFAULTS.sweepIntervalMs,
    );
    this.timer.unref();
    this.sweep();
  }

  /** Stops listening and pushing; pushes already in the delivery pool finish there. */
  stop(): void {
    this.options.events.off('segment_published', this.onPublished);
    this.options.events.off('stream_ended', this.onEnded);
    clearInterval(this.timer);
    for (const mirror of this.mirrors) mirror.scheduler.stop();
  }

  status(): CdnPushTargetStatus[] {
    return this.mirrors.map((mirror) => mirror.scheduler.status());
  }

  /** Clears up after streams that are gone, and plans every stream at every target. */
  sweep(): void {
    this.guarded(() => {
      const held = new Set<string>();
      for (const stream of this.options.streams.streamDistributors()) held.add(stream.recordingId);
      for (const mirror of this.mirrors) {
        mirror.forgetGone(held);
        this.sweepMirror(mirror);
      }
      this.playlists.keepOnly(held);
    });
  }

  /** Every stream's uploads and playlists, then the removals waiting for room. */
  private sweepMirror(mirror: TargetMirror): void {
    for (const stream of this.options.streams.streamDistributors()) mirror.planStream(stream);
    mirror.flushDeletes();
  }

  private guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private find(recordingId: string): PushedStream | undefined {
    for (const stream of this.options.streams.streamDistributors()) {
      if (stream.recordingId === recordingId) return stream;
    }
    return undefined;
  }
}
