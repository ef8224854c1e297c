import type { LiveDistributor } from '../core/distributor.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { InitSection, Segment } from '../core/segment.js';
import { DistributionService } from '../service/distribution-service.js';
import { HlsDelivery, type HlsOptions } from '../service/hls-delivery.js';
import type { PrimaryMessage, ReplicaSeat, ReplicaStreamMessage } from './replica-messages.js';

/**
 * The cap of a replica: seats are the primary's business (it admits, then tells), so a worker's
 * copy of a stream must never refuse one, whatever order seats and leaves reach it in.
 */
const NEVER_FULL = Number.MAX_SAFE_INTEGER;

/** A worker's copy of one stream incarnation: its own service and HLS delivery, holding it alone. */
export interface StreamReplica {
  readonly recordingId: string;
  readonly incarnation: string;
  readonly service: DistributionService;
  readonly hls: HlsDelivery;
  readonly distributor: LiveDistributor;
}

/**
 * A worker's replica of the primary's streams, built from the primary's messages, so the same
 * HlsDelivery code renders the same playlists here and serves the same bytes. Each stream
 * incarnation gets a DistributionService of its own: a retired or replaced stream is dropped
 * whole, and a new one is restored with the primary's incarnation, so its URLs are the
 * primary's. Sessions exist here only so requests naming them are recognised; what they
 * receive is counted on the primary (usage.ts).
 */
export class StreamReplicas {
  private readonly streams = new Map<string, StreamReplica>();
  private cdnBaseUrl: string | undefined;

  constructor(private readonly hlsOptions: HlsOptions) {}

  /** The replica of a stream, if the primary has told of one. */
  get(recordingId: string): StreamReplica | undefined {
    return this.streams.get(recordingId);
  }

  get size(): number {
    return this.streams.size;
  }

  apply(message: PrimaryMessage): void {
    switch (message.type) {
      case 'vtp:stream':
        this.restore(message);
        return;
      case 'vtp:segment': {
        const replica = this.current(message.recordingId, message.incarnation);
        if (!replica) return;
        insert(replica, message.segment, message.init, message.targetDurationSec);
        return;
      }
      case 'vtp:ended':
        this.current(message.recordingId, message.incarnation)?.distributor.end(message.at);
        return;
      case 'vtp:retired':
        this.drop(message.recordingId);
        return;
      case 'vtp:seat': {
        const replica = this.current(message.recordingId, message.incarnation);
        if (replica) seat(replica, message.seat);
        return;
      }
      case 'vtp:leave': {
        const replica = this.current(message.recordingId, message.incarnation);
        if (replica?.distributor.hasViewer(message.viewerId)) {
          replica.service.leaveStream(message.recordingId, message.viewerId);
        }
        return;
      }
      case 'vtp:media':
        this.current(message.recordingId, message.incarnation)?.distributor.setMediaInfo(
          message.profile,
          message.info,
        );
        return;
      case 'vtp:cdn':
        this.cdnBaseUrl = message.baseUrl;
        for (const replica of this.streams.values()) useCdn(replica.service, message.baseUrl);
        return;
      default:
        return;
    }
  }

  /**
   * Expires segments past their retention and drops ended streams past it, by the same rule and
   * the primary's own timestamps; viewers never expire here (the primary tells who left).
   */
  cleanup(): void {
    for (const [recordingId, replica] of this.streams) {
      replica.service.cleanup();
      if (replica.service.streamDistributors().length === 0) this.drop(recordingId);
    }
  }

  /** Drops every stream (the worker stops). */
  clear(): void {
    for (const recordingId of [...this.streams.keys()]) this.drop(recordingId);
  }

  private restore(message: ReplicaStreamMessage): void {
    this.drop(message.recordingId);
    const service = new DistributionService({
      workers: 1,
      queueCapacity: 1,
      maxStreams: 1,
      idleTimeoutMs: Number.POSITIVE_INFINITY,
    });
    useCdn(service, this.cdnBaseUrl);
    const distributor = service.restoreStream({
      recordingId: message.recordingId,
      incarnation: message.incarnation,
      startedAt: message.startedAt,
      // Ended after its seats are taken: an ended stream takes no joins.
      endedAt: undefined,
      maxViewers: NEVER_FULL,
      retentionMs: message.retentionMs,
      dvrSeconds: message.dvrSeconds,
      nextSequence: 0,
      served: { segments: 0, bytes: 0 },
      viewers: [],
    });
    const replica: StreamReplica = {
      recordingId: message.recordingId,
      incarnation: message.incarnation,
      service,
      hls: new HlsDelivery(service, this.hlsOptions),
      distributor,
    };
    for (const profile of PROFILE_NAMES) {
      const info = message.media[profile];
      if (info !== undefined) distributor.setMediaInfo(profile, info);
    }
    for (const viewer of message.seats) seat(replica, viewer);
    if (message.endedAt !== undefined) distributor.end(message.endedAt);
    this.streams.set(message.recordingId, replica);
  }

  private current(recordingId: string, incarnation: string): StreamReplica | undefined {
    const replica = this.streams.get(recordingId);
    return replica?.incarnation === incarnation ? replica : undefined;
  }

  private drop(recordingId: string): void {
    const replica = this.streams.get(recordingId);
    if (!replica) return;
    this.streams.delete(recordingId);
    void replica.service.shutdown(0);
  }
}

/**
 * Puts a segment in, then renders its rendition's playlist once: a playlist's EXT-X-VERSION
 * never falls back during a stream (HlsDelivery remembers the highest it wrote), so every process
 * renders every window revision, as the primary does, and all write the same version.
 */
function insert(
  replica: StreamReplica,
  segment: Segment,
  init: InitSection | undefined,
  targetDurationSec: number,
): void {
  if (replica.distributor.window(segment.profile).get(segment.id)) return;
  replica.distributor.replicateSegment(segment, init, targetDurationSec);
  renderOnce(replica.hls, replica.recordingId, segment.profile);
}

/** Renders a rendition's playlist for nobody, so its cache sees this revision. */
export function renderOnce(hls: HlsDelivery, recordingId: string, profile: ProfileName): void {
  try {
    hls.mediaPlaylist(recordingId, profile, {});
  } catch {
    // Nothing to render yet (an empty window): the next segment renders.
  }
}

function seat(replica: StreamReplica, viewer: ReplicaSeat): void {
  if (replica.distributor.hasViewer(viewer.viewerId)) return;
  replica.service.joinStream(
    replica.recordingId,
    viewer.viewerId,
    viewer.profile,
    viewer.sessionId,
  );
}

function useCdn(service: DistributionService, baseUrl: string | undefined): void {
  if (baseUrl === undefined) service.disableCDN();
  else service.enableCDN(baseUrl);
}
