import type { ProfileName } from '../core/profiles.js';
import { MAX_HISTORY, type ViewerSession } from '../core/viewer-session.js';
import type { EncoderJobObserver } from '../ingest/encoder-manager.js';
import type { DistributionService } from '../service/distribution-service.js';
import { hashPublishKey } from './publish-key-hash.js';
import type {
  CounterRecords,
  EncoderJobRecords,
  QualitySample,
  SessionRecord,
  SessionRecords,
  Store,
  StreamRecord,
  StreamRecords,
} from './store.js';

/** What the recorder writes to: the parts of a Store it uses. */
export type RecorderStore = StreamRecords & SessionRecords & CounterRecords & Pick<Store, 'flush'>;

/** A stream and its sessions as stored, for its attendance report. */
export interface StoredAttendance {
  readonly stream: StreamRecord;
  readonly sessions: readonly SessionRecord[];
}

/** Where the report route reads attendance from (the recorder, which writes it). */
export interface AttendanceSource {
  /** The stored stream and its sessions, with every change written first; undefined if unknown. */
  attendance(recordingId: string): StoredAttendance | undefined;
}

/** The part of PublishAccess the recorder hears keys from (hashed before they are stored). */
export interface PublishKeySource {
  onPublishKeySet(listener: (recordingId: string, key: string) => void): void;
  hasStreamKey(recordingId: string): boolean;
}

/** What STATE_RECORDER settings default to. */
export const STATE_RECORDER_DEFAULTS = {
  /**
   * How often changed sessions and the service totals are written: a session is written at
   * most this often however busy its player, and a SIGKILL loses at most this much of them.
   */
  intervalMs: 1000,
} as const;

/** Names of the stored service totals. */
export const COUNTER_NAMES = {
  segmentsServed: 'segments_served_total',
  bytesServed: 'bytes_served_total',
} as const;

/** Names of one stream incarnation's stored served totals. */
export function streamCounterNames(
  recordingId: string,
  incarnation: string,
): { segments: string; bytes: string } {
  return {
    segments: `stream_segments_served:${recordingId}:${incarnation}`,
    bytes: `stream_bytes_served:${recordingId}:${incarnation}`,
  };
}

/** A session the recorder follows, with what it last wrote of it. */
interface Tracked {
  readonly session: ViewerSession;
  readonly recordingId: string;
  readonly incarnation: string;
  readonly anonymous: boolean;
  leftAt: number | undefined;
  leaveReason: string | undefined;
  quality: QualitySample[];
  /** What the last write held, so an unchanged session is not written again. */
  written: string;
}

/** A restored session the recorder goes on following (see recoverState). */
export interface RestoredSessionInfo {
  readonly session: ViewerSession;
  readonly record: SessionRecord;
}

/**
 * Writes the service's state to the store as it changes: streams when they start and end,
 * their publish keys (hashed), media sequence and served totals, viewer sessions when they join
 * and leave and, at most once per interval, while they watch, and the service totals. Nothing
 * runs on the serving path: events write a queued row, and sessions and totals are read on a
 * timer, so a segment or playlist request costs the recorder nothing.
 */
export class StateRecorder implements AttendanceSource {
  private readonly tracked = new Map<string, Tracked>();
  /** Per stream: the highest next media sequence written. */
  private readonly nextSequence = new Map<string, number>();
  /**
   * Per stream: the target duration and discontinuity sequences last written, so a restart
   * brings them back (a segment only writes them when they changed).
   */
  private readonly media = new Map<
    string,
    { targetDurationSec: number; discontinuitySequences: Partial<Record<ProfileName, number>> }
  >();
  /** Per counter name: the value last raised. */
  private readonly raised = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly service: DistributionService,
    private readonly store: RecorderStore,
    keys: PublishKeySource,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    const events = service.events;
    events.on('stream_started', ({ recordingId, at }) => {
      const distributor = service.getDistributor(recordingId);
      // Ingest restarting a timed-out stream keeps its key: the stored hash stays with it.
      const previous = keys.hasStreamKey(recordingId) ? store.getStream(recordingId) : undefined;
      store.saveStream({
        recordingId,
        incarnation: distributor.incarnation,
        startedAt: at,
        endedAt: undefined,
        settings: {
          maxViewers: distributor.maxViewers,
          retentionMs: distributor.retentionMs,
          ...(distributor.dvrSeconds > 0 && { dvrSeconds: distributor.dvrSeconds }),
        },
        publishKeyHash: previous?.publishKeyHash,
        targetDurationSec: undefined,
        nextSequence: distributor.nextSequence,
        discontinuitySequences: {},
      });
      this.nextSequence.set(recordingId, distributor.nextSequence);
      this.media.delete(recordingId);
    });
    events.on('stream_ended', ({ recordingId, at }) => store.endStream(recordingId, at));
    events.on('segment_published', ({ recordingId, profile, sequence }) => {
      this.noteMedia(recordingId, profile);
      if (sequence + 1 <= (this.nextSequence.get(recordingId) ?? 0)) return;
      this.nextSequence.set(recordingId, sequence + 1);
      store.updateStream(recordingId, { nextSequence: sequence + 1 });
    });
    events.on('viewer_joined', ({ recordingId, viewerId, anonymous }) => {
      const distributor = service.getDistributor(recordingId);
      this.follow({
        session: distributor.session(viewerId),
        recordingId,
        incarnation: distributor.incarnation,
        anonymous,
        leftAt: undefined,
        leaveReason: undefined,
        quality: [],
        written: '',
      });
    });
    events.on('viewer_left', ({ recordingId, viewerId, reason, at }) => {
      const key = sessionKey(recordingId, viewerId);
      const tracked = this.tracked.get(key);
      if (!tracked) return;
      this.tracked.delete(key);
      tracked.leftAt = at;
      tracked.leaveReason = reason;
      this.write(tracked);
    });
    service.onStreamRetired((recordingId) => {
      this.nextSequence.delete(recordingId);
      this.media.delete(recordingId);
      for (const name of this.raised.keys()) {
        if (name.startsWith('stream_') && name.includes(`:${recordingId}:`))
          this.raised.delete(name);
      }
    });
    keys.onPublishKeySet((recordingId, key) => {
      const incarnation = this.incarnationOf(recordingId);
      if (incarnation === undefined) return;
      hashPublishKey(key).then((hash) => {
        // The stream may have been replaced while scrypt ran: the hash belongs to this one only.
        if (this.incarnationOf(recordingId) === incarnation) {
          store.updateStream(recordingId, { publishKeyHash: hash });
        }
      }, onError);
    });
  }

  /** Follows sessions restart recovery brought back, with their stored details. */
  resume(restored: readonly RestoredSessionInfo[]): void {
    for (const { session, record } of restored) {
      this.tracked.set(sessionKey(record.recordingId, session.viewerId), {
        session,
        recordingId: record.recordingId,
        incarnation: record.incarnation,
        anonymous: record.anonymous,
        leftAt: undefined,
        leaveReason: undefined,
        quality: [...record.qualityHistory],
        written: fingerprint(session),
      });
    }
    for (const distributor of this.service.streamDistributors()) {
      this.nextSequence.set(distributor.recordingId, distributor.nextSequence);
      const stored = this.store.getStream(distributor.recordingId);
      if (stored?.targetDurationSec !== undefined) {
        this.media.set(distributor.recordingId, {
          targetDurationSec: stored.targetDurationSec,
          discontinuitySequences: { ...stored.discontinuitySequences },
        });
      }
    }
  }

  /** Starts writing changed sessions and the totals every interval. */
  start(intervalMs: number = STATE_RECORDER_DEFAULTS.intervalMs): void {
    this.timer ??= setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer after one last write of what changed (shutdown, before the store closes). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.tick();
  }

  /**
   * Stream `recordingId` and its sessions as stored, live or ended (retired ones stay in the
   * store). Sessions that changed since the last tick are written and the queue applied first,
   * so the report holds every segment served before the call.
   */
  attendance(recordingId: string): StoredAttendance | undefined {
    this.tick();
    this.store.flush();
    const stream = this.store.getStream(recordingId);
    return stream && { stream, sessions: this.store.listSessions(recordingId) };
  }

  /**
   * Deletes a stream's stored records and its sessions' attendance (its recording was deleted,
   * by the API or retention), and stops following its sessions so none is written back.
   */
  forget(recordingId: string): void {
    for (const [key, tracked] of this.tracked) {
      if (tracked.recordingId === recordingId) this.tracked.delete(key);
    }
    this.store.deleteStream(recordingId);
  }

  /** Writes the sessions that changed since their last write, and the totals. */
  tick(): void {
    try {
      const now = this.service.now();
      for (const tracked of this.tracked.values()) {
        if (fingerprint(tracked.session) === tracked.written) continue;
        this.sample(tracked, now);
        this.write(tracked);
      }
      const metrics = this.service.getMetrics();
      this.raise(COUNTER_NAMES.segmentsServed, metrics.totalSegmentsServed);
      this.raise(COUNTER_NAMES.bytesServed, metrics.totalBytesServed);
      for (const distributor of this.service.streamDistributors()) {
        const names = streamCounterNames(distributor.recordingId, distributor.incarnation);
        const served = distributor.served;
        this.raise(names.segments, served.segments);
        this.raise(names.bytes, served.bytes);
      }
    } catch (error) {
      this.onError(error);
    }
  }

  /** Writes the stream's target duration and the rendition's discontinuity sequence if changed. */
  private noteMedia(recordingId: string, profile: ProfileName): void {
    let distributor: ReturnType<DistributionService['getDistributor']>;
    try {
      distributor = this.service.getDistributor(recordingId);
    } catch {
      return;
    }
    const target = distributor.targetDurationSec;
    const reached = distributor.window(profile).discontinuitySequence;
    const written = this.media.get(recordingId);
    if (
      written &&
      written.targetDurationSec === target &&
      written.discontinuitySequences[profile] === reached
    ) {
      return;
    }
    const discontinuitySequences = { ...written?.discontinuitySequences, [profile]: reached };
    this.media.set(recordingId, { targetDurationSec: target, discontinuitySequences });
    this.store.updateStream(recordingId, { targetDurationSec: target, discontinuitySequences });
  }

  private incarnationOf(recordingId: string): string | undefined {
    try {
      return this.service.getDistributor(recordingId).incarnation;
    } catch {
      return undefined;
    }
  }

  private follow(tracked: Tracked): void {
    this.tracked.set(sessionKey(tracked.recordingId, tracked.session.viewerId), tracked);
    this.write(tracked);
  }

  private raise(name: string, value: number): void {
    if (this.raised.get(name) === value) return;
    this.raised.set(name, value);
    this.store.raiseCounter(name, value);
  }

  /** Notes the viewer's connection quality when it changed (bounded like the switch history). */
  private sample(tracked: Tracked, now: number): void {
    const { bufferHealth, throughputKbps } = tracked.session;
    const last = tracked.quality[tracked.quality.length - 1];
    if (last && last.bufferHealth === bufferHealth && last.throughputKbps === throughputKbps)
      return;
    if (tracked.quality.length >= MAX_HISTORY) tracked.quality.shift();
    tracked.quality.push({ at: now, bufferHealth, throughputKbps });
  }

  private write(tracked: Tracked): void {
    tracked.written = fingerprint(tracked.session);
    // The snapshot is taken when the batch is applied, so it holds the session's latest state.
    this.store.saveSession(tracked.session.sessionId, () => sessionRecord(tracked));
  }
}

function sessionKey(recordingId: string, viewerId: string): string {
  return `${recordingId}\n${viewerId}`;
}

/** What a write of the session holds that can change. */
function fingerprint(s: ViewerSession): string {
  return `${s.segmentsReceived}/${s.bytesReceived}/${s.lastSeenAt}/${s.lastSequence}/${s.bufferHealth}/${s.throughputKbps}/${s.currentBitrate}/${s.targetBitrate}/${s.lowBufferEvents}/${s.stalls}/${s.switchCount}`;
}

function sessionRecord(t: Tracked): SessionRecord {
  return sessionSnapshot(t.session, t);
}

/** Where a session belongs and how it ended: what the ViewerSession itself does not hold. */
export interface SessionContext {
  readonly recordingId: string;
  readonly incarnation: string;
  readonly anonymous: boolean;
  readonly leftAt: number | undefined;
  readonly leaveReason: string | undefined;
  readonly quality: readonly QualitySample[];
}

/** The record of `s` as it stands (the recorder's writes; reports of live sessions). */
export function sessionSnapshot(s: ViewerSession, context: SessionContext): SessionRecord {
  return {
    sessionId: s.sessionId,
    recordingId: context.recordingId,
    incarnation: context.incarnation,
    viewerId: s.viewerId,
    anonymous: context.anonymous,
    joinSeq: s.joinSeq,
    joinedAt: s.joinedAt,
    leftAt: context.leftAt,
    leaveReason: context.leaveReason,
    lastSeenAt: s.lastSeenAt,
    currentProfile: s.currentBitrate,
    targetProfile: s.targetBitrate,
    lastSequence: s.lastSequence,
    segmentsReceived: s.segmentsReceived,
    bytesReceived: s.bytesReceived,
    bufferHealth: s.bufferHealth,
    throughputKbps: s.throughputKbps,
    lowBufferEvents: s.lowBufferEvents,
    stalls: s.stalls,
    switchCount: s.switchCount,
    // Up to the last request, so the profile times add up to the watch time.
    profileMs: s.profileMs(),
    bitrateHistory: s.bitrateHistory,
    qualityHistory: [...context.quality],
  };
}

/** The part of EncoderManager whose jobs are recorded. */
export interface EncoderJobSource {
  observe(observer: EncoderJobObserver): void;
}

/**
 * Records the built-in encoder jobs (issue 9): a job when it starts (its source sealed by the
 * store), its state changes, and its removal once it ends for good, so a restart can start the
 * running ones again (restartEncoderJobs).
 */
export function recordEncoderJobs(encoders: EncoderJobSource, store: EncoderJobRecords): void {
  encoders.observe({
    started: ({ jobId, request, state, startedAt }) => {
      // A publish-fed job ends with its publisher: after a restart there is nothing to pull.
      if (request.publish !== undefined) return;
      store.saveEncoderJob({
        jobId,
        recordingId: request.recordingId,
        source: request.source,
        preset: request.preset,
        fmp4: request.fmp4 ?? false,
        durationSec: request.durationSec,
        state,
        startedAt,
      });
    },
    stateChanged: (jobId, state) => store.setEncoderJobState(jobId, state),
    ended: (jobId) => store.deleteEncoderJob(jobId),
  });
}
