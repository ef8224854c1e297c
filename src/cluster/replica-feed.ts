import type { LiveDistributor } from '../core/distributor.js';
import type { MediaInfo } from '../core/media-info.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { Segment } from '../core/segment.js';
import type { StreamEvents } from '../service/stream-events.js';
import type { PrimaryMessage, ReplicaStreamMessage } from './replica-messages.js';

/** What the feed reads of the primary's DistributionService. */
export interface ReplicaSource {
  readonly events: StreamEvents;
  readonly cdnBaseUrl: string | undefined;
  streamDistributors(): LiveDistributor[];
  getDistributor(recordingId: string): LiveDistributor;
  onStreamRetired(listener: (recordingId: string) => void): void;
}

/** What the workers were told of a stream, to tell them only what changed. */
interface Announced {
  readonly incarnation: string;
  readonly media: Partial<Record<ProfileName, MediaInfo>>;
}

/**
 * The primary's side of the workers' replicas: every stream's lifecycle, every published segment
 * as the primary's window holds it, and every seat and leave, as messages `broadcast` sends to
 * all workers; `snapshot` is the whole state for a worker that starts. Settings that change
 * without an event (the CDN, a rendition's media description) are compared on `sync`.
 */
export class ReplicaFeed {
  private readonly announced = new Map<string, Announced>();
  private cdnBaseUrl: string | undefined;

  constructor(
    private readonly source: ReplicaSource,
    /** Sends to every worker; `catchUp` marks a whole stream sent again (see WorkerPool.broadcast). */
    private readonly broadcast: (message: PrimaryMessage, catchUp?: boolean) => void,
    /** Called after each segment went out (the primary renders its playlists then, see serve-cluster). */
    private readonly onSegment: (recordingId: string, profile: ProfileName) => void = () => {},
  ) {
    this.cdnBaseUrl = source.cdnBaseUrl;
  }

  /** Listens to the service's events; call once. */
  start(): void {
    const events = this.source.events;
    events.on('stream_started', ({ recordingId }) => {
      const distributor = this.distributor(recordingId);
      if (distributor) this.announce(distributor);
    });
    events.on('segment_published', ({ recordingId, profile, sequence }) =>
      this.published(recordingId, profile, sequence),
    );
    events.on('stream_ended', ({ recordingId }) => {
      const distributor = this.distributor(recordingId);
      if (!distributor || !this.announce(distributor)) return;
      this.broadcast({
        type: 'vtp:ended',
        recordingId,
        incarnation: distributor.incarnation,
        at: distributor.endedAtMs ?? Date.now(),
      });
    });
    events.on('viewer_joined', ({ recordingId, viewerId }) => {
      const distributor = this.distributor(recordingId);
      if (!distributor?.hasViewer(viewerId) || !this.announce(distributor)) return;
      const session = distributor.session(viewerId);
      this.broadcast({
        type: 'vtp:seat',
        recordingId,
        incarnation: distributor.incarnation,
        seat: { viewerId, sessionId: session.sessionId, profile: session.currentBitrate },
      });
    });
    events.on('viewer_left', ({ recordingId, viewerId }) => {
      const announced = this.announced.get(recordingId);
      if (!announced) return;
      this.broadcast({
        type: 'vtp:leave',
        recordingId,
        incarnation: announced.incarnation,
        viewerId,
      });
    });
    this.source.onStreamRetired((recordingId) => {
      if (!this.announced.delete(recordingId)) return;
      this.broadcast({ type: 'vtp:retired', recordingId });
    });
  }

  /**
   * Everything a starting worker needs, in the order to apply it: messages over the segments the
   * windows hold now (no bytes copied; the worker's outbox sends them a few at a time).
   */
  snapshot(): PrimaryMessage[] {
    const messages: PrimaryMessage[] = [{ type: 'vtp:cdn', baseUrl: this.source.cdnBaseUrl }];
    for (const distributor of this.source.streamDistributors()) {
      this.announce(distributor);
      messages.push(...streamMessages(distributor));
    }
    return messages;
  }

  /**
   * Tells the workers of a changed CDN setting, a newly probed media description, or a stream
   * they were never told of.
   */
  sync(): void {
    const cdn = this.source.cdnBaseUrl;
    if (cdn !== this.cdnBaseUrl) {
      this.cdnBaseUrl = cdn;
      this.broadcast({ type: 'vtp:cdn', baseUrl: cdn });
    }
    for (const distributor of this.source.streamDistributors()) {
      // A stream that came without an event (restored some other way) goes out whole now.
      if (!this.announce(distributor)) continue;
      const announced = this.announced.get(distributor.recordingId);
      if (!announced) continue;
      for (const profile of PROFILE_NAMES) {
        const info = distributor.mediaInfo(profile);
        if (info === undefined || info === announced.media[profile]) continue;
        announced.media[profile] = info;
        this.broadcast({
          type: 'vtp:media',
          recordingId: distributor.recordingId,
          incarnation: distributor.incarnation,
          profile,
          info,
        });
      }
    }
  }

  private published(recordingId: string, profile: ProfileName, sequence: number): void {
    const distributor = this.distributor(recordingId);
    if (!distributor) return;
    // A stream not announced yet (restored some other way) goes out whole, this segment with it.
    if (this.announce(distributor)) {
      const window = distributor.window(profile);
      const segment = findSegment(window.newest, window.nextAfter(sequence - 1), sequence);
      if (segment) this.broadcast(segmentMessage(distributor, segment));
    }
    this.onSegment(recordingId, profile);
  }

  /**
   * Makes sure the workers know this incarnation of the stream, sending it whole when they do
   * not; returns whether they already did (so what the caller was about to send is news).
   */
  private announce(distributor: LiveDistributor): boolean {
    const known = this.announced.get(distributor.recordingId);
    if (known?.incarnation === distributor.incarnation) return true;
    const messages = streamMessages(distributor);
    this.announced.set(distributor.recordingId, {
      incarnation: distributor.incarnation,
      media: { ...(messages[0] as ReplicaStreamMessage).media },
    });
    for (const message of messages) this.broadcast(message, true);
    return false;
  }

  private distributor(recordingId: string): LiveDistributor | undefined {
    try {
      return this.source.getDistributor(recordingId);
    } catch {
      return undefined;
    }
  }
}

/** The newest segment when it is the one published (nearly always), else the one of that number. */
function findSegment(
  newest: Segment | undefined,
  after: Segment | undefined,
  sequence: number,
): Segment | undefined {
  if (newest?.sequence === sequence) return newest;
  return after?.sequence === sequence ? after : undefined;
}

/** A stream as it stands (settings, media descriptions, seats), then every segment it holds. */
export function streamMessages(distributor: LiveDistributor): PrimaryMessage[] {
  const media: Partial<Record<ProfileName, MediaInfo>> = {};
  const segments: PrimaryMessage[] = [];
  for (const profile of PROFILE_NAMES) {
    const info = distributor.mediaInfo(profile);
    if (info !== undefined) media[profile] = info;
    for (const segment of distributor.window(profile).segments()) {
      segments.push(segmentMessage(distributor, segment));
    }
  }
  const stream: ReplicaStreamMessage = {
    type: 'vtp:stream',
    recordingId: distributor.recordingId,
    incarnation: distributor.incarnation,
    startedAt: distributor.startedAt,
    endedAt: distributor.endedAtMs,
    retentionMs: distributor.retentionMs,
    dvrSeconds: distributor.dvrSeconds,
    media,
    seats: distributor.getAllViewerSessions().map((session) => ({
      viewerId: session.viewerId,
      sessionId: session.sessionId,
      profile: session.currentBitrate,
    })),
  };
  return [stream, ...segments];
}

/** A published segment as its window holds it, with the init section it names. */
function segmentMessage(distributor: LiveDistributor, segment: Segment): PrimaryMessage {
  const window = distributor.window(segment.profile);
  return {
    type: 'vtp:segment',
    recordingId: distributor.recordingId,
    incarnation: distributor.incarnation,
    segment,
    init: segment.initId === undefined ? undefined : window.getInit(segment.initId),
    targetDurationSec: distributor.targetDurationSec,
  };
}
