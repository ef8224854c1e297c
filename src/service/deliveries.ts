import type { LiveDistributor } from '../core/distributor.js';
import { DistributionError, SegmentNotFoundError } from '../core/errors.js';
import { PROFILES, type ProfileName } from '../core/profiles.js';
import type { Segment } from '../core/segment.js';
import type { CacheCounts } from './cache-counts.js';
import { CdnForwarder, type CdnUpload } from './cdn.js';
import {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  DeliveryPool,
  type DeliveryPoolStats,
  type DeliveryStatus,
  type DeliveryTask,
} from './delivery-pool.js';
import { randomIdGenerator } from './random-ids.js';
import { DeliveryNotFoundError } from './service-errors.js';

/** Priority of a delivery when the request names none (0 lowest, 10 highest). */
export const DEFAULT_PRIORITY = 5;

export interface QueuedDelivery {
  readonly deliveryId: string;
  readonly priority: number;
  readonly profile: ProfileName;
}

export interface DeliveriesOptions {
  readonly workers: number;
  readonly queueCapacity: number;
  readonly backoff?: BackoffOptions | undefined;
  readonly cdnBaseUrl?: string | undefined;
  readonly cdnUpload?: CdnUpload | undefined;
  readonly clock: () => number;
}

/** CDN figures as metrics report them. */
export interface CdnFigures {
  readonly enabled: boolean;
  readonly baseUrl: string | undefined;
  readonly hitRate: number;
  readonly hits: number;
  readonly misses: number;
}

/**
 * Segment deliveries (the seed's DeliverSegmentToViewer): the worker pool with its retries and
 * timeouts per profile, and the push CDN they go through when one is enabled. Also takes other
 * work on the same pool (submit), so every delivery shares its bound and its drain.
 */
export class Deliveries {
  private readonly pool: DeliveryPool;
  private readonly cdn: CdnForwarder;
  private readonly newDeliveryId = randomIdGenerator('dl-');
  private cacheCounts: CacheCounts | undefined;

  constructor(private readonly options: DeliveriesOptions) {
    this.pool = new DeliveryPool({
      workers: options.workers,
      queueCapacity: options.queueCapacity,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      isPermanent: (error) => error instanceof DistributionError,
    });
    this.cdn = new CdnForwarder(options.cdnUpload);
    if (options.cdnBaseUrl) this.cdn.enable(options.cdnBaseUrl);
  }

  /**
   * Queues delivery of a segment at the viewer's current bitrate. An unknown viewer or segment
   * fails now; the worker then hands the segment over, through the CDN when one is enabled,
   * with the retries and timeout of the viewer's profile.
   */
  deliverSegmentToViewer(
    distributor: LiveDistributor,
    viewerId: string,
    segmentId: string,
    priority: number,
  ): QueuedDelivery {
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

  /** Queues a task on the pool; throws QueueFullError / ShuttingDownError as the pool does. */
  submit(task: DeliveryTask): void {
    this.pool.submit(task);
  }

  status(deliveryId: string): DeliveryStatus {
    const status = this.pool.status(deliveryId);
    if (!status) throw new DeliveryNotFoundError(deliveryId);
    return status;
  }

  stats(): DeliveryPoolStats {
    return this.pool.stats();
  }

  get isAccepting(): boolean {
    return this.pool.isAccepting;
  }

  /** Stops taking work and drains within `deadlineMs` (see DeliveryPool.drain). */
  drain(deadlineMs: number): Promise<boolean> {
    return this.pool.drain(deadlineMs);
  }

  enableCdn(baseUrl: string): void {
    this.cdn.enable(baseUrl);
  }

  disableCdn(): void {
    this.cdn.disable();
  }

  get cdnBaseUrl(): string | undefined {
    return this.cdn.baseUrl;
  }

  /** An expired segment leaves the CDN's working set. */
  forget(recordingId: string, segment: Segment): void {
    this.cdn.forget(recordingId, segment);
  }

  /** Takes the CDN's hit and miss counts from `source` (undefined: the forwarder's own). */
  useCacheCounts(source: CacheCounts | undefined): void {
    this.cacheCounts = source;
  }

  cdnFigures(): CdnFigures {
    const { hits, misses } = (this.cacheCounts ?? this.cdn).counts();
    const total = hits + misses;
    return {
      enabled: this.cdn.enabled,
      baseUrl: this.cdn.baseUrl,
      hitRate: total === 0 ? 0 : hits / total,
      hits,
      misses,
    };
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
    distributor.deliverSegment(viewerId, segmentId, this.options.clock());
    if (viaCdn) this.cdn.recordDelivery(hit);
  }
}
