import type { ProfileName } from '../core/profiles.js';
import type { CdnPushStatusSource, CdnPushTargetStatus } from './cdn-push-metrics.js';
import { TargetMirror } from './cdn-push-mirror.js';
import { type PushedStream, PushPlaylists } from './cdn-push-playlists.js';
import { type DeliverySubmitter, TargetScheduler } from './cdn-push-scheduler.js';
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
  readonly retryPauseMs?: number;
  readonly sweepIntervalMs?: number;
  /** Where an unexpected error of a sweep goes. */
  readonly onError?: (error: unknown) => void;
  /** Hears a target go down (an upload gave up) and come back (one succeeded again). */
  readonly onTargetState?: (status: CdnPushTargetStatus) => void;
}

export const CDN_PUSH_DEFAULTS = {
  /** Pushes that may wait per target; beyond it the oldest is dropped (and counted). */
  maxBacklog: 256,
  /** Pushes per target in the delivery pool at once (one while the target is down). */
  maxInFlight: 8,
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
 * (TargetScheduler holds the bounds).
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
    this.mirrors = options.targets.map((target) => {
      const scheduler: TargetScheduler = new TargetScheduler(
        target,
        options.submitter,
        {
          maxBacklog: options.maxBacklog ?? CDN_PUSH_DEFAULTS.maxBacklog,
          maxInFlight: options.maxInFlight ?? CDN_PUSH_DEFAULTS.maxInFlight,
          retryPauseMs: options.retryPauseMs ?? CDN_PUSH_DEFAULTS.retryPauseMs,
          clock: options.clock ?? Date.now,
        },
        (up) => {
          options.onTargetState?.(scheduler.status());
          // Back from an outage: the newest playlists and what the window holds, at once.
          if (up) this.guarded(() => this.sweepMirror(mirror));
        },
      );
      const mirror = new TargetMirror({ target, transport }, scheduler, origin);
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

  /** Plans every stream at every target, and clears up after streams that are gone. */
  sweep(): void {
    this.guarded(() => {
      for (const mirror of this.mirrors) this.sweepMirror(mirror);
      const held = new Set<string>();
      for (const stream of this.options.streams.streamDistributors()) held.add(stream.recordingId);
      for (const mirror of this.mirrors) mirror.forgetGone(held);
      this.playlists.keepOnly(held);
    });
  }

  private sweepMirror(mirror: TargetMirror): void {
    for (const stream of this.options.streams.streamDistributors()) mirror.planStream(stream);
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
