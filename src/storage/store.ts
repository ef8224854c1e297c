import type { ProfileName } from '../core/profiles.js';
import type { BitrateSwitch } from '../core/viewer-session.js';
import type { EncoderState } from '../ingest/encoder-job.js';

/**
 * The state that outlives the process (issue 9): streams, viewer sessions, service counters,
 * built-in encoder jobs and stream keys (issue 12). Consumers name the narrow interface they use (a report needs only
 * SessionRecords), so a later server database can take SQLite's place behind the same calls.
 *
 * Writes return nothing and never wait on disk: they are queued and applied in batches off the
 * serving path. Reads (start-up recovery, reports) first apply what is queued, so a read sees
 * every write accepted before it.
 */

/** What STORAGE settings default to; config.ts and --help read them from here. */
export const STORAGE_DEFAULTS = {
  /** Folder of the state database (and of the segment files). */
  dataDir: './vtp-data',
  /** The database's file name inside the data directory. */
  fileName: 'vtp.db',
  /** Queued writes are applied at most this long after they were accepted. */
  batchIntervalMs: 50,
  /** A queue this long is applied on the next turn of the event loop, not after the interval. */
  batchSize: 500,
  /**
   * A queue this long is applied synchronously by the write that fills it: the bound that keeps
   * memory finite when the event loop never yields. Nothing accepted is dropped.
   */
  maxQueued: 10_000,
} as const;

/** Settings a stream was started with; kept as one document so new ones need no migration. */
export interface StreamSettings {
  readonly maxViewers: number;
  readonly retentionMs: number;
  /** Rewindable history of the live playlist, when the stream has a DVR window. */
  readonly dvrSeconds?: number | undefined;
}

/** Where a stream's media sequence stands, so playlists continue it after a restart. */
export interface SequenceState {
  /** One past the highest media sequence number published (LiveDistributor.nextSequence). */
  readonly nextSequence: number;
  /** EXT-X-DISCONTINUITY-SEQUENCE each rendition has reached. */
  readonly discontinuitySequences: Readonly<Partial<Record<ProfileName, number>>>;
}

export interface StreamRecord extends SequenceState {
  readonly recordingId: string;
  /** Segment URLs carry it (docs/architecture.md); a recovered stream keeps its own. */
  readonly incarnation: string;
  readonly startedAt: number;
  /** Set once the stream ended (the ended flag): pushes to it stay refused after a restart. */
  readonly endedAt: number | undefined;
  readonly settings: StreamSettings;
  /** `hashPublishKey` output (salted scrypt); the key itself is never stored. */
  readonly publishKeyHash: string | undefined;
  /** The fixed EXT-X-TARGETDURATION, once the first segment set it. */
  readonly targetDurationSec: number | undefined;
}

/** Fields of a stream that change while it lives; an absent field keeps its stored value. */
export type StreamUpdate = Partial<
  Pick<
    StreamRecord,
    'settings' | 'publishKeyHash' | 'targetDurationSec' | 'nextSequence' | 'discontinuitySequences'
  >
>;

export interface StreamRecords {
  /** Inserts a stream, or replaces the one of the same recording id (a reused id). */
  saveStream(record: StreamRecord): void;
  /** Merges `update` into a stored stream; an unknown id changes nothing. */
  updateStream(recordingId: string, update: StreamUpdate): void;
  /** Sets the ended flag; an unknown id changes nothing. */
  endStream(recordingId: string, endedAt: number): void;
  /** Forgets a stream and every session of it (its attendance goes with it). */
  deleteStream(recordingId: string): void;
  getStream(recordingId: string): StreamRecord | undefined;
  /** Every stored stream, live and ended, in the order they started. */
  listStreams(): StreamRecord[];
}

/** A point of a viewer's connection quality over time. */
export interface QualitySample {
  readonly at: number;
  readonly bufferHealth: number;
  readonly throughputKbps: number;
}

/** A viewer session as a restart and the attendance report need it. */
export interface SessionRecord {
  readonly sessionId: string;
  readonly recordingId: string;
  /** The stream incarnation the viewer watched (a reused recording id is another lecture). */
  readonly incarnation: string;
  readonly viewerId: string;
  readonly anonymous: boolean;
  readonly joinSeq: number;
  readonly joinedAt: number;
  readonly leftAt: number | undefined;
  /** Why the viewer left (LeaveReason), once it did. */
  readonly leaveReason: string | undefined;
  readonly lastSeenAt: number;
  readonly currentProfile: ProfileName;
  readonly targetProfile: ProfileName;
  /** Sequence of the newest segment handed to the viewer; -1 before the first. */
  readonly lastSequence: number;
  readonly segmentsReceived: number;
  readonly bytesReceived: number;
  readonly bufferHealth: number;
  readonly throughputKbps: number;
  /** Times buffer health fell under the low-buffer threshold (20), counted as it crossed. */
  readonly lowBufferEvents: number;
  /** Stalls the player reported (CMCD `bs`); a run of starved requests is one stall. */
  readonly stalls: number;
  /** Rendition changes ever made (bitrateHistory keeps only the newest MAX_HISTORY). */
  readonly switchCount: number;
  /** Milliseconds spent at each profile, from joining to the last request. */
  readonly profileMs: Readonly<Partial<Record<ProfileName, number>>>;
  readonly bitrateHistory: readonly BitrateSwitch[];
  /** Bounded by the caller, as ViewerSession bounds its switch history. */
  readonly qualityHistory: readonly QualitySample[];
}

export interface SessionRecords {
  /**
   * Queues a write of session `sessionId`. `snapshot` is called when the batch is applied, not
   * now, so the serving path pays a map update rather than building a record, and many updates
   * of one session in a batch become one row write holding its latest state.
   */
  saveSession(sessionId: string, snapshot: () => SessionRecord): void;
  /** The sessions of a stream (every incarnation), in join order. */
  listSessions(recordingId: string): SessionRecord[];
}

/** Service totals (`*_total`); a stored counter never goes back. */
export interface CounterRecords {
  /** Stores `value` unless the stored one is higher. */
  raiseCounter(name: string, value: number): void;
  readCounters(): Record<string, number>;
}

/** A built-in encoder's source as the API names it (SourceRequest). */
export type EncoderSource =
  | { readonly type: 'test-pattern' }
  | { readonly type: 'file'; readonly path: string; readonly loop?: boolean | undefined }
  | { readonly type: 'url'; readonly url: string };

export interface EncoderJobRecord {
  readonly jobId: string;
  readonly recordingId: string;
  /**
   * A URL source may carry credentials (user:password@, an RTMP stream key in its path, an SRT
   * passphrase): the SQLite store keeps every source sealed (AES-256-GCM, see sealed-text.ts),
   * never in clear.
   */
  readonly source: EncoderSource;
  readonly preset: string;
  readonly fmp4: boolean;
  readonly durationSec: number | undefined;
  readonly state: EncoderState;
  readonly startedAt: number;
}

/** A job as read back: `source` is undefined when it cannot be unsealed (another key). */
export interface StoredEncoderJob extends Omit<EncoderJobRecord, 'source'> {
  readonly source: EncoderSource | undefined;
}

export interface EncoderJobRecords {
  /** Inserts a job or replaces the one of the same id. */
  saveEncoderJob(record: EncoderJobRecord): void;
  /** An unknown id changes nothing. */
  setEncoderJobState(jobId: string, state: EncoderState): void;
  deleteEncoderJob(jobId: string): void;
  /** Every stored job, in the order they started. */
  listEncoderJobs(): StoredEncoderJob[];
}

/** A stream's RTMP/SRT key as read back: `key` is undefined when it cannot be unsealed. */
export interface StoredStreamKey {
  readonly recordingId: string;
  readonly key: string | undefined;
}

/**
 * The keys lecturers publish with over RTMP/SRT (StreamKeys), so a restart keeps accepting the
 * key a lecturer already has. A key lets anyone publish to its stream: the SQLite store keeps
 * it sealed as it does encoder sources (sealed-text.ts), never in clear.
 */
export interface StreamKeyRecords {
  /** Inserts the stream's key, or replaces the one it had. */
  saveStreamKey(recordingId: string, key: string): void;
  /** An unknown id changes nothing. deleteStream leaves the key: StreamKeys' owner drops it. */
  deleteStreamKey(recordingId: string): void;
  /** Every stored key, in recording id order. */
  listStreamKeys(): StoredStreamKey[];
}

export interface Store
  extends StreamRecords,
    SessionRecords,
    CounterRecords,
    EncoderJobRecords,
    StreamKeyRecords {
  /** Applies every queued write now (shutdown, tests). */
  flush(): void;
  /** Flushes, then releases the store; later writes are ignored (and reported). */
  close(): void;
}
